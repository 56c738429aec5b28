//! rtrace: bpftrace's language compiled in process to eBPF.
//!
//! The pipeline runs one way: `lexer` → `parser` → `sema` (which writes the `plan`) →
//! `codegen` (LLVM → BPF object) → `runtime` (libbpf: load, attach, print). `driver` strings
//! the stages together for the command line. See `docs/architecture.md`.
//!
//! Without the `compiler` feature the crate is the runtime alone (`plan`, `kernel`,
//! `runtime`, `bundle`): what a tool built by `rtrace build` runs (`src/stub/main.rs`), with no
//! LLVM linked.

// std's print macros panic when their stream cannot be written (`2>/dev/full`, a closed pipe
// under `rtrace -l | head -1`); rtrace's ignore the error instead. Defined before the modules,
// these are the ones every module's `print!`/`eprintln!` names.
#[allow(unused_macros)]
macro_rules! print {
    ($($t:tt)*) => {{ use ::std::io::Write as _; let _ = ::std::write!(::std::io::stdout(), $($t)*); }};
}
#[allow(unused_macros)]
macro_rules! println {
    ($($t:tt)*) => {{ use ::std::io::Write as _; let _ = ::std::writeln!(::std::io::stdout(), $($t)*); }};
}
macro_rules! eprint {
    ($($t:tt)*) => {{ use ::std::io::Write as _; let _ = ::std::write!(::std::io::stderr(), $($t)*); }};
}
macro_rules! eprintln {
    ($($t:tt)*) => {{ use ::std::io::Write as _; let _ = ::std::writeln!(::std::io::stderr(), $($t)*); }};
}

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
pub mod cimport;
#[cfg(feature = "compiler")]
pub mod codegen;
#[cfg(feature = "compiler")]
pub mod config;
#[cfg(feature = "compiler")]
pub mod diag;
#[cfg(feature = "compiler")]
pub mod driver;
#[cfg(feature = "compiler")]
pub mod fmt;
#[cfg(feature = "compiler")]
pub mod lexer;
#[cfg(feature = "compiler")]
pub mod limits;
#[cfg(feature = "compiler")]
pub mod list;
#[cfg(feature = "compiler")]
pub mod parser;
#[cfg(feature = "compiler")]
pub mod sema;
