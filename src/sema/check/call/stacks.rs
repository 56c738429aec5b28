//! Stacks, symbols and addresses: `kstack()`/`ustack()`, `ksym()`/`usym()`, `kaddr()`/`uaddr()`,
//! `kptr()`/`uptr()`, and `cgroupid()`.

use super::*;

impl Checker<'_> {
    /// `kptr(p)`, `uptr(p)`: `p` as a pointer into kernel or user memory.
    pub(in crate::sema::check) fn kptr(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        if !self.int_arg(&args[0], IntWanted::Pointer(def.name), scope) {
            return Type::Error;
        }
        let to = match scope.exprs.get(&args[0].id).map(|i| i.ty) {
            Some(Type::Ptr { to, .. }) => to,
            _ => None,
        };
        self.set(scope, e, Type::Ptr { user: def.func == Func::Uptr, to }, Res::Plain)
    }

    /// `ksym(addr)`: the kernel symbol at an address.
    pub(in crate::sema::check) fn ksym(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        if !self.int_arg(&args[0], IntWanted::Address("ksym"), scope) {
            return Type::Error;
        }
        self.set(scope, e, Type::Ksym, Res::Plain)
    }

    /// `usym(addr)`: the user symbol at an address, in the current process.
    pub(in crate::sema::check) fn usym(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        if !self.int_arg(&args[0], IntWanted::Address("usym"), scope) {
            return Type::Error;
        }
        self.set(scope, e, Type::Usym, Res::Call(Func::Usym))
    }

    /// `kaddr(symbol)`: a kernel symbol's address.
    pub(in crate::sema::check) fn kaddr(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let ExprKind::Str(sym) = &args[0].kind else {
            self.error(CallError::KaddrLiteral { span: args[0].span });
            return Type::Error;
        };
        self.lookups.push((e.id, Lookup::Kaddr { symbol: sym.clone(), span: args[0].span }));
        self.set(scope, e, Type::Int { signed: false }, Res::Const(0))
    }

    /// `percpu_kaddr(name[, cpu])`: the address of a per-CPU kernel variable, named to libbpf
    /// as a `__ksym` extern (its type from the kernel's BTF), as a `uint64 *` (docs/stdlib.md).
    pub(in crate::sema::check) fn percpu_kaddr(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let name = self.literal_arg(args.first(), None, "percpu_kaddr", "name");
        let cpu = args.get(1).is_none_or(|cpu| self.int_arg(cpu, IntWanted::Number("percpu_kaddr"), scope));
        let (Some(name), true) = (name, cpu) else { return Type::Error };
        let Some(k) = self.kernel_types_at(args[0].span, Some("percpu_kaddr()")) else { return Type::Error };
        // (after an error about the variable, the value's type is still known)
        match crate::sema::ksyms::variable(&k, &name) {
            None => self.error(StdlibError::NoKernelVariable { name: name.clone(), span: args[0].span }),
            // The verifier finds the variable's address by name in kallsyms, which holds
            // data symbols only with CONFIG_KALLSYMS_ALL.
            Some(_) if !self.opts.portable && crate::kernel::kallsyms::symbol_address(&name).is_none() => {
                self.error(StdlibError::NoKallsyms { name: name.clone(), span: args[0].span })
            }
            Some(var) => {
                self.ksyms.insert(name.clone(), var);
            }
        }
        let ty = Type::Ptr { user: false, to: Some(Pointee::Int { bytes: 8, signed: false }) };
        self.set(scope, e, ty, Res::PercpuKaddr(name))
    }

    /// `uaddr(symbol)`: a symbol's address in the uprobe's binary.
    pub(in crate::sema::check) fn uaddr(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let Some(sym) = self.literal_arg(args.first(), None, "uaddr", "symbol") else {
            return Type::Error;
        };
        let Attach::Uprobe { path, .. } = &scope.inst.attach else {
            self.error(CallError::UaddrOutsideUprobe { probe: scope.inst.display.clone(), span: e.span });
            return Type::Error;
        };
        self.lookups.push((e.id, Lookup::Uaddr { path: path.clone(), symbol: sym, span: args[0].span }));
        self.set(scope, e, Type::Ptr { user: true, to: None }, Res::Const(0))
    }

    /// `cgroupid(path)`: the id of a cgroup v2 directory.
    pub(in crate::sema::check) fn cgroupid(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let Some(path) = self.literal_arg(args.first(), None, "cgroupid", "path") else {
            return Type::Error;
        };
        self.lookups.push((e.id, Lookup::Cgroupid { path, span: args[0].span }));
        self.set(scope, e, Type::Int { signed: false }, Res::Const(0))
    }

    /// `cgroup_path(id[, filter])`: the id, printed as its paths (found when printed). The
    /// filter picks hierarchies by name; rtrace keeps no filter but `unified` and those that
    /// pick every hierarchy mounted.
    pub(in crate::sema::check) fn cgroup_path(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        if !self.int_arg(&args[0], IntWanted::Number("cgroup_path"), scope) {
            return Type::Error;
        }
        let Some(filter) = self.literal_arg(args.get(1), Some("*"), "cgroup_path", "filter") else {
            return Type::Error;
        };
        let names: Vec<String> = crate::kernel::cgroup::hierarchies().into_iter().map(|(n, _)| n).collect();
        let picked: Vec<&String> = names.iter().filter(|n| crate::glob::glob(&filter, n)).collect();
        let v2_only = match picked.len() {
            n if n == names.len() => false,
            1 if picked[0] == "unified" => true,
            _ => {
                self.error(StdlibError::CgroupFilter { filter, span: args[1].span });
                return Type::Error;
            }
        };
        let table = crate::kernel::names::NameTable::CgroupPath { v2_only };
        self.set(scope, e, Type::Named(table), Res::Plain)
    }

    /// Notes that `e` records a stack of `spec`'s depth (its map must exist); its type.
    pub(in crate::sema::check) fn record_stack(&mut self, e: &Expr, spec: plan::StackSpec) -> Type {
        self.need(e, Need::Stack(spec));
        Type::Stack(spec)
    }

    /// A stack of the default mode, config `stack_mode` (`None` after an error: rtrace does
    /// not record `build_id` stacks; bpftrace's kstack falls back to `raw` then, with a warning).
    pub(in crate::sema::check) fn default_stack(&mut self, user: bool, span: Span) -> Option<plan::StackSpec> {
        let configured = &self.opts.config.stack_mode;
        let mode = match plan::StackMode::named(configured) {
            Some(mode) => mode,
            None if !user => plan::StackMode::Raw,
            None => {
                self.error(StdlibError::BuildIdStacks { span });
                return None;
            }
        };
        Some(plan::StackSpec { user, dwarf: false, mode, depth: plan::STACK_DEPTH })
    }

    /// `dw_ustack(…)` (bpftrace 0.26, unstable: config `unstable_dw_ustack`, `warn` by
    /// default): `ustack(…)` unwound with the targets' `.eh_frame` (`codegen/dwunwind.rs`).
    pub(in crate::sema::check) fn dw_ustack(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        match self.opts.config.unstable_dw_ustack {
            crate::config::Unstable::Enable => {}
            level => {
                let error = level == crate::config::Unstable::Error;
                self.error(StdlibError::DwUstackUnstable { error, span: e.span });
                if error {
                    return Type::Error;
                }
            }
        }
        self.stack_call(e, def, args, scope)
    }

    /// `kstack(…)` and `ustack(…)`: `(N)`, `(mode)` or `(mode, N)`, mode `bpftrace` or `perf`.
    pub(in crate::sema::check) fn stack_call(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        let Some(mut spec) = self.default_stack(def.func != Func::Kstack, e.span) else { return Type::Error };
        spec.dwarf = def.func == Func::DwUstack;
        let (mode, depth) = match args {
            [m @ Expr { kind: ExprKind::Ident(_), .. }] => (Some(m), None),
            [n] => (None, Some(n)),
            [m, n] => (Some(m), Some(n)),
            _ => (None, None),
        };
        if let Some(m) = mode {
            match &m.kind {
                ExprKind::Ident(name) if plan::StackMode::named(name).is_some() => spec.mode = plan::StackMode::named(name).unwrap_or(spec.mode),
                ExprKind::Ident(name) if name == "build_id" => {
                    self.error(StdlibError::BuildIdStacks { span: m.span });
                    return Type::Error;
                }
                _ => {
                    self.error(CallError::StackMode { func: def.name, signature: def.signature, span: m.span });
                    return Type::Error;
                }
            }
        }
        if let Some(n) = depth {
            match literal_int(n) {
                Some(d) if (1..=plan::STACK_DEPTH as i64).contains(&d) => spec.depth = d as u32,
                _ => {
                    self.error(CallError::StackDepth { func: def.name, max: plan::STACK_DEPTH, span: n.span });
                    return Type::Error;
                }
            }
        }
        let ty = self.record_stack(e, spec);
        self.set(scope, e, ty, Res::Call(def.func))
    }
}
