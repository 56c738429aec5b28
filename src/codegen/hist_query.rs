//! `has_key()`, `delete()` and `len()` of a `hist()` or `lhist()` map, whose BPF keys are the
//! user's key and a bucket index (one counter per key and bucket, `aggregate.rs`): a key is in
//! the map when one of its buckets is, `delete()` removes every bucket of the key, and `len()`
//! counts keys, not buckets — each key once, at the lowest bucket it has. Buckets are walked
//! with `bpf_loop` (Linux 5.17; the per-CPU reads of `percpu.rs` need 5.19 already).

use super::{CodegenError, Func, Gen, Result};
use crate::plan::{self, ValueKind};
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::module::Linkage;
use inkwell::values::{FunctionValue, IntValue, PointerValue};
use inkwell::IntPredicate;
use libbpf_rs::libbpf_sys as sys;

/// What the `bpf_loop` callback does with each bucket of a key.
#[derive(Clone, Copy, PartialEq)]
enum BucketOp {
    /// Looks it up; the first found ends the loop.
    Find,
    /// Deletes it; the loop goes on over every bucket.
    Delete,
}

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// Whether histogram map `index` has a bucket for the user key in `key` (whose bucket
    /// field this overwrites): 1 or 0.
    pub(super) fn hist_has_key(&mut self, f: &mut Func<'ctx>, index: usize, key: PointerValue<'ctx>) -> Result<IntValue<'ctx>> {
        let buckets = self.i64().const_int(self.bucket_count(index)?, false);
        self.walk_buckets(f, index, key, buckets, BucketOp::Find)
    }

    /// `delete()` of the user key in `key` from histogram map `index`: every bucket of it
    /// removed; 1 when one was, else 0.
    pub(super) fn hist_delete(&mut self, f: &mut Func<'ctx>, index: usize, key: PointerValue<'ctx>) -> Result<IntValue<'ctx>> {
        let buckets = self.i64().const_int(self.bucket_count(index)?, false);
        self.walk_buckets(f, index, key, buckets, BucketOp::Delete)
    }

    /// 1 when map `index` has an entry for `key`'s user key at a bucket below `limit`, else 0.
    fn any_bucket_below(&mut self, f: &mut Func<'ctx>, index: usize, key: PointerValue<'ctx>, limit: IntValue<'ctx>) -> Result<IntValue<'ctx>> {
        self.walk_buckets(f, index, key, limit, BucketOp::Find)
    }

    /// `op` on each bucket below `limit` of `key`'s user key in map `index`; 1 when an entry
    /// was found (or deleted), else 0: `bpf_loop` (Linux 5.17) over the buckets, whose
    /// callback the verifier walks once however many buckets there are. Its context is a
    /// copy of the key with 8 bytes after it, set to 1 by the callback that finds an entry.
    fn walk_buckets(&mut self, f: &mut Func<'ctx>, index: usize, key: PointerValue<'ctx>, limit: IntValue<'ctx>, op: BucketOp) -> Result<IntValue<'ctx>> {
        let i64 = self.i64();
        let (_, def) = self.maps.get(index)?;
        let key_size = def.bpf_key_size() as u32;
        let buckets = i64.const_int(self.bucket_count(index)?, false);
        let ctx = self.slot(f, self.ctx.i8_type().array_type(key_size + 8).into(), "hctx")?;
        self.copy(ctx, key, key_size)?;
        self.store_i64(ctx, key_size as u64, i64.const_zero())?;
        let over = self.builder.build_int_compare(IntPredicate::UGT, limit, buckets, "over")?;
        let n = self.builder.build_select(over, buckets, limit, "n")?.into_int_value();
        let callback = self.bucket_callback(f, index, op)?.as_global_value().as_pointer_value();
        self.call_helper(sys::BPF_FUNC_loop, &[n.into(), callback.into(), ctx.into(), i64.const_zero().into()])?;
        self.load_i64(ctx, key_size as u64)
    }

    /// The `bpf_loop` callback of `walk_buckets` for map `index` and `op` in `f`'s program,
    /// made once: the index as the key's bucket, looked up (found, the flag set and the loop
    /// ended) or deleted (deleted, the flag set; the loop goes on).
    fn bucket_callback(&mut self, f: &Func<'ctx>, index: usize, op: BucketOp) -> Result<FunctionValue<'ctx>> {
        let kind = if op == BucketOp::Find { "bucket" } else { "unbucket" };
        let name = format!("{}_hist_{kind}{index}", self.checked.plan.probes[f.prog].prog_name);
        if let Some(function) = self.module.get_function(&name) {
            return Ok(function);
        }
        let (i64, ptr) = (self.i64(), self.ctx.ptr_type(inkwell::AddressSpace::default()));
        let function = self.module.add_function(&name, i64.fn_type(&[i64.into(), ptr.into()], false), Some(Linkage::Internal));
        function.set_section(Some(".text"));
        let nounwind = self.ctx.create_enum_attribute(Attribute::get_named_enum_kind_id("nounwind"), 0);
        function.add_attribute(AttributeLoc::Function, nounwind);
        self.btf.loop_callback(function, &name);
        let caller = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let param = |i: u32| function.get_nth_param(i).ok_or_else(|| CodegenError("callback parameter".into()));
        let (bucket, ctx) = (param(0)?.into_int_value(), param(1)?.into_pointer_value());
        self.builder.position_at_end(self.ctx.append_basic_block(function, "entry"));
        let (global, def) = self.maps.get(index)?;
        self.store_i64(ctx, def.user_key_size() as u64, bucket)?;
        let found = if op == BucketOp::Find {
            let p = self.lookup(global, ctx)?;
            self.builder.build_is_not_null(p, "found")?
        } else {
            let status = self.delete(global, ctx)?;
            self.builder.build_int_compare(IntPredicate::EQ, status, i64.const_zero(), "removed")?
        };
        let stop = i64.const_int((op == BucketOp::Find) as u64, false);
        let hit = self.ctx.append_basic_block(function, "hit");
        let miss = self.ctx.append_basic_block(function, "miss");
        self.builder.build_conditional_branch(found, hit, miss)?;
        self.builder.position_at_end(hit);
        self.store_i64(ctx, def.bpf_key_size() as u64, i64.const_int(1, false))?;
        self.builder.build_return(Some(&stop))?;
        self.builder.position_at_end(miss);
        self.builder.build_return(Some(&i64.const_zero()))?;
        self.builder.position_at_end(caller);
        Ok(function)
    }

    /// `len()` of histogram map `index`: `bpf_for_each_map_elem` with a callback that counts
    /// an entry when no lower bucket of its key exists.
    pub(super) fn hist_len(&mut self, f: &mut Func<'ctx>, index: usize) -> Result<IntValue<'ctx>> {
        let i64 = self.i64();
        let (global, def) = self.maps.get(index)?;
        let key_size = def.bpf_key_size() as u32;
        let name = format!("{}_hist_len{index}", self.checked.plan.probes[f.prog].prog_name);
        // The count starts at a random number, taken off at the end: to the verifier, which
        // walks the callback until its states repeat, it is then an unknown number from the
        // start, not 0, 1, 2, … each a new state.
        let count = self.slot(f, i64.into(), "keys")?;
        let origin = self.call_helper(sys::BPF_FUNC_get_prandom_u32, &[])?;
        self.builder.build_store(count, origin)?;
        let (mut g, [entry_key, _, ctx], caller) = self.begin_callback(f, &name)?;
        let start = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let key = self.slot(&g, self.ctx.i8_type().array_type(key_size).into(), "hkey")?;
        self.copy(key, entry_key, key_size)?;
        let bucket = self.load_i64(key, def.user_key_size() as u64)?;
        let lower = self.any_bucket_below(&mut g, index, key, bucket)?;
        let b = &self.builder;
        let first = b.build_int_compare(IntPredicate::EQ, lower, i64.const_zero(), "first")?;
        let old = b.build_load(i64, ctx, "n")?.into_int_value();
        let add = b.build_int_z_extend(first, i64, "add")?;
        b.build_store(ctx, b.build_int_add(old, add, "n")?)?;
        b.build_return(Some(&i64.const_zero()))?;
        g.allocas.position_at_end(g.entry);
        g.allocas.build_unconditional_branch(start)?;
        self.builder.position_at_end(caller);
        let callback = g.function.as_global_value().as_pointer_value();
        let map = self.map_ptr(global);
        let zero = i64.const_zero();
        self.call_helper(sys::BPF_FUNC_for_each_map_elem, &[map, callback.into(), count.into(), zero.into()])?;
        let end = self.builder.build_load(i64, count, "len")?.into_int_value();
        Ok(self.builder.build_int_sub(end, origin, "len")?)
    }

    /// How many buckets map `index`'s histogram has.
    fn bucket_count(&self, index: usize) -> Result<u64> {
        let (_, def) = self.maps.get(index)?;
        Ok(match def.value {
            ValueKind::Hist { k } => plan::hist_buckets(k) as u64,
            ValueKind::Lhist { min, max, step } => plan::lhist_buckets(min, max, step) as u64,
            other => return Err(CodegenError(format!("buckets of a {} map", other.name()))),
        })
    }
}
