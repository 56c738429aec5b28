//! Kernel memory and types: struct members, `*p` and `p[i]`, casts (to pointers, integers,
//! integer arrays, enums), `sizeof` and `offsetof`, all from the kernel's BTF.

use super::*;

impl Checker<'_> {
    /// The sema type of a value of BTF type `id` found in memory, and how to read it.
    pub(super) fn memory_type(k: &btf::KernelTypes, id: u32, user: bool, bitfield: Option<(u8, u8)>) -> Option<(Type, Read)> {
        Some(match k.shape(id) {
            btf::Shape::Int { size, signed, .. } if matches!(size, 1 | 2 | 4 | 8) => {
                (Type::Int { signed }, Read::Int { size, signed, bitfield })
            }
            btf::Shape::Ptr { to } => {
                (Type::Ptr { user, to: to.map(|to| Pointee::btf(k, to)) }, Read::Int { size: 8, signed: false, bitfield: None })
            }
            btf::Shape::Record { id, .. } => (Type::Record { id, user }, Read::Address),
            // char arrays are strings, as in bpftrace (read up to their first NUL).
            btf::Shape::Array { elem, len } if matches!(k.shape(elem), btf::Shape::Int { is_char: true, .. }) => {
                let len = len.min(STR_LEN);
                (Type::Str { len }, Read::Chars { len })
            }
            btf::Shape::Array { elem, len } => (Type::Array { elem, len, user }, Read::Address),
            _ => return None,
        })
    }

    /// `(enum NAME)v`: `v` unchanged, printed by `%s` as one of the kernel enum's names. A
    /// literal must be one of its values, as in bpftrace.
    pub(super) fn enum_cast(&mut self, e: &Expr, ty_span: Span, name: &str, v: &Expr, t: Type, scope: &mut Scope) -> Type {
        if t == Type::Error {
            return Type::Error;
        }
        if !t.is_int() {
            self.error(
                Diagnostic::error(format!("cannot cast {} to an enum", t.describe()))
                    .at(v.span, format!("this is {}", t.describe())),
            );
            return Type::Error;
        }
        let Some(k) = self.kernel_types_at(ty_span, "needs the kernel's types") else { return Type::Error };
        let Some(def) = k.find_tagged("enum", name).and_then(|id| Some((id, k.enum_def(id)?))) else {
            self.error(Diagnostic::error(format!("unknown type `enum {name}`")).at(ty_span, "not in the kernel's BTF"));
            return Type::Error;
        };
        let (id, def) = def;
        if let ExprKind::Int(n) = v.kind {
            let shift = 64 - 8 * def.size.clamp(1, 8);
            if !def.values.iter().any(|(value, _)| *value == (n << shift) >> shift) {
                self.error(
                    Diagnostic::error(format!("`enum {name}` has no value {n}"))
                        .at(v.span, "not one of its values")
                        .help(format!("`rtrace -lv 'enum {name}'` lists them")),
                );
                return Type::Error;
            }
        }
        scope.enums.insert(e.id, id);
        self.set(scope, e, Type::Int { signed: def.signed }, Res::Plain)
    }

    /// Notes that a cast `e` to a typedef of an enum has that enum's type, for `%s`.
    pub(super) fn note_typedef_enum(&mut self, ty: &TypeExpr, e: &Expr, scope: &mut Scope) {
        let TypeExprKind::Named(name) = &ty.kind else { return };
        if named_int_type(name).is_some() {
            return;
        }
        if let (Ok(k), Some(id)) = (self.kernel_types(), self.typedef(name, ty.span)) {
            Self::note_enum(&k, id, e, scope);
        }
    }

    /// Notes that `e`'s value has BTF type `id`, if that is an enum.
    pub(super) fn note_enum(k: &btf::KernelTypes, id: u32, e: &Expr, scope: &mut Scope) {
        if k.enum_def(id).is_some() {
            scope.enums.insert(e.id, id);
        }
    }

    /// `p[i]` or `*p`: an element of a typed pointer or an array.
    pub(super) fn element(&mut self, e: &Expr, base_ty: Type, base_span: Span, scope: &mut Scope) -> Type {
        // An integer type named in a cast needs no kernel types.
        if let Type::Ptr { to: Some(Pointee::Int { bytes, signed }), user } = base_ty {
            let read = Read::Int { size: bytes, signed, bitfield: None };
            let access = Access { offset: 0, scale: u64::from(bytes), read, user };
            return self.set(scope, e, Type::Int { signed }, Res::Memory(access));
        }
        let Ok(k) = self.kernel_types() else { return Type::Error };
        let (elem, user) = match base_ty {
            Type::Ptr { to: Some(Pointee::Btf { id, .. }), user } => (id, user),
            Type::Array { elem, user, .. } => (elem, user),
            other => {
                self.error(
                    Diagnostic::error(format!("cannot index {}", other.describe()))
                        .at(base_span, "not an array or a typed pointer"),
                );
                return Type::Error;
            }
        };
        let Some((ty, read)) = Self::memory_type(&k, elem, user, None) else {
            self.error(Diagnostic::error(format!("rtrace cannot read `{}` yet", k.name(elem))).at(e.span, "unsupported type"));
            return Type::Error;
        };
        let access = Access { offset: 0, scale: k.size(elem) as u64, read, user };
        Self::note_enum(&k, elem, e, scope);
        self.set(scope, e, ty, Res::Memory(access))
    }

    /// A member of a kernel struct reached through `base_ty` (`p->m` or `s.m`).
    pub(super) fn kernel_member(&mut self, e: &Expr, base_ty: Type, field: &Name, scope: &mut Scope) -> Type {
        let Some(k) = self.kernel_types_at(field.span, "needs the kernel's types") else { return Type::Error };
        let (record, user) = match base_ty {
            Type::Ptr { to: Some(Pointee::Btf { id: to, .. }), user } => match k.shape(to) {
                btf::Shape::Record { id, .. } => (id, user),
                _ => {
                    self.error(
                        Diagnostic::error(format!("`{}` has no members", k.name(to)))
                            .at(field.span, "not a struct or union"),
                    );
                    return Type::Error;
                }
            },
            Type::Record { id, user } => (id, user),
            _ => {
                self.error(
                    Diagnostic::error(format!("`{}` needs a struct, but this is {}", field.name, base_ty.describe()))
                        .at(field.span, "not a member of anything")
                        .help("cast the pointer to its type first, e.g. `((struct sock *)arg0)->sk_state`"),
                );
                return Type::Error;
            }
        };
        let Some(m) = k.member(record, &field.name) else {
            self.error(no_member(&k, record, field));
            return Type::Error;
        };
        let bitfield = m.bitfield.map(|bits| ((m.offset_bits % 8) as u8, bits));
        let Some((ty, read)) = Self::memory_type(&k, m.ty, user, bitfield) else {
            self.error(
                Diagnostic::error(format!("rtrace cannot read `{}` of type `{}` yet", field.name, k.name(m.ty)))
                    .at(field.span, "unsupported member type"),
            );
            return Type::Error;
        };
        let access = Access { offset: (m.offset_bits / 8) as u64, scale: 0, read, user };
        Self::note_enum(&k, m.ty, e, scope);
        self.set(scope, e, ty, Res::Memory(access))
    }

    /// `ppid`'s two reads, with offsets from the kernel's `struct task_struct`.
    pub(super) fn ppid(&mut self, span: Span) -> Option<Res> {
        let Some(k) = self.kernel_types_at(span, "`ppid` needs the kernel's types") else { return None };
        let task = k.find_tagged("struct", "task_struct")?;
        let (parent, tgid) = (k.member(task, "real_parent")?, k.member(task, "tgid")?);
        let read = |m: btf::Member, size| Access {
            offset: (m.offset_bits / 8) as u64,
            scale: 0,
            read: Read::Int { size, signed: false, bitfield: None },
            user: false,
        };
        Some(Res::Ppid { parent: read(parent, 8), tgid: read(tgid, 4) })
    }

    /// The size in bytes of a type as written in `sizeof`: an integer type, a pointer, an
    /// array, or a kernel struct, union or enum from BTF.
    pub(super) fn type_size(&mut self, t: &TypeExpr) -> Option<u64> {
        match &t.kind {
            TypeExprKind::Named(name) if named_int_type(name).is_none() => {
                let id = self.typedef(name, t.span)?;
                self.kernel_types().ok().map(|k| k.size(id) as u64)
            }
            TypeExprKind::Named(_) => self.int_type(t).map(|(bits, _)| bits as u64 / 8),
            TypeExprKind::Pointer(_) => Some(8),
            TypeExprKind::Array(inner, Some(n)) => self.type_size(inner).map(|s| s * n),
            TypeExprKind::Array(_, None) => {
                self.error(Diagnostic::error("`sizeof` of an array needs its length").at(t.span, "no length"));
                None
            }
            TypeExprKind::Tagged { .. } => {
                let id = self.kernel_type(t)?;
                self.kernel_types().ok().map(|k| k.size(id) as u64)
            }
        }
    }

    /// The type a pointer cast names, for `(struct task_struct *)x`; `None` if `ty` is not a
    /// pointer type.
    pub(super) fn cast_pointer(&mut self, ty: &TypeExpr) -> Option<Type> {
        let inner = match &ty.kind {
            TypeExprKind::Pointer(inner) => inner,
            // A typedef of a pointer: `(pgtable_t)x`.
            TypeExprKind::Named(name) if named_int_type(name).is_none() => {
                let Some(id) = self.typedef(name, ty.span) else { return Some(Type::Error) };
                let k = self.kernel_types().ok()?;
                return match k.shape(id) {
                    btf::Shape::Ptr { to } => Some(Type::Ptr { user: false, to: to.map(|to| Pointee::btf(&k, to)) }),
                    _ => None,
                };
            }
            _ => return None,
        };
        let to = match &inner.kind {
            TypeExprKind::Tagged { .. } => self.kernel_type(inner),
            TypeExprKind::Named(name) => match named_int_type(name) {
                Some((bits, signed)) => return Some(Type::Ptr { user: false, to: Some(Pointee::Int { bytes: bits / 8, signed }) }),
                None => self.typedef(name, inner.span),
            },
            TypeExprKind::Pointer(_) => {
                return Some(Type::Ptr { user: false, to: Some(Pointee::Int { bytes: 8, signed: false }) });
            }
            TypeExprKind::Array(..) => return Some(Type::Ptr { user: false, to: None }),
        };
        let Some(to) = to else { return Some(Type::Error) };
        let k = self.kernel_types().ok()?;
        Some(Type::Ptr { user: false, to: Some(Pointee::btf(&k, to)) })
    }

    /// `(uint8[8])x`, `(int16[])x`: an integer's bytes as an array of integers of the same
    /// size in all (the length worked out from the integer's when not written).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn array_cast(
        &mut self,
        e: &Expr,
        ty: &TypeExpr,
        elem: &TypeExpr,
        len: Option<u64>,
        operand: &Expr,
        t: Type,
        scope: &mut Scope,
    ) -> Type {
        let Some((elem_bits, signed)) = (match &elem.kind {
            TypeExprKind::Named(name) => named_int_type(name),
            _ => None,
        }) else {
            self.error(
                Diagnostic::error("an array cast needs an integer element type")
                    .at(elem.span, "not an integer type")
                    .help("write an integer type such as `uint8[4]`"),
            );
            return Type::Error;
        };
        if t == Type::Error {
            return Type::Error;
        }
        if !t.is_int() {
            self.error(
                Diagnostic::error(format!("cannot cast {} to an integer array", t.describe()))
                    .at(operand.span, format!("this is {}", t.describe()))
                    .note("only an integer can be cast to an array of integers"),
            );
            return Type::Error;
        }
        let elem_bytes = elem_bits / 8;
        let size = int_bits(operand, scope) / 8;
        let len = len.unwrap_or(u64::from(size / elem_bytes));
        let wanted = len.saturating_mul(u64::from(elem_bytes));
        if len == 0 || wanted != u64::from(size) {
            let mut d = Diagnostic::error(format!("cannot cast an integer of {size} bytes to `{}`", array_type_text(ty)))
                .at(ty.span, if len == 0 { format!("{elem_bytes}-byte elements") } else { format!("{wanted} bytes") })
                .also(operand.span, format!("{size} bytes"))
                .note("an array cast keeps the bytes, so both sides must have the same size");
            if [1, 2, 4, 8].contains(&wanted) {
                d = d.help(format!("cast the integer to that size first: `({})(uint{})…`", array_type_text(ty), wanted * 8));
            }
            self.error(d);
            return Type::Error;
        }
        let a = plan::IntArray { elem_bytes: elem_bytes as u8, signed, len: len as u8 };
        self.set(scope, e, Type::IntArray(a), Res::Plain)
    }

    /// `(uint32)args.saddr`: an integer array in memory (a kernel struct's member, a
    /// tracepoint field) read whole as an integer of the same size.
    pub(super) fn memory_array_cast(
        &mut self,
        e: &Expr,
        ty: &TypeExpr,
        (bits, signed): (u32, bool),
        operand: Span,
        (elem, len, user): (u32, u32, bool),
        scope: &mut Scope,
    ) -> Type {
        let Ok(k) = self.kernel_types() else { return Type::Error };
        let elem_size = match k.shape(elem) {
            btf::Shape::Int { size, .. } => Some(size),
            _ => None,
        };
        let size = elem_size.map(|s| s * len);
        if size != Some(bits / 8) {
            let what = match size {
                Some(n) => format!("an array of {n} bytes"),
                None => format!("an array of `{}`", k.name(elem)),
            };
            self.error(
                Diagnostic::error(format!("cannot cast {what} to `{}` ({} bytes)", array_type_text(ty), bits / 8))
                    .at(ty.span, format!("{} bytes", bits / 8))
                    .also(operand, what)
                    .note("an array is cast to an integer of the same size, its elements' bytes in order"),
            );
            return Type::Error;
        }
        let access = Access { offset: 0, scale: 0, read: Read::Int { size: bits / 8, signed, bitfield: None }, user };
        self.set(scope, e, Type::Int { signed }, Res::Memory(access))
    }

    /// The BTF id of a `struct NAME` or `union NAME` type, or an error at it.
    pub(super) fn kernel_type(&mut self, ty: &TypeExpr) -> Option<u32> {
        let TypeExprKind::Tagged { tag, name } = &ty.kind else {
            self.error(Diagnostic::error("expected a struct or union type").at(ty.span, "not a struct or union"));
            return None;
        };
        let Some(k) = self.kernel_types_at(ty.span, "needs the kernel's types") else { return None };
        let id = k.find_tagged(tag, name);
        if id.is_none() {
            self.error(Diagnostic::error(format!("unknown type `{tag} {name}`")).at(ty.span, "not in the kernel's BTF"));
        }
        id
    }

    /// `offsetof(struct X, a.b)`: the byte offset of a (nested) member, from BTF.
    pub(super) fn offsetof(&mut self, e: &Expr, ty: &TypeExpr, fields: &[Name], scope: &mut Scope) -> Type {
        let Some(mut record) = self.kernel_type(ty) else { return Type::Error };
        let Ok(k) = self.kernel_types() else { return Type::Error };
        let mut offset = 0u64;
        for (i, field) in fields.iter().enumerate() {
            let Some(m) = k.member(record, &field.name) else {
                self.error(no_member(&k, record, field));
                return Type::Error;
            };
            offset += (m.offset_bits / 8) as u64;
            match k.shape(m.ty) {
                btf::Shape::Record { id, .. } => record = id,
                _ if i + 1 < fields.len() => {
                    self.error(
                        Diagnostic::error(format!("`{}` is not a struct or union", field.name))
                            .at(fields[i + 1].span, "has no members"),
                    );
                    return Type::Error;
                }
                _ => {}
            }
        }
        self.set(scope, e, Type::Int { signed: false }, Res::Const(offset))
    }

    /// The width in bits and signedness of a builtin integer type, or an error for other types.
    pub(super) fn int_type(&mut self, t: &TypeExpr) -> Option<(u32, bool)> {
        let TypeExprKind::Named(name) = &t.kind else {
            self.unsupported(t.span, "struct, pointer and array types");
            return None;
        };
        if let Some(found) = named_int_type(name) {
            return Some(found);
        }
        let id = self.typedef(name, t.span)?;
        let k = self.kernel_types().ok()?;
        match k.shape(id) {
            btf::Shape::Int { size, signed, .. } if matches!(size, 1 | 2 | 4 | 8) => Some((size * 8, signed)),
            _ => {
                self.error(
                    Diagnostic::error(format!("`{name}` is not an integer type"))
                        .at(t.span, format!("a typedef of `{}`", k.name(id))),
                );
                None
            }
        }
    }

    /// The BTF id of the kernel typedef `name` (`pid_t`, `size_t`, `__u8`): a type written
    /// as a bare name that is not a builtin integer type. Only a script that names one loads
    /// the kernel's BTF for it.
    pub(super) fn typedef(&mut self, name: &str, span: Span) -> Option<u32> {
        let k = self.kernel_types_at(span, "needs the kernel's types")?;
        let id = k.find_typedef(name);
        if id.is_none() {
            let mut d = Diagnostic::error(format!("unknown type `{name}`"))
                .at(span, "neither a builtin type nor a typedef in the kernel's BTF");
            if let Some(s) = did_you_mean(name, k.typedef_names().iter().map(String::as_str)) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            if k.enum_value(name).is_some() {
                d = d.note(format!(
                    "`{name}` is a kernel enum value, but `({name})` before an operand is a cast, as in bpftrace; drop the parentheses"
                ));
            }
            self.error(d);
        }
        id
    }
}

