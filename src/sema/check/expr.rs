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
            ExprKind::Var(name) => self.var(e, name, scope),
            ExprKind::Map(map) => self.map_read(e, map, scope),
            ExprKind::Call { name, args } => self.call(e, name, args, scope),
            ExprKind::Field { base, field, arrow } => self.field(e, base, field, *arrow, scope),
            ExprKind::Unary { op, operand } => self.unary(e, op, operand, scope),
            ExprKind::Binary { op, lhs, rhs } => self.binary(e, op, lhs, rhs, scope),
            ExprKind::Bool(_) => self.set(scope, e, Type::Bool, Res::Plain),
            ExprKind::IncDec { target, increment, .. } => {
                let op = if *increment { "++" } else { "--" };
                let t = self.update_target(target, op, e.span, scope);
                if t == Type::Error {
                    return t;
                }
                let t = if *increment { t } else { self.decremented(target, t, scope) };
                self.set(scope, e, t, Res::Plain)
            }
            ExprKind::Cast { ty, expr } => self.cast(e, ty, expr, scope),
            ExprKind::SizeofType(TypeExpr { kind: TypeExprKind::Typeof(inner), .. }) => self.sizeof_typeof(e, inner, scope),
            ExprKind::SizeofType(ty) => match self.settle_type(ty, scope).and_then(|ty| self.type_size(&ty)) {
                Some(size) => {
                    self.note_core_size(e, ty, scope);
                    self.set(scope, e, Type::Int { signed: false }, Res::Const(size))
                }
                None => Type::Error,
            },
            ExprKind::SizeofExpr(inner) => self.sizeof_typeof(e, inner, scope),
            ExprKind::Tuple(items) => self.tuple(e, items, scope),
            ExprKind::Record(fields) => self.record(e, fields, scope),
            ExprKind::Index { base, index } => self.index(e, base, index, scope),
            ExprKind::Deref(inner) => self.deref(e, inner, scope),
            ExprKind::TupleIndex { base, index } => self.tuple_index(e, base, index, scope),
            ExprKind::AddrOf(inner) => self.address_of(e, inner, scope),
            ExprKind::TypeArg(_) => {
                self.error(ExprError::TypeArgument { span: e.span });
                Type::Error
            }
            ExprKind::Offsetof { ty, fields } => self.offsetof(e, ty, fields, scope),
            ExprKind::Block { stmts, value } => {
                scope.enter();
                self.stmts(stmts, scope);
                let t = self.expr(value, scope);
                scope.leave();
                self.set(scope, e, t, Res::Plain)
            }
            ExprKind::Ternary { cond, then, els } => self.ternary(e, cond, then, els, scope),
        }
    }

    /// `$name`: a positional parameter (`$1`, `$#`), a `for` loop's variable, or a variable.
    fn var(&mut self, e: &Expr, name: &str, scope: &mut Scope) -> Type {
        if is_positional(name) {
            return self.positional(e, name, scope);
        }
        if scope.loop_vars.iter().any(|(n, _)| n == name) {
            let (_, own) = scope.loop_vars.iter().rev().find(|(n, _)| n == name).cloned().unwrap_or_default();
            let t = scope.vars.get(&own).map_or(Type::Error, |&(t, _)| t);
            return self.set(scope, e, t, Res::LoopVar(own));
        }
        match scope.vars.get(name) {
            Some(&(_, first)) if !scope.visible(name) => {
                let loop_var = scope.range_vars.contains(&first);
                self.error(StmtError::VarOutOfScope { var: name.to_string(), first, loop_var, span: e.span });
                Type::Error
            }
            Some(&(t, _)) => {
                scope.use_var(name);
                if let Some(&Some(id)) = scope.var_enums.get(name) {
                    scope.enums.insert(e.id, id);
                }
                self.set(scope, e, t, Res::Plain)
            }
            None => {
                // A loop's variable, after its loop: it was stored under the loop's own name.
                let loop_var = scope.vars.iter().find(|(n, _)| n.strip_prefix(name).is_some_and(|r| r.starts_with('@')));
                if let Some((_, &(_, span))) = loop_var {
                    self.error(StmtError::VarOutsideLoop { var: name.to_string(), loop_var: span, span: e.span });
                    return Type::Error;
                }
                let names = scope.vars.keys().map(String::as_str).filter(|n| !n.contains('@'));
                let suggestion = did_you_mean(name, names).map(str::to_string);
                self.error(StmtError::VarBeforeAssigned { var: name.to_string(), suggestion, span: e.span });
                Type::Error
            }
        }
    }

    /// `$1` … `$N`, `$#`.
    fn positional(&mut self, e: &Expr, name: &str, scope: &mut Scope) -> Type {
        if self.opts.portable {
            return self.runtime_positional(e, name, scope);
        }
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

    /// `$1` … `$N`, `$#` of a built tool: integers given when it starts, read from the
    /// globals map.
    fn runtime_positional(&mut self, e: &Expr, name: &str, scope: &mut Scope) -> Type {
        let slot = match &name[1..] {
            "#" => Some(crate::plan::GLOBAL_ARGC),
            n => n.parse::<u32>().ok().filter(|n| (1..=crate::plan::MAX_RUNTIME_PARAMS).contains(n)).map(|n| crate::plan::GLOBAL_ARGC + n),
        };
        match slot {
            Some(slot) => self.set(scope, e, Type::Int { signed: true }, Res::Global(slot)),
            None => {
                self.error(ExprError::TooManyToolParams { name: name.to_string(), max: crate::plan::MAX_RUNTIME_PARAMS, span: e.span });
                Type::Error
            }
        }
    }

    /// `str($N)` of a built tool (`param` is `$N`): its text, given when it starts, read from
    /// the string globals map; `$N` alone stays the integer.
    pub(super) fn runtime_str_param(&mut self, e: &Expr, param: &Expr, name: &str, scope: &mut Scope) -> Type {
        if self.runtime_positional(param, name, scope) == Type::Error {
            return Type::Error;
        }
        let slot = crate::plan::GLOBAL_ARGC + name[1..].parse::<u32>().unwrap_or(0);
        let len = self.opts.config.max_strlen as u32;
        self.set(scope, e, Type::Str { len }, Res::GlobalStr(slot))
    }

    /// `getopt("name", …)` of a built tool: an integer (a boolean: 1 or 0) given when it
    /// starts, read from the globals map; a string one from the string globals map.
    pub(super) fn runtime_getopt(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let name = match args.first().map(|a| &a.kind) {
            Some(ExprKind::Str(s)) => s.as_str(),
            _ => "",
        };
        let Some(index) = self.opts.named.iter().position(|o| o.name == name) else {
            return Type::Error;
        };
        let slot = crate::plan::GLOBAL_NAMED + index as u32;
        match self.opts.named[index].kind {
            "string" => self.set(scope, e, Type::Str { len: self.opts.config.max_strlen as u32 }, Res::GlobalStr(slot)),
            "bool" => self.set(scope, e, Type::Bool, Res::Global(slot)),
            kind => self.set(scope, e, Type::Int { signed: kind == "int" }, Res::Global(slot)),
        }
    }

    /// `!x`, `-x`, `~x`.
    pub(super) fn unary(&mut self, e: &Expr, op: &UnOp, operand: &Expr, scope: &mut Scope) -> Type {
        let t = self.expr(operand, scope);
        if t == Type::Error {
            return Type::Error;
        }
        if !t.is_int() {
            self.error(ExprError::UnaryOperand { op: unop_symbol(*op), found: t.describe(), span: operand.span });
            return Type::Error;
        }
        let ty = match op {
            UnOp::Not => Type::Bool,
            UnOp::Neg => Type::Int { signed: true },
            UnOp::BitNot => Type::Int { signed: t.signed() },
        };
        self.set(scope, e, ty, Res::Plain)
    }

    /// The type of `target--` (or `target -= n`), `t` before: with 0.26's typing a signed
    /// integer ("Subtraction and decrement ops now produce an int64"), and a variable that
    /// held an unsigned one holds a signed one from now on (not one declared with a type).
    pub(super) fn decremented(&mut self, target: &Expr, t: Type, scope: &mut Scope) -> Type {
        if !scope.typing_026 || !t.is_int() {
            return t;
        }
        if let ExprKind::Var(name) = &target.kind {
            if scope.declared.contains_key(name) {
                return t;
            }
            if let Some((var_t, _)) = scope.vars.get_mut(name) {
                *var_t = Type::Int { signed: true };
            }
        }
        Type::Int { signed: true }
    }

    /// `a OP b`: arithmetic, comparisons, logic; strings and integer arrays compare with `==` and `!=`.
    pub(super) fn binary(&mut self, e: &Expr, op: &BinOp, lhs: &Expr, rhs: &Expr, scope: &mut Scope) -> Type {
        let (l, r) = (self.expr(lhs, scope), self.expr(rhs, scope));
        if l == Type::Error || r == Type::Error {
            return Type::Error;
        }
        let ty = match (l, r) {
            (Type::Str { .. }, Type::Str { .. }) if matches!(op, BinOp::Eq | BinOp::Ne) => Type::Bool,
            // Tuples of the same shape compare element by element (0.26 docs: `==` and `!=`
            // compare "strings, integer arrays, and tuples").
            (Type::Tuple(_), Type::Tuple(_)) if matches!(op, BinOp::Eq | BinOp::Ne) && self.tuples.unify(l, r).is_some() => {
                Type::Bool
            }
            // An integer array value and a kernel array of the same element type and length
            // (`args.saddr_v6 == pton("::1")`), or two kernel arrays (as 0.26's type checker
            // takes two arrays of the same integers), compare by their bytes.
            (Type::IntArray(_) | Type::Array { .. }, Type::IntArray(_) | Type::Array { .. }) if matches!(op, BinOp::Eq | BinOp::Ne) => {
                let (a, b) = (self.as_int_array(l), self.as_int_array(r));
                if a.is_some() && a == b {
                    // (two kernel arrays: each read whole, as a value)
                    if matches!((l, r), (Type::Array { .. }, Type::Array { .. })) {
                        self.value_type(lhs, l, scope);
                        self.value_type(rhs, r, scope);
                    }
                    Type::Bool
                } else {
                    let (left, right) = (self.array_text(l), self.array_text(r));
                    self.error(ExprError::ArrayCompare { left, right, left_span: lhs.span, span: rhs.span });
                    return Type::Error;
                }
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
                    Type::Bool
                } else if scope.typing_026 && !matches!(op, BinOp::Shl | BinOp::Shr) {
                    // 0.26: a flexible side takes the other's sign; the result is signed when
                    // a side is, and "Subtraction … always yields a signed integer type".
                    let (lf, rf) = (sign_flexible(lhs, scope), sign_flexible(rhs, scope));
                    let ls = if lf && !rf { b.signed() } else { a.signed() };
                    let rs = if rf && !lf { a.signed() } else { b.signed() };
                    Type::Int { signed: *op == BinOp::Sub || ls || rs }
                } else {
                    Type::Int { signed: a.signed() && b.signed() }
                }
            }
            (a, b) => {
                let (bad, span) = if a.is_int() { (b, rhs.span) } else { (a, lhs.span) };
                let (left, right) = (a.describe(), b.describe());
                self.error(ExprError::BinaryOperands { op: op.symbol(), left, right, bad: bad.describe(), span });
                return Type::Error;
            }
        };
        self.set(scope, e, ty, Res::Plain)
    }

    /// `cond ? then : els`.
    pub(super) fn ternary(&mut self, e: &Expr, cond: &Expr, then: &Expr, els: &Expr, scope: &mut Scope) -> Type {
        let c = self.expr(cond, scope);
        let (t, f) = (self.expr(then, scope), self.expr(els, scope));
        if c == Type::Error || t == Type::Error || f == Type::Error {
            return Type::Error;
        }
        if !c.is_int() {
            self.error(ExprError::NotInteger { wanted: IntWanted::Ternary, found: c.describe(), span: cond.span });
            return Type::Error;
        }
        let both_tuples = matches!((t, f), (Type::Tuple(_), Type::Tuple(_)));
        let tuple = if both_tuples { self.tuples.unify(t, f) } else { None };
        let ty = match (t, f) {
            (Type::Tuple(_), Type::Tuple(_)) if tuple.is_some() => tuple.unwrap_or(t),
            (Type::Str { len: a }, Type::Str { len: b }) => Type::Str { len: a.max(b) },
            (Type::Bool, Type::Bool) => Type::Bool,
            (Type::IntArray(a), Type::IntArray(b)) if a == b => t,
            (a, b) if a.is_int() && b.is_int() => Type::Int { signed: a.signed() && b.signed() },
            (a, b) => {
                let (then_type, els_type) = (self.tuples.name(a), self.tuples.name(b));
                self.error(ExprError::TernaryBranches { then: then_type, els: els_type, then_span: then.span, span: els.span });
                return Type::Error;
            }
        };
        self.set(scope, e, ty, Res::Plain)
    }


    /// Warns, as bpftrace does, when a comparison or arithmetic mixes a signed and an
    /// unsigned integer, neither of them a constant: the result may not be what it reads as
    /// (`-1 < (uint64)1` is false).
    /// `known` says which side sema resolved to a constant (a kernel constant, `$1`).
    pub(super) fn sign_mismatch(&mut self, op: BinOp, (l, lt): (&Expr, Type), (r, rt): (&Expr, Type), known: (bool, bool), span: Span) {
        let comparison = match op {
            _ if op.is_comparison() => true,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => false,
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
        self.error(ExprError::SignMismatch { comparison, left: lt.describe(), right: rt.describe(), span });
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
            let suggestion = did_you_mean(name, builtins::BUILTINS.iter().map(|b| b.name)).map(str::to_string);
            let is_function = builtins::function(name).is_some();
            self.error(ArgError::UnknownIdent { name: name.to_string(), suggestion, is_function, span: e.span });
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
            Builtin::Args if matches!(scope.inst.attach, Attach::Uprobe { ret: false, .. }) => {
                match self.uprobe_params(scope.inst, e.span) {
                    Some(_) => Type::Args,
                    None => return Type::Error,
                }
            }
            Builtin::Args if scope.inst.format.is_none() && scope.inst.params.is_none() => {
                self.error(ArgError::ArgsUnavailable { kind: args::probe_kind(&scope.inst.attach), span: e.span });
                return Type::Error;
            }
            Builtin::Args => Type::Args,
            Builtin::Probe => {
                // An id into the plan's probe names: a constant, or the attach cookie when one
                // program serves several attach points.
                if scope.inst.also.is_empty() {
                    return self.set(scope, e, Type::ProbeName, Res::Const(scope.inst.name_ids[0]));
                }
                Type::ProbeName
            }
            Builtin::Kstack | Builtin::Ustack => {
                let Some(spec) = self.default_stack(b == Builtin::Ustack, e.span) else { return Type::Error };
                self.record_stack(e, spec)
            }
            Builtin::Cpid => {
                if !self.opts.has_command {
                    self.error(ArgError::CpidWithoutCommand { span: e.span });
                    return Type::Error;
                }
                Type::Int { signed: false }
            }
            Builtin::Ctx => return self.iter_ctx(e, scope),
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
            Builtin::Config => {
                self.error(StdlibError::ConfigWhole { span: e.span });
                return Type::Error;
            }
            Builtin::Ncpus => {
                self.lookups.push((e.id, Lookup::Ncpus));
                return self.set(scope, e, Type::Int { signed: false }, Res::Const(0));
            }
            Builtin::Ppid | Builtin::Pcomm | Builtin::LeaderTid | Builtin::LeaderComm => {
                return self.task_read(e, b, name, None, scope)
            }
            Builtin::Usermode => return self.usermode(e, scope),
            Builtin::Probetype => return self.probetype(e, scope),
            Builtin::Username => {
                let ty = Type::Named(crate::kernel::names::NameTable::User);
                return self.set(scope, e, ty, Res::Builtin(Builtin::Uid));
            }
            Builtin::HasCpid => return self.set(scope, e, Type::Bool, Res::Const(self.opts.has_command as u64)),
            Builtin::Elapsed => {
                self.need(e, Need::Elapsed);
                Type::Int { signed: false }
            }
            Builtin::Arg(_) | Builtin::Retval | Builtin::FuncName => return self.probe_arg(e, b, name, scope),
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
