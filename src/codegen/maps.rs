//! User maps: keys, assignments of plain values (aggregations are `aggregate.rs`), reads,
//! and the map functions `has_key()`, `len()`, `delete()`; the globals map the runtime fills.

use super::expr::V;
use super::helpers::id;
use super::{CodegenError, Func, Gen, Result};
use crate::parser::ast::{Expr, ExprKind, MapRef};
use crate::plan::{self, KeyField, ValueKind};
use crate::sema::{Res, Type};
use inkwell::module::Linkage;
use inkwell::values::{FunctionValue, IntValue, PointerValue};

impl<'ctx, 'm> Gen<'ctx, 'm> {
    pub(super) fn map_index(&self, name: &str) -> Result<usize> {
        self.checked.map_index(name).ok_or_else(|| CodegenError(format!("unknown map {name}")))
    }

    /// Builds the BPF key of a map reference; histograms leave 8 bytes for the bucket.
    pub(super) fn key(&mut self, f: &mut Func<'ctx>, map: &MapRef, index: usize) -> Result<PointerValue<'ctx>> {
        self.key_of(f, &map.keys, index)
    }

    /// Builds the BPF key of map `index` from key expressions.
    pub(super) fn key_of(&mut self, f: &mut Func<'ctx>, keys: &[Expr], index: usize) -> Result<PointerValue<'ctx>> {
        let def = &self.checked.plan.maps[index];
        let map_name = def.name.clone();
        let buf = self.buffer(f, def.bpf_key_size() as u32, "key")?;
        // A tuple key is the key of its elements.
        let mut parts = Vec::new();
        for k in keys {
            match self.expr(f, k)? {
                V::Tuple(p, id) => {
                    for i in 0..self.checked.plan.tuples[id as usize].fields.len() {
                        parts.push(self.element(p, id, i)?);
                    }
                }
                v => parts.push(v),
            }
        }
        let mut offset = 0u64;
        for (v, field) in parts.into_iter().zip(def.key.clone()) {
            match (v, field) {
                (
                    V::Int(i),
                    KeyField::Int { .. }
                    | KeyField::Ksym
                    | KeyField::Stack(_)
                    | KeyField::ProbeName
                    | KeyField::Timestamp(_)
                    | KeyField::IntArray(_),
                ) => {
                    self.store_i64(buf, offset, i)?
                }
                (V::Str(p, n), KeyField::Inet | KeyField::Usym | KeyField::Stack(_)) => {
                    let at = self.offset(buf, offset)?;
                    self.copy(at, p, n.min(field.size() as u32))?;
                }
                (V::Str(p, n), KeyField::Str { len }) => {
                    let at = self.offset(buf, offset)?;
                    self.copy(at, p, n.min(len))?;
                }
                _ => return Err(CodegenError(format!("key type mismatch in {map_name}"))),
            }
            offset += field.size() as u64;
        }
        Ok(buf)
    }

    pub(super) fn assign_map(&mut self, f: &mut Func<'ctx>, map: &MapRef, value: &Expr) -> Result<()> {
        let index = self.map_index(&map.name)?;
        let def = self.checked.plan.maps[index].clone();
        let global = self.maps[index];
        let key = self.key(f, map, index)?;
        match def.value {
            ValueKind::Int { .. }
            | ValueKind::Ksym
            | ValueKind::Timestamp(_)
            | ValueKind::IntArray(_)
            | ValueKind::Stack(plan::StackSpec { user: false, .. }) => {
                let v = self.expr(f, value)?.int()?;
                let slot = self.slot(f, self.i64().into(), "val")?;
                self.builder.build_store(slot, v)?;
                self.update(global, key, slot, 0)?;
            }
            ValueKind::Inet | ValueKind::Stack(_) => {
                let (p, n) = self.expr(f, value)?.string()?;
                let len = def.value.size() as u32;
                let buf = self.buffer(f, len, "val")?;
                self.copy(buf, p, n.min(len))?;
                self.update(global, key, buf, 0)?;
            }
            ValueKind::Str { len } => {
                let (p, n) = self.expr(f, value)?.string()?;
                let buf = self.buffer(f, len, "val")?;
                self.copy(buf, p, n.min(len))?;
                self.update(global, key, buf, 0)?;
            }
            ValueKind::Tuple { id, size } => {
                let v = self.expr(f, value)?;
                let buf = self.buffer(f, size, "val")?;
                self.store_value(buf, plan::ArgKind::Tuple { id, size }, v)?;
                self.update(global, key, buf, 0)?;
            }
            _ => {
                let args: &[Expr] = match &value.kind {
                    ExprKind::Call { args, .. } => args,
                    _ => &[],
                };
                self.aggregate(f, index, key, args)?;
            }
        }
        Ok(())
    }

    pub(super) fn map_read(&mut self, f: &mut Func<'ctx>, e: &Expr, map: &MapRef) -> Result<V<'ctx>> {
        let index = self.map_index(&map.name)?;
        let key = self.key(f, map, index)?;
        let (len, tuple) = match (self.ty(f, e), self.checked.plan.maps[index].value) {
            (Type::Str { len }, _) => (len, None),
            (Type::Inet, _) => (plan::INET_SIZE as u32, None),
            (Type::Stack(spec), _) if spec.user => (spec.size() as u32, None),
            (_, ValueKind::Tuple { id, size }) => (size, Some(id)),
            _ => return Ok(V::Int(self.read_int(f, index, key)?)),
        };
        let p = self.lookup(self.maps[index], key)?;
        let found = self.ctx.append_basic_block(f.function, "found");
        let join = self.ctx.append_basic_block(f.function, "read");
        let buf = self.buffer(f, len, "mapstr")?;
        let null = self.builder.build_is_null(p, "null")?;
        self.builder.build_conditional_branch(null, join, found)?;
        self.builder.position_at_end(found);
        self.copy(buf, p, len)?;
        self.builder.build_unconditional_branch(join)?;
        self.builder.position_at_end(join);
        Ok(match tuple {
            Some(id) => V::Tuple(buf, id),
            None => V::Str(buf, len),
        })
    }

    /// A value the runtime set in the globals map (0 until it does).
    pub(super) fn global(&mut self, f: &mut Func<'ctx>, index: u32) -> Result<IntValue<'ctx>> {
        let key = self.slot(f, self.ctx.i32_type().into(), "gkey")?;
        self.builder.build_store(key, self.ctx.i32_type().const_int(index as u64, false))?;
        let p = self.lookup(self.globals, key)?;
        self.load_or_zero(f, p)
    }

    /// The integer at `key` in user map `index`, or 0 when there is none.
    pub(super) fn read_int(&mut self, f: &mut Func<'ctx>, index: usize, key: PointerValue<'ctx>) -> Result<IntValue<'ctx>> {
        let p = self.lookup(self.maps[index], key)?;
        self.load_or_zero(f, p)
    }

    /// The i64 `p` points to, or 0 when `p` is null (a map lookup that found nothing).
    pub(super) fn load_or_zero(&mut self, f: &mut Func<'ctx>, p: PointerValue<'ctx>) -> Result<IntValue<'ctx>> {
        let found = self.ctx.append_basic_block(f.function, "found");
        let join = self.ctx.append_basic_block(f.function, "read");
        let from = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let null = self.builder.build_is_null(p, "null")?;
        self.builder.build_conditional_branch(null, join, found)?;
        self.builder.position_at_end(found);
        let v = self.load_i64(p, 0)?;
        self.builder.build_unconditional_branch(join)?;
        self.builder.position_at_end(join);
        let phi = self.builder.build_phi(self.i64(), "value")?;
        phi.add_incoming(&[(&v, found), (&self.i64().const_zero(), from)]);
        Ok(phi.as_basic_value().into_int_value())
    }

    /// The plan index of the map that is argument 0 of a map function (`print`, `clear`, …).
    pub(super) fn map_arg(&self, f: &Func<'ctx>, args: &[Expr], what: &str) -> Result<usize> {
        match *self.res(f, &args[0]) {
            Res::MapRead(index) => Ok(index),
            _ => Err(CodegenError(format!("{what} of unresolved map"))),
        }
    }

    /// `has_key(@m, key…)`.
    pub(super) fn has_key(&mut self, f: &mut Func<'ctx>, args: &[Expr]) -> Result<V<'ctx>> {
        let index = self.map_arg(f, args, "has_key")?;
        let key = self.key_of(f, &args[1..], index)?;
        let p = self.lookup(self.maps[index], key)?;
        let found = self.builder.build_is_not_null(p, "has")?;
        Ok(V::Int(self.builder.build_int_z_extend(found, self.i64(), "b")?))
    }

    /// `len(@m)`: bpf_for_each_map_elem returns how many entries its callback visited.
    pub(super) fn map_len(&mut self, f: &mut Func<'ctx>, args: &[Expr]) -> Result<V<'ctx>> {
        let index = self.map_arg(f, args, "len")?;
        let callback = self.count_callback()?.as_global_value().as_pointer_value();
        let null = self.ctx.ptr_type(Default::default()).const_null();
        let map = self.map_ptr(self.maps[index]);
        let zero = self.i64().const_zero();
        Ok(V::Int(self.call_helper(id::FOR_EACH_MAP_ELEM, &[map, callback.into(), null.into(), zero.into()])?))
    }

    /// `delete(@m[key])`.
    pub(super) fn delete_entry(&mut self, f: &mut Func<'ctx>, args: &[Expr]) -> Result<V<'ctx>> {
        let ExprKind::Map(map) = &args[0].kind else {
            return Err(CodegenError("delete of a non-map".into()));
        };
        let index = self.map_index(&map.name)?;
        let key = self.key(f, map, index)?;
        self.delete(self.maps[index], key)?;
        Ok(V::Void)
    }

    /// A `bpf_for_each_map_elem` callback that visits every entry (returns 0, "go on"): the
    /// helper's result is then the number of entries. One BPF subprogram, shared.
    fn count_callback(&mut self) -> Result<FunctionValue<'ctx>> {
        if let Some(f) = self.count_callback {
            return Ok(f);
        }
        let ptr = self.ctx.ptr_type(Default::default());
        let fn_type = self.i64().fn_type(&[ptr.into(), ptr.into(), ptr.into(), ptr.into()], false);
        let function = self.module.add_function("rt_count_entry", fn_type, Some(Linkage::Internal));
        let nounwind = self.ctx.create_enum_attribute(inkwell::attributes::Attribute::get_named_enum_kind_id("nounwind"), 0);
        function.add_attribute(inkwell::attributes::AttributeLoc::Function, nounwind);
        self.btf.callback(function, "rt_count_entry");
        let builder = self.ctx.create_builder();
        builder.position_at_end(self.ctx.append_basic_block(function, "entry"));
        builder.build_return(Some(&self.i64().const_zero()))?;
        self.count_callback = Some(function);
        Ok(function)
    }
}
