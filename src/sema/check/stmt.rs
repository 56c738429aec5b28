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
                        self.error(StmtError::AggregationNotAssigned { func: name.name.clone(), statement: true, span: e.span });
                        return;
                    }
                }
                let t = self.expr(e, scope);
                if discards_a_value(e, t) && !s.is_discard() {
                    self.error(StmtError::DiscardedValue { span: e.span });
                }
            }
            StmtKind::AssignVar { var, value } => {
                let t = self.value_expr(value, scope);
                if let Some(&declared) = scope.declared.get(&var.name) {
                    self.check_literal_fits(var, declared, value);
                }
                let first = !scope.vars.contains_key(&var.name) || !scope.visible(&var.name);
                self.assign_var(var, t, value.span, scope);
                if scope.typing_026 {
                    self.flexible_sign(var, t, value, first, scope);
                }
                let en = scope.enums.get(&value.id).copied();
                let known = scope.var_enums.entry(var.name.clone()).or_insert(en);
                if *known != en {
                    *known = None;
                }
                if t.is_int() && !scope.var_bits.contains_key(&var.name) {
                    let bits = int_bits(value, scope);
                    scope.var_bits.insert(var.name.clone(), bits);
                } else if t.is_int() && scope.typing_026 && !scope.declared.contains_key(&var.name) {
                    // 0.26 widens the variable to hold each value assigned (`$a = 1; $a = $b`
                    // with `$b` an int16 makes `$a` an int16).
                    let bits = int_bits(value, scope);
                    scope.var_bits.entry(var.name.clone()).and_modify(|b| *b = (*b).max(bits));
                }
            }
            StmtKind::AssignMap { map, value } => self.assign_map(map, value, s.span, scope),
            StmtKind::If { cond, then, els } => {
                self.int_arg(cond, IntWanted::If, scope);
                let known = self.const_value(cond, scope);
                let then_dead = u32::from(known == Some(0));
                scope.dead += then_dead;
                self.block(then, scope);
                scope.dead -= then_dead;
                if let Some(els) = els {
                    let els_dead = u32::from(known.is_some_and(|v| v != 0));
                    scope.dead += els_dead;
                    self.block(els, scope);
                    scope.dead -= els_dead;
                }
            }
            StmtKind::CompoundAssign { target, op, value } => {
                let t = self.expr(value, scope);
                if t != Type::Error && !t.is_int() {
                    self.error(ExprError::NotInteger { wanted: IntWanted::Compound(op.symbol()), found: t.describe(), span: value.span });
                    return;
                }
                let t = self.update_target(target, &format!("{}=", op.symbol()), s.span, scope);
                if *op == BinOp::Sub {
                    self.decremented(target, t, scope);
                }
            }
            StmtKind::While { cond, body } => {
                self.int_arg(cond, IntWanted::While, scope);
                scope.loops += 1;
                self.block(body, scope);
                scope.loops -= 1;
            }
            StmtKind::Unroll { count, body } => {
                match literal_int(count) {
                    Some(n) if (1..=100).contains(&n) => {}
                    _ => self.error(StmtError::UnrollCount { span: count.span }),
                }
                self.block(body, scope);
            }
            StmtKind::ForRange { var, start, end, body } => {
                for bound in [start, end] {
                    self.int_arg(bound, IntWanted::ForRange, scope);
                }
                // With block scoping the loop's variable is declared in the loop's own block.
                scope.enter();
                if scope.blocks.is_some() && scope.visible(&var.name) {
                    self.error(StmtError::LoopVarAssignedBefore { var: var.name.clone(), span: var.span });
                }
                scope.declare(&var.name);
                scope.range_vars.push(var.span);
                self.assign_var(var, Type::Int { signed: true }, var.span, scope);
                scope.loops += 1;
                scope.for_loops += 1;
                self.stmts(body, scope);
                scope.for_loops -= 1;
                scope.loops -= 1;
                scope.leave();
            }
            StmtKind::ForMap { var, map, body } => self.for_map(s, var, map, body, scope),
            StmtKind::Break | StmtKind::Continue => {
                if scope.loops == 0 {
                    let word = if matches!(s.kind, StmtKind::Break) { "break" } else { "continue" };
                    self.error(StmtError::OutsideLoop { word, span: s.span });
                }
            }
            StmtKind::Return(value) => {
                if !scope.loop_vars.is_empty() {
                    self.error(StmtError::ReturnInMapLoop { span: s.span });
                }
                if let Some(v) = value {
                    let t = self.expr(v, scope);
                    if !t.is_int() && t != Type::Error {
                        self.error(ExprError::NotInteger { wanted: IntWanted::Return, found: t.describe(), span: v.span });
                    }
                }
            }
            StmtKind::Let { var, .. } if !self.let_declares(var, scope) => {}
            StmtKind::Let { var, ty: Some(ty), value } => {
                // The declared type first, then the value as an assignment: an integer is cut to
                // the declared width, anything else must be of the declared type.
                let Some(declared) = self.declared_type(var, ty, scope) else { return };
                self.assign_var(var, declared, var.span, scope);
                if let Some(v) = value {
                    let assign = Stmt { kind: StmtKind::AssignVar { var: var.clone(), value: v.clone() }, span: s.span };
                    self.stmt(&assign, scope);
                }
            }
            StmtKind::Let { var, ty: None, value } => {
                let Some(v) = value else {
                    // `let $a;`: 0 until assigned; the first assignment gives the type.
                    self.assign_var(var, Type::Int { signed: true }, var.span, scope);
                    scope.untyped.insert(var.name.clone());
                    return;
                };
                let t = self.value_expr(v, scope);
                self.assign_var(var, t, v.span, scope);
            }
            StmtKind::Block(body) => self.block(body, scope),
        }
    }

    /// The statements of a block (`if`'s, a loop's, `{ … }`): with block scoping, the
    /// variables they declare are not visible after it.
    pub(super) fn block(&mut self, stmts: &[Stmt], scope: &mut Scope) {
        scope.enter();
        self.stmts(stmts, scope);
        scope.leave();
    }

    /// `for ($kv : @map) { … }`: `$kv` is `(key, value)`, a key of several parts a tuple.
    pub(super) fn for_map(&mut self, s: &Stmt, var: &Name, map: &MapRef, body: &[Stmt], scope: &mut Scope) {
        if scope.loop_vars.iter().any(|(n, _)| *n == var.name) {
            self.error(StmtError::LoopVarOfOuterLoop { var: var.name.clone(), span: var.span });
            return;
        }
        if scope.vars.contains_key(&var.name) && scope.visible(&var.name) {
            self.error(StmtError::LoopVarAssignedBefore { var: var.name.clone(), span: var.span });
            return;
        }
        let Some((index, info)) = self.assigned_map(map) else { return };
        // count(), sum(), min() and max() values are combined over the CPUs in the loop, as in
        // bpftrace; the other aggregations have no one value to give.
        let value = match (value_type(info.value), info.value) {
            (Some(t), _) => t,
            (None, ValueKind::Count) => Type::Int { signed: false },
            (None, ValueKind::Sum { signed }) => Type::Int { signed },
            (None, ValueKind::Min | ValueKind::Max) => Type::Int { signed: true },
            (None, agg) => {
                let (holds, assigned) = (value_desc(agg), info.first_assign);
                self.error(MapError::ForMapAggregation { map: map.name.clone(), agg: agg.name(), holds, assigned, span: map.span });
                return;
            }
        };
        if info.keys.fields.is_empty() {
            self.error(MapError::ForMapNoKeys { map: map.name.clone(), assigned: info.first_keys, span: map.span });
            return;
        }
        let parts: Vec<Type> = info.keys.fields.iter().map(|k| Type::of_scalar(*k)).collect();
        let key = match &info.keys.names {
            Some(names) => self.tuples.intern_named(parts, Some(names.clone())),
            None if parts.len() == 1 => parts[0],
            None => self.tuples.intern(parts),
        };
        let kv = self.tuples.intern(vec![key, value]);
        let own = format!("{}@{}", var.name, s.span.start);
        scope.vars.insert(own.clone(), (kv, var.span));
        let layout = |t| self.tuples.scalar(t).unwrap_or(Scalar::Int { signed: true });
        let (key, value) = (layout(key), layout(value));
        scope.map_loops.insert(s.span.start, MapLoop { map: index, var: own.clone(), key, value, captured: Vec::new() });
        scope.loop_vars.push((var.name.clone(), own));
        scope.loop_ids.push(s.span.start);
        scope.loops += 1;
        scope.for_loops += 1;
        self.block(body, scope);
        scope.for_loops -= 1;
        scope.loops -= 1;
        scope.loop_ids.pop();
        scope.loop_vars.pop();
    }

    /// The type `let $v: TYPE` declares: an integer, an integer array, a string, or (with
    /// `typeof`) an expression's; `None` after an error.
    fn declared_type(&mut self, var: &Name, ty: &TypeExpr, scope: &mut Scope) -> Option<Type> {
        if let TypeExprKind::Typeof(inner) = &ty.kind {
            return self.let_typeof(var, inner, scope);
        }
        let ty = &self.settle_type(ty, scope)?;
        scope.declared_as.insert(var.name.clone(), array_type_text(ty));
        match &ty.kind {
            TypeExprKind::Array(elem, Some(len)) => {
                if let TypeExprKind::Named(name) = &elem.kind {
                    if name == "string" {
                        return Some(Type::Str { len: (*len).clamp(1, u64::from(u32::MAX)) as u32 });
                    }
                    let array = named_int_type(name)
                        .filter(|&(bits, _)| *len > 0 && u64::from(bits / 8) * len <= 8)
                        .map(|(bits, signed)| {
                            let bools = name == "bool";
                            Type::IntArray(plan::IntArray { elem_bytes: (bits / 8) as u8, signed, len: *len as u8, bools, mac: false })
                        });
                    if array.is_some() {
                        return array;
                    }
                }
            }
            // `let $s: string;`: a string, as long as what it is assigned.
            TypeExprKind::Named(name) if name == "string" => return Some(Type::Str { len: 1 }),
            TypeExprKind::Named(name) if name == "bool" => return Some(Type::Bool),
            _ => {}
        }
        let (bits, signed) = self.int_type(ty)?;
        scope.declared.insert(var.name.clone(), (bits, signed));
        scope.var_bits.insert(var.name.clone(), bits);
        Some(Type::Int { signed })
    }

    /// 0.26: a variable assigned only non-negative literals is sign-flexible; the first
    /// unsigned value assigned to it makes it unsigned (`$a = 1; $a = (uint64)2;` is a uint64).
    fn flexible_sign(&mut self, var: &Name, t: Type, value: &Expr, first: bool, scope: &mut Scope) {
        let flexible_value = sign_flexible(value, scope);
        if first && flexible_value && !scope.declared.contains_key(&var.name) {
            scope.flexible.insert(var.name.clone());
        } else if !flexible_value && scope.flexible.remove(&var.name) && t == (Type::Int { signed: false }) {
            if let Some((var_t, _)) = scope.vars.get_mut(&var.name) {
                *var_t = t;
            }
        }
    }

    /// With block scoping, `let $v` declares `$v` in the innermost block; `false` (after an
    /// error) when a variable of that name is visible already: 0.26 allows no shadowing.
    fn let_declares(&mut self, var: &Name, scope: &mut Scope) -> bool {
        if scope.blocks.is_none() {
            return true;
        }
        if let Some(&(_, first)) = scope.vars.get(&var.name).filter(|_| scope.visible(&var.name)) {
            self.error(StmtError::LetShadows { var: var.name.clone(), first, span: var.span });
            return false;
        }
        scope.declare(&var.name);
        true
    }

    /// Gives a variable its type at its first assignment; later ones must agree.
    pub(super) fn assign_var(&mut self, var: &Name, t: Type, value_span: Span, scope: &mut Scope) {
        if !scope.visible(&var.name) {
            scope.declare(&var.name);
        }
        if t == Type::Error {
            return;
        }
        // `let $a;` then `$a = …`: this assignment gives the type.
        if scope.untyped.remove(&var.name) {
            scope.vars.remove(&var.name);
        }
        if scope.loop_vars.iter().any(|(n, _)| *n == var.name) {
            self.error(StmtError::AssignToLoopVar { var: var.name.clone(), span: var.span });
            return;
        }
        scope.use_var(&var.name);
        if !t.is_int()
            // A struct (`$st = *p`) is kept as its address: its members are read when used.
            && !matches!(t, Type::Str { .. } | Type::Inet | Type::Timestamp(_) | Type::Named(_) | Type::Stack(_) | Type::Tuple(_) | Type::IntArray(_) | Type::Record { .. })
        {
            self.error(StmtError::AssignNoValue { found: t.describe(), span: value_span });
            return;
        }
        match scope.vars.get(&var.name) {
            Some(&(old, span)) if matches!(old, Type::Tuple(_)) || matches!(t, Type::Tuple(_)) => {
                match self.tuples.unify(old, t) {
                    Some(u) => {
                        scope.vars.insert(var.name.clone(), (u, span));
                    }
                    None => self.error(StmtError::VarTypeMismatch {
                        var: var.name.clone(),
                        found: self.tuples.name(t),
                        before: Before::Assigned(self.tuples.name(old)),
                        first: span,
                        other_kinds: false,
                        span: value_span,
                    }),
                }
            }
            Some(&(old, span))
                if std::mem::discriminant(&old) != std::mem::discriminant(&t)
                    || (matches!(old, Type::Stack(_) | Type::Timestamp(_) | Type::IntArray(_) | Type::Record { .. }) && old != t) =>
            {
                let before = match scope.declared_as.get(&var.name) {
                    Some(ty) => Before::Declared(ty.clone()),
                    None => Before::Assigned(type_text(old)),
                };
                let other_kinds = matches!((old, t), (Type::Stack(_), Type::Stack(_)) | (Type::Timestamp(_), Type::Timestamp(_)));
                let var = var.name.clone();
                self.error(StmtError::VarTypeMismatch { var, found: type_text(t), before, first: span, other_kinds, span: value_span });
            }
            Some(&(Type::Ptr { to: Some(was), .. }, span)) if matches!(t, Type::Ptr { to: Some(now), .. } if !self.same_pointee(was, now)) => {
                let Type::Ptr { to: Some(now), .. } = t else { return };
                let before = Before::Assigned(self.pointer_text(was));
                let (var, found) = (var.name.clone(), self.pointer_text(now));
                self.error(StmtError::VarTypeMismatch { var, found, before, first: span, other_kinds: false, span: value_span });
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
        let Some(n) = literal_value(value) else { return };
        let (min, max) = if signed { (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1) } else { (0, (1i128 << bits) - 1) };
        if n < min || n > max {
            self.error(StmtError::LiteralDoesNotFit { var: var.name.clone(), n, bits, signed, min, max, span: value.span });
        }
    }

    /// Checks the target of `++`, `--` or `op=`: an integer variable or map entry.
    pub(super) fn update_target(&mut self, target: &Expr, op: &str, span: Span, scope: &mut Scope) -> Type {
        match &target.kind {
            ExprKind::Var(name) => {
                let t = self.expr(target, scope);
                if t != Type::Error && !t.is_int() {
                    let (op, var) = (op.to_string(), name.clone());
                    self.error(StmtError::NotIntegerVariable { op, var, found: t.describe(), span: target.span });
                    return Type::Error;
                }
                t
            }
            ExprKind::Map(map) => {
                let Some(keys) = self.keys(map, scope) else { return Type::Error };
                self.record_map(map, ValueKind::Scalar(Scalar::Int { signed: true }), keys, target.span, span);
                match self.maps.get(&map.name) {
                    Some((index, info)) if matches!(info.value, ValueKind::Scalar(Scalar::Int { .. })) => {
                        let ty = Type::Int { signed: true };
                        self.set(scope, target, ty, Res::MapRead(index))
                    }
                    _ => Type::Error,
                }
            }
            _ => {
                self.error(StmtError::NotUpdatable { op: op.to_string(), span: target.span });
                Type::Error
            }
        }
    }
}

/// Whether statement `e` (of type `t`) throws a value away, which bpftrace 0.25 and later warn
/// of (language.md, "Block Expressions"): any value but those of `x++`/`x--` and `delete()`
/// (whose failure is what matters, stdlib.md), and calls that return none.
fn discards_a_value(e: &Expr, t: Type) -> bool {
    let delete = matches!(&e.kind, ExprKind::Call { name, .. } if name.name == "delete");
    !matches!(t, Type::Void | Type::Error) && !matches!(e.kind, ExprKind::IncDec { .. }) && !delete
}
