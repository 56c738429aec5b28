//! Statements and expressions to LLVM IR. Integers are i64; strings are zero-padded stack
//! buffers of the length sema gave them.

use super::helpers::id;
use super::{CodegenError, Func, Gen, Result};
use crate::parser::ast::*;
use crate::plan::{self, ArgKind, EventKind, KeyField, ValueKind};
use crate::builtins::{Builtin, Func as F};
use crate::kernel::tracefs::FieldKind;
use crate::sema::{Access, Read, Res, Type};
use inkwell::values::{BasicValue, IntValue, PointerValue};
use inkwell::IntPredicate;

/// Offsets in x86-64's `struct pt_regs` of the registers holding arguments 0–5 (di, si, dx,
/// cx, r8, r9) and the return value (ax).
const PT_REGS_ARGS: [u64; 6] = [112, 104, 96, 88, 72, 64];
const PT_REGS_AX: u64 = 80;

const AF_INET: u64 = 2;
/// `bpf_get_stackid`'s flag for the user stack.
const BPF_F_USER_STACK: u64 = 1 << 8;
const AF_INET6: u64 = 10;

/// A generated value.
#[derive(Clone, Copy)]
pub(crate) enum V<'ctx> {
    Int(IntValue<'ctx>),
    /// A buffer and its length.
    Str(PointerValue<'ctx>, u32),
    /// A tuple in memory, laid out as the plan's tuple `id`.
    Tuple(PointerValue<'ctx>, u32),
    Void,
}

impl<'ctx> V<'ctx> {
    pub fn int(self) -> Result<IntValue<'ctx>> {
        match self {
            V::Int(i) => Ok(i),
            _ => Err(CodegenError("expected an integer value".into())),
        }
    }
    fn string(self) -> Result<(PointerValue<'ctx>, u32)> {
        match self {
            V::Str(p, n) => Ok((p, n)),
            _ => Err(CodegenError("expected a string value".into())),
        }
    }
}

impl<'ctx, 'm> Gen<'ctx, 'm> {
    pub fn stmts(&mut self, f: &mut Func<'ctx>, stmts: &[Stmt]) -> Result<()> {
        for s in stmts {
            self.stmt(f, s)?;
            self.end_temps(f)?;
        }
        Ok(())
    }

    fn ty(&self, f: &Func<'ctx>, e: &Expr) -> Type {
        self.checked.progs[f.prog].info(e).ty
    }

    fn res(&self, f: &Func<'ctx>, e: &Expr) -> &'m Res {
        &self.checked.progs[f.prog].info(e).res
    }

    fn stmt(&mut self, f: &mut Func<'ctx>, s: &Stmt) -> Result<()> {
        match &s.kind {
            StmtKind::Expr(e) => {
                self.expr(f, e)?;
            }
            StmtKind::AssignVar { var, value } => {
                let v = self.expr(f, value)?;
                let ty = self.checked.progs[f.prog].vars.get(&var.name).copied().unwrap_or(Type::Error);
                let slot = self.var_slot(f, &var.name, ty)?;
                match (v, ty) {
                    (V::Int(i), _) => {
                        let i = self.declared_width(f, &var.name, i)?;
                        self.builder.build_store(slot, i)?;
                    }
                    (V::Str(p, n), Type::Str { len }) => {
                        self.zero(slot, len)?;
                        self.copy(slot, p, n.min(len))?;
                    }
                    (V::Str(p, n), Type::Inet) => self.copy(slot, p, n.min(plan::INET_SIZE as u32))?,
                    (V::Str(p, n), Type::Stack(spec)) => self.copy(slot, p, n.min(spec.size() as u32))?,
                    (V::Tuple(..), Type::Tuple(id)) => {
                        let kind = self.tuple_kind(id);
                        self.zero(slot, kind.size() as u32)?;
                        self.store_value(slot, kind, v)?;
                    }
                    _ => return Err(CodegenError(format!("bad assignment to {}", var.name))),
                }
            }
            StmtKind::AssignMap { map, value } => self.assign_map(f, map, value)?,
            StmtKind::If { cond, then, els } => {
                let c = self.expr(f, cond)?.int()?;
                let truth = self.truthy(c)?;
                let then_bb = self.ctx.append_basic_block(f.function, "then");
                let else_bb = self.ctx.append_basic_block(f.function, "else");
                let end_bb = self.ctx.append_basic_block(f.function, "endif");
                self.builder.build_conditional_branch(truth, then_bb, else_bb)?;
                self.builder.position_at_end(then_bb);
                self.stmts(f, then)?;
                self.builder.build_unconditional_branch(end_bb)?;
                self.builder.position_at_end(else_bb);
                if let Some(els) = els {
                    self.stmts(f, els)?;
                }
                self.builder.build_unconditional_branch(end_bb)?;
                self.builder.position_at_end(end_bb);
            }
            StmtKind::CompoundAssign { target, op, value } => {
                let mut v = self.expr(f, value)?.int()?;
                let signed = matches!(self.ty(f, value), Type::Int { signed: true });
                let op = *op;
                // `$p += n` on a pointer: n counts elements.
                if let (BinOp::Add | BinOp::Sub, Some(stride)) = (op, self.ty(f, target).stride()) {
                    v = self.builder.build_int_mul(v, self.i64().const_int(stride, false), "elems")?;
                }
                self.update_in_place(f, target, |g, old| g.arith(op, old, v, signed))?;
            }
            StmtKind::While { cond, body } => {
                let cond_bb = self.ctx.append_basic_block(f.function, "while");
                let body_bb = self.ctx.append_basic_block(f.function, "do");
                let end_bb = self.ctx.append_basic_block(f.function, "wend");
                self.builder.build_unconditional_branch(cond_bb)?;
                self.builder.position_at_end(cond_bb);
                let c = self.expr(f, cond)?.int()?;
                let truth = self.truthy(c)?;
                self.builder.build_conditional_branch(truth, body_bb, end_bb)?;
                self.builder.position_at_end(body_bb);
                f.loops.push((cond_bb, end_bb));
                self.stmts(f, body)?;
                f.loops.pop();
                self.builder.build_unconditional_branch(cond_bb)?;
                self.builder.position_at_end(end_bb);
            }
            StmtKind::Unroll { count, body } => {
                let n = match count.kind {
                    ExprKind::Int(n) => n,
                    _ => return Err(CodegenError("unroll count".into())),
                };
                for _ in 0..n {
                    self.stmts(f, body)?;
                }
            }
            StmtKind::ForRange { var, start, end, body } => {
                let slot = self.var_slot(f, &var.name, Type::Int { signed: true })?;
                let first = self.expr(f, start)?.int()?;
                let last = self.expr(f, end)?.int()?;
                self.builder.build_store(slot, first)?;
                let cond_bb = self.ctx.append_basic_block(f.function, "for");
                let body_bb = self.ctx.append_basic_block(f.function, "fbody");
                let next_bb = self.ctx.append_basic_block(f.function, "fnext");
                let end_bb = self.ctx.append_basic_block(f.function, "fend");
                self.builder.build_unconditional_branch(cond_bb)?;
                self.builder.position_at_end(cond_bb);
                let i = self.builder.build_load(self.i64(), slot, "i")?.into_int_value();
                let more = self.builder.build_int_compare(IntPredicate::SLT, i, last, "more")?;
                self.builder.build_conditional_branch(more, body_bb, end_bb)?;
                self.builder.position_at_end(body_bb);
                f.loops.push((next_bb, end_bb));
                self.stmts(f, body)?;
                f.loops.pop();
                self.builder.build_unconditional_branch(next_bb)?;
                self.builder.position_at_end(next_bb);
                let i = self.builder.build_load(self.i64(), slot, "i")?.into_int_value();
                let i = self.builder.build_int_add(i, self.i64().const_int(1, false), "inc")?;
                self.builder.build_store(slot, i)?;
                self.builder.build_unconditional_branch(cond_bb)?;
                self.builder.position_at_end(end_bb);
            }
            StmtKind::Break | StmtKind::Continue => {
                let (next, end) = *f.loops.last().ok_or_else(|| CodegenError("break outside a loop".into()))?;
                let target = if matches!(s.kind, StmtKind::Break) { end } else { next };
                self.builder.build_unconditional_branch(target)?;
                self.dead_block(f);
            }
            StmtKind::Return => {
                self.builder.build_return(Some(&self.ctx.i32_type().const_zero()))?;
                self.dead_block(f);
            }
            StmtKind::Let { var, value, .. } => {
                let ty = self.checked.progs[f.prog].vars.get(&var.name).copied().unwrap_or(Type::Error);
                let slot = self.var_slot(f, &var.name, ty)?;
                match (value, ty) {
                    (Some(v), _) => {
                        let assign = Stmt { kind: StmtKind::AssignVar { var: var.clone(), value: v.clone() }, span: s.span };
                        self.stmt(f, &assign)?;
                    }
                    (None, Type::Str { len }) => self.zero(slot, len)?,
                    (None, _) => {
                        self.builder.build_store(slot, self.i64().const_zero())?;
                    }
                }
            }
            StmtKind::Block(body) => self.stmts(f, body)?,
            StmtKind::ForMap { body, .. } => self.for_map(f, s, body)?,
        }
        Ok(())
    }

    /// Continues code generation in a fresh block after a jump (code there is unreachable).
    fn dead_block(&self, f: &Func<'ctx>) {
        let dead = self.ctx.append_basic_block(f.function, "dead");
        self.builder.position_at_end(dead);
    }

    /// Reads an integer variable or map entry, applies `op`, stores the result; returns
    /// (old, new).
    fn update_in_place(
        &mut self,
        f: &mut Func<'ctx>,
        target: &Expr,
        op: impl FnOnce(&Self, IntValue<'ctx>) -> Result<IntValue<'ctx>>,
    ) -> Result<(IntValue<'ctx>, IntValue<'ctx>)> {
        match &target.kind {
            ExprKind::Var(name) => {
                let slot = self.var_slot(f, name, Type::Int { signed: true })?;
                let old = self.builder.build_load(self.i64(), slot, "old")?.into_int_value();
                let new = op(self, old)?;
                let new = self.declared_width(f, name, new)?;
                self.builder.build_store(slot, new)?;
                Ok((old, new))
            }
            ExprKind::Map(map) => {
                let index = self.map_index(&map.name)?;
                let key = self.key(f, map, index)?;
                let old = self.read_int(f, index, key)?;
                let new = op(self, old)?;
                let slot = self.slot(f, self.i64().into(), "val")?;
                self.builder.build_store(slot, new)?;
                self.update(self.maps[index], key, slot, 0)?;
                Ok((old, new))
            }
            _ => Err(CodegenError("update of a non-lvalue".into())),
        }
    }

    /// `v` cut to the width variable `name` was declared with (`let $x: uint8`), if any.
    fn declared_width(&self, f: &Func<'ctx>, name: &str, v: IntValue<'ctx>) -> Result<IntValue<'ctx>> {
        match self.checked.progs[f.prog].widths.get(name) {
            Some(&(bits, signed)) => self.narrow(v, bits, signed),
            None => Ok(v),
        }
    }

    /// The stack slot of a variable, created (zeroed) in the entry block on first use.
    fn var_slot(&mut self, f: &mut Func<'ctx>, name: &str, ty: Type) -> Result<PointerValue<'ctx>> {
        if let Some(p) = f.vars.get(name) {
            return Ok(*p);
        }
        let p = match ty {
            // String and address variables live in the per-CPU variables map: `Gen::program`
            // computed their addresses when the program starts.
            Type::Str { .. } | Type::Inet | Type::Tuple(_) => {
                return Err(CodegenError(format!("no storage for variable {name}")));
            }
            _ => {
                let p = f.allocas.build_alloca(self.i64(), name)?;
                f.allocas.build_store(p, self.i64().const_zero())?;
                p
            }
        };
        f.vars.insert(name.to_string(), p);
        Ok(p)
    }

    pub fn truthy(&self, v: IntValue<'ctx>) -> Result<IntValue<'ctx>> {
        Ok(self.builder.build_int_compare(IntPredicate::NE, v, self.i64().const_zero(), "truthy")?)
    }

    fn map_index(&self, name: &str) -> Result<usize> {
        self.checked.map_index(name).ok_or_else(|| CodegenError(format!("unknown map {name}")))
    }

    /// Builds the BPF key of a map reference; histograms leave 8 bytes for the bucket.
    fn key(&mut self, f: &mut Func<'ctx>, map: &MapRef, index: usize) -> Result<PointerValue<'ctx>> {
        self.key_of(f, &map.keys, index)
    }

    /// Builds the BPF key of map `index` from key expressions.
    fn key_of(&mut self, f: &mut Func<'ctx>, keys: &[Expr], index: usize) -> Result<PointerValue<'ctx>> {
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

    fn assign_map(&mut self, f: &mut Func<'ctx>, map: &MapRef, value: &Expr) -> Result<()> {
        let index = self.map_index(&map.name)?;
        let def = self.checked.plan.maps[index].clone();
        let global = self.maps[index];
        let key = self.key(f, map, index)?;
        let args: &[Expr] = match &value.kind {
            ExprKind::Call { args, .. } if def.value.is_aggregation() => args,
            _ => &[],
        };
        let arg = |g: &mut Self, f: &mut Func<'ctx>, i: usize| -> Result<IntValue<'ctx>> { g.expr(f, &args[i])?.int() };
        let one = self.i64().const_int(1, false);
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
            ValueKind::Count => self.with_value(f, global, key, 8, |g, _, p| {
                let n = g.load_i64(p, 0)?;
                let n = g.builder.build_int_add(n, one, "count")?;
                g.store_i64(p, 0, n)
            })?,
            ValueKind::Sum { .. } => {
                let x = arg(self, f, 0)?;
                self.with_value(f, global, key, 8, |g, _, p| {
                    let n = g.load_i64(p, 0)?;
                    let n = g.builder.build_int_add(n, x, "sum")?;
                    g.store_i64(p, 0, n)
                })?
            }
            ValueKind::Avg | ValueKind::Stats => {
                let x = arg(self, f, 0)?;
                self.with_value(f, global, key, 16, |g, _, p| {
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
                self.with_value(f, global, key, 16, |g, _, p| {
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
                self.with_value(f, global, key, 8, |g, _, p| {
                    let n = g.load_i64(p, 0)?;
                    let n = g.builder.build_int_add(n, one, "count")?;
                    g.store_i64(p, 0, n)
                })?
            }
        }
        Ok(())
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

    pub fn expr(&mut self, f: &mut Func<'ctx>, e: &Expr) -> Result<V<'ctx>> {
        let i64 = self.i64();
        Ok(match &e.kind {
            ExprKind::Int(n) => match (self.checked.progs[f.prog].params.get(&e.id), f.params) {
                (Some(&slot), Some(row)) => {
                    V::Int(self.builder.build_load(i64, self.offset(row, 8 * slot as u64)?, "param")?.into_int_value())
                }
                (Some(_), None) => return Err(CodegenError("a parameter literal outside the program's body".into())),
                (None, _) => V::Int(i64.const_int(*n, false)),
            },
            ExprKind::Str(s) => self.string_literal(f, s)?,
            ExprKind::Ident(_) => match self.res(f, e) {
                Res::Builtin(Builtin::Kstack | Builtin::Ustack) => self.stack(f, e)?,
                Res::Builtin(b) => self.builtin(f, *b)?,
                Res::Const(v) => V::Int(i64.const_int(*v, false)),
                Res::ConstStr(s) => self.string_literal(f, s)?,
                Res::CtxSlot { index, size, signed } => self.ctx_slot(f, *index, *size, *signed)?,
                Res::Ppid { parent, tgid } => {
                    let (parent, tgid) = (*parent, *tgid);
                    let task = self.call_helper(id::GET_CURRENT_TASK, &[])?;
                    let V::Int(parent) = self.memory(f, parent, task)? else {
                        return Err(CodegenError("ppid: real_parent is not a pointer".into()));
                    };
                    self.memory(f, tgid, parent)?
                }
                Res::RegMemory { base, index, access } => {
                    let mut addr = self.load_i64(f.ctx_ptr, 8 * *base as u64)?;
                    if let Some((index, scale)) = index {
                        let i = self.load_i64(f.ctx_ptr, 8 * *index as u64)?;
                        let scaled = self.builder.build_int_mul(i, i64.const_int(*scale as u64, false), "scaled")?;
                        addr = self.builder.build_int_add(addr, scaled, "addr")?;
                    }
                    self.memory(f, *access, addr)?
                }
                _ => return Err(CodegenError("unresolved identifier".into())),
            },
            ExprKind::Var(_) if matches!(self.res(f, e), Res::Const(_) | Res::ConstStr(_)) => match self.res(f, e) {
                // A positional parameter.
                Res::Const(v) => V::Int(i64.const_int(*v, false)),
                Res::ConstStr(s) => self.string_literal(f, s)?,
                Res::CtxSlot { index, size, signed } => self.ctx_slot(f, *index, *size, *signed)?,
                _ => V::Void,
            },
            ExprKind::Var(name) => {
                let name = match self.res(f, e) {
                    Res::LoopVar(own) => own,
                    _ => name,
                };
                let ty = self.ty(f, e);
                let slot = self.var_slot(f, name, ty)?;
                match ty {
                    Type::Str { len } => V::Str(slot, len),
                    // As laid out in storage: the variable's type after every assignment.
                    Type::Tuple(_) => match self.checked.progs[f.prog].vars.get(name) {
                        Some(Type::Tuple(id)) => V::Tuple(slot, *id),
                        _ => return Err(CodegenError(format!("tuple variable {name} has no tuple type"))),
                    },
                    Type::Inet => V::Str(slot, plan::INET_SIZE as u32),
                    Type::Stack(spec) if spec.user => V::Str(slot, spec.size() as u32),
                    _ => V::Int(self.builder.build_load(i64, slot, "var")?.into_int_value()),
                }
            }
            ExprKind::Map(map) => self.map_read(f, e, map)?,
            ExprKind::Call { args, .. } => self.call(f, e, args)?,
            ExprKind::Field { base, field, arrow: false } if self.record_field(f, base, &field.name).is_some() => {
                let index = self.record_field(f, base, &field.name).unwrap_or(0);
                match self.expr(f, base)? {
                    V::Tuple(p, id) => self.element(p, id, index)?,
                    _ => return Err(CodegenError("field of a non-record".into())),
                }
            }
            ExprKind::Field { base, .. } => match self.res(f, e) {
                Res::Field(field) => self.tp_field(f, field)?,
                Res::CtxSlot { index, size, signed } => self.ctx_slot(f, *index, *size, *signed)?,
                Res::Memory(access) => {
                    let access = *access;
                    let addr = self.expr(f, base)?.int()?;
                    self.memory(f, access, addr)?
                }
                _ => return Err(CodegenError("unresolved field".into())),
            },
            ExprKind::Index { base, index } if matches!(self.ty(f, base), Type::IntArray(_)) => {
                let Type::IntArray(a) = self.ty(f, base) else { unreachable!() };
                let v = self.expr(f, base)?.int()?;
                let i = self.expr(f, index)?.int()?;
                // Element i is bits [i * width, (i + 1) * width); an index out of range reads 0.
                let width = 8 * a.elem_bytes as u64;
                let shift = self.builder.build_int_mul(i, i64.const_int(width, false), "shift")?;
                let inside = self.builder.build_int_compare(IntPredicate::ULT, i, i64.const_int(a.len as u64, false), "inside")?;
                let shift = self.builder.build_select(inside, shift, i64.const_zero(), "safe")?.into_int_value();
                let elem = self.builder.build_right_shift(v, shift, false, "elem")?;
                let elem = self.narrow(elem, width as u32, a.signed)?;
                V::Int(self.builder.build_select(inside, elem, i64.const_zero(), "value")?.into_int_value())
            }
            ExprKind::Index { base, index } => {
                let Res::Memory(access) = *self.res(f, e) else {
                    return Err(CodegenError("unresolved index".into()));
                };
                let addr = self.expr(f, base)?.int()?;
                let i = self.expr(f, index)?.int()?;
                let scaled = self.builder.build_int_mul(i, i64.const_int(access.scale, false), "scaled")?;
                let addr = self.builder.build_int_add(addr, scaled, "elem")?;
                self.memory(f, access, addr)?
            }
            ExprKind::Deref(inner) => {
                let Res::Memory(access) = *self.res(f, e) else {
                    return Err(CodegenError("unresolved dereference".into()));
                };
                let addr = self.expr(f, inner)?.int()?;
                self.memory(f, access, addr)?
            }
            ExprKind::Unary { op, operand } => {
                let v = self.expr(f, operand)?.int()?;
                V::Int(match op {
                    UnOp::Not => {
                        let z = self.builder.build_int_compare(IntPredicate::EQ, v, i64.const_zero(), "not")?;
                        self.builder.build_int_z_extend(z, i64, "b")?
                    }
                    UnOp::Neg => self.builder.build_int_neg(v, "neg")?,
                    UnOp::BitNot => self.builder.build_not(v, "bnot")?,
                })
            }
            ExprKind::Binary { op: op @ (BinOp::And | BinOp::Or), lhs, rhs } => self.logical(f, *op, lhs, rhs)?,
            ExprKind::Binary { op, lhs, rhs } => {
                let signed = matches!(self.ty(f, lhs), Type::Int { signed: true })
                    && matches!(self.ty(f, rhs), Type::Int { signed: true });
                let (l, r) = (self.expr(f, lhs)?, self.expr(f, rhs)?);
                if let (V::Str(a, la), V::Str(b, lb)) = (l, r) {
                    let eq = self.str_eq(a, la, b, lb)?;
                    let res = if *op == BinOp::Eq { eq } else { self.builder.build_not(eq, "ne")? };
                    return Ok(V::Int(self.builder.build_int_z_extend(res, i64, "b")?));
                }
                let (mut l, mut r) = (l.int()?, r.int()?);
                // Pointer arithmetic (sema typed `p + n` as the pointer): n counts elements.
                if let Some(stride) = self.ty(f, e).stride() {
                    let n = if self.ty(f, lhs).stride().is_some() { &mut r } else { &mut l };
                    *n = self.builder.build_int_mul(*n, i64.const_int(stride, false), "elems")?;
                }
                V::Int(self.arith(*op, l, r, signed)?)
            }
            ExprKind::Ternary { cond, then, els } => self.ternary(f, e, cond, then, els)?,
            ExprKind::Bool(b) => V::Int(i64.const_int(*b as u64, false)),
            ExprKind::IncDec { target, increment, prefix } => {
                // A pointer steps by its pointee's size.
                let one = i64.const_int(self.ty(f, target).stride().unwrap_or(1), false);
                let inc = *increment;
                let (old, new) = self.update_in_place(f, target, |g, old| {
                    Ok(if inc { g.builder.build_int_add(old, one, "inc")? } else { g.builder.build_int_sub(old, one, "dec")? })
                })?;
                V::Int(if *prefix { new } else { old })
            }
            // An integer array holds the integer's bytes, element 0 first (little-endian), the
            // rest of the 8 bytes zero.
            ExprKind::Cast { expr, .. } if matches!(self.ty(f, e), Type::IntArray(_)) => {
                let Type::IntArray(a) = self.ty(f, e) else { unreachable!() };
                let v = self.expr(f, expr)?.int()?;
                V::Int(self.narrow(v, 8 * a.elem_bytes as u32 * a.len as u32, false)?)
            }
            // An integer array in memory, read whole.
            ExprKind::Cast { expr, .. } if matches!(self.res(f, e), Res::Memory(_)) => {
                let Res::Memory(access) = *self.res(f, e) else { unreachable!() };
                let addr = self.expr(f, expr)?.int()?;
                self.memory(f, access, addr)?
            }
            ExprKind::Cast { expr, .. } => {
                let v = self.expr(f, expr)?;
                match *self.res(f, e) {
                    Res::IntCast { bits, signed } => V::Int(self.narrow(v.int()?, bits, signed)?),
                    // Pointer casts and `(enum X)v` keep the value.
                    _ => v,
                }
            }
            ExprKind::SizeofType(_) | ExprKind::Offsetof { .. } => match self.res(f, e) {
                Res::Const(v) => V::Int(i64.const_int(*v, false)),
                _ => return Err(CodegenError("sizeof/offsetof without a size".into())),
            },
            ExprKind::Block { stmts, value } => {
                // The statements' temporaries live until the enclosing statement ends.
                for s in stmts {
                    self.stmt(f, s)?;
                }
                return self.expr(f, value);
            }
            ExprKind::SizeofExpr(inner) => V::Int(i64.const_int(
                match self.ty(f, inner) {
                    Type::Str { len } => len as u64,
                    Type::Tuple(id) => self.tuple_kind(id).size() as u64,
                    Type::IntArray(a) => a.elem_bytes as u64 * a.len as u64,
                    _ => 8,
                },
                false,
            )),
            ExprKind::Tuple(items) => {
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
                V::Tuple(buf, id)
            }
            ExprKind::Record(items) => {
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
                V::Tuple(buf, id)
            }
            ExprKind::TupleIndex { base, index } => match self.expr(f, base)? {
                V::Tuple(p, id) => self.element(p, id, *index as usize)?,
                _ => return Err(CodegenError("index of a non-tuple".into())),
            },
            ExprKind::AddrOf(_) => return Err(CodegenError("unsupported expression reached codegen".into())),
        })
    }

    /// The index of field `name` if `base` is a record (a tuple with field names).
    fn record_field(&self, f: &Func<'ctx>, base: &Expr, name: &str) -> Option<usize> {
        let Type::Tuple(id) = self.ty(f, base) else { return None };
        self.checked.plan.tuples[id as usize].names.as_ref()?.iter().position(|n| n == name)
    }

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
        let key = self.slot(f, self.ctx.i32_type().into(), "scratchkey")?;
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
    fn header_event(&mut self, f: &mut Func<'ctx>, kind: EventKind, id: u32) -> Result<V<'ctx>> {
        let rec = self.buffer(f, plan::EVENT_HEADER as u32, "event")?;
        self.store_u32(rec, 0, kind as u32)?;
        self.store_u32(rec, 4, id)?;
        self.emit_event(f, rec, plan::EVENT_HEADER as u32)?;
        Ok(V::Void)
    }

    fn string_literal(&mut self, f: &mut Func<'ctx>, s: &str) -> Result<V<'ctx>> {
        let len = s.len() as u32 + 1;
        let buf = self.buffer(f, len, "lit")?;
        for (i, byte) in s.bytes().enumerate() {
            let at = self.offset(buf, i as u64)?;
            self.builder.build_store(at, self.ctx.i8_type().const_int(byte as u64, false))?;
        }
        Ok(V::Str(buf, len))
    }

    fn arith(&self, op: BinOp, l: IntValue<'ctx>, r: IntValue<'ctx>, signed: bool) -> Result<IntValue<'ctx>> {
        let b = &self.builder;
        let cmp = |p: IntPredicate| -> Result<IntValue<'ctx>> {
            let c = b.build_int_compare(p, l, r, "cmp")?;
            Ok(b.build_int_z_extend(c, self.i64(), "b")?)
        };
        let pick = |s: IntPredicate, u: IntPredicate| if signed { s } else { u };
        Ok(match op {
            BinOp::Add => b.build_int_add(l, r, "add")?,
            BinOp::Sub => b.build_int_sub(l, r, "sub")?,
            BinOp::Mul => b.build_int_mul(l, r, "mul")?,
            // BPF division by zero yields 0 and modulo by zero keeps the dividend; no trap.
            BinOp::Div if signed => b.build_int_signed_div(l, r, "div")?,
            BinOp::Div => b.build_int_unsigned_div(l, r, "div")?,
            BinOp::Mod if signed => b.build_int_signed_rem(l, r, "mod")?,
            BinOp::Mod => b.build_int_unsigned_rem(l, r, "mod")?,
            BinOp::BitAnd => b.build_and(l, r, "and")?,
            BinOp::BitOr => b.build_or(l, r, "or")?,
            BinOp::BitXor => b.build_xor(l, r, "xor")?,
            BinOp::Shl => b.build_left_shift(l, r, "shl")?,
            BinOp::Shr => b.build_right_shift(l, r, signed, "shr")?,
            BinOp::Eq => cmp(IntPredicate::EQ)?,
            BinOp::Ne => cmp(IntPredicate::NE)?,
            BinOp::Lt => cmp(pick(IntPredicate::SLT, IntPredicate::ULT))?,
            BinOp::Le => cmp(pick(IntPredicate::SLE, IntPredicate::ULE))?,
            BinOp::Gt => cmp(pick(IntPredicate::SGT, IntPredicate::UGT))?,
            BinOp::Ge => cmp(pick(IntPredicate::SGE, IntPredicate::UGE))?,
            BinOp::And | BinOp::Or => return Err(CodegenError("logical op in arith".into())),
        })
    }

    /// Short-circuit `&&` and `||`, yielding 0 or 1.
    fn logical(&mut self, f: &mut Func<'ctx>, op: BinOp, lhs: &Expr, rhs: &Expr) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let l = self.expr(f, lhs)?.int()?;
        let l = self.truthy(l)?;
        let from = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let rhs_bb = self.ctx.append_basic_block(f.function, "rhs");
        let end = self.ctx.append_basic_block(f.function, "logic");
        if op == BinOp::And {
            self.builder.build_conditional_branch(l, rhs_bb, end)?;
        } else {
            self.builder.build_conditional_branch(l, end, rhs_bb)?;
        }
        self.builder.position_at_end(rhs_bb);
        let r = self.expr(f, rhs)?.int()?;
        let r = self.truthy(r)?;
        let rhs_end = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        self.builder.build_unconditional_branch(end)?;
        self.builder.position_at_end(end);
        let phi = self.builder.build_phi(self.ctx.bool_type(), "l")?;
        let short = self.ctx.bool_type().const_int((op == BinOp::Or) as u64, false);
        phi.add_incoming(&[(&short, from), (&r, rhs_end)]);
        Ok(V::Int(self.builder.build_int_z_extend(phi.as_basic_value().into_int_value(), i64, "b")?))
    }

    fn ternary(&mut self, f: &mut Func<'ctx>, e: &Expr, cond: &Expr, then: &Expr, els: &Expr) -> Result<V<'ctx>> {
        let ty = self.ty(f, e);
        let c = self.expr(f, cond)?.int()?;
        let c = self.truthy(c)?;
        let t_bb = self.ctx.append_basic_block(f.function, "t");
        let f_bb = self.ctx.append_basic_block(f.function, "f");
        let end = self.ctx.append_basic_block(f.function, "tend");
        let out = match ty {
            Type::Str { len } => Some((self.buffer(f, len, "tern")?, len)),
            Type::Tuple(id) => Some((self.buffer(f, self.tuple_kind(id).size() as u32, "tern")?, 0)),
            _ => None,
        };
        self.builder.build_conditional_branch(c, t_bb, f_bb)?;
        let mut incoming = Vec::new();
        for (bb, branch) in [(t_bb, then), (f_bb, els)] {
            self.builder.position_at_end(bb);
            let v = self.expr(f, branch)?;
            match (v, out) {
                (V::Str(p, n), Some((buf, len))) => self.copy(buf, p, n.min(len))?,
                (V::Tuple(..), Some((buf, _))) => {
                    let Type::Tuple(id) = ty else { return Err(CodegenError("ternary tuple type".into())) };
                    self.store_value(buf, self.tuple_kind(id), v)?
                }
                (V::Int(i), None) => {
                    incoming.push((i, self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?))
                }
                _ => return Err(CodegenError("ternary branch type".into())),
            }
            self.builder.build_unconditional_branch(end)?;
        }
        self.builder.position_at_end(end);
        match (out, ty) {
            (Some((buf, _)), Type::Tuple(id)) => return Ok(V::Tuple(buf, id)),
            (Some((buf, len)), _) => return Ok(V::Str(buf, len)),
            _ => {}
        }
        let phi = self.builder.build_phi(self.i64(), "tern")?;
        for (v, bb) in &incoming {
            phi.add_incoming(&[(v, *bb)]);
        }
        Ok(V::Int(phi.as_basic_value().into_int_value()))
    }

    /// Whether the string in `h` (`len` bytes, up to its first NUL) contains `needle`. Written
    /// as branches — at each start before the string ends, compare the needle byte by byte,
    /// on to the next start at the first difference — so that nothing stays live across the
    /// comparisons: as straight-line code, LLVM kept enough in BPF's ten registers to spill
    /// past the 512-byte stack. The loads are volatile so LLVM cannot speculate them back
    /// into straight-line code.
    fn contains(&self, f: &Func<'ctx>, h: PointerValue<'ctx>, len: u32, needle: &[u8]) -> Result<IntValue<'ctx>> {
        let bld = &self.builder;
        let i8 = self.ctx.i8_type();
        let i64 = self.i64();
        if needle.is_empty() {
            return Ok(i64.const_int(1, false));
        }
        let byte = |i: usize| -> Result<IntValue<'ctx>> {
            let load = bld.build_load(i8, self.offset(h, i as u64)?, "h")?;
            if let Some(inst) = load.as_instruction_value() {
                inst.set_volatile(true).map_err(|e| CodegenError(e.to_string()))?;
            }
            Ok(load.into_int_value())
        };
        let found = self.ctx.append_basic_block(f.function, "contains_yes");
        let missing = self.ctx.append_basic_block(f.function, "contains_no");
        let done = self.ctx.append_basic_block(f.function, "contains_done");
        for start in 0..(len as usize).saturating_sub(needle.len() - 1) {
            let next = self.ctx.append_basic_block(f.function, "contains_next");
            // The string ended before this start: no match.
            let compare = self.ctx.append_basic_block(f.function, "contains_at");
            let nul = bld.build_int_compare(IntPredicate::EQ, byte(start)?, i8.const_zero(), "nul")?;
            bld.build_conditional_branch(nul, missing, compare)?;
            bld.position_at_end(compare);
            for (j, &b) in needle.iter().enumerate() {
                let same = bld.build_int_compare(IntPredicate::EQ, byte(start + j)?, i8.const_int(b as u64, false), "same")?;
                let more = self.ctx.append_basic_block(f.function, "contains_byte");
                bld.build_conditional_branch(same, more, next)?;
                bld.position_at_end(more);
            }
            bld.build_unconditional_branch(found)?;
            bld.position_at_end(next);
        }
        bld.build_unconditional_branch(missing)?;
        bld.position_at_end(found);
        bld.build_unconditional_branch(done)?;
        bld.position_at_end(missing);
        bld.build_unconditional_branch(done)?;
        bld.position_at_end(done);
        let phi = bld.build_phi(i64, "contains")?;
        phi.add_incoming(&[(&i64.const_int(1, false), found), (&i64.const_zero(), missing)]);
        Ok(phi.as_basic_value().into_int_value())
    }

    /// String equality up to the first NUL, over the shorter buffer.
    fn str_eq(&self, a: PointerValue<'ctx>, la: u32, b: PointerValue<'ctx>, lb: u32) -> Result<IntValue<'ctx>> {
        let bld = &self.builder;
        let i8 = self.ctx.i8_type();
        let bool_ty = self.ctx.bool_type();
        let mut equal = bool_ty.const_int(1, false);
        let mut done = bool_ty.const_zero();
        for i in 0..la.min(lb) as u64 {
            let x = bld.build_load(i8, self.offset(a, i)?, "a")?.into_int_value();
            let y = bld.build_load(i8, self.offset(b, i)?, "b")?.into_int_value();
            let differ = bld.build_int_compare(IntPredicate::NE, x, y, "ne")?;
            let not_done = bld.build_not(done, "nd")?;
            let bad = bld.build_and(differ, not_done, "bad")?;
            let ok = bld.build_not(bad, "ok")?;
            equal = bld.build_and(equal, ok, "eq")?;
            let nul = bld.build_int_compare(IntPredicate::EQ, x, i8.const_zero(), "nul")?;
            done = bld.build_or(done, nul, "done")?;
        }
        Ok(equal)
    }

    fn builtin(&mut self, f: &mut Func<'ctx>, b: Builtin) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let bld = &self.builder;
        let low32 = i64.const_int(0xffff_ffff, false);
        let shift32 = i64.const_int(32, false);
        Ok(V::Int(match b {
            Builtin::Pid => bld.build_right_shift(self.call_helper(id::GET_CURRENT_PID_TGID, &[])?, shift32, false, "pid")?,
            Builtin::Tid => bld.build_and(self.call_helper(id::GET_CURRENT_PID_TGID, &[])?, low32, "tid")?,
            Builtin::Uid => bld.build_and(self.call_helper(id::GET_CURRENT_UID_GID, &[])?, low32, "uid")?,
            Builtin::Gid => bld.build_right_shift(self.call_helper(id::GET_CURRENT_UID_GID, &[])?, shift32, false, "gid")?,
            Builtin::Nsecs => self.call_helper(id::KTIME_GET_NS, &[])?,
            Builtin::Cpu => bld.build_and(self.call_helper(id::GET_SMP_PROCESSOR_ID, &[])?, low32, "cpu")?,
            Builtin::Elapsed => {
                let now = self.call_helper(id::KTIME_GET_NS, &[])?;
                let start = self.global(f, plan::GLOBAL_START_NS)?;
                self.builder.build_int_sub(now, start, "elapsed")?
            }
            Builtin::Comm => {
                let len = crate::sema::COMM_LEN;
                let buf = self.buffer(f, len, "comm")?;
                self.call_helper(id::GET_CURRENT_COMM, &[buf.into(), i64.const_int(len as u64, false).into()])?;
                return Ok(V::Str(buf, len));
            }
            Builtin::Args => return Err(CodegenError("`args` used as a value".into())),
            Builtin::Arg(n) => self.load_i64(f.ctx_ptr, PT_REGS_ARGS[n as usize])?,
            Builtin::Retval => self.load_i64(f.ctx_ptr, PT_REGS_AX)?,
            Builtin::FuncName => self.call_helper(id::GET_FUNC_IP, &[f.ctx_ptr.into()])?,
            Builtin::Curtask => self.call_helper(id::GET_CURRENT_TASK, &[])?,
            Builtin::Ppid => return Err(CodegenError("ppid is two reads sema resolves".into())),
            Builtin::Cpid => self.global(f, plan::GLOBAL_CPID)?,
            Builtin::Kstack | Builtin::Ustack => {
                return Err(CodegenError("a stack reached codegen as a builtin".into()));
            }
            Builtin::Probe => self.call_helper(id::GET_ATTACH_COOKIE, &[f.ctx_ptr.into()])?,
            Builtin::Cgroup => self.call_helper(id::GET_CURRENT_CGROUP_ID, &[])?,
            Builtin::Jiffies => self.call_helper(id::JIFFIES64, &[])?,
            Builtin::Rand => bld.build_and(self.call_helper(id::GET_PRANDOM_U32, &[])?, low32, "rand")?,
            Builtin::NumaId => bld.build_and(self.call_helper(id::GET_NUMA_NODE_ID, &[])?, low32, "numa")?,
            Builtin::Ncpus => return Err(CodegenError("ncpus is a constant".into())),
        }))
    }

    /// `kstack` or `ustack` (the spec is in the expression's type): the stack id from the
    /// map of its depth; a user stack also records the process, whose memory map names its
    /// frames.
    fn stack(&mut self, f: &mut Func<'ctx>, e: &Expr) -> Result<V<'ctx>> {
        let Type::Stack(spec) = self.ty(f, e) else {
            return Err(CodegenError("a stack without its type".into()));
        };
        let i64 = self.i64();
        let map = *self.stacks.get(&spec.depth).ok_or_else(|| CodegenError("no stack map".into()))?;
        let flags = i64.const_int(if spec.user { BPF_F_USER_STACK } else { 0 }, false);
        let id = self.call_helper(id::GET_STACKID, &[f.ctx_ptr.into(), map.as_pointer_value().into(), flags.into()])?;
        if !spec.user {
            return Ok(V::Int(id));
        }
        let len = plan::USTACK_SIZE as u32;
        let buf = self.buffer(f, len, "ustack")?;
        self.store_i64(buf, 0, id)?;
        let tgid = self.call_helper(id::GET_CURRENT_PID_TGID, &[])?;
        let pid = self.builder.build_right_shift(tgid, i64.const_int(32, false), false, "pid")?;
        self.store_i64(buf, 8, pid)?;
        Ok(V::Str(buf, len))
    }

    /// A value in kernel or user memory at `base + access.offset`: read it, or (for an
    /// embedded struct or array) just the address.
    fn memory(&mut self, f: &mut Func<'ctx>, access: Access, base: IntValue<'ctx>) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let addr = self.builder.build_int_add(base, i64.const_int(access.offset, false), "addr")?;
        let (size, signed, bitfield) = match access.read {
            Read::Address => return Ok(V::Int(addr)),
            Read::Chars { len } => {
                let buf = self.buffer(f, len, "chars")?;
                let helper = if access.user { id::PROBE_READ_USER_STR } else { id::PROBE_READ_KERNEL_STR };
                self.call_helper(helper, &[buf.into(), i64.const_int(len as u64, false).into(), addr.into()])?;
                return Ok(V::Str(buf, len));
            }
            Read::Int { size, signed, bitfield } => (size, signed, bitfield),
        };
        let tmp = self.slot(f, i64.into(), "mem")?;
        self.builder.build_store(tmp, i64.const_zero())?;
        let helper = if access.user { id::PROBE_READ_USER } else { id::PROBE_READ_KERNEL };
        self.call_helper(helper, &[tmp.into(), i64.const_int(size as u64, false).into(), addr.into()])?;
        let raw = self.builder.build_load(i64, tmp, "raw")?.into_int_value();
        let bld = &self.builder;
        let value = match bitfield {
            Some((shift, bits)) => {
                let shifted = bld.build_right_shift(raw, i64.const_int(shift as u64, false), false, "bf")?;
                bld.build_and(shifted, i64.const_int((1u64 << bits) - 1, false), "bits")?
            }
            None if size == 8 => raw,
            None => {
                // The little-endian low bytes hold the value: narrow, then extend by sign.
                let narrow = match size {
                    1 => self.ctx.i8_type(),
                    2 => self.ctx.i16_type(),
                    _ => self.ctx.i32_type(),
                };
                let t = bld.build_int_truncate(raw, narrow, "n")?;
                if signed {
                    bld.build_int_s_extend(t, i64, "sx")?
                } else {
                    bld.build_int_z_extend(t, i64, "zx")?
                }
            }
        };
        Ok(V::Int(value))
    }

    /// An fentry/fexit argument: the `index`-th u64 of the context, narrowed to `size` bytes
    /// and extended by sign.
    fn ctx_slot(&self, f: &Func<'ctx>, index: u32, size: u32, signed: bool) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let raw = self.load_i64(f.ctx_ptr, 8 * index as u64)?;
        if size >= 8 {
            return Ok(V::Int(raw));
        }
        let narrow = match size {
            1 => self.ctx.i8_type(),
            2 => self.ctx.i16_type(),
            _ => self.ctx.i32_type(),
        };
        let t = self.builder.build_int_truncate(raw, narrow, "arg")?;
        Ok(V::Int(if signed { self.builder.build_int_s_extend(t, i64, "sx")? } else { self.builder.build_int_z_extend(t, i64, "zx")? }))
    }

    /// Reads a tracepoint field from the record.
    fn tp_field(&mut self, f: &mut Func<'ctx>, field: &crate::kernel::tracefs::Field) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let at = self.offset(f.ctx_ptr, field.offset as u64)?;
        Ok(match field.kind {
            FieldKind::Int | FieldKind::Ptr { .. } => {
                let ty = match field.size {
                    1 => self.ctx.i8_type(),
                    2 => self.ctx.i16_type(),
                    4 => self.ctx.i32_type(),
                    _ => i64,
                };
                let raw = if field.offset.is_multiple_of(field.size) {
                    self.builder.build_load(ty, at, "field")?.into_int_value()
                } else {
                    let tmp = self.slot(f, i64.into(), "tmp")?;
                    self.builder.build_store(tmp, i64.const_zero())?;
                    let n = i64.const_int(field.size as u64, false);
                    self.call_helper(id::PROBE_READ_KERNEL, &[tmp.into(), n.into(), at.into()])?;
                    self.builder.build_load(ty, tmp, "field")?.into_int_value()
                };
                let wide = if field.size == 8 {
                    raw
                } else if field.signed {
                    self.builder.build_int_s_extend(raw, i64, "sx")?
                } else {
                    self.builder.build_int_z_extend(raw, i64, "zx")?
                };
                V::Int(wide)
            }
            // The array's address in the record: indexing reads its elements.
            FieldKind::IntArray { .. } => V::Int(self.builder.build_ptr_to_int(at, i64, "array")?),
            FieldKind::CharArray => {
                let len = field.size as u32;
                let buf = self.buffer(f, len, "chars")?;
                let n = i64.const_int(len as u64, false);
                self.call_helper(id::PROBE_READ_KERNEL, &[buf.into(), n.into(), at.into()])?;
                V::Str(buf, len)
            }
            FieldKind::DataLocString => {
                let loc = self.builder.build_load(self.ctx.i32_type(), at, "loc")?.into_int_value();
                let loc = self.builder.build_int_z_extend(loc, i64, "loc")?;
                let off = self.builder.build_and(loc, i64.const_int(0xffff, false), "off")?;
                let base = self.builder.build_ptr_to_int(f.ctx_ptr, i64, "ctx")?;
                let addr = self.builder.build_int_add(base, off, "addr")?;
                let len = crate::sema::STR_LEN;
                let buf = self.buffer(f, len, "str")?;
                let n = i64.const_int(len as u64, false);
                self.call_helper(id::PROBE_READ_KERNEL_STR, &[buf.into(), n.into(), addr.into()])?;
                V::Str(buf, len)
            }
            FieldKind::Other => return Err(CodegenError(format!("unreadable field {}", field.name))),
        })
    }

    fn map_read(&mut self, f: &mut Func<'ctx>, e: &Expr, map: &MapRef) -> Result<V<'ctx>> {
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
    fn global(&mut self, f: &mut Func<'ctx>, index: u32) -> Result<IntValue<'ctx>> {
        let key = self.slot(f, self.ctx.i32_type().into(), "gkey")?;
        self.builder.build_store(key, self.ctx.i32_type().const_int(index as u64, false))?;
        let p = self.lookup(self.globals, key)?;
        self.load_or_zero(f, p)
    }

    /// The integer at `key` in user map `index`, or 0 when there is none.
    fn read_int(&mut self, f: &mut Func<'ctx>, index: usize, key: PointerValue<'ctx>) -> Result<IntValue<'ctx>> {
        let p = self.lookup(self.maps[index], key)?;
        self.load_or_zero(f, p)
    }

    /// The i64 `p` points to, or 0 when `p` is null (a map lookup that found nothing).
    fn load_or_zero(&mut self, f: &mut Func<'ctx>, p: PointerValue<'ctx>) -> Result<IntValue<'ctx>> {
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

    fn call(&mut self, f: &mut Func<'ctx>, e: &Expr, args: &[Expr]) -> Result<V<'ctx>> {
        let i64 = self.i64();
        match self.res(f, e).clone() {
            res @ (Res::Printf(id) | Res::PrintValue(id) | Res::System(id)) => {
                let def = self.checked.plan.printfs[id].clone();
                // printf(fmt, args…) or system(fmt, args…), or print(value) sent as a printf of
                // one value.
                let (values, kind) = match res {
                    Res::PrintValue(_) => (args, EventKind::PrintValue),
                    Res::System(_) => (&args[1..], EventKind::System),
                    _ => (&args[1..], EventKind::Printf),
                };
                let (rec, done) = self.scratch_record(f, kind, id as u32, def.size as u32)?;
                for (arg, field) in values.iter().zip(&def.args) {
                    let v = self.expr(f, arg)?;
                    let at = self.offset(rec, field.offset as u64)?;
                    self.store_value(at, field.kind, v)?;
                }
                self.emit_event(f, rec, def.size as u32)?;
                self.builder.build_unconditional_branch(done)?;
                self.builder.position_at_end(done);
                Ok(V::Void)
            }
            Res::StrArray { len, user } => {
                let addr = self.expr(f, &args[0])?.int()?;
                let buf = self.buffer(f, len, "str")?;
                let helper = if user { id::PROBE_READ_USER_STR } else { id::PROBE_READ_KERNEL_STR };
                self.call_helper(helper, &[buf.into(), i64.const_int(len as u64, false).into(), addr.into()])?;
                Ok(V::Str(buf, len))
            }
            Res::Str { user } => {
                let ptr = self.expr(f, &args[0])?.int()?;
                let len = crate::sema::STR_LEN;
                let buf = self.buffer(f, len, "str")?;
                let n = i64.const_int(len as u64, false);
                if user {
                    self.call_helper(id::PROBE_READ_USER_STR, &[buf.into(), n.into(), ptr.into()])?;
                    return Ok(V::Str(buf, len));
                }
                // BTF does not say which pointers are user pointers (Debian's has no __user
                // tags): a kernel read that faults is retried from user memory.
                let r = self.call_helper(id::PROBE_READ_KERNEL_STR, &[buf.into(), n.into(), ptr.into()])?;
                let failed = self.builder.build_int_compare(IntPredicate::SLT, r, i64.const_zero(), "failed")?;
                let retry = self.ctx.append_basic_block(f.function, "user_str");
                let done = self.ctx.append_basic_block(f.function, "str_done");
                self.builder.build_conditional_branch(failed, retry, done)?;
                self.builder.position_at_end(retry);
                self.call_helper(id::PROBE_READ_USER_STR, &[buf.into(), n.into(), ptr.into()])?;
                self.builder.build_unconditional_branch(done)?;
                self.builder.position_at_end(done);
                Ok(V::Str(buf, len))
            }
            Res::Plain => self.expr(f, &args[0]),
            Res::Call(F::Exit) => {
                let code = match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Int(n)) => *n as u32,
                    _ => 0,
                };
                self.header_event(f, EventKind::Exit, code)?;
                // Nothing after exit() runs in this probe; in a loop's callback, 1 ends the loop.
                if f.callback {
                    self.builder.build_return(Some(&i64.const_int(1, false)))?;
                } else {
                    self.builder.build_return(Some(&self.ctx.i32_type().const_zero()))?;
                }
                let dead = self.ctx.append_basic_block(f.function, "after_exit");
                self.builder.position_at_end(dead);
                Ok(V::Void)
            }
            Res::Const(v) => Ok(V::Int(i64.const_int(v, false))),
            Res::Call(F::Strcontains) => {
                let ExprKind::Str(needle) = &args[1].kind else {
                    return Err(CodegenError("strcontains without a literal needle".into()));
                };
                let (p, n) = self.expr(f, &args[0])?.string()?;
                Ok(V::Int(self.contains(f, p, n, needle.as_bytes())?))
            }
            Res::Time(id) => self.header_event(f, EventKind::Time, id as u32),
            Res::Event { kind, id } => self.header_event(f, kind, id),
            Res::Call(F::Print) => {
                let Res::MapRead(index) = *self.res(f, &args[0]) else {
                    return Err(CodegenError("print of unresolved map".into()));
                };
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
            Res::Join { id: sep, user } => {
                let array = self.expr(f, &args[0])?.int()?;
                let (rec, done) = self.scratch_record(f, EventKind::Join, sep as u32, plan::JOIN_RECORD as u32)?;
                let (read, read_str) = if user {
                    (id::PROBE_READ_USER, id::PROBE_READ_USER_STR)
                } else {
                    (id::PROBE_READ_KERNEL, id::PROBE_READ_KERNEL_STR)
                };
                let ptr_slot = self.slot(f, i64.into(), "argp")?;
                let send = self.ctx.append_basic_block(f.function, "join_send");
                // Up to JOIN_ARGS strings, stopping at the array's NULL.
                for i in 0..plan::JOIN_ARGS as u64 {
                    self.builder.build_store(ptr_slot, i64.const_zero())?;
                    let at = self.builder.build_int_add(array, i64.const_int(8 * i, false), "elem")?;
                    self.call_helper(read, &[ptr_slot.into(), i64.const_int(8, false).into(), at.into()])?;
                    let p = self.builder.build_load(i64, ptr_slot, "p")?.into_int_value();
                    let end = self.builder.build_int_compare(IntPredicate::EQ, p, i64.const_zero(), "end")?;
                    let next = self.ctx.append_basic_block(f.function, "join_arg");
                    self.builder.build_conditional_branch(end, send, next)?;
                    self.builder.position_at_end(next);
                    let dst = self.offset(rec, (plan::EVENT_HEADER + plan::JOIN_ARG_LEN * i as usize) as u64)?;
                    let n = i64.const_int(plan::JOIN_ARG_LEN as u64, false);
                    self.call_helper(read_str, &[dst.into(), n.into(), p.into()])?;
                }
                self.builder.build_unconditional_branch(send)?;
                self.builder.position_at_end(send);
                self.emit_event(f, rec, plan::JOIN_RECORD as u32)?;
                self.builder.build_unconditional_branch(done)?;
                self.builder.position_at_end(done);
                Ok(V::Void)
            }
            Res::Strncmp(n) => {
                let (a, la) = self.expr(f, &args[0])?.string()?;
                let (b, lb) = self.expr(f, &args[1])?.string()?;
                let n = n.min(u32::MAX as u64) as u32;
                let equal = self.str_eq(a, la.min(n), b, lb.min(n))?;
                let differ = self.builder.build_not(equal, "differ")?;
                Ok(V::Int(self.builder.build_int_z_extend(differ, i64, "strncmp")?))
            }
            Res::Bswap(bits) => {
                let v = self.expr(f, &args[0])?.int()?;
                let ty = match bits {
                    16 => self.ctx.i16_type(),
                    32 => self.ctx.i32_type(),
                    8 => return Ok(V::Int(v)),
                    _ => i64,
                };
                let narrow = if bits == 64 { v } else { self.builder.build_int_truncate(v, ty, "n")? };
                let bswap = inkwell::intrinsics::Intrinsic::find("llvm.bswap")
                    .and_then(|i| i.get_declaration(self.module, &[ty.into()]))
                    .ok_or_else(|| CodegenError("no llvm.bswap".into()))?;
                let swapped = self.builder.build_call(bswap, &[narrow.into()], "bswap")?;
                let swapped = match swapped.try_as_basic_value() {
                    inkwell::values::ValueKind::Basic(v) => v.into_int_value(),
                    _ => return Err(CodegenError("bswap returned nothing".into())),
                };
                Ok(V::Int(if bits == 64 { swapped } else { self.builder.build_int_z_extend(swapped, i64, "zx")? }))
            }
            Res::Buf { user } => {
                let size = plan::BUF_SIZE as u32;
                let buf = self.buffer(f, size, "buf")?;
                let data = self.offset(buf, 8)?;
                let cap = i64.const_int(plan::BUF_LEN as u64, false);
                let v = self.expr(f, &args[0])?;
                let n = match v {
                    V::Str(p, n) => {
                        // A string's bytes without its NUL, or fewer if a length is given.
                        let n = (n.saturating_sub(1)).min(plan::BUF_LEN as u32);
                        self.copy(data, p, n)?;
                        let have = i64.const_int(n as u64, false);
                        match args.get(1) {
                            Some(len) => {
                                let want = self.expr(f, len)?.int()?;
                                let over = self.builder.build_int_compare(IntPredicate::UGT, want, have, "over")?;
                                self.builder.build_select(over, have, want, "n")?.into_int_value()
                            }
                            None => have,
                        }
                    }
                    V::Int(ptr) => {
                        let want = match args.get(1) {
                            Some(len) => self.expr(f, len)?.int()?,
                            None => cap,
                        };
                        // min(want, BUF_LEN), masked so the verifier sees the bound too.
                        let over = self.builder.build_int_compare(IntPredicate::UGT, want, cap, "over")?;
                        let n = self.builder.build_select(over, cap, want, "n")?.into_int_value();
                        let n = self.builder.build_and(n, i64.const_int(0x7f, false), "n")?;
                        let helper = if user { id::PROBE_READ_USER } else { id::PROBE_READ_KERNEL };
                        self.call_helper(helper, &[data.into(), n.into(), ptr.into()])?;
                        n
                    }
                    V::Void | V::Tuple(..) => return Err(CodegenError("buf of nothing".into())),
                };
                self.store_i64(buf, 0, n)?;
                Ok(V::Str(buf, size))
            }
            Res::Call(F::Kstack | F::Ustack) => self.stack(f, e),
            // The nanoseconds; the runtime formats them.
            Res::Call(F::Strftime) => self.expr(f, &args[1]),
            Res::Signal(number) => {
                let sig = match number {
                    Some(n) => i64.const_int(n as u64, false),
                    None => self.expr(f, &args[0])?.int()?,
                };
                self.call_helper(id::SEND_SIGNAL, &[sig.into()])?;
                Ok(V::Void)
            }
            Res::Call(F::Usym) => {
                let addr = self.expr(f, &args[0])?.int()?;
                let len = plan::USYM_SIZE as u32;
                let buf = self.buffer(f, len, "usym")?;
                let tgid = self.call_helper(id::GET_CURRENT_PID_TGID, &[])?;
                let pid = self.builder.build_right_shift(tgid, i64.const_int(32, false), false, "pid")?;
                self.store_i64(buf, 0, pid)?;
                self.store_i64(buf, 8, addr)?;
                Ok(V::Str(buf, len))
            }
            Res::Call(F::Ntop) => {
                let len = plan::INET_SIZE as u32;
                let buf = self.buffer(f, len, "inet")?;
                let addr_expr = &args[args.len() - 1];
                let addr_ty = self.ty(f, addr_expr);
                let family = if args.len() == 2 {
                    self.expr(f, &args[0])?.int()?
                } else {
                    let v6 = matches!(addr_ty, Type::Array { len: 16, .. });
                    i64.const_int(if v6 { AF_INET6 } else { AF_INET }, false)
                };
                self.store_i64(buf, 0, family)?;
                let addr = self.expr(f, addr_expr)?.int()?;
                match addr_ty {
                    Type::Array { len, user, .. } => {
                        let at = self.offset(buf, 8)?;
                        let helper = if user { id::PROBE_READ_USER } else { id::PROBE_READ_KERNEL };
                        self.call_helper(helper, &[at.into(), i64.const_int(len as u64, false).into(), addr.into()])?;
                    }
                    _ => {
                        let v4 = self.builder.build_int_truncate(addr, self.ctx.i32_type(), "v4")?;
                        let at = self.offset(buf, 8)?;
                        self.builder.build_store(at, v4)?;
                    }
                }
                Ok(V::Str(buf, len))
            }
            Res::Call(func @ (F::Clear | F::Zero)) => {
                let Res::MapRead(index) = *self.res(f, &args[0]) else {
                    return Err(CodegenError("clear of unresolved map".into()));
                };
                let kind = if func == F::Clear { EventKind::Clear } else { EventKind::Zero };
                self.header_event(f, kind, index as u32)
            }
            Res::Call(F::HasKey) => {
                let Res::MapRead(index) = *self.res(f, &args[0]) else {
                    return Err(CodegenError("has_key of unresolved map".into()));
                };
                let key = self.key_of(f, &args[1..], index)?;
                let p = self.lookup(self.maps[index], key)?;
                let found = self.builder.build_is_not_null(p, "has")?;
                Ok(V::Int(self.builder.build_int_z_extend(found, i64, "b")?))
            }
            Res::Call(F::Len) => {
                let Res::MapRead(index) = *self.res(f, &args[0]) else {
                    return Err(CodegenError("len of unresolved map".into()));
                };
                // bpf_for_each_map_elem returns how many entries its callback visited.
                let callback = self.count_callback()?.as_global_value().as_pointer_value();
                let null = self.ctx.ptr_type(Default::default()).const_null();
                let map = self.map_ptr(self.maps[index]);
                Ok(V::Int(self.call_helper(id::FOR_EACH_MAP_ELEM, &[map, callback.into(), null.into(), i64.const_zero().into()])?))
            }
            Res::Call(F::Delete) => {
                let ExprKind::Map(map) = &args[0].kind else {
                    return Err(CodegenError("delete of a non-map".into()));
                };
                let index = self.map_index(&map.name)?;
                let key = self.key(f, map, index)?;
                self.delete(self.maps[index], key)?;
                Ok(V::Void)
            }
            other => Err(CodegenError(format!("cannot generate call {other:?}"))),
        }
    }

    /// The value of a count(), sum(), min() or max() entry over every CPU (the callback sees
    /// only this CPU's share): `bpf_map_lookup_percpu_elem` for each possible CPU, summed or
    /// compared as the runtime does when it prints the map.
    fn all_cpus(&mut self, f: &mut Func<'ctx>, index: usize, key: PointerValue<'ctx>, kind: ValueKind) -> Result<IntValue<'ctx>> {
        let i64 = self.i64();
        let ncpus = libbpf_rs::num_possible_cpus().unwrap_or(1) as u64;
        let (acc, any, cpu) = (self.slot(f, i64.into(), "acc")?, self.slot(f, i64.into(), "any")?, self.slot(f, i64.into(), "cpu")?);
        for p in [acc, any, cpu] {
            self.builder.build_store(p, i64.const_zero())?;
        }
        let cond = self.ctx.append_basic_block(f.function, "cpus");
        let body = self.ctx.append_basic_block(f.function, "cpu");
        let done = self.ctx.append_basic_block(f.function, "cpus_done");
        self.builder.build_unconditional_branch(cond)?;
        self.builder.position_at_end(cond);
        let c = self.builder.build_load(i64, cpu, "c")?.into_int_value();
        let more = self.builder.build_int_compare(IntPredicate::ULT, c, i64.const_int(ncpus, false), "more")?;
        self.builder.build_conditional_branch(more, body, done)?;
        self.builder.position_at_end(body);
        let map = self.map_ptr(self.maps[index]);
        let p = self.call_helper(id::MAP_LOOKUP_PERCPU_ELEM, &[map, key.into(), c.into()])?;
        let p = self.builder.build_int_to_ptr(p, self.ctx.ptr_type(inkwell::AddressSpace::default()), "share")?;
        let next = self.ctx.append_basic_block(f.function, "cpu_next");
        let found = self.ctx.append_basic_block(f.function, "cpu_found");
        let null = self.builder.build_is_null(p, "null")?;
        self.builder.build_conditional_branch(null, done, found)?;
        self.builder.position_at_end(found);
        let v = self.load_i64(p, 0)?;
        let old = self.builder.build_load(i64, acc, "acc")?.into_int_value();
        let new = match kind {
            ValueKind::Min | ValueKind::Max => {
                // { value, set }: only CPUs that set a value count.
                let set = self.load_i64(p, 8)?;
                let set = self.truthy(set)?;
                let seen = self.builder.build_load(i64, any, "any")?.into_int_value();
                let first = self.builder.build_int_compare(IntPredicate::EQ, seen, i64.const_zero(), "first")?;
                let pred = if kind == ValueKind::Min { IntPredicate::SLT } else { IntPredicate::SGT };
                let better = self.builder.build_int_compare(pred, v, old, "better")?;
                let take = self.builder.build_or(first, better, "take")?;
                let take = self.builder.build_and(take, set, "take")?;
                let seen = self.builder.build_or(seen, self.builder.build_int_z_extend(set, i64, "set")?, "seen")?;
                self.builder.build_store(any, seen)?;
                self.builder.build_select(take, v, old, "best")?.into_int_value()
            }
            _ => self.builder.build_int_add(old, v, "sum")?,
        };
        self.builder.build_store(acc, new)?;
        self.builder.build_unconditional_branch(next)?;
        self.builder.position_at_end(next);
        let c1 = self.builder.build_int_add(c, i64.const_int(1, false), "c1")?;
        self.builder.build_store(cpu, c1)?;
        self.builder.build_unconditional_branch(cond)?;
        self.builder.position_at_end(done);
        Ok(self.builder.build_load(i64, acc, "total")?.into_int_value())
    }

    /// How tuple `id` is laid out as a value.
    fn tuple_kind(&self, id: u32) -> ArgKind {
        ArgKind::Tuple { id, size: self.checked.plan.tuples[id as usize].size as u32 }
    }

    /// Element `i` of tuple `id` at `p`: integers loaded, anything else where it lies.
    fn element(&self, p: PointerValue<'ctx>, id: u32, i: usize) -> Result<V<'ctx>> {
        let field = *self.checked.plan.tuples[id as usize]
            .fields
            .get(i)
            .ok_or_else(|| CodegenError(format!("tuple element {i} out of range")))?;
        self.value_at(self.offset(p, field.offset as u64)?, field.kind)
    }

    /// `v` cut to its low `bits` and widened back to 64 bits by `signed`.
    fn narrow(&self, v: IntValue<'ctx>, bits: u32, signed: bool) -> Result<IntValue<'ctx>> {
        if bits >= 64 {
            return Ok(v);
        }
        let i64 = self.i64();
        let narrow = match bits {
            8 => self.ctx.i8_type(),
            16 => self.ctx.i16_type(),
            32 => self.ctx.i32_type(),
            _ => return Err(CodegenError(format!("no {bits}-bit integers"))),
        };
        let t = self.builder.build_int_truncate(v, narrow, "trunc")?;
        Ok(if signed { self.builder.build_int_s_extend(t, i64, "sx")? } else { self.builder.build_int_z_extend(t, i64, "zx")? })
    }

    /// The value of `kind` at `p`: an integer loaded, anything else where it lies.
    fn value_at(&self, p: PointerValue<'ctx>, kind: ArgKind) -> Result<V<'ctx>> {
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

    /// `for ($kv : @map) { … }`: the body becomes a callback that `bpf_for_each_map_elem`
    /// calls with each entry's key and value. It finds string and tuple variables in the
    /// variables map, as the program does, and the integer variables it shares with the
    /// program through pointers in its context (they stay on the stack, where the verifier
    /// can follow loop counters); `continue` returns 0 (next entry), `break` and `exit()` 1.
    fn for_map(&mut self, f: &mut Func<'ctx>, s: &Stmt, body: &[Stmt]) -> Result<()> {
        let info = self.checked.progs[f.prog]
            .map_loops
            .get(&s.span.start)
            .cloned()
            .ok_or_else(|| CodegenError("unchecked for loop".into()))?;
        let name = format!("{}_for{}", self.checked.plan.probes[f.prog].prog_name, s.span.start);
        let ptr = self.ctx.ptr_type(inkwell::AddressSpace::default());
        let fn_type = self.i64().fn_type(&[ptr.into(); 4], false);
        let function = self.module.add_function(&name, fn_type, Some(inkwell::module::Linkage::Internal));
        function.set_section(Some(".text"));
        let nounwind = self.ctx.create_enum_attribute(inkwell::attributes::Attribute::get_named_enum_kind_id("nounwind"), 0);
        function.add_attribute(inkwell::attributes::AttributeLoc::Function, nounwind);
        self.btf.callback(function, &name);
        let param = |i: u32| -> Result<PointerValue<'ctx>> {
            Ok(function.get_nth_param(i).ok_or_else(|| CodegenError("callback parameter".into()))?.into_pointer_value())
        };
        let (key_ptr, value_ptr, ctx_ptr) = (param(1)?, param(2)?, param(3)?);

        let caller = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let entry = self.ctx.append_basic_block(function, "entry");
        let start = self.ctx.append_basic_block(function, "start");
        let allocas = self.ctx.create_builder();
        allocas.position_at_end(entry);
        self.builder.position_at_end(start);
        let mut g = Func {
            function,
            ctx_ptr,
            allocas,
            entry,
            vars: Default::default(),
            prog: f.prog,
            loops: Vec::new(),
            temps: Vec::new(),
            var_offsets: f.var_offsets.clone(),
            callback: true,
            params: None,
        };
        self.bind_vars(&mut g, None)?;
        // The integer variables shared with the caller: the context holds pointers to them.
        for (i, name) in info.captured.iter().enumerate() {
            let at = self.offset(ctx_ptr, 8 * i as u64)?;
            let p = self.builder.build_load(ptr, at, name)?.into_pointer_value();
            g.vars.insert(name.clone(), p);
        }
        // $kv = (key, value), into the loop variable's own layout.
        let Some(&Type::Tuple(kv)) = self.checked.progs[f.prog].vars.get(&info.var) else {
            return Err(CodegenError("loop variable without a tuple type".into()));
        };
        let slot = self.var_slot(&mut g, &info.var, Type::Tuple(kv))?;
        let kv_kind = self.tuple_kind(kv);
        self.zero(slot, kv_kind.size() as u32)?;
        let fields = self.checked.plan.tuples[kv as usize].fields.clone();
        let def = self.checked.plan.maps[info.map].clone();
        for (i, (field, (p, kind))) in fields.iter().zip([(key_ptr, info.key), (value_ptr, info.value)]).enumerate() {
            let v = if i == 1 && def.per_cpu() {
                V::Int(self.all_cpus(&mut g, info.map, key_ptr, def.value)?)
            } else {
                self.value_at(p, kind)?
            };
            let at = self.offset(slot, field.offset as u64)?;
            self.store_value(at, field.kind, v)?;
        }
        let next = self.ctx.append_basic_block(function, "next");
        let stop = self.ctx.append_basic_block(function, "stop");
        g.loops.push((next, stop));
        self.stmts(&mut g, body)?;
        if self.builder.get_insert_block().and_then(|b| b.get_terminator()).is_none() {
            self.builder.build_unconditional_branch(next)?;
        }
        for (bb, ret) in [(next, 0), (stop, 1)] {
            self.builder.position_at_end(bb);
            self.builder.build_return(Some(&self.i64().const_int(ret, false)))?;
        }
        g.allocas.position_at_end(entry);
        g.allocas.build_unconditional_branch(start)?;

        self.builder.position_at_end(caller);
        let context = match info.captured.len() {
            0 => ptr.const_null(),
            n => {
                let array = self.slot(f, ptr.array_type(n as u32).into(), "loopctx")?;
                for (i, name) in info.captured.iter().enumerate() {
                    let var = self.var_slot(f, name, Type::Int { signed: true })?;
                    self.builder.build_store(self.offset(array, 8 * i as u64)?, var)?;
                }
                array
            }
        };
        let callback = function.as_global_value().as_pointer_value();
        let map = self.map_ptr(self.maps[info.map]);
        let zero = self.i64().const_zero();
        self.call_helper(id::FOR_EACH_MAP_ELEM, &[map, callback.into(), context.into(), zero.into()])?;
        Ok(())
    }

    /// Stores `v` at `dst` (already zeroed) laid out as `kind`: in a printf record, a map
    /// value, a variable or a tuple. Tuples are copied element by element, so a tuple goes
    /// into a wider one of the same shape (longer strings) as it does in bpftrace.
    fn store_value(&self, dst: PointerValue<'ctx>, kind: ArgKind, v: V<'ctx>) -> Result<()> {
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
}
