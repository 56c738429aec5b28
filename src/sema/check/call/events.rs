//! Calls that send an event to user space or act on the system: `system()`, `exit()`,
//! `print()`, `cat()`, `join()`, `signal()` (`printf()` has its own file).

use super::*;

impl Checker<'_> {
    /// `system(fmt, args…)`: a command formatted as printf formats, run for each event.
    pub(in crate::sema::check) fn system(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        if !self.unsafe_allowed(e, "system", "it runs a shell command for each event") {
            return Type::Error;
        }
        match self.printf(e, "system", args, scope) {
            Type::Error => Type::Error,
            _ => self.set(scope, e, Type::Void, Res::System(0)),
        }
    }

    /// `exit()`, `exit(status)`.
    pub(in crate::sema::check) fn exit(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        if let Some(a) = args.first() {
            if literal_int(a).is_none() {
                self.error(Diagnostic::error("exit() takes an integer literal").at(a.span, "not a literal"));
            }
        }
        self.set(scope, e, Type::Void, Res::Call(Func::Exit))
    }

    /// `print(@map[, top[, div]])`, or `print(value)`.
    pub(in crate::sema::check) fn print(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let arg = &args[0];
        for extra in &args[1..] {
            let t = self.expr(extra, scope);
            if t != Type::Error && !t.is_int() {
                self.error(
                    Diagnostic::error("`print()`'s top and div are integers").at(extra.span, format!("this is {}", t.describe())),
                );
            }
        }
        if args.len() > 1 && !matches!(&arg.kind, ExprKind::Map(m) if m.keys.is_empty()) {
            self.error(
                Diagnostic::error("`print()` takes top and div only with a whole map")
                    .at(args[1].span, "not with a single value"),
            );
            return Type::Error;
        }
        if let ExprKind::Map(map) = &arg.kind {
            if map.keys.is_empty() {
                let Some((index, _)) = self.map_info(&map.name) else {
                    if self.learning {
                        return Type::Error;
                    }
                    self.error(
                        Diagnostic::error(format!("map `{}` is never assigned", map.name)).at(map.span, "never assigned"),
                    );
                    return Type::Error;
                };
                scope.exprs.insert(arg.id, ExprInfo { ty: Type::Void, res: Res::MapRead(index), span: arg.span });
                return self.set(scope, e, Type::Void, Res::Call(Func::Print));
            }
        }
        // print(value): the value and a newline, as a printf.
        let t = self.expr(arg, scope);
        let kind = match t {
            Type::Str { len } => ArgKind::Str { len },
            Type::Ksym => ArgKind::Ksym,
            Type::Timestamp(id) => ArgKind::Timestamp(id),
            Type::Stack(spec) => ArgKind::Stack(spec),
            Type::Inet => ArgKind::Inet,
            Type::ProbeName => ArgKind::ProbeName,
            Type::Usym => ArgKind::Usym,
            Type::IntArray(a) => ArgKind::IntArray(a),
            t if t.is_int() => ArgKind::Int { signed: t.signed() },
            Type::Tuple(_) => self.tuples.arg_kind(t).unwrap_or(ArgKind::Int { signed: true }),
            Type::Error => return Type::Error,
            other => {
                self.error(Diagnostic::error(format!("cannot print {}", other.describe())).at(arg.span, "no value"));
                return Type::Error;
            }
        };
        self.need(e, Need::PrintValue(kind));
        self.set(scope, e, Type::Void, Res::PrintValue(0))
    }

    /// `cat(path)`: the file's contents, printed.
    pub(in crate::sema::check) fn cat(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let Some(path) = self.literal_arg(args.first(), None, "`cat()`'s path") else {
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
                self.error(
                    Diagnostic::error(format!("`join()` takes an array of string pointers, not {}", other.describe()))
                        .at(args[0].span, "not a pointer"),
                );
                return Type::Error;
            }
        };
        let Some(sep) = self.literal_arg(args.get(1), Some(" "), "`join()`'s separator") else {
            return Type::Error;
        };
        self.need(e, Need::Join(sep));
        self.set(scope, e, Type::Void, Res::Join { id: 0, user })
    }

    /// `signal(SIG)`: a name (`"SIGKILL"`, `"KILL"`) or a number, sent to the current process.
    pub(in crate::sema::check) fn signal(&mut self, e: &Expr, arg: &Expr, scope: &mut Scope) -> Type {
        if !self.unsafe_allowed(e, "signal", "it sends a signal to the traced process") {
            return Type::Error;
        }
        if let Some(kind) = match scope.inst.attach {
            Attach::Begin => Some("BEGIN"),
            Attach::End => Some("END"),
            Attach::Interval { .. } => Some("interval"),
            _ => None,
        } {
            self.error(
                Diagnostic::error(format!("`signal()` cannot be used in {kind} probes"))
                    .at(e.span, "no traced process here")
                    .note("`signal()` signals the process the probe fired in"),
            );
            return Type::Error;
        }
        let number = match &arg.kind {
            ExprKind::Str(name) => match builtins::signal_number(name) {
                Some(n) => Some(n),
                None => {
                    self.error(
                        Diagnostic::error(format!("unknown signal `{name}`"))
                            .at(arg.span, "not a signal name")
                            .help("use a name such as \"SIGKILL\" (or \"KILL\"), or a number from 1 to 64"),
                    );
                    return Type::Error;
                }
            },
            _ => match literal_int(arg) {
                Some(n) if (1..=64).contains(&n) => Some(n as u32),
                Some(n) => {
                    self.error(
                        Diagnostic::error(format!("{n} is not a signal number"))
                            .at(arg.span, "not from 1 to 64"),
                    );
                    return Type::Error;
                }
                None if !self.int_arg(arg, "`signal()` takes a signal name or number", scope) => return Type::Error,
                None => None,
            },
        };
        self.set(scope, e, Type::Void, Res::Signal(number))
    }
}
