//! User maps: the table of them made with the module, keys, assignments of plain values
//! (aggregations are `aggregate.rs`), reads, and the map functions `has_key()`, `len()`,
//! `delete()`; the globals maps the runtime fills.

use super::btf::Btf;
use super::expr::V;
use super::{CodegenError, Func, Gen, Result};
use crate::parser::ast::{Expr, ExprKind, MapRef};
use crate::plan::{self, MapDef, Scalar, ValueKind};
use crate::sema::{Res, Type};
use inkwell::module::Linkage;
use inkwell::values::{FunctionValue, GlobalValue, IntValue, PointerValue};
use libbpf_rs::libbpf_sys as sys;
use std::collections::HashMap;

/// The user maps, made once with the module: each one's global and plan definition at its
/// index in the plan (which sema's `Res::MapRead` gives), and the index of each name for the
/// one place sema records none — the target of an assignment, which is not an expression.
pub(crate) struct MapTable<'ctx, 'm> {
    maps: Vec<(GlobalValue<'ctx>, &'m MapDef)>,
    by_name: HashMap<&'m str, usize>,
}

impl<'ctx, 'm> MapTable<'ctx, 'm> {
    /// Declares every map of the plan as a BTF-defined map.
    pub fn new(btf: &mut Btf<'ctx, 'm>, defs: &'m [MapDef]) -> MapTable<'ctx, 'm> {
        let maps = defs
            .iter()
            .map(|m| (btf.map(&m.bpf_name, map_type(m), m.max_entries, m.bpf_key_size() as u64, m.value.size() as u64), m))
            .collect();
        let by_name = defs.iter().enumerate().map(|(i, m)| (m.name.as_str(), i)).collect();
        MapTable { maps, by_name }
    }

    /// Map `index` of the plan: its global and its definition.
    pub fn get(&self, index: usize) -> Result<(GlobalValue<'ctx>, &'m MapDef)> {
        self.maps.get(index).copied().ok_or_else(|| CodegenError(format!("no map {index} in the plan")))
    }

    /// The plan index of map `name`.
    pub fn index(&self, name: &str) -> Result<usize> {
        self.by_name.get(name).copied().ok_or_else(|| CodegenError(format!("unknown map {name}")))
    }
}

