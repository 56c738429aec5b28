//! Strings: literals, reads of C strings from kernel or user memory (`str()`, char arrays),
//! comparisons (`==`, `strncmp()`, `strcontains()`) and `buf()`. A string is a zero-padded
//! buffer of the length sema gave it; comparisons stop at the first NUL.

use super::expr::V;
use super::{CodegenError, Func, Gen, Result};
use crate::parser::ast::{Expr, ExprKind};
use crate::plan;
use crate::sema::Type;
use inkwell::basic_block::BasicBlock;
use inkwell::types::IntType;
use inkwell::values::{BasicValue, IntValue, PointerValue};
use inkwell::IntPredicate;
use libbpf_rs::libbpf_sys as sys;

impl<'ctx, 'm> Gen<'ctx, 'm> {
    pub(super) fn string_literal(&mut self, f: &mut Func<'ctx>, s: &str) -> Result<V<'ctx>> {
        self.const_bytes(f, s.as_bytes(), s.len() as u32 + 1)
    }

    /// A buffer of `len` bytes (zeroed) that starts with `bytes`: a string literal, an IPv6
    /// `pton()`.
    pub(super) fn const_bytes(&mut self, f: &mut Func<'ctx>, bytes: &[u8], len: u32) -> Result<V<'ctx>> {
        let buf = self.buffer(f, len, "lit")?;
        for (i, byte) in bytes.iter().enumerate().filter(|(_, b)| **b != 0) {
            let at = self.offset(buf, i as u64)?;
            self.builder.build_store(at, self.ctx.i8_type().const_int(*byte as u64, false))?;
        }
        Ok(V::Str(buf, len))
    }

    /// Whether the string in `h` (`len` bytes, up to its first NUL) contains `needle`. Written
    /// as branches — at each start before the string ends, compare the needle byte by byte,
    /// on to the next start at the first difference — so that nothing stays live across the
    /// comparisons: as straight-line code, LLVM kept enough in BPF's ten registers to spill
    /// past the 512-byte stack. The loads are volatile so LLVM cannot speculate them back
    /// into straight-line code.
    pub(super) fn contains(&self, f: &Func<'ctx>, h: PointerValue<'ctx>, len: u32, needle: &[u8]) -> Result<IntValue<'ctx>> {
        let bld = &self.builder;
        let i8 = self.ctx.i8_type();
        let i64 = self.i64();
        if needle.is_empty() {
            return Ok(i64.const_int(1, false));
        }
        let byte = |i: usize| self.volatile_byte(h, i as u64);
        let found = self.ctx.append_basic_block(f.function, "contains_yes");
        let missing = self.ctx.append_basic_block(f.function, "contains_no");
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
        self.yes_or_no(f, found, missing, i64)
    }

    /// A byte at `p + i`, loaded volatile so that LLVM cannot speculate the branches around
    /// it back into straight-line code.
    fn volatile_byte(&self, p: PointerValue<'ctx>, i: u64) -> Result<IntValue<'ctx>> {
        let load = self.builder.build_load(self.ctx.i8_type(), self.offset(p, i)?, "byte")?;
        if let Some(inst) = load.as_instruction_value() {
            inst.set_volatile(true).map_err(|e| CodegenError(e.to_string()))?;
        }
        Ok(load.into_int_value())
    }

    /// 1 (of type `ty`) when control reaches block `yes`, 0 from block `no`, joined after both
    /// (neither has a terminator yet).
    fn yes_or_no(&self, f: &Func<'ctx>, yes: BasicBlock<'ctx>, no: BasicBlock<'ctx>, ty: IntType<'ctx>) -> Result<IntValue<'ctx>> {
        let bld = &self.builder;
        let done = self.ctx.append_basic_block(f.function, "joined");
        for block in [yes, no] {
            bld.position_at_end(block);
            bld.build_unconditional_branch(done)?;
        }
        bld.position_at_end(done);
        let phi = bld.build_phi(ty, "yes_no")?;
        phi.add_incoming(&[(&ty.const_int(1, false), yes), (&ty.const_zero(), no)]);
        Ok(phi.as_basic_value().into_int_value())
    }

    /// String equality up to the first NUL, over the shorter buffer. Written as branches, byte
    /// by byte (on to the end at the first difference or NUL), with volatile loads, as
    /// `contains` is: as straight-line code, two strings that are not literals kept so many
    /// bytes live that LLVM spilled past BPF's 512-byte stack.
    pub(super) fn str_eq(&self, f: &Func<'ctx>, a: PointerValue<'ctx>, la: u32, b: PointerValue<'ctx>, lb: u32) -> Result<IntValue<'ctx>> {
        let bld = &self.builder;
        let i8 = self.ctx.i8_type();
        let equal = self.ctx.append_basic_block(f.function, "streq_yes");
        let differ = self.ctx.append_basic_block(f.function, "streq_no");
        for i in 0..la.min(lb) as u64 {
            let (x, y) = (self.volatile_byte(a, i)?, self.volatile_byte(b, i)?);
            let same = self.ctx.append_basic_block(f.function, "streq_same");
            let next = self.ctx.append_basic_block(f.function, "streq_next");
            let ne = bld.build_int_compare(IntPredicate::NE, x, y, "ne")?;
            bld.build_conditional_branch(ne, differ, same)?;
            bld.position_at_end(same);
            let nul = bld.build_int_compare(IntPredicate::EQ, x, i8.const_zero(), "nul")?;
            bld.build_conditional_branch(nul, equal, next)?;
            bld.position_at_end(next);
        }
        bld.build_unconditional_branch(equal)?;
        self.yes_or_no(f, equal, differ, self.ctx.bool_type())
    }

    /// `str()` of an in-memory char array of `len` bytes at the argument's address.
    pub(super) fn str_array(&mut self, f: &mut Func<'ctx>, arg: &Expr, len: u32, user: bool) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let addr = self.expr(f, arg)?.int()?;
        let buf = self.buffer(f, len, "str")?;
        let helper = if user { sys::BPF_FUNC_probe_read_user_str } else { sys::BPF_FUNC_probe_read_kernel_str };
        self.read_checked(f, helper, &[buf.into(), i64.const_int(len as u64, false).into(), addr.into()])?;
        Ok(V::Str(buf, len))
    }

    /// `str(p)`: the C string at pointer `p`, from user memory when `user`.
    /// `path(p[, size])` in an fentry/fexit program: `bpf_d_path` into the string, at most
    /// `size` bytes (bounded by the string's).
    pub(super) fn d_path(&mut self, f: &mut Func<'ctx>, e: &Expr, args: &[Expr]) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let p = self.expr(f, &args[0])?.int()?;
        let Type::Str { len } = self.ty(f, e) else {
            return Err(CodegenError("path() is not a string".into()));
        };
        let buf = self.buffer(f, len, "path")?;
        self.zero(buf, len)?;
        let cap = i64.const_int(len as u64, false);
        let n = match args.get(1) {
            Some(n) => {
                let n = self.expr(f, n)?.int()?;
                let within = self.builder.build_int_compare(IntPredicate::ULE, n, cap, "within")?;
                self.builder.build_select(within, n, cap, "path_size")?.into_int_value()
            }
            None => cap,
        };
        self.call_helper(sys::BPF_FUNC_d_path, &[p.into(), buf.into(), n.into()])?;
        Ok(V::Str(buf, len))
    }

    pub(super) fn str_read(&mut self, f: &mut Func<'ctx>, e: &Expr, args: &[Expr], user: bool) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let ptr = self.expr(f, &args[0])?.int()?;
        let len = match self.ty(f, e) {
            Type::Str { len } => len,
            _ => self.checked.plan.str_len,
        };
        // A string of `max_strlen` bytes is read with one byte more (bpftrace 0.26): one that
        // fills them keeps no NUL, and prints with config `str_trunc_trailer`.
        let read = len + u32::from(self.checked.plan.str_extra_byte && len == self.checked.plan.str_len);
        let buf = self.buffer(f, read, "str")?;
        let n = match args.get(1) {
            // `str(p, n)`: n bytes at most (the buffer's size, when n is larger or negative).
            Some(n) => {
                let n = self.expr(f, n)?.int()?;
                let cap = i64.const_int(read as u64, false);
                let within = self.builder.build_int_compare(IntPredicate::ULE, n, cap, "within")?;
                self.builder.build_select(within, n, cap, "str_size")?.into_int_value()
            }
            None => i64.const_int(read as u64, false),
        };
        if user {
            self.read_checked(f, sys::BPF_FUNC_probe_read_user_str, &[buf.into(), n.into(), ptr.into()])?;
            return Ok(V::Str(buf, len));
        }
        // BTF does not say which pointers are user pointers (Debian's has no __user
        // tags): a kernel read that faults is retried from user memory.
        let r = self.call_helper(sys::BPF_FUNC_probe_read_kernel_str, &[buf.into(), n.into(), ptr.into()])?;
        let failed = self.builder.build_int_compare(IntPredicate::SLT, r, i64.const_zero(), "failed")?;
        let retry = self.ctx.append_basic_block(f.function, "user_str");
        let done = self.ctx.append_basic_block(f.function, "str_done");
        self.builder.build_conditional_branch(failed, retry, done)?;
        self.builder.position_at_end(retry);
        // `-k` warns when this read fails too.
        self.read_checked(f, sys::BPF_FUNC_probe_read_user_str, &[buf.into(), n.into(), ptr.into()])?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        Ok(V::Str(buf, len))
    }

    /// `write_user(dst, src, len)`: 1 if `bpf_probe_write_user` wrote `len` bytes of `src` (at
    /// most its size) at `dst`, else 0.
    pub(super) fn write_user(&mut self, f: &mut Func<'ctx>, args: &[Expr]) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let dst = self.expr(f, &args[0])?.int()?;
        let (src, size) = self.expr(f, &args[1])?.string()?;
        let len = self.expr(f, &args[2])?.int()?;
        let cap = i64.const_int(u64::from(size), false);
        let within = self.builder.build_int_compare(IntPredicate::ULE, len, cap, "within")?;
        let len = self.builder.build_select(within, len, cap, "len")?.into_int_value();
        let r = self.call_helper(sys::BPF_FUNC_probe_write_user, &[dst.into(), src.into(), len.into()])?;
        let ok = self.builder.build_int_compare(IntPredicate::EQ, r, i64.const_zero(), "written")?;
        Ok(V::Int(self.builder.build_int_z_extend(ok, i64, "write_user")?))
    }

    /// `strcontains(s, "literal")`; a needle known only at run time is searched for in a loop.
    pub(super) fn strcontains(&mut self, f: &mut Func<'ctx>, args: &[Expr]) -> Result<V<'ctx>> {
        let ExprKind::Str(needle) = &args[1].kind else {
            return self.strcontains_dynamic(f, args);
        };
        let (p, n) = self.expr(f, &args[0])?.string()?;
        Ok(V::Int(self.contains(f, p, n, needle.as_bytes())?))
    }

    /// `strncmp(a, b, n)`: 0 when the strings agree in their first `n` bytes (up to a NUL).
    pub(super) fn strncmp(&mut self, f: &mut Func<'ctx>, args: &[Expr], n: u64) -> Result<V<'ctx>> {
        let (a, la) = self.expr(f, &args[0])?.string()?;
        let (b, lb) = self.expr(f, &args[1])?.string()?;
        let n = n.min(u32::MAX as u64) as u32;
        let equal = self.str_eq(f, a, la.min(n), b, lb.min(n))?;
        let differ = self.builder.build_not(equal, "differ")?;
        Ok(V::Int(self.builder.build_int_z_extend(differ, self.i64(), "strncmp")?))
    }

    /// `buf(s[, n])` or `buf(p, n)`: a u64 length, then up to `BUF_LEN` bytes.
    pub(super) fn buf(&mut self, f: &mut Func<'ctx>, args: &[Expr], user: bool) -> Result<V<'ctx>> {
        let i64 = self.i64();
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
                let helper = if user { sys::BPF_FUNC_probe_read_user } else { sys::BPF_FUNC_probe_read_kernel };
                self.read_checked(f, helper, &[data.into(), n.into(), ptr.into()])?;
                n
            }
            V::Void | V::Tuple(..) => return Err(CodegenError("buf of nothing".into())),
        };
        self.store_i64(buf, 0, n)?;
        Ok(V::Str(buf, size))
    }
}
