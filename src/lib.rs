//! rtrace: bpftrace's language compiled in process to eBPF.
//!
//! The pipeline runs one way: `lexer` → `parser` → `sema` (which writes the `plan`) →
//! `codegen` (LLVM → BPF object) → `runtime` (libbpf: load, attach, print). `driver` strings
//! the stages together for the command line. See `docs/architecture.md`.
//!
//! Without the `compiler` feature the crate is the runtime alone (`plan`, `kernel`,
//! `runtime`, `bundle`): what a tool built by `rtrace build` runs (`src/stub.rs`), with no
//! LLVM linked.

pub mod bundle;
pub mod glob;
pub mod kernel;
pub mod plan;
pub mod runtime;

#[cfg(feature = "compiler")]
pub mod build;
#[cfg(feature = "compiler")]
pub mod builtins;
#[cfg(feature = "compiler")]
pub mod codegen;
#[cfg(feature = "compiler")]
pub mod diag;
#[cfg(feature = "compiler")]
pub mod driver;
#[cfg(feature = "compiler")]
pub mod lexer;
#[cfg(feature = "compiler")]
pub mod list;
#[cfg(feature = "compiler")]
pub mod parser;
#[cfg(feature = "compiler")]
pub mod sema;
