//! `typeof(EXPR)` where a type is written (bpftrace 0.26's "Type Context Builtins"): in a
//! `let` declaration, a cast, `sizeof`. EXPR is checked for its type and never run (codegen
//! never visits it). `typeof(TYPE)` is that type already, as parsed.

use super::*;

impl Checker<'_> {
    /// `ty` with each `typeof(EXPR)` in it written as the type EXPR has; `None` (with an
    /// error) where that type cannot be written so (a string, a tuple).
    pub(super) fn settle_type(&mut self, ty: &TypeExpr, scope: &mut Scope) -> Option<TypeExpr> {
        let kind = match &ty.kind {
            TypeExprKind::Typeof(e) => return self.typeof_expr(e, ty.span, scope),
            TypeExprKind::Pointer(inner) => TypeExprKind::Pointer(Box::new(self.settle_type(inner, scope)?)),
            TypeExprKind::Array(inner, n) => TypeExprKind::Array(Box::new(self.settle_type(inner, scope)?), *n),
            other => other.clone(),
        };
        Some(TypeExpr { kind, span: ty.span })
    }

    /// The type of `e` as it would be written, for `typeof(e)` at `span`.
    fn typeof_expr(&mut self, e: &Expr, span: Span, scope: &mut Scope) -> Option<TypeExpr> {
        let t = self.expr(e, scope);
        let named = |name: String| Some(TypeExpr { kind: TypeExprKind::Named(name), span });
        let int_name = |bits: u32, signed: bool| format!("{}int{bits}", if signed { "" } else { "u" });
        match t {
            Type::Error => None,
            Type::Int { signed } => named(int_name(int_bits(e, scope), signed)),
            Type::Ptr { to: Some(Pointee::Int { bytes, signed }), .. } => {
                let to = TypeExpr { kind: TypeExprKind::Named(int_name(bytes * 8, signed)), span };
                Some(TypeExpr { kind: TypeExprKind::Pointer(Box::new(to)), span })
            }
            Type::Ptr { to: Some(Pointee::Btf { id, .. }), .. } => {
                let name = self.kernel_types().ok()?.name(id);
                let to = match name.split_once(' ') {
                    Some((tag @ ("struct" | "union" | "enum"), n)) if !n.contains(' ') => {
                        let tag = match tag {
                            "struct" => "struct",
                            "union" => "union",
                            _ => "enum",
                        };
                        TypeExprKind::Tagged { tag, name: n.to_string() }
                    }
                    None if !name.contains('*') && !name.contains('[') => TypeExprKind::Named(name),
                    _ => {
                        self.error(ExprError::TypeofHere { found: t.describe(), span: e.span });
                        return None;
                    }
                };
                let to = TypeExpr { kind: to, span };
                Some(TypeExpr { kind: TypeExprKind::Pointer(Box::new(to)), span })
            }
            Type::IntArray(a) => {
                let elem = TypeExpr { kind: TypeExprKind::Named(int_name(u32::from(a.elem_bytes) * 8, a.signed)), span };
                Some(TypeExpr { kind: TypeExprKind::Array(Box::new(elem), Some(u64::from(a.len))), span })
            }
            other => {
                self.error(ExprError::TypeofHere { found: other.describe(), span: e.span });
                None
            }
        }
    }

    /// `sizeof(typeof(EXPR))` and `sizeof(EXPR)`: the size of EXPR's type, which has no
    /// written form for every type (a string's is its capacity; an integer's, the width of
    /// the cast, field or variable it comes from: `sizeof({ $a = (int8)1; $a })` is 1).
    pub(super) fn sizeof_typeof(&mut self, e: &Expr, inner: &Expr, scope: &mut Scope) -> Type {
        let size = match self.expr(inner, scope) {
            Type::Error => return Type::Error,
            Type::Int { .. } => u64::from(int_bits(inner, scope) / 8),
            Type::Str { len } => u64::from(len),
            Type::IntArray(a) => u64::from(a.elem_bytes) * u64::from(a.len),
            Type::Tuple(id) => self.tuples.layout(id).size as u64,
            _ => 8,
        };
        self.set(scope, e, Type::Int { signed: false }, Res::Const(size))
    }

    /// `let $v: typeof(EXPR)`: an integer type declares the variable as `let $v: uintN` does;
    /// any other gives the variable EXPR's type (a string, a tuple).
    pub(super) fn let_typeof(&mut self, var: &Name, inner: &Expr, scope: &mut Scope) -> Option<Type> {
        let t = self.expr(inner, scope);
        match t {
            Type::Error => None,
            Type::Int { signed } => {
                let bits = int_bits(inner, scope);
                scope.declared.insert(var.name.clone(), (bits, signed));
                scope.var_bits.insert(var.name.clone(), bits);
                scope.declared_as.insert(var.name.clone(), format!("{}int{bits}", if signed { "" } else { "u" }));
                Some(t)
            }
            _ => {
                scope.declared_as.insert(var.name.clone(), self.tuples.name(t));
                Some(t)
            }
        }
    }
}

