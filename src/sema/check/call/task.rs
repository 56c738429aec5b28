//! bpftrace 0.26's builtins about the probe and the task (docs/stdlib.md): every builtin
//! called as a function (`pid()`, 0.24), the task reads `ppid`, `pcomm`, `leader_tid`,
//! `leader_comm` (also of a task passed as argument: `pcomm(task)`), `usermode`, `reg()`,
//! `probetype`;
//! and the type predicates (`is_integer()`, …, `is_err()`).

use super::*;

impl Checker<'_> {
    /// `name(args)` where `name` is a builtin, not a function: the builtin itself.
    pub(in crate::sema::check) fn builtin_call(&mut self, e: &Expr, b: Builtin, name: &Name, args: &[Expr], scope: &mut Scope) -> Type {
        match (b.task_link(), args) {
            (Some(_), [] | [_]) => self.task_read(e, b, &name.name, args.first(), scope),
            (None, []) => self.ident(e, &name.name, scope),
            (None, [mode]) if matches!(b, Builtin::Pid | Builtin::Tid | Builtin::Nsecs) => self.builtin_mode(e, b, mode, scope),
            (None, [pid]) if b == Builtin::Comm => self.comm_of_pid(e, pid, scope),
            _ => {
                let span = args[0].span.to(args[args.len() - 1].span);
                self.error(match b {
                    Builtin::Pid | Builtin::Tid => StdlibError::BuiltinMode { name: b.name(), modes: "`curr_ns` or `init`", span },
                    Builtin::Nsecs => StdlibError::BuiltinMode { name: b.name(), modes: "`monotonic`, `boot` or `tai`", span },
                    _ => StdlibError::BuiltinArgs { name: name.name.clone(), task: b.task_link().is_some(), span },
                });
                Type::Error
            }
        }
    }

    /// `comm(pid)` (0.25): as bpftrace, the task from kfunc `bpf_task_from_pid` (released with
    /// `bpf_task_release`), which this kernel allows in kprobe, tracepoint and perf event
    /// programs, not in begin/end's raw tracepoint programs: an error there.
    fn comm_of_pid(&mut self, e: &Expr, pid: &Expr, scope: &mut Scope) -> Type {
        if !self.int_arg(pid, IntWanted::Number("comm"), scope) {
            return Type::Error;
        }
        let Some(k) = self.kernel_types_at(e.span, Some("comm(pid)")) else { return Type::Error };
        let prog = super::meta::prog_type(&scope.inst.attach);
        let kfuncs = ["bpf_task_from_pid", "bpf_task_release"].map(|name| crate::sema::ksyms::function(&k, name));
        let id = k.function_id("bpf_task_from_pid");
        let allowed = id.is_some_and(|id| crate::kernel::features::kfunc_allowed(id, prog));
        let task = k.find_tagged("struct", "task_struct");
        let comm = task.and_then(|t| k.member(t, "comm"));
        let (true, [Some(from_pid), Some(release)], Some(task), Some(comm)) = (allowed, kfuncs, task, comm) else {
            self.error(StdlibError::CommOfPid { probe: scope.inst.display.clone(), missing: id.is_none(), span: e.span });
            return Type::Error;
        };
        for f in [from_pid, release] {
            self.ksyms.insert(f.name().to_string(), f);
        }
        if self.opts.co_re {
            scope.core.insert(e.id, CoreRef::Member { record: task, path: vec!["comm".to_string()] });
        }
        let comm = Access { offset: u64::from(comm.offset_bits / 8), scale: 0, read: Read::Chars { len: COMM_LEN }, user: false };
        self.set(scope, e, Type::Str { len: COMM_LEN }, Res::CommOfPid { comm })
    }

    /// `pid(curr_ns|init)`, `tid(…)` (0.24) and `nsecs(monotonic|boot|tai)` (0.25): the mode
    /// is a bare word. rtrace's pids are the initial namespace's, which are also rtrace's own
    /// where it runs in that namespace (as on a host); `sw_tai` is not available.
    fn builtin_mode(&mut self, e: &Expr, b: Builtin, mode: &Expr, scope: &mut Scope) -> Type {
        let word = match &mode.kind {
            ExprKind::Ident(w) => w.as_str(),
            _ => "",
        };
        let res = match (b, word) {
            (Builtin::Pid | Builtin::Tid, "curr_ns" | "init") => Res::Builtin(b),
            (Builtin::Nsecs, "monotonic") => Res::Builtin(b),
            (Builtin::Nsecs, "boot") => Res::Ktime(libbpf_rs::libbpf_sys::BPF_FUNC_ktime_get_boot_ns),
            (Builtin::Nsecs, "tai") => Res::Ktime(libbpf_rs::libbpf_sys::BPF_FUNC_ktime_get_tai_ns),
            _ => {
                let modes = if b == Builtin::Nsecs { "`monotonic`, `boot` or `tai`" } else { "`curr_ns` or `init`" };
                self.error(StdlibError::BuiltinMode { name: b.name(), modes, span: mode.span });
                return Type::Error;
            }
        };
        self.set(scope, e, Type::Int { signed: false }, res)
    }

    /// `ppid`, `pcomm`, `leader_tid`, `leader_comm`: of the current task, or of `task`.
    pub(in crate::sema::check) fn task_read(&mut self, e: &Expr, b: Builtin, name: &str, task: Option<&Expr>, scope: &mut Scope) -> Type {
        let Some(link) = b.task_link() else { return Type::Error };
        if let Some(t) = task {
            let ty = self.expr(t, scope);
            let k = self.kernel_types().ok();
            let task_struct = k.as_ref().and_then(|k| k.find_tagged("struct", "task_struct"));
            match ty {
                Type::Error => return Type::Error,
                Type::Ptr { to: Some(Pointee::Btf { id, .. }), .. } if Some(id) == task_struct => {}
                other => {
                    self.error(StdlibError::TaskArg { name: name.to_string(), found: other.describe(), span: t.span });
                    return Type::Error;
                }
            }
        }
        let Some((res, task)) = self.task_field(b.name(), link, e.span) else { return Type::Error };
        if self.opts.co_re {
            scope.core.insert(e.id, CoreRef::TaskField { task, link: link.0, field: link.1 });
        }
        let ty = if link.1 == "comm" { Type::Str { len: COMM_LEN } } else { Type::Int { signed: false } };
        self.set(scope, e, ty, res)
    }

    /// `usermode`: read from the registers where the context holds them; begin and end run in
    /// rtrace's own process (1, as bpftrace), other probes have no registers (0, as bpftrace).
    pub(in crate::sema::check) fn usermode(&mut self, e: &Expr, scope: &mut Scope) -> Type {
        let value = match &scope.inst.attach {
            Attach::Begin | Attach::End | Attach::Test { .. } | Attach::Bench { .. } | Attach::Signal { .. } => Some(1),
            Attach::Kprobe { .. } | Attach::Uprobe { .. } | Attach::Usdt { .. } | Attach::Interval { .. } => None,
            Attach::Perf { .. } | Attach::Watchpoint { .. } => None,
            Attach::Tracepoint { .. } | Attach::RawTracepoint { .. } | Attach::Fentry { .. } | Attach::Iter { .. } => Some(0),
        };
        let res = value.map_or(Res::Builtin(Builtin::Usermode), Res::Const);
        self.set(scope, e, Type::Int { signed: false }, res)
    }

    /// `reg("name")`: a register of the interrupted code, read from the context's
    /// `struct pt_regs` (kprobes, uprobes, USDT and perf event probes); elsewhere an error,
    /// as in bpftrace 0.26, whose other probes have no registers in their context.
    pub(in crate::sema::check) fn reg(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let Some(name) = self.literal_arg(args.first(), None, "reg", "name") else {
            return Type::Error;
        };
        let Some(offset) = crate::kernel::regs::pt_regs_offset(&name) else {
            self.error(StdlibError::RegName { name, span: args[0].span });
            return Type::Error;
        };
        let regs = matches!(
            scope.inst.attach,
            Attach::Kprobe { .. } | Attach::Uprobe { .. } | Attach::Usdt { .. } | Attach::Interval { .. } | Attach::Perf { .. } | Attach::Watchpoint { .. }
        );
        if !regs {
            let probes = "kprobes, uprobes, USDT, profile, interval, software, hardware and watchpoint probes";
            self.error(StdlibError::OnlyIn { func: "reg", probes, span: e.span });
            return Type::Error;
        }
        self.set(scope, e, Type::Int { signed: false }, Res::CtxSlot { index: (offset / 8) as u32, size: 8, signed: false })
    }

    /// `probetype`: the probe's type, known when compiling.
    pub(in crate::sema::check) fn probetype(&mut self, e: &Expr, scope: &mut Scope) -> Type {
        let written = scope.inst.display.split(':').next().unwrap_or_default();
        let name = probe_type(written).to_string();
        let len = name.len() as u32 + 1;
        self.set(scope, e, Type::Str { len }, Res::ConstStr(name))
    }
}

