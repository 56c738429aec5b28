//! Integer widths: casts (`(uint8)x`, an integer or a string to an integer array, an array
//! back to an integer), integer arrays' elements and comparisons, IPv6 `pton()`, `bswap()`,
//! and the narrowing every fixed-width value goes through (cut to its bits, widened back to
//! 64 by its signedness). An integer array of at most 8 bytes is a `V::Int` holding its bytes;
//! a wider one is in memory, a `V::Str` of its bytes.

use super::expr::V;
use super::{CodegenError, Gen, Func, Result};
use crate::parser::ast::Expr;
use crate::parser::ast::{BinOp, ExprKind};
use crate::plan::IntArray;
use crate::sema::{Res, Type};
use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;
use libbpf_rs::libbpf_sys as sys;

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// `(TYPE)inner`, where `e` is the cast.
    pub(super) fn cast(&mut self, f: &mut Func<'ctx>, e: &Expr, inner: &Expr) -> Result<V<'ctx>> {
        // An integer array holds the integer's bytes, element 0 first (little-endian), the
        // rest of the 8 bytes zero.
        if let Type::IntArray(a) = self.ty(f, e) {
            if let Type::Str { .. } = self.ty(f, inner) {
                return self.string_to_array(f, a, inner);
            }
            let v = self.expr(f, inner)?.int()?;
            return Ok(V::Int(self.narrow(v, 8 * a.elem_bytes as u32 * a.len as u32, false)?));
        }
        // `(bool)x`: 1 when `x` is not 0.
        if self.ty(f, e) == Type::Bool {
            let v = self.expr(f, inner)?.int()?;
            let zero = self.i64().const_zero();
            let ne = self.builder.build_int_compare(IntPredicate::NE, v, zero, "bool")?;
            return Ok(V::Int(self.builder.build_int_z_extend(ne, self.i64(), "b")?));
        }
        // `(string[N])s`: the string in a buffer of N bytes, cut to N - 1 characters.
        if let Type::Str { len } = self.ty(f, e) {
            let V::Str(p, from) = self.expr(f, inner)? else {
                return Err(CodegenError("a string cast of a value that is not a string".into()));
            };
            if from == len {
                return Ok(V::Str(p, len));
            }
            let buf = self.buffer(f, len, "strcast")?;
            self.zero(buf, len)?;
            self.copy(buf, p, from.min(len - 1))?;
            return Ok(V::Str(buf, len));
        }
        match *self.res(f, e) {
            // An integer array in memory, read whole.
            Res::Memory(access) => {
                let addr = self.expr(f, inner)?.int()?;
                self.memory(f, access, addr)
            }
            Res::IntCast { bits, signed } => {
                let v = self.expr(f, inner)?.int()?;
                Ok(V::Int(self.narrow(v, bits, signed)?))
            }
            // Pointer casts and `(enum X)v` keep the value.
            _ => self.expr(f, inner),
        }
    }

    /// `(int8[])"str"`: a string's bytes (sema made the sizes equal) as an integer array;
    /// one of at most 8 bytes loaded as the integer holding them.
    fn string_to_array(&mut self, f: &mut Func<'ctx>, a: IntArray, inner: &Expr) -> Result<V<'ctx>> {
        let (p, len) = self.expr(f, inner)?.string()?;
        if a.in_memory() {
            return Ok(V::Str(p, a.bytes().min(len)));
        }
        let slot = self.buffer(f, 8, "array")?;
        self.copy(slot, p, a.bytes().min(len))?;
        Ok(V::Int(self.load_i64(slot, 0)?))
    }

    /// `pton("::1")`: the IPv6 address's 16 bytes, in memory.
    pub(super) fn pton(&mut self, f: &mut Func<'ctx>, text: &Expr) -> Result<V<'ctx>> {
        let ExprKind::Str(text) = &text.kind else {
            return Err(CodegenError("pton() of a value that is not a literal".into()));
        };
        let bytes = crate::sema::pton_bytes(text).ok_or_else(|| CodegenError(format!("pton() of `{text}`")))?;
        self.const_bytes(f, &bytes, bytes.len() as u32)
    }

    /// `base[index]` of an integer array value: element i is bits [i * width, (i + 1) *
    /// width) (bytes, of an array in memory); an index out of range reads 0.
    pub(super) fn int_array_element(&mut self, f: &mut Func<'ctx>, a: IntArray, base: &Expr, index: &Expr) -> Result<V<'ctx>> {
        if a.in_memory() {
            return self.memory_array_element(f, a, base, index);
        }
        let i64 = self.i64();
        let v = self.expr(f, base)?.int()?;
        let i = self.expr(f, index)?.int()?;
        let width = 8 * a.elem_bytes as u64;
        let shift = self.builder.build_int_mul(i, i64.const_int(width, false), "shift")?;
        let inside = self.builder.build_int_compare(IntPredicate::ULT, i, i64.const_int(a.len as u64, false), "inside")?;
        let shift = self.builder.build_select(inside, shift, i64.const_zero(), "safe")?.into_int_value();
        let elem = self.builder.build_right_shift(v, shift, false, "elem")?;
        let elem = self.narrow(elem, width as u32, a.signed)?;
        Ok(V::Int(self.builder.build_select(inside, elem, i64.const_zero(), "value")?.into_int_value()))
    }

    /// `base[index]` of an integer array in memory: the index is checked before the load, so
    /// the verifier sees it bounded.
    fn memory_array_element(&mut self, f: &mut Func<'ctx>, a: IntArray, base: &Expr, index: &Expr) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let (p, _) = self.expr(f, base)?.string()?;
        let i = self.expr(f, index)?.int()?;
        let before = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let (load_bb, join_bb) = (self.ctx.append_basic_block(f.function, "elem"), self.ctx.append_basic_block(f.function, "elemd"));
        let inside = self.builder.build_int_compare(IntPredicate::ULT, i, i64.const_int(a.len as u64, false), "inside")?;
        self.builder.build_conditional_branch(inside, load_bb, join_bb)?;
        self.builder.position_at_end(load_bb);
        let offset = self.builder.build_int_mul(i, i64.const_int(a.elem_bytes as u64, false), "offset")?;
        // SAFETY (LLVM sense): `offset` is inside the array's bytes, checked above.
        let at = unsafe { self.builder.build_gep(self.ctx.i8_type(), p, &[offset], "at")? };
        let raw = self.builder.build_load(self.int_of_bytes(a.elem_bytes as u32), at, "raw")?.into_int_value();
        let elem = match a.signed {
            true => self.builder.build_int_s_extend_or_bit_cast(raw, i64, "sx")?,
            false => self.builder.build_int_z_extend_or_bit_cast(raw, i64, "zx")?,
        };
        self.builder.build_unconditional_branch(join_bb)?;
        self.builder.position_at_end(join_bb);
        let phi = self.builder.build_phi(i64, "value")?;
        phi.add_incoming(&[(&elem, load_bb), (&i64.const_zero(), before)]);
        Ok(V::Int(phi.as_basic_value().into_int_value()))
    }

    /// The integer array type compared, when `lhs == rhs` compares an array wider than 8
    /// bytes or a kernel array (an integer array value and one of the same type, or a kernel
    /// array of the same elements, or two kernel arrays, as sema checked); `None` for other comparisons (narrow
    /// integer arrays compare as the integers holding them).
    pub(super) fn compared_array(&self, f: &Func<'ctx>, lhs: &Expr, rhs: &Expr) -> Option<IntArray> {
        match (self.ty(f, lhs), self.ty(f, rhs)) {
            (Type::IntArray(a), Type::IntArray(_)) if a.in_memory() => Some(a),
            (Type::IntArray(a), Type::Array { .. }) | (Type::Array { .. }, Type::IntArray(a)) => Some(a),
            // (two kernel arrays: sema read each whole, as a value)
            (Type::Array { .. }, Type::Array { .. }) => self.checked.progs[f.prog].array_reads.get(&lhs.id).copied(),
            _ => None,
        }
    }

    /// `lhs == rhs` (or `!=`) of arrays of type `a`: their bytes compared.
    pub(super) fn array_compare(&mut self, f: &mut Func<'ctx>, op: BinOp, a: IntArray, lhs: &Expr, rhs: &Expr) -> Result<V<'ctx>> {
        let l = self.array_bytes(f, a, lhs)?;
        let r = self.array_bytes(f, a, rhs)?;
        let eq = self.bytes_eq(l, r, a.bytes())?;
        let res = if op == BinOp::Eq { eq } else { self.builder.build_not(eq, "ne")? };
        Ok(V::Int(self.builder.build_int_z_extend(res, self.i64(), "b")?))
    }

    /// Where the bytes of array `e` (of type `a`, or a kernel array as large) are: an array
    /// in memory where it is, a narrow one stored in a slot, a kernel array read into one.
    fn array_bytes(&mut self, f: &mut Func<'ctx>, a: IntArray, e: &Expr) -> Result<PointerValue<'ctx>> {
        let unread = matches!(self.ty(f, e), Type::Array { .. }) && !self.checked.progs[f.prog].array_reads.contains_key(&e.id);
        match self.expr(f, e)? {
            V::Str(p, _) => Ok(p),
            V::Int(addr) if unread => self.read_kernel_array(f, e, a, addr),
            V::Int(v) => {
                let buf = self.buffer(f, 8, "array")?;
                self.store_i64(buf, 0, v)?;
                Ok(buf)
            }
            _ => Err(CodegenError("an array compared with no bytes".into())),
        }
    }

    /// The integer array value `a` of kernel array `e` at address `v`: its bytes read into a
    /// buffer, loaded as an integer when at most 8.
    pub(super) fn read_array(&mut self, f: &mut Func<'ctx>, e: &Expr, a: IntArray, v: V<'ctx>) -> Result<V<'ctx>> {
        let buf = self.read_kernel_array(f, e, a, v.int()?)?;
        Ok(match a.in_memory() {
            true => V::Str(buf, a.bytes()),
            false => V::Int(self.load_i64(buf, 0)?),
        })
    }

    /// Kernel array `e` (as large as `a`) at `addr` read into a buffer (zeroed past it).
    fn read_kernel_array(&mut self, f: &mut Func<'ctx>, e: &Expr, a: IntArray, addr: IntValue<'ctx>) -> Result<PointerValue<'ctx>> {
        let user = matches!(self.ty(f, e), Type::Array { user: true, .. });
        let buf = self.buffer(f, a.size() as u32, "karray")?;
        let helper = if user { sys::BPF_FUNC_probe_read_user } else { sys::BPF_FUNC_probe_read_kernel };
        self.read_checked(f, helper, &[buf.into(), self.i64().const_int(a.bytes() as u64, false).into(), addr.into()])?;
        Ok(buf)
    }

    /// Whether `len` bytes at `l` and `r` are the same (an `i1`): loaded 8, 4, 2 and 1 at a
    /// time, their differences OR-ed together.
    pub(super) fn bytes_eq(&self, l: PointerValue<'ctx>, r: PointerValue<'ctx>, len: u32) -> Result<IntValue<'ctx>> {
        let i64 = self.i64();
        let mut diff = i64.const_zero();
        let mut at = 0u32;
        while at < len {
            let width = [8, 4, 2, 1].into_iter().find(|w| at + w <= len).unwrap_or(1);
            let ty = self.int_of_bytes(width);
            let load = |p: PointerValue<'ctx>| -> Result<IntValue<'ctx>> {
                Ok(self.builder.build_load(ty, self.offset(p, at as u64)?, "b")?.into_int_value())
            };
            let x = self.builder.build_xor(load(l)?, load(r)?, "x")?;
            let x = self.builder.build_int_z_extend_or_bit_cast(x, i64, "x64")?;
            diff = self.builder.build_or(diff, x, "diff")?;
            at += width;
        }
        Ok(self.builder.build_int_compare(IntPredicate::EQ, diff, i64.const_zero(), "eq")?)
    }

    /// The LLVM integer type of 1, 2, 4 or 8 bytes (loads of it are aligned to its size, as
    /// every array's elements are: arrays start 8-byte aligned).
    fn int_of_bytes(&self, bytes: u32) -> inkwell::types::IntType<'ctx> {
        match bytes {
            1 => self.ctx.i8_type(),
            2 => self.ctx.i16_type(),
            4 => self.ctx.i32_type(),
            _ => self.i64(),
        }
    }

    /// `bswap(arg)` of an integer `bits` wide.
    pub(super) fn bswap(&mut self, f: &mut Func<'ctx>, arg: &Expr, bits: u32) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let v = self.expr(f, arg)?.int()?;
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

    /// `v` cut to its low `bits` and widened back to 64 bits by `signed`.
    pub(super) fn narrow(&self, v: IntValue<'ctx>, bits: u32, signed: bool) -> Result<IntValue<'ctx>> {
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
}
