//! The one table of builtin variables and functions: sema checks calls against it, and
//! `rtrace --builtins` (and README.md, checked by tests/generated_docs.rs) print it.

/// A builtin variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    Pid,
    Tid,
    Uid,
    Gid,
    Comm,
    Nsecs,
    Elapsed,
    Cpu,
    Args,
    /// `arg0` … `arg11`: a kprobe's arguments (from the registers: `arg0` … `arg5`), a raw
    /// tracepoint's, a USDT probe's.
    Arg(u8),
    /// `retval`: what a kretprobe's function returned.
    Retval,
    /// `func`: the traced function (a kernel symbol).
    FuncName,
    /// `probe`: the full name of the probe that fired.
    Probe,
    /// `kstack`: the kernel stack.
    Kstack,
    /// `ustack`: the user stack.
    Ustack,
    /// `curtask`: the address of the current `struct task_struct`.
    Curtask,
    /// `ctx`: an iter probe's context, `struct bpf_iter__NAME *`.
    Ctx,
    /// `cpid`: the pid of the `-c` command.
    Cpid,
    /// `ppid`: the parent's process id (`curtask->real_parent->tgid`).
    Ppid,
    /// `pcomm`: the parent's name (`curtask->real_parent->comm`, bpftrace 0.26).
    Pcomm,
    /// `leader_tid`: the thread group leader's thread id (`curtask->group_leader->pid`).
    LeaderTid,
    /// `leader_comm`: the thread group leader's name (`curtask->group_leader->comm`).
    LeaderComm,
    /// `usermode`: 1 when the probe interrupted user code, 0 in the kernel (x86-64).
    Usermode,
    /// `probetype`: the probe's type as a string (`tracepoint`; `special` for begin/end).
    Probetype,
    /// `username`: the user id, printed as the user's name.
    Username,
    /// `has_cpid`: true when `-c` started a command (`cpid` has a value).
    HasCpid,
    /// `config`: the config variables, read one at a time (`config.max_strlen`).
    Config,
    Cgroup,
    Jiffies,
    Rand,
    NumaId,
    Ncpus,
}

pub struct BuiltinDef {
    pub name: &'static str,
    pub builtin: Builtin,
    pub doc: &'static str,
}

pub const BUILTINS: &[BuiltinDef] = &[
    BuiltinDef { name: "pid", builtin: Builtin::Pid, doc: "process id (the kernel's tgid); also `pid(curr_ns)`, `pid(init)` (the initial namespace's id, rtrace's own where it runs there)" },
    BuiltinDef { name: "tid", builtin: Builtin::Tid, doc: "thread id (the kernel's pid)" },
    BuiltinDef { name: "uid", builtin: Builtin::Uid, doc: "user id" },
    BuiltinDef { name: "gid", builtin: Builtin::Gid, doc: "group id" },
    BuiltinDef { name: "comm", builtin: Builtin::Comm, doc: "name of the current thread (string, 16 bytes); `comm(pid)` the name of process pid (\"N/A\" if there is none; kfunc `bpf_task_from_pid`, not in begin/end)" },
    BuiltinDef { name: "nsecs", builtin: Builtin::Nsecs, doc: "monotonic time in nanoseconds; `nsecs(boot)` (CLOCK_BOOTTIME), `nsecs(tai)` (CLOCK_TAI), `nsecs(monotonic)`" },
    BuiltinDef { name: "elapsed", builtin: Builtin::Elapsed, doc: "nanoseconds since rtrace started" },
    BuiltinDef { name: "cpu", builtin: Builtin::Cpu, doc: "the CPU the probe fired on" },
    BuiltinDef { name: "args", builtin: Builtin::Args, doc: "a tracepoint's fields, an fentry/fexit or raw tracepoint's arguments typed from BTF: args.NAME (or args->NAME)" },
    BuiltinDef { name: "arg0", builtin: Builtin::Arg(0), doc: "the probe's arguments as integers: registers in kprobes and uprobes (arg0–arg5), raw tracepoint and USDT arguments (up to arg11)" },
    BuiltinDef { name: "arg1", builtin: Builtin::Arg(1), doc: "kprobe: the second argument" },
    BuiltinDef { name: "arg2", builtin: Builtin::Arg(2), doc: "kprobe: the third argument" },
    BuiltinDef { name: "arg3", builtin: Builtin::Arg(3), doc: "kprobe: the fourth argument" },
    BuiltinDef { name: "arg4", builtin: Builtin::Arg(4), doc: "kprobe: the fifth argument" },
    BuiltinDef { name: "arg5", builtin: Builtin::Arg(5), doc: "kprobe: the sixth argument" },
    BuiltinDef { name: "retval", builtin: Builtin::Retval, doc: "the function's return value (kretprobe, uretprobe, fexit), signed" },
    BuiltinDef { name: "func", builtin: Builtin::FuncName, doc: "the traced function's name (kprobes, uprobes, fentry)" },
    BuiltinDef { name: "probe", builtin: Builtin::Probe, doc: "the full name of the probe, e.g. tracepoint:syscalls:sys_enter_read" },
    BuiltinDef { name: "kstack", builtin: Builtin::Kstack, doc: "the kernel stack, printed one frame a line" },
    BuiltinDef { name: "ustack", builtin: Builtin::Ustack, doc: "the user stack, printed one frame a line" },
    BuiltinDef { name: "cpid", builtin: Builtin::Cpid, doc: "the pid of the command started with -c" },
    BuiltinDef { name: "curtask", builtin: Builtin::Curtask, doc: "the address of the current task_struct" },
    BuiltinDef { name: "ctx", builtin: Builtin::Ctx, doc: "an iter probe's context, `struct bpf_iter__NAME *`: `ctx.task`, `ctx.file`, `ctx.vma`, … (iter probes only)" },
    BuiltinDef { name: "ppid", builtin: Builtin::Ppid, doc: "the parent's process id; `ppid(task)` of a `struct task_struct *`" },
    BuiltinDef { name: "pcomm", builtin: Builtin::Pcomm, doc: "the parent process's name (string, 16 bytes); `pcomm(task)` of a `struct task_struct *`" },
    BuiltinDef { name: "leader_tid", builtin: Builtin::LeaderTid, doc: "the thread id of the thread group's leader; `leader_tid(task)` of a `struct task_struct *`" },
    BuiltinDef { name: "leader_comm", builtin: Builtin::LeaderComm, doc: "the name of the thread group's leader; `leader_comm(task)` of a `struct task_struct *`" },
    BuiltinDef { name: "usermode", builtin: Builtin::Usermode, doc: "1 if the probe fired in user code, else 0 (from the registers: kprobes, uprobes, USDT, profile, interval, software, hardware, watchpoints; 1 in begin/end, 0 elsewhere)" },
    BuiltinDef { name: "username", builtin: Builtin::Username, doc: "the current user's name (the user id, named when printed)" },
    BuiltinDef { name: "has_cpid", builtin: Builtin::HasCpid, doc: "true if a command was started with -c, else false" },
    BuiltinDef { name: "probetype", builtin: Builtin::Probetype, doc: "the probe's type: `kprobe`, `tracepoint`, …; `special` for begin and end" },
    BuiltinDef { name: "config", builtin: Builtin::Config, doc: "the config variables (`config = { … }`, `BPFTRACE_*`), read as `config.NAME`: numbers, strings, 1/0 for booleans (known when compiling)" },
    BuiltinDef { name: "cgroup", builtin: Builtin::Cgroup, doc: "the id of the current process's cgroup (cgroup v2)" },
    BuiltinDef { name: "jiffies", builtin: Builtin::Jiffies, doc: "the kernel's jiffies counter (64 bits)" },
    BuiltinDef { name: "rand", builtin: Builtin::Rand, doc: "a pseudo-random 32-bit number" },
    BuiltinDef { name: "numaid", builtin: Builtin::NumaId, doc: "the NUMA node the probe fired on" },
    BuiltinDef { name: "ncpus", builtin: Builtin::Ncpus, doc: "the number of CPUs this machine may have (possible CPUs)" },
];

