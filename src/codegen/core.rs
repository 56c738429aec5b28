//! CO-RE (`--co-re`): kernel type accesses as LLVM's BPF relocation intrinsics, so that libbpf
//! moves each to the loading kernel's layout. A member is `llvm.preserve.struct.access.index`
//! (or `.union.`) on the local record of `sema::core`, a constant element of an embedded array
//! `llvm.preserve.array.access.index`, each call carrying `!llvm.preserve.access.index`
//! metadata that points at the record's debug type; `sizeof` is `llvm.bpf.preserve.type.info`,
//! `offsetof` and bitfields `llvm.bpf.preserve.field.info`. An embedded record or array's
//! address remembers the calls that made it (`Func::core_chains`), so that a walk such as
//! `t->signal->rlim[1].rlim_cur` is one chain from a named root, as clang writes it. Only
//! LLVM's optimisation pipeline lowers these calls (see `compile`).

use super::btf::CoreDi;
use super::expr::V;
use super::{CodegenError, Func, Gen, Result};
use crate::parser::ast::{Expr, ExprKind};
use crate::sema::core::CoreTy;
use crate::sema::{Access, CoreRef, Read};
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::intrinsics::Intrinsic;
use inkwell::llvm_sys::core::{LLVMMetadataAsValue, LLVMSetMetadata};
use inkwell::types::{AnyType, AnyTypeEnum, BasicTypeEnum};
use inkwell::values::{AsValueRef, BasicMetadataValueEnum, CallSiteValue, IntValue, PointerValue, ValueKind};
use libbpf_rs::libbpf_sys as sys;

/// `llvm.bpf.preserve.field.info` kinds (libbpf's `enum bpf_field_info_kind`).
const FIELD_BYTE_OFFSET: u64 = 0;
const FIELD_BYTE_SIZE: u64 = 1;
const FIELD_LSHIFT_U64: u64 = 4;
const FIELD_RSHIFT_U64: u64 = 5;
/// `llvm.bpf.preserve.type.info` kind: the type's size.
const TYPE_SIZE: u64 = 1;

/// The object's CO-RE state: the local records' debug types, and the sequence number each
/// `preserve.type.info` call needs to stay distinct.
pub(crate) struct Core<'ctx> {
    pub di: CoreDi<'ctx>,
    seq: u64,
}

