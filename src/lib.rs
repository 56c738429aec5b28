//! rtrace: bpftrace's language compiled in process to eBPF.
//!
//! The pipeline runs one way: `lexer` → `parser` → `sema` (which writes the `plan`) →
//! `codegen` (LLVM → BPF object) → `runtime` (libbpf: load, attach, print). `driver` strings
//! the stages together for the command line. See `docs/architecture.md`.

// std's print macros panic when their stream cannot be written (`2>/dev/full`, a closed pipe
// under `rtrace -l | head -1`); rtrace's ignore the error instead. Defined before the modules,
// these are the ones every module's `print!`/`eprintln!` names.
macro_rules! print {
    ($($t:tt)*) => {{ use ::std::io::Write as _; let _ = ::std::write!(::std::io::stdout(), $($t)*); }};
}
macro_rules! println {
    ($($t:tt)*) => {{ use ::std::io::Write as _; let _ = ::std::writeln!(::std::io::stdout(), $($t)*); }};
}
macro_rules! eprint {
    ($($t:tt)*) => {{ use ::std::io::Write as _; let _ = ::std::write!(::std::io::stderr(), $($t)*); }};
}
macro_rules! eprintln {
    ($($t:tt)*) => {{ use ::std::io::Write as _; let _ = ::std::writeln!(::std::io::stderr(), $($t)*); }};
}

pub mod builtins;
pub mod codegen;
pub mod config;
pub mod diag;
pub mod driver;
pub mod glob;
pub mod kernel;
pub mod lexer;
pub mod limits;
pub mod list;
pub mod parser;
pub mod plan;
pub mod runtime;
pub mod sema;
