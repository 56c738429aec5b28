//! rtrace: bpftrace's language compiled in process to eBPF.
//!
//! The pipeline runs one way: `lexer` → `parser` → `sema` (which writes the `plan`) →
//! `codegen` (LLVM → BPF object) → `runtime` (libbpf: load, attach, print). `driver` strings
//! the stages together for the command line. See `docs/architecture.md`.

pub mod builtins;
pub mod codegen;
pub mod config;
pub mod diag;
pub mod driver;
pub mod glob;
pub mod kernel;
pub mod lexer;
pub mod list;
pub mod parser;
pub mod plan;
pub mod runtime;
pub mod sema;
