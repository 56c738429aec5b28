//! Kernel and user memory: struct members, `*p`, `p[i]`, USDT arguments in memory, `ppid` and
//! the other task reads (`pcomm`, `leader_tid`, `leader_comm`),
//! `ntop()`'s address bytes, `macaddr()`'s 6 bytes — read with `bpf_probe_read_kernel` (or `_user`) at the offsets
//! and sizes sema recorded, so codegen never sees BTF.

use super::expr::V;
use super::{CodegenError, Func, Gen, Result};
use crate::parser::ast::Expr;
use crate::plan;
use crate::sema::{Access, CoreRef, Read, Res, Type};
use inkwell::values::IntValue;
use libbpf_rs::libbpf_sys as sys;

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// A value in kernel or user memory at `base + access.offset`: read it, or (for an
    /// embedded struct or array) just the address.
    pub(super) fn memory(&mut self, f: &mut Func<'ctx>, access: Access, base: IntValue<'ctx>) -> Result<V<'ctx>> {
        let addr = self.builder.build_int_add(base, self.i64().const_int(access.offset, false), "addr")?;
        self.memory_at(f, access, addr)
    }

    /// The value `access` reads at `addr` (its offset already added), or the address itself.
    pub(super) fn memory_at(&mut self, f: &mut Func<'ctx>, access: Access, addr: IntValue<'ctx>) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let (size, signed, bitfield) = match access.read {
            Read::Address => return Ok(V::Int(addr)),
            Read::Chars { len } => {
                // A string read stops at the NUL (the bytes after it stay 0, so equal strings
                // are equal keys) and always writes one: one byte more is read, so an array
                // with no NUL keeps all its `len` characters (and prints with the trailer).
                let buf = self.buffer(f, len + 1, "chars")?;
                let helper = if access.user { sys::BPF_FUNC_probe_read_user_str } else { sys::BPF_FUNC_probe_read_kernel_str };
                self.read_checked(f, helper, &[buf.into(), i64.const_int(len as u64 + 1, false).into(), addr.into()])?;
                return Ok(V::Str(buf, len));
            }
            Read::Int { size, signed, bitfield } => (size, signed, bitfield),
        };
        let tmp = self.short_slot(f, i64.into(), "mem")?;
        self.builder.build_store(tmp, i64.const_zero())?;
        let helper = if access.user { sys::BPF_FUNC_probe_read_user } else { sys::BPF_FUNC_probe_read_kernel };
        self.read_checked(f, helper, &[tmp.into(), i64.const_int(size as u64, false).into(), addr.into()])?;
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

    /// `ppid`, `pcomm`, `leader_tid`, `leader_comm` (`task` the call's argument, if any): the
    /// task's `real_parent` or `group_leader`, then that task's member.
    pub(super) fn task_field(&mut self, f: &mut Func<'ctx>, e: &Expr, task: Option<&Expr>) -> Result<V<'ctx>> {
        let Res::TaskField { link, field } = self.res(f, e).clone() else {
            return Err(CodegenError("not a task member read".into()));
        };
        let base = match task {
            Some(t) => self.expr(f, t)?.int()?,
            None => self.call_helper(sys::BPF_FUNC_get_current_task, &[])?,
        };
        if let Some(&CoreRef::TaskField { task, link: l, field: m }) = self.core_ref(f, e) {
            return self.core_task_field(f, base, task, (l, m), link, field);
        }
        let V::Int(linked) = self.memory(f, link, base)? else {
            return Err(CodegenError("a task link is not a pointer".into()));
        };
        self.memory(f, field, linked)
    }

    /// A USDT argument in memory: at the `base` register plus the `index` register times
    /// `scale` (registers are the context's u64 slots), plus `access.offset`.
    pub(super) fn reg_memory(&mut self, f: &mut Func<'ctx>, base: u32, index: Option<(u32, u8)>, access: Access) -> Result<V<'ctx>> {
        let mut addr = self.load_i64(f.ctx_ptr, 8 * base as u64)?;
        if let Some((index, scale)) = index {
            let i = self.load_i64(f.ctx_ptr, 8 * index as u64)?;
            let scaled = self.builder.build_int_mul(i, self.i64().const_int(scale as u64, false), "scaled")?;
            addr = self.builder.build_int_add(addr, scaled, "addr")?;
        }
        self.memory(f, access, addr)
    }

    /// `ntop([family, ]addr)`: the family, then the address's bytes (an IPv4 address as an
    /// integer, a kernel array of 4 or 16 bytes, an integer array value of 4 or 16 bytes).
    pub(super) fn ntop(&mut self, f: &mut Func<'ctx>, args: &[Expr]) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let len = plan::INET_SIZE as u32;
        let buf = self.buffer(f, len, "inet")?;
        let addr_expr = &args[args.len() - 1];
        let addr_ty = self.ty(f, addr_expr);
        let family = if args.len() == 2 {
            self.expr(f, &args[0])?.int()?
        } else {
            let v6 = matches!(addr_ty, Type::Array { len: 16, .. }) || matches!(addr_ty, Type::IntArray(a) if a.bytes() == 16);
            i64.const_int(if v6 { libc::AF_INET6 } else { libc::AF_INET } as u64, false)
        };
        self.store_i64(buf, 0, family)?;
        let addr = match self.expr(f, addr_expr)? {
            // A 16-byte integer array value (`pton("::1")`).
            V::Str(p, n) => {
                self.copy(self.offset(buf, 8)?, p, n.min(16))?;
                return Ok(V::Str(buf, len));
            }
            v => v.int()?,
        };
        match addr_ty {
            Type::Array { len, user, .. } => {
                let at = self.offset(buf, 8)?;
                let helper = if user { sys::BPF_FUNC_probe_read_user } else { sys::BPF_FUNC_probe_read_kernel };
                self.read_checked(f, helper, &[at.into(), i64.const_int(len as u64, false).into(), addr.into()])?;
            }
            _ => {
                let v4 = self.builder.build_int_truncate(addr, self.ctx.i32_type(), "v4")?;
                let at = self.offset(buf, 8)?;
                self.builder.build_store(at, v4)?;
            }
        }
        Ok(V::Str(buf, len))
    }

    /// `macaddr(mac)`: an integer array value's first 6 bytes, or 6 bytes read from the array
    /// in memory or the address `mac` (user memory when `user`), in the low bytes of an
    /// 8-byte value whose other bytes are 0.
    pub(super) fn macaddr(&mut self, f: &mut Func<'ctx>, mac: &Expr, user: bool) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let value = match self.expr(f, mac)? {
            // An integer array wider than 8 bytes: its first 8.
            V::Str(p, _) => self.load_i64(p, 0)?,
            v => v.int()?,
        };
        if let Type::IntArray(_) = self.ty(f, mac) {
            return Ok(V::Int(self.builder.build_and(value, i64.const_int(0xFFFF_FFFF_FFFF, false), "mac")?));
        }
        let tmp = self.short_slot(f, i64.into(), "mac")?;
        self.builder.build_store(tmp, i64.const_zero())?;
        let helper = if user { sys::BPF_FUNC_probe_read_user } else { sys::BPF_FUNC_probe_read_kernel };
        self.read_checked(f, helper, &[tmp.into(), i64.const_int(6, false).into(), value.into()])?;
        Ok(V::Int(self.builder.build_load(i64, tmp, "mac")?.into_int_value()))
    }
}
