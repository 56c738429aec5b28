//! Values laid out by the plan: storing a value where a record field, a map key part, a map
//! value, a variable or a tuple element is (`store_value`, the one path every store takes),
//! loading one back (`value_at`), and building tuples and records.

use super::expr::V;
use super::{CodegenError, Func, Gen, Result};
use crate::parser::ast::{Expr, Name};
use crate::plan::ArgKind;
use crate::sema::Type;
use inkwell::values::PointerValue;

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// Stores `v` at `dst` (already zeroed) laid out as `kind`: in a printf record, a map
    /// value, a variable or a tuple. Tuples are copied element by element, so a tuple goes
    /// into a wider one of the same shape (longer strings) as it does in bpftrace.
    pub(super) fn store_value(&self, dst: PointerValue<'ctx>, kind: ArgKind, v: V<'ctx>) -> Result<()> {
        match (v, kind) {
            (
                V::Int(i),
                ArgKind::Int { .. }
                | ArgKind::Ksym
                | ArgKind::Stack(_)
                | ArgKind::ProbeName
                | ArgKind::Timestamp(_)
                | ArgKind::Enum { .. }
                | ArgKind::IntArray(_),
            ) => {
                self.store_i64(dst, 0, i)
            }
            (V::Str(p, n), ArgKind::Str { .. } | ArgKind::Inet | ArgKind::Usym | ArgKind::Buf | ArgKind::Stack(_)) => {
                self.copy(dst, p, n.min(kind.size() as u32))
            }
            (V::Tuple(p, src), ArgKind::Tuple { id, .. }) => {
                let fields = self.checked.plan.tuples[id as usize].fields.clone();
                for (i, field) in fields.into_iter().enumerate() {
                    let elem = self.element(p, src, i)?;
                    let at = self.offset(dst, field.offset as u64)?;
                    self.store_value(at, field.kind, elem)?;
                }
                Ok(())
            }
            _ => Err(CodegenError(format!("cannot store this value as {kind:?}"))),
        }
    }

    /// The value of `kind` at `p`: an integer loaded, anything else where it lies.
    pub(super) fn value_at(&self, p: PointerValue<'ctx>, kind: ArgKind) -> Result<V<'ctx>> {
        Ok(match kind {
            ArgKind::Int { .. }
            | ArgKind::Ksym
            | ArgKind::ProbeName
            | ArgKind::Timestamp(_)
            | ArgKind::Enum { .. }
            | ArgKind::IntArray(_) => V::Int(self.load_i64(p, 0)?),
            ArgKind::Stack(spec) if !spec.user => V::Int(self.load_i64(p, 0)?),
            ArgKind::Tuple { id, .. } => V::Tuple(p, id),
            kind => V::Str(p, kind.size() as u32),
        })
    }

    /// Element `i` of tuple `id` at `p`: integers loaded, anything else where it lies.
    pub(super) fn element(&self, p: PointerValue<'ctx>, id: u32, i: usize) -> Result<V<'ctx>> {
        let field = *self.checked.plan.tuples[id as usize]
            .fields
            .get(i)
            .ok_or_else(|| CodegenError(format!("tuple element {i} out of range")))?;
        self.value_at(self.offset(p, field.offset as u64)?, field.kind)
    }

    /// How tuple `id` is laid out as a value.
    pub(super) fn tuple_kind(&self, id: u32) -> ArgKind {
        ArgKind::Tuple { id, size: self.checked.plan.tuples[id as usize].size as u32 }
    }

    /// A tuple `(items…)`, where `e` is the tuple expression.
    pub(super) fn tuple(&mut self, f: &mut Func<'ctx>, e: &Expr, items: &[Expr]) -> Result<V<'ctx>> {
        let Type::Tuple(id) = self.ty(f, e) else {
            return Err(CodegenError("untyped tuple".into()));
        };
        let kind = self.tuple_kind(id);
        let buf = self.buffer(f, kind.size() as u32, "tuple")?;
        let fields = self.checked.plan.tuples[id as usize].fields.clone();
        for (item, field) in items.iter().zip(fields) {
            let v = self.expr(f, item)?;
            let at = self.offset(buf, field.offset as u64)?;
            self.store_value(at, field.kind, v)?;
        }
        Ok(V::Tuple(buf, id))
    }

    /// A record `(name = item, …)`, where `e` is the record expression.
    pub(super) fn record(&mut self, f: &mut Func<'ctx>, e: &Expr, items: &[(Name, Expr)]) -> Result<V<'ctx>> {
        let Type::Tuple(id) = self.ty(f, e) else {
            return Err(CodegenError("untyped record".into()));
        };
        let kind = self.tuple_kind(id);
        let buf = self.buffer(f, kind.size() as u32, "record")?;
        let def = &self.checked.plan.tuples[id as usize];
        let (fields, names) = (def.fields.clone(), def.names.clone().unwrap_or_default());
        // Evaluated as written, each stored where the record type keeps its name.
        for (name, item) in items {
            let v = self.expr(f, item)?;
            let i = names.iter().position(|n| *n == name.name).ok_or_else(|| CodegenError("record field".into()))?;
            let at = self.offset(buf, fields[i].offset as u64)?;
            self.store_value(at, fields[i].kind, v)?;
        }
        Ok(V::Tuple(buf, id))
    }

    /// The index of field `name` if `base` is a record (a tuple with field names).
    pub(super) fn record_field(&self, f: &Func<'ctx>, base: &Expr, name: &str) -> Option<usize> {
        let Type::Tuple(id) = self.ty(f, base) else { return None };
        self.checked.plan.tuples[id as usize].names.as_ref()?.iter().position(|n| n == name)
    }
}
