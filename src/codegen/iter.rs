//! What an `iter:` probe's program does beyond others: `ctx.NAME` loaded from the context
//! itself (the verifier's rule for tracing programs; a NULL pointer member, the iterator's
//! last call, ends the program as bpftrace's does) and `printf()` as `bpf_seq_printf` into
//! the iterator's text, the arguments an array of u64 on the stack.

use super::expr::V;
use super::{CodegenError, Func, Gen, Result};
use crate::parser::ast::Expr;
use crate::sema::SeqArg;
use inkwell::AddressSpace;
use libbpf_rs::libbpf_sys as sys;

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// `ctx.NAME`: `size` bytes at `offset` in the context, widened to 64 bits.
    pub(super) fn iter_field(&mut self, f: &mut Func<'ctx>, offset: u32, size: u32, signed: bool, null_ends: bool) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let at = self.offset(f.ctx_ptr, u64::from(offset))?;
        let narrow = self.int_of(8 * size);
        let raw = self.builder.build_load(narrow, at, "ctx_field")?.into_int_value();
        let value = match (size, signed) {
            (8, _) => raw,
            (_, true) => self.builder.build_int_s_extend(raw, i64, "sx")?,
            (_, false) => self.builder.build_int_z_extend(raw, i64, "zx")?,
        };
        if null_ends {
            let ends = self.ctx.append_basic_block(f.function, "iter_end");
            let goes_on = self.ctx.append_basic_block(f.function, "iter_item");
            let null = self.builder.build_int_compare(inkwell::IntPredicate::EQ, value, i64.const_zero(), "null")?;
            self.builder.build_conditional_branch(null, ends, goes_on)?;
            self.builder.position_at_end(ends);
            self.builder.build_return(Some(&self.ctx.i32_type().const_zero()))?;
            self.builder.position_at_end(goes_on);
        }
        Ok(V::Int(value))
    }

    /// `printf(fmt, args…)` in an iter probe: `bpf_seq_printf(ctx->meta->seq, fmt, …)`.
    pub(super) fn seq_printf(&mut self, f: &mut Func<'ctx>, fmt: &str, kinds: &[SeqArg], args: &[Expr]) -> Result<V<'ctx>> {
        if f.callback {
            return Err(CodegenError("printf in a loop's body of an iter probe".into()));
        }
        let i64 = self.i64();
        let data_len = 8 * kinds.len().max(1) as u32;
        let data = self.buffer(f, data_len, "seq_data")?;
        self.zero(data, data_len)?;
        for (i, (kind, arg)) in kinds.iter().zip(args).enumerate() {
            let value = match (kind, self.expr(f, arg)?) {
                (SeqArg::Str, V::Str(p, _)) => self.builder.build_ptr_to_int(p, i64, "str_addr")?,
                (SeqArg::Int { bits, signed }, V::Int(v)) if *bits < 64 => {
                    let narrow = self.builder.build_int_truncate(v, self.int_of(u32::from(*bits)), "c_int")?;
                    match signed {
                        true => self.builder.build_int_s_extend(narrow, i64, "sx")?,
                        false => self.builder.build_int_z_extend(narrow, i64, "zx")?,
                    }
                }
                (SeqArg::Int { .. }, V::Int(v)) => v,
                _ => return Err(CodegenError("a bpf_seq_printf argument of another kind".into())),
            };
            self.store_i64(data, 8 * i as u64, value)?;
        }
        let fmt_buf = match self.string_literal(f, fmt)? {
            V::Str(p, len) => (p, len),
            _ => return Err(CodegenError("format literal".into())),
        };
        // `struct bpf_iter__NAME` starts with `struct bpf_iter_meta *meta`, which starts with
        // `struct seq_file *seq` (both kernel ABI for iterator programs).
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let meta = self.builder.build_load(ptr, f.ctx_ptr, "meta")?.into_pointer_value();
        let seq = self.builder.build_load(ptr, meta, "seq")?.into_pointer_value();
        let fmt_len = i64.const_int(u64::from(fmt_buf.1), false);
        let data_len = i64.const_int(8 * kinds.len() as u64, false);
        self.call_helper(sys::BPF_FUNC_seq_printf, &[seq.into(), fmt_buf.0.into(), fmt_len.into(), data.into(), data_len.into()])?;
        Ok(V::Void)
    }

    /// The integer type `bits` wide (8, 16, 32 or 64).
    fn int_of(&self, bits: u32) -> inkwell::types::IntType<'ctx> {
        match bits {
            8 => self.ctx.i8_type(),
            16 => self.ctx.i16_type(),
            32 => self.ctx.i32_type(),
            _ => self.i64(),
        }
    }
}
