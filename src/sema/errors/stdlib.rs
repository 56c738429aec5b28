//! Errors of bpftrace 0.26's standard library helpers (docs/stdlib.md) that rtrace added:
//! builtins called as functions, task reads, string helpers, messages and assertions.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub enum StdlibError {
    /// A builtin called with arguments it does not take (`pid(1)`).
    /// `task`: a task read, which takes at most one argument.
    BuiltinArgs { name: String, task: bool, span: Span },
    /// `pcomm(x)` and the other task reads of something not a `struct task_struct *`.
    TaskArg { name: String, found: &'static str, span: Span },
    /// `nsecs(x)`, `pid(x)`, `tid(x)` with a mode they do not have.
    BuiltinMode { name: &'static str, modes: &'static str, span: Span },
    /// `find()`'s third argument not a variable.
    FindVariable { span: Span },
    /// `assert()`'s message not a string literal.
    AssertMessage { span: Span },
    /// A string helper given something not a string.
    StringArg { func: &'static str, signature: &'static str, found: &'static str, span: Span },
    /// `fail(…)` reached, or a `static_assert()` whose condition is false: the message.
    Fail { message: String, span: Span },
    /// `fail()`'s format or arguments, or `static_assert()`'s message, not literals.
    FailLiterals { func: &'static str, span: Span },
    /// `static_assert()`'s condition not known when compiling.
    NotConstant { span: Span },
    /// `pton()` of text that is not an IP address.
    PtonAddress { text: String, span: Span },
    /// `strcap()` of something that is not a string or an array.
    Strcap { found: &'static str, span: Span },
    /// `config.NAME` of a name that is not a config variable.
    ConfigName { name: String, suggestion: Option<String>, span: Span },
    /// `config` used whole.
    ConfigWhole { span: Span },
    /// `percpu_kaddr()` of a name that is not a variable in the kernel's BTF.
    NoKernelVariable { name: String, span: Span },
    /// `percpu_kaddr()` of a variable this kernel's kallsyms lacks (no CONFIG_KALLSYMS_ALL).
    NoKallsyms { name: String, span: Span },
    /// A helper this kernel cannot run: what it needs that the kernel lacks.
    /// `lacker`: what lacks it ("this kernel").
    KernelLacks { func: &'static str, needs: &'static str, lacker: &'static str, span: Span },
    /// `write_user()`'s literal length outside the source string's size.
    WriteUserLength { n: i64, size: u32, span: Span },
    /// `cgroup_path()`'s filter picks some hierarchies, but not every one nor only v2's.
    CgroupFilter { filter: String, span: Span },
    /// `comm(pid)` where the kernel does not allow its kfunc (`bpf_task_from_pid`), or has
    /// none (`missing`: before Linux 6.2).
    CommOfPid { probe: String, missing: bool, span: Span },
    /// Config `unstable_dw_ustack`: `error` forbids `dw_ustack()`, `warn` (the default) warns.
    DwUstackUnstable { error: bool, span: Span },
    /// A `build_id` stack.
    BuildIdStacks { span: Span },
    /// A helper that works only in some probes.
    OnlyIn { func: &'static str, probes: &'static str, span: Span },
    /// `reg()` of a name that is not one of x86-64's `struct pt_regs` registers.
    RegName { name: String, span: Span },
    /// `skboutput()`'s skb not a `struct sk_buff *` (`found`: what it is).
    SkbArg { found: String, span: Span },
    /// `skboutput()`'s offset not a non-negative integer literal.
    SkbOffset { span: Span },
}

impl StdlibError {
    pub(super) fn diagnostic(&self) -> Diagnostic {
        use StdlibError::*;
        match self {
            BuiltinArgs { name, task: false, span } => error(format!("`{name}()` takes no arguments"))
                .at(*span, "arguments given")
                .help(format!("write `{name}` or `{name}()`")),
            BuiltinArgs { name, task: true, span } => error(format!("`{name}()` takes at most one argument, a task"))
                .at(*span, "too many arguments")
                .help(format!("write `{name}`, `{name}()` or `{name}(task)`")),
            TaskArg { name, found, span } => error(format!("`{name}()` takes a `struct task_struct *`, not {found}"))
                .at(*span, "not a task")
                .help(format!("write `{name}` for the current task, or pass one such as `curtask->real_parent`")),
            BuiltinMode { name, modes, span } => error(format!("`{name}()` takes {modes}"))
                .at(*span, "not a mode")
                .help(format!("write `{name}` for the default")),
            FindVariable { span } => error("`find()` stores the value in a variable")
                .at(*span, "not a variable")
                .help("the signature is `find(@map, key, $var)`"),
            AssertMessage { span } => error("`assert()`'s message must be a string literal")
                .at(*span, "not a string literal")
                .help("for a message with values, write `if (!cond) { errorf(\"…\", …); exit(1); }`"),
            StringArg { func, signature, found, span } => {
                let what = if signature.contains(',') { "strings" } else { "a string" };
                error(format!("`{func}()` takes {what}, not {found}"))
                .at(*span, this_is(found))
                    .help(format!("the signature is `{signature}`; `str()` reads a string from a pointer"))
            }
            Fail { message, span } => error(message.clone()).at(*span, "reached when compiling"),
            FailLiterals { func, span } => error(format!("`{func}()` takes literals only (it runs when compiling)")).at(*span, "not a literal"),
            NotConstant { span } => error("`static_assert()`'s condition must be known when compiling")
                .at(*span, "known only when the probe runs")
                .help("use `assert()` for a condition checked at run time"),
            PtonAddress { text, span } => error(format!("`pton()` takes an IPv4 or IPv6 address, not `{text}`")).at(*span, "not an address"),
            Strcap { found, span } => error(format!("`strcap()` takes a string or an array, not {found}"))
                .at(*span, this_is(found))
                .help("for a pointer, read the string with `str()` first"),
            ConfigName { name, suggestion, span } => {
                suggest(error(format!("unknown config variable `{name}`")).at(*span, "not a config variable"), suggestion)
            }
            ConfigWhole { span } => error("`config` is read one variable at a time")
                .at(*span, "the whole config")
                .help("write `config.NAME`, e.g. `config.max_strlen`"),
            NoKernelVariable { name, span } => error(format!("the kernel's BTF has no variable `{name}`"))
                .at(*span, "not a kernel variable")
                .note("`percpu_kaddr()` takes the name of a per-CPU kernel variable, such as `runqueues`"),
            NoKallsyms { name, span } => error(format!("`percpu_kaddr()` needs `{name}` in /proc/kallsyms, where the kernel finds its address, which this kernel lacks"))
                .at(*span, "not in kallsyms")
                .note("kallsyms holds variables only in kernels built with CONFIG_KALLSYMS_ALL"),
            DwUstackUnstable { error: true, span } => error(
                "dw_ustack (DWARF stack unwinding) feature is not enabled by default. To enable this unstable feature, set the config flag to enable. unstable_dw_ustack=enable",
            )
            .at(*span, "an unstable feature"),
            DwUstackUnstable { error: false, span } => crate::diag::Diagnostic::warning(
                "Script is using an unstable feature: dw_ustack (DWARF stack unwinding). To prevent this warning you must explicitly enable it in the config e.g. unstable_dw_ustack=enable",
            )
            .at(*span, "dw_ustack() is unstable in bpftrace 0.26"),
            KernelLacks { func, needs, lacker, span } => error(format!("`{func}()` needs {needs}, which {lacker} lacks")).at(*span, "cannot run here"),
            WriteUserLength { n, size, span } => error(format!("`write_user()` writes from 1 to {size} bytes of this string, not {n}"))
                .at(*span, "outside the string"),
            CgroupFilter { filter, span } => error(format!("rtrace's `cgroup_path()` takes the filter `unified` or one that picks every hierarchy, not `{filter}`"))
                .at(*span, "picks some hierarchies"),
            CommOfPid { missing: true, span, .. } => error("`comm(pid)` needs kfunc `bpf_task_from_pid` (Linux 6.2), which this kernel lacks")
                .at(*span, "cannot run here"),
            CommOfPid { missing: false, probe, span } => error(format!("`comm(pid)` needs kfunc `bpf_task_from_pid`, which this kernel does not allow in `{probe}`"))
                .at(*span, "not in this probe")
                .note("this kernel allows it in kprobe, tracepoint and perf event programs, as bpftrace needs"),
            BuildIdStacks { span } => error("rtrace does not record `build_id` stacks yet")
                .at(*span, "a build_id stack")
                .help("the stack modes rtrace prints are `bpftrace`, `perf` and `raw`"),
            OnlyIn { func, probes, span } => error(format!("`{func}()` works only in {probes}")).at(*span, "not in this probe"),
            RegName { name, span } => error(format!("`reg()` takes an x86-64 register name, not `{name}`"))
                .at(*span, "not a register")
                .help(format!("the names are those of `struct pt_regs`: {}", reg_names())),
            SkbArg { found, span } => error(format!("`skboutput()` takes a `struct sk_buff *`, not {found}"))
                .at(*span, "not a struct sk_buff *")
                .help("pass an fentry/fexit argument such as `args.skb`, which the kernel knows is one"),
            SkbOffset { span } => error("`skboutput()`'s offset must be a non-negative integer literal")
                .at(*span, "not a literal")
                .help("the signature is `skboutput(path, skb, length, offset)`; 14 skips an Ethernet header"),
        }
    }
}

/// `reg()`'s names, for its error's help: `r15`, `r14`, …
fn reg_names() -> String {
    let names: Vec<String> = crate::kernel::regs::PT_REGS.iter().map(|(n, _)| format!("`{n}`")).collect();
    names.join(", ")
}
