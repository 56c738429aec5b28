//! `dw_ustack`: the user stack unwound in BPF with the target processes' `.eh_frame`, as
//! tables the runtime loads (`runtime/unwind.rs`, layout in `plan::DW_ROWS_MAP`). The walk
//! starts from the task's user registers (`bpf_task_pt_regs`: ip, sp, bp) and runs in a
//! `bpf_loop` callback, one frame a call: a bounded binary search finds the row of the pc
//! in the process's rows, whose CFA rule (rsp or rbp plus an offset) gives the return address
//! (at CFA-8) and the caller's rbp (unchanged, or saved at CFA+N). A pc without a row, or a
//! rule the table cannot express, ends the stack. The frames, kept in a per-CPU buffer, are
//! stored in a hash map (`plan::dw_stack_map`) under a hash of them, and the value is
//! `ustack`'s: `{ u64 id; u64 pid; }`, printed by the same code.

use super::expr::V;
use super::{CodegenError, Func, Gen, Result};
use crate::plan;
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::module::Linkage;
use inkwell::values::{FunctionValue, GlobalValue, IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};
use libbpf_rs::libbpf_sys as sys;

/// Offsets in x86-64's `struct pt_regs` of ip, sp and bp.
const PT_REGS_IP: u64 = 128;
const PT_REGS_SP: u64 = 152;
const PT_REGS_BP: u64 = 32;
/// The walk's state, the `bpf_loop` context: ip, sp, bp, the first row of the process and
/// the row after its last, the frames' hash, and whether the walk has ended.
const ST_IP: u64 = 0;
const ST_SP: u64 = 8;
const ST_BP: u64 = 16;
const ST_FIRST: u64 = 24;
const ST_END: u64 = 32;
const ST_HASH: u64 = 40;
const ST_DONE: u64 = 48;
const ST_SIZE: u32 = 56;
/// Frames in the per-CPU buffer: a power of two above `plan::STACK_DEPTH`, so that a frame
/// index masked with `FRAMES - 1` is in bounds to the verifier.
const FRAMES: u64 = 128;
/// Steps of the binary search: enough for `runtime::unwind::MAX_ROWS` rows.
const SEARCH_STEPS: u32 = 22;
/// FNV-1a's 64-bit offset basis and prime: the frames' hash, their map key.
const FNV_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// The maps `dw_ustack` reads and writes, made on first use.
pub(crate) struct DwMaps<'ctx> {
    rows: GlobalValue<'ctx>,
    pids: GlobalValue<'ctx>,
    frames: GlobalValue<'ctx>,
    stacks: std::collections::HashMap<u32, GlobalValue<'ctx>>,
    step: Option<FunctionValue<'ctx>>,
}

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// `dw_ustack(…)` of `spec`: the frames unwound, stored under their hash; the value is
    /// `{ u64 id; u64 pid; }` as `ustack`'s.
    pub(super) fn dw_stack(&mut self, f: &mut Func<'ctx>, spec: plan::StackSpec) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let state = self.slot(f, self.i64().array_type(ST_SIZE / 8).into(), "dwstate")?;
        self.zero(state, ST_SIZE)?;
        let task = self.call_helper(sys::BPF_FUNC_get_current_task_btf, &[])?;
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let task = self.builder.build_int_to_ptr(task, ptr, "task")?;
        let regs = self.call_helper(sys::BPF_FUNC_task_pt_regs, &[task.into()])?;
        for (at, reg) in [(ST_IP, PT_REGS_IP), (ST_SP, PT_REGS_SP), (ST_BP, PT_REGS_BP)] {
            let from = self.builder.build_int_add(regs, i64.const_int(reg, false), "reg")?;
            let from = self.builder.build_int_to_ptr(from, ptr, "regp")?;
            let to = self.offset(state, at)?;
            self.call_helper(sys::BPF_FUNC_probe_read_kernel, &[to.into(), i64.const_int(8, false).into(), from.into()])?;
        }
        let (pids, frames_map, stacks) = self.dw_maps(spec.depth);
        let tgid = self.call_helper(sys::BPF_FUNC_get_current_pid_tgid, &[])?;
        let pid = self.builder.build_right_shift(tgid, i64.const_int(32, false), false, "pid")?;
        let key = self.short_slot(f, self.ctx.i32_type().into(), "skey")?;
        self.builder.build_store(key, self.builder.build_int_truncate(pid, self.ctx.i32_type(), "pid32")?)?;
        let range = self.lookup(pids, key)?;
        self.when_found(f, range, |g, _| {
            let first = g.load_u32(range, 0)?;
            let count = g.load_u32(range, 4)?;
            g.store_i64(state, ST_FIRST, first)?;
            g.store_i64(state, ST_END, g.builder.build_int_add(first, count, "end")?)?;
            Ok(i64.const_zero())
        })?;
        self.store_i64(state, ST_HASH, i64.const_int(FNV_BASIS, false))?;
        let step = self.dw_step()?.as_global_value().as_pointer_value();
        let n = i64.const_int(spec.depth.into(), false);
        self.call_helper(sys::BPF_FUNC_loop, &[n.into(), step.into(), state.into(), i64.const_zero().into()])?;
        let hash = self.load_i64(state, ST_HASH)?;
        let id = self.builder.build_and(hash, i64.const_int(u32::MAX.into(), false), "id")?;
        self.builder.build_store(key, self.builder.build_int_truncate(id, self.ctx.i32_type(), "id32")?)?;
        let frames_key = self.short_slot(f, self.ctx.i32_type().into(), "fkey")?;
        self.builder.build_store(frames_key, self.ctx.i32_type().const_zero())?;
        let frames = self.lookup(frames_map, frames_key)?;
        self.when_found(f, frames, |g, _| g.update(stacks, key, frames, sys::BPF_ANY.into()))?;
        let buf = self.buffer(f, plan::USTACK_SIZE as u32, "ustack")?;
        self.store_i64(buf, 0, id)?;
        self.store_i64(buf, 8, pid)?;
        Ok(V::Str(buf, plan::USTACK_SIZE as u32))
    }

    /// The maps of `dw_ustack` its caller uses: the processes, the frames' buffer and the
    /// stacks map of `depth` frames.
    fn dw_maps(&mut self, depth: u32) -> (GlobalValue<'ctx>, GlobalValue<'ctx>, GlobalValue<'ctx>) {
        let btf = &mut self.btf;
        let maps = self.dwunwind.get_or_insert_with(|| DwMaps {
            rows: btf.map(plan::DW_ROWS_MAP, sys::BPF_MAP_TYPE_ARRAY, 1, 4, plan::DW_ROW_SIZE.into()),
            pids: btf.map(plan::DW_PIDS_MAP, sys::BPF_MAP_TYPE_HASH, plan::DW_MAX_PIDS, 4, 8),
            frames: btf.map("rt_dw_frames", sys::BPF_MAP_TYPE_PERCPU_ARRAY, 1, 4, 8 * FRAMES),
            stacks: Default::default(),
            step: None,
        });
        let stacks = *maps
            .stacks
            .entry(depth)
            .or_insert_with(|| btf.map(&plan::dw_stack_map(depth), sys::BPF_MAP_TYPE_HASH, 4096, 4, 8 * depth as u64));
        (maps.pids, maps.frames, stacks)
    }

    fn load_u32(&self, p: PointerValue<'ctx>, offset: u64) -> Result<IntValue<'ctx>> {
        let at = self.offset(p, offset)?;
        let v = self.builder.build_load(self.ctx.i32_type(), at, "u32")?.into_int_value();
        Ok(self.builder.build_int_z_extend(v, self.i64(), "u64")?)
    }

    /// A signed field of `ty` at `offset` of a row, as an i64.
    fn load_signed(&self, p: PointerValue<'ctx>, offset: u64, ty: inkwell::types::IntType<'ctx>) -> Result<IntValue<'ctx>> {
        let at = self.offset(p, offset)?;
        let v = self.builder.build_load(ty, at, "field")?.into_int_value();
        Ok(self.builder.build_int_s_extend_or_bit_cast(v, self.i64(), "sext")?)
    }

    /// The `bpf_loop` callback that takes one frame (made once per object).
    fn dw_step(&mut self) -> Result<FunctionValue<'ctx>> {
        if let Some(step) = self.dwunwind.as_ref().and_then(|m| m.step) {
            return Ok(step);
        }
        let name = "rt_dw_step";
        let (i64, ptr) = (self.i64(), self.ctx.ptr_type(AddressSpace::default()));
        let function = self.module.add_function(name, i64.fn_type(&[i64.into(), ptr.into()], false), Some(Linkage::Internal));
        function.set_section(Some(".text"));
        let nounwind = self.ctx.create_enum_attribute(Attribute::get_named_enum_kind_id("nounwind"), 0);
        function.add_attribute(AttributeLoc::Function, nounwind);
        self.btf.loop_callback(function, name);
        let caller = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        self.builder.position_at_end(self.ctx.append_basic_block(function, "entry"));
        let result = self.dw_step_body(function);
        self.builder.position_at_end(caller);
        result?;
        if let Some(m) = self.dwunwind.as_mut() {
            m.step = Some(function);
        }
        Ok(function)
    }

    fn dw_step_body(&mut self, function: FunctionValue<'ctx>) -> Result<()> {
        let (i64, i32) = (self.i64(), self.ctx.i32_type());
        let param = |i: u32| function.get_nth_param(i).ok_or_else(|| CodegenError("callback parameter".into()));
        let (index, st) = (param(0)?.into_int_value(), param(1)?.into_pointer_value());
        let maps = self.dwunwind.as_ref().ok_or_else(|| CodegenError("no dw_ustack maps".into()))?;
        let (rows, frames_map) = (maps.rows, maps.frames);
        let key = self.builder.build_alloca(i32, "key")?;
        let word = self.builder.build_alloca(i64, "word")?;
        let block = |name: &str| self.ctx.append_basic_block(function, name);
        let (stop, ended, going) = (block("stop"), block("ended"), block("going"));
        let zero = i64.const_zero();
        // The frame slot of this step.
        self.builder.build_store(key, i32.const_zero())?;
        let frames = self.lookup(frames_map, key)?;
        let found = self.builder.build_is_not_null(frames, "found")?;
        let have = block("have");
        let give_up = block("give_up");
        self.builder.build_conditional_branch(found, have, give_up)?;
        self.builder.position_at_end(give_up);
        self.builder.build_return(Some(&i64.const_int(1, false)))?;
        self.builder.position_at_end(have);
        let slot = self.builder.build_and(index, i64.const_int(FRAMES - 1, false), "slot")?;
        let slot = self.builder.build_int_mul(slot, i64.const_int(8, false), "slot8")?;
        // SAFETY (LLVM sense): within the FRAMES-long buffer, by the mask.
        let frame = unsafe { self.builder.build_gep(self.ctx.i8_type(), frames, &[slot], "frame")? };
        let done = self.load_i64(st, ST_DONE)?;
        let is_done = self.builder.build_int_compare(IntPredicate::NE, done, zero, "is_done")?;
        self.builder.build_conditional_branch(is_done, ended, going)?;
        self.builder.position_at_end(ended);
        self.builder.build_store(frame, zero)?;
        self.builder.build_return(Some(&zero))?;
        self.builder.position_at_end(going);
        let ip = self.load_i64(st, ST_IP)?;
        self.builder.build_store(frame, ip)?;
        let hash = self.builder.build_xor(self.load_i64(st, ST_HASH)?, ip, "hash")?;
        self.store_i64(st, ST_HASH, self.builder.build_int_mul(hash, i64.const_int(FNV_PRIME, false), "hash")?)?;
        // A return address is after its call: the call's row is that of the byte before.
        let first_frame = self.builder.build_int_compare(IntPredicate::EQ, index, zero, "first")?;
        let before = self.builder.build_int_sub(ip, i64.const_int(1, false), "before")?;
        let pc = self.builder.build_select(first_frame, ip, before, "pc")?.into_int_value();
        let first = self.load_i64(st, ST_FIRST)?;
        let lo = self.dw_search(function, rows, key, pc, first)?;
        let none = self.builder.build_int_compare(IntPredicate::EQ, lo, first, "none")?;
        let row_at = block("row_at");
        self.builder.build_conditional_branch(none, stop, row_at)?;
        self.builder.position_at_end(row_at);
        let at = self.builder.build_int_sub(lo, i64.const_int(1, false), "at")?;
        self.builder.build_store(key, self.builder.build_int_truncate(at, i32, "key")?)?;
        let row = self.lookup(rows, key)?;
        let has_row = block("has_row");
        let no_row = self.builder.build_is_null(row, "no_row")?;
        self.builder.build_conditional_branch(no_row, stop, has_row)?;
        self.builder.position_at_end(has_row);
        let reg = self.load_signed(row, 12, self.ctx.i8_type())?;
        let cfa_off = self.load_signed(row, 8, i32)?;
        let known = block("known");
        let unknown = self.builder.build_int_compare(IntPredicate::EQ, reg, i64.const_int(plan::DW_CFA_NONE.into(), false), "unknown")?;
        self.builder.build_conditional_branch(unknown, stop, known)?;
        self.builder.position_at_end(known);
        let (sp, bp) = (self.load_i64(st, ST_SP)?, self.load_i64(st, ST_BP)?);
        let by_sp = self.builder.build_int_compare(IntPredicate::EQ, reg, i64.const_int(plan::DW_CFA_RSP.into(), false), "by_sp")?;
        let base = self.builder.build_select(by_sp, sp, bp, "base")?.into_int_value();
        let cfa = self.builder.build_int_add(base, cfa_off, "cfa")?;
        let ra_at = self.builder.build_int_sub(cfa, i64.const_int(8, false), "ra_at")?;
        let ra = self.dw_read_user(function, word, ra_at, stop)?;
        let saved = self.load_signed(row, 13, self.ctx.i8_type())?;
        let bp_off = self.load_signed(row, 14, self.ctx.i16_type())?;
        let is_saved = self.builder.build_int_compare(IntPredicate::NE, saved, zero, "is_saved")?;
        let (read_bp, keep_bp, next) = (block("read_bp"), block("keep_bp"), block("next"));
        self.builder.build_conditional_branch(is_saved, read_bp, keep_bp)?;
        self.builder.position_at_end(read_bp);
        let bp_at = self.builder.build_int_add(cfa, bp_off, "bp_at")?;
        let new_bp = self.dw_read_user(function, word, bp_at, stop)?;
        self.store_i64(st, ST_BP, new_bp)?;
        self.builder.build_unconditional_branch(keep_bp)?;
        self.builder.position_at_end(keep_bp);
        self.store_i64(st, ST_IP, ra)?;
        self.store_i64(st, ST_SP, cfa)?;
        let outermost = self.builder.build_int_compare(IntPredicate::EQ, ra, zero, "outermost")?;
        self.builder.build_conditional_branch(outermost, stop, next)?;
        self.builder.position_at_end(next);
        self.builder.build_return(Some(&zero))?;
        self.builder.position_at_end(stop);
        self.store_i64(st, ST_DONE, i64.const_int(1, false))?;
        self.builder.build_return(Some(&zero))?;
        Ok(())
    }

    /// The binary search of the rows from `first` to `ST_END` for `pc`: the index after the
    /// last row at or below it (`first` when none is), in `SEARCH_STEPS` straight steps.
    fn dw_search(&mut self, function: FunctionValue<'ctx>, rows: GlobalValue<'ctx>, key: PointerValue<'ctx>, pc: IntValue<'ctx>, first: IntValue<'ctx>) -> Result<IntValue<'ctx>> {
        let (i64, i32) = (self.i64(), self.ctx.i32_type());
        let st = function.get_nth_param(1).ok_or_else(|| CodegenError("callback parameter".into()))?.into_pointer_value();
        let (mut lo, mut hi) = (first, self.load_i64(st, ST_END)?);
        for _ in 0..SEARCH_STEPS {
            let b = &self.builder;
            let open = b.build_int_compare(IntPredicate::ULT, lo, hi, "open")?;
            let sum = b.build_int_add(lo, hi, "sum")?;
            let mid = b.build_right_shift(sum, i64.const_int(1, false), false, "mid")?;
            b.build_store(key, b.build_int_truncate(mid, i32, "key")?)?;
            let row = self.lookup(rows, key)?;
            let from = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
            let (read, merge) = (self.ctx.append_basic_block(function, "read"), self.ctx.append_basic_block(function, "merge"));
            let found = self.builder.build_is_not_null(row, "found")?;
            self.builder.build_conditional_branch(found, read, merge)?;
            self.builder.position_at_end(read);
            let start = self.load_i64(row, 0)?;
            let below = self.builder.build_int_compare(IntPredicate::ULE, start, pc, "below")?;
            self.builder.build_unconditional_branch(merge)?;
            self.builder.position_at_end(merge);
            let b = &self.builder;
            let phi = b.build_phi(self.ctx.bool_type(), "below")?;
            phi.add_incoming(&[(&self.ctx.bool_type().const_zero(), from), (&below, read)]);
            let below = phi.as_basic_value().into_int_value();
            let right = b.build_and(open, below, "right")?;
            let not_below = b.build_not(below, "above")?;
            let left = b.build_and(open, not_below, "left")?;
            let next = b.build_int_add(mid, i64.const_int(1, false), "next")?;
            lo = b.build_select(right, next, lo, "lo")?.into_int_value();
            hi = b.build_select(left, mid, hi, "hi")?.into_int_value();
        }
        Ok(lo)
    }

    /// The user word at `at` (through the 8-byte `word`), or a branch to `fail`.
    fn dw_read_user(&mut self, function: FunctionValue<'ctx>, word: PointerValue<'ctx>, at: IntValue<'ctx>, fail: inkwell::basic_block::BasicBlock<'ctx>) -> Result<IntValue<'ctx>> {
        let i64 = self.i64();
        let from = self.builder.build_int_to_ptr(at, self.ctx.ptr_type(AddressSpace::default()), "from")?;
        let r = self.call_helper(sys::BPF_FUNC_probe_read_user, &[word.into(), i64.const_int(8, false).into(), from.into()])?;
        let failed = self.builder.build_int_compare(IntPredicate::NE, r, i64.const_zero(), "failed")?;
        let ok = self.ctx.append_basic_block(function, "read_ok");
        self.builder.build_conditional_branch(failed, fail, ok)?;
        self.builder.position_at_end(ok);
        self.load_i64(word, 0)
    }
}