impl Builtin {
    /// The builtin's name as scripts write it (`arg0` for every `argN`).
    pub fn name(self) -> &'static str {
        BUILTINS.iter().find(|d| d.builtin == self).map_or("arg0", |d| d.name)
    }

    /// A builtin that reads a task's `real_parent` or `group_leader` (the first name), then
    /// that task's member (the second).
    pub fn task_link(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Builtin::Ppid => ("real_parent", "tgid"),
            Builtin::Pcomm => ("real_parent", "comm"),
            Builtin::LeaderTid => ("group_leader", "pid"),
            Builtin::LeaderComm => ("group_leader", "comm"),
            _ => return None,
        })
    }
}

pub fn builtin(name: &str) -> Option<Builtin> {
    BUILTINS.iter().find(|b| b.name == name).map(|b| b.builtin).or_else(|| {
        // arg6 … arg11: raw tracepoints and USDT probes have more arguments than registers.
        let n: u8 = name.strip_prefix("arg")?.parse().ok()?;
        (6..MAX_ARGS).contains(&n).then_some(Builtin::Arg(n)).filter(|_| name == format!("arg{n}"))
    })
}

/// `argN` goes up to `arg11`, as USDT probes have at most 12 arguments.
pub const MAX_ARGS: u8 = 12;

/// A builtin function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Count,
    Sum,
    Avg,
    Stats,
    Min,
    Max,
    Hist,
    Lhist,
    TSeries,
    Printf,
    Exit,
    Delete,
    Clear,
    Str,
    Time,
    Print,
    Kaddr,
    PercpuKaddr,
    Ntop,
    Macaddr,
    Bswap,
    Join,
    Cat,
    Usym,
    Buf,
    Strncmp,
    Kstack,
    Ustack,
    Signal,
    System,
    Strftime,
    Len,
    HasKey,
    Zero,
    Ksym,
    Uaddr,
    Strcontains,
    Cgroupid,
    Kptr,
    Uptr,
    Strlen,
    Strstr,
    StrConcat,
    Memcmp,
    Strerror,
    SignalName,
    SyscallName,
    Errorf,
    Warnf,
    Assert,
    IsErr,
    IsInteger,
    IsUnsignedInteger,
    IsPtr,
    IsStr,
    IsArray,
    IsLiteral,
    Find,
    Fail,
    StaticAssert,
    SignalThread,
    CgroupPath,
    WriteUser,
    Pton,
    Strcap,
    Reg,
    AssertStr,
    DefaultStrLength,
    Typeinfo,
    KfuncExist,
    KfuncAllowed,
    ContainerOf,
    Override,
    Path,
    Skboutput,
    SocketCookie,
    DwUstack,
    Unwatch,
}