/// The BPF map type of a user map: aggregations are per-CPU; `lruhash` maps evict.
fn map_type(m: &MapDef) -> sys::bpf_map_type {
    match (m.per_cpu(), m.lru) {
        (true, false) => sys::BPF_MAP_TYPE_PERCPU_HASH,
        (true, true) => sys::BPF_MAP_TYPE_LRU_PERCPU_HASH,
        (false, false) => sys::BPF_MAP_TYPE_HASH,
        (false, true) => sys::BPF_MAP_TYPE_LRU_HASH,
    }
}

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// The plan index of the map expression `e` (`@m[…]`, or `@m` given to a map function).
    pub(super) fn map_of(&self, f: &Func<'ctx>, e: &Expr) -> Result<usize> {
        match *self.res(f, e) {
            Res::MapRead(index) => Ok(index),
            _ => Err(CodegenError("a map sema did not resolve".into())),
        }
    }

    /// The BPF key of map `index` from key expressions, each part stored as the plan lays the
    /// key out (a tuple key is the key of its elements); histograms leave 8 bytes for the
    /// bucket.
    pub(super) fn key(&mut self, f: &mut Func<'ctx>, index: usize, keys: &[Expr]) -> Result<PointerValue<'ctx>> {
        let (_, def) = self.maps.get(index)?;
        let buf = self.buffer(f, def.bpf_key_size() as u32, "key")?;
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
        for (v, field) in parts.into_iter().zip(&def.key) {
            self.store_value(buf, offset, *field, v)?;
            offset += field.size() as u64;
        }
        Ok(buf)
    }

    /// `@m[keys] = value`: stored, or for an aggregation (`count()`, `hist(x)`, …) updated.
    pub(super) fn assign_map(&mut self, f: &mut Func<'ctx>, map: &MapRef, value: &Expr) -> Result<()> {
        let index = self.maps.index(&map.name)?;
        let (_, def) = self.maps.get(index)?;
        let key = self.key(f, index, &map.keys)?;
        if def.value.is_aggregation() {
            let args: &[Expr] = match &value.kind {
                ExprKind::Call { args, .. } => args,
                _ => &[],
            };
            return self.aggregate(f, index, key, args);
        }
        let v = self.expr(f, value)?;
        self.store_map_value(f, index, key, v)
    }

    /// Stores `v` as the value at `key` in map `index`, laid out as the plan's value kind says.
    pub(super) fn store_map_value(&mut self, f: &mut Func<'ctx>, index: usize, key: PointerValue<'ctx>, v: V<'ctx>) -> Result<()> {
        let (_, def) = self.maps.get(index)?;
        let kind = def.value.scalar()
            .ok_or_else(|| CodegenError(format!("{} is stored in place, not assigned", def.value.name())))?;
        let buf = self.buffer(f, kind.size() as u32, "val")?;
        self.store_value(buf, 0, kind, v)?;
        self.update_user(f, index, key, buf, 0)?;
        Ok(())
    }

    /// A read of map entry `map` (the expression `e`): an integer, or a copy of the value
    /// (zeroed when there is none).
    pub(super) fn map_read(&mut self, f: &mut Func<'ctx>, e: &Expr, map: &MapRef) -> Result<V<'ctx>> {
        let index = self.map_of(f, e)?;
        let (global, def) = self.maps.get(index)?;
        let key = self.key(f, index, &map.keys)?;
        let (len, tuple) = match (self.ty(f, e), def.value) {
            (Type::Str { len }, _) => (len, None),
            (Type::Inet, _) => (plan::INET_SIZE as u32, None),
            (Type::IntArray(a), _) if a.in_memory() => (a.size() as u32, None),
            (Type::Buffer, _) => (plan::BUF_SIZE as u32, None),
            (Type::Stack(spec), _) if spec.user => (spec.size() as u32, None),
            (_, ValueKind::Scalar(Scalar::Tuple { id, size })) => (size, Some(id)),
            (_, kind) if kind.is_aggregation() => return Ok(V::Int(self.all_cpus(f, index, key, kind)?)),
            _ => {
                let p = self.lookup(global, key)?;
                self.lookup_checked(f, p)?;
                return Ok(V::Int(self.load_or_zero(f, p)?));
            }
        };
        let p = self.lookup(global, key)?;
        self.lookup_checked(f, p)?;
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

    /// A built tool's string parameter the runtime set in the string globals map (empty until
    /// it does), read in place: no copy on the 512-byte stack.
    pub(super) fn global_str(&mut self, f: &mut Func<'ctx>, index: u32) -> Result<V<'ctx>> {
        let map = self.str_globals.ok_or_else(|| CodegenError("a string parameter outside a built tool".into()))?;
        let p = self.lookup_index(f, map, index)?;
        // An array's entry below its size is always there: the check is the verifier's.
        let found = self.ctx.append_basic_block(f.function, "strparam");
        let missing = self.ctx.append_basic_block(f.function, "no_strparam");
        let null = self.builder.build_is_null(p, "null")?;
        self.builder.build_conditional_branch(null, missing, found)?;
        self.builder.position_at_end(missing);
        match f.callback {
            true => self.builder.build_return(Some(&self.i64().const_zero()))?,
            false => self.builder.build_return(Some(&self.ctx.i32_type().const_zero()))?,
        };
        self.builder.position_at_end(found);
        Ok(V::Str(p, self.checked.plan.str_len))
    }

    /// A value the runtime set in the globals map (0 until it does).
    pub(super) fn global(&mut self, f: &mut Func<'ctx>, index: u32) -> Result<IntValue<'ctx>> {
        let p = self.lookup_index(f, self.globals, index)?;
        self.load_or_zero(f, p)
    }

    /// The lookup of entry `index` of array `map` (null when there is none).
    fn lookup_index(&mut self, f: &mut Func<'ctx>, map: GlobalValue<'ctx>, index: u32) -> Result<PointerValue<'ctx>> {
        let key = self.short_slot(f, self.ctx.i32_type().into(), "gkey")?;
        self.builder.build_store(key, self.ctx.i32_type().const_int(index as u64, false))?;
        self.lookup(map, key)
    }

    /// The integer at `key` in user map `index`, or 0 when there is none.
    pub(super) fn read_int(&mut self, f: &mut Func<'ctx>, index: usize, key: PointerValue<'ctx>) -> Result<IntValue<'ctx>> {
        let (global, _) = self.maps.get(index)?;
        let p = self.lookup(global, key)?;
        self.load_or_zero(f, p)
    }

    /// The i64 `p` points to, or 0 when `p` is null (a map lookup that found nothing).
    fn load_or_zero(&mut self, f: &mut Func<'ctx>, p: PointerValue<'ctx>) -> Result<IntValue<'ctx>> {
        self.when_found(f, p, |g, _| g.load_i64(p, 0))
    }

    /// What `body` makes when `p` (a map lookup) is not null, else 0.
    pub(super) fn when_found(
        &mut self,
        f: &mut Func<'ctx>,
        p: PointerValue<'ctx>,
        body: impl FnOnce(&mut Self, &mut Func<'ctx>) -> Result<IntValue<'ctx>>,
    ) -> Result<IntValue<'ctx>> {
        let found = self.ctx.append_basic_block(f.function, "found");
        let join = self.ctx.append_basic_block(f.function, "read");
        let from = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let null = self.builder.build_is_null(p, "null")?;
        self.builder.build_conditional_branch(null, join, found)?;
        self.builder.position_at_end(found);
        let v = body(self, f)?;
        let found_end = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        self.builder.build_unconditional_branch(join)?;
        self.builder.position_at_end(join);
        let phi = self.builder.build_phi(self.i64(), "value")?;
        phi.add_incoming(&[(&v, found_end), (&self.i64().const_zero(), from)]);
        Ok(phi.as_basic_value().into_int_value())
    }

    /// `has_key(@m, key…)`.
    pub(super) fn has_key(&mut self, f: &mut Func<'ctx>, args: &[Expr]) -> Result<V<'ctx>> {
        let index = self.map_of(f, &args[0])?;
        let (global, def) = self.maps.get(index)?;
        let key = self.key(f, index, &args[1..])?;
        if def.value.is_histogram() {
            return Ok(V::Int(self.hist_has_key(f, index, key)?));
        }
        let p = self.lookup(global, key)?;
        let found = self.builder.build_is_not_null(p, "has")?;
        Ok(V::Int(self.builder.build_int_z_extend(found, self.i64(), "b")?))
    }

    /// `find(@m, key, $v)`: 1 and the value stored in `$v` when the entry exists, else 0.
    pub(super) fn find(&mut self, f: &mut Func<'ctx>, args: &[Expr]) -> Result<V<'ctx>> {
        let ExprKind::Var(var) = &args[2].kind else {
            return Err(CodegenError("find into a non-variable".into()));
        };
        let index = self.map_of(f, &args[0])?;
        let (global, def) = self.maps.get(index)?;
        let kind = def.value.scalar().ok_or_else(|| CodegenError("find of an aggregation".into()))?;
        let key = self.key(f, index, &args[1..2])?;
        let p = self.lookup(global, key)?;
        let found = self.when_found(f, p, |g, f| {
            let v = g.value_at(p, kind)?;
            g.store_var(f, var, v)?;
            Ok(g.i64().const_int(1, false))
        })?;
        Ok(V::Int(found))
    }

    /// `len(@m)`: bpf_for_each_map_elem returns how many entries its callback visited.
    pub(super) fn map_len(&mut self, f: &mut Func<'ctx>, args: &[Expr]) -> Result<V<'ctx>> {
        if let Type::Stack(spec) = self.ty(f, &args[0]) {
            return Ok(V::Int(self.stack_len(f, spec)?));
        }
        let index = self.map_of(f, &args[0])?;
        let (global, def) = self.maps.get(index)?;
        if def.value.is_histogram() {
            return Ok(V::Int(self.hist_len(f, index)?));
        }
        let callback = self.count_callback()?.as_global_value().as_pointer_value();
        let null = self.ctx.ptr_type(Default::default()).const_null();
        let zero = self.i64().const_zero();
        let map = self.map_ptr(global);
        Ok(V::Int(self.call_helper(sys::BPF_FUNC_for_each_map_elem, &[map, callback.into(), null.into(), zero.into()])?))
    }

    /// `delete(@m, key)` or `delete(@m[key])`: 1 when an entry was removed, else 0.
    pub(super) fn delete_entry(&mut self, f: &mut Func<'ctx>, args: &[Expr]) -> Result<V<'ctx>> {
        let ExprKind::Map(map) = &args[0].kind else {
            return Err(CodegenError("delete of a non-map".into()));
        };
        let index = self.map_of(f, &args[0])?;
        let (global, def) = self.maps.get(index)?;
        let keys = if args.len() == 2 { &args[1..] } else { &map.keys[..] };
        let key = self.key(f, index, keys)?;
        if def.value.is_histogram() {
            return Ok(V::Int(self.hist_delete(f, index, key)?));
        }
        let status = self.delete(global, key)?;
        let removed = self.builder.build_int_compare(inkwell::IntPredicate::EQ, status, self.i64().const_zero(), "removed")?;
        Ok(V::Int(self.builder.build_int_z_extend(removed, self.i64(), "b")?))
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