/// bpftrace's name for a provider as written (`k`, `kprobe`, `BEGIN`, `kfunc`).
fn probe_type(provider: &str) -> &'static str {
    match provider.to_ascii_lowercase().as_str() {
        "begin" | "end" | "self" => "special",
        "test" => "test",
        "bench" => "benchmark",
        "t" | "tracepoint" => "tracepoint",
        "k" | "kprobe" => "kprobe",
        "kr" | "kretprobe" => "kretprobe",
        "ur" | "uretprobe" => "uretprobe",
        "usdt" => "usdt",
        "u" if provider == "U" => "usdt",
        "u" | "uprobe" => "uprobe",
        "p" | "profile" => "profile",
        "i" | "interval" => "interval",
        "s" | "software" => "software",
        "h" | "hardware" => "hardware",
        "rawtracepoint" | "rt" => "rawtracepoint",
        "f" | "fentry" | "kfunc" => "fentry",
        "fr" | "fexit" | "kretfunc" => "fexit",
        "w" | "watchpoint" => "watchpoint",
        "aw" | "asyncwatchpoint" => "asyncwatchpoint",
        _ => "invalid",
    }
}

impl Checker<'_> {
    /// `is_integer(e)`, `is_ptr(e)`, … (0.26's compile-time type predicates): a bool
    /// constant; `is_err(p)`, the kernel's `IS_ERR()`, is computed.
    pub(in crate::sema::check) fn type_predicate(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        let arg = &args[0];
        let t = self.expr(arg, scope);
        if t == Type::Error {
            return Type::Error;
        }
        let holds = match def.func {
            Func::IsErr if t.is_int() => return self.set(scope, e, Type::Bool, Res::Call(Func::IsErr)),
            Func::IsErr => {
                self.error(ExprError::NotInteger { wanted: IntWanted::Pointer("is_err"), found: t.describe(), span: arg.span });
                return Type::Error;
            }
            Func::IsInteger => matches!(t, Type::Int { .. }),
            Func::IsUnsignedInteger => t == Type::Int { signed: false },
            Func::IsPtr => matches!(t, Type::Ptr { .. }),
            Func::IsStr => matches!(t, Type::Str { .. }),
            Func::IsArray => matches!(t, Type::Array { .. } | Type::IntArray(_)),
            _ => matches!(arg.kind, ExprKind::Int(_) | ExprKind::Str(_)),
        };
        self.set(scope, e, Type::Bool, Res::Const(holds as u64))
    }
}
