//! Facts about the running system, which sema and the runtime both ask: the kernel's types
//! (BTF, module BTF), tracefs (where it is, which tracepoints exist, their record layouts),
//! kallsyms and the functions kprobes can hook, user binaries (ELF symbols, USDT notes), and
//! which tracing features this kernel has.

pub mod btf;
pub mod elf;
pub mod features;
pub mod kallsyms;
pub mod perf;
pub mod tracefs;
pub mod usdt;
