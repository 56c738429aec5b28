//! Calls of the functions imported `.bpf.c` files define (`cimport`): the arguments checked
//! against the C parameters (an integer for an integer, a pointer for a pointer), the result
//! typed from the C return type.

use super::*;
use crate::cimport::{CFunction, CKind, CPointee};

impl Checker<'_> {
    pub(in crate::sema::check) fn c_call(&mut self, e: &Expr, f: &CFunction, args: &[Expr], scope: &mut Scope) -> Type {
        let (func, signature) = (f.name.clone(), f.signature());
        if args.len() != f.params.len() {
            self.error(CallError::CArgCount { func, signature, want: f.params.len(), given: args.len(), span: e.span });
            return Type::Error;
        }
        let unsupported = f.params.iter().map(|(n, t)| (format!("parameter `{n}`"), t)).chain([("result".to_string(), &f.ret)]);
        for (what, t) in unsupported {
            if t.kind == CKind::Other {
                let what = format!("{what} is `{}`", t.text);
                self.error(CallError::CUnsupported { func, signature, what, span: e.span });
                return Type::Error;
            }
        }
        let mut ok = true;
        for (i, (arg, (param, want))) in args.iter().zip(&f.params).enumerate() {
            let found = self.expr(arg, scope);
            let fits = match (&want.kind, found) {
                (_, Type::Error) => false,
                (CKind::Int { .. }, Type::Int { .. } | Type::Bool) => true,
                (CKind::Ptr { .. }, Type::Ptr { .. }) => true,
                _ => {
                    let (index, param, want) = (i + 1, param.clone(), want.text.clone());
                    self.error(CallError::CArgType { func: func.clone(), index, param, want, found: found.describe(), span: arg.span });
                    false
                }
            };
            ok &= fits;
        }
        if !ok {
            return Type::Error;
        }
        let (ty, signed) = match &f.ret.kind {
            CKind::Int { signed, .. } => (Type::Int { signed: *signed }, *signed),
            CKind::Ptr { to } => (Type::Ptr { user: false, to: to.as_ref().and_then(|p| self.c_pointee(p)) }, false),
            _ => (Type::Void, false),
        };
        self.set(scope, e, ty, Res::CCall { name: func, signed })
    }

    /// What a pointer a C function returns points to, for the script.
    fn c_pointee(&mut self, p: &CPointee) -> Option<Pointee> {
        match p {
            CPointee::Int { bytes, signed } => Some(Pointee::Int { bytes: *bytes, signed: *signed }),
            CPointee::Record { tag, name } => {
                let k = self.kernel_types().ok()?;
                let id = k.find_tagged(tag, name)?;
                Some(Pointee::btf(&k, id))
            }
        }
    }
}
