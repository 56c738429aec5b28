//! A per-CPU aggregation's value over every CPU, read inside a probe (`if (@n > 10)`,
//! `(int64)@s`, a `for` loop's value): `bpf_map_lookup_percpu_elem` (Linux 5.19) on each
//! possible CPU, combined as the runtime combines them when it prints the map — counts and
//! sums added, the least or greatest of the CPUs that set a min/max, an average's sums and
//! counts added and then divided. The loop's bound is the read-only CPU count the runtime
//! writes before loading (`plan::NCPUS_GLOBAL`), so a built tool counts its own machine's
//! CPUs and the verifier sees a constant bound.

use super::{CodegenError, Func, Gen, Result};
use crate::parser::ast::BinOp;
use crate::plan::{self, ValueKind};
use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;
use libbpf_rs::libbpf_sys as sys;

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// The value at `key` of per-CPU map `index` (a count, sum, min, max or avg) over every
    /// CPU; 0 when the key is missing, or when no CPU set a min/max.
    pub(super) fn all_cpus(&mut self, f: &mut Func<'ctx>, index: usize, key: PointerValue<'ctx>, kind: ValueKind) -> Result<IntValue<'ctx>> {
        let i64 = self.i64();
        let b = &self.builder;
        // `acc` the count, sum or best value; `second` an average's count, or whether any CPU
        // set a min/max.
        let (acc, second, cpu) = (self.slot(f, i64.into(), "acc")?, self.slot(f, i64.into(), "acc2")?, self.slot(f, i64.into(), "cpu")?);
        for p in [acc, second, cpu] {
            b.build_store(p, i64.const_zero())?;
        }
        let ncpus = self.ncpus_global();
        let cond = self.ctx.append_basic_block(f.function, "cpus");
        let body = self.ctx.append_basic_block(f.function, "cpu");
        let found = self.ctx.append_basic_block(f.function, "cpu_found");
        let done = self.ctx.append_basic_block(f.function, "cpus_done");
        let b = &self.builder;
        b.build_unconditional_branch(cond)?;
        b.position_at_end(cond);
        let c = b.build_load(i64, cpu, "c")?.into_int_value();
        let n = b.build_load(i64, ncpus.as_pointer_value(), "ncpus")?.into_int_value();
        let more = b.build_int_compare(IntPredicate::ULT, c, n, "more")?;
        b.build_conditional_branch(more, body, done)?;
        b.position_at_end(body);
        let map = self.map_ptr(self.maps.get(index)?.0);
        let p = self.call_helper(sys::BPF_FUNC_map_lookup_percpu_elem, &[map, key.into(), c.into()])?;
        let b = &self.builder;
        let p = b.build_int_to_ptr(p, self.ctx.ptr_type(inkwell::AddressSpace::default()), "share")?;
        // A missing key is missing on every CPU (the first lookup fails).
        let null = b.build_is_null(p, "null")?;
        b.build_conditional_branch(null, done, found)?;
        b.position_at_end(found);
        let v = self.load_i64(p, 0)?;
        let old = self.builder.build_load(i64, acc, "acc")?.into_int_value();
        let new = match kind {
            ValueKind::Min | ValueKind::Max => self.better(p, v, old, second, kind == ValueKind::Min)?,
            _ => self.builder.build_int_add(old, v, "sum")?,
        };
        let b = &self.builder;
        b.build_store(acc, new)?;
        if kind == ValueKind::Avg {
            let count = self.load_i64(p, 8)?;
            let b = &self.builder;
            let total = b.build_load(i64, second, "count")?.into_int_value();
            b.build_store(second, b.build_int_add(total, count, "count")?)?;
        }
        let b = &self.builder;
        b.build_store(cpu, b.build_int_add(c, i64.const_int(1, false), "c1")?)?;
        b.build_unconditional_branch(cond)?;
        b.position_at_end(done);
        let total = b.build_load(i64, acc, "total")?.into_int_value();
        match kind {
            ValueKind::Avg => {
                let count = b.build_load(i64, second, "count")?.into_int_value();
                self.arith(BinOp::Div, total, count, true)
            }
            ValueKind::Count | ValueKind::Sum { .. } | ValueKind::Min | ValueKind::Max => Ok(total),
            other => Err(CodegenError(format!("cannot read a {} map as one value", other.name()))),
        }
    }

    /// A min/max share `{ value, set }` at `p` against the best so far (`old`): `v` when this
    /// CPU set a value and it is the first such CPU (`any` says whether one was seen) or better.
    fn better(&mut self, p: PointerValue<'ctx>, v: IntValue<'ctx>, old: IntValue<'ctx>, any: PointerValue<'ctx>, min: bool) -> Result<IntValue<'ctx>> {
        let i64 = self.i64();
        let set = self.load_i64(p, 8)?;
        let set = self.truthy(set)?;
        let b = &self.builder;
        let seen = b.build_load(i64, any, "any")?.into_int_value();
        let first = b.build_int_compare(IntPredicate::EQ, seen, i64.const_zero(), "first")?;
        let pred = if min { IntPredicate::SLT } else { IntPredicate::SGT };
        let better = b.build_int_compare(pred, v, old, "better")?;
        let take = b.build_and(b.build_or(first, better, "take")?, set, "take")?;
        b.build_store(any, b.build_or(seen, b.build_int_z_extend(set, i64, "set")?, "seen")?)?;
        Ok(b.build_select(take, v, old, "best")?.into_int_value())
    }

    /// The read-only global holding the number of possible CPUs, made on first use.
    fn ncpus_global(&mut self) -> inkwell::values::GlobalValue<'ctx> {
        if let Some(g) = self.ncpus {
            return g;
        }
        let g = self.btf.section_u64(plan::NCPUS_GLOBAL, plan::NCPUS_SECTION);
        self.ncpus = Some(g);
        g
    }
}
