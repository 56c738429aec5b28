//! A probe's arguments: `args.NAME` (tracepoint fields, fentry parameters), fentry/fexit
//! context slots, raw tracepoint `argN`, USDT argument specs.

use super::*;

impl Checker<'_> {
    /// An fentry/fexit argument (or fexit's return value): the `index`-th u64 of the context,
    /// typed by BTF type `ty`.
    pub(super) fn fentry_slot(&mut self, e: &Expr, index: usize, ty: u32, scope: &mut Scope) -> Type {
        let Ok(k) = self.kernel_types() else { return Type::Error };
        Self::note_enum(&k, ty, e, scope);
        let (t, size, signed) = match k.shape(ty) {
            btf::Shape::Int { size, signed, .. } => (Type::Int { signed }, size, signed),
            btf::Shape::Ptr { to } => (Type::Ptr { user: false, to: to.map(|to| Pointee::btf(&k, to)) }, 8, false),
            _ => {
                self.error(ArgError::UnreadableArgType { ty: k.name(ty), span: e.span });
                return Type::Error;
            }
        };
        self.set(scope, e, t, Res::CtxSlot { index: index as u32, size, signed })
    }

    /// `argN` of a raw tracepoint: the N-th u64 of the context, if every tracepoint the
    /// program serves passes that many (BTF knows how many; a module's are not checked).
    pub(super) fn raw_tracepoint_arg(&mut self, e: &Expr, n: u8, scope: &mut Scope) -> Type {
        let Some(k) = self.kernel_types_at(e.span, None) else { return Type::Error };
        for attach in std::iter::once(&scope.inst.attach).chain(&scope.inst.also) {
            let Attach::RawTracepoint { name } = attach else { continue };
            match k.raw_tracepoint_args(name) {
                Some(count) if n as usize >= count => {
                    let (of, probe) = (ArgsOf::RawTracepoint(name.clone()), scope.inst.display.clone());
                    self.error(ArgError::PastLastArg { of, count, n, probe, span: e.span });
                    return Type::Error;
                }
                _ => {}
            }
        }
        self.set(scope, e, Type::Int { signed: false }, Res::CtxSlot { index: n as u32, size: 8, signed: false })
    }

    /// `argN` of a USDT probe, from where the location's spec says it is: a constant, a
    /// register (a slot of `pt_regs`) or user memory addressed by registers.
    pub(super) fn usdt_arg(&mut self, e: &Expr, n: u8, scope: &mut Scope) -> Type {
        let Attach::Usdt { provider, name, .. } = &scope.inst.attach else { return Type::Error };
        let Some(spec) = scope.inst.usdt_args.get(n as usize) else {
            let (count, probe) = (scope.inst.usdt_args.len(), scope.inst.display.clone());
            self.error(ArgError::PastLastArg { of: ArgsOf::Usdt(format!("{provider}:{name}")), count, n, probe, span: e.span });
            return Type::Error;
        };
        let Some(arg) = usdt::parse_arg(spec) else {
            self.error(ArgError::UsdtArgSpec { n, probe: format!("{provider}:{name}"), spec: spec.clone(), span: e.span });
            return Type::Error;
        };
        let ty = Type::Int { signed: arg.signed };
        let res = match arg.loc {
            usdt::Loc::Const(v) => Res::Const(extend(v as u64, arg.size, arg.signed)),
            usdt::Loc::Reg(offset) => Res::CtxSlot { index: offset / 8, size: arg.size, signed: arg.signed },
            usdt::Loc::Mem { base, index, disp } => {
                let read = Read::Int { size: arg.size, signed: arg.signed, bitfield: None };
                let access = Access { offset: disp as u64, scale: 1, read, user: true };
                Res::RegMemory { base: base / 8, index: index.map(|(i, scale)| (i / 8, scale)), access }
            }
        };
        self.set(scope, e, ty, res)
    }

    pub(super) fn field(&mut self, e: &Expr, base: &Expr, field: &Name, arrow: bool, scope: &mut Scope) -> Type {
        if let Some(t) = self.config_field(e, base, field, scope) {
            return t;
        }
        let bt = self.expr(base, scope);
        if bt == Type::Error {
            return Type::Error;
        }
        if let Some(Res::Builtin(Builtin::Ctx)) = scope.exprs.get(&base.id).map(|i| &i.res) {
            return self.iter_ctx_field(e, bt, field, scope);
        }
        if let (Type::Tuple(id), false) = (bt, arrow) {
            if let Some(names) = self.tuples.names[id as usize].clone() {
                let Some(i) = names.iter().position(|n| *n == field.name) else {
                    let suggestion = did_you_mean(&field.name, names.iter().map(String::as_str)).map(str::to_string);
                    let (record, field, span) = (self.tuples.name(bt), field.name.clone(), field.span);
                    self.error(ExprError::NoRecordField { record, field, suggestion, span });
                    return Type::Error;
                };
                let t = self.tuples.types[id as usize][i];
                return self.set(scope, e, t, Res::Plain);
            }
        }
        if matches!(bt, Type::Ptr { .. } | Type::Record { .. }) {
            return self.kernel_member(e, bt, field, scope);
        }
        if bt != Type::Args {
            let op = if arrow { "->" } else { "." };
            self.error(ExprError::NotARecord { op, found: bt.describe(), span: base.span });
            return Type::Error;
        }
        if let Some((params, _)) = scope.inst.params.clone() {
            let Some(index) = params.iter().position(|(n, _)| *n == field.name) else {
                let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
                let suggestion = did_you_mean(&field.name, names.iter().copied()).map(str::to_string);
                let (probe, names) = (scope.inst.display.clone(), names.join(", "));
                self.error(ArgError::NoProbeArgument { probe, field: field.name.clone(), suggestion, names, span: field.span });
                return Type::Error;
            };
            return self.fentry_slot(e, index, params[index].1, scope);
        }
        if let Attach::Uprobe { .. } = scope.inst.attach {
            return self.uprobe_arg(e, field, scope);
        }
        self.tracepoint_field(e, field, scope)
    }

    /// `args.NAME` of a tracepoint: a field of its record, as its `format` file describes it.
    fn tracepoint_field(&mut self, e: &Expr, field: &Name, scope: &mut Scope) -> Type {
        let Some(format) = scope.inst.format.as_ref() else { return Type::Error };
        let Some(f) = format.field(&field.name).cloned() else {
            let suggestion = did_you_mean(&field.name, format.fields.iter().map(|f| f.name.as_str())).map(str::to_string);
            let names = format.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ");
            let tracepoint = format!("{}:{}", format.category, format.event);
            self.error(ArgError::NoTracepointField { tracepoint, field: field.name.clone(), suggestion, names, span: field.span });
            return Type::Error;
        };
        let ty = match f.kind {
            FieldKind::Int => {
                // `enum skb_drop_reason reason`: printed by name, with the enum from BTF.
                if let ["enum", name, _] = f.decl.split_whitespace().collect::<Vec<_>>().as_slice() {
                    if let Some(id) = self.kernel_types().ok().and_then(|k| k.find_tagged("enum", name)) {
                        scope.enums.insert(e.id, id);
                    }
                }
                Type::Int { signed: f.signed }
            }
            FieldKind::Ptr { user, .. } => Type::Ptr { user, to: self.field_pointee(&f.decl) },
            FieldKind::CharArray => Type::Str { len: f.size as u32 },
            FieldKind::IntArray { elem_size, len } => {
                let elem = self.kernel_types().ok().and_then(|k| k.int_type(elem_size as u32, f.signed));
                let Some(elem) = elem else {
                    self.error(ArgError::FieldWithoutBtf { field: f.name.clone(), decl: f.decl.clone(), span: field.span });
                    return Type::Error;
                };
                Type::Array { elem, len: len as u32, user: false }
            }
            FieldKind::DataLocString => Type::Str { len: self.opts.config.max_strlen as u32 },
            FieldKind::Other => {
                self.error(ArgError::UnreadableField { field: f.name.clone(), decl: f.decl.clone(), span: field.span });
                return Type::Error;
            }
        };
        if let Some(record) = self.tracepoint_struct(scope.inst) {
            scope.core.insert(e.id, CoreRef::Member { record, path: vec![crate::sema::core::field_member(&f)] });
        }
        self.set(scope, e, ty, Res::Field(f))
    }

    /// `args` as a value (`print(args)`): a record of the probe's arguments by name, in their
    /// order: a uprobe's parameters (DWARF), an fentry's (BTF), or a tracepoint's record
    /// fields. `None` for other expressions and probes (`args` then is no value).
    pub(super) fn args_record(&mut self, e: &Expr, scope: &mut Scope) -> Option<Type> {
        if !matches!(&e.kind, ExprKind::Ident(n) if n == "args") {
            return None;
        }
        match &scope.inst.attach {
            Attach::Uprobe { ret: false, .. } => self.uprobe_args_record(e, scope),
            Attach::Tracepoint { .. } if scope.inst.format.is_some() => Some(self.tracepoint_args_record(e, scope)),
            Attach::RawTracepoint { .. } | Attach::Fentry { .. } => Some(self.params_args_record(e, scope)),
            _ => None,
        }
    }

    /// A raw tracepoint's or an fentry/fexit's `args` as a record: each argument BTF names,
    /// read from its context slot as `args.NAME` reads it (a pointer as its address); fexit's
    /// record ends with the return value, named `$retval` (as in bpftrace v0.26.0's
    /// src/btf.cpp, which adds it to fexit's args struct).
    fn params_args_record(&mut self, e: &Expr, scope: &mut Scope) -> Type {
        if self.expr(e, scope) == Type::Error {
            return Type::Error;
        }
        let (Some((mut params, ret)), Ok(k)) = (scope.inst.params.clone(), self.kernel_types()) else { return Type::Error };
        if let Attach::Fentry { ret: true, .. } = scope.inst.attach {
            params.push(("$retval".to_string(), ret));
        }
        let (mut slots, mut types) = (Vec::new(), Vec::new());
        for (index, (_, ty)) in params.iter().enumerate() {
            let (t, size, signed) = match k.shape(*ty) {
                btf::Shape::Int { size, signed, .. } => (Type::Int { signed }, size, signed),
                btf::Shape::Ptr { .. } => (Type::Ptr { user: false, to: None }, 8, false),
                _ => {
                    self.error(ArgError::UnreadableArgType { ty: k.name(*ty), span: e.span });
                    return Type::Error;
                }
            };
            slots.push((index as u32, size, signed));
            types.push(t);
        }
        let names = params.into_iter().map(|(name, _)| name).collect();
        let ty = self.tuples.intern_named(types, Some(names));
        self.set(scope, e, ty, Res::ArgsRecord(slots))
    }

    /// A tracepoint's whole record as a record value: every field of its format file in order,
    /// the `common_` ones included (bpftrace 0.26 prints the record the format file
    /// describes, though `args.common_pid` is refused); integers by their size and sign, pointers
    /// as addresses, `char[N]` as strings, integer arrays as arrays, `__data_loc` strings
    /// as the strings.
    fn tracepoint_args_record(&mut self, e: &Expr, scope: &mut Scope) -> Type {
        if self.expr(e, scope) == Type::Error {
            return Type::Error;
        }
        let Some(format) = scope.inst.format.clone() else { return Type::Error };
        if self.tracepoint_struct(scope.inst).is_some() {
            let tracepoint = format!("{}:{}", format.category, format.event);
            self.error(ArgError::ArgsRecordCoRe { tracepoint, span: e.span });
            return Type::Error;
        }
        let fields: Vec<_> = format.common.iter().chain(&format.fields).cloned().collect();
        let mut types = Vec::new();
        for f in &fields {
            types.push(match f.kind {
                FieldKind::Int => Type::Int { signed: f.signed },
                FieldKind::Ptr { user, .. } => Type::Ptr { user, to: None },
                FieldKind::CharArray => Type::Str { len: f.size as u32 },
                FieldKind::DataLocString => Type::Str { len: self.opts.config.max_strlen as u32 },
                FieldKind::IntArray { elem_size, len } if len <= usize::from(u8::MAX) => {
                    let (elem_bytes, len) = (elem_size as u8, len as u8);
                    Type::IntArray(plan::IntArray { elem_bytes, signed: f.signed, len, bools: false, mac: false })
                }
                FieldKind::IntArray { .. } | FieldKind::Other => {
                    self.error(ArgError::UnreadableField { field: f.name.clone(), decl: f.decl.clone(), span: e.span });
                    return Type::Error;
                }
            });
        }
        let names = fields.iter().map(|f| f.name.clone()).collect();
        let ty = self.tuples.intern_named(types, Some(names));
        self.set(scope, e, ty, Res::TracepointArgs(fields))
    }

    /// What a tracepoint field's pointer points to, from its C declaration in the format file:
    /// `int * fildes` an `int32`, `struct __kernel_timespec * rqtp` the struct from BTF,
    /// `u32 * uaddr` the typedef from BTF, `char *const * argv` (a pointer to a pointer) an
    /// 8-byte address; `void *` and what BTF does not know: nothing.
    fn field_pointee(&mut self, decl: &str) -> Option<Pointee> {
        let spaced = decl.replace('*', " * ");
        let mut words: Vec<&str> = spaced.split_whitespace().collect();
        words.pop(); // the field's name
        words.retain(|w| !matches!(*w, "const" | "volatile" | "__user" | "__seg_gs" | "__seg_fs"));
        let stars = words.iter().filter(|w| **w == "*").count();
        words.retain(|w| *w != "*");
        match (stars, words.as_slice()) {
            (0, _) | (1, ["void"]) => None,
            (2.., _) => Some(Pointee::Int { bytes: 8, signed: false }),
            (_, [tag @ ("struct" | "union" | "enum"), name]) => {
                let k = self.kernel_types().ok()?;
                Some(Pointee::btf(&k, k.find_tagged(tag, name)?))
            }
            (_, words) => match c_int_type(words) {
                Some((bytes, signed)) => Some(Pointee::Int { bytes, signed }),
                None => {
                    let [name] = words else { return None };
                    let k = self.kernel_types().ok()?;
                    Some(Pointee::btf(&k, k.find_typedef(name)?))
                }
            },
        }
    }

    /// With `--co-re`, the BTF struct of the instance's tracepoint record, looked up once per
    /// event (`None` for syscalls' events, whose layout is the stable `sys_enter` one).
    fn tracepoint_struct(&mut self, inst: &Instance) -> Option<u32> {
        let format = inst.format.as_ref().filter(|f| self.opts.co_re && f.category != "syscalls")?;
        let key = format!("{}:{}", format.category, format.event);
        if let Some(found) = self.tp_structs.get(&key) {
            return *found;
        }
        let found = self.kernel_types().ok().and_then(|k| crate::sema::core::tracepoint_struct(&k, format));
        self.tp_structs.insert(key, found);
        found
    }

    /// `argN`, `retval` and `func`, which only some probes have: registers or context slots
    /// (kprobe, uprobe, fentry), raw tracepoint and USDT arguments.
    pub(super) fn probe_arg(&mut self, e: &Expr, b: Builtin, name: &str, scope: &mut Scope) -> Type {
        let ty = match b {
            Builtin::Arg(n) if matches!(scope.inst.attach, Attach::RawTracepoint { .. }) => {
                return self.raw_tracepoint_arg(e, n, scope);
            }
            Builtin::Arg(n) if matches!(scope.inst.attach, Attach::Usdt { .. }) => return self.usdt_arg(e, n, scope),
            Builtin::Arg(n) if n >= 6 && matches!(scope.inst.attach, Attach::Kprobe { .. } | Attach::Uprobe { .. }) => {
                self.error(ArgError::ArgPastRegisters { name: name.to_string(), span: e.span });
                return Type::Error;
            }
            Builtin::Arg(_) | Builtin::Retval | Builtin::FuncName => {
                let kprobe = match &scope.inst.attach {
                    Attach::Kprobe { ret, .. } | Attach::Uprobe { ret, .. } => Some(*ret),
                    _ => None,
                };
                let fexit = matches!(scope.inst.attach, Attach::Fentry { ret: true, .. });
                let fentry = matches!(scope.inst.attach, Attach::Fentry { .. });
                let (ok, needs) = match b {
                    Builtin::Arg(_) => (kprobe == Some(false), "kprobe, uprobe, rawtracepoint and usdt"),
                    Builtin::Retval => (kprobe == Some(true) || fexit, "kretprobe, uretprobe and fexit"),
                    _ => (kprobe.is_some() || fentry, "kprobe, uprobe and fentry"),
                };
                if let (Builtin::Retval, true) = (b, fexit) {
                    // fexit's return value is the slot after the arguments.
                    let (params, ret) = scope.inst.params.clone().unwrap_or_default();
                    return self.fentry_slot(e, params.len(), ret, scope);
                }
                if !ok {
                    let fields = match (b, &scope.inst.format) {
                        (Builtin::Arg(_), Some(format)) => {
                            Some(format.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "))
                        }
                        _ => None,
                    };
                    let (name, probe) = (name.to_string(), scope.inst.display.clone());
                    self.error(ArgError::BuiltinUnavailable { name, needs, probe, fields, span: e.span });
                    return Type::Error;
                }
                match (b, &scope.inst.attach) {
                    (Builtin::Retval, _) => Type::Int { signed: true },
                    // A uprobe's program serves one function: its name is a constant.
                    (Builtin::FuncName, Attach::Uprobe { func, .. }) => {
                        return self.set(scope, e, Type::Str { len: func.len() as u32 + 1 }, Res::ConstStr(func.clone()));
                    }
                    (Builtin::FuncName, _) => Type::Ksym,
                    _ => Type::Int { signed: false },
                }
            }
            _ => return Type::Error,
        };
        self.set(scope, e, ty, Res::Builtin(b))
    }
}

