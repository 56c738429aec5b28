//! Aggregations (`count()`, `sum()`, `avg()`, `stats()`, `min()`, `max()`, `hist()`,
//! `lhist()`): this CPU's share of the entry, updated in place without atomics (the maps are
//! per-CPU; the runtime sums the shares when it prints). Histograms append the bucket index to
//! the key: one counter per key and bucket; `tseries()` appends the slot of the interval.

use super::{Func, Gen, Result};
use crate::parser::ast::Expr;
use crate::plan::{self, ValueKind};
use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;
use libbpf_rs::libbpf_sys as sys;

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// Updates the entry at `key` of aggregation map `index` with the call's arguments.
    pub(super) fn aggregate(&mut self, f: &mut Func<'ctx>, index: usize, key: PointerValue<'ctx>, args: &[Expr]) -> Result<()> {
        let (_, def) = self.maps.get(index)?;
        let arg = |g: &mut Self, f: &mut Func<'ctx>, i: usize| -> Result<IntValue<'ctx>> { g.expr(f, &args[i])?.int() };
        let one = self.i64().const_int(1, false);
        match def.value {
            ValueKind::Count => self.with_value(f, index, key, 8, |g, _, p| {
                let n = g.load_i64(p, 0)?;
                let n = g.builder.build_int_add(n, one, "count")?;
                g.store_i64(p, 0, n)
            })?,
            ValueKind::Sum { .. } => {
                let x = arg(self, f, 0)?;
                self.with_value(f, index, key, 8, |g, _, p| {
                    let n = g.load_i64(p, 0)?;
                    let n = g.builder.build_int_add(n, x, "sum")?;
                    g.store_i64(p, 0, n)
                })?
            }
            ValueKind::Avg | ValueKind::Stats => {
                let x = arg(self, f, 0)?;
                self.with_value(f, index, key, 16, |g, _, p| {
                    let s = g.load_i64(p, 0)?;
                    let s = g.builder.build_int_add(s, x, "sum")?;
                    g.store_i64(p, 0, s)?;
                    let c = g.load_i64(p, 8)?;
                    let c = g.builder.build_int_add(c, one, "count")?;
                    g.store_i64(p, 8, c)
                })?
            }
            ValueKind::Min | ValueKind::Max => {
                let x = arg(self, f, 0)?;
                let pred = if def.value == ValueKind::Min { IntPredicate::SLT } else { IntPredicate::SGT };
                self.with_value(f, index, key, 16, |g, _, p| {
                    let cur = g.load_i64(p, 0)?;
                    let set = g.load_i64(p, 8)?;
                    let unset = g.builder.build_int_compare(IntPredicate::EQ, set, g.i64().const_zero(), "unset")?;
                    let better = g.builder.build_int_compare(pred, x, cur, "better")?;
                    let take = g.builder.build_or(unset, better, "take")?;
                    let new = g.builder.build_select(take, x, cur, "new")?.into_int_value();
                    g.store_i64(p, 0, new)?;
                    g.store_i64(p, 8, one)
                })?
            }
            ValueKind::Hist { .. } | ValueKind::Lhist { .. } => {
                let x = arg(self, f, 0)?;
                let bucket = match def.value {
                    ValueKind::Lhist { min, max, step } => self.lhist_bucket(x, min, max, step)?,
                    ValueKind::Hist { k } => self.hist_bucket(x, k)?,
                    _ => unreachable!("a histogram value kind"),
                };
                self.store_i64(key, def.user_key_size() as u64, bucket)?;
                self.with_value(f, index, key, 8, |g, _, p| {
                    let n = g.load_i64(p, 0)?;
                    let n = g.builder.build_int_add(n, one, "count")?;
                    g.store_i64(p, 0, n)
                })?;
                if self.checked.plan.hist_sums {
                    // The sum of the observed values, beside the buckets (`Plan::hist_sums`).
                    let at = self.i64().const_int(plan::HIST_SUM_BUCKET, false);
                    self.store_i64(key, def.user_key_size() as u64, at)?;
                    self.with_value(f, index, key, 8, |g, _, p| {
                        let s = g.load_i64(p, 0)?;
                        let s = g.builder.build_int_add(s, x, "sum")?;
                        g.store_i64(p, 0, s)
                    })?
                }
            }
            ValueKind::TSeries { interval_ns, intervals, agg, .. } => {
                let x = arg(self, f, 0)?;
                self.tseries(f, index, key, x, (interval_ns, intervals, agg))?
            }
            kind => return Err(super::CodegenError(format!("{} is not an aggregation", kind.name()))),
        }
        Ok(())
    }

    /// `tseries()`: the slot of the current interval (`plan::ValueKind::TSeries`) appended to
    /// the key, reset when it holds an older interval, then the value recorded as `agg` says.
    fn tseries(&mut self, f: &mut Func<'ctx>, index: usize, key: PointerValue<'ctx>, x: IntValue<'ctx>, (interval_ns, intervals, agg): (u64, u32, plan::TSeriesAgg)) -> Result<()> {
        let c = |g: &Self, v: u64| g.i64().const_int(v, false);
        let now = self.call_helper(sys::BPF_FUNC_ktime_get_tai_ns, &[])?;
        let epoch = self.builder.build_int_unsigned_div(now, c(self, interval_ns), "epoch")?;
        let slot = self.builder.build_int_unsigned_rem(epoch, c(self, u64::from(intervals)), "slot")?;
        let (_, def) = self.maps.get(index)?;
        self.store_i64(key, def.user_key_size() as u64, slot)?;
        self.with_value(f, index, key, plan::TSERIES_SLOT as u32, |g, _, p| {
            let b = &g.builder;
            // A slot left from an older interval starts again.
            let old = g.load_i64(p, 0)?;
            let stale = b.build_int_compare(IntPredicate::NE, old, epoch, "stale")?;
            let value = g.load_i64(p, 8)?;
            let value = b.build_select(stale, c(g, 0), value, "value")?.into_int_value();
            let aux = g.load_i64(p, 16)?;
            let aux = b.build_select(stale, c(g, 0), aux, "aux")?.into_int_value();
            let count = b.build_int_add(aux, c(g, 1), "count")?;
            let (value, aux) = match agg {
                plan::TSeriesAgg::Last => (x, now),
                plan::TSeriesAgg::Avg | plan::TSeriesAgg::Sum => (b.build_int_add(value, x, "sum")?, count),
                plan::TSeriesAgg::Min | plan::TSeriesAgg::Max => {
                    let pred = if agg == plan::TSeriesAgg::Min { IntPredicate::SLT } else { IntPredicate::SGT };
                    let unset = b.build_int_compare(IntPredicate::EQ, aux, c(g, 0), "unset")?;
                    let better = b.build_int_compare(pred, x, value, "better")?;
                    let take = b.build_or(unset, better, "take")?;
                    (b.build_select(take, x, value, "new")?.into_int_value(), count)
                }
            };
            g.store_i64(p, 0, epoch)?;
            g.store_i64(p, 8, value)?;
            g.store_i64(p, 16, aux)
        })
    }

    /// log2 bucket with 2^k buckets per power of two, numbered as bpftrace 0.20+ does: 0 for
    /// negative values, `1 + x` for `x < 2^k`, otherwise, with `l` the highest set bit of x,
    /// `((l - k + 1) << k) + ((x >> (l - k)) & (2^k - 1)) + 1`. With k = 0 that is 1 for 0 and
    /// `2 + floor(log2(x))` above.
    fn hist_bucket(&self, x: IntValue<'ctx>, k: u8) -> Result<IntValue<'ctx>> {
        let b = &self.builder;
        let i64 = self.i64();
        let c = |v: u64| i64.const_int(v, false);
        let mut n = x;
        let mut log = i64.const_zero();
        for shift in [32u64, 16, 8, 4, 2, 1] {
            let big = b.build_int_compare(IntPredicate::UGE, n, c(1 << shift), "big")?;
            let amount = b.build_select(big, c(shift), i64.const_zero(), "amt")?.into_int_value();
            n = b.build_right_shift(n, amount, false, "n")?;
            log = b.build_int_add(log, amount, "log")?;
        }
        let k = u64::from(k);
        let mask = (1u64 << k) - 1;
        let small = b.build_int_compare(IntPredicate::ULE, x, c(mask), "small")?;
        // l - k, kept at 0 for small values so that no shift amount is ever negative.
        let below = b.build_int_sub(log, c(k), "below")?;
        let below = b.build_select(small, i64.const_zero(), below, "below")?.into_int_value();
        let sub = b.build_right_shift(x, below, false, "sub")?;
        let sub = b.build_and(sub, c(mask), "sub")?;
        let power = b.build_int_add(below, c(1), "power")?;
        let idx = b.build_left_shift(power, c(k), "idx")?;
        let idx = b.build_int_add(idx, sub, "idx")?;
        let idx = b.build_int_add(idx, c(1), "idx")?;
        let plus_one = b.build_int_add(x, c(1), "plus_one")?;
        let idx = b.build_select(small, plus_one, idx, "idx")?.into_int_value();
        let neg = b.build_int_compare(IntPredicate::SLT, x, i64.const_zero(), "neg")?;
        Ok(b.build_select(neg, i64.const_zero(), idx, "bucket")?.into_int_value())
    }

    /// Linear bucket: 0 below min, 1 + (x - min) / step inside, the last one at or above max.
    fn lhist_bucket(&self, x: IntValue<'ctx>, min: i64, max: i64, step: i64) -> Result<IntValue<'ctx>> {
        let b = &self.builder;
        let i64 = self.i64();
        let c = |v: i64| i64.const_int(v as u64, true);
        let last = plan::lhist_buckets(min, max, step) as i64 - 1;
        let rel = b.build_int_sub(x, c(min), "rel")?;
        let inside = b.build_int_unsigned_div(rel, c(step), "q")?;
        let inside = b.build_int_add(inside, c(1), "in")?;
        let high = b.build_int_compare(IntPredicate::SGE, x, c(max), "high")?;
        let v = b.build_select(high, c(last), inside, "b")?.into_int_value();
        let low = b.build_int_compare(IntPredicate::SLT, x, c(min), "low")?;
        Ok(b.build_select(low, c(0), v, "bucket")?.into_int_value())
    }
}
