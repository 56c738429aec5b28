//! bpftrace 0.26's string helpers over run-time strings: `strlen()`, `strstr()`,
//! `str_concat()`, `memcmp()` (generated in `codegen/strscan.rs`).

use super::*;

impl Checker<'_> {
    /// `strlen(s)`, `strstr(h, n)`, `str_concat(a, b)`: every argument a string.
    pub(in crate::sema::check) fn string_helper(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        let mut lens = Vec::new();
        for a in args {
            if let Some(len) = self.string_arg(def, a, scope) {
                lens.push(len);
            }
        }
        if lens.len() < args.len() {
            return Type::Error;
        }
        let ty = match def.func {
            Func::Strlen => Type::Int { signed: false },
            Func::StrConcat => Type::Str { len: lens[0] + lens[1] - 1 },
            _ => Type::Int { signed: true },
        };
        self.set(scope, e, ty, Res::Call(def.func))
    }

    /// `memcmp(a, b, n)`.
    pub(in crate::sema::check) fn memcmp(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        let a = self.string_arg(def, &args[0], scope);
        let b = self.string_arg(def, &args[1], scope);
        let n = self.int_arg(&args[2], IntWanted::Count(def.name), scope);
        if a.is_none() || b.is_none() || !n {
            return Type::Error;
        }
        self.set(scope, e, Type::Int { signed: true }, Res::Call(def.func))
    }

    /// The capacity of string argument `a`, or `None` (after an error, unless it had one).
    pub(in crate::sema::check) fn string_arg(&mut self, def: &builtins::FuncDef, a: &Expr, scope: &mut Scope) -> Option<u32> {
        match self.expr(a, scope) {
            Type::Str { len } => Some(len),
            Type::Error => None,
            t => {
                let (func, signature, found) = (def.name, def.signature, t.describe());
                self.error(StdlibError::StringArg { func, signature, found, span: a.span });
                None
            }
        }
    }
}
