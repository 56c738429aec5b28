//! Values laid out by the plan: storing a value where a record field, a map key part, a map
//! value, a variable or a tuple element is (`store_value`, the one path every store takes),
//! loading one back (`value_at`), and building tuples and records.

use super::expr::V;
use super::{CodegenError, Func, Gen, Result};
use crate::kernel::tracefs::FieldKind;
use crate::parser::ast::{Expr, Name};
use crate::plan::Scalar;
use crate::sema::Type;
use inkwell::values::PointerValue;
use libbpf_rs::libbpf_sys as sys;

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// Stores `v` at `offset` in `dst` (those bytes already zeroed) laid out as `kind`: a
    /// printf record's argument, a map key's part, a map value, a variable or a tuple element.
    /// Tuples are copied element by element, so a tuple goes into a wider one of the same shape
    /// (longer strings) as it does in bpftrace.
    pub(super) fn store_value(&self, dst: PointerValue<'ctx>, offset: u64, kind: Scalar, v: V<'ctx>) -> Result<()> {
        match (v, kind) {
            (
                V::Int(i),
                Scalar::Int { .. }
                | Scalar::Bool
                | Scalar::Ptr
                | Scalar::Ksym
                | Scalar::Stack(_)
                | Scalar::ProbeName
                | Scalar::Timestamp(_)
                | Scalar::Enum { .. }
                | Scalar::Named(_)
                | Scalar::IntArray(_),
            ) => {
                self.store_i64(dst, offset, i)
            }
            (V::Str(p, n), Scalar::Str { .. } | Scalar::Inet | Scalar::Usym | Scalar::Buf | Scalar::Stack(_)) => {
                self.copy(self.offset(dst, offset)?, p, n.min(kind.size() as u32))
            }
            // An integer array wider than 8 bytes, in memory.
            (V::Str(p, n), Scalar::IntArray(a)) => self.copy(self.offset(dst, offset)?, p, n.min(a.bytes())),
            // A kernel struct in memory (`*p`): its bytes copied.
            (V::Int(addr), Scalar::Struct { size, user, .. }) => {
                let helper = if user { sys::BPF_FUNC_probe_read_user } else { sys::BPF_FUNC_probe_read_kernel };
                let len = self.i64().const_int(size as u64, false);
                self.call_helper(helper, &[self.offset(dst, offset)?.into(), len.into(), addr.into()])?;
                Ok(())
            }
            (V::Str(p, n), Scalar::Struct { size, .. }) => self.copy(self.offset(dst, offset)?, p, n.min(size)),
            (V::Tuple(p, src), Scalar::Tuple { id, .. }) => {
                for (i, field) in self.checked.plan.tuples[id as usize].fields.iter().enumerate() {
                    let elem = self.element(p, src, i)?;
                    self.store_value(dst, offset + field.offset as u64, field.kind, elem)?;
                }
                Ok(())
            }
            _ => Err(CodegenError(format!("cannot store this value as {kind:?}"))),
        }
    }

    /// The value of `kind` at `p`: an integer loaded, anything else where it lies.
    pub(super) fn value_at(&self, p: PointerValue<'ctx>, kind: Scalar) -> Result<V<'ctx>> {
        Ok(match kind {
            Scalar::IntArray(a) if a.in_memory() => V::Str(p, a.bytes()),
            Scalar::Int { .. }
            | Scalar::Bool
            | Scalar::Ptr
            | Scalar::Ksym
            | Scalar::ProbeName
            | Scalar::Timestamp(_)
            | Scalar::Enum { .. }
            | Scalar::Named(_)
            | Scalar::IntArray(_) => V::Int(self.load_i64(p, 0)?),
            Scalar::Stack(spec) if !spec.user => V::Int(self.load_i64(p, 0)?),
            Scalar::Tuple { id, .. } => V::Tuple(p, id),
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
    pub(super) fn tuple_kind(&self, id: u32) -> Scalar {
        Scalar::Tuple { id, size: self.checked.plan.tuples[id as usize].size as u32 }
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
            self.store_value(buf, field.offset as u64, field.kind, v)?;
        }
        Ok(V::Tuple(buf, id))
    }

    /// A record `(name = item, …)`, where `e` is the record expression.
    pub(super) fn record(&mut self, f: &mut Func<'ctx>, e: &Expr, items: &[(Name, Expr)]) -> Result<V<'ctx>> {
        let (buf, id, fields, names) = self.record_buffer(f, e)?;
        // Evaluated as written, each stored where the record type keeps its name.
        for (name, item) in items {
            let v = self.expr(f, item)?;
            let i = names.iter().position(|n| *n == name.name).ok_or_else(|| CodegenError("record field".into()))?;
            self.store_value(buf, fields[i].offset as u64, fields[i].kind, v)?;
        }
        Ok(V::Tuple(buf, id))
    }

    /// `typeinfo(x)`: its record of constants, `btf_id` 0 and the type's two names.
    pub(super) fn typeinfo(&mut self, f: &mut Func<'ctx>, e: &Expr, base: &str, full: &str) -> Result<V<'ctx>> {
        let (buf, id, fields, names) = self.record_buffer(f, e)?;
        for (field, name) in fields.iter().zip(&names) {
            let v = match name.as_str() {
                "base_type" => self.string_literal(f, base)?,
                "full_type" => self.string_literal(f, full)?,
                _ => V::Int(self.i64().const_zero()),
            };
            self.store_value(buf, field.offset as u64, field.kind, v)?;
        }
        Ok(V::Tuple(buf, id))
    }

    /// A uprobe's, raw tracepoint's or fentry's `args` as a record: each argument's context slot
    /// stored in its field.
    pub(super) fn args_record(&mut self, f: &mut Func<'ctx>, e: &Expr, slots: &[(u32, u32, bool)]) -> Result<V<'ctx>> {
        let (buf, id, fields, _) = self.record_buffer(f, e)?;
        for (field, &(index, size, signed)) in fields.iter().zip(slots) {
            let v = self.ctx_slot(f, index, size, signed)?;
            self.store_value(buf, field.offset as u64, field.kind, v)?;
        }
        Ok(V::Tuple(buf, id))
    }

    /// A tracepoint's `args` as a record value: each field of its record read as `args.NAME`
    /// reads it (an integer array: its bytes), stored in the record's order.
    pub(super) fn tracepoint_args(&mut self, f: &mut Func<'ctx>, e: &Expr, fields: &[crate::kernel::tracefs::Field]) -> Result<V<'ctx>> {
        let (buf, id, slots, _) = self.record_buffer(f, e)?;
        for (slot, field) in slots.iter().zip(fields) {
            let at = self.offset(f.ctx_ptr, field.offset as u64)?;
            let v = match field.kind {
                FieldKind::IntArray { .. } => {
                    let len = field.size as u32;
                    let bytes = self.buffer(f, len, "array")?;
                    let n = self.i64().const_int(len as u64, false);
                    self.read_checked(f, sys::BPF_FUNC_probe_read_kernel, &[bytes.into(), n.into(), at.into()])?;
                    V::Str(bytes, len)
                }
                _ => self.tp_field_at(f, at, field)?,
            };
            self.store_value(buf, slot.offset as u64, slot.kind, v)?;
        }
        Ok(V::Tuple(buf, id))
    }

    /// A buffer for the record value of expression `e`: the buffer, the record's tuple id,
    /// and its fields with their names.
    fn record_buffer(&mut self, f: &mut Func<'ctx>, e: &Expr) -> Result<(PointerValue<'ctx>, u32, Vec<crate::plan::ArgField>, Vec<String>)> {
        let Type::Tuple(id) = self.ty(f, e) else {
            return Err(CodegenError("untyped record".into()));
        };
        let kind = self.tuple_kind(id);
        let buf = self.buffer(f, kind.size() as u32, "record")?;
        let def = &self.checked.plan.tuples[id as usize];
        Ok((buf, id, def.fields.clone(), def.names.clone().unwrap_or_default()))
    }

    /// The index of field `name` if `base` is a record (a tuple with field names).
    pub(super) fn record_field(&self, f: &Func<'ctx>, base: &Expr, name: &str) -> Option<usize> {
        let Type::Tuple(id) = self.ty(f, base) else { return None };
        self.checked.plan.tuples[id as usize].names.as_ref()?.iter().position(|n| n == name)
    }
}
