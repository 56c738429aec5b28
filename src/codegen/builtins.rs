//! Values the probe's context and BPF helpers give: builtins (`pid`, `comm`, `nsecs`,
//! `arg0`, `retval`, …), fentry/fexit arguments, tracepoint fields read from the record,
//! stacks (`kstack`, `ustack`: an id in the stack map of their depth) and `usym()`.

use super::expr::V;
use super::{CodegenError, Func, Gen, Result};
use crate::builtins::Builtin;
use crate::kernel::tracefs::FieldKind;
use crate::parser::ast::Expr;
use crate::plan;
use crate::sema::Type;
use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;
use libbpf_rs::libbpf_sys as sys;

/// Offsets in x86-64's `struct pt_regs` of the registers holding arguments 0–5 (di, si, dx,
/// cx, r8, r9), the return value (ax) and the code segment (cs, whose low bits are the
/// privilege level).
const PT_REGS_ARGS: [u64; 6] = [112, 104, 96, 88, 72, 64];
const PT_REGS_AX: u64 = 80;
const PT_REGS_CS: u64 = 136;

impl<'ctx, 'm> Gen<'ctx, 'm> {
    pub(super) fn builtin(&mut self, f: &mut Func<'ctx>, b: Builtin) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let bld = &self.builder;
        let low32 = i64.const_int(0xffff_ffff, false);
        let shift32 = i64.const_int(32, false);
        Ok(V::Int(match b {
            Builtin::Pid => bld.build_right_shift(self.call_helper(sys::BPF_FUNC_get_current_pid_tgid, &[])?, shift32, false, "pid")?,
            Builtin::Tid => bld.build_and(self.call_helper(sys::BPF_FUNC_get_current_pid_tgid, &[])?, low32, "tid")?,
            Builtin::Uid => bld.build_and(self.call_helper(sys::BPF_FUNC_get_current_uid_gid, &[])?, low32, "uid")?,
            Builtin::Gid => bld.build_right_shift(self.call_helper(sys::BPF_FUNC_get_current_uid_gid, &[])?, shift32, false, "gid")?,
            Builtin::Nsecs => self.call_helper(sys::BPF_FUNC_ktime_get_ns, &[])?,
            Builtin::Cpu => bld.build_and(self.call_helper(sys::BPF_FUNC_get_smp_processor_id, &[])?, low32, "cpu")?,
            Builtin::Elapsed => {
                let now = self.call_helper(sys::BPF_FUNC_ktime_get_ns, &[])?;
                let start = self.global(f, plan::GLOBAL_START_NS)?;
                self.builder.build_int_sub(now, start, "elapsed")?
            }
            Builtin::Comm => {
                let len = crate::sema::COMM_LEN;
                let buf = self.buffer(f, len, "comm")?;
                self.call_helper(sys::BPF_FUNC_get_current_comm, &[buf.into(), i64.const_int(len as u64, false).into()])?;
                return Ok(V::Str(buf, len));
            }
            Builtin::Args => return Err(CodegenError("`args` used as a value".into())),
            Builtin::Arg(n) => self.load_i64(f.ctx_ptr, PT_REGS_ARGS[n as usize])?,
            Builtin::Retval => self.load_i64(f.ctx_ptr, PT_REGS_AX)?,
            Builtin::FuncName => self.call_helper(sys::BPF_FUNC_get_func_ip, &[f.ctx_ptr.into()])?,
            Builtin::Curtask => self.call_helper(sys::BPF_FUNC_get_current_task, &[])?,
            // An iter probe's context, as an address.
            Builtin::Ctx => bld.build_ptr_to_int(f.ctx_ptr, i64, "ctx")?,
            Builtin::Ppid | Builtin::Pcomm | Builtin::LeaderTid | Builtin::LeaderComm => {
                return Err(CodegenError("a task read is two reads sema resolves".into()))
            }
            Builtin::Probetype | Builtin::HasCpid => return Err(CodegenError(format!("{b:?} is a constant"))),
            Builtin::Config => return Err(CodegenError("config is read by field, a constant".into())),
            Builtin::Username => return Err(CodegenError("username is uid".into())),
            Builtin::Usermode => {
                // The interrupted code's privilege level, the low two bits of `cs`: 3 is user.
                let cs = self.load_i64(f.ctx_ptr, PT_REGS_CS)?;
                let three = i64.const_int(3, false);
                let level = bld.build_and(cs, three, "cpl")?;
                let user = bld.build_int_compare(inkwell::IntPredicate::EQ, level, three, "user")?;
                bld.build_int_z_extend(user, i64, "usermode")?
            }
            Builtin::Cpid => self.global(f, plan::GLOBAL_CPID)?,
            Builtin::Kstack | Builtin::Ustack => {
                return Err(CodegenError("a stack reached codegen as a builtin".into()));
            }
            Builtin::Probe => self.call_helper(sys::BPF_FUNC_get_attach_cookie, &[f.ctx_ptr.into()])?,
            Builtin::Cgroup => self.call_helper(sys::BPF_FUNC_get_current_cgroup_id, &[])?,
            Builtin::Jiffies => self.call_helper(sys::BPF_FUNC_jiffies64, &[])?,
            Builtin::Rand => bld.build_and(self.call_helper(sys::BPF_FUNC_get_prandom_u32, &[])?, low32, "rand")?,
            Builtin::NumaId => bld.build_and(self.call_helper(sys::BPF_FUNC_get_numa_node_id, &[])?, low32, "numa")?,
            Builtin::Ncpus => return Err(CodegenError("ncpus is a constant".into())),
        }))
    }

