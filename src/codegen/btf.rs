//! Debug info that LLVM's BPF back end turns into BTF: BTF-defined maps (the shape clang gives
//! `struct { __uint(type, …); … } name SEC(".maps")`) and a FUNC for every program, with named
//! parameters (the kernel rejects BTF whose function arguments have no names); the `__ksym`
//! externs (`sema::ksyms`) as clang describes them: an extern VAR or FUNC in DATASEC `.ksyms`.

use inkwell::context::Context;
use inkwell::debug_info::{
    AsDIScope, DICompileUnit, DIFile, DIFlags, DIFlagsConstants, DIType, DWARFEmissionKind, DWARFSourceLanguage,
    DebugInfoBuilder,
};
use inkwell::module::{FlagBehavior, Module};
use inkwell::values::{FunctionValue, GlobalValue};
use inkwell::AddressSpace;

use crate::sema::core::{CoreTy, CoreTypes};
use crate::sema::ksyms::KsymTy;

const DW_ATE_SIGNED: u32 = 0x05;
const DW_ATE_UNSIGNED: u32 = 0x07;
const DW_ATE_UNSIGNED_CHAR: u32 = 0x08;

/// The debug types of CO-RE's local records (`Btf::core_types`), by record index.
pub(crate) struct CoreDi<'ctx> {
    pub records: Vec<Option<DIType<'ctx>>>,
    /// Each record's members' types, in member order.
    pub members: Vec<Vec<DIType<'ctx>>>,
    /// Each record's local size in bytes.
    pub sizes: Vec<u64>,
}

pub(crate) struct Btf<'ctx, 'm> {
    ctx: &'ctx Context,
    module: &'m Module<'ctx>,
    di: DebugInfoBuilder<'ctx>,
    cu: DICompileUnit<'ctx>,
    file: DIFile<'ctx>,
    int: DIType<'ctx>,
    u8: DIType<'ctx>,
    u64: DIType<'ctx>,
}

impl<'ctx, 'm> Btf<'ctx, 'm> {
    pub fn new(ctx: &'ctx Context, module: &'m Module<'ctx>) -> Btf<'ctx, 'm> {
        let i32 = ctx.i32_type();
        module.add_basic_value_flag("Dwarf Version", FlagBehavior::Warning, i32.const_int(5, false));
        module.add_basic_value_flag("Debug Info Version", FlagBehavior::Warning, i32.const_int(3, false));
        let (di, cu) = module.create_debug_info_builder(
            true,
            DWARFSourceLanguage::C,
            "script.rt",
            ".",
            "rtrace",
            true,
            "",
            0,
            "",
            DWARFEmissionKind::Full,
            0,
            false,
            false,
            "",
            "",
        );
        let file = cu.get_file();
        // Basic types cannot fail to build with a non-empty name.
        let basic = |name: &str, bits: u64, enc: u32| {
            di.create_basic_type(name, bits, enc, DIFlags::ZERO).map(|t| t.as_type()).expect("basic type")
        };
        let int = basic("int", 32, DW_ATE_SIGNED);
        let u8 = basic("unsigned char", 8, DW_ATE_UNSIGNED_CHAR);
        let u64 = basic("unsigned long long", 64, DW_ATE_UNSIGNED);
        Btf { ctx, module, di, cu, file, int, u8, u64 }
    }

    fn ptr(&self, to: DIType<'ctx>) -> DIType<'ctx> {
        self.di.create_pointer_type("", to, 64, 64, AddressSpace::default()).as_type()
    }

    /// `int (*name)[n]`: how BTF-defined maps encode a number.
    fn number(&self, n: u64) -> DIType<'ctx> {
        let arr = self.di.create_array_type(self.int, 32 * n, 32, &[0..n as i64]).as_type();
        self.ptr(arr)
    }

