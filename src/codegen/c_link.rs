//! Imported BPF C (`cimport`): each file's bitcode linked into the script's module before the
//! probes are generated, and calls of its functions. The linked functions become internal and
//! always inlined: a global BPF function is verified on its own and needs exact BTF, while an
//! inlined one is checked by the verifier as part of the probe that calls it. Their debug
//! information is dropped (an inlined function needs no BTF).

use super::expr::V;
use super::{CodegenError, Func, Gen, Result};
use crate::parser::ast::Expr;
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use inkwell::types::BasicMetadataTypeEnum;
use inkwell::values::BasicMetadataValueEnum;

/// Links every bitcode module into `module`, their functions made internal and always
/// inlined.
pub(super) fn link<'ctx>(ctx: &'ctx Context, module: &Module<'ctx>, bitcode: &[Vec<u8>]) -> Result<()> {
    let kind = |name: &str| Attribute::get_named_enum_kind_id(name);
    for bc in bitcode {
        let c = crate::cimport::parse(ctx, bc).map_err(|e| CodegenError(format!("imported C: {e}")))?;
        c.set_triple(&module.get_triple());
        c.set_data_layout(&module.get_data_layout());
        // Inlined, the functions need no BTF of their own; without their debug info a call
        // needs no debug location, and the modules' debug flags do not clash.
        c.strip_debug_info();
        let mut defined = Vec::new();
        for function in c.get_functions().filter(|f| f.count_basic_blocks() > 0) {
            for name in ["noinline", "optnone"] {
                function.remove_enum_attribute(AttributeLoc::Function, kind(name));
            }
            for name in ["alwaysinline", "nounwind"] {
                function.add_attribute(AttributeLoc::Function, ctx.create_enum_attribute(kind(name), 0));
            }
            defined.push(function.get_name().to_owned());
        }
        module.link_in_module(c).map_err(|e| CodegenError(format!("linking imported C: {}", e.to_string())))?;
        for name in defined {
            if let Some(function) = module.get_function(&name.to_string_lossy()) {
                function.set_linkage(Linkage::Internal);
            }
        }
    }
    Ok(())
}

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// A call of imported C function `name`: each argument converted to its parameter's
    /// type, the result widened to 64 bits (by sign when `signed`).
    pub(super) fn c_call(&mut self, f: &mut Func<'ctx>, name: &str, signed: bool, args: &[Expr]) -> Result<V<'ctx>> {
        let function = self.module.get_function(name).ok_or_else(|| CodegenError(format!("imported C function {name} is not linked")))?;
        let mut values: Vec<BasicMetadataValueEnum> = Vec::new();
        for (arg, ty) in args.iter().zip(function.get_type().get_param_types()) {
            let v = self.expr(f, arg)?.int()?;
            values.push(match ty {
                BasicMetadataTypeEnum::IntType(t) => self.builder.build_int_cast_sign_flag(v, t, true, "c_arg")?.into(),
                BasicMetadataTypeEnum::PointerType(t) => self.builder.build_int_to_ptr(v, t, "c_arg")?.into(),
                _ => return Err(CodegenError(format!("imported C function {name} takes a parameter rtrace cannot pass"))),
            });
        }
        let result = self.builder.build_call(function, &values, "c_call")?.try_as_basic_value();
        let i64 = self.i64();
        Ok(match result {
            inkwell::values::ValueKind::Basic(inkwell::values::BasicValueEnum::IntValue(v)) => V::Int(self.builder.build_int_cast_sign_flag(v, i64, signed, "c_ret")?),
            inkwell::values::ValueKind::Basic(inkwell::values::BasicValueEnum::PointerValue(p)) => V::Int(self.builder.build_ptr_to_int(p, i64, "c_ret")?),
            _ => V::Void,
        })
    }
}
