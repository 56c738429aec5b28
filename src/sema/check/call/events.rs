//! Calls that send an event to user space or act on the system: `system()`, `exit()`,
//! `unwatch()`, `print()`, `cat()`, `join()`, `signal()` (`printf()` has its own file).

use super::*;

impl Checker<'_> {
    /// `system(fmt, args…)`: a command formatted as printf formats, run for each event.
    pub(in crate::sema::check) fn system(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        if !self.unsafe_allowed(e, "system") {
            return Type::Error;
        }
        match self.printf(e, "system", args, scope) {
            Type::Error => Type::Error,
            _ => self.set(scope, e, Type::Void, Res::System(0)),
        }
    }

    /// `exit()`, `exit(status)`.
    pub(in crate::sema::check) fn exit(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        if scope.for_loops > 0 {
            self.error(StmtError::ExitInForLoop { span: e.span });
        }
        if let Some(a) = args.first() {
            if literal_int(a).is_none() {
                self.error(CallError::ExitLiteral { span: a.span });
            }
        }
        self.set(scope, e, Type::Void, Res::Call(Func::Exit))
    }

    /// `unwatch(addr)`: removes the watchpoints on an address (none: nothing happens).
    pub(in crate::sema::check) fn unwatch(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        if !self.int_arg(&args[0], IntWanted::Address("unwatch"), scope) {
            return Type::Error;
        }
        self.set(scope, e, Type::Void, Res::Call(Func::Unwatch))
    }

    /// `print(@map[, top[, div]])`, or `print(value)`.
    pub(in crate::sema::check) fn print(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let arg = &args[0];
        for extra in &args[1..] {
            self.int_arg(extra, IntWanted::PrintTopDiv, scope);
        }
        if args.len() > 1 && !matches!(&arg.kind, ExprKind::Map(m) if m.keys.is_empty()) {
            self.error(CallError::PrintTopDivWithValue { span: args[1].span });
            return Type::Error;
        }
        if let ExprKind::Map(map) = &arg.kind {
            if map.keys.is_empty() {
                let Some((index, _)) = self.assigned_map(map) else { return Type::Error };
                scope.exprs.insert(arg.id, ExprInfo { ty: Type::Void, res: Res::MapRead(index), span: arg.span });
                return self.set(scope, e, Type::Void, Res::Call(Func::Print));
            }
        }
        // print(value): the value and a newline, as a printf.
        let t = match self.args_record(arg, scope) {
            Some(t) => t,
            None => self.value_expr(arg, scope),
        };
        let kind = match self.stored_scalar(t, "a print() event", arg.span) {
            Some(kind) => kind,
            None if matches!(t, Type::Error | Type::Record { .. }) => return Type::Error,
            None => {
                self.error(CallError::CannotPrint { found: t.describe(), span: arg.span });
                return Type::Error;
            }
        };
        let kind = self.with_enum(kind, arg, scope);
        self.need(e, Need::PrintValue(kind));
        self.set(scope, e, Type::Void, Res::PrintValue(0))
    }

    /// `cat(path)`: the file's contents, printed; `cat(fmt, args…)`: the path formatted as
    /// printf formats (0.26).
    pub(in crate::sema::check) fn cat(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        if args.len() > 1 {
            return match self.printf(e, "cat", args, scope) {
                Type::Error => Type::Error,
                _ => self.set(scope, e, Type::Void, Res::Cat(0)),
            };
        }
        let Some(path) = self.literal_arg(args.first(), None, "cat", "path") else {
            return Type::Error;
        };
        self.need(e, Need::Cat(path));
        self.set(scope, e, Type::Void, Res::Event { kind: crate::plan::EventKind::Cat, id: 0 })
    }

    /// `join(array[, separator])`: the strings of a NULL-ended array of string pointers.
    pub(in crate::sema::check) fn join(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let t = self.expr(&args[0], scope);
        if t == Type::Error {
            return t;
        }
        let user = match t {
            Type::Ptr { user, .. } => user,
            t if t.is_int() => scope.user_memory(),
            other => {
                self.error(CallError::JoinArray { found: other.describe(), span: args[0].span });
                return Type::Error;
            }
        };
        let Some(sep) = self.literal_arg(args.get(1), Some(" "), "join", "separator") else {
            return Type::Error;
        };
        self.need(e, Need::Join(sep));
        self.set(scope, e, Type::Void, Res::Join { id: 0, user })
    }

    /// `write_user(dst, src, len)`: `len` bytes of string `src` (at most its size) written to
    /// user memory at `dst`.
    pub(in crate::sema::check) fn write_user(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        if !self.unsafe_allowed(e, "write_user") {
            return Type::Error;
        }
        let dst = self.int_arg(&args[0], IntWanted::Pointer("write_user"), scope);
        let src = self.string_arg(def, &args[1], scope);
        let len = self.int_arg(&args[2], IntWanted::Count("write_user"), scope);
        let (Some(size), true, true) = (src, dst, len) else { return Type::Error };
        if let Some(n) = literal_int(&args[2]).filter(|&n| n < 1 || n > i64::from(size)) {
            self.error(StdlibError::WriteUserLength { n, size, span: args[2].span });
            return Type::Error;
        }
        let helper = libbpf_rs::libbpf_sys::BPF_FUNC_probe_write_user;
        if !self.opts.no_attach && !crate::kernel::features::helper_usable(super::meta::prog_type(&scope.inst.attach), helper) {
            let needs = "the bpf_probe_write_user helper (refused to every program under kernel lockdown)";
            self.error(StdlibError::KernelLacks { func: "write_user", needs, lacker: "this kernel", span: e.span });
            return Type::Error;
        }
        self.set(scope, e, Type::Int { signed: false }, Res::Call(Func::WriteUser))
    }

    /// `signal(SIG)`: a name (`"SIGKILL"`, `"KILL"`) or a number, sent to the current process;
    /// `signal_thread(SIG)`: to the current thread.
    pub(in crate::sema::check) fn signal(&mut self, e: &Expr, def: &builtins::FuncDef, arg: &Expr, scope: &mut Scope) -> Type {
        let func = def.name;
        if !self.unsafe_allowed(e, func) {
            return Type::Error;
        }
        if let Some(kind) = match scope.inst.attach {
            Attach::Begin => Some("BEGIN"),
            Attach::End => Some("END"),
            Attach::Test { .. } => Some("test"),
            Attach::Bench { .. } => Some("bench"),
            Attach::Signal { .. } => Some("self"),
            Attach::Interval { .. } => Some("interval"),
            _ => None,
        } {
            self.error(CallError::SignalInProbe { func, kind, span: e.span });
            return Type::Error;
        }
        let number = match &arg.kind {
            ExprKind::Str(name) => match builtins::signal_number(name) {
                Some(n) => Some(n),
                None => {
                    self.error(CallError::UnknownSignal { name: name.clone(), span: arg.span });
                    return Type::Error;
                }
            },
            _ => match literal_int(arg) {
                Some(n) if (1..=64).contains(&n) => Some(n as u32),
                Some(n) => {
                    self.error(CallError::SignalNumber { n, span: arg.span });
                    return Type::Error;
                }
                None if !self.int_arg(arg, IntWanted::Signal, scope) => return Type::Error,
                None => None,
            },
        };
        self.set(scope, e, Type::Void, Res::Signal { number, thread: def.func == Func::SignalThread })
    }
}
