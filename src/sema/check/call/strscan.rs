//! bpftrace 0.26's string helpers: over run-time strings, `strlen()`, `strstr()`,
//! `str_concat()`, `memcmp()` (generated in `codegen/strscan.rs`); numbers printed as names,
//! `strerror()`, `signal_name()`, `syscall_name()` (the runtime finds the name).

use super::*;
use crate::kernel::names::NameTable;

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

    /// `strerror(n)`, `signal_name(n)`, `syscall_name(n)`: the number, printed as its name.
    pub(in crate::sema::check) fn named_number(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        if !self.int_arg(&args[0], IntWanted::Number(def.name), scope) {
            return Type::Error;
        }
        let table = match def.func {
            Func::Strerror => NameTable::Errno,
            Func::SignalName => NameTable::Signal,
            _ => NameTable::Syscall,
        };
        self.set(scope, e, Type::Named(table), Res::Plain)
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
