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