/// Width in bits and signedness of a builtin integer type name (`uint32`, `unsigned long`).
pub fn named_int_type(name: &str) -> Option<(u32, bool)> {
    Some(match name {
        "int8" | "s8" | "char" | "signed char" => (8, true),
        "uint8" | "u8" | "unsigned char" | "bool" => (8, false),
        "int16" | "s16" | "short" | "signed short" => (16, true),
        "uint16" | "u16" | "unsigned short" => (16, false),
        "int32" | "s32" | "int" | "signed" | "signed int" => (32, true),
        "uint32" | "u32" | "unsigned" | "unsigned int" => (32, false),
        "int64" | "s64" | "long" | "long long" | "signed long" | "long int" | "long long int" => (64, true),
        "uint64" | "u64" | "unsigned long" | "unsigned long long" | "unsigned long int" => (64, false),
        _ => return None,
    })
}

/// An array type as written: `uint8[4]`, `int16[]`.
pub(super) fn array_type_text(t: &TypeExpr) -> String {
    match &t.kind {
        TypeExprKind::Named(name) => name.clone(),
        TypeExprKind::Tagged { tag, name } => format!("{tag} {name}"),
        TypeExprKind::Pointer(inner) => format!("{} *", array_type_text(inner)),
        TypeExprKind::Array(inner, Some(n)) => format!("{}[{n}]", array_type_text(inner)),
        TypeExprKind::Array(inner, None) => format!("{}[]", array_type_text(inner)),
    }
}

/// `field` is not a member of kernel struct or union `record`.
pub(super) fn no_member(k: &btf::KernelTypes, record: u32, field: &Name) -> Diagnostic {
    let d = Diagnostic::error(format!("`{}` has no member `{}`", k.name(record), field.name)).at(field.span, "unknown member");
    match did_you_mean(&field.name, k.member_names(record).iter().map(String::as_str)) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d,
    }
}
