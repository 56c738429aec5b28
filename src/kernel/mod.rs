//! Facts about the running system, which sema and the runtime both ask: the kernel's types
//! (BTF, module BTF), tracefs (where it is, which tracepoints exist, their record layouts),
//! kallsyms and the functions kprobes can hook, cgroup ids, user binaries (ELF symbols, USDT
//! notes, libraries inside ZIP archives), perf events, and which tracing features this kernel has. Only `tracefs` (mounting
//! it) and `features` (probing the kernel by loading a program) have effects; sema calls
//! neither: its caller does (see `sema::host_needs`).

pub mod btf;
#[cfg(feature = "compiler")]
pub mod cdecl;
#[cfg(feature = "compiler")]
pub mod script_types;
pub mod cgroup;
#[cfg(feature = "compiler")]
pub mod cpp;
#[cfg(feature = "compiler")]
pub mod dwarf;
#[cfg(feature = "compiler")]
pub mod dwarf_types;
#[cfg(feature = "symbols")]
pub mod elf;
pub mod features;
pub mod gfp;
pub mod kallsyms;
pub mod names;
pub mod perf;
pub mod regs;
pub mod tracefs;
pub mod usdt;
pub mod zip;