pub struct FuncDef {
    pub name: &'static str,
    pub func: Func,
    /// How it is called, for messages and docs.
    pub signature: &'static str,
    pub min_args: usize,
    /// `usize::MAX` for variadic functions.
    pub max_args: usize,
    /// Whether it is an aggregation, only valid as the value assigned to a map.
    pub aggregation: bool,
    pub doc: &'static str,
}

pub const FUNCTIONS: &[FuncDef] = &[
    FuncDef { name: "count", func: Func::Count, signature: "count()", min_args: 0, max_args: 0, aggregation: true, doc: "count events" },
    FuncDef { name: "sum", func: Func::Sum, signature: "sum(int n)", min_args: 1, max_args: 1, aggregation: true, doc: "sum of n" },
    FuncDef { name: "avg", func: Func::Avg, signature: "avg(int n)", min_args: 1, max_args: 1, aggregation: true, doc: "average of n" },
    FuncDef { name: "stats", func: Func::Stats, signature: "stats(int n)", min_args: 1, max_args: 1, aggregation: true, doc: "count, average and total of n" },
    FuncDef { name: "min", func: Func::Min, signature: "min(int n)", min_args: 1, max_args: 1, aggregation: true, doc: "minimum of n" },
    FuncDef { name: "max", func: Func::Max, signature: "max(int n)", min_args: 1, max_args: 1, aggregation: true, doc: "maximum of n" },
    FuncDef { name: "hist", func: Func::Hist, signature: "hist(int n[, int k])", min_args: 1, max_args: 2, aggregation: true, doc: "log2 histogram of n, 2^k buckets per power of two (k a literal, 0 to 5)" },
    FuncDef { name: "lhist", func: Func::Lhist, signature: "lhist(int n, int min, int max, int step)", min_args: 4, max_args: 4, aggregation: true, doc: "linear histogram of n" },
    FuncDef { name: "tseries", func: Func::TSeries, signature: "tseries(int n, int interval_ns, int intervals[, \"avg\"|\"max\"|\"min\"|\"sum\"])", min_args: 3, max_args: 4, aggregation: true, doc: "time series of n: the last `intervals` intervals of interval_ns each (literals), their last value or its aggregation" },
    FuncDef { name: "printf", func: Func::Printf, signature: "printf(string fmt, ...)", min_args: 1, max_args: usize::MAX, aggregation: false, doc: "print formatted output" },
    FuncDef { name: "errorf", func: Func::Errorf, signature: "errorf(string fmt, ...)", min_args: 1, max_args: usize::MAX, aggregation: false, doc: "print formatted output on standard error, after the call's place and `ERROR:`" },
    FuncDef { name: "warnf", func: Func::Warnf, signature: "warnf(string fmt, ...)", min_args: 1, max_args: usize::MAX, aggregation: false, doc: "print formatted output on standard error, after the call's place and `WARNING:`" },
    FuncDef { name: "assert", func: Func::Assert, signature: "assert(int condition, string message)", min_args: 2, max_args: 2, aggregation: false, doc: "if condition is 0: print `assert failed: message` as errorf() does, then exit(1) (message a string literal)" },
    FuncDef { name: "fail", func: Func::Fail, signature: "fail(string fmt, ...)", min_args: 1, max_args: usize::MAX, aggregation: false, doc: "stop compiling with this error if the call is reached (not in a branch whose condition is known false); fmt and arguments literals" },
    FuncDef { name: "static_assert", func: Func::StaticAssert, signature: "static_assert(int condition, string message)", min_args: 2, max_args: 2, aggregation: false, doc: "stop compiling with message as the error if condition (known when compiling) is 0" },
    FuncDef { name: "exit", func: Func::Exit, signature: "exit([int code])", min_args: 0, max_args: 1, aggregation: false, doc: "end tracing: run END, print maps, exit" },
    FuncDef { name: "delete", func: Func::Delete, signature: "delete(@map, key) | delete(@map[key])", min_args: 1, max_args: 2, aggregation: false, doc: "delete one map entry (a scalar map's value with `delete(@map)`); true if there was one, else false" },
    FuncDef { name: "clear", func: Func::Clear, signature: "clear(@map)", min_args: 1, max_args: 1, aggregation: false, doc: "delete every entry of a map" },
    FuncDef { name: "str", func: Func::Str, signature: "str(char *s[, int length])", min_args: 1, max_args: 2, aggregation: false, doc: "read a NUL-terminated string, at most length bytes with its NUL (config `max_strlen`)" },
    FuncDef { name: "time", func: Func::Time, signature: "time([string fmt])", min_args: 0, max_args: 1, aggregation: false, doc: "print the current time with strftime's fmt (default \"%H:%M:%S\\n\")" },
    FuncDef { name: "print", func: Func::Print, signature: "print(@map[, top[, div]] | value)", min_args: 1, max_args: 3, aggregation: false, doc: "print a map now, as at exit, or one value and a newline" },
    FuncDef { name: "ntop", func: Func::Ntop, signature: "ntop([int af, ] int|char[4]|char[16] addr)", min_args: 1, max_args: 2, aggregation: false, doc: "an IPv4 or IPv6 address as text" },
    FuncDef { name: "macaddr", func: Func::Macaddr, signature: "macaddr(char[6] mac | uint8 *mac)", min_args: 1, max_args: 1, aggregation: false, doc: "a MAC address from an array's first 6 bytes (or the 6 bytes a pointer points to), printed 18:C0:4D:08:2E:BB" },
    FuncDef { name: "join", func: Func::Join, signature: "join(char *argv[][, string sep])", min_args: 1, max_args: 2, aggregation: false, doc: "print a NULL-terminated array of strings, joined by sep (\" \")" },
    FuncDef { name: "cat", func: Func::Cat, signature: "cat(string path[, ...])", min_args: 1, max_args: usize::MAX, aggregation: false, doc: "print a file's contents (read by rtrace when the event arrives); the path is formatted as printf formats" },
    FuncDef { name: "usym", func: Func::Usym, signature: "usym(int addr)", min_args: 1, max_args: 1, aggregation: false, doc: "the user function containing addr, in the current process" },
    FuncDef { name: "buf", func: Func::Buf, signature: "buf(void *data[, int length])", min_args: 1, max_args: 2, aggregation: false, doc: "up to 64 bytes of memory, printed hex-escaped by printf's %r" },
    FuncDef { name: "bswap", func: Func::Bswap, signature: "bswap(int n)", min_args: 1, max_args: 1, aggregation: false, doc: "n with its bytes reversed, at n's own width" },
    FuncDef { name: "strncmp", func: Func::Strncmp, signature: "strncmp(string a, string b, int n)", min_args: 3, max_args: 3, aggregation: false, doc: "0 when the first n bytes of a and b (up to a NUL) are equal, 1 otherwise" },
    FuncDef { name: "kstack", func: Func::Kstack, signature: "kstack([bpftrace|perf|raw, ][int depth])", min_args: 0, max_args: 2, aggregation: false, doc: "the kernel stack, at most depth frames, in bpftrace's or perf's layout, or raw addresses (default: config `stack_mode`)" },
    FuncDef { name: "ustack", func: Func::Ustack, signature: "ustack([bpftrace|perf|raw, ][int depth])", min_args: 0, max_args: 2, aggregation: false, doc: "the user stack, at most depth frames, in bpftrace's or perf's layout, or raw addresses (default: config `stack_mode`)" },
    FuncDef { name: "signal", func: Func::Signal, signature: "signal(string name | int number)", min_args: 1, max_args: 1, aggregation: false, doc: "send a signal to the current process (needs --unsafe)" },
    FuncDef { name: "signal_thread", func: Func::SignalThread, signature: "signal_thread(string name | int number)", min_args: 1, max_args: 1, aggregation: false, doc: "send a signal to the current thread (needs --unsafe)" },
    FuncDef { name: "write_user", func: Func::WriteUser, signature: "write_user(void *dst, string src, int len)", min_args: 3, max_args: 3, aggregation: false, doc: "write len bytes of src to user memory at dst (`bpf_probe_write_user`; needs --unsafe); 1 on success, else 0" },
    FuncDef { name: "system", func: Func::System, signature: "system(string fmt, ...)", min_args: 1, max_args: usize::MAX, aggregation: false, doc: "run a shell command, formatted like printf, and print its output (needs --unsafe)" },
    FuncDef { name: "strftime", func: Func::Strftime, signature: "strftime(string fmt, int nsecs)", min_args: 2, max_args: 2, aggregation: false, doc: "nsecs (time since boot, as `nsecs`) as a local date and time, formatted by strftime(3) and `%f` (microseconds) when printed" },
    FuncDef { name: "len", func: Func::Len, signature: "len(@map) | len(kstack)", min_args: 1, max_args: 1, aggregation: false, doc: "the number of entries in a map, or of frames in a stack (`len(kstack)`, `len(ustack)`)" },
    FuncDef { name: "find", func: Func::Find, signature: "find(@map, key, $var)", min_args: 3, max_args: 3, aggregation: false, doc: "true and the entry's value stored in $var if the map has key, else false ($var unchanged)" },
    FuncDef { name: "has_key", func: Func::HasKey, signature: "has_key(@map, key)", min_args: 2, max_args: 2, aggregation: false, doc: "whether a map has an entry for key" },
    FuncDef { name: "zero", func: Func::Zero, signature: "zero(@map)", min_args: 1, max_args: 1, aggregation: false, doc: "set every value of a map to zero, keeping its keys" },
    FuncDef { name: "ksym", func: Func::Ksym, signature: "ksym(int addr)", min_args: 1, max_args: 1, aggregation: false, doc: "the kernel function containing addr, printed by %s" },
    FuncDef { name: "uaddr", func: Func::Uaddr, signature: "uaddr(string name)", min_args: 1, max_args: 1, aggregation: false, doc: "uprobes: the address of a symbol in the probed program, as linked (right only for non-PIE programs, as in bpftrace)" },
    FuncDef { name: "strcontains", func: Func::Strcontains, signature: "strcontains(string haystack, string needle)", min_args: 2, max_args: 2, aggregation: false, doc: "true if haystack contains needle, else false" },
    FuncDef { name: "strstr", func: Func::Strstr, signature: "strstr(string haystack, string needle)", min_args: 2, max_args: 2, aggregation: false, doc: "the index where needle first occurs in haystack, or -1" },
    FuncDef { name: "strlen", func: Func::Strlen, signature: "strlen(string s)", min_args: 1, max_args: 1, aggregation: false, doc: "the length of s, before its first NUL" },
    FuncDef { name: "str_concat", func: Func::StrConcat, signature: "str_concat(string a, string b)", min_args: 2, max_args: 2, aggregation: false, doc: "a followed by b, a string as long as both" },
    FuncDef { name: "strerror", func: Func::Strerror, signature: "strerror(int errno)", min_args: 1, max_args: 1, aggregation: false, doc: "an errno value, printed as its message (`Operation not permitted`)" },
    FuncDef { name: "signal_name", func: Func::SignalName, signature: "signal_name(int signal)", min_args: 1, max_args: 1, aggregation: false, doc: "a signal number, printed as its name (`SIGINT`)" },
    FuncDef { name: "syscall_name", func: Func::SyscallName, signature: "syscall_name(int number)", min_args: 1, max_args: 1, aggregation: false, doc: "an x86-64 system call number, printed as its name (`read`)" },
    FuncDef { name: "is_err", func: Func::IsErr, signature: "is_err(void *p)", min_args: 1, max_args: 1, aggregation: false, doc: "true if p is an error code in a pointer (the kernel's IS_ERR(): -4095 to -1), else false" },
    FuncDef { name: "is_integer", func: Func::IsInteger, signature: "is_integer(any e)", min_args: 1, max_args: 1, aggregation: false, doc: "true if e is an integer, else false (known when compiling)" },
    FuncDef { name: "is_unsigned_integer", func: Func::IsUnsignedInteger, signature: "is_unsigned_integer(any e)", min_args: 1, max_args: 1, aggregation: false, doc: "true if e is an unsigned integer, else false (known when compiling)" },
    FuncDef { name: "is_ptr", func: Func::IsPtr, signature: "is_ptr(any e)", min_args: 1, max_args: 1, aggregation: false, doc: "true if e is a pointer, else false (known when compiling)" },
    FuncDef { name: "is_str", func: Func::IsStr, signature: "is_str(any e)", min_args: 1, max_args: 1, aggregation: false, doc: "true if e is a string, else false (known when compiling)" },
    FuncDef { name: "is_array", func: Func::IsArray, signature: "is_array(any e)", min_args: 1, max_args: 1, aggregation: false, doc: "true if e is an array, else false (known when compiling)" },
    FuncDef { name: "is_literal", func: Func::IsLiteral, signature: "is_literal(any e)", min_args: 1, max_args: 1, aggregation: false, doc: "true if e is a literal (`1`, `\"hello\"`), else false" },
    FuncDef { name: "memcmp", func: Func::Memcmp, signature: "memcmp(string a, string b, int n)", min_args: 3, max_args: 3, aggregation: false, doc: "0 if the first n bytes of a and b (at most the shorter's size) are equal, else the difference of the first bytes that differ" },
    FuncDef { name: "cgroupid", func: Func::Cgroupid, signature: "cgroupid(string path)", min_args: 1, max_args: 1, aggregation: false, doc: "the id of the cgroup v2 directory at path, as `cgroup` gives it" },
    FuncDef { name: "cgroup_path", func: Func::CgroupPath, signature: "cgroup_path(int id[, string filter])", min_args: 1, max_args: 2, aggregation: false, doc: "a cgroup id, printed as its paths: `unified:/PATH` (cgroup v2), then each v1 hierarchy's, found when printed; filter `unified` (v2 only) or `*`" },
    FuncDef { name: "kptr", func: Func::Kptr, signature: "kptr(void *p)", min_args: 1, max_args: 1, aggregation: false, doc: "p, read from kernel memory from now on" },
    FuncDef { name: "uptr", func: Func::Uptr, signature: "uptr(void *p)", min_args: 1, max_args: 1, aggregation: false, doc: "p, read from user memory from now on (str(), *p, members)" },
    FuncDef { name: "pton", func: Func::Pton, signature: "pton(string address)", min_args: 1, max_args: 1, aggregation: false, doc: "an IPv4 or IPv6 address's bytes, in network order, as a `uint8[4]` or `uint8[16]` (known when compiling)" },
    FuncDef { name: "reg", func: Func::Reg, signature: "reg(string name)", min_args: 1, max_args: 1, aggregation: false, doc: "the register `name` (x86-64's `struct pt_regs` members: `ip`, `sp`, `ax`, `di`, …) as the probe saw it (kprobes, uprobes, USDT, profile, interval, software, hardware, watchpoints)" },
    FuncDef { name: "assert_str", func: Func::AssertStr, signature: "assert_str(any e)", min_args: 1, max_args: 1, aggregation: false, doc: "stop compiling with an error unless e is string-like: a string, an int8 array or a pointer to int8 (known when compiling)" },
    FuncDef { name: "typeinfo", func: Func::Typeinfo, signature: "typeinfo(expr)", min_args: 1, max_args: 1, aggregation: false, doc: "a record of EXPR's type, `(btf_id, base_type, full_type)` (known when compiling; unstable in 0.26: config `unstable_typeinfo`)" },
    FuncDef { name: "default_str_length", func: Func::DefaultStrLength, signature: "default_str_length()", min_args: 0, max_args: 0, aggregation: false, doc: "the size of what `str()` reads unbounded, config `max_strlen` (known when compiling)" },
    FuncDef { name: "strcap", func: Func::Strcap, signature: "strcap(string s | int8 s[])", min_args: 1, max_args: 1, aggregation: false, doc: "the capacity of a string (its size, NUL included) or an array (its length) (known when compiling)" },
    FuncDef { name: "kfunc_exist", func: Func::KfuncExist, signature: "kfunc_exist(string name)", min_args: 1, max_args: 1, aggregation: false, doc: "1 if the kernel's BTF has function name, else 0 (known when compiling)" },
    FuncDef { name: "kfunc_allowed", func: Func::KfuncAllowed, signature: "kfunc_allowed(string name)", min_args: 1, max_args: 1, aggregation: false, doc: "1 if this probe's kind of program may call kfunc name, else 0 (asked of the kernel when compiling)" },
    FuncDef { name: "container_of", func: Func::ContainerOf, signature: "container_of(ptr, type, member)", min_args: 3, max_args: 3, aggregation: false, doc: "the `type *` whose member `member` is at ptr" },
    FuncDef { name: "override", func: Func::Override, signature: "override(int rc)", min_args: 1, max_args: 1, aggregation: false, doc: "kprobes: return rc from the probed function instead of running it (needs --unsafe, kprobes and CONFIG_BPF_KPROBE_OVERRIDE)" },
    FuncDef { name: "path", func: Func::Path, signature: "path(struct path *p[, int size])", min_args: 1, max_args: 2, aggregation: false, doc: "fentry/fexit: the full path of p (`bpf_d_path`; a `struct path` member stands for its address), at most size bytes; only in the functions the kernel allows (`btf_allowlist_d_path`)" },
    FuncDef { name: "skboutput", func: Func::Skboutput, signature: "skboutput(string path, struct sk_buff *skb, uint64 length, uint64 offset)", min_args: 4, max_args: 4, aggregation: false, doc: "fentry/fexit: writes the skb's first length bytes, from offset on, as a packet of the pcap file path (raw IP; `bpf_skb_output`); 0 or a negative error (a uint32); path and offset are literals" },
    FuncDef { name: "socket_cookie", func: Func::SocketCookie, signature: "socket_cookie(struct sock *sk)", min_args: 1, max_args: 1, aggregation: false, doc: "fentry/fexit: the socket's cookie (`bpf_get_socket_cookie`), 0 for NULL" },
    FuncDef { name: "dw_ustack", func: Func::DwUstack, signature: "dw_ustack([mode, ][int limit])", min_args: 0, max_args: 2, aggregation: false, doc: "the user stack unwound with the targets' `.eh_frame` (no frame pointers needed; targets from -p, -c or --dwarf-pid; unstable: config `unstable_dw_ustack`)" },
    FuncDef { name: "unwatch", func: Func::Unwatch, signature: "unwatch(void *addr)", min_args: 1, max_args: 1, aggregation: false, doc: "remove the watchpoints on addr when the event reaches rtrace (accesses until then still fire; nothing if none watches it)" },
    FuncDef { name: "kaddr", func: Func::Kaddr, signature: "kaddr(string name)", min_args: 1, max_args: 1, aggregation: false, doc: "the address of a kernel symbol" },
    FuncDef { name: "percpu_kaddr", func: Func::PercpuKaddr, signature: "percpu_kaddr(string name[, int cpu])", min_args: 1, max_args: 2, aggregation: false, doc: "the address (`uint64 *`) of per-CPU kernel variable name on this CPU, or on cpu (0 past the last CPU: check it before reading members); needs CONFIG_KALLSYMS_ALL" },
];

