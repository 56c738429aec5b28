//! A uprobe's `args`: the probed function's parameters from its binary's DWARF (names and
//! types), each read from the register the x86-64 calling convention passes it in. A pointer
//! to a struct (or to another type that is no integer) points to the binary's DWARF type
//! added to the kernel's as BTF (`kernel::dwarf_types`), so that `args.p->name` reads user
//! memory as a kernel struct's member reads kernel memory. The types a program reaches are
//! added before the checks, one merge per binary (`add_dwarf_types`); `print(args)` reads
//! every parameter into a record.

use super::*;
use crate::kernel::dwarf::{Debug, Param, Shape, TypeRef};
use std::rc::Rc;

/// The `pt_regs` slots (8 bytes each) of the first six integer arguments: rdi, rsi, rdx, rcx,
/// r8, r9.
const ARG_SLOTS: [u32; 6] = [14, 13, 12, 11, 9, 8];

impl Checker<'_> {
    /// The parameters of the uprobe's function, or the error `args` gets (reported at `span`).
    pub(super) fn uprobe_params(&mut self, inst: &Instance, span: Span) -> Option<Vec<Param>> {
        let Attach::Uprobe { path, func, ret: false, .. } = &inst.attach else { return None };
        let Some(debug) = self.debug_of(path) else {
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

    /// Before the probes are checked: the DWARF types the program's uprobes reach (the
    /// pointer parameters they read through `args`, the binary's structs they cast to), added to the kernel's types in one merge per binary rather than one per function
    /// and per cast (a merge copies and re-reads the kernel's whole BTF: tens of ms). A merge
    /// that fails adds nothing: the checks then add the types a use at a time and report the
    /// error at the use.
    pub(in crate::sema) fn add_dwarf_types(&mut self, instances: &[Instance]) {
        let mut roots: Vec<(String, Vec<Option<TypeRef>>)> = Vec::new();
        for inst in instances {
            let Attach::Uprobe { path, func, ret, .. } = &inst.attach else { continue };
            // The parameters named (`args.NAME`); all of them where `args` is used whole.
            let (mut uses, mut named, mut casts) = (0, Vec::new(), Vec::new());
            crate::sema::share::any_expr(&self.program.probes[inst.probe], &mut |e| {
                match &e.kind {
                    ExprKind::Ident(name) if name == "args" => uses += 1,
                    ExprKind::Field { base, field, .. } if matches!(&base.kind, ExprKind::Ident(n) if n == "args") => {
                        named.push(field.name.clone())
                    }
                    ExprKind::Cast { ty, .. } => casts.push(ty.clone()),
                    _ => {}
                }
                false
            });
            if uses == 0 && casts.is_empty() {
                continue;
            }
            let Some(debug) = self.debug_of(path) else { continue };
            let mut found: Vec<Option<TypeRef>> = Vec::new();
            if uses > 0 && !ret {
                let whole = uses > named.len();
                let params = debug.params(func).unwrap_or_default();
                let wanted = |p: &&Param| p.shape == Shape::Ptr { to: None } && (whole || named.contains(&p.name));
                found.extend(params.iter().filter(wanted).map(|p| p.ty));
            }
            for ty in &casts {
                found.extend(self.dwarf_cast_record(&debug, ty).map(Some));
            }
            match roots.iter_mut().find(|(p, _)| p == path) {
                Some((_, all)) => all.extend(found),
                None => roots.push((path.clone(), found)),
            }
        }
        for (path, found) in roots {
            let (Some(debug), Ok(k)) = (self.debug_of(&path), self.kernel_types()) else { continue };
            if found.iter().all(Option::is_none) {
                continue;
            }
            let known = self.user_types.entry(path).or_default();
            if let Ok((merged, _)) = k.with_dwarf_types(&debug, &found, known) {
                self.use_merged(merged, k);
            }
        }
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
        let Some((slot, size, signed)) = self.param_slot(&params, index, e.span) else { return Type::Error };
        let ty = match params[index].shape {
            Shape::Ptr { to: Some((bytes, signed)) } => Type::Ptr { user: true, to: Some(Pointee::Int { bytes, signed }) },
            Shape::Ptr { to: None } => {
                let Some(to) = self.dwarf_pointee(scope.inst, &params, index, e.span) else { return Type::Error };
                Type::Ptr { user: true, to }
            }
            _ => Type::Int { signed },
        };
        self.set(scope, e, ty, Res::CtxSlot { index: slot, size, signed })
    }

    /// `args` as a value in a uprobe (`print(args)`): a record of the function's parameters,
    /// by name in their order, each read as `args.NAME` reads it (a pointer as its address,
    /// as 0.26 prints a struct's pointer members). `None` for other expressions and probes.
    pub(super) fn uprobe_args_record(&mut self, e: &Expr, scope: &mut Scope) -> Option<Type> {
        if !matches!(&e.kind, ExprKind::Ident(n) if n == "args") || !matches!(scope.inst.attach, Attach::Uprobe { ret: false, .. }) {
            return None;
        }
        let Some(params) = self.uprobe_params(scope.inst, e.span) else { return Some(Type::Error) };
        let mut slots = Vec::new();
        let mut types = Vec::new();
        for index in 0..params.len() {
            let Some((slot, size, signed)) = self.param_slot(&params, index, e.span) else { return Some(Type::Error) };
            slots.push((slot, size, signed));
            types.push(match params[index].shape {
                Shape::Ptr { .. } => Type::Ptr { user: true, to: None },
                _ => Type::Int { signed },
            });
        }
        let names = params.iter().map(|p| p.name.clone()).collect();
        let ty = self.tuples.intern_named(types, Some(names));
        Some(self.set(scope, e, ty, Res::ArgsRecord(slots)))
    }

    /// Where parameter `index` of `params` is read from: its `pt_regs` slot, size and sign;
    /// or the error it gets at `span`. Integers and pointers take the integer registers in
    /// order; floats take others, and a struct passed by value may take one, two or none.
    fn param_slot(&mut self, params: &[Param], index: usize, span: Span) -> Option<(u32, u32, bool)> {
        let (earlier, param) = (&params[..index], &params[index]);
        let readable = |p: &Param| matches!(p.shape, Shape::Int { .. } | Shape::Ptr { .. });
        if param.shape == Shape::Other {
            self.error(ArgError::ByValueArg { ty: param.type_name.clone(), span });
            return None;
        }
        if !readable(param) {
            self.error(ArgError::UnreadableArgType { ty: param.type_name.clone(), span });
            return None;
        }
        if let Some(before) = earlier.iter().find(|p| p.shape == Shape::Other) {
            let before = format!("{} {}", before.type_name, before.name).trim_end().to_string();
            self.error(ArgError::AfterByValueArg { name: param.name.clone(), before, span });
            return None;
        }
        let slot = ARG_SLOTS[earlier.iter().filter(|p| readable(p)).count()];
        Some(match param.shape {
            Shape::Int { size, signed } => (slot, size, signed),
            _ => (slot, 8, false),
        })
    }

    /// What pointer parameter `index` points to, from the binary's DWARF: the pointee's BTF
    /// type (`None` for `void *`). The first time, every such parameter of the function is
    /// added to the kernel's types at once (one merge of the BTF).
    fn dwarf_pointee(&mut self, inst: &Instance, params: &[Param], index: usize, span: Span) -> Option<Option<Pointee>> {
        let Attach::Uprobe { path, .. } = &inst.attach else { return Some(None) };
        let debug = self.debug_of(path)?;
        // (without the kernel's BTF to add them to, the pointer stays untyped)
        let Ok(k) = self.kernel_types() else { return Some(None) };
        let pointers: Vec<_> = params.iter().map(|p| p.ty.filter(|_| p.shape == Shape::Ptr { to: None })).collect();
        let known = self.user_types.entry(path.clone()).or_default();
        let (merged, ids) = match k.with_dwarf_types(&debug, &pointers, known) {
            Ok(found) => found,
            Err(reason) => {
                self.error(ArgError::DwarfTypes { ty: params[index].type_name.clone(), reason, span });
                return None;
            }
        };
        let k = self.use_merged(merged, k);
        Some(match k.shape(ids[index]) {
            btf::Shape::Ptr { to } => to.map(|to| Pointee::btf(&k, to)),
            _ => None,
        })
    }

    /// The DWARF of binary `path`, read the first time (`None`: it has none).
    fn debug_of(&mut self, path: &str) -> Option<Rc<Debug>> {
        if !self.debug_info.contains_key(path) {
            let debug = Debug::load(std::path::Path::new(path)).ok().flatten().map(Rc::new);
            self.debug_info.insert(path.to_string(), debug);
        }
        self.debug_info[path].clone()
    }

    /// `(struct NAME *)x` in a uprobe whose binary's DWARF defines `struct NAME`: a pointer to
    /// that type (bpftrace 0.26 looks a cast's type up in the probe's DWARF before the
    /// kernel's BTF), unless the script defines its own; `None` for other casts and probes,
    /// which the kernel's (and the script's) types decide.
    pub(super) fn dwarf_cast_pointer(&mut self, inst: &Instance, ty: &TypeExpr) -> Option<Type> {
        let Attach::Uprobe { path, .. } = &inst.attach else { return None };
        let TypeExprKind::Pointer(inner) = &ty.kind else { return None };
        let TypeExprKind::Tagged { tag, name } = &inner.kind else { return None };
        let debug = self.debug_of(path)?;
        let record = self.dwarf_cast_record(&debug, ty)?;
        let k = self.kernel_types().ok()?;
        let known = self.user_types.entry(path.clone()).or_default();
        let (merged, ids) = match k.with_dwarf_types(&debug, &[Some(record)], known) {
            Ok(found) => found,
            Err(reason) => {
                self.error(ArgError::DwarfTypes { ty: format!("{tag} {name}"), reason, span: inner.span });
                return Some(Type::Error);
            }
        };
        let k = self.use_merged(merged, k);
        Some(Type::Ptr { user: false, to: Some(Pointee::btf(&k, ids[0])) })
    }

    /// The DWARF struct or union of `debug` that cast type `ty` (`struct NAME *`) points to,
    /// unless the script defines its own `struct NAME` (the one it means).
    fn dwarf_cast_record(&mut self, debug: &Debug, ty: &TypeExpr) -> Option<TypeRef> {
        let TypeExprKind::Pointer(inner) = &ty.kind else { return None };
        let TypeExprKind::Tagged { tag: tag @ ("struct" | "union"), name } = &inner.kind else { return None };
        let k = self.kernel_types().ok()?;
        if k.find_tagged(tag, name).is_some_and(|id| k.is_script_type(id)) {
            return None;
        }
        debug.find_record(tag, name)
    }

    /// Makes `merged` (when there is one) the checker's types from now on; the types in use.
    fn use_merged(&mut self, merged: Option<btf::KernelTypes>, k: Rc<btf::KernelTypes>) -> Rc<btf::KernelTypes> {
        let Some(merged) = merged else { return k };
        let merged = Rc::new(merged);
        self.kernel_types = Some(Ok(merged.clone()));
        merged
    }
}
