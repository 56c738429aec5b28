//! Debug info that LLVM's BPF back end turns into BTF: BTF-defined maps (the shape clang gives
//! `struct { __uint(type, …); … } name SEC(".maps")`) and a FUNC for every program, with named
//! parameters (the kernel rejects BTF whose function arguments have no names).

use inkwell::context::Context;
use inkwell::debug_info::{
    AsDIScope, DICompileUnit, DIFile, DIFlags, DIFlagsConstants, DIType, DWARFEmissionKind, DWARFSourceLanguage,
    DebugInfoBuilder,
};
use inkwell::module::{FlagBehavior, Module};
use inkwell::values::{FunctionValue, GlobalValue};
use inkwell::AddressSpace;

const DW_ATE_SIGNED: u32 = 0x05;
const DW_ATE_UNSIGNED: u32 = 0x07;
const DW_ATE_UNSIGNED_CHAR: u32 = 0x08;

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
        let gve = self.di.create_global_variable_expression(
            self.cu.as_debug_info_scope(),
            name,
            name,
            self.file,
            0,
            st.as_type(),
            false,
            None,
            None,
            64,
        );
        global.set_metadata(gve.as_metadata_value(self.ctx), self.ctx.get_kind_id("dbg"));
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

    pub fn finish(&mut self) {
        self.di.finalize();
    }
}
