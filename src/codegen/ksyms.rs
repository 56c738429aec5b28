//! Kernel symbols named by BTF (`sema::ksyms`), as clang emits `__ksym` externs: an extern
//! global or a declared function in section `.ksyms`, with debug info (`btf.rs`) that LLVM
//! turns into an extern VAR or FUNC; libbpf resolves them against the kernel's BTF at load
//! (a variable's address as a BTF id the verifier knows, a call as a kfunc call). Then what
//! uses them: `percpu_kaddr()` (`bpf_this_cpu_ptr`/`bpf_per_cpu_ptr` of a per-CPU variable)
//! and `comm(pid)` (kfuncs `bpf_task_from_pid`, `bpf_task_release`).

use super::expr::V;
use super::{btf, CodegenError, Func, Gen, Result};
use crate::parser::ast::Expr;
use crate::sema::ksyms::{Ksym, KsymTy};
use crate::sema::{Access, Res};
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::module::{Linkage, Module};
use inkwell::types::{BasicMetadataTypeEnum, BasicType, BasicTypeEnum};
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, GlobalValue};
use inkwell::AddressSpace;
use libbpf_rs::libbpf_sys as sys;
use std::collections::HashMap;

/// The object's `.ksyms` externs, by name.
#[derive(Default)]
pub(crate) struct Ksyms<'ctx> {
    vars: HashMap<String, GlobalValue<'ctx>>,
    funcs: HashMap<String, FunctionValue<'ctx>>,
}

const SECTION: &str = ".ksyms";

impl<'ctx> Ksyms<'ctx> {
    /// Declares every extern the programs name.
    pub fn declare(module: &Module<'ctx>, btf: &btf::Btf<'ctx, '_>, ksyms: &[Ksym]) -> Ksyms<'ctx> {
        let ctx = module.get_context();
        let mut out = Ksyms::default();
        for ksym in ksyms {
            match ksym {
                Ksym::Var { name, ty } => {
                    // The IR type does not matter: only the address is used.
                    let global = module.add_global(ctx.i8_type(), None, name);
                    global.set_linkage(Linkage::External);
                    global.set_section(Some(SECTION));
                    btf.ksym_var(global, name, ty);
                    out.vars.insert(name.clone(), global);
                }
                Ksym::Func { name, ret, params } => {
                    let ir = |t: &KsymTy| -> Option<BasicTypeEnum<'ctx>> {
                        match t {
                            KsymTy::Void => None,
                            KsymTy::Int { bytes, .. } | KsymTy::Enum { bytes } => Some(match bytes {
                                1 => ctx.i8_type().into(),
                                2 => ctx.i16_type().into(),
                                4 => ctx.i32_type().into(),
                                _ => ctx.i64_type().into(),
                            }),
                            _ => Some(ctx.ptr_type(AddressSpace::default()).into()),
                        }
                    };
                    let args: Vec<BasicMetadataTypeEnum> = params.iter().map(|(_, t)| ir(t).unwrap_or(ctx.i64_type().into()).into()).collect();
                    let fn_type = match ir(ret) {
                        Some(r) => r.fn_type(&args, false),
                        None => ctx.void_type().fn_type(&args, false),
                    };
                    let function = module.add_function(name, fn_type, Some(Linkage::External));
                    function.set_section(Some(SECTION));
                    let nounwind = ctx.create_enum_attribute(Attribute::get_named_enum_kind_id("nounwind"), 0);
                    function.add_attribute(AttributeLoc::Function, nounwind);
                    btf.ksym_func(function, name, ret, params);
                    out.funcs.insert(name.clone(), function);
                }
            }
        }
        out
    }
}

impl<'ctx, 'm> Gen<'ctx, 'm> {
    fn kfunc(&self, name: &str) -> Result<FunctionValue<'ctx>> {
        self.ksyms.funcs.get(name).copied().ok_or_else(|| CodegenError(format!("kfunc {name} not declared")))
    }

    /// `percpu_kaddr(name[, cpu])`: the variable's address on this CPU, or on `cpu` (NULL past
    /// the last CPU).
    pub(super) fn percpu_kaddr(&mut self, f: &mut Func<'ctx>, name: &str, args: &[Expr]) -> Result<V<'ctx>> {
        let var = self.ksyms.vars.get(name).copied().ok_or_else(|| CodegenError(format!("ksym {name} not declared")))?;
        let p = var.as_pointer_value();
        let addr = match args.get(1) {
            None => self.call_helper(sys::BPF_FUNC_this_cpu_ptr, &[p.into()])?,
            Some(cpu) => {
                let cpu = self.expr(f, cpu)?.int()?;
                self.call_helper(sys::BPF_FUNC_per_cpu_ptr, &[p.into(), cpu.into()])?
            }
        };
        Ok(V::Int(addr))
    }

    /// `comm(pid)`: the task of `pid` from `bpf_task_from_pid`; its `comm` read, then the task
    /// released; "N/A" when there is no such process (as bpftrace's stdlib).
    pub(super) fn comm_of_pid(&mut self, f: &mut Func<'ctx>, e: &Expr, pid: &Expr) -> Result<V<'ctx>> {
        let Res::CommOfPid { comm } = self.res(f, e).clone() else {
            return Err(CodegenError("not comm(pid)".into()));
        };
        let Access { read: crate::sema::Read::Chars { len }, .. } = comm else {
            return Err(CodegenError("comm is not a string".into()));
        };
        let (from_pid, release) = (self.kfunc("bpf_task_from_pid")?, self.kfunc("bpf_task_release")?);
        let pid = self.expr(f, pid)?.int()?;
        let pid = self.builder.build_int_truncate(pid, self.ctx.i32_type(), "pid")?;
        let buf = self.buffer(f, len, "comm_pid")?;
        self.zero(buf, len)?;
        let call = self.builder.build_call(from_pid, &[BasicMetadataValueEnum::from(pid)], "task")?;
        let inkwell::values::ValueKind::Basic(task) = call.try_as_basic_value() else {
            return Err(CodegenError("bpf_task_from_pid returned nothing".into()));
        };
        let task = task.into_pointer_value();
        let (found, missing, done) = (
            self.ctx.append_basic_block(f.function, "task_found"),
            self.ctx.append_basic_block(f.function, "no_task"),
            self.ctx.append_basic_block(f.function, "comm_done"),
        );
        let none = self.builder.build_is_null(task, "none")?;
        self.builder.build_conditional_branch(none, missing, found)?;
        self.builder.position_at_end(found);
        let base = self.builder.build_ptr_to_int(task, self.i64(), "task_addr")?;
        let V::Str(name, _) = self.member_read(f, e, comm, base)? else {
            return Err(CodegenError("comm read is not a string".into()));
        };
        self.copy(buf, name, len)?;
        self.builder.build_call(release, &[task.into()], "")?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(missing);
        self.store_u32(buf, 0, u32::from_le_bytes(*b"N/A\0"))?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        Ok(V::Str(buf, len))
    }
}
