//! Tuples and records: their types, each stored once, their layout, and how two of them
//! unify.

use super::*;

/// Tuple types, each stored once: `Type::Tuple(i)` is `types[i]`.
#[derive(Debug, Clone, Default)]
pub(in crate::sema) struct TupleTypes {
    pub(in crate::sema) types: Vec<Vec<Type>>,
    /// Records' field names, in element order (`None`: a tuple).
    pub(in crate::sema) names: Vec<Option<Vec<String>>>,
}

impl TupleTypes {
    pub(in crate::sema) fn intern(&mut self, elems: Vec<Type>) -> Type {
        self.intern_named(elems, None)
    }

    pub(in crate::sema) fn intern_named(&mut self, elems: Vec<Type>, names: Option<Vec<String>>) -> Type {
        let id = match (0..self.types.len()).find(|&i| self.types[i] == elems && self.names[i] == names) {
            Some(i) => i,
            None => {
                self.types.push(elems);
                self.names.push(names);
                self.types.len() - 1
            }
        };
        Type::Tuple(id as u32)
    }

    /// The field order of records with these names: the order the first of them had, so that
    /// `(a = 1, b = 2)` and `(b = 3, a = 4)` are one type (as in bpftrace).
    pub(in crate::sema) fn record_order(&self, names: &[&str]) -> Vec<String> {
        let same = |known: &Vec<String>| known.len() == names.len() && names.iter().all(|n| known.iter().any(|k| k == n));
        match self.names.iter().flatten().find(|known| same(known)) {
            Some(known) => known.clone(),
            None => names.iter().map(|n| n.to_string()).collect(),
        }
    }

    /// How a value of type `t` is laid out in a tuple, a record or a map value; `None` for
    /// types that cannot be stored.
    pub(in crate::sema) fn scalar(&self, t: Type) -> Option<Scalar> {
        match t {
            Type::Tuple(id) => Some(Scalar::Tuple { id, size: self.layout(id).size as u32 }),
            t => t.plain_scalar(),
        }
    }

    /// Tuple `id`'s layout: every element 8-byte aligned, as a map key's parts are.
    pub(in crate::sema) fn layout(&self, id: u32) -> TupleDef {
        let mut fields = Vec::new();
        let mut offset = 0;
        for &t in &self.types[id as usize] {
            let Some(kind) = self.scalar(t).map(Scalar::padded) else { continue };
            fields.push(ArgField { offset, kind });
            offset += kind.size().next_multiple_of(8);
        }
        TupleDef { fields, size: offset.max(8), names: self.names[id as usize].clone() }
    }

    pub(in crate::sema) fn layouts(&self) -> Vec<TupleDef> {
        (0..self.types.len() as u32).map(|i| self.layout(i)).collect()
    }

    /// The type two values agree on, as bpftrace unifies them: tuples of the same arity
    /// whose elements agree, strings of any lengths (the longer wins), integers of either
    /// sign; `None` if they do not.
    pub(in crate::sema) fn unify(&mut self, a: Type, b: Type) -> Option<Type> {
        match (a, b) {
            (Type::Tuple(x), Type::Tuple(y)) => {
                let (xs, ys) = (self.types[x as usize].clone(), self.types[y as usize].clone());
                if xs.len() != ys.len() {
                    return None;
                }
                let names = self.names[x as usize].clone();
                if names != self.names[y as usize] {
                    return None;
                }
                let elems = xs.iter().zip(&ys).map(|(&p, &q)| self.unify(p, q)).collect::<Option<Vec<_>>>()?;
                Some(self.intern_named(elems, names))
            }
            (Type::Str { len: x }, Type::Str { len: y }) => Some(Type::Str { len: x.max(y) }),
            (x, y) if x.is_int() && y.is_int() => Some(x),
            (x, y) if std::mem::discriminant(&x) == std::mem::discriminant(&y) => Some(x),
            _ => None,
        }
    }

