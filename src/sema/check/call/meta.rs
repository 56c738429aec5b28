//! bpftrace 0.26's helpers that are decided when compiling (docs/stdlib.md "compile time"):
//! `fail()` and `static_assert()` (errors, unless in a branch known not to run), `pton()`,
//! `strcap()`, `assert_str()`, `default_str_length()`, `kfunc_exist()`, `kfunc_allowed()`, and
//! `config.NAME`. Also the constant value
//! of a condition (`const_value`), which makes such a branch dead.

use super::*;
use crate::config::Value;

impl Checker<'_> {
    /// `fail(fmt, literals…)`: an error with the formatted message, where it is reached.
    pub(in crate::sema::check) fn fail(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let mut values = Vec::new();
        for a in args {
            self.expr(a, scope);
            match (&a.kind, self.const_value(a, scope), scope.exprs.get(&a.id).map(|i| &i.res)) {
                (ExprKind::Str(s), _, _) | (_, _, Some(Res::ConstStr(s))) => values.push(Literal::Str(s.clone())),
                (_, Some(n), _) => values.push(Literal::Int(n)),
                _ => {
                    self.error(StdlibError::FailLiterals { func: "fail", span: a.span });
                    return Type::Error;
                }
            }
        }
        let Some(Literal::Str(fmt)) = values.first() else {
            self.error(StdlibError::FailLiterals { func: "fail", span: args[0].span });
            return Type::Error;
        };
        if scope.dead == 0 {
            self.error(StdlibError::Fail { message: format_literals(fmt, &values[1..]), span: e.span });
        }
        self.set(scope, e, Type::Void, Res::Const(0))
    }

    /// `static_assert(cond, "message")`: an error with the message if `cond` is 0.
    pub(in crate::sema::check) fn static_assert(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        if !self.int_arg(&args[0], IntWanted::Condition("static_assert"), scope) {
            return Type::Error;
        }
        let ExprKind::Str(message) = &args[1].kind else {
            self.error(StdlibError::FailLiterals { func: "static_assert", span: args[1].span });
            return Type::Error;
        };
        match self.const_value(&args[0], scope) {
            None => self.error(StdlibError::NotConstant { span: args[0].span }),
            Some(0) if scope.dead == 0 => self.error(StdlibError::Fail { message: message.clone(), span: e.span }),
            Some(_) => {}
        }
        self.set(scope, e, Type::Void, Res::Const(0))
    }

    /// `pton("1.2.3.4")`, `pton("::1")`: the address's bytes in network order, a `uint8[4]`
    /// or `uint8[16]` value (as 0.26's src/ast/passes/types/type_resolver.cpp types it; an
    /// IPv4 one's integer is the bytes read little-endian: `(uint32)pton("127.0.0.1")` is
    /// 0x100007f). As 0.26, a `.` in the text makes it IPv4, else a `:` IPv6. An IPv4 value
    /// is a constant; codegen writes an IPv6 one's bytes from the literal (`Res::Call`).
    pub(in crate::sema::check) fn pton(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let Some(text) = self.literal_arg(args.first(), None, "pton", "address") else {
            return Type::Error;
        };
        let Some(bytes) = pton_bytes(&text) else {
            self.error(StdlibError::PtonAddress { text, span: args[0].span });
            return Type::Error;
        };
        let array = plan::IntArray { elem_bytes: 1, signed: false, len: bytes.len() as u8, bools: false, mac: false };
        let res = match <[u8; 4]>::try_from(bytes.as_slice()) {
            Ok(v4) => Res::Const(u64::from(u32::from_le_bytes(v4))),
            Err(_) => Res::Call(Func::Pton),
        };
        self.set(scope, e, Type::IntArray(array), res)
    }

    /// `strcap(s)`: a string's capacity (its size, NUL included), an array's length.
    pub(in crate::sema::check) fn strcap(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let cap = match self.expr(&args[0], scope) {
            Type::Str { len } | Type::Array { len, .. } => u64::from(len),
            Type::IntArray(a) => u64::from(a.len),
            Type::Error => return Type::Error,
            t => {
                self.error(StdlibError::Strcap { found: t.describe(), span: args[0].span });
                return Type::Error;
            }
        };
        self.set(scope, e, Type::Int { signed: true }, Res::Const(cap))
    }

    /// `assert_str(x)` (0.26's stdlib macro): nothing when `x` is string-like (a string, an
    /// array of int8, a pointer to int8), else the error that macro's `static_assert`/`fail`
    /// raises, in the words of 0.26's src/stdlib/strings.bt.
    pub(in crate::sema::check) fn assert_str(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let int8 = |g: &mut Self, id: u32| {
            g.kernel_types().is_ok_and(|k| matches!(k.shape(k.resolved(id)), btf::Shape::Int { size: 1, signed: true, .. }))
        };
        let message = match self.expr(&args[0], scope) {
            Type::Error => return Type::Error,
            Type::Str { .. } => None,
            Type::IntArray(a) if a.elem_bytes == 1 && a.signed && !a.bools => None,
            Type::Array { elem, .. } if int8(self, elem) => None,
            Type::IntArray(_) | Type::Array { .. } => Some("string-like arrays must contain a char-like type"),
            Type::Ptr { to: Some(Pointee::Int { bytes: 1, signed: true }), .. } => None,
            Type::Ptr { to: Some(Pointee::Btf { id, .. }), .. } if int8(self, id) => None,
            Type::Ptr { .. } => Some("string-like pointers must point to a char-like type"),
            _ => Some("string-like values must be either strings, arrays or pointers"),
        };
        if let (Some(message), 0) = (message, scope.dead) {
            self.error(StdlibError::Fail { message: message.to_string(), span: e.span });
        }
        self.set(scope, e, Type::Void, Res::Const(0))
    }

    /// `default_str_length()` (0.26's stdlib macro, `sizeof(str((int8*)0))`): the size of
    /// what `str()` reads, config `max_strlen`.
    pub(in crate::sema::check) fn default_str_length(&mut self, e: &Expr, scope: &mut Scope) -> Type {
        let size = self.opts.config.max_strlen as u64;
        self.set(scope, e, Type::Int { signed: false }, Res::Const(size))
    }

    /// `kfunc_exist(name)`: whether the kernel's BTF has the function; `kfunc_allowed(name)`:
    /// whether the kernel lets this probe's kind of program call it.
    pub(in crate::sema::check) fn kfunc_query(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        let Some(name) = self.literal_arg(args.first(), None, def.name, "kfunc name") else {
            return Type::Error;
        };
        let Some(k) = self.kernel_types_at(e.span, Some(def.name)) else { return Type::Error };
        let id = k.function_id(&name);
        let holds = match (def.func, id) {
            (_, None) => false,
            (Func::KfuncExist, Some(_)) => true,
            (_, Some(id)) => crate::kernel::features::kfunc_allowed(id, prog_type(&scope.inst.attach)),
        };
        self.set(scope, e, Type::Int { signed: false }, Res::Const(holds.into()))
    }

    /// `config.NAME` (or `config().NAME`): the config variable's value; `None` if `base` is not
    /// `config`.
    pub(in crate::sema::check) fn config_field(&mut self, e: &Expr, base: &Expr, field: &Name, scope: &mut Scope) -> Option<Type> {
        match &base.kind {
            ExprKind::Ident(n) if n == "config" => {}
            ExprKind::Call { name, args } if name.name == "config" && args.is_empty() => {}
            _ => return None,
        }
        Some(match self.opts.config.value(&field.name) {
            Some(Value::Int(n)) => self.set(scope, e, Type::Int { signed: false }, Res::Const(n)),
            Some(Value::Str(s)) => self.set(scope, e, Type::Str { len: s.len() as u32 + 1 }, Res::ConstStr(s)),
            None => {
                let suggestion = did_you_mean(&field.name, crate::config::Config::names()).map(str::to_string);
                self.error(StdlibError::ConfigName { name: field.name.clone(), suggestion, span: field.span });
                Type::Error
            }
        })
    }

    /// The value of integer expression `e` (checked already) when it is known when compiling:
    /// literals, constants (`is_str(x)`, `$1`, `kfunc_exist()`), and operators over them.
    pub(in crate::sema::check) fn const_value(&self, e: &Expr, scope: &Scope) -> Option<i64> {
        if let Some(Res::Const(v)) = scope.exprs.get(&e.id).map(|i| &i.res) {
            return Some(*v as i64);
        }
        match &e.kind {
            ExprKind::Int(n) => Some(*n as i64),
            ExprKind::Bool(b) => Some(i64::from(*b)),
            ExprKind::Unary { op, operand } => {
                let v = self.const_value(operand, scope)?;
                Some(match op {
                    UnOp::Not => i64::from(v == 0),
                    UnOp::Neg => v.wrapping_neg(),
                    UnOp::BitNot => !v,
                })
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (a, b) = (self.const_value(lhs, scope)?, self.const_value(rhs, scope)?);
                Some(match op {
                    BinOp::Add => a.wrapping_add(b),
                    BinOp::Sub => a.wrapping_sub(b),
                    BinOp::Mul => a.wrapping_mul(b),
                    BinOp::Div => a.checked_div(b)?,
                    BinOp::Mod => a.checked_rem(b)?,
                    BinOp::Eq => i64::from(a == b),
                    BinOp::Ne => i64::from(a != b),
                    BinOp::Lt => i64::from(a < b),
                    BinOp::Le => i64::from(a <= b),
                    BinOp::Gt => i64::from(a > b),
                    BinOp::Ge => i64::from(a >= b),
                    BinOp::And => i64::from(a != 0 && b != 0),
                    BinOp::Or => i64::from(a != 0 || b != 0),
                    BinOp::BitAnd => a & b,
                    BinOp::BitOr => a | b,
                    BinOp::BitXor => a ^ b,
                    BinOp::Shl => a.checked_shl(b as u32)?,
                    BinOp::Shr => a.checked_shr(b as u32)?,
                })
            }
            _ => None,
        }
    }
}