/// Kernel constants scripts use by name, as bpftrace tools expect from kernel headers.
pub const CONSTANTS: &[(&str, u64)] = &[
    ("TASK_RUNNING", 0),
    ("TASK_INTERRUPTIBLE", 1),
    ("TASK_UNINTERRUPTIBLE", 2),
    ("TASK_STOPPED", 4),
    ("TASK_TRACED", 8),
    ("EXIT_DEAD", 16),
    ("EXIT_ZOMBIE", 32),
    ("TASK_DEAD", 128),
    ("TASK_WAKEKILL", 256),
    ("TASK_WAKING", 512),
    ("TASK_PARKED", 64),
    ("TASK_NOLOAD", 1024),
    ("TASK_NEW", 2048),
    ("AF_UNSPEC", 0),
    ("AF_UNIX", 1),
    ("AF_INET", 2),
    ("AF_INET6", 10),
    ("AF_NETLINK", 16),
    ("AF_PACKET", 17),
    ("PAGE_SIZE", 4096),
];

/// Linux's signal numbers (x86-64), for `signal("SIGKILL")`.
pub use crate::kernel::names::SIGNALS;

/// The number of a signal named with or without its `SIG` prefix (`"SIGKILL"`, `"KILL"`).
pub fn signal_number(name: &str) -> Option<u32> {
    let name = name.strip_prefix("SIG").unwrap_or(name);
    SIGNALS.iter().find(|(n, _)| n[3..] == *name).map(|(_, v)| *v)
}

