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
            let t = self.expr(k, scope);
            let parts = match t {
                Type::Tuple(id) if keys.len() == 1 => {
                    names = self.tuples.names[id as usize].clone();
                    self.tuples.types[id as usize].clone()
                }
                Type::Tuple(id) => {
                    let what = if self.tuples.names[id as usize].is_some() { "record" } else { "tuple" };
                    self.error(
                        Diagnostic::error(format!("a {what} key must be the map's only key"))
                            .at(k.span, format!("a {what} among other keys"))
                            .help(match what {
                                "tuple" => "write its elements as keys: `@m[a, b, c]`",
                                _ => "put the other keys in the record: `@m[(a = x, b = y)]`",
                            }),
                    );
                    ok = false;
                    continue;
                }
                t => vec![t],
            };
            for part in parts {
                match key_field(part) {
                    Some(field) => out.push(field),
                    None if part == Type::Error => ok = false,
                    None => {
                        ok = false;
                        let what = if names.is_some() { "record" } else { "tuple" };
                        let d = match (t, part) {
                            (Type::Tuple(_), Type::Tuple(_)) if names.is_none() => {
                                Diagnostic::error("a tuple key cannot hold another tuple").at(k.span, "a tuple inside a tuple")
                            }
                            (Type::Tuple(_), Type::Tuple(_)) => Diagnostic::error("a record key cannot hold a tuple or a record")
                                .at(k.span, "a tuple or record inside a record"),
                            (Type::Tuple(_), _) => Diagnostic::error(format!("a {what} key cannot hold {}", part.describe()))
                                .at(k.span, "not a valid key"),
                            _ => Diagnostic::error(format!("a map key cannot be {}", part.describe())).at(k.span, "not a valid key"),
                        };
                        self.error(d);
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
            }),
            Some((i, info)) => {
                match self.merge_value(info.value, kind) {
                    Some(v) => self.maps.maps[i].value = v,
                    None => self.error(
                        Diagnostic::error(format!("type mismatch for map `{}`", map.name))
                            .at(value_span, format!("this is {}", self.value_desc(kind)))
                            .also(
                                info.first_assign,
                                format!("`{}` was first assigned {} here", map.name, self.value_desc(info.value)),
                            ),
                    ),
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
            ValueKind::Tuple { id, .. } => self.tuples.name(Type::Tuple(id)),
            kind => value_desc(kind),
        }
    }

    /// The value kind two assignments to one map agree on, if they do.
    pub(super) fn merge_value(&mut self, a: ValueKind, b: ValueKind) -> Option<ValueKind> {
        match (a, b) {
            (ValueKind::Tuple { id: x, .. }, ValueKind::Tuple { id: y, .. }) => {
                match self.tuples.unify(Type::Tuple(x), Type::Tuple(y))? {
                    Type::Tuple(id) => Some(ValueKind::Tuple { id, size: self.tuples.layout(id).size as u32 }),
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
                let mut first_signed = true;
                for (i, a) in args.iter().enumerate() {
                    let t = self.expr(a, scope);
                    if i == 0 {
                        first_signed = t.signed();
                    }
                    if !t.is_int() && t != Type::Error {
                        self.error(
                            Diagnostic::error(format!("`{}()` takes integers", def.name))
                                .at(a.span, format!("this is {}", t.describe())),
                        );
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
        match self.expr(value, scope) {
            Type::Int { signed } => Some(ValueKind::Int { signed }),
            Type::Ptr { .. } => Some(ValueKind::Int { signed: false }),
            Type::Str { len } => Some(ValueKind::Str { len }),
            Type::Ksym => Some(ValueKind::Ksym),
            Type::Stack(spec) => Some(ValueKind::Stack(spec)),
            Type::Inet => Some(ValueKind::Inet),
            Type::Timestamp(id) => Some(ValueKind::Timestamp(id)),
            Type::IntArray(a) => Some(ValueKind::IntArray(a)),
            Type::Tuple(id) => Some(ValueKind::Tuple { id, size: self.tuples.layout(id).size as u32 }),
            Type::Error => None,
            t => {
                self.error(
                    Diagnostic::error(format!("cannot store {} in a map", t.describe())).at(value.span, "no value to store"),
                );
                None
            }
        }
    }

    /// `hist(n[, k])`: k, a literal from 0 to 5, is how many bits below the highest set bit
    /// pick a bucket (2^k buckets per power of two), as in bpftrace 0.20+.
    pub(super) fn hist_k(&mut self, args: &[Expr]) -> Option<ValueKind> {
        let Some(a) = args.get(1) else { return Some(ValueKind::Hist { k: 0 }) };
        let help = "hist(n, k) makes 2^k buckets per power of two, k from 0 to 5: e.g. `hist($x, 2)`";
        match literal_int(a) {
            Some(k) if (0..=plan::HIST_MAX_K as i64).contains(&k) => Some(ValueKind::Hist { k: k as u8 }),
            Some(k) => {
                self.error(
                    Diagnostic::error(format!("hist() k must be from 0 to {}", plan::HIST_MAX_K))
                        .at(a.span, format!("k is {k}"))
                        .help(help),
                );
                None
            }
            None => {
                self.error(
                    Diagnostic::error("hist() k must be an integer literal").at(a.span, "not a literal").help(help),
                );
                None
            }
        }
    }

    pub(super) fn lhist_params(&mut self, args: &[Expr]) -> Option<ValueKind> {
        let mut nums = [0i64; 3];
        for (i, a) in args[1..].iter().enumerate() {
            match literal_int(a) {
                Some(n) => nums[i] = n,
                None => {
                    self.error(
                        Diagnostic::error("lhist() bounds must be integer literals")
                            .at(a.span, "not a literal")
                            .help("write e.g. `lhist($x, 0, 100, 10)`"),
                    );
                    return None;
                }
            }
        }
        let [min, max, step] = nums;
        let span = args[1].span.to(args[3].span);
        if min < 0 || max <= min || step <= 0 || (max - min) / step > 1000 {
            self.error(
                Diagnostic::error("invalid lhist() bounds")
                    .at(span, format!("min {min}, max {max}, step {step}"))
                    .help("lhist(n, min, max, step) needs 0 <= min < max, step > 0, and at most 1000 buckets"),
            );
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
            let mut d = Diagnostic::error(format!("map `{}` is read but never assigned", map.name)).at(map.span, "never assigned");
            if let Some(s) = did_you_mean(&map.name, self.maps.maps.iter().map(|m| m.name.as_str())) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            self.error(d);
            return Type::Error;
        };
        let Some(keys) = keys else { return Type::Error };
        if merge_keys(&info.keys, &keys).is_none() {
            self.error(key_mismatch(&info, map.span, &keys));
            return Type::Error;
        }
        let ty = match value_type(info.value) {
            Some(t) => t,
            None => {
                let agg = info.value;
                self.error(
                    Diagnostic::error(format!("reading a {} map inside a probe is not supported yet", agg.name()))
                        .at(map.span, format!("`{}` holds {}", map.name, value_desc(agg)))
                        .also(info.first_assign, "assigned here")
                        .note("aggregations are per-CPU and summed only when printed"),
                );
                return Type::Error;
            }
        };
        self.set(scope, e, ty, Res::MapRead(index))
    }

    /// `len(@m)`, the number of entries, and `has_key(@m, key)`, whether `key` is in it.
    pub(super) fn map_query(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        let arg = &args[0];
        let map = match &arg.kind {
            ExprKind::Map(map) if map.keys.is_empty() => map,
            _ => {
                self.error(
                    Diagnostic::error(format!("`{}()` takes a whole map", def.name))
                        .at(arg.span, "not a whole map")
                        .help(format!("the signature is `{}`", def.signature)),
                );
                return Type::Error;
            }
        };
        let keys = if def.func == Func::HasKey { self.key_fields(&args[1..], scope) } else { Some(Keys::default()) };
        let Some((index, info)) = self.map_info(&map.name) else {
            if self.learning {
                return Type::Int { signed: true };
            }
            self.error(Diagnostic::error(format!("map `{}` is never assigned", map.name)).at(map.span, "never assigned"));
            return Type::Error;
        };
        let Some(keys) = keys else { return Type::Error };
        if info.value.is_histogram() {
            self.error(
                Diagnostic::error(format!("`{}()` of a histogram is not supported yet", def.name))
                    .at(map.span, format!("`{}` holds {}", map.name, value_desc(info.value))),
            );
            return Type::Error;
        }
        if def.func == Func::HasKey && merge_keys(&info.keys, &keys).is_none() {
            self.error(key_mismatch(&info, args[1].span, &keys));
            return Type::Error;
        }
        scope.exprs.insert(arg.id, ExprInfo { ty: Type::Void, res: Res::MapRead(index), span: arg.span });
        let ty = Type::Int { signed: def.func == Func::Len };
        self.set(scope, e, ty, Res::Call(def.func))
    }

    /// `delete(@m[key])`, `clear(@m)`, `zero(@m)`.
    pub(super) fn map_edit(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        let arg = &args[0];
        let ExprKind::Map(map) = &arg.kind else {
            self.error(
                Diagnostic::error(format!("`{}()` takes a map", def.name))
                    .at(arg.span, "not a map")
                    .help(format!("the signature is `{}`", def.signature)),
            );
            return Type::Error;
        };
        if def.func != Func::Delete && !map.keys.is_empty() {
            self.error(
                Diagnostic::error(format!("`{}()` takes a whole map", def.name))
                    .at(arg.span, "this is one entry")
                    .help(format!("write `{}({})`, or `delete({})` for one entry", def.name, map.name, map.name.clone() + "[…]")),
            );
            return Type::Error;
        }
        let keys = if def.func == Func::Delete { self.keys(map, scope) } else { Some(Keys::default()) };
        let Some((index, info)) = self.map_info(&map.name) else {
            if self.learning {
                return Type::Error;
            }
            self.error(
                Diagnostic::error(format!("map `{}` is never assigned", map.name)).at(map.span, "never assigned"),
            );
            return Type::Error;
        };
        if let Some(keys) = keys {
            if def.func == Func::Delete && merge_keys(&info.keys, &keys).is_none() {
                self.error(key_mismatch(&info, map.span, &keys));
            }
        }
        scope.exprs.insert(arg.id, ExprInfo { ty: Type::Void, res: Res::MapRead(index), span: arg.span });
        self.set(scope, e, Type::Void, Res::Call(def.func))
    }
}
