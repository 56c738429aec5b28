//! Maps in a probe: keys, assignments (plain values and aggregations), reads, and the
//! functions that take a whole map (`len`, `has_key`, `delete`, `clear`, `zero`).

use super::*;

impl Checker<'_> {
    /// The key shape of a map reference, checking each key expression. A tuple key
    /// (`@m[(a, b)]`, `@m[$t]`) is the same key as its elements (`@m[a, b]`); a record key
    /// has the same parts, and its field names.
    pub(super) fn keys(&mut self, map: &MapRef, scope: &mut Scope) -> Option<Keys> {
        self.key_fields(&map.keys, scope)
    }

    /// The key shape of key expressions, checking each.
    pub(super) fn key_fields(&mut self, keys: &[Expr], scope: &mut Scope) -> Option<Keys> {
        let mut out = Vec::new();
        let mut names = None;
        let mut ok = true;
        for k in keys {
            let t = self.value_expr(k, scope);
            let parts = match t {
                Type::Tuple(id) if keys.len() == 1 => {
                    names = self.tuples.names[id as usize].clone();
                    self.tuples.types[id as usize].clone()
                }
                Type::Tuple(id) => {
                    let record = self.tuples.names[id as usize].is_some();
                    self.error(MapError::KeyTupleAmongKeys { record, span: k.span });
                    ok = false;
                    continue;
                }
                t => vec![t],
            };
            for part in parts {
                match key_field(part) {
                    Some(field) if keys.len() == 1 && matches!(t, Type::Tuple(_)) => out.push(field),
                    Some(field) => out.push(self.with_enum(field, k, scope)),
                    None if part == Type::Error => ok = false,
                    None => {
                        ok = false;
                        let (record, found, span) = (names.is_some(), part.describe(), k.span);
                        self.error(match (t, part) {
                            (Type::Tuple(_), Type::Tuple(_)) if !record => MapError::TupleInTupleKey { span },
                            (Type::Tuple(_), Type::Tuple(_)) => MapError::TupleInRecordKey { span },
                            (Type::Tuple(_), _) => MapError::KeyCannotHold { record, found, span },
                            _ => MapError::InvalidKey { found, span },
                        });
                    }
                }
            }
        }
        ok.then_some(Keys { fields: out, names })
    }

    pub(super) fn assign_map(&mut self, map: &MapRef, value: &Expr, span: Span, scope: &mut Scope) {
        let keys = self.keys(map, scope);
        let kind = self.map_value(value, scope);
        if let (Some(keys), Some(kind)) = (keys, kind) {
            self.record_map(map, kind, keys, value.span, span);
        }
    }

    /// Records that `map` is assigned a `kind` value with `keys`, checking earlier uses agree.
    pub(super) fn record_map(&mut self, map: &MapRef, kind: ValueKind, keys: Keys, value_span: Span, span: Span) {
        let keys_span = map.span;
        match self.maps.get(&map.name).map(|(i, m)| (i, m.clone())) {
            None => self.maps.maps.push(MapInfo {
                name: map.name.clone(),
                value: kind,
                keys,
                first_assign: span,
                first_keys: keys_span,
                key_labels: key_labels(&map.keys),
            }),
            Some((i, info)) => {
                match self.merge_value(info.value, kind) {
                    Some(v) => self.maps.maps[i].value = v,
                    None => self.error(MapError::MapTypeMismatch {
                        map: map.name.clone(),
                        found: self.value_desc(kind),
                        first_was: self.value_desc(info.value),
                        first: info.first_assign,
                        span: value_span,
                    }),
                }
                match merge_keys(&info.keys, &keys) {
                    Some(k) => self.maps.maps[i].keys = k,
                    None => self.error(key_mismatch(&info, keys_span, &keys)),
                }
            }
        }
    }

    /// A map value kind with its article, for messages; a tuple as its type.
    pub(super) fn value_desc(&self, kind: ValueKind) -> String {
        match kind {
            ValueKind::Scalar(Scalar::Tuple { id, .. }) => self.tuples.name(Type::Tuple(id)),
            kind => value_desc(kind),
        }
    }

    /// The value kind two assignments to one map agree on, if they do.
    pub(super) fn merge_value(&mut self, a: ValueKind, b: ValueKind) -> Option<ValueKind> {
        match (a, b) {
            (ValueKind::Scalar(Scalar::Tuple { id: x, .. }), ValueKind::Scalar(Scalar::Tuple { id: y, .. })) => {
                match self.tuples.unify(Type::Tuple(x), Type::Tuple(y))? {
                    t @ Type::Tuple(_) => self.tuples.scalar(t).map(ValueKind::Scalar),
                    _ => None,
                }
            }
            (a, b) => merge_value(a, b),
        }
    }

    /// The value kind an assignment stores: an aggregation, or a plain value.
    pub(super) fn map_value(&mut self, value: &Expr, scope: &mut Scope) -> Option<ValueKind> {
        if let ExprKind::Call { name, args } = &value.kind {
            if let Some(def) = builtins::function(&name.name).filter(|f| f.aggregation) {
                if !self.arity(def, args.len(), value.span) {
                    return None;
                }
                if def.func == Func::TSeries {
                    return self.tseries(value, args, scope);
                }
                let mut first_signed = true;
                for (i, a) in args.iter().enumerate() {
                    let t = self.expr(a, scope);
                    if i == 0 {
                        first_signed = t.signed();
                    }
                    if !t.is_int() && t != Type::Error {
                        let wanted = IntWanted::Aggregation(def.name);
                        self.error(ExprError::NotInteger { wanted, found: t.describe(), span: a.span });
                        return None;
                    }
                }
                let kind = match def.func {
                    Func::Count => ValueKind::Count,
                    Func::Sum => ValueKind::Sum { signed: first_signed },
                    Func::Avg => ValueKind::Avg,
                    Func::Stats => ValueKind::Stats,
                    Func::Min => ValueKind::Min,
                    Func::Max => ValueKind::Max,
                    Func::Hist => self.hist_k(args)?,
                    Func::Lhist => self.lhist_params(args)?,
                    _ => return None,
                };
                scope.exprs.insert(value.id, ExprInfo { ty: Type::Void, res: Res::Call(def.func), span: value.span });
                return Some(kind);
            }
        }
        let t = self.value_expr(value, scope);
        match self.stored_scalar(t, "a map value", value.span) {
            // Sema stores no `probe` or `usym()` value in a map.
            Some(Scalar::ProbeName | Scalar::Usym) | None if !matches!(t, Type::Error | Type::Record { .. }) => {
                self.error(MapError::CannotStore { found: t.describe(), span: value.span });
                None
            }
            Some(s) => Some(ValueKind::Scalar(self.with_enum(s, value, scope))),
            None => None,
        }
    }

    /// `hist(n[, k])`: k, a literal from 0 to 5, is how many bits below the highest set bit
    /// pick a bucket (2^k buckets per power of two), as in bpftrace 0.20+.
    pub(super) fn hist_k(&mut self, args: &[Expr]) -> Option<ValueKind> {
        let Some(a) = args.get(1) else { return Some(ValueKind::Hist { k: 0 }) };
        match literal_int(a) {
            Some(k) if (0..=plan::HIST_MAX_K as i64).contains(&k) => Some(ValueKind::Hist { k: k as u8 }),
            Some(k) => {
                self.error(MapError::HistK { k, span: a.span });
                None
            }
            None => {
                self.error(MapError::HistKLiteral { span: a.span });
                None
            }
        }
    }

    /// `tseries(n, interval_ns, intervals[, agg])`: n an integer, the interval and the count
    /// literals, agg one of bpftrace 0.26's names.
    fn tseries(&mut self, value: &Expr, args: &[Expr], scope: &mut Scope) -> Option<ValueKind> {
        let t = self.expr(&args[0], scope);
        if !t.is_int() {
            if t != Type::Error {
                let wanted = IntWanted::Aggregation("tseries");
                self.error(ExprError::NotInteger { wanted, found: t.describe(), span: args[0].span });
            }
            return None;
        }
        let mut nums = [0i64; 2];
        for (i, what) in ["interval_ns", "num_intervals"].into_iter().enumerate() {
            let a = &args[i + 1];
            let Some(n) = literal_int(a) else {
                self.error(MapError::TSeriesLiteral { what, span: a.span });
                return None;
            };
            let max = if i == 0 { i64::MAX } else { i64::from(plan::TSERIES_MAX_INTERVALS) };
            if n < 1 || n > max {
                self.error(MapError::TSeriesBound { what, value: n, span: a.span });
                return None;
            }
            nums[i] = n;
        }
        let agg = match args.get(3) {
            None => plan::TSeriesAgg::Last,
            Some(a) => {
                let name = match &a.kind {
                    ExprKind::Str(s) => Some(s.clone()),
                    _ => None,
                };
                match name.as_deref().and_then(plan::TSeriesAgg::from_name) {
                    Some(agg) => agg,
                    None => {
                        self.error(MapError::TSeriesAgg { found: name, span: a.span });
                        return None;
                    }
                }
            }
        };
        match self.opts.config.unstable_tseries {
            crate::config::Unstable::Enable => {}
            level => {
                let error = level == crate::config::Unstable::Error;
                self.error(MapError::TSeriesUnstable { error, span: value.span });
            }
        }
        scope.exprs.insert(value.id, ExprInfo { ty: Type::Void, res: Res::Call(Func::TSeries), span: value.span });
        let (interval_ns, intervals) = (nums[0] as u64, nums[1] as u32);
        Some(ValueKind::TSeries { interval_ns, intervals, agg, signed: t.signed() })
    }

    pub(super) fn lhist_params(&mut self, args: &[Expr]) -> Option<ValueKind> {
        let mut nums = [0i64; 3];
        for (i, a) in args[1..].iter().enumerate() {
            match literal_int(a) {
                Some(n) => nums[i] = n,
                None => {
                    self.error(MapError::LhistLiteral { span: a.span });
                    return None;
                }
            }
        }
        let [min, max, step] = nums;
        let span = args[1].span.to(args[3].span);
        if min < 0 || max <= min || step <= 0 || (max - min) / step > 1000 {
            self.error(MapError::LhistBounds { min, max, step, span });
            return None;
        }
        Some(ValueKind::Lhist { min, max, step })
    }

    pub(super) fn map_read(&mut self, e: &Expr, map: &MapRef, scope: &mut Scope) -> Type {
        let keys = self.keys(map, scope);
        let Some((index, info)) = self.map_info(&map.name) else {
            if self.learning {
                // A later assignment may give the map its type (`@n = @n + 1` reads before it
                // assigns): guess an integer, so that the assignment still teaches the map's
                // type; the probe is checked again with it.
                return Type::Int { signed: true };
            }
            let suggestion = did_you_mean(&map.name, self.maps.maps.iter().map(|m| m.name.as_str())).map(str::to_string);
            self.error(MapError::MapReadNeverAssigned { map: map.name.clone(), suggestion, span: map.span });
            return Type::Error;
        };
        let Some(keys) = keys else { return Type::Error };
        if merge_keys(&info.keys, &keys).is_none() {
            self.error(key_mismatch(&info, map.span, &keys));
            return Type::Error;
        }
        let ty = match (value_type(info.value), info.value) {
            (_, ValueKind::Scalar(Scalar::Struct { .. })) => {
                self.error(KernelError::StructMapRead { map: map.name.clone(), span: map.span });
                return Type::Error;
            }
            (Some(t), _) => t,
            // An aggregation's value over every CPU (0.26): codegen's `all_cpus`.
            (None, ValueKind::Count) => Type::Int { signed: false },
            (None, ValueKind::Sum { signed }) => Type::Int { signed },
            (None, ValueKind::Min | ValueKind::Max | ValueKind::Avg) => Type::Int { signed: true },
            (None, _) => {
                let agg = info.value;
                let (holds, assigned) = (value_desc(agg), info.first_assign);
                self.error(MapError::AggregationRead { map: map.name.clone(), agg: agg.name(), holds, assigned, span: map.span });
                return Type::Error;
            }
        };
        self.set(scope, e, ty, Res::MapRead(index))
    }

    /// `len(@m)`, the number of entries, and `has_key(@m, key)`, whether `key` is in it.
    pub(super) fn map_query(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        let arg = &args[0];
        if def.func == Func::Len && is_stack_builtin(arg) {
            // `len(kstack)`, `len(ustack(3))` (0.23): the frames of the stack taken here.
            return match self.expr(arg, scope) {
                Type::Stack(_) => self.set(scope, e, Type::Int { signed: true }, Res::Call(def.func)),
                _ => Type::Error,
            };
        }
        let Some(map) = self.whole_map(def, arg) else { return Type::Error };
        let keys = if def.func == Func::HasKey { self.key_fields(&args[1..], scope) } else { Some(Keys::default()) };
        let (index, info) = match self.queried_map(map) {
            Ok(found) => found,
            Err(t) => return t,
        };
        let Some(keys) = keys else { return Type::Error };
        // A histogram's keys are found through its buckets (codegen's `hist_query`); not yet a
        // tseries()'s through its slots.
        if info.value.has_slot_key() && !info.value.is_histogram() {
            let holds = value_desc(info.value);
            self.error(MapError::HistogramQuery { func: def.name, map: map.name.clone(), holds, span: map.span });
            return Type::Error;
        }
        if def.func == Func::HasKey && merge_keys(&info.keys, &keys).is_none() {
            self.error(key_mismatch(&info, args[1].span, &keys));
            return Type::Error;
        }
        scope.exprs.insert(arg.id, ExprInfo { ty: Type::Void, res: Res::MapRead(index), span: arg.span });
        let ty = if def.func == Func::Len { Type::Int { signed: true } } else { Type::Bool };
        self.set(scope, e, ty, Res::Call(def.func))
    }

    /// Map `map`'s index and entry, for a function that reads it; else the type to go on
    /// with: an integer while learning (a later probe may assign it), or an error.
    fn queried_map(&mut self, map: &MapRef) -> Result<(usize, MapInfo), Type> {
        if let Some(found) = self.map_info(&map.name) {
            return Ok(found);
        }
        if self.learning {
            return Err(Type::Int { signed: true });
        }
        self.error(MapError::MapNeverAssigned { map: map.name.clone(), span: map.span });
        Err(Type::Error)
    }

    /// The map `arg` names whole (`@m`, not `@m[k]`), or `None` after an error.
    fn whole_map<'e>(&mut self, def: &builtins::FuncDef, arg: &'e Expr) -> Option<&'e MapRef> {
        match &arg.kind {
            ExprKind::Map(map) if map.keys.is_empty() => Some(map),
            _ => {
                self.error(MapError::WholeMapNeeded { func: def.name, signature: def.signature, span: arg.span });
                None
            }
        }
    }

    /// `find(@m, key, $v)` (bpftrace 0.24+): the value goes into `$v`, which takes its type.
    pub(super) fn find(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        let Some(map) = self.whole_map(def, &args[0]) else { return Type::Error };
        let ExprKind::Var(var) = &args[2].kind else {
            self.error(StdlibError::FindVariable { span: args[2].span });
            return Type::Error;
        };
        let keys = self.key_fields(&args[1..2], scope);
        let (index, info) = match self.queried_map(map) {
            Ok(found) => found,
            Err(t) => return t,
        };
        let Some(keys) = keys else { return Type::Error };
        if merge_keys(&info.keys, &keys).is_none() {
            self.error(key_mismatch(&info, args[1].span, &keys));
            return Type::Error;
        }
        let Some(ty) = value_type(info.value) else {
            let agg = info.value;
            let (holds, assigned) = (value_desc(agg), info.first_assign);
            self.error(MapError::AggregationRead { map: map.name.clone(), agg: agg.name(), holds, assigned, span: map.span });
            return Type::Error;
        };
        let name = Name { name: var.clone(), span: args[2].span };
        self.assign_var(&name, ty, args[2].span, scope);
        scope.exprs.insert(args[0].id, ExprInfo { ty: Type::Void, res: Res::MapRead(index), span: args[0].span });
        self.set(scope, e, Type::Bool, Res::Call(Func::Find))
    }

    /// `delete(@m, key)` (bpftrace 0.22+), `delete(@m[key])`, `clear(@m)`, `zero(@m)`.
    /// `delete()` is 1 when it removed an entry, 0 when there was none (bpftrace's bool).
    pub(super) fn map_edit(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        let arg = &args[0];
        let ExprKind::Map(map) = &arg.kind else {
            self.error(MapError::MapNeeded { func: def.name, signature: def.signature, span: arg.span });
            return Type::Error;
        };
        if (def.func != Func::Delete || args.len() == 2) && !map.keys.is_empty() {
            self.error(match def.func {
                Func::Delete => MapError::WholeMapNeeded { func: def.name, signature: def.signature, span: arg.span },
                _ => MapError::OneEntry { func: def.name, map: map.name.clone(), span: arg.span },
            });
            return Type::Error;
        }
        let keys = match (def.func, args) {
            (Func::Delete, [_, key]) => self.key_fields(std::slice::from_ref(key), scope).map(|k| (k, key.span)),
            (Func::Delete, _) => self.keys(map, scope).map(|k| (k, map.span)),
            _ => Some((Keys::default(), map.span)),
        };
        let Some((index, info)) = self.assigned_map(map) else { return Type::Error };
        if def.func == Func::Delete && matches!(info.value, ValueKind::TSeries { .. }) {
            // One entry per interval slot: deleting a key's entries is not done yet.
            let holds = value_desc(info.value);
            self.error(MapError::HistogramQuery { func: def.name, map: map.name.clone(), holds, span: map.span });
            return Type::Error;
        }
        if let Some((keys, span)) = keys {
            if def.func == Func::Delete && merge_keys(&info.keys, &keys).is_none() {
                self.error(key_mismatch(&info, span, &keys));
            }
        }
        scope.exprs.insert(arg.id, ExprInfo { ty: Type::Void, res: Res::MapRead(index), span: arg.span });
        let ty = if def.func == Func::Delete { Type::Bool } else { Type::Void };
        self.set(scope, e, ty, Res::Call(def.func))
    }

    /// Map `map`'s index and entry, or `None` after an error if it is never assigned (while
    /// learning, silently: a later probe may assign it).
    pub(super) fn assigned_map(&mut self, map: &MapRef) -> Option<(usize, MapInfo)> {
        let found = self.map_info(&map.name);
        if found.is_none() && !self.learning {
            self.error(MapError::MapNeverAssigned { map: map.name.clone(), span: map.span });
        }
        found
    }
}

/// The names key expressions can be labelled by: a builtin's (`comm`), a field's (`args.fd`:
/// `fd`), a call's without arguments (`kstack()`); the elements of one tuple key each.
fn key_labels(keys: &[Expr]) -> Vec<Option<String>> {
    let exprs: Vec<&Expr> = match keys {
        [Expr { kind: ExprKind::Tuple(items), .. }] => items.iter().collect(),
        _ => keys.iter().collect(),
    };
    exprs
        .iter()
        .map(|e| match &e.kind {
            ExprKind::Ident(name) => Some(name.clone()),
            ExprKind::Field { field, .. } => Some(field.name.clone()),
            ExprKind::Call { name, args } if args.is_empty() => Some(name.name.clone()),
            _ => None,
        })
        .collect()
}

/// `kstack`, `ustack` or a call of either: the stacks `len()` counts the frames of.
fn is_stack_builtin(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Ident(name) => matches!(name.as_str(), "kstack" | "ustack"),
        ExprKind::Call { name, .. } => matches!(name.name.as_str(), "kstack" | "ustack"),
        _ => false,
    }
}
