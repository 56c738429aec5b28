//! Statements: assignments to variables, `if`, loops (`while`, `for` over a range or a map,
//! `unroll`), `let` declarations, and `++`/`op=` targets.

use super::*;

impl Checker<'_> {
    pub(super) fn stmts(&mut self, stmts: &[Stmt], scope: &mut Scope) {
        for s in stmts {
            self.stmt(s, scope);
        }
    }

    pub(super) fn stmt(&mut self, s: &Stmt, scope: &mut Scope) {
        match &s.kind {
            StmtKind::Expr(e) => {
                if let ExprKind::Call { name, .. } = &e.kind {
                    if builtins::function(&name.name).is_some_and(|f| f.aggregation) {
                        self.error(
                            Diagnostic::error(format!("`{}()` must be assigned to a map", name.name))
                                .at(e.span, "its value is not stored anywhere")
                                .help(format!("write `@name = {}(…);`", name.name)),
                        );
                        return;
                    }
                }
                self.expr(e, scope);
            }
            StmtKind::AssignVar { var, value } => {
                let t = self.expr(value, scope);
                if let Some(&declared) = scope.declared.get(&var.name) {
                    self.check_literal_fits(var, declared, value);
                }
                self.assign_var(var, t, value.span, scope);
                let en = scope.enums.get(&value.id).copied();
                let known = scope.var_enums.entry(var.name.clone()).or_insert(en);
                if *known != en {
                    *known = None;
                }
                if t.is_int() && !scope.var_bits.contains_key(&var.name) {
                    let bits = int_bits(value, scope);
                    scope.var_bits.insert(var.name.clone(), bits);
                }
            }
            StmtKind::AssignMap { map, value } => self.assign_map(map, value, s.span, scope),
            StmtKind::If { cond, then, els } => {
                let t = self.expr(cond, scope);
                if !t.is_int() && t != Type::Error {
                    self.error(
                        Diagnostic::error("an `if` condition must be an integer")
                            .at(cond.span, format!("this is {}", t.describe())),
                    );
                }
                self.stmts(then, scope);
                if let Some(els) = els {
                    self.stmts(els, scope);
                }
            }
            StmtKind::CompoundAssign { target, op, value } => {
                let t = self.expr(value, scope);
                if t != Type::Error && !t.is_int() {
                    self.error(
                        Diagnostic::error(format!("`{}=` needs an integer", op.symbol()))
                            .at(value.span, format!("this is {}", t.describe())),
                    );
                    return;
                }
                self.update_target(target, &format!("{}=", op.symbol()), s.span, scope);
            }
            StmtKind::While { cond, body } => {
                self.condition(cond, "a `while` condition", scope);
                scope.loops += 1;
                self.stmts(body, scope);
                scope.loops -= 1;
            }
            StmtKind::Unroll { count, body } => {
                match literal_int(count) {
                    Some(n) if (1..=100).contains(&n) => {}
                    _ => self.error(
                        Diagnostic::error("`unroll` takes an integer literal from 1 to 100")
                            .at(count.span, "not a count from 1 to 100"),
                    ),
                }
                self.stmts(body, scope);
            }
            StmtKind::ForRange { var, start, end, body } => {
                for bound in [start, end] {
                    let t = self.expr(bound, scope);
                    if t != Type::Error && !t.is_int() {
                        self.error(
                            Diagnostic::error("a `for` range needs integer bounds")
                                .at(bound.span, format!("this is {}", t.describe())),
                        );
                    }
                }
                self.assign_var(var, Type::Int { signed: true }, var.span, scope);
                scope.loops += 1;
                self.stmts(body, scope);
                scope.loops -= 1;
            }
            StmtKind::ForMap { var, map, body } => self.for_map(s, var, map, body, scope),
            StmtKind::Break | StmtKind::Continue => {
                if scope.loops == 0 {
                    let word = if matches!(s.kind, StmtKind::Break) { "break" } else { "continue" };
                    self.error(Diagnostic::error(format!("`{word}` outside a loop")).at(s.span, "not inside `while` or `for`"));
                }
            }
            StmtKind::Return => {
                if !scope.loop_vars.is_empty() {
                    self.error(
                        Diagnostic::error("`return` cannot be used inside a `for` loop over a map")
                            .at(s.span, "inside a `for` loop over a map")
                            .help("use `break` to leave the loop"),
                    );
                }
            }
            StmtKind::Let { var, ty: Some(ty), value } => {
                // The declared type first, then the value as an assignment: an integer is cut to
                // the declared width, anything else must be of the declared type.
                let declared = match &ty.kind {
                    TypeExprKind::Array(elem, Some(len)) => match &elem.kind {
                        TypeExprKind::Named(name) => named_int_type(name)
                            .filter(|&(bits, _)| *len > 0 && u64::from(bits / 8) * len <= 8)
                            .map(|(bits, signed)| Type::IntArray(plan::IntArray { elem_bytes: (bits / 8) as u8, signed, len: *len as u8 })),
                        _ => None,
                    },
                    _ => None,
                };
                let declared = match declared {
                    Some(t) => t,
                    None => match self.int_type(ty) {
                        Some((bits, signed)) => {
                            scope.declared.insert(var.name.clone(), (bits, signed));
                            scope.var_bits.insert(var.name.clone(), bits);
                            Type::Int { signed }
                        }
                        None => return,
                    },
                };
                self.assign_var(var, declared, var.span, scope);
                scope.declared_as.insert(var.name.clone(), array_type_text(ty));
                if let Some(v) = value {
                    let assign = Stmt { kind: StmtKind::AssignVar { var: var.clone(), value: v.clone() }, span: s.span };
                    self.stmt(&assign, scope);
                }
            }
            StmtKind::Let { var, ty: None, value } => {
                let t = match value {
                    Some(v) => self.expr(v, scope),
                    None => Type::Int { signed: true },
                };
                self.assign_var(var, t, value.as_ref().map_or(var.span, |v| v.span), scope);
            }
            StmtKind::Block(body) => self.stmts(body, scope),
        }
    }

    /// `for ($kv : @map) { … }`: `$kv` is `(key, value)`, a key of several parts a tuple.
    pub(super) fn for_map(&mut self, s: &Stmt, var: &Name, map: &MapRef, body: &[Stmt], scope: &mut Scope) {
        if scope.loop_vars.iter().any(|(n, _)| *n == var.name) {
            self.error(
                Diagnostic::error(format!("the loop variable `{}` is already the variable of an enclosing loop", var.name))
                    .at(var.span, "already a loop's variable")
                    .help("give each loop's variable a name of its own"),
            );
            return;
        }
        if scope.vars.contains_key(&var.name) {
            self.error(
                Diagnostic::error(format!("the loop variable `{}` has the name of a variable assigned before", var.name))
                    .at(var.span, "already a variable")
                    .help("give the loop's variable a name of its own"),
            );
            return;
        }
        let Some((index, info)) = self.map_info(&map.name) else {
            if self.learning {
                return;
            }
            let d = Diagnostic::error(format!("map `{}` is never assigned", map.name)).at(map.span, "never assigned");
            self.error(d);
            return;
        };
        // count(), sum(), min() and max() values are combined over the CPUs in the loop, as in
        // bpftrace; the other aggregations have no one value to give.
        let value = match (value_type(info.value), info.value) {
            (Some(t), _) => t,
            (None, ValueKind::Count) => Type::Int { signed: false },
            (None, ValueKind::Sum { signed }) => Type::Int { signed },
            (None, ValueKind::Min | ValueKind::Max) => Type::Int { signed: true },
            (None, agg) => {
                self.error(
                    Diagnostic::error(format!("a `for` loop cannot go over `{}`, which holds {} values", map.name, agg.name()))
                        .at(map.span, format!("`{}` holds {}", map.name, value_desc(agg)))
                        .also(info.first_assign, "assigned here")
                        .note("a loop's value is one integer: count(), sum(), min() and max() maps have one, avg(), stats(), hist() and lhist() maps do not"),
                );
                return;
            }
        };
        if info.keys.fields.is_empty() {
            self.error(
                Diagnostic::error(format!("a `for` loop needs a map with keys, but `{}` has none", map.name))
                    .at(map.span, "a map without keys")
                    .also(info.first_keys, "assigned without keys here"),
            );
            return;
        }
        let parts: Vec<Type> = info.keys.fields.iter().map(|k| key_type(*k)).collect();
        let key = match &info.keys.names {
            Some(names) => self.tuples.intern_named(parts, Some(names.clone())),
            None if parts.len() == 1 => parts[0],
            None => self.tuples.intern(parts),
        };
        let kv = self.tuples.intern(vec![key, value]);
        let own = format!("{}@{}", var.name, s.span.start);
        scope.vars.insert(own.clone(), (kv, var.span));
        let layout = |t| self.tuples.arg_kind(t).unwrap_or(ArgKind::Int { signed: true });
        let (key, value) = (layout(key), layout(value));
        scope.map_loops.insert(s.span.start, MapLoop { map: index, var: own.clone(), key, value, captured: Vec::new() });
        scope.loop_vars.push((var.name.clone(), own));
        scope.loop_ids.push(s.span.start);
        scope.loops += 1;
        self.stmts(body, scope);
        scope.loops -= 1;
        scope.loop_ids.pop();
        scope.loop_vars.pop();
    }

    /// Gives a variable its type at its first assignment; later ones must agree.
    pub(super) fn assign_var(&mut self, var: &Name, t: Type, value_span: Span, scope: &mut Scope) {
        if t == Type::Error {
            return;
        }
        if scope.loop_vars.iter().any(|(n, _)| *n == var.name) {
            self.error(
                Diagnostic::error(format!("cannot assign to `{}`, the variable of a `for` loop", var.name))
                    .at(var.span, "the loop's variable")
                    .help("copy it to a variable of your own"),
            );
            return;
        }
        scope.use_var(&var.name);
        if !t.is_int()
            && !matches!(t, Type::Str { .. } | Type::Inet | Type::Timestamp(_) | Type::Stack(_) | Type::Tuple(_) | Type::IntArray(_))
        {
            self.error(
                Diagnostic::error(format!("cannot assign {} to a variable", t.describe())).at(value_span, "no value"),
            );
            return;
        }
        match scope.vars.get(&var.name) {
            Some(&(old, span)) if matches!(old, Type::Tuple(_)) || matches!(t, Type::Tuple(_)) => {
                match self.tuples.unify(old, t) {
                    Some(u) => {
                        scope.vars.insert(var.name.clone(), (u, span));
                    }
                    None => self.error(
                        Diagnostic::error(format!("type mismatch for `{}`", var.name))
                            .at(value_span, format!("this is {}", self.tuples.name(t)))
                            .also(span, format!("`{}` was first assigned {} here", var.name, self.tuples.name(old))),
                    ),
                }
            }
            Some(&(old, span))
                if std::mem::discriminant(&old) != std::mem::discriminant(&t)
                    || (matches!(old, Type::Stack(_) | Type::Timestamp(_) | Type::IntArray(_)) && old != t) =>
            {
                let first = match scope.declared_as.get(&var.name) {
                    Some(ty) => format!("`{}` was declared `{ty}` here", var.name),
                    None => format!("`{}` was first assigned {} here", var.name, type_text(old)),
                };
                let mut d = Diagnostic::error(format!("type mismatch for `{}`", var.name))
                    .at(value_span, format!("this is {}", type_text(t)))
                    .also(span, first);
                if matches!((old, t), (Type::Stack(_), Type::Stack(_)) | (Type::Timestamp(_), Type::Timestamp(_))) {
                    d = d.note("stacks of other depths or modes, and timestamps of other formats, are other types");
                }
                self.error(d);
            }
            Some(&(Type::Str { len: old }, span)) => {
                let len = old.max(match t {
                    Type::Str { len } => len,
                    _ => 0,
                });
                scope.vars.insert(var.name.clone(), (Type::Str { len }, span));
            }
            Some(_) => {}
            None => {
                scope.vars.insert(var.name.clone(), (t, var.span));
            }
        }
    }

    /// An integer literal assigned to a variable declared `(bits, signed)` must fit, as in
    /// bpftrace (other values are cut to the declared width).
    pub(super) fn check_literal_fits(&mut self, var: &Name, (bits, signed): (u32, bool), value: &Expr) {
        let n: i128 = match &value.kind {
            ExprKind::Int(n) => i128::from(*n),
            ExprKind::Unary { op: UnOp::Neg, operand } => match operand.kind {
                ExprKind::Int(n) => -i128::from(n),
                _ => return,
            },
            _ => return,
        };
        let (min, max) = if signed { (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1) } else { (0, (1i128 << bits) - 1) };
        if n < min || n > max {
            let name = format!("{}int{bits}", if signed { "" } else { "u" });
            self.error(
                Diagnostic::error(format!("type mismatch for `{}`: {n} does not fit in `{name}`", var.name))
                    .at(value.span, format!("`{name}` holds {min} to {max}"))
                    .help(format!("cast it to keep its low {bits} bits: `({name}){}`", n)),
            );
        }
    }

    /// Checks the target of `++`, `--` or `op=`: an integer variable or map entry.
    pub(super) fn update_target(&mut self, target: &Expr, op: &str, span: Span, scope: &mut Scope) -> Type {
        match &target.kind {
            ExprKind::Var(name) => {
                let t = self.expr(target, scope);
                if t != Type::Error && !t.is_int() {
                    self.error(
                        Diagnostic::error(format!("`{op}` needs an integer variable"))
                            .at(target.span, format!("`{name}` is {}", t.describe())),
                    );
                    return Type::Error;
                }
                t
            }
            ExprKind::Map(map) => {
                let Some(keys) = self.keys(map, scope) else { return Type::Error };
                self.record_map(map, ValueKind::Int { signed: true }, keys, target.span, span);
                match self.maps.get(&map.name) {
                    Some((index, info)) if matches!(info.value, ValueKind::Int { .. }) => {
                        let ty = Type::Int { signed: true };
                        self.set(scope, target, ty, Res::MapRead(index))
                    }
                    _ => Type::Error,
                }
            }
            _ => {
                self.error(
                    Diagnostic::error(format!("`{op}` needs a variable or a map entry"))
                        .at(target.span, "not a variable or map"),
                );
                Type::Error
            }
        }
    }
}