impl Checker<'_> {
    /// `typeinfo(EXPR)` (bpftrace 0.26, unstable: config `unstable_typeinfo`, `error` by
    /// default): the record `(btf_id = 0, base_type = "int", full_type = "uint64")` of EXPR's
    /// type, named as 0.26 names types (src/types.cpp `typestr`, src/ast/passes/types/
    /// ast_transformer.cpp: `btf_id` is always 0). EXPR is checked, never run.
    pub(in crate::sema::check) fn typeinfo(&mut self, e: &Expr, arg: &Expr, scope: &mut Scope) -> Type {
        match self.opts.config.unstable_typeinfo {
            crate::config::Unstable::Enable => {}
            level => {
                let error = level == crate::config::Unstable::Error;
                self.error(ExprError::TypeinfoUnstable { error, span: e.span });
                if error {
                    return Type::Error;
                }
            }
        }
        let t = self.expr(arg, scope);
        let int_name = |bits: u32, signed: bool| format!("{}int{bits}", if signed { "" } else { "u" });
        let (base, full) = match t {
            Type::Error => return Type::Error,
            Type::Int { signed } => ("int", int_name(int_bits(arg, scope), signed)),
            Type::Bool => ("bool", "bool".to_string()),
            Type::Str { len } => ("string", format!("string[{len}]")),
            Type::Ptr { to, .. } => {
                let to = match to {
                    Some(Pointee::Int { bytes, signed }) => int_name(bytes * 8, signed),
                    Some(Pointee::Btf { id, .. }) => match self.kernel_types().ok() {
                        Some(k) => k.name(id),
                        None => return Type::Error,
                    },
                    None => "void".to_string(),
                };
                ("pointer", format!("{to} *"))
            }
            Type::Record { id, .. } => match self.kernel_types().ok() {
                Some(k) => ("c_type", k.name(id)),
                None => return Type::Error,
            },
            Type::IntArray(a) => ("array", format!("{}[{}]", int_name(u32::from(a.elem_bytes) * 8, a.signed), a.len)),
            Type::Ksym => ("ksym_t", "ksym_t".to_string()),
            Type::Usym => ("usym_t", "usym_t".to_string()),
            Type::Timestamp(_) => ("timestamp", "timestamp".to_string()),
            Type::Named(crate::kernel::names::NameTable::User) => ("username", "username".to_string()),
            other => {
                self.error(ExprError::TypeinfoOf { found: other.describe(), span: arg.span });
                return Type::Error;
            }
        };
        let full_len = full.len() as u32 + 1;
        let names = self.tuples.record_order(&["btf_id", "base_type", "full_type"]);
        let of = |n: &str| match n {
            "btf_id" => Type::Int { signed: false },
            "base_type" => Type::Str { len: base.len() as u32 + 1 },
            _ => Type::Str { len: full_len },
        };
        let elems = names.iter().map(|n| of(n)).collect();
        let ty = self.tuples.intern_named(elems, Some(names));
        self.set(scope, e, ty, Res::TypeInfo { base: base.to_string(), full })
    }
}
