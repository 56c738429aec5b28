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
            self.error(KernelError::CastToEnum { found: t.describe(), span: v.span });
            return Type::Error;
        }
        let Some(k) = self.kernel_types_at(ty_span, None) else { return Type::Error };
        let Some(def) = k.find_tagged("enum", name).and_then(|id| Some((id, k.enum_def(id)?))) else {
            self.error(KernelError::UnknownTagged { tag: "enum", name: name.to_string(), span: ty_span });
            return Type::Error;
        };
        let (id, def) = def;
        if let ExprKind::Int(n) = v.kind {
            let shift = 64 - 8 * def.size.clamp(1, 8);
            if !def.values.iter().any(|(value, _)| *value == (n << shift) >> shift) {
                self.error(KernelError::NoEnumValue { name: name.to_string(), n, span: v.span });
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
                self.error(KernelError::NotIndexable { found: other.describe(), span: base_span });
                return Type::Error;
            }
        };
        let Some((ty, read)) = Self::memory_type(&k, elem, user, None) else {
            self.error(KernelError::UnreadableType { ty: k.name(elem), span: e.span });
            return Type::Error;
        };
        let access = Access { offset: 0, scale: k.size(elem) as u64, read, user };
        if let (true, btf::Shape::Record { id, .. }) = (self.opts.co_re && named_record(&k, k.shape(elem)), k.shape(elem)) {
            scope.core.insert(e.id, CoreRef::Stride { record: id });
        }
        Self::note_enum(&k, elem, e, scope);
        self.set(scope, e, ty, Res::Memory(access))
    }

    /// A member of a kernel struct reached through `base_ty` (`p->m` or `s.m`).
    pub(super) fn kernel_member(&mut self, e: &Expr, base_ty: Type, field: &Name, scope: &mut Scope) -> Type {
        let Some(k) = self.kernel_types_at(field.span, None) else { return Type::Error };
        let (record, user) = match base_ty {
            Type::Ptr { to: Some(Pointee::Btf { id: to, .. }), user } => match k.shape(to) {
                btf::Shape::Record { id, .. } => (id, user),
                _ => {
                    self.error(KernelError::NoMembers { ty: k.name(to), span: field.span });
                    return Type::Error;
                }
            },
            Type::Record { id, user } => (id, user),
            _ => {
                self.error(KernelError::MemberOfNonStruct { member: field.name.clone(), found: base_ty.describe(), span: field.span });
                return Type::Error;
            }
        };
        let Some(m) = k.member(record, &field.name) else {
            self.error(no_member(&k, record, field));
            return Type::Error;
        };
        let bitfield = m.bitfield.map(|bits| ((m.offset_bits % 8) as u8, bits));
        let Some((ty, read)) = Self::memory_type(&k, m.ty, user, bitfield) else {
            self.error(KernelError::UnreadableMember { member: field.name.clone(), ty: k.name(m.ty), span: field.span });
            return Type::Error;
        };
        let access = Access { offset: (m.offset_bits / 8) as u64, scale: 0, read, user };
        if self.opts.co_re && !k.is_script_type(record) {
            scope.core.insert(e.id, CoreRef::Member { record, path: vec![field.name.clone()] });
        }
        Self::note_enum(&k, m.ty, e, scope);
        self.set(scope, e, ty, Res::Memory(access))
    }

    /// The two reads of `ppid`, `pcomm`, `leader_tid` or `leader_comm` (`name`): the task's
    /// `link`, then that task's `field`, with offsets from the kernel's `struct task_struct` (and its id).
    pub(super) fn task_field(&mut self, name: &'static str, (link, field): (&str, &str), span: Span) -> Option<(Res, u32)> {
        let k = self.kernel_types_at(span, Some(name))?;
        let task = k.find_tagged("struct", "task_struct")?;
        let (l, m) = (k.member(task, link)?, k.member(task, field)?);
        let at = |m: &btf::Member, read| Access { offset: (m.offset_bits / 8) as u64, scale: 0, read, user: false };
        let read = match field {
            "comm" => Read::Chars { len: COMM_LEN },
            _ => Read::Int { size: 4, signed: false, bitfield: None },
        };
        let link = at(&l, Read::Int { size: 8, signed: false, bitfield: None });
        Some((Res::TaskField { link, field: at(&m, read) }, task))
    }

    /// With `--co-re`, notes that `sizeof(ty)` of a kernel struct or union is relocated.
    pub(super) fn note_core_size(&mut self, e: &Expr, ty: &TypeExpr, scope: &mut Scope) {
        if !self.opts.co_re {
            return;
        }
        let id = match &ty.kind {
            TypeExprKind::Tagged { tag: tag @ ("struct" | "union"), name } => self.kernel_types().ok().and_then(|k| k.find_tagged(tag, name)),
            TypeExprKind::Named(name) if named_int_type(name).is_none() => self.kernel_types().ok().and_then(|k| k.find_typedef(name)),
            _ => None,
        };
        let Ok(k) = self.kernel_types() else { return };
        // (libbpf finds a type by its name: an anonymous one keeps this kernel's size)
        if let Some(btf::Shape::Record { id, .. }) = id.map(|id| k.shape(id)).filter(|s| named_record(&k, *s)) {
            scope.core.insert(e.id, CoreRef::Size { record: id });
        }
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
                self.error(KernelError::SizeofArrayLength { span: t.span });
                None
            }
            TypeExprKind::Tagged { .. } => {
                let id = self.kernel_type(t)?;
                self.kernel_types().ok().map(|k| k.size(id) as u64)
            }
            // Settled before (`settle_type`).
            TypeExprKind::Typeof(_) => None,
        }
    }

    /// Whether two pointers point to the same type (a variable keeps one pointer type):
    /// kernel types compared once their modifiers and typedefs are skipped, an integer named
    /// in a cast (`(int32 *)p`) the same as a kernel integer of its size and sign.
    pub(super) fn same_pointee(&mut self, a: Pointee, b: Pointee) -> bool {
        let Ok(k) = self.kernel_types() else { return a == b };
        let int = |p: Pointee| match p {
            Pointee::Int { bytes, signed } => Some((bytes, signed)),
            Pointee::Btf { id, .. } => match k.shape(id) {
                btf::Shape::Int { size, signed, .. } => Some((size, signed)),
                _ => None,
            },
        };
        match (a, b) {
            (Pointee::Btf { id: x, .. }, Pointee::Btf { id: y, .. }) => k.resolved(x) == k.resolved(y),
            _ => int(a).is_some() && int(a) == int(b),
        }
    }

    /// A pointer type for messages, as a cast writes it: `` `struct mm_struct *` ``, `` `int32 *` ``.
    pub(super) fn pointer_text(&mut self, to: Pointee) -> String {
        let pointee = match (to, self.kernel_types()) {
            (Pointee::Int { bytes, signed }, _) => format!("{}int{}", if signed { "" } else { "u" }, bytes * 8),
            (Pointee::Btf { id, .. }, Ok(k)) => k.name(id),
            (Pointee::Btf { .. }, Err(_)) => "void".into(),
        };
        format!("`{pointee} *`")
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
            TypeExprKind::Array(..) | TypeExprKind::Typeof(_) => return Some(Type::Ptr { user: false, to: None }),
        };
        let Some(to) = to else { return Some(Type::Error) };
        let k = self.kernel_types().ok()?;
        Some(Type::Ptr { user: false, to: Some(Pointee::btf(&k, to)) })
    }

    /// `(uint8[8])x`, `(int16[])x`, `(int8[])"str"`: an integer's or a string's bytes (a
    /// string's NUL included, as 0.26 sizes a literal) as an array of integers of the same
    /// size in all (the length worked out from the operand's when not written).
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
            self.error(KernelError::ArrayCastElement { span: elem.span });
            return Type::Error;
        };
        if t == Type::Error {
            return Type::Error;
        }
        let size = match t {
            Type::Str { len } => len,
            _ if t.is_int() => int_bits(operand, scope) / 8,
            _ => {
                self.error(KernelError::ArrayCastOperand { found: t.describe(), span: operand.span });
                return Type::Error;
            }
        };
        let elem_bytes = elem_bits / 8;
        let written = len;
        let len = len.unwrap_or(u64::from(size / elem_bytes));
        let wanted = len.saturating_mul(u64::from(elem_bytes));
        if len == 0 || wanted != u64::from(size) {
            // No length written, and none fits: the elements are the problem.
            let len_zero = len == 0 || written.is_none();
            let (to, string, operand) = (array_type_text(ty), !t.is_int(), operand.span);
            self.error(KernelError::ArrayCastSize { size, to, wanted, elem_bytes, len_zero, string, operand, span: ty.span });
            return Type::Error;
        }
        if len > u64::from(u8::MAX) {
            self.error(KernelError::ArrayCastLength { len, span: ty.span });
            return Type::Error;
        }
        let bools = matches!(&elem.kind, TypeExprKind::Named(name) if name == "bool");
        let a = plan::IntArray { elem_bytes: elem_bytes as u8, signed, len: len as u8, bools, mac: false };
        self.set(scope, e, Type::IntArray(a), Res::Plain)
    }

    /// An integer array value's type, or a kernel array of integers (of 1, 2, 4 or 8 bytes,
    /// at most 255 of them) as the integer array value of the same elements: what `==`
    /// compares.
    pub(super) fn as_int_array(&mut self, t: Type) -> Option<plan::IntArray> {
        let (elem, len) = match t {
            Type::IntArray(a) => return Some(a),
            Type::Array { elem, len, .. } => (elem, len),
            _ => return None,
        };
        let k = self.kernel_types().ok()?;
        let btf::Shape::Int { size, signed, .. } = k.shape(k.resolved(elem)) else { return None };
        let len = u8::try_from(len).ok()?;
        matches!(size, 1 | 2 | 4 | 8).then_some(plan::IntArray { elem_bytes: size as u8, signed, len, bools: false, mac: false })
    }

    /// The type of `e` (of type `t`) used as a value: a kernel array of integers is read whole
    /// into an integer array value (bpftrace stores `args.saddr_v6` in a variable or a map as
    /// its bytes), anything else is as it is.
    pub(super) fn value_type(&mut self, e: &Expr, t: Type, scope: &mut Scope) -> Type {
        let Type::Array { .. } = t else { return t };
        match self.as_int_array(t) {
            Some(a) => {
                scope.array_reads.insert(e.id, a);
                Type::IntArray(a)
            }
            None => t,
        }
    }

    /// `e` checked, as a value (`value_type`).
    pub(super) fn value_expr(&mut self, e: &Expr, scope: &mut Scope) -> Type {
        let t = self.expr(e, scope);
        self.value_type(e, t, scope)
    }

    /// An array's type for messages: an integer array value's as written in a cast
    /// (`uint8[16]`), a kernel array's element type's name and its length (`__u8[16]`).
    pub(super) fn array_text(&mut self, t: Type) -> String {
        match t {
            Type::IntArray(a) => array_name(a),
            Type::Array { elem, len, .. } => match self.kernel_types() {
                Ok(k) => format!("{}[{len}]", k.name(elem)),
                Err(_) => format!("an array of {len}"),
            },
            _ => t.describe().to_string(),
        }
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
            let array = match size {
                Some(n) => ArrayDesc::Bytes(n),
                None => ArrayDesc::Of(k.name(elem)),
            };
            self.error(KernelError::MemoryArrayCast { array, to: array_type_text(ty), bits, operand, span: ty.span });
            return Type::Error;
        }
        let access = Access { offset: 0, scale: 0, read: Read::Int { size: bits / 8, signed, bitfield: None }, user };
        self.set(scope, e, Type::Int { signed }, Res::Memory(access))
    }

    /// The BTF id of a `struct NAME` or `union NAME` type, or an error at it.
    pub(super) fn kernel_type(&mut self, ty: &TypeExpr) -> Option<u32> {
        let TypeExprKind::Tagged { tag, name } = &ty.kind else {
            self.error(KernelError::NotStructOrUnion { span: ty.span });
            return None;
        };
        let k = self.kernel_types_at(ty.span, None)?;
        let id = k.find_tagged(tag, name);
        if id.is_none() {
            self.error(KernelError::UnknownTagged { tag, name: name.clone(), span: ty.span });
        }
        id
    }

    /// `offsetof(struct X, a.b)`: the byte offset of a (nested) member, from BTF.
    pub(super) fn offsetof(&mut self, e: &Expr, ty: &TypeExpr, fields: &[Name], scope: &mut Scope) -> Type {
        let Some(mut record) = self.kernel_type(ty) else { return Type::Error };
        if self.opts.co_re && !self.kernel_types().is_ok_and(|k| k.is_script_type(record)) {
            let path = fields.iter().map(|f| f.name.clone()).collect();
            scope.core.insert(e.id, CoreRef::Member { record, path });
        }
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
                    self.error(KernelError::MemberNotStructOrUnion { member: field.name.clone(), span: fields[i + 1].span });
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
            self.error(ExprError::Unsupported { what: Unsupported::NonIntegerTypes, span: t.span });
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
                self.error(KernelError::NotIntegerType { name: name.clone(), typedef_of: k.name(id), span: t.span });
                None
            }
        }
    }

    /// The BTF id of the kernel typedef `name` (`pid_t`, `size_t`, `__u8`): a type written
    /// as a bare name that is not a builtin integer type. Only a script that names one loads
    /// the kernel's BTF for it.
    pub(super) fn typedef(&mut self, name: &str, span: Span) -> Option<u32> {
        let k = self.kernel_types_at(span, None)?;
        let id = k.find_typedef(name);
        if id.is_none() {
            let suggestion = did_you_mean(name, k.typedef_names().iter().map(String::as_str)).map(str::to_string);
            let enum_value = k.enum_value(name).is_some();
            self.error(KernelError::UnknownTypedef { name: name.to_string(), suggestion, enum_value, span });
        }
        id
    }

    /// `&$v`, `&@m` (bpftrace 0.26): the address of a variable (its slot on the BPF stack)
    /// or of a map's value (0 when the map has no value there), typed as a pointer to the
    /// integer it holds, so that `*p` reads it.
    pub(super) fn address_of(&mut self, e: &Expr, inner: &Expr, scope: &mut Scope) -> Type {
        let var = matches!(&inner.kind, ExprKind::Var(name) if !is_positional(name));
        if !var && !matches!(inner.kind, ExprKind::Map(_)) {
            self.error(ExprError::AddressOfOperand { span: inner.span });
            return Type::Error;
        }
        let to = match self.expr(inner, scope) {
            Type::Error => return Type::Error,
            Type::Int { signed } if var => Pointee::Int { bytes: int_bits(inner, scope) / 8, signed },
            Type::Int { signed } => Pointee::Int { bytes: 8, signed },
            Type::Ptr { .. } => Pointee::Int { bytes: 8, signed: false },
            other => {
                self.error(ExprError::AddressOfValue { found: other.describe(), span: inner.span });
                return Type::Error;
            }
        };
        self.set(scope, e, Type::Ptr { user: false, to: Some(to) }, Res::Plain)
    }

    /// `(TYPE)expr`: to a pointer, an enum, an integer array, or an integer.
    pub(super) fn cast(&mut self, e: &Expr, ty: &TypeExpr, expr: &Expr, scope: &mut Scope) -> Type {
        let Some(ty) = &self.settle_type(ty, scope) else { return Type::Error };
        let t = self.expr(expr, scope);
        if let TypeExprKind::Array(elem, len) = &ty.kind {
            if matches!(&elem.kind, TypeExprKind::Named(n) if n == "string") {
                return self.string_cast(e, *len, expr, t, scope);
            }
        }
        if let Some(ptr) = self.cast_pointer(ty) {
            if t != Type::Error && !t.is_int() {
                self.error(KernelError::CastToPointer { found: t.describe(), span: expr.span });
                return Type::Error;
            }
            if ptr == Type::Error || t == Type::Error {
                return Type::Error;
            }
            let user = scope.user_address(t);
            let ptr = match ptr {
                Type::Ptr { to, .. } => Type::Ptr { user, to },
                other => other,
            };
            // 0.26: a literal narrower than a pointer is widened with zeros (its `int8` -1
            // is the address 0xff).
            let bits = int_bits(expr, scope);
            if scope.typing_026 && bits < 64 && literal_value(expr).is_some() {
                return self.set(scope, e, ptr, Res::IntCast { bits, signed: false });
            }
            return self.set(scope, e, ptr, Res::Plain);
        }
        if let TypeExprKind::Tagged { tag: "enum", name } = &ty.kind {
            return self.enum_cast(e, ty.span, name, expr, t, scope);
        }
        if let TypeExprKind::Array(elem, len) = &ty.kind {
            return self.array_cast(e, ty, elem, *len, expr, t, scope);
        }
        // `(bool)x`: whether `x` is not zero.
        if matches!(&ty.kind, TypeExprKind::Named(name) if name == "bool") && t.is_int() {
            return self.set(scope, e, Type::Bool, Res::Plain);
        }
        let Some((bits, signed)) = self.int_type(ty) else { return Type::Error };
        if let Type::IntArray(a) = t {
            let size = a.elem_bytes as u32 * a.len as u32;
            if 8 * size != bits {
                let (array, to) = (array_name(a), array_type_text(ty));
                self.error(KernelError::CastArrayToInteger { array, size, to, bits, ty_span: ty.span, span: expr.span });
                return Type::Error;
            }
            return self.set(scope, e, Type::Int { signed }, Res::IntCast { bits, signed });
        }
        if let Type::Array { elem, len, user } = t {
            return self.memory_array_cast(e, ty, (bits, signed), expr.span, (elem, len, user), scope);
        }
        if t != Type::Error && !t.is_int() {
            self.error(KernelError::CastToInteger { found: t.describe(), span: expr.span });
            return Type::Error;
        }
        self.note_typedef_enum(ty, e, scope);
        self.set(scope, e, Type::Int { signed }, Res::IntCast { bits, signed })
    }

    /// `base[index]`: an element of an integer array, a typed pointer or a kernel array.
    pub(super) fn index(&mut self, e: &Expr, base: &Expr, index: &Expr, scope: &mut Scope) -> Type {
        let bt = self.expr(base, scope);
        let it = self.expr(index, scope);
        if bt == Type::Error || it == Type::Error {
            return Type::Error;
        }
        if !it.is_int() {
            self.error(ExprError::NotInteger { wanted: IntWanted::Index, found: it.describe(), span: index.span });
            return Type::Error;
        }
        if matches!(bt, Type::Tuple(_) | Type::Str { .. }) {
            return self.constant_index(e, bt, index, scope);
        }
        if let Type::IntArray(a) = bt {
            if let Some(i) = literal_int(index).filter(|&i| i < 0 || i >= i64::from(a.len)) {
                self.error(ExprError::IndexOutOfRange { index: i, array: array_name(a), len: a.len, span: index.span });
                return Type::Error;
            }
            return self.set(scope, e, Type::Int { signed: a.signed }, Res::Plain);
        }
        self.element(e, bt, base.span, scope)
    }

    /// `$t[i]` of a tuple (0.25: as `$t.i`) and `$s[i]` of a string (its byte `i`, an int8):
    /// `i` must be a constant, as in bpftrace (`(1, "hello")[1 - 1]`).
    fn constant_index(&mut self, e: &Expr, bt: Type, index: &Expr, scope: &mut Scope) -> Type {
        let (len, what) = match bt {
            Type::Tuple(id) => (self.tuples.types[id as usize].len() as i64, ("a tuple", "elements")),
            Type::Str { len } => (i64::from(len), ("a string", "bytes")),
            _ => return Type::Error,
        };
        let Some(i) = index.const_int() else {
            self.error(ExprError::ConstantIndex { of: what.0, span: index.span });
            return Type::Error;
        };
        if i < 0 || i >= len {
            let of = format!("{} of {len} {}", what.0, what.1);
            self.error(ExprError::ConstantIndexRange { of, index: i, len, span: index.span });
            return Type::Error;
        }
        let ty = match bt {
            Type::Tuple(id) => self.tuples.types[id as usize][i as usize],
            _ => Type::Int { signed: true },
        };
        self.set(scope, e, ty, Res::Plain)
    }

    /// `(string[N])s`: the string `s` in N bytes (cut to N - 1 characters and a NUL). Only
    /// strings: `str(p, N)` reads one from memory.
    fn string_cast(&mut self, e: &Expr, len: Option<u64>, operand: &Expr, t: Type, scope: &mut Scope) -> Type {
        let len = match (t, len) {
            (Type::Error, _) => return Type::Error,
            (Type::Str { .. }, Some(n @ 1..=1024)) => n as u32,
            (Type::Str { .. }, _) => {
                self.error(ExprError::StringCastLength { span: e.span });
                return Type::Error;
            }
            (other, _) => {
                self.error(ExprError::CastToString { found: other.describe(), span: operand.span });
                return Type::Error;
            }
        };
        self.set(scope, e, Type::Str { len }, Res::Plain)
    }

    /// `*p`.
    pub(super) fn deref(&mut self, e: &Expr, inner: &Expr, scope: &mut Scope) -> Type {
        let t = self.expr(inner, scope);
        match t {
            Type::Error => Type::Error,
            Type::Ptr { to: Some(_), .. } => self.element(e, t, inner.span, scope),
            // An untyped pointer or an integer reads 8 bytes, as in bpftrace.
            t if t.is_int() => {
                let user = scope.user_address(t);
                let read = Read::Int { size: 8, signed: false, bitfield: None };
                self.set(scope, e, Type::Int { signed: false }, Res::Memory(Access { offset: 0, scale: 0, read, user }))
            }
            other => {
                self.error(KernelError::Deref { found: other.describe(), span: inner.span });
                Type::Error
            }
        }
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

/// Whether `shape` is a struct or union with a name (CO-RE finds types by name).
fn named_record(k: &btf::KernelTypes, shape: btf::Shape) -> bool {
    // (a script's own types are not the kernel's: they keep their offsets)
    matches!(shape, btf::Shape::Record { id, .. } if !k.is_script_type(id) && k.record_name(id).is_some_and(|(name, _)| !name.is_empty()))
}

/// An array type as written: `uint8[4]`, `int16[]`.
pub(super) fn array_type_text(t: &TypeExpr) -> String {
    match &t.kind {
        TypeExprKind::Named(name) => name.clone(),
        TypeExprKind::Tagged { tag, name } => format!("{tag} {name}"),
        TypeExprKind::Pointer(inner) => format!("{} *", array_type_text(inner)),
        TypeExprKind::Array(inner, Some(n)) => format!("{}[{n}]", array_type_text(inner)),
        TypeExprKind::Array(inner, None) => format!("{}[]", array_type_text(inner)),
        TypeExprKind::Typeof(_) => "typeof(…)".into(),
    }
}

/// `field` is not a member of kernel struct or union `record`.
pub(super) fn no_member(k: &btf::KernelTypes, record: u32, field: &Name) -> KernelError {
    let suggestion = did_you_mean(&field.name, k.member_names(record).iter().map(String::as_str)).map(str::to_string);
    KernelError::NoMember { record: k.name(record), member: field.name.clone(), suggestion, span: field.span }
}