/// A `fail()` argument.
enum Literal {
    Int(i64),
    Str(String),
}

/// `fmt` with each conversion (`%d`, `%-5s`, `%x`, …) replaced by its value, as printf's
/// conversions print it (`parse_format`); a format that does not parse is left as it is.
fn format_literals(fmt: &str, values: &[Literal]) -> String {
    let Ok(segments) = parse_format(fmt) else { return fmt.to_string() };
    let conv = |spec: &FmtSpec, arg: usize| match (values.get(arg), spec.conv) {
        (Some(Literal::Int(n)), 'x') => format!("{n:x}"),
        (Some(Literal::Int(n)), 'X') => format!("{n:X}"),
        (Some(Literal::Int(n)), 'u') => (*n as u64).to_string(),
        (Some(Literal::Int(n)), _) => n.to_string(),
        (Some(Literal::Str(s)), _) => s.clone(),
        (None, _) => String::new(),
    };
    segments
        .iter()
        .map(|s| match s {
            FmtSegment::Lit(text) => text.clone(),
            FmtSegment::Conv { spec, arg } => conv(spec, *arg),
        })
        .collect()
}

/// The kind of BPF program a probe is compiled to (`codegen::section`).
pub(in crate::sema::check) fn prog_type(attach: &Attach) -> u32 {
    use libbpf_rs::libbpf_sys as sys;
    match attach {
        Attach::Begin | Attach::End | Attach::Test { .. } | Attach::Signal { .. } | Attach::RawTracepoint { .. } => sys::BPF_PROG_TYPE_RAW_TRACEPOINT,
        Attach::Bench { .. } => sys::BPF_PROG_TYPE_XDP,
        Attach::Tracepoint { .. } => sys::BPF_PROG_TYPE_TRACEPOINT,
        Attach::Interval { .. } | Attach::Perf { .. } | Attach::Watchpoint { .. } => sys::BPF_PROG_TYPE_PERF_EVENT,
        Attach::Kprobe { .. } | Attach::Uprobe { .. } | Attach::Usdt { .. } => sys::BPF_PROG_TYPE_KPROBE,
        Attach::Fentry { .. } => sys::BPF_PROG_TYPE_TRACING,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_formats_its_literals() {
        let v = [Literal::Int(1), Literal::Str("x".into()), Literal::Int(255)];
        assert_eq!(format_literals("got %d, %-3s and %x (100%%)", &v), "got 1, x and ff (100%)");
    }
}

/// The bytes of an IP address's text, in network order (4 for IPv4, 16 for IPv6), as
/// 0.26's `pton()` reads it: IPv4 when it has a `.`, else IPv6 when it has a `:`.
pub(crate) fn pton_bytes(text: &str) -> Option<Vec<u8>> {
    if text.contains('.') {
        text.parse::<std::net::Ipv4Addr>().ok().map(|a| a.octets().to_vec())
    } else if text.contains(':') {
        text.parse::<std::net::Ipv6Addr>().ok().map(|a| a.octets().to_vec())
    } else {
        None
    }
}