    /// `unsigned char[n]` (or `unsigned long long` for 8 bytes), the type of a key or value.
    fn bytes(&self, n: u64) -> DIType<'ctx> {
        if n == 8 {
            return self.u64;
        }
        if n == 4 {
            return self.int;
        }
        self.di.create_array_type(self.u8, 8 * n, 8, &[0..n as i64]).as_type()
    }

    fn member(&self, name: &str, ty: DIType<'ctx>, index: u64) -> DIType<'ctx> {
        self.di
            .create_member_type(self.cu.as_debug_info_scope(), name, self.file, 0, 64, 64, 64 * index, DIFlags::ZERO, ty)
            .as_type()
    }

    fn define(&self, name: &str, members: Vec<DIType<'ctx>>) -> GlobalValue<'ctx> {
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let n = members.len();
        let llvm_ty = self.ctx.struct_type(&vec![ptr.into(); n], false);
        let global = self.module.add_global(llvm_ty, None, name);
        global.set_initializer(&llvm_ty.const_zero());
        global.set_section(Some(".maps"));
        global.set_alignment(8);
        let st = self.di.create_struct_type(
            self.cu.as_debug_info_scope(),
            "",
            self.file,
            0,
            64 * n as u64,
            64,
            DIFlags::ZERO,
            None,
            &members,
            0,
            None,
            "",
        );
        self.describe_global(global, name, st.as_type());
        global
    }

    /// Debug info for global `name` of type `ty`, which LLVM turns into its BTF VAR.
    fn describe_global(&self, global: GlobalValue<'ctx>, name: &str, ty: DIType<'ctx>) {
        let scope = self.cu.as_debug_info_scope();
        let gve = self.di.create_global_variable_expression(scope, name, name, self.file, 0, ty, false, None, None, 64);
        global.set_metadata(gve.as_metadata_value(self.ctx), self.ctx.get_kind_id("dbg"));
    }

    /// `const volatile unsigned long long name SEC(section) = 0;` as clang emits it: libbpf
    /// makes a `.rodata…` section a read-only array map whose value the runtime may set
    /// before loading. In a `.data…` section (`unsigned long long name SEC(section) = 0;`)
    /// it is a writable array map that libbpf maps into rtrace's memory, shared with the
    /// kernel's copy (`runtime::maps::MappedCounter`).
    pub fn section_u64(&mut self, name: &str, section: &str) -> GlobalValue<'ctx> {
        let global = self.module.add_global(self.ctx.i64_type(), None, name);
        global.set_initializer(&self.ctx.i64_type().const_zero());
        global.set_section(Some(section));
        global.set_alignment(8);
        self.describe_global(global, name, self.u64);
        global
    }

    /// A hash or array map.
    pub fn map(&mut self, name: &str, map_type: libbpf_rs::libbpf_sys::bpf_map_type, max_entries: u32, key_size: u64, value_size: u64) -> GlobalValue<'ctx> {
        let members = vec![
            self.member("type", self.number(map_type as u64), 0),
            self.member("max_entries", self.number(max_entries as u64), 1),
            self.member("key", self.ptr(self.bytes(key_size)), 2),
            self.member("value", self.ptr(self.bytes(value_size)), 3),
        ];
        self.define(name, members)
    }

    pub fn ringbuf(&mut self, name: &str, bytes: u32) -> GlobalValue<'ctx> {
        let members = vec![
            self.member("type", self.number(libbpf_rs::libbpf_sys::BPF_MAP_TYPE_RINGBUF.into()), 0),
            self.member("max_entries", self.number(bytes as u64), 1),
        ];
        self.define(name, members)
    }

    /// `int name(unsigned long long *ctx)` as the program's BTF FUNC.
    /// A program: `int name(void *ctx)`.
    pub fn function(&mut self, function: FunctionValue<'ctx>, name: &str) {
        self.subprogram(function, name, self.int, &["ctx"], false);
    }

    /// A `bpf_for_each_map_elem` callback: `static long name(void *map, void *key, void
    /// *value, void *ctx)`.
    pub fn callback(&mut self, function: FunctionValue<'ctx>, name: &str) {
        self.subprogram(function, name, self.u64, &["map", "key", "value", "ctx"], true);
    }

    /// A `bpf_loop` callback: `static long name(u64 index, void *ctx)` (the index typed as a
    /// pointer too: the kernel reads only the names of a static function's parameters).
    pub fn loop_callback(&mut self, function: FunctionValue<'ctx>, name: &str) {
        self.subprogram(function, name, self.u64, &["index", "ctx"], true);
    }

    /// A FUNC with `params` (each a pointer) named, as the kernel requires.
    fn subprogram(&mut self, function: FunctionValue<'ctx>, name: &str, ret: DIType<'ctx>, params: &[&str], local: bool) {
        let ptr = self.ptr(self.u64);
        let types = vec![ptr; params.len()];
        let sub = self.di.create_subroutine_type(self.file, Some(ret), &types, DIFlags::PROTOTYPED);
        let sp = self.di.create_function(
            self.cu.as_debug_info_scope(),
            name,
            None,
            self.file,
            1,
            sub,
            local,
            true,
            1,
            DIFlags::PROTOTYPED,
            true,
        );
        for (i, param) in params.iter().enumerate() {
            let arg = i as u32 + 1;
            self.di.create_parameter_variable(sp.as_debug_info_scope(), param, arg, self.file, 1, ptr, true, DIFlags::ZERO);
        }
        function.set_subprogram(sp);
    }

    /// The local types of CO-RE relocations (`sema::core`): each record as a named struct or
    /// union holding only its used members, laid out one after another (libbpf matches
    /// members by name and kind; the offsets here are not the kernel's).
    pub fn core_types(&self, types: &CoreTypes) -> CoreDi<'ctx> {
        let n = types.records.len();
        let mut di = CoreDi { records: vec![None; n], members: vec![Vec::new(); n], sizes: vec![0; n] };
        for i in 0..n {
            self.core_record(types, i as u32, &mut di);
        }
        di
    }

    fn core_record(&self, types: &CoreTypes, i: u32, di: &mut CoreDi<'ctx>) -> (DIType<'ctx>, u64) {
        if let Some(t) = di.records[i as usize] {
            return (t, di.sizes[i as usize]);
        }
        let record = &types.records[i as usize];
        let (mut members, mut types_of, mut offset, mut largest) = (Vec::new(), Vec::new(), 0u64, 0u64);
        for m in &record.members {
            let (ty, size) = self.core_ty(types, &m.ty, di);
            let at = if record.union { 0 } else { offset };
            let member = self.di.create_member_type(self.cu.as_debug_info_scope(), &m.name, self.file, 0, 8 * size, 8, 8 * at, DIFlags::ZERO, ty);
            members.push(member.as_type());
            types_of.push(ty);
            offset += size;
            largest = largest.max(size);
        }
        let size = if record.union { largest } else { offset }.max(1);
        let scope = self.cu.as_debug_info_scope();
        let t = match record.union {
            true => self.di.create_union_type(scope, &record.name, self.file, 0, 8 * size, 8, DIFlags::ZERO, &members, 0, ""),
            false => self.di.create_struct_type(scope, &record.name, self.file, 0, 8 * size, 8, DIFlags::ZERO, None, &members, 0, None, ""),
        }
        .as_type();
        di.records[i as usize] = Some(t);
        di.members[i as usize] = types_of;
        di.sizes[i as usize] = size;
        (t, size)
    }

    /// A member's local type and its bytes.
    fn core_ty(&self, types: &CoreTypes, ty: &CoreTy, di: &mut CoreDi<'ctx>) -> (DIType<'ctx>, u64) {
        match ty {
            CoreTy::Int { size, signed } => {
                let name = match (size, signed) {
                    (1, _) => "char",
                    (2, true) => "short",
                    (2, false) => "unsigned short",
                    (4, true) => "int",
                    (4, false) => "unsigned int",
                    (_, true) => "long long",
                    (_, false) => "unsigned long long",
                };
                let enc = if *signed { DW_ATE_SIGNED } else { DW_ATE_UNSIGNED };
                let t = self.di.create_basic_type(name, 8 * *size as u64, enc, DIFlags::ZERO).map(|t| t.as_type()).unwrap_or(self.u64);
                (t, *size as u64)
            }
            CoreTy::Enum { size } => {
                // Anonymous: libbpf takes an anonymous enum as matching any enum.
                let value = self.di.create_enumerator("rtrace_core", 0, true);
                let t = self.di.create_enumeration_type(self.cu.as_debug_info_scope(), "", self.file, 0, 8 * *size as u64, 8, &[value], self.int);
                (t.as_type(), *size as u64)
            }
            CoreTy::Ptr => (self.ptr(self.u8), 8),
            CoreTy::Record(i) => self.core_record(types, *i, di),
            CoreTy::Array { elem, len } => {
                let (elem, size) = self.core_ty(types, elem, di);
                let bytes = size * *len as u64;
                (self.di.create_array_type(elem, 8 * bytes, 8, &[0..*len as i64]).as_type(), bytes)
            }
        }
    }

    /// `extern const T name __ksym;`: the debug info of an extern global, which LLVM turns
    /// into an extern VAR in DATASEC `.ksyms` (libbpf resolves it by name and type).
    pub fn ksym_var(&self, global: GlobalValue<'ctx>, name: &str, ty: &KsymTy) {
        let ty = self.ksym_ty(ty).unwrap_or(self.u8);
        self.describe_global(global, name, ty);
    }

    /// `extern RET name(PARAMS) __ksym;`: a declared (not defined) subprogram, which LLVM
    /// turns into an extern FUNC in DATASEC `.ksyms`.
    pub fn ksym_func(&self, function: FunctionValue<'ctx>, name: &str, ret: &KsymTy, params: &[(String, KsymTy)]) {
        let types: Vec<DIType<'ctx>> = params.iter().map(|(_, t)| self.ksym_ty(t).unwrap_or(self.u64)).collect();
        let sub = self.di.create_subroutine_type(self.file, self.ksym_ty(ret), &types, DIFlags::PROTOTYPED);
        let sp = self.di.create_function(self.cu.as_debug_info_scope(), name, None, self.file, 1, sub, false, false, 1, DIFlags::PROTOTYPED, true);
        function.set_subprogram(sp);
    }

    /// The debug type of a `__ksym`'s type shape; `None` for `void`.
    fn ksym_ty(&self, ty: &KsymTy) -> Option<DIType<'ctx>> {
        let scope = self.cu.as_debug_info_scope();
        Some(match ty {
            KsymTy::Void => return None,
            KsymTy::Int { bytes, signed } => {
                let (name, enc) = if *signed { ("int", DW_ATE_SIGNED) } else { ("unsigned int", DW_ATE_UNSIGNED) };
                let name = format!("{name}{}", 8 * bytes);
                self.di.create_basic_type(&name, 8 * u64::from(*bytes), enc, DIFlags::ZERO).ok()?.as_type()
            }
            KsymTy::Enum { bytes } => {
                let value = self.di.create_enumerator("rtrace_ksym", 0, true);
                self.di.create_enumeration_type(scope, "", self.file, 0, 8 * u64::from(*bytes), 8, &[value], self.int).as_type()
            }
            // (`void *` as `unsigned char *`: inkwell makes no pointer to void)
            KsymTy::Ptr(to) => self.ptr(self.ksym_ty(to).unwrap_or(self.u8)),
            KsymTy::Record { name, union, bytes } => {
                let size = 8 * u64::from(*bytes);
                match union {
                    true => self.di.create_union_type(scope, name, self.file, 0, size, 8, DIFlags::ZERO, &[], 0, "").as_type(),
                    false => self.di.create_struct_type(scope, name, self.file, 0, size, 8, DIFlags::ZERO, None, &[], 0, None, "").as_type(),
                }
            }
            KsymTy::Array { elem, len } => {
                let elem = self.ksym_ty(elem).unwrap_or(self.u8);
                let bits = elem.get_size_in_bits() * u64::from(*len);
                self.di.create_array_type(elem, bits, 8, &[0..i64::from(*len)]).as_type()
            }
        })
    }

    pub fn finish(&mut self) {
        self.di.finalize();
    }
}