/// How wide an integer expression is, where its source says (a kernel member, a tracepoint
/// field, a cast, a variable assigned one of those); 64 bits otherwise.
/// `v` cut to `size` bytes, then extended back to 64 bits by sign or with zeros.
pub(super) fn extend(v: u64, size: u32, signed: bool) -> u64 {
    let shift = 64 - 8 * size.min(8);
    match signed {
        true => (((v << shift) as i64) >> shift) as u64,
        false => (v << shift) >> shift,
    }
}

/// A probe's kind, as `args`'s error names it.
pub(super) fn probe_kind(attach: &Attach) -> &'static str {
    match attach {
        Attach::Begin => "BEGIN",
        Attach::End => "END",
        Attach::Test { .. } => "test",
        Attach::Bench { .. } => "bench",
        Attach::Signal { .. } => "self",
        Attach::Kprobe { ret: false, .. } => "kprobe",
        Attach::Kprobe { ret: true, .. } => "kretprobe",
        Attach::RawTracepoint { .. } => "rawtracepoint",
        Attach::Uprobe { ret: false, .. } => "uprobe",
        Attach::Uprobe { ret: true, .. } => "uretprobe",
        Attach::Usdt { .. } => "usdt",
        Attach::Watchpoint { .. } => "watchpoint",
        Attach::Iter { .. } => "iter",
        _ => "interval",
    }
}

/// The size and sign of a C integer type spelled with C's keywords (`int`, `unsigned long`,
/// `signed char`, `unsigned`), as on x86-64 and arm64 (LP64; `char` signed as on x86-64).
fn c_int_type(words: &[&str]) -> Option<(u32, bool)> {
    let keyword = |w: &&str| matches!(*w, "unsigned" | "signed" | "int" | "char" | "short" | "long");
    if words.is_empty() || !words.iter().all(keyword) {
        return None;
    }
    let bytes = match () {
        _ if words.contains(&"char") => 1,
        _ if words.contains(&"short") => 2,
        _ if words.contains(&"long") => 8,
        _ => 4,
    };
    Some((bytes, !words.contains(&"unsigned")))
}
