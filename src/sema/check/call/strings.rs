//! Strings and bytes: `str()`, `strncmp()`, `strcontains()`, `buf()`, `ntop()`, `macaddr()`,
//! `bswap()`.

use super::*;

impl Checker<'_> {
    /// `str(p)`: a string read from memory (or a string as it is).
    pub(in crate::sema::check) fn str(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        // `str($N)`: the parameter's text as given (bpftrace's docs: "" when it is not), even
        // one that reads as a number; in a built tool, given when it starts.
        if let ExprKind::Var(name) = &args[0].kind {
            if name != "$#" && crate::sema::is_positional(name) {
                if self.opts.portable {
                    return self.runtime_str_param(e, &args[0], name, scope);
                }
                let text = self.param_text(name, 0);
                return self.set(scope, e, Type::Str { len: text.len() as u32 + 1 }, Res::ConstStr(text));
            }
        }
        // `str($N + K)`: bpftrace's pointer arithmetic on the parameter's text, its bytes from
        // K on ("" past the end), known when compiling.
        if let ExprKind::Binary { op: BinOp::Add, lhs, rhs } = &args[0].kind {
            if let (ExprKind::Var(name), Some(skip)) = (&lhs.kind, rhs.const_int()) {
                if name != "$#" && crate::sema::is_positional(name) && skip >= 0 {
                    if self.opts.portable {
                        // A built tool reads its parameters when it starts: no text to cut here.
                        self.error(CallError::NotPortable { construct: "`str($N + K)`", span: args[0].span });
                        return Type::Error;
                    }
                    let text = self.param_text(name, skip as usize);
                    return self.set(scope, e, Type::Str { len: text.len() as u32 + 1 }, Res::ConstStr(text));
                }
            }
        }
        let t = self.expr(&args[0], scope);
        // `str(p, n)`: at most n bytes, NUL included; the string's size is n when n is a literal.
        let max = self.opts.config.max_strlen as u32;
        let size = match args.get(1) {
            None => max,
            Some(n) if !self.int_arg(n, IntWanted::Count("str"), scope) => return Type::Error,
            Some(n) => match literal_int(n) {
                Some(n) => (n.max(1) as u64).min(u64::from(max)) as u32,
                None => max,
            },
        };
        // Pointers know their address space; plain integers take the probe's
        // (user memory in uprobes, as in bpftrace).
        let res = match t {
            Type::Ptr { user, .. } => Res::Str { user },
            Type::Array { elem, len, user } => {
                let Some(k) = self.kernel_types().ok() else { return Type::Error };
                if !matches!(k.shape(elem), btf::Shape::Int { size: 1, .. }) {
                    self.error(
                        CallError::StrCharArray { elem: k.name(elem), len, span: args[0].span },
                    );
                    return Type::Error;
                }
                let len = len.min(size);
                return self.set(scope, e, Type::Str { len }, Res::StrArray { len, user });
            }
            Type::Int { .. } => Res::Str { user: scope.user_memory() },
            Type::Str { len } => return self.set(scope, e, Type::Str { len }, Res::Plain),
            Type::Error => return Type::Error,
            other => {
                self.error(
                    CallError::StrPointer { found: other.describe(), span: args[0].span },
                );
                return Type::Error;
            }
        };
        self.set(scope, e, Type::Str { len: size }, res)
    }

    /// The text of positional parameter `name` (`$2`) from byte `skip` on: "" when it is not
    /// given or is shorter.
    fn param_text(&self, name: &str, skip: usize) -> String {
        let text = name[1..].parse::<usize>().ok().and_then(|n| self.opts.params.get(n.checked_sub(1)?));
        let bytes = text.map_or(&[][..], |t| t.as_bytes());
        String::from_utf8_lossy(&bytes[skip.min(bytes.len())..]).into_owned()
    }

    /// `strncmp(a, b, n)`.
    pub(in crate::sema::check) fn strncmp(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let types: Vec<Type> = args[..2].iter().map(|a| self.expr(a, scope)).collect();
        let n = self.expr(&args[2], scope);
        if types.contains(&Type::Error) || n == Type::Error {
            return Type::Error;
        }
        for (arg, t) in args.iter().zip(&types) {
            if !matches!(t, Type::Str { .. }) {
                self.error(
                    CallError::StrncmpStrings { found: t.describe(), span: arg.span },
                );
                return Type::Error;
            }
        }
        let ExprKind::Int(len) = args[2].kind else {
            self.error(
                CallError::StrncmpLength { span: args[2].span },
            );
            return Type::Error;
        };
        self.set(scope, e, Type::Int { signed: false }, Res::Strncmp(len))
    }

    /// `strcontains(haystack, needle)`: a literal needle is compared byte by byte, any other
    /// searched for in a loop (`codegen/strscan.rs`).
    pub(in crate::sema::check) fn strcontains(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let haystack = self.expr(&args[0], scope);
        let needle = self.expr(&args[1], scope);
        for (t, a) in [(haystack, &args[0]), (needle, &args[1])] {
            match t {
                Type::Str { .. } => {}
                Type::Error => return Type::Error,
                t => {
                    self.error(CallError::StrcontainsHaystack { found: t.describe(), span: a.span });
                    return Type::Error;
                }
            }
        }
        self.set(scope, e, Type::Bool, Res::Call(Func::Strcontains))
    }

    /// `buf(p[, length])`: bytes from memory, printed hex-escaped by `%r`.
    pub(in crate::sema::check) fn buf(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let types: Vec<Type> = args.iter().map(|a| self.expr(a, scope)).collect();
        if types.contains(&Type::Error) {
            return Type::Error;
        }
        let data_ok = types[0].is_int() || matches!(types[0], Type::Str { .. } | Type::Array { .. });
        if !data_ok || types.get(1).is_some_and(|t| !t.is_int()) {
            self.error(
                CallError::BufArgs { span: e.span },
            );
            return Type::Error;
        }
        let user = matches!(types[0], Type::Ptr { user: true, .. } | Type::Array { user: true, .. })
            || (types[0].is_int() && scope.user_memory());
        self.set(scope, e, Type::Buffer, Res::Buf { user })
    }

    /// `ntop([family, ]address)`: an IP address, printed as text.
    pub(in crate::sema::check) fn ntop(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let types: Vec<Type> = args.iter().map(|a| self.expr(a, scope)).collect();
        if types.contains(&Type::Error) {
            return Type::Error;
        }
        let addr = types[types.len() - 1];
        let ok_family = types.len() == 1 || types[0].is_int();
        let array_of_address = matches!(addr, Type::IntArray(a) if matches!(a.bytes(), 4 | 16));
        let ok_addr = addr.is_int() || matches!(addr, Type::Array { len: 4 | 16, .. }) || array_of_address;
        if !ok_family || !ok_addr {
            self.error(
                CallError::NtopArgs { found: addr.describe(), span: args[args.len() - 1].span },
            );
            return Type::Error;
        }
        self.set(scope, e, Type::Inet, Res::Call(Func::Ntop))
    }

    /// `macaddr(mac)`: 6 bytes as a MAC address — an array's first 6 (a kernel array in
    /// memory, an integer array value; at least 6 bytes, as bpftrace 0.26 asks), or the 6 a
    /// pointer (or an integer used as an address) points to.
    pub(in crate::sema::check) fn macaddr(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let t = self.expr(&args[0], scope);
        let bytes = match t {
            Type::Error => return Type::Error,
            Type::IntArray(a) => Some(u32::from(a.elem_bytes) * u32::from(a.len)),
            Type::Array { elem, len, .. } => {
                let Ok(k) = self.kernel_types() else { return Type::Error };
                Some(k.size(elem) * len)
            }
            _ if t.is_int() => None,
            _ => {
                self.error(CallError::MacaddrArgs { found: t.describe(), span: args[0].span });
                return Type::Error;
            }
        };
        if let Some(bytes) = bytes.filter(|&b| b < 6) {
            self.error(CallError::MacaddrSize { array: type_text(t), bytes, span: args[0].span });
            return Type::Error;
        }
        let user = match t {
            Type::Array { user, .. } => user,
            _ => scope.user_address(t),
        };
        self.set(scope, e, Type::IntArray(plan::IntArray::MAC), Res::Macaddr { user })
    }

    /// `bswap(n)`: an integer with its bytes in the other order.
    pub(in crate::sema::check) fn bswap(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        if !self.int_arg(&args[0], IntWanted::Bswap, scope) {
            return Type::Error;
        }
        let bits = int_bits(&args[0], scope);
        self.set(scope, e, Type::Int { signed: false }, Res::Bswap(bits))
    }
}
