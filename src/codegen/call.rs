//! Function calls: what sema resolved each call to (`Res`) picks the family that generates it —
//! events (`events.rs`), strings (`strings.rs`), maps (`maps.rs`), casts (`casts.rs`), builtin
//! values (`builtins.rs`), memory (`memory.rs`). This file only dispatches.

use super::expr::V;
use super::{CodegenError, Func, Gen, Result};
use crate::builtins::Func as F;
use crate::parser::ast::Expr;
use crate::plan::EventKind;
use crate::sema::Res;
use libbpf_rs::libbpf_sys as sys;

impl<'ctx, 'm> Gen<'ctx, 'm> {
    pub(super) fn call(&mut self, f: &mut Func<'ctx>, e: &Expr, args: &[Expr]) -> Result<V<'ctx>> {
        let i64 = self.i64();
        match self.res(f, e).clone() {
            // printf(fmt, args…) or system(fmt, args…), or print(value) sent as a printf of one
            // value.
            Res::Printf(id) => self.printf(f, id, &args[1..], EventKind::Printf),
            // printf in an iter probe: into the iterator's text.
            Res::SeqPrintf { fmt, args: kinds } => self.seq_printf(f, &fmt, &kinds, &args[1..]),
            Res::System(id) => self.printf(f, id, &args[1..], EventKind::System),
            Res::Cat(id) => self.printf(f, id, &args[1..], EventKind::CatFormat),
            Res::Message(id) => self.printf(f, id, &args[1..], EventKind::Message),
            Res::Assert(id) => self.assert(f, id, &args[0]),
            Res::PrintValue(id) => self.printf(f, id, args, EventKind::PrintValue),
            Res::StrArray { len, user } => self.str_array(f, &args[0], len, user),
            Res::Str { user } => self.str_read(f, e, args, user),
            Res::Plain => self.expr(f, &args[0]),
            Res::TypeInfo { base, full } => self.typeinfo(f, e, &base, &full),
            Res::Call(F::Exit) => self.exit(f, args),
            Res::Const(v) => Ok(V::Int(i64.const_int(v, false))),
            // A built tool's named parameter (`getopt()`), given when it starts.
            Res::Global(slot) => Ok(V::Int(self.global(f, slot)?)),
            // A built tool's string parameter (`str($N)`, a string `getopt()`).
            Res::GlobalStr(slot) => self.global_str(f, slot),
            Res::Call(F::Strcontains) => self.strcontains(f, args),
            Res::Time(id) => self.header_event(f, EventKind::Time, id as u32),
            Res::Event { kind, id } => self.header_event(f, kind, id),
            Res::Call(F::Print) => self.print_map(f, args),
            Res::Call(F::Unwatch) => self.unwatch(f, &args[0]),
            Res::Join { id, user } => self.join(f, &args[0], id, user),
            Res::Strncmp(n) => self.strncmp(f, args, n),
            Res::Bswap(bits) => self.bswap(f, &args[0], bits),
            Res::Buf { user } => self.buf(f, args, user),
            Res::Call(F::Kstack | F::Ustack | F::DwUstack) => self.stack(f, e),
            // The nanoseconds; the runtime formats them.
            Res::Call(F::Strftime) => self.expr(f, &args[1]),
            Res::Signal { number, thread } => {
                let sig = match number {
                    Some(n) => i64.const_int(n as u64, false),
                    None => self.expr(f, &args[0])?.int()?,
                };
                let helper = if thread { sys::BPF_FUNC_send_signal_thread } else { sys::BPF_FUNC_send_signal };
                self.call_helper(helper, &[sig.into()])?;
                Ok(V::Void)
            }
            Res::Call(F::Usym) => self.usym(f, &args[0]),
            Res::Call(F::WriteUser) => self.write_user(f, args),
            Res::Call(F::Override) => {
                let rc = self.expr(f, &args[0])?.int()?;
                self.call_helper(sys::BPF_FUNC_override_return, &[f.ctx_ptr.into(), rc.into()])?;
                Ok(V::Void)
            }
            Res::Call(F::Ntop) => self.ntop(f, args),
            Res::Call(F::Pton) => self.pton(f, &args[0]),
            Res::Macaddr { user } => self.macaddr(f, &args[0], user),
            Res::Call(F::Path) => self.d_path(f, e, args),
            Res::SkbOutput(id) => self.skb_output(f, id, args),
            Res::Call(F::SocketCookie) => {
                let sk = self.expr(f, &args[0])?.int()?;
                Ok(V::Int(self.call_helper(sys::BPF_FUNC_get_socket_cookie, &[sk.into()])?))
            }
            Res::Call(func @ (F::Clear | F::Zero)) => {
                let index = self.map_of(f, &args[0])?;
                let kind = if func == F::Clear { EventKind::Clear } else { EventKind::Zero };
                self.header_event(f, kind, index as u32)
            }
            Res::Call(F::HasKey) => self.has_key(f, args),
            Res::Call(F::Find) => self.find(f, args),
            Res::Call(F::Len) => self.map_len(f, args),
            Res::Call(F::Delete) => self.delete_entry(f, args),
            Res::Call(F::Strlen) => self.strlen(f, &args[0]),
            Res::Call(F::Strstr) => self.strstr(f, args),
            Res::Call(F::StrConcat) => self.str_concat(f, args),
            Res::Call(F::Memcmp) => self.memcmp(f, args),
            Res::PercpuKaddr(name) => self.percpu_kaddr(f, &name, args),
            Res::CommOfPid { .. } => self.comm_of_pid(f, e, &args[0]),
            Res::Ktime(helper) => Ok(V::Int(self.call_helper(helper, &[])?)),
            Res::Call(F::IsErr) => {
                // IS_ERR(): the top 4095 values of the address space.
                let p = self.expr(f, &args[0])?.int()?;
                let limit = i64.const_int((-4095i64) as u64, false);
                let err = self.builder.build_int_compare(inkwell::IntPredicate::UGE, p, limit, "is_err")?;
                Ok(V::Int(self.builder.build_int_z_extend(err, i64, "b")?))
            }
            // A builtin called as a function (`pid()`, `pcomm(task)`); `reg()`, a context slot.
            Res::TaskField { .. } => self.task_field(f, e, args.first()),
            Res::Builtin(_) | Res::ConstStr(_) | Res::CtxSlot { .. } => self.ident(f, e),
            other => Err(CodegenError(format!("cannot generate call {other:?}"))),
        }
    }
}