impl<'ctx> Core<'ctx> {
    pub fn new(di: CoreDi<'ctx>) -> Core<'ctx> {
        Core { di, seq: 0 }
    }
}

/// How an address was computed by relocatable steps from a base pointer.
#[derive(Debug, Clone)]
pub(crate) struct Chain<'ctx> {
    base: PointerValue<'ctx>,
    steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    /// Member `member` of local record `record`.
    Member { record: u32, member: u32 },
    /// Element `index` of the array that is member `member` of local record `record` (the
    /// step before).
    Element { record: u32, member: u32, index: u64 },
}

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// The relocation sema noted for `e`, when compiling with `--co-re`.
    pub(super) fn core_ref(&self, f: &Func<'ctx>, e: &Expr) -> Option<&'m CoreRef> {
        self.core.as_ref()?;
        self.checked.progs[f.prog].core.get(&e.id)
    }

    /// A member in memory (`p->m`, `s.m`): relocated when sema noted it, else at sema's offset.
    pub(super) fn member_read(&mut self, f: &mut Func<'ctx>, e: &Expr, access: Access, base: IntValue<'ctx>) -> Result<V<'ctx>> {
        let Some(CoreRef::Member { record, path }) = self.core_ref(f, e) else {
            return self.memory(f, access, base);
        };
        let mut chain = self.chain_from(f, base)?;
        self.member_steps(*record, path, &mut chain)?;
        self.core_read(f, access, chain)
    }

    /// `base[index]` in memory: a constant element of an embedded array continues its chain;
    /// otherwise the element is at `base + index * stride`, the stride relocated for records.
    pub(super) fn element_read(&mut self, f: &mut Func<'ctx>, e: &Expr, access: Access, base: &Expr, index: &Expr) -> Result<V<'ctx>> {
        let addr = self.expr(f, base)?.int()?;
        let constant = match index.kind {
            ExprKind::Int(i) if !self.checked.progs[f.prog].params.contains_key(&index.id) => Some(i),
            _ => None,
        };
        if let (Some(i), Some(chain)) = (constant, f.core_chains.get(&addr)) {
            if let Some(&Step::Member { record, member }) = chain.steps.last() {
                if let CoreTy::Array { len, .. } = self.checked.core.records[record as usize].members[member as usize].ty {
                    if i < u64::from(len) {
                        let mut chain = chain.clone();
                        chain.steps.push(Step::Element { record, member, index: i });
                        return self.core_read(f, access, chain);
                    }
                }
            }
        }
        let i = self.expr(f, index)?.int()?;
        let stride = match self.core_ref(f, e) {
            Some(&CoreRef::Stride { record }) => self.type_size(record)?,
            _ => self.i64().const_int(access.scale, false),
        };
        let scaled = self.builder.build_int_mul(i, stride, "scaled")?;
        let addr = self.builder.build_int_add(addr, scaled, "elem")?;
        self.memory(f, access, addr)
    }

    /// `ppid` through relocations: the current task's `real_parent`, then its `tgid`.
    pub(super) fn core_task_field(
        &mut self,
        f: &mut Func<'ctx>,
        base: IntValue<'ctx>,
        task: u32,
        names: (&str, &str),
        link: Access,
        field: Access,
    ) -> Result<V<'ctx>> {
        let mut chain = self.chain_from(f, base)?;
        self.member_steps(task, &[names.0.to_string()], &mut chain)?;
        let V::Int(linked) = self.core_read(f, link, chain)? else {
            return Err(CodegenError(format!("{} is not a pointer", names.0)));
        };
        let mut chain = self.chain_from(f, linked)?;
        self.member_steps(task, &[names.1.to_string()], &mut chain)?;
        self.core_read(f, field, chain)
    }

    /// A tracepoint field's address in the record, relocated through the event's BTF struct.
    pub(super) fn core_tp_field(&mut self, f: &mut Func<'ctx>, e: &Expr) -> Result<Option<PointerValue<'ctx>>> {
        let Some(CoreRef::Member { record, path }) = self.core_ref(f, e) else { return Ok(None) };
        let mut chain = Chain { base: f.ctx_ptr, steps: Vec::new() };
        self.member_steps(*record, path, &mut chain)?;
        Ok(Some(self.emit_chain(&chain)?))
    }

    /// `sizeof(struct X)` or `offsetof(struct X, a.b)` relocated, when sema noted it so.
    pub(super) fn core_constant(&mut self, f: &Func<'ctx>, e: &Expr) -> Result<Option<IntValue<'ctx>>> {
        Ok(match self.core_ref(f, e) {
            Some(&CoreRef::Size { record }) => Some(self.type_size(record)?),
            Some(CoreRef::Member { record, path }) => {
                let null = self.ctx.ptr_type(Default::default()).const_null();
                let mut chain = Chain { base: null, steps: Vec::new() };
                self.member_steps(*record, path, &mut chain)?;
                Some(self.field_info(&chain, FIELD_BYTE_OFFSET)?)
            }
            _ => None,
        })
    }

    /// The chain that computed `base` (an embedded record or array), or a new one from it.
    fn chain_from(&self, f: &Func<'ctx>, base: IntValue<'ctx>) -> Result<Chain<'ctx>> {
        if let Some(chain) = f.core_chains.get(&base) {
            return Ok(chain.clone());
        }
        let ptr = self.builder.build_int_to_ptr(base, self.ctx.ptr_type(Default::default()), "core_base")?;
        Ok(Chain { base: ptr, steps: Vec::new() })
    }

    /// Appends the steps of `path` from kernel record `record` (its local record).
    fn member_steps(&self, record: u32, path: &[String], chain: &mut Chain<'ctx>) -> Result<()> {
        let types = &self.checked.core;
        let mut at = types.record(record).ok_or_else(|| CodegenError("a relocated record without its local type".into()))?;
        for (i, name) in path.iter().enumerate() {
            let (member, m) = types.member(at, name).ok_or_else(|| CodegenError(format!("no local member {name}")))?;
            chain.steps.push(Step::Member { record: at, member });
            if i + 1 < path.len() {
                let CoreTy::Record(next) = m.ty else {
                    return Err(CodegenError(format!("{name} is not an embedded record")));
                };
                at = next;
            }
        }
        Ok(())
    }

    /// Reads what `access` says at the end of `chain` (an embedded value's address is kept
    /// with its chain, for the steps after it).
    fn core_read(&mut self, f: &mut Func<'ctx>, access: Access, chain: Chain<'ctx>) -> Result<V<'ctx>> {
        let p = self.emit_chain(&chain)?;
        let addr = self.builder.build_ptr_to_int(p, self.i64(), "core_addr")?;
        match access.read {
            Read::Address => {
                f.core_chains.insert(addr, chain);
                Ok(V::Int(addr))
            }
            Read::Int { bitfield: Some(_), .. } => self.core_bitfield(f, &chain, addr),
            _ => self.memory_at(f, access, addr),
        }
    }

    /// A bitfield as libbpf's `BPF_CORE_READ_BITFIELD_PROBED` reads it: the bytes that hold
    /// it into the low end of a u64, shifted left then right by the loading kernel's amounts.
    fn core_bitfield(&mut self, f: &mut Func<'ctx>, chain: &Chain<'ctx>, addr: IntValue<'ctx>) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let size = self.field_info(chain, FIELD_BYTE_SIZE)?;
        let tmp = self.slot(f, i64.into(), "bitfield")?;
        self.builder.build_store(tmp, i64.const_zero())?;
        self.read_checked(f, sys::BPF_FUNC_probe_read_kernel, &[tmp.into(), size.into(), addr.into()])?;
        let raw = self.builder.build_load(i64, tmp, "raw")?.into_int_value();
        let left = self.field_info(chain, FIELD_LSHIFT_U64)?;
        let right = self.field_info(chain, FIELD_RSHIFT_U64)?;
        let shifted = self.builder.build_left_shift(raw, left, "bf_l")?;
        Ok(V::Int(self.builder.build_right_shift(shifted, right, false, "bf_r")?))
    }

    /// The calls of `chain`, from its base; each use of a chain gets its own calls, as each
    /// relocation is one instruction's.
    fn emit_chain(&mut self, chain: &Chain<'ctx>) -> Result<PointerValue<'ctx>> {
        let mut p = chain.base;
        for step in &chain.steps {
            p = match *step {
                Step::Member { record, member } => self.preserve_member(p, record, member)?,
                Step::Element { record, member, index } => self.preserve_element(p, record, member, index)?,
            };
        }
        Ok(p)
    }

    fn preserve_member(&mut self, p: PointerValue<'ctx>, record: u32, member: u32) -> Result<PointerValue<'ctx>> {
        let rec = &self.checked.core.records[record as usize];
        let i32 = self.ctx.i32_type();
        let idx = i32.const_int(member as u64, false);
        let md = self.core_di(record)?;
        let ptr = self.ctx.ptr_type(Default::default());
        let call = if rec.union {
            let decl = self.intrinsic("llvm.preserve.union.access.index", &[ptr.into(), ptr.into()])?;
            self.builder.build_call(decl, &[p.into(), idx.into()], "core_u")?
        } else {
            // The IR type only needs an element for each index; the offsets come from the
            // debug type.
            let elems: Vec<BasicTypeEnum> = vec![self.ctx.i8_type().into(); rec.members.len().max(1)];
            let elem_ty = self.ctx.struct_type(&elems, false);
            let decl = self.intrinsic("llvm.preserve.struct.access.index", &[ptr.into(), ptr.into()])?;
            let call = self.builder.build_call(decl, &[p.into(), idx.into(), idx.into()], "core_s")?;
            self.element_type(call, elem_ty.as_any_type_enum());
            call
        };
        self.attach_di(call, md);
        pointer(call)
    }

    fn preserve_element(&mut self, p: PointerValue<'ctx>, record: u32, member: u32, index: u64) -> Result<PointerValue<'ctx>> {
        let md = *self.core.as_ref().and_then(|c| c.di.members[record as usize].get(member as usize)).ok_or_else(|| CodegenError("no array type".into()))?;
        let CoreTy::Array { len, .. } = &self.checked.core.records[record as usize].members[member as usize].ty else {
            return Err(CodegenError("an element of a non-array".into()));
        };
        let i32 = self.ctx.i32_type();
        let ptr = self.ctx.ptr_type(Default::default());
        let decl = self.intrinsic("llvm.preserve.array.access.index", &[ptr.into(), ptr.into()])?;
        let args: [BasicMetadataValueEnum; 3] = [p.into(), i32.const_int(1, false).into(), i32.const_int(index, false).into()];
        let call = self.builder.build_call(decl, &args, "core_a")?;
        let array = self.ctx.i8_type().array_type(*len);
        self.element_type(call, array.as_any_type_enum());
        self.attach_di(call, md);
        pointer(call)
    }

    /// `llvm.bpf.preserve.field.info` of the member `chain` ends at, as a u64.
    fn field_info(&mut self, chain: &Chain<'ctx>, kind: u64) -> Result<IntValue<'ctx>> {
        let p = self.emit_chain(chain)?;
        let ptr = self.ctx.ptr_type(Default::default());
        let decl = self.intrinsic("llvm.bpf.preserve.field.info", &[ptr.into()])?;
        let call = self.builder.build_call(decl, &[p.into(), self.i64().const_int(kind, false).into()], "core_info")?;
        let v = int(call)?;
        Ok(self.builder.build_int_z_extend(v, self.i64(), "info")?)
    }

    /// The loading kernel's size of local record `record`'s kernel type (kernel id `btf`).
    fn type_size(&mut self, btf: u32) -> Result<IntValue<'ctx>> {
        let record = self.checked.core.record(btf).ok_or_else(|| CodegenError("a sized record without its local type".into()))?;
        let md = self.core_di(record)?;
        let core = self.core.as_mut().ok_or_else(|| CodegenError("CO-RE is off".into()))?;
        core.seq += 1;
        let seq = self.ctx.i32_type().const_int(core.seq, false);
        let decl = self.intrinsic("llvm.bpf.preserve.type.info", &[])?;
        let call = self.builder.build_call(decl, &[seq.into(), self.i64().const_int(TYPE_SIZE, false).into()], "core_size")?;
        self.attach_di(call, md);
        let v = int(call)?;
        Ok(self.builder.build_int_z_extend(v, self.i64(), "size")?)
    }

    fn core_di(&self, record: u32) -> Result<inkwell::debug_info::DIType<'ctx>> {
        self.core.as_ref().and_then(|c| c.di.records.get(record as usize).copied().flatten()).ok_or_else(|| CodegenError("no debug type for a relocated record".into()))
    }

    fn intrinsic(&self, name: &str, types: &[BasicTypeEnum<'ctx>]) -> Result<inkwell::values::FunctionValue<'ctx>> {
        Intrinsic::find(name).and_then(|i| i.get_declaration(self.module, types)).ok_or_else(|| CodegenError(format!("no {name}")))
    }

    /// Marks the call's first argument with `elementtype(ty)`, which the access intrinsics need.
    fn element_type(&self, call: CallSiteValue<'ctx>, ty: AnyTypeEnum<'ctx>) {
        let kind = Attribute::get_named_enum_kind_id("elementtype");
        call.add_attribute(AttributeLoc::Param(0), self.ctx.create_type_attribute(kind, ty));
    }

    /// Attaches `!llvm.preserve.access.index` pointing at debug type `md` to the call.
    fn attach_di(&self, call: CallSiteValue<'ctx>, md: inkwell::debug_info::DIType<'ctx>) {
        let kind = self.ctx.get_kind_id("llvm.preserve.access.index");
        // SAFETY: the call and the metadata belong to this context and live as long as it;
        // inkwell has no DIType-to-value conversion, which LLVMMetadataAsValue is.
        unsafe {
            let value = LLVMMetadataAsValue(self.ctx.raw(), md.as_mut_ptr());
            LLVMSetMetadata(call.as_value_ref(), kind, value);
        }
    }
}

fn pointer(call: CallSiteValue<'_>) -> Result<PointerValue<'_>> {
    match call.try_as_basic_value() {
        ValueKind::Basic(v) if v.is_pointer_value() => Ok(v.into_pointer_value()),
        _ => Err(CodegenError("an access intrinsic returned no pointer".into())),
    }
}

fn int(call: CallSiteValue<'_>) -> Result<IntValue<'_>> {
    match call.try_as_basic_value() {
        ValueKind::Basic(v) if v.is_int_value() => Ok(v.into_int_value()),
        _ => Err(CodegenError("an info intrinsic returned no integer".into())),
    }
}
