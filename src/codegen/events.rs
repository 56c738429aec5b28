//! Events: records sent to user space through the ring buffer, laid out by the plan —
//! `printf`/`system`/`print(value)` records built in the per-CPU scratch map, `join()`'s
//! argument strings, `print(@map)`, `exit()`, `unwatch()`, and events that are only a header (`time()`,
//! `clear()`, `zero()`, …). A record the ring buffer cannot take is counted in `rt_lost`.
//! Also `skboutput()`'s packets, which go through a perf event array instead
//! (`bpf_skb_output` writes to no ring buffer).

use super::expr::V;
use super::{CodegenError, Func, Gen, Result};
use crate::parser::ast::{Expr, ExprKind};
use crate::plan::{self, EventKind};
use inkwell::values::PointerValue;
use inkwell::{AtomicOrdering, AtomicRMWBinOp};
use inkwell::IntPredicate;
use libbpf_rs::libbpf_sys as sys;

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// Starts building a `size`-byte event record in this CPU's scratch map (the stack is too
    /// small for records), zeroed, with its header written. The caller fills it, sends it and
    /// branches to the returned block, where code continues; if the map has no value for this
    /// CPU, the record is skipped and code jumps there directly.
    fn scratch_record(
        &mut self,
        f: &mut Func<'ctx>,
        kind: EventKind,
        id: u32,
        size: u32,
    ) -> Result<(PointerValue<'ctx>, inkwell::basic_block::BasicBlock<'ctx>)> {
        let scratch = self.scratch.ok_or_else(|| CodegenError("no scratch map".into()))?;
        let key = self.short_slot(f, self.ctx.i32_type().into(), "scratchkey")?;
        self.builder.build_store(key, self.ctx.i32_type().const_zero())?;
        let rec = self.lookup(scratch, key)?;
        let fill = self.ctx.append_basic_block(f.function, "record");
        let done = self.ctx.append_basic_block(f.function, "recorded");
        let null = self.builder.build_is_null(rec, "null")?;
        self.builder.build_conditional_branch(null, done, fill)?;
        self.builder.position_at_end(fill);
        self.zero(rec, size)?;
        self.store_u32(rec, 0, kind as u32)?;
        self.store_u32(rec, 4, id)?;
        Ok((rec, done))
    }

    /// Sends an event that is only its header: the runtime knows the rest from the plan.
    pub(super) fn header_event(&mut self, f: &mut Func<'ctx>, kind: EventKind, id: u32) -> Result<V<'ctx>> {
        let rec = self.buffer(f, plan::EVENT_HEADER as u32, "event")?;
        self.store_u32(rec, 0, kind as u32)?;
        self.store_u32(rec, 4, id)?;
        self.emit_event(f, rec, plan::EVENT_HEADER as u32)?;
        Ok(V::Void)
    }

    /// `printf(fmt, args…)`, `system(fmt, args…)` or `print(value)`: the values laid out as
    /// plan format `id` says, after the header, in a scratch record.
    pub(super) fn printf(&mut self, f: &mut Func<'ctx>, id: usize, values: &[Expr], kind: EventKind) -> Result<V<'ctx>> {
        let def = self.checked.plan.printfs[id].clone();
        let (rec, done) = self.scratch_record(f, kind, id as u32, def.size as u32)?;
        for (arg, field) in values.iter().zip(&def.args) {
            let v = self.expr(f, arg)?;
            self.store_value(rec, field.offset as u64, field.kind, v)?;
        }
        self.emit_event(f, rec, def.size as u32)?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        Ok(V::Void)
    }

    /// `exit([code])`: the event, then the end of the probe.
    pub(super) fn exit(&mut self, f: &mut Func<'ctx>, args: &[Expr]) -> Result<V<'ctx>> {
        let code = match args.first().map(|a| &a.kind) {
            Some(ExprKind::Int(n)) => *n as u32,
            _ => 0,
        };
        self.header_event(f, EventKind::Exit, code)?;
        // Nothing after exit() runs in this probe; in a loop's callback, 1 ends the loop.
        if f.callback {
            self.builder.build_return(Some(&self.i64().const_int(1, false)))?;
        } else {
            self.builder.build_return(Some(&self.ctx.i32_type().const_zero()))?;
        }
        let dead = self.ctx.append_basic_block(f.function, "after_exit");
        self.builder.position_at_end(dead);
        Ok(V::Void)
    }

    /// `assert(cond, "message")`: when `cond` is 0, message `id` on standard error, then
    /// `exit(1)`.
    pub(super) fn assert(&mut self, f: &mut Func<'ctx>, id: usize, cond: &Expr) -> Result<V<'ctx>> {
        let c = self.expr(f, cond)?.int()?;
        let failed = self.builder.build_int_compare(IntPredicate::EQ, c, self.i64().const_zero(), "failed")?;
        let fail = self.ctx.append_basic_block(f.function, "assert_failed");
        let ok = self.ctx.append_basic_block(f.function, "assert_ok");
        self.builder.build_conditional_branch(failed, fail, ok)?;
        self.builder.position_at_end(fail);
        self.printf(f, id, &[], EventKind::Message)?;
        let status = [Expr { kind: ExprKind::Int(1), ..cond.clone() }];
        self.exit(f, &status)?;
        self.builder.build_unconditional_branch(ok)?;
        self.builder.position_at_end(ok);
        Ok(V::Void)
    }

    /// `print(@map[, top[, div]])`: the map's index, then top and div (0 when not given).
    pub(super) fn print_map(&mut self, f: &mut Func<'ctx>, args: &[Expr]) -> Result<V<'ctx>> {
        let index = self.map_of(f, &args[0])?;
        let size = plan::EVENT_HEADER as u32 + 16;
        let rec = self.buffer(f, size, "print")?;
        self.store_u32(rec, 0, EventKind::PrintMap as u32)?;
        self.store_u32(rec, 4, index as u32)?;
        for (i, extra) in args[1..].iter().enumerate() {
            let v = self.expr(f, extra)?.int()?;
            self.store_i64(rec, plan::EVENT_HEADER as u64 + 8 * i as u64, v)?;
        }
        self.emit_event(f, rec, size)?;
        Ok(V::Void)
    }

    /// `unwatch(addr)`: the address, after the header.
    pub(super) fn unwatch(&mut self, f: &mut Func<'ctx>, addr: &Expr) -> Result<V<'ctx>> {
        let size = plan::EVENT_HEADER as u32 + 8;
        let addr = self.expr(f, addr)?.int()?;
        let rec = self.buffer(f, size, "unwatch")?;
        self.store_u32(rec, 0, EventKind::Unwatch as u32)?;
        self.store_u32(rec, 4, 0)?;
        self.store_i64(rec, plan::EVENT_HEADER as u64, addr)?;
        self.emit_event(f, rec, size)?;
        Ok(V::Void)
    }

    /// `join(argv[, sep])` with separator `sep`: up to `JOIN_ARGS` strings of the NULL-ended
    /// array, read from user memory when `user`.
    pub(super) fn join(&mut self, f: &mut Func<'ctx>, array: &Expr, sep: usize, user: bool) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let array = self.expr(f, array)?.int()?;
        let (rec, done) = self.scratch_record(f, EventKind::Join, sep as u32, plan::JOIN_RECORD as u32)?;
        let (read, read_str) = if user {
            (sys::BPF_FUNC_probe_read_user, sys::BPF_FUNC_probe_read_user_str)
        } else {
            (sys::BPF_FUNC_probe_read_kernel, sys::BPF_FUNC_probe_read_kernel_str)
        };
        let ptr_slot = self.slot(f, i64.into(), "argp")?;
        let send = self.ctx.append_basic_block(f.function, "join_send");
        // Up to JOIN_ARGS strings, stopping at the array's NULL.
        for i in 0..plan::JOIN_ARGS as u64 {
            self.builder.build_store(ptr_slot, i64.const_zero())?;
            let at = self.builder.build_int_add(array, i64.const_int(8 * i, false), "elem")?;
            self.read_checked(f, read, &[ptr_slot.into(), i64.const_int(8, false).into(), at.into()])?;
            let p = self.builder.build_load(i64, ptr_slot, "p")?.into_int_value();
            let end = self.builder.build_int_compare(IntPredicate::EQ, p, i64.const_zero(), "end")?;
            let next = self.ctx.append_basic_block(f.function, "join_arg");
            self.builder.build_conditional_branch(end, send, next)?;
            self.builder.position_at_end(next);
            let dst = self.offset(rec, (plan::EVENT_HEADER + plan::JOIN_ARG_LEN * i as usize) as u64)?;
            let n = i64.const_int(plan::JOIN_ARG_LEN as u64, false);
            self.read_checked(f, read_str, &[dst.into(), n.into(), p.into()])?;
        }
        self.builder.build_unconditional_branch(send)?;
        self.builder.position_at_end(send);
        self.emit_event(f, rec, plan::JOIN_RECORD as u32)?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        Ok(V::Void)
    }

    /// `skboutput(path, skb, length, offset)` as plan entry `id`: `bpf_skb_output` sends the
    /// header (`plan::SKB_OUTPUT_HEADER`: the id, the time since boot, `length`) and the skb's
    /// first `length` bytes to this CPU's buffer of `plan::SKB_OUTPUT_MAP` (made on first use;
    /// the runtime skips `offset` bytes). The helper's result as a uint32, as bpftrace 0.26
    /// types it: 0, or a negative error (`-EFAULT`: `length` past the skb's end).
    pub(super) fn skb_output(&mut self, f: &mut Func<'ctx>, id: usize, args: &[Expr]) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let map = match self.skb_output {
            Some(m) => m,
            // Perf event arrays have an entry per CPU: libbpf sets 0 entries to their number.
            None => *self.skb_output.insert(self.btf.map(plan::SKB_OUTPUT_MAP, sys::BPF_MAP_TYPE_PERF_EVENT_ARRAY, 0, 4, 4)),
        };
        let skb = self.expr(f, &args[1])?.int()?;
        let len = self.expr(f, &args[2])?.int()?;
        let header = self.buffer(f, plan::SKB_OUTPUT_HEADER as u32, "skbhdr")?;
        self.store_i64(header, 0, i64.const_int(id as u64, false))?;
        let now = self.call_helper(sys::BPF_FUNC_ktime_get_boot_ns, &[])?;
        self.store_i64(header, 8, now)?;
        self.store_i64(header, 16, len)?;
        // The flags: the bytes of the skb to send in the upper 32 bits, this CPU's buffer.
        let low = self.builder.build_and(len, i64.const_int(u32::MAX.into(), false), "len")?;
        let shifted = self.builder.build_left_shift(low, i64.const_int(32, false), "ctxlen")?;
        let flags = self.builder.build_or(shifted, i64.const_int(sys::BPF_F_CURRENT_CPU, false), "flags")?;
        let size = i64.const_int(plan::SKB_OUTPUT_HEADER as u64, false);
        let rc = self.call_helper(sys::BPF_FUNC_skb_output, &[skb.into(), self.map_ptr(map), flags.into(), header.into(), size.into()])?;
        let rc = self.builder.build_and(rc, i64.const_int(u32::MAX.into(), false), "rc")?;
        Ok(V::Int(rc))
    }

    /// A read of memory by `helper` (`bpf_probe_read_*`): with `-k`, a failed one (`r` < 0)
    /// sends a `ReadError` record with the place of the expression being compiled.
    pub(super) fn read_checked(&mut self, f: &mut Func<'ctx>, helper: sys::bpf_func_id, args: &[inkwell::values::BasicMetadataValueEnum<'ctx>]) -> Result<inkwell::values::IntValue<'ctx>> {
        let r = self.call_helper(helper, args)?;
        if self.site.is_none() || self.checked.plan.source.is_none() {
            return Ok(r);
        }
        let r32 = self.builder.build_int_truncate(r, self.ctx.i32_type(), "r32")?;
        let failed = self.builder.build_int_compare(IntPredicate::SLT, r32, self.ctx.i32_type().const_zero(), "read_failed")?;
        self.warn_when(f, failed, helper, r32)?;
        Ok(r)
    }

    /// With `-k`, a map lookup `p` that found nothing sends a `ReadError` record naming
    /// `bpf_map_lookup_elem` (0.26 warns of a missing key so), with the place of the map read.
    pub(super) fn lookup_checked(&mut self, f: &mut Func<'ctx>, p: PointerValue<'ctx>) -> Result<()> {
        if self.site.is_none() || self.checked.plan.source.is_none() {
            return Ok(());
        }
        let missing = self.builder.build_is_null(p, "missing")?;
        self.warn_when(f, missing, sys::BPF_FUNC_map_lookup_elem, self.ctx.i32_type().const_zero())
    }

    /// Sends, when `failed`, a `ReadError` record: `helper`, the current expression's place
    /// and the helper's return `r32`.
    fn warn_when(&mut self, f: &mut Func<'ctx>, failed: inkwell::values::IntValue<'ctx>, helper: sys::bpf_func_id, r32: inkwell::values::IntValue<'ctx>) -> Result<()> {
        let Some(site) = self.site else { return Ok(()) };
        let warn = self.ctx.append_basic_block(f.function, "read_error");
        let after = self.ctx.append_basic_block(f.function, "read_ok");
        self.builder.build_conditional_branch(failed, warn, after)?;
        self.builder.position_at_end(warn);
        let size = plan::READ_ERROR_RECORD as u32;
        // A slot of its own, not a `buffer()` (this block runs only when the read failed),
        // shared by the function's reads: each record is sent as soon as it is written (one
        // slot per read had made `join()`'s 32 reads outgrow the 512 bytes of stack).
        let rec = self.short_slot(f, self.ctx.i8_type().array_type(size).into(), "read_error")?;
        self.store_u32(rec, 0, EventKind::ReadError as u32)?;
        self.store_u32(rec, 4, helper)?;
        self.store_u32(rec, 8, site.start as u32)?;
        self.store_u32(rec, 12, site.end as u32)?;
        self.store_i64(rec, 16, self.builder.build_int_s_extend(r32, self.i64(), "ret")?)?;
        self.emit_event(f, rec, size)?;
        self.builder.build_unconditional_branch(after)?;
        self.builder.position_at_end(after);
        Ok(())
    }

    /// Sends a record through the ring buffer, counting it as lost if it does not fit.
    fn emit_event(&mut self, f: &mut Func<'ctx>, record: PointerValue<'ctx>, size: u32) -> Result<()> {
        let events = self.events.as_pointer_value();
        let r = self.call_helper(
            sys::BPF_FUNC_ringbuf_output,
            &[events.into(), record.into(), self.i64().const_int(size as u64, false).into(), self.i64().const_zero().into()],
        )?;
        let failed = self.builder.build_int_compare(inkwell::IntPredicate::SLT, r, self.i64().const_zero(), "failed")?;
        let lost_block = self.ctx.append_basic_block(f.function, "lost");
        let after = self.ctx.append_basic_block(f.function, "sent");
        self.builder.build_conditional_branch(failed, lost_block, after)?;
        self.builder.position_at_end(lost_block);
        // One counter for all CPUs, added to atomically (it changes only when events are
        // lost), so the runtime reads it from memory without a system call.
        let counter = self.lost.as_pointer_value();
        self.builder.build_atomicrmw(AtomicRMWBinOp::Add, counter, self.i64().const_int(1, false), AtomicOrdering::Monotonic)?;
        self.builder.build_unconditional_branch(after)?;
        self.builder.position_at_end(after);
        Ok(())
    }
}