    /// `kstack` or `ustack` (the spec is in the expression's type): the stack id from the
    /// map of its depth; a user stack also records the process, whose memory map names its
    /// frames.
    pub(super) fn stack(&mut self, f: &mut Func<'ctx>, e: &Expr) -> Result<V<'ctx>> {
        let Type::Stack(spec) = self.ty(f, e) else {
            return Err(CodegenError("a stack without its type".into()));
        };
        if spec.dwarf {
            return self.dw_stack(f, spec);
        }
        let i64 = self.i64();
        let map = *self.stacks.get(&spec.depth).ok_or_else(|| CodegenError("no stack map".into()))?;
        let flags = i64.const_int(if spec.user { sys::BPF_F_USER_STACK.into() } else { 0 }, false);
        let id = self.call_helper(sys::BPF_FUNC_get_stackid, &[f.ctx_ptr.into(), map.as_pointer_value().into(), flags.into()])?;
        if !spec.user {
            return Ok(V::Int(id));
        }
        let len = plan::USTACK_SIZE as u32;
        let buf = self.buffer(f, len, "ustack")?;
        self.store_i64(buf, 0, id)?;
        let tgid = self.call_helper(sys::BPF_FUNC_get_current_pid_tgid, &[])?;
        let pid = self.builder.build_right_shift(tgid, i64.const_int(32, false), false, "pid")?;
        self.store_i64(buf, 8, pid)?;
        Ok(V::Str(buf, len))
    }

    /// `len(kstack)`, `len(ustack)`: how many frames the stack taken here has, from
    /// `bpf_get_stack` into a per-CPU buffer (`plan::STACK_BUF_MAP`, made on first use: a
    /// stack id's frames cannot be read back in BPF); 0 when there is none.
    pub(super) fn stack_len(&mut self, f: &mut Func<'ctx>, spec: plan::StackSpec) -> Result<IntValue<'ctx>> {
        let i64 = self.i64();
        let bytes = 8 * plan::STACK_DEPTH as u64;
        let map = match self.stack_buf {
            Some(m) => m,
            None => {
                let m = self.btf.map(plan::STACK_BUF_MAP, sys::BPF_MAP_TYPE_PERCPU_ARRAY, 1, 4, bytes);
                *self.stack_buf.insert(m)
            }
        };
        let key = self.short_slot(f, self.ctx.i32_type().into(), "skey")?;
        self.builder.build_store(key, self.ctx.i32_type().const_zero())?;
        let p = self.lookup(map, key)?;
        let flags = i64.const_int(if spec.user { sys::BPF_F_USER_STACK.into() } else { 0 }, false);
        let size = i64.const_int(8 * spec.depth.min(plan::STACK_DEPTH) as u64, false);
        self.when_found(f, p, |g, f| {
            let n = g.call_helper(sys::BPF_FUNC_get_stack, &[f.ctx_ptr.into(), p.into(), size.into(), flags.into()])?;
            let failed = g.builder.build_int_compare(IntPredicate::SLT, n, i64.const_zero(), "failed")?;
            let n = g.builder.build_select(failed, i64.const_zero(), n, "bytes")?.into_int_value();
            Ok(g.builder.build_right_shift(n, i64.const_int(3, false), false, "frames")?)
        })
    }

    /// An fentry/fexit argument: the `index`-th u64 of the context, narrowed to `size` bytes
    /// and extended by sign.
    pub(super) fn ctx_slot(&self, f: &Func<'ctx>, index: u32, size: u32, signed: bool) -> Result<V<'ctx>> {
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

    /// Reads tracepoint field `e` from the record (at the field's offset in the format, or
    /// relocated through the event's BTF struct with `--co-re`).
    pub(super) fn tp_field(&mut self, f: &mut Func<'ctx>, e: &Expr, field: &crate::kernel::tracefs::Field) -> Result<V<'ctx>> {
        let at = match self.core_tp_field(f, e)? {
            Some(at) => at,
            None => self.offset(f.ctx_ptr, field.offset as u64)?,
        };
        self.tp_field_at(f, at, field)
    }

    /// Tracepoint field `field`, read from `at` in the record (an integer array: its address).
    pub(super) fn tp_field_at(&mut self, f: &mut Func<'ctx>, at: PointerValue<'ctx>, field: &crate::kernel::tracefs::Field) -> Result<V<'ctx>> {
        let i64 = self.i64();
        Ok(match field.kind {
            FieldKind::Int | FieldKind::Ptr { .. } => {
                let ty = match field.size {
                    1 => self.ctx.i8_type(),
                    2 => self.ctx.i16_type(),
                    4 => self.ctx.i32_type(),
                    _ => i64,
                };
                // (the verifier lets a program load no `common_` field, the record's first 8
                // bytes: `print(args)` reads those as it reads an unaligned field)
                let raw = if field.offset.is_multiple_of(field.size) && field.offset >= 8 {
                    self.builder.build_load(ty, at, "field")?.into_int_value()
                } else {
                    let tmp = self.short_slot(f, i64.into(), "tmp")?;
                    self.builder.build_store(tmp, i64.const_zero())?;
                    let n = i64.const_int(field.size as u64, false);
                    self.read_checked(f, sys::BPF_FUNC_probe_read_kernel, &[tmp.into(), n.into(), at.into()])?;
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
                self.read_checked(f, sys::BPF_FUNC_probe_read_kernel, &[buf.into(), n.into(), at.into()])?;
                V::Str(buf, len)
            }
            FieldKind::DataLocString => {
                let loc = self.builder.build_load(self.ctx.i32_type(), at, "loc")?.into_int_value();
                let loc = self.builder.build_int_z_extend(loc, i64, "loc")?;
                let off = self.builder.build_and(loc, i64.const_int(0xffff, false), "off")?;
                let base = self.builder.build_ptr_to_int(f.ctx_ptr, i64, "ctx")?;
                let addr = self.builder.build_int_add(base, off, "addr")?;
                let len = self.checked.plan.str_len;
                let buf = self.buffer(f, len, "str")?;
                let n = i64.const_int(len as u64, false);
                self.read_checked(f, sys::BPF_FUNC_probe_read_kernel_str, &[buf.into(), n.into(), addr.into()])?;
                V::Str(buf, len)
            }
            FieldKind::Other => return Err(CodegenError(format!("unreadable field {}", field.name))),
        })
    }

    /// `usym(addr)`: the address with the current process, whose memory map names it.
    pub(super) fn usym(&mut self, f: &mut Func<'ctx>, arg: &Expr) -> Result<V<'ctx>> {
        let addr = self.expr(f, arg)?.int()?;
        let len = plan::USYM_SIZE as u32;
        let buf = self.buffer(f, len, "usym")?;
        let tgid = self.call_helper(sys::BPF_FUNC_get_current_pid_tgid, &[])?;
        let pid = self.builder.build_right_shift(tgid, self.i64().const_int(32, false), false, "pid")?;
        self.store_i64(buf, 0, pid)?;
        self.store_i64(buf, 8, addr)?;
        Ok(V::Str(buf, len))
    }
}
