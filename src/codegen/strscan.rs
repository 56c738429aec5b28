//! bpftrace 0.26's string helpers that scan strings whose bytes are known only at run time:
//! `strlen()`, `strstr()`, `strcontains()` of a needle that is not a literal, `str_concat()`,
//! `memcmp()`. Each is a loop whose index the compare at its head bounds, so the verifier walks
//! it iteration by iteration with known offsets into the stack buffers (BPF's bounded loops,
//! Linux 5.3+); work grows with the product of the strings' capacities (`max_strlen`).

use super::expr::V;
use super::{CodegenError, Func, Gen, Result};
use crate::parser::ast::Expr;
use inkwell::basic_block::BasicBlock;
use inkwell::values::{BasicValue, IntValue, PhiValue, PointerValue};
use inkwell::IntPredicate;

/// One counting loop under construction: its head block and index.
struct Loop<'ctx> {
    head: BasicBlock<'ctx>,
    index: PhiValue<'ctx>,
}

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// `strlen(s)`: the bytes before the first NUL.
    pub(super) fn strlen(&mut self, f: &mut Func<'ctx>, arg: &Expr) -> Result<V<'ctx>> {
        let (s, len) = self.expr(f, arg)?.string()?;
        let done = self.ctx.append_basic_block(f.function, "strlen_done");
        let from = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let l = self.loop_head(f, from, "strlen")?;
        let i = l.index.as_basic_value().into_int_value();
        let mut exits = vec![(i, self.exit_unless_below(f, i, len, done)?)];
        let byte = self.byte_at(s, i)?;
        exits.push((i, self.exit_if_zero(f, byte, done)?));
        self.loop_next(&l, i)?;
        self.builder.position_at_end(done);
        Ok(V::Int(self.phi(&exits, "strlen")?))
    }

    /// `strstr(h, n)`: the index of needle `n`'s first occurrence in haystack `h`, or -1.
    pub(super) fn strstr(&mut self, f: &mut Func<'ctx>, args: &[Expr]) -> Result<V<'ctx>> {
        let (h, hn) = self.expr(f, &args[0])?.string()?;
        let (n, nn) = self.expr(f, &args[1])?.string()?;
        Ok(V::Int(self.find_str(f, (h, hn), (n, nn))?))
    }

    /// `strcontains(h, n)` of a needle known only at run time: 1 or 0.
    pub(super) fn strcontains_dynamic(&mut self, f: &mut Func<'ctx>, args: &[Expr]) -> Result<V<'ctx>> {
        let (h, hn) = self.expr(f, &args[0])?.string()?;
        let (n, nn) = self.expr(f, &args[1])?.string()?;
        let at = self.find_str(f, (h, hn), (n, nn))?;
        let found = self.builder.build_int_compare(IntPredicate::SGE, at, self.i64().const_zero(), "found")?;
        Ok(V::Int(self.builder.build_int_z_extend(found, self.i64(), "contains")?))
    }

    /// Where needle `n` first starts in haystack `h` (each a buffer and its capacity, the
    /// string up to its first NUL), or -1: at each start, compare until the needle ends (a
    /// match) or a byte differs (the next start); the haystack's end stops every search.
    fn find_str(&mut self, f: &mut Func<'ctx>, (h, hn): (PointerValue<'ctx>, u32), (n, nn): (PointerValue<'ctx>, u32)) -> Result<IntValue<'ctx>> {
        let i64 = self.i64();
        let found = self.ctx.append_basic_block(f.function, "strstr_found");
        let missing = self.ctx.append_basic_block(f.function, "strstr_missing");
        let from = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let outer = self.loop_head(f, from, "strstr_at")?;
        let start = outer.index.as_basic_value().into_int_value();
        let mut found_at = Vec::new();
        self.exit_unless_below(f, start, hn, missing)?;
        let inner_from = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let inner = self.loop_head(f, inner_from, "strstr_byte")?;
        let j = inner.index.as_basic_value().into_int_value();
        found_at.push((start, self.exit_unless_below(f, j, nn, found)?));
        let want = self.byte_at(n, j)?;
        found_at.push((start, self.exit_if_zero(f, want, found)?));
        let k = self.builder.build_int_add(start, j, "k")?;
        self.exit_unless_below(f, k, hn, missing)?;
        let have = self.byte_at(h, k)?;
        self.exit_if_zero(f, have, missing)?;
        // A difference moves on to the next start; a match to the next byte.
        let same = self.builder.build_int_compare(IntPredicate::EQ, have, want, "same")?;
        let next_byte = self.ctx.append_basic_block(f.function, "strstr_same");
        let next_start = self.ctx.append_basic_block(f.function, "strstr_next");
        self.builder.build_conditional_branch(same, next_byte, next_start)?;
        self.builder.position_at_end(next_byte);
        self.loop_next(&inner, j)?;
        self.builder.position_at_end(next_start);
        self.loop_next(&outer, start)?;
        self.builder.position_at_end(found);
        let at = self.phi(&found_at, "strstr_index")?;
        let found_end = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let done = self.ctx.append_basic_block(f.function, "strstr_done");
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(missing);
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        let phi = self.builder.build_phi(i64, "strstr")?;
        phi.add_incoming(&[(&at, found_end), (&i64.const_all_ones(), missing)]);
        Ok(phi.as_basic_value().into_int_value())
    }

    /// `str_concat(a, b)`: `a`'s bytes up to its NUL, then `b`'s, in a string as long as both.
    pub(super) fn str_concat(&mut self, f: &mut Func<'ctx>, args: &[Expr]) -> Result<V<'ctx>> {
        let (a, la) = self.expr(f, &args[0])?.string()?;
        let (b, lb) = self.expr(f, &args[1])?.string()?;
        let cap = la + lb - 1;
        let out = self.buffer(f, cap, "concat")?;
        // `a` into `out`, to its NUL (at most la - 1 bytes): the length is where `b` goes.
        let second = self.ctx.append_basic_block(f.function, "concat_b");
        let from = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let first = self.loop_head(f, from, "concat_a")?;
        let i = first.index.as_basic_value().into_int_value();
        let mut ends = vec![(i, self.exit_unless_below(f, i, la - 1, second)?)];
        let c = self.byte_at(a, i)?;
        ends.push((i, self.exit_if_zero(f, c, second)?));
        self.store_byte(out, i, c)?;
        self.loop_next(&first, i)?;
        self.builder.position_at_end(second);
        let at = self.phi(&ends, "concat_at")?;
        let done = self.ctx.append_basic_block(f.function, "concat_done");
        let from = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let rest = self.loop_head(f, from, "concat_b_byte")?;
        let j = rest.index.as_basic_value().into_int_value();
        self.exit_unless_below(f, j, lb - 1, done)?;
        let c = self.byte_at(b, j)?;
        self.exit_if_zero(f, c, done)?;
        let k = self.builder.build_int_add(at, j, "k")?;
        self.exit_unless_below(f, k, cap - 1, done)?;
        self.store_byte(out, k, c)?;
        self.loop_next(&rest, j)?;
        self.builder.position_at_end(done);
        Ok(V::Str(out, cap))
    }

    /// `memcmp(l, r, n)`: 0 when the first `n` bytes agree (at most the shorter capacity), else
    /// the difference of the first bytes that differ, as unsigned chars.
    pub(super) fn memcmp(&mut self, f: &mut Func<'ctx>, args: &[Expr]) -> Result<V<'ctx>> {
        let (l, ll) = self.expr(f, &args[0])?.string()?;
        let (r, lr) = self.expr(f, &args[1])?.string()?;
        let n = self.expr(f, &args[2])?.int()?;
        let i64 = self.i64();
        let done = self.ctx.append_basic_block(f.function, "memcmp_done");
        let from = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let l0 = self.loop_head(f, from, "memcmp")?;
        let i = l0.index.as_basic_value().into_int_value();
        let zero = i64.const_zero();
        let mut results = vec![(zero, self.exit_unless_below(f, i, ll.min(lr), done)?)];
        let past = self.builder.build_int_compare(IntPredicate::UGE, i, n, "past")?;
        results.push((zero, self.branch_out(f, past, done)?));
        let x = self.builder.build_int_z_extend(self.byte_at(l, i)?, i64, "x")?;
        let y = self.builder.build_int_z_extend(self.byte_at(r, i)?, i64, "y")?;
        let diff = self.builder.build_int_sub(x, y, "diff")?;
        let differ = self.builder.build_int_compare(IntPredicate::NE, x, y, "differ")?;
        results.push((diff, self.branch_out(f, differ, done)?));
        self.loop_next(&l0, i)?;
        self.builder.position_at_end(done);
        Ok(V::Int(self.phi(&results, "memcmp")?))
    }

    /// Starts a loop after block `from`: branches to a new head whose index starts at 0.
    fn loop_head(&mut self, f: &Func<'ctx>, from: BasicBlock<'ctx>, name: &str) -> Result<Loop<'ctx>> {
        let head = self.ctx.append_basic_block(f.function, name);
        self.builder.build_unconditional_branch(head)?;
        self.builder.position_at_end(head);
        let index = self.builder.build_phi(self.i64(), "i")?;
        index.add_incoming(&[(&self.i64().const_zero(), from)]);
        Ok(Loop { head, index })
    }

    /// Ends the loop's body: the index plus one, back to the head.
    fn loop_next(&self, l: &Loop<'ctx>, i: IntValue<'ctx>) -> Result<()> {
        let next = self.builder.build_int_add(i, self.i64().const_int(1, false), "next")?;
        let here = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        l.index.add_incoming(&[(&next, here)]);
        self.builder.build_unconditional_branch(l.head)?;
        Ok(())
    }

    /// Goes on when `i < bound`, else to `out`; the block it left from.
    fn exit_unless_below(&self, f: &Func<'ctx>, i: IntValue<'ctx>, bound: u32, out: BasicBlock<'ctx>) -> Result<BasicBlock<'ctx>> {
        let over = self.builder.build_int_compare(IntPredicate::UGE, i, self.i64().const_int(bound as u64, false), "over")?;
        self.branch_out(f, over, out)
    }

    /// Goes on when `byte` is not NUL, else to `out`; the block it left from.
    fn exit_if_zero(&self, f: &Func<'ctx>, byte: IntValue<'ctx>, out: BasicBlock<'ctx>) -> Result<BasicBlock<'ctx>> {
        let nul = self.builder.build_int_compare(IntPredicate::EQ, byte, self.ctx.i8_type().const_zero(), "nul")?;
        self.branch_out(f, nul, out)
    }

    /// Branches to `out` when `cond`, else on in a new block; the block it left from.
    fn branch_out(&self, f: &Func<'ctx>, cond: IntValue<'ctx>, out: BasicBlock<'ctx>) -> Result<BasicBlock<'ctx>> {
        let here = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let on = self.ctx.append_basic_block(f.function, "on");
        self.builder.build_conditional_branch(cond, out, on)?;
        self.builder.position_at_end(on);
        Ok(here)
    }

    /// A phi of the values coming from each block.
    fn phi(&self, incoming: &[(IntValue<'ctx>, BasicBlock<'ctx>)], name: &str) -> Result<IntValue<'ctx>> {
        let phi = self.builder.build_phi(self.i64(), name)?;
        for (v, b) in incoming {
            phi.add_incoming(&[(v, *b)]);
        }
        Ok(phi.as_basic_value().into_int_value())
    }

    /// The byte at `p[i]` (a volatile load: LLVM must not hoist it above the bound check).
    fn byte_at(&self, p: PointerValue<'ctx>, i: IntValue<'ctx>) -> Result<IntValue<'ctx>> {
        // SAFETY (LLVM sense): `i` is below the buffer's capacity, checked just before.
        let at = unsafe { self.builder.build_gep(self.ctx.i8_type(), p, &[i], "at")? };
        let load = self.builder.build_load(self.ctx.i8_type(), at, "byte")?;
        if let Some(inst) = load.as_instruction_value() {
            inst.set_volatile(true).map_err(|e| CodegenError(e.to_string()))?;
        }
        Ok(load.into_int_value())
    }

    fn store_byte(&self, p: PointerValue<'ctx>, i: IntValue<'ctx>, byte: IntValue<'ctx>) -> Result<()> {
        // SAFETY (LLVM sense): `i` is below the buffer's capacity, checked just before.
        let at = unsafe { self.builder.build_gep(self.ctx.i8_type(), p, &[i], "at")? };
        self.builder.build_store(at, byte)?;
        Ok(())
    }
}
