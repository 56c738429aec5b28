//! Expressions: literals, variables, operators, `?:`, blocks, and the builtins (`pid`, `comm`,
//! …).

use super::*;

impl Checker<'_> {
    pub(super) fn expr(&mut self, e: &Expr, scope: &mut Scope) -> Type {
        match &e.kind {
            ExprKind::Int(n) => {
                let signed = *n <= i64::MAX as u64;
                self.set(scope, e, Type::Int { signed }, Res::Plain)
            }
            ExprKind::Str(s) => self.set(scope, e, Type::Str { len: s.len() as u32 + 1 }, Res::Plain),
            ExprKind::Ident(name) => self.ident(e, name, scope),
            ExprKind::Var(name) if is_positional(name) => {
                let value = match &name[1..] {
                    "#" => Some(self.opts.params.len().to_string()),
                    n => n.parse::<usize>().ok().and_then(|i| i.checked_sub(1)).and_then(|i| self.opts.params.get(i).cloned()),
                };
                let value = value.unwrap_or_default();
                // A parameter that reads as a number is an integer; any other is a string
                // (a missing one is 0, as in bpftrace).
                if value.is_empty() {
                    return self.set(scope, e, Type::Int { signed: true }, Res::Const(0));
                }
                match value.parse::<i64>() {
                    Ok(n) => self.set(scope, e, Type::Int { signed: true }, Res::Const(n as u64)),
                    Err(_) => self.set(scope, e, Type::Str { len: value.len() as u32 + 1 }, Res::ConstStr(value)),
                }
            }
            ExprKind::Var(name) if scope.loop_vars.iter().any(|(n, _)| n == name) => {
                let (_, own) = scope.loop_vars.iter().rev().find(|(n, _)| n == name).cloned().unwrap_or_default();
                let t = scope.vars.get(&own).map_or(Type::Error, |&(t, _)| t);
                self.set(scope, e, t, Res::LoopVar(own))
            }
            ExprKind::Var(name) => match scope.vars.get(name) {
                Some(&(t, _)) => {
                    scope.use_var(name);
                    if let Some(&Some(id)) = scope.var_enums.get(name) {
                        scope.enums.insert(e.id, id);
                    }
                    self.set(scope, e, t, Res::Plain)
                }
                None => {
                    // A loop's variable, after its loop: it was stored under the loop's own name.
                    let loop_var = scope.vars.iter().find(|(n, _)| n.strip_prefix(name.as_str()).is_some_and(|r| r.starts_with('@')));
                    if let Some((_, &(_, span))) = loop_var {
                        self.error(
                            Diagnostic::error(format!("variable `{name}` is used outside its `for` loop"))
                                .at(e.span, "not inside the loop")
                                .also(span, "the loop's variable exists only inside the loop"),
                        );
                        return Type::Error;
                    }
                    let d = Diagnostic::error(format!("variable `{name}` is used before it is assigned"))
                        .at(e.span, "never assigned before this use");
                    let names = scope.vars.keys().map(String::as_str).filter(|n| !n.contains('@'));
                    let d = match did_you_mean(name, names) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d,
                    };
                    self.error(d);
                    Type::Error
                }
            },
            ExprKind::Map(map) => self.map_read(e, map, scope),
            ExprKind::Call { name, args } => self.call(e, name, args, scope),
            ExprKind::Field { base, field, arrow } => self.field(e, base, field, *arrow, scope),
            ExprKind::Unary { op, operand } => {
                let t = self.expr(operand, scope);
                if t == Type::Error {
                    return Type::Error;
                }
                if !t.is_int() {
                    self.error(
                        Diagnostic::error(format!("cannot apply `{}` to {}", unop_symbol(*op), t.describe()))
                            .at(operand.span, format!("this is {}", t.describe())),
                    );
                    return Type::Error;
                }
                let ty = match op {
                    UnOp::Not => Type::Int { signed: false },
                    UnOp::Neg => Type::Int { signed: true },
                    UnOp::BitNot => Type::Int { signed: t.signed() },
                };
                self.set(scope, e, ty, Res::Plain)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (l, r) = (self.expr(lhs, scope), self.expr(rhs, scope));
                if l == Type::Error || r == Type::Error {
                    return Type::Error;
                }
                let ty = match (l, r) {
                    (Type::Str { .. }, Type::Str { .. }) if matches!(op, BinOp::Eq | BinOp::Ne) => {
                        Type::Int { signed: false }
                    }
                    // Integer arrays compare as the integers holding their bytes.
                    (Type::IntArray(a), Type::IntArray(b)) if a == b && matches!(op, BinOp::Eq | BinOp::Ne) => {
                        Type::Int { signed: false }
                    }
                    (Type::IntArray(a), Type::IntArray(b)) if matches!(op, BinOp::Eq | BinOp::Ne) => {
                        self.error(
                            Diagnostic::error(format!("cannot compare `{}` with `{}`", array_name(a), array_name(b)))
                                .at(rhs.span, format!("this is `{}`", array_name(b)))
                                .also(lhs.span, format!("this is `{}`", array_name(a)))
                                .note("arrays compare equal when they have the same type and elements"),
                        );
                        return Type::Error;
                    }
                    // Pointer arithmetic, as in C: `p + n`, `n + p` and `p - n` are pointers of
                    // `p`'s type, `n` counted in elements (codegen scales it by the stride).
                    (Type::Ptr { .. }, Type::Int { .. }) if matches!(op, BinOp::Add | BinOp::Sub) => l,
                    (Type::Int { .. }, Type::Ptr { .. }) if *op == BinOp::Add => r,
                    (a, b) if a.is_int() && b.is_int() => {
                        let known = |x: &Expr| matches!(scope.exprs.get(&x.id).map(|i| &i.res), Some(Res::Const(_)));
                        let known = (known(lhs), known(rhs));
                        self.sign_mismatch(*op, (lhs, a), (rhs, b), known, e.span);
                        if op.is_comparison() || matches!(op, BinOp::And | BinOp::Or) {
                            Type::Int { signed: false }
                        } else {
                            Type::Int { signed: a.signed() && b.signed() }
                        }
                    }
                    (a, b) => {
                        let (bad, span) = if a.is_int() { (b, rhs.span) } else { (a, lhs.span) };
                        let mut d = Diagnostic::error(format!(
                            "cannot apply `{}` to {} and {}",
                            op.symbol(),
                            a.describe(),
                            b.describe()
                        ))
                        .at(span, format!("this is {}", bad.describe()));
                        if matches!((a, b), (Type::Str { .. }, Type::Str { .. })) {
                            d = d.note("strings can only be compared with `==` and `!=`");
                        }
                        self.error(d);
                        return Type::Error;
                    }
                };
                self.set(scope, e, ty, Res::Plain)
            }
            ExprKind::Bool(_) => self.set(scope, e, Type::Int { signed: false }, Res::Plain),
            ExprKind::IncDec { target, increment, .. } => {
                let op = if *increment { "++" } else { "--" };
                let t = self.update_target(target, op, e.span, scope);
                if t == Type::Error {
                    return t;
                }
                self.set(scope, e, t, Res::Plain)
            }
            ExprKind::Cast { ty, expr } => {
                let t = self.expr(expr, scope);
                if let Some(ptr) = self.cast_pointer(ty) {
                    if t != Type::Error && !t.is_int() {
                        self.error(
                            Diagnostic::error(format!("cannot cast {} to a pointer", t.describe()))
                                .at(expr.span, format!("this is {}", t.describe())),
                        );
                        return Type::Error;
                    }
                    if ptr == Type::Error || t == Type::Error {
                        return Type::Error;
                    }
                    let user = scope.user_address(t);
                    let ptr = match ptr {
                        Type::Ptr { to, .. } => Type::Ptr { user, to },
                        other => other,
                    };
                    return self.set(scope, e, ptr, Res::Plain);
                }
                if let TypeExprKind::Tagged { tag: "enum", name } = &ty.kind {
                    return self.enum_cast(e, ty.span, name, expr, t, scope);
                }
                if let TypeExprKind::Array(elem, len) = &ty.kind {
                    return self.array_cast(e, ty, elem, *len, expr, t, scope);
                }
                let Some((bits, signed)) = self.int_type(ty) else { return Type::Error };
                if let Type::IntArray(a) = t {
                    let size = a.elem_bytes as u32 * a.len as u32;
                    if 8 * size != bits {
                        self.error(
                            Diagnostic::error(format!(
                                "cannot cast `{}` ({size} bytes) to `{}` ({} bytes)",
                                array_name(a),
                                array_type_text(ty),
                                bits / 8
                            ))
                            .at(ty.span, format!("{} bytes", bits / 8))
                            .also(expr.span, format!("{size} bytes"))
                            .note("an array cast keeps the bytes, so both sides must have the same size"),
                        );
                        return Type::Error;
                    }
                    return self.set(scope, e, Type::Int { signed }, Res::IntCast { bits, signed });
                }
                if let Type::Array { elem, len, user } = t {
                    return self.memory_array_cast(e, ty, (bits, signed), expr.span, (elem, len, user), scope);
                }
                if t != Type::Error && !t.is_int() {
                    self.error(
                        Diagnostic::error(format!("cannot cast {} to an integer", t.describe()))
                            .at(expr.span, format!("this is {}", t.describe())),
                    );
                    return Type::Error;
                }
                self.note_typedef_enum(ty, e, scope);
                self.set(scope, e, Type::Int { signed }, Res::IntCast { bits, signed })
            }
            ExprKind::SizeofType(ty) => match self.type_size(ty) {
                Some(size) => self.set(scope, e, Type::Int { signed: false }, Res::Const(size)),
                None => Type::Error,
            },
            ExprKind::SizeofExpr(inner) => match self.expr(inner, scope) {
                Type::Error => Type::Error,
                _ => self.set(scope, e, Type::Int { signed: false }, Res::Plain),
            },
            ExprKind::Tuple(items) => {
                let mut elems = Vec::new();
                for item in items {
                    match self.expr(item, scope) {
                        Type::Error => return Type::Error,
                        t if self.tuples.arg_kind(t).is_some() => elems.push(t),
                        t => {
                            self.error(
                                Diagnostic::error(format!("a tuple cannot hold {}", t.describe()))
                                    .at(item.span, format!("this is {}", t.describe())),
                            );
                            return Type::Error;
                        }
                    }
                }
                let ty = self.tuples.intern(elems);
                self.set(scope, e, ty, Res::Plain)
            }
            ExprKind::Record(fields) => {
                let mut typed = Vec::new();
                for (i, (name, value)) in fields.iter().enumerate() {
                    if let Some((first, _)) = fields[..i].iter().find(|(n, _)| n.name == name.name) {
                        self.error(
                            Diagnostic::error(format!("a record has two fields named `{}`", name.name))
                                .at(name.span, "second field")
                                .also(first.span, "first field"),
                        );
                        return Type::Error;
                    }
                    match self.expr(value, scope) {
                        Type::Error => return Type::Error,
                        t if self.tuples.arg_kind(t).is_some() => typed.push((name.name.as_str(), t)),
                        t => {
                            self.error(
                                Diagnostic::error(format!("a record cannot hold {}", t.describe()))
                                    .at(value.span, format!("this is {}", t.describe())),
                            );
                            return Type::Error;
                        }
                    }
                }
                let names: Vec<&str> = typed.iter().map(|(n, _)| *n).collect();
                let order = self.tuples.record_order(&names);
                let elems = order.iter().filter_map(|n| typed.iter().find(|(m, _)| m == n).map(|(_, t)| *t)).collect();
                let ty = self.tuples.intern_named(elems, Some(order));
                self.set(scope, e, ty, Res::Plain)
            }
            ExprKind::Index { base, index } => {
                let bt = self.expr(base, scope);
                let it = self.expr(index, scope);
                if bt == Type::Error || it == Type::Error {
                    return Type::Error;
                }
                if !it.is_int() {
                    self.error(Diagnostic::error("an index must be an integer").at(index.span, format!("this is {}", it.describe())));
                    return Type::Error;
                }
                if let Type::IntArray(a) = bt {
                    if let Some(i) = literal_int(index).filter(|&i| i < 0 || i >= i64::from(a.len)) {
                        self.error(
                            Diagnostic::error(format!("index {i} is out of range for `{}`", array_name(a)))
                                .at(index.span, format!("the array has {} elements: 0 to {}", a.len, a.len - 1)),
                        );
                        return Type::Error;
                    }
                    return self.set(scope, e, Type::Int { signed: a.signed }, Res::Plain);
                }
                self.element(e, bt, base.span, scope)
            }
            ExprKind::Deref(inner) => {
                let t = self.expr(inner, scope);
                match t {
                    Type::Error => Type::Error,
                    Type::Ptr { to: Some(_), .. } => self.element(e, t, inner.span, scope),
                    // An untyped pointer or an integer reads 8 bytes, as in bpftrace.
                    t if t.is_int() => {
                        let user = scope.user_address(t);
                        let read = Read::Int { size: 8, signed: false, bitfield: None };
                        self.set(scope, e, Type::Int { signed: false }, Res::Memory(Access { offset: 0, scale: 0, read, user }))
                    }
                    other => {
                        self.error(Diagnostic::error(format!("cannot dereference {}", other.describe())).at(inner.span, "not a pointer"));
                        Type::Error
                    }
                }
            }
            ExprKind::TupleIndex { base, index } => {
                let id = match self.expr(base, scope) {
                    Type::Error => return Type::Error,
                    Type::Tuple(id) => id,
                    t => {
                        self.error(
                            Diagnostic::error(format!("`.{index}` needs a tuple, but this is {}", t.describe()))
                                .at(base.span, format!("this is {}", t.describe())),
                        );
                        return Type::Error;
                    }
                };
                let elems = &self.tuples.types[id as usize];
                let Some(&ty) = usize::try_from(*index).ok().and_then(|i| elems.get(i)) else {
                    let n = elems.len();
                    self.error(
                        Diagnostic::error(format!("tuple index {index} is out of range"))
                            .at(e.span, format!("this tuple has {n} elements: `.0` to `.{}`", n.saturating_sub(1))),
                    );
                    return Type::Error;
                };
                self.set(scope, e, ty, Res::Plain)
            }
            ExprKind::AddrOf(_) => {
                self.unsupported(e.span, "`&` addresses");
                Type::Error
            }
            ExprKind::Offsetof { ty, fields } => self.offsetof(e, ty, fields, scope),
            ExprKind::Block { stmts, value } => {
                self.stmts(stmts, scope);
                let t = self.expr(value, scope);
                self.set(scope, e, t, Res::Plain)
            }
            ExprKind::Ternary { cond, then, els } => {
                let c = self.expr(cond, scope);
                let (t, f) = (self.expr(then, scope), self.expr(els, scope));
                if c == Type::Error || t == Type::Error || f == Type::Error {
                    return Type::Error;
                }
                if !c.is_int() {
                    self.error(
                        Diagnostic::error("a condition must be an integer")
                            .at(cond.span, format!("this is {}", c.describe())),
                    );
                    return Type::Error;
                }
                let both_tuples = matches!((t, f), (Type::Tuple(_), Type::Tuple(_)));
                let tuple = if both_tuples { self.tuples.unify(t, f) } else { None };
                let ty = match (t, f) {
                    (Type::Tuple(_), Type::Tuple(_)) if tuple.is_some() => tuple.unwrap_or(t),
                    (Type::Str { len: a }, Type::Str { len: b }) => Type::Str { len: a.max(b) },
                    (a, b) if a.is_int() && b.is_int() => Type::Int { signed: a.signed() && b.signed() },
                    (a, b) => {
                        self.error(
                            Diagnostic::error(format!(
                                "the branches of `?:` have different types: {} and {}",
                                self.tuples.name(a),
                                self.tuples.name(b)
                            ))
                            .at(els.span, format!("this is {}", self.tuples.name(b)))
                            .also(then.span, format!("this is {}", self.tuples.name(a))),
                        );
                        return Type::Error;
                    }
                };
                self.set(scope, e, ty, Res::Plain)
            }
        }
    }

    /// Warns, as bpftrace does, when a comparison or arithmetic mixes a signed and an
    /// unsigned integer, neither of them a constant: the result may not be what it reads as
    /// (`-1 < (uint64)1` is false).
    /// `known` says which side sema resolved to a constant (a kernel constant, `$1`).
    pub(super) fn sign_mismatch(&mut self, op: BinOp, (l, lt): (&Expr, Type), (r, rt): (&Expr, Type), known: (bool, bool), span: Span) {
        let what = match op {
            _ if op.is_comparison() => "comparison of",
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => "arithmetic on",
            _ => return,
        };
        let constant = |x: &Expr| match &x.kind {
            ExprKind::Int(_) | ExprKind::Bool(_) | ExprKind::SizeofType(_) | ExprKind::Offsetof { .. } => true,
            ExprKind::Unary { operand, .. } => matches!(operand.kind, ExprKind::Int(_)),
            _ => false,
        };
        let (Type::Int { signed: ls }, Type::Int { signed: rs }) = (lt, rt) else { return };
        if ls == rs || constant(l) || constant(r) || known.0 || known.1 {
            return;
        }
        self.error(
            Diagnostic::warning(format!("{what} integers of different signs: {} and {}", lt.describe(), rt.describe()))
                .at(span, "may not be what it reads as")
                .help("cast one side, e.g. `(int64)x`, to say which is meant"),
        );
    }

    pub(super) fn ident(&mut self, e: &Expr, name: &str, scope: &mut Scope) -> Type {
        if let Some(v) = builtins::constant(name) {
            return self.set(scope, e, Type::Int { signed: false }, Res::Const(v));
        }
        if builtins::builtin(name).is_none() && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
            if let Some(v) = self.kernel_types().ok().and_then(|k| k.enum_value(name)) {
                return self.set(scope, e, Type::Int { signed: true }, Res::Const(v as u64));
            }
        }
        let Some(b) = builtins::builtin(name) else {
            let mut d = Diagnostic::error(format!("unknown identifier `{name}`")).at(e.span, "not a builtin");
            let names = builtins::BUILTINS.iter().map(|b| b.name);
            if let Some(s) = did_you_mean(name, names) {
                d = d.help(format!("did you mean `{s}`?"));
            } else if builtins::function(name).is_some() {
                d = d.help(format!("`{name}` is a function: call it as `{name}(…)`"));
            }
            self.error(d);
            return Type::Error;
        };
        // A loop's callback has no probe context: what reads it is out of reach there.
        let reads_context = match b {
            Builtin::Args | Builtin::Arg(_) | Builtin::Retval | Builtin::Kstack | Builtin::Ustack => true,
            Builtin::FuncName => !matches!(scope.inst.attach, Attach::Uprobe { .. }),
            Builtin::Probe => !scope.inst.also.is_empty(),
            _ => false,
        };
        if reads_context && self.refused_in_map_loop(name, e.span, scope) {
            return Type::Error;
        }
        let ty = match b {
            Builtin::Comm => Type::Str { len: COMM_LEN },
            Builtin::Args => {
                if scope.inst.format.is_none() && scope.inst.params.is_none() {
                    let kind = match scope.inst.attach {
                        Attach::Begin => "BEGIN",
                        Attach::End => "END",
                        Attach::Kprobe { ret: false, .. } => "kprobe",
                        Attach::Kprobe { ret: true, .. } => "kretprobe",
                        Attach::RawTracepoint { .. } => "rawtracepoint",
                        Attach::Uprobe { ret: false, .. } => "uprobe",
                        Attach::Uprobe { ret: true, .. } => "uretprobe",
                        Attach::Usdt { .. } => "usdt",
                        Attach::Watchpoint { .. } => "watchpoint",
                        _ => "interval",
                    };
                    self.error(
                        Diagnostic::error(format!("`args` is not available in {kind} probes"))
                            .at(e.span, "no arguments here")
                            .help("`args` holds the fields of a tracepoint's record"),
                    );
                    return Type::Error;
                }
                Type::Args
            }
            Builtin::Probe => {
                // An id into the plan's probe names: a constant, or the attach cookie when one
                // program serves several attach points.
                if scope.inst.also.is_empty() {
                    return self.set(scope, e, Type::ProbeName, Res::Const(scope.inst.name_ids[0]));
                }
                Type::ProbeName
            }
            Builtin::Kstack | Builtin::Ustack => {
                let spec = plan::StackSpec { user: b == Builtin::Ustack, perf: false, depth: plan::STACK_DEPTH };
                self.record_stack(e, spec)
            }
            Builtin::Cpid => {
                if !self.opts.has_command {
                    self.error(
                        Diagnostic::error("`cpid` needs a command started with `-c`")
                            .at(e.span, "no command")
                            .help("run `rtrace -c 'CMD' …`"),
                    );
                    return Type::Error;
                }
                Type::Int { signed: false }
            }
            Builtin::Curtask => {
                let k = self.kernel_types().ok();
                let to = k.as_ref().and_then(|k| Some(Pointee::btf(k, k.find_tagged("struct", "task_struct")?)));
                Type::Ptr { user: false, to }
            }
            Builtin::Pid
            | Builtin::Tid
            | Builtin::Uid
            | Builtin::Gid
            | Builtin::Nsecs
            | Builtin::Cpu
            | Builtin::Cgroup
            | Builtin::Jiffies
            | Builtin::Rand
            | Builtin::NumaId => Type::Int { signed: false },
            Builtin::Ncpus => {
                let n = libbpf_rs::num_possible_cpus().unwrap_or(1) as u64;
                return self.set(scope, e, Type::Int { signed: false }, Res::Const(n));
            }
            Builtin::Ppid => {
                let Some(res) = self.ppid(e.span) else { return Type::Error };
                return self.set(scope, e, Type::Int { signed: false }, res);
            }
            Builtin::Elapsed => {
                self.need(e, Need::Elapsed);
                Type::Int { signed: false }
            }
            Builtin::Arg(n) if matches!(scope.inst.attach, Attach::RawTracepoint { .. }) => {
                return self.raw_tracepoint_arg(e, n, scope);
            }
            Builtin::Arg(n) if matches!(scope.inst.attach, Attach::Usdt { .. }) => return self.usdt_arg(e, n, scope),
            Builtin::Arg(n) if n >= 6 && matches!(scope.inst.attach, Attach::Kprobe { .. } | Attach::Uprobe { .. }) => {
                self.error(
                    Diagnostic::error(format!("`{name}` is past the arguments rtrace reads from registers"))
                        .at(e.span, "not available here")
                        .help("kprobes and uprobes have `arg0` … `arg5`"),
                );
                return Type::Error;
            }
            Builtin::Arg(_) | Builtin::Retval | Builtin::FuncName => {
                let kprobe = match &scope.inst.attach {
                    Attach::Kprobe { ret, .. } | Attach::Uprobe { ret, .. } => Some(*ret),
                    _ => None,
                };
                let fexit = matches!(scope.inst.attach, Attach::Fentry { ret: true, .. });
                let fentry = matches!(scope.inst.attach, Attach::Fentry { .. });
                let (ok, needs) = match b {
                    Builtin::Arg(_) => (kprobe == Some(false), "kprobe, uprobe, rawtracepoint and usdt"),
                    Builtin::Retval => (kprobe == Some(true) || fexit, "kretprobe, uretprobe and fexit"),
                    _ => (kprobe.is_some() || fentry, "kprobe, uprobe and fentry"),
                };
                if let (Builtin::Retval, true) = (b, fexit) {
                    // fexit's return value is the slot after the arguments.
                    let (params, ret) = scope.inst.params.clone().unwrap_or_default();
                    return self.fentry_slot(e, params.len(), ret, scope);
                }
                if !ok {
                    let mut d = Diagnostic::error(format!("`{name}` is only available in {needs} probes"))
                        .at(e.span, format!("not available in `{}`", scope.inst.display));
                    if let (Builtin::Arg(_), Some(format)) = (b, &scope.inst.format) {
                        let names: Vec<&str> = format.fields.iter().map(|f| f.name.as_str()).collect();
                        d = d.help(format!(
                            "tracepoints name their arguments: use `args.NAME` (this one has {})",
                            names.join(", ")
                        ));
                    }
                    self.error(d);
                    return Type::Error;
                }
                match (b, &scope.inst.attach) {
                    (Builtin::Retval, _) => Type::Int { signed: true },
                    // A uprobe's program serves one function: its name is a constant.
                    (Builtin::FuncName, Attach::Uprobe { func, .. }) => {
                        return self.set(scope, e, Type::Str { len: func.len() as u32 + 1 }, Res::ConstStr(func.clone()));
                    }
                    (Builtin::FuncName, _) => Type::Ksym,
                    _ => Type::Int { signed: false },
                }
            }
        };
        self.set(scope, e, ty, Res::Builtin(b))
    }
}

fn unop_symbol(op: UnOp) -> &'static str {
    match op {
        UnOp::Not => "!",
        UnOp::Neg => "-",
        UnOp::BitNot => "~",
    }
}