pub fn constant(name: &str) -> Option<u64> {
    CONSTANTS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

pub fn function(name: &str) -> Option<&'static FuncDef> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// One example per builtin and function, for the reference that `rtrace --builtins` prints
/// (and README.md holds, checked by tests/generated_docs.rs).
pub const EXAMPLES: &[(&str, &str)] = &[
    ("pid", "`/pid == 1234/`"),
    ("tid", "`@[tid] = count()`"),
    ("uid", "`/uid == 0/`"),
    ("gid", "`@[gid] = count()`"),
    ("comm", "`@[comm] = count()`"),
    ("nsecs", "`@start[tid] = nsecs`"),
    ("elapsed", "`printf(\"%d ms\\n\", elapsed / 1000000)`"),
    ("cpu", "`@[cpu] = count()`"),
    ("args", "`str(args.filename)`"),
    ("arg0", "`@bytes = hist(arg2)`"),
    ("retval", "`@ret = hist(retval)`"),
    ("func", "`@[func] = count()`"),
    ("probe", "`@[probe] = count()`"),
    ("kstack", "`@[kstack] = count()`"),
    ("ustack", "`@[ustack] = count()`"),
    ("cpid", "`/pid == cpid/` (with `-c`)"),
    ("curtask", "`curtask->real_parent->pid`"),
    ("ctx", "`iter:task { printf(\"%d\\n\", ctx.task.pid) }`"),
    ("ppid", "`printf(\"%d -> %d\\n\", ppid, pid)`"),
    ("pcomm", "`@[pcomm, comm] = count()`"),
    ("leader_tid", "`/leader_tid != tid/` (not the main thread)"),
    ("leader_comm", "`@[leader_comm] = count()`"),
    ("usermode", "`@[usermode] = count()`"),
    ("probetype", "`@[probetype] = count()`"),
    ("username", "`@[username] = count()`"),
    ("has_cpid", "`/has_cpid && pid == cpid/`"),
    ("config", "`printf(\"%d\\n\", config.max_strlen)`"),
    ("cgroup", "`@[cgroup] = count()`"),
    ("jiffies", "`@j = jiffies`"),
    ("rand", "`/rand % 100 == 0/` (sample 1%)"),
    ("numaid", "`@[numaid] = count()`"),
    ("ncpus", "`printf(\"%d CPUs\\n\", ncpus)`"),
    ("count", "`@[comm] = count()`"),
    ("sum", "`@bytes[comm] = sum(args.count)`"),
    ("avg", "`@avg = avg(args.count)`"),
    ("stats", "`@s = stats(args.count)`"),
    ("min", "`@min = min(args.count)`"),
    ("max", "`@max = max(args.count)`"),
    ("hist", "`@lat = hist(nsecs - @start[tid])`"),
    ("lhist", "`@pct = lhist($p, 0, 100, 10)`"),
    ("tseries", "`@rq = tseries(args.count, 1s, 30, \"sum\")`"),
    ("printf", "`printf(\"%-16s %6d\\n\", comm, pid)`"),
    ("errorf", "`errorf(\"bad size %d\", $n)`"),
    ("warnf", "`warnf(\"odd size %d\", $n)`"),
    ("assert", "`assert($n < 100, \"too large\")`"),
    ("fail", "`if (is_str($x)) { fail(\"not a number\"); }` (in a macro)"),
    ("static_assert", "`static_assert(sizeof(struct task_struct) > 0, \"no task\")`"),
    ("pton", "`(uint32)pton(\"127.0.0.1\")`"),
    ("reg", "`printf(\"%s\\n\", usym(reg(\"ip\")))` (in a uprobe)"),
    ("strcap", "`strcap(comm)` (16)"),
    ("assert_str", "`assert_str(x)` (in a macro)"),
    ("default_str_length", "`default_str_length()` (64)"),
    ("typeinfo", "`typeinfo($x).full_type` (\"uint32\"; config `unstable_typeinfo = enable`)"),
    ("kfunc_exist", "`if (kfunc_exist(\"bpf_task_from_pid\")) { … }`"),
    ("kfunc_allowed", "`if (kfunc_allowed(\"bpf_task_from_pid\")) { … }`"),
    ("container_of", "`container_of($node, struct task_struct, tasks)`"),
    ("override", "`override(-1)` (with `--unsafe`, in a kprobe)"),
    ("path", "`path(args.file->f_path)`"),
    ("skboutput", "`skboutput(\"out.pcap\", args.skb, args.skb->len, 0)`"),
    ("socket_cookie", "`@[socket_cookie(args.sk)] = count()`"),
    ("dw_ustack", "`rtrace -c ./prog -e 'uprobe:./prog:f { @[dw_ustack(5)] = count(); }'`"),
    ("unwatch", "`unwatch(0x10000000)` (in its watchpoint's probe: watch until the first hit)"),
    ("exit", "`exit(1)` (END runs, the maps print, status 1)"),
    ("delete", "`delete(@start, tid)`"),
    ("clear", "`interval:s:1 { print(@calls); clear(@calls); }`"),
    ("str", "`str(args.filename)`"),
    ("time", "`time(\"%H:%M:%S \")`"),
    ("print", "`print(@bytes, 10)` (the 10 largest, now); `print(kstack)`"),
    ("ntop", "`ntop(args.saddr)`"),
    ("macaddr", "`printf(\"%s\\n\", macaddr(((struct ethhdr *)$p)->h_source))`"),
    ("join", "`join(args.argv)`"),
    ("cat", "`cat(\"/proc/%d/status\", pid)`"),
    ("usym", "`printf(\"%s\\n\", usym(arg0))`"),
    ("buf", "`printf(\"%r\\n\", buf(args.buf, 16))`"),
    ("bswap", "`bswap((uint16)args.dport)`"),
    ("strncmp", "`/strncmp(comm, \"kworker\", 7) == 0/`"),
    ("kstack()", "`@[kstack(perf, 5)] = count()`"),
    ("ustack()", "`@[ustack(3)] = count()`"),
    ("signal", "`signal(\"SIGKILL\")` (with `--unsafe`)"),
    ("signal_thread", "`signal_thread(\"SIGSTOP\")` (with `--unsafe`)"),
    ("write_user", "`write_user(args.filename, $path, 16)` (with `--unsafe`)"),
    ("system", "`system(\"ps -p %d -o comm=\", pid)` (with `--unsafe`)"),
    ("strftime", "`printf(\"%s\\n\", strftime(\"%H:%M:%S.%f\", nsecs))`"),
    ("len", "`if (len(@start) > 1000) { clear(@start); }`"),
    ("find", "`if (find(@start, tid, $t)) { @lat = hist(nsecs - $t); }`"),
    ("has_key", "`if (has_key(@start, tid)) { @lat = hist(nsecs - @start[tid]); }`"),
    ("zero", "`zero(@calls)`"),
    ("ksym", "`printf(\"%s\\n\", ksym(arg0))`"),
    ("uaddr", "`*uaddr(\"counter\")`"),
    ("strcontains", "`/strcontains(str(args.filename), \"passwd\")/`"),
    ("strstr", "`strstr(str(args.filename), \"/\")`"),
    ("strlen", "`@len = hist(strlen(str(args.filename)))`"),
    ("str_concat", "`str_concat(comm, \":\")`"),
    ("strerror", "`printf(\"%s\\n\", strerror(-retval))`"),
    ("signal_name", "`@[signal_name(args.sig)] = count()`"),
    ("syscall_name", "`@[syscall_name(args.id)] = count()`"),
    ("is_err", "`if (is_err(retval)) { … }`"),
    ("is_integer", "`is_integer($x)` (in a macro)"),
    ("is_unsigned_integer", "`is_unsigned_integer($x)` (in a macro)"),
    ("is_ptr", "`is_ptr(x)` (in a macro)"),
    ("is_str", "`is_str(x)` (in a macro)"),
    ("is_array", "`is_array(x)` (in a macro)"),
    ("is_literal", "`is_literal(x)` (in a macro)"),
    ("memcmp", "`/memcmp(comm, \"sshd\", 4) == 0/`"),
    ("cgroupid", "`/cgroup == cgroupid(\"/sys/fs/cgroup/system.slice\")/`"),
    ("cgroup_path", "`printf(\"%s\\n\", cgroup_path(cgroup))`"),
    ("kptr", "`str(kptr(arg1))`"),
    ("uptr", "`str(uptr(arg1))`"),
    ("kaddr", "`kaddr(\"vfs_read\")`"),
    ("percpu_kaddr", "`((struct rq *)percpu_kaddr(\"runqueues\"))->nr_running`"),
];

/// A function's key in `EXAMPLES`: its name, or `name()` for `kstack()`/`ustack()`, which
/// share their names with builtins.
fn function_key(f: &FuncDef) -> String {
    if BUILTINS.iter().any(|b| b.name == f.name) {
        format!("{}()", f.name)
    } else {
        f.name.to_string()
    }
}

fn example(key: &str) -> &'static str {
    EXAMPLES.iter().find(|(k, _)| *k == key).map_or("", |(_, e)| e)
}

/// The reference of builtins and functions as Markdown tables, one example each: what
/// `rtrace --builtins` prints and README.md's "Builtins and functions" section holds.
pub fn reference() -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = String::from("| builtin | what it is | example |\n|---|---|---|\n");
    for b in BUILTINS {
        let name = match b.builtin {
            Builtin::Arg(0) => "arg0 … argN".to_string(),
            Builtin::Arg(_) => continue,
            _ => b.name.to_string(),
        };
        out += &format!("| `{name}` | {} | {} |\n", cell(b.doc), cell(example(b.name)));
    }
    out += "\n| function | what it does | example |\n|---|---|---|\n";
    for f in FUNCTIONS {
        out += &format!("| `{}` | {} | {} |\n", cell(f.signature), cell(f.doc), cell(example(&function_key(f))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_and_function_has_an_example() {
        for b in BUILTINS.iter().filter(|b| !matches!(b.builtin, Builtin::Arg(1..))) {
            assert!(!example(b.name).is_empty(), "no example for builtin `{}`", b.name);
        }
        for f in FUNCTIONS {
            assert!(!example(&function_key(f)).is_empty(), "no example for function `{}`", f.name);
        }
    }
}
