//! A uprobe's `args`: the probed function's parameters from its binary's DWARF (names and
//! types), each read from the register the x86-64 calling convention passes it in.

use super::*;
use crate::kernel::dwarf::{Debug, Param, Shape};
use std::rc::Rc;

/// The `pt_regs` slots (8 bytes each) of the first six integer arguments: rdi, rsi, rdx, rcx,
/// r8, r9.
const ARG_SLOTS: [u32; 6] = [14, 13, 12, 11, 9, 8];

impl Checker<'_> {
    /// The parameters of the uprobe's function, or the error `args` gets (reported at `span`).
    pub(super) fn uprobe_params(&mut self, inst: &Instance, span: Span) -> Option<Vec<Param>> {
        let Attach::Uprobe { path, func, ret: false, .. } = &inst.attach else { return None };
        if !self.debug_info.contains_key(path) {
            let debug = Debug::load(std::path::Path::new(path)).ok().flatten().map(Rc::new);
            self.debug_info.insert(path.clone(), debug);
        }
        let Some(debug) = self.debug_info[path].clone() else {
            self.error(ArgError::NoDebugInfo { path: path.clone(), span });
            return None;
        };
        let params = debug.params(func).unwrap_or_default();
        if params.len() > ARG_SLOTS.len() {
            self.error(ArgError::StackPassedArgs { probe: inst.display.clone(), span });
            return None;
        }
        Some(params)
    }

    /// `args.NAME` of a uprobe: the parameter's register, typed as DWARF says.
    pub(super) fn uprobe_arg(&mut self, e: &Expr, field: &Name, scope: &mut Scope) -> Type {
        let Some(params) = self.uprobe_params(scope.inst, e.span) else { return Type::Error };
        let Some(index) = params.iter().position(|p| p.name == field.name) else {
            let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            let suggestion = did_you_mean(&field.name, names.iter().copied()).map(str::to_string);
            let (probe, names) = (scope.inst.display.clone(), names.join(", "));
            self.error(ArgError::NoProbeArgument { probe, field: field.name.clone(), suggestion, names, span: field.span });
            return Type::Error;
        };
        // Integers and pointers take the integer registers in order; floats take others, and
        // a struct passed by value may take one, two or none.
        let earlier = &params[..index];
        let param = &params[index];
        let readable = |p: &Param| matches!(p.shape, Shape::Int { .. } | Shape::Ptr { .. });
        if !readable(param) || earlier.iter().any(|p| p.shape == Shape::Other) {
            self.error(ArgError::UnreadableArgType { ty: param.type_name.clone(), span: e.span });
            return Type::Error;
        }
        let slot = ARG_SLOTS[earlier.iter().filter(|p| readable(p)).count()];
        let (ty, size, signed) = match param.shape {
            Shape::Int { size, signed } => (Type::Int { signed }, size, signed),
            Shape::Ptr { to } => {
                let to = to.map(|(bytes, signed)| Pointee::Int { bytes, signed });
                (Type::Ptr { user: true, to }, 8, false)
            }
            Shape::Float | Shape::Other => unreachable!("checked above"),
        };
        self.set(scope, e, ty, Res::CtxSlot { index: slot, size, signed })
    }
}
