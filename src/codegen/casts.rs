//! Integer widths: casts (`(uint8)x`, an integer to an integer array and back), integer
//! arrays' elements, `bswap()`, and the narrowing every fixed-width value
//! goes through (cut to its bits, widened back to 64 by its signedness).

use super::expr::V;
use super::{CodegenError, Gen, Func, Result};
use crate::parser::ast::Expr;
use crate::plan::IntArray;
use crate::sema::{Res, Type};
use inkwell::values::IntValue;
use inkwell::IntPredicate;

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// `(TYPE)inner`, where `e` is the cast.
    pub(super) fn cast(&mut self, f: &mut Func<'ctx>, e: &Expr, inner: &Expr) -> Result<V<'ctx>> {
        // An integer array holds the integer's bytes, element 0 first (little-endian), the
        // rest of the 8 bytes zero.
        if let Type::IntArray(a) = self.ty(f, e) {
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

    /// `base[index]` of an integer array value: element i is bits [i * width, (i + 1) *
    /// width); an index out of range reads 0.
    pub(super) fn int_array_element(&mut self, f: &mut Func<'ctx>, a: IntArray, base: &Expr, index: &Expr) -> Result<V<'ctx>> {
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