    /// A type as bpftrace writes it in messages: `int64`, `string[2]`, `(int64,string[2])`.
    pub(in crate::sema) fn name(&self, t: Type) -> String {
        match t {
            Type::Int { signed: true } => "int64".into(),
            Type::Int { signed: false } => "uint64".into(),
            Type::Str { len } => format!("string[{len}]"),
            Type::IntArray(a) => array_name(a),
            Type::Tuple(id) => {
                let mut parts: Vec<String> = self.types[id as usize].iter().map(|&e| self.name(e)).collect();
                if let Some(names) = &self.names[id as usize] {
                    parts = names.iter().zip(parts).map(|(n, p)| format!("{n}={p}")).collect();
                }
                format!("({})", parts.join(","))
            }
            other => other.describe().trim_start_matches("an ").trim_start_matches("a ").to_string(),
        }
    }
}

/// The largest struct `print(*p)` copies into its event, and a map value holds (the value
/// is built on the BPF stack).
const MAX_PRINT_STRUCT: u32 = 1016;
const MAX_MAP_STRUCT: u32 = 256;

impl Checker<'_> {
    /// How a value of type `t` is laid out where it is stored or sent: a tuple's layout, or
    /// for a kernel struct in memory (`*p`) a copy of its bytes (`into` names where, for the
    /// error when it is too large); `None` (with any error reported) when it cannot be.
    pub(super) fn stored_scalar(&mut self, t: Type, into: &'static str, span: Span) -> Option<Scalar> {
        let Type::Record { id, user } = t else { return self.tuples.scalar(t) };
        let k = self.kernel_types_at(span, None)?;
        let size = k.size(id);
        let max = if into == "a map value" { MAX_MAP_STRUCT } else { MAX_PRINT_STRUCT };
        if size > max {
            self.error(KernelError::StructTooLarge { ty: k.name(id), size, max, into, span });
            return None;
        }
        let index = match self.structs.iter().position(|(known, _)| *known == id) {
            Some(i) => i,
            None => {
                self.structs.push((id, k.struct_def(id)));
                self.structs.len() - 1
            }
        };
        Some(Scalar::Struct { id: index as u32, size, user })
    }

    /// `(a, b, …)`.
    pub(super) fn tuple(&mut self, e: &Expr, items: &[Expr], scope: &mut Scope) -> Type {
        let mut elems = Vec::new();
        for item in items {
            match self.value_expr(item, scope) {
                Type::Error => return Type::Error,
                t if self.tuples.scalar(t).is_some() => elems.push(t),
                t => {
                    self.error(ExprError::TupleElement { found: t.describe(), span: item.span });
                    return Type::Error;
                }
            }
        }
        let ty = self.tuples.intern(elems);
        self.set(scope, e, ty, Res::Plain)
    }

    /// `(name = a, …)`.
    pub(super) fn record(&mut self, e: &Expr, fields: &[(Name, Expr)], scope: &mut Scope) -> Type {
        let mut typed = Vec::new();
        for (i, (name, value)) in fields.iter().enumerate() {
            if let Some((first, _)) = fields[..i].iter().find(|(n, _)| n.name == name.name) {
                self.error(ExprError::DuplicateField { name: name.name.clone(), first: first.span, span: name.span });
                return Type::Error;
            }
            match self.value_expr(value, scope) {
                Type::Error => return Type::Error,
                t if self.tuples.scalar(t).is_some() => typed.push((name.name.as_str(), t)),
                t => {
                    self.error(ExprError::RecordField { found: t.describe(), span: value.span });
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

    /// `t.N`.
    pub(super) fn tuple_index(&mut self, e: &Expr, base: &Expr, index: &u64, scope: &mut Scope) -> Type {
        let id = match self.expr(base, scope) {
            Type::Error => return Type::Error,
            Type::Tuple(id) => id,
            t => {
                self.error(ExprError::TupleIndexOfNonTuple { index: *index, found: t.describe(), span: base.span });
                return Type::Error;
            }
        };
        let elems = &self.tuples.types[id as usize];
        let Some(&ty) = usize::try_from(*index).ok().and_then(|i| elems.get(i)) else {
            let n = elems.len();
            self.error(ExprError::TupleIndexOutOfRange { index: *index, len: n, span: e.span });
            return Type::Error;
        };
        self.set(scope, e, ty, Res::Plain)
    }
}
