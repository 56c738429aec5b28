//! What an `iter:` probe's program may do beyond other probes: `ctx`, the iterator's context
//! (`struct bpf_iter__NAME *`), whose members are loaded from the context itself — a pointer
//! member is NULL on the iterator's last call, which the program then ends — and `printf()`,
//! which writes into the iterator's text through `bpf_seq_printf` (as bpftrace's does), so
//! only its integer and string conversions are taken, at most 12 arguments.

use super::*;

/// `bpf_seq_printf`'s most arguments (the kernel's MAX_BPRINTF_VARARGS).
const MAX_SEQ_ARGS: usize = 12;

impl Checker<'_> {
    /// `ctx`: in an iter probe, a pointer to its context struct; elsewhere an error.
    pub(super) fn iter_ctx(&mut self, e: &Expr, scope: &mut Scope) -> Type {
        let Attach::Iter { name, .. } = &scope.inst.attach else {
            let probe = scope.inst.display.clone();
            self.error(ArgError::BuiltinUnavailable { name: "ctx".into(), needs: "iter", probe, fields: None, span: e.span });
            return Type::Error;
        };
        let Ok(k) = self.kernel_types() else { return Type::Error };
        let to = k.find_tagged("struct", &format!("bpf_iter__{name}")).map(|id| Pointee::btf(&k, id));
        self.set(scope, e, Type::Ptr { user: false, to }, Res::Builtin(Builtin::Ctx))
    }

    /// `ctx.NAME` (or `ctx->NAME`): a member of the context, loaded from it directly (the
    /// kernel refuses other reads of a tracing program's context).
    pub(super) fn iter_ctx_field(&mut self, e: &Expr, ctx: Type, field: &Name, scope: &mut Scope) -> Type {
        let Some(k) = self.kernel_types_at(field.span, None) else { return Type::Error };
        let Type::Ptr { to: Some(Pointee::Btf { id: record, .. }), .. } = ctx else { return Type::Error };
        let Some(m) = k.member(record, &field.name) else {
            self.error(memory::no_member(&k, record, field));
            return Type::Error;
        };
        let (ty, size) = match Self::memory_type(&k, m.ty, false, None) {
            Some((ty @ Type::Ptr { .. }, _)) => (ty, 8),
            Some((ty @ Type::Int { .. }, Read::Int { size, bitfield: None, .. })) => (ty, size),
            _ => {
                self.error(KernelError::UnreadableMember { member: field.name.clone(), ty: k.name(m.ty), span: field.span });
                return Type::Error;
            }
        };
        let res = Res::IterField { offset: m.offset_bits / 8, size, signed: ty.signed(), null_ends: matches!(ty, Type::Ptr { .. }) };
        self.set(scope, e, ty, res)
    }

    /// `printf(fmt, args…)` in an iter probe: the format as `bpf_seq_printf` takes it, each
    /// integer widened to 64 bits (`%lld`, its C type's value kept) and each string passed by
    /// address.
    pub(super) fn seq_printf(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let fmt_expr = &args[0];
        let ExprKind::Str(fmt) = &fmt_expr.kind else {
            self.error(CallError::PrintfFormatLiteral { func: "printf".into(), span: fmt_expr.span });
            return Type::Error;
        };
        let segments = match printf::parse_format(fmt) {
            Ok(s) => s,
            Err(error) => {
                self.error(CallError::Format { error, span: fmt_expr.span });
                return Type::Error;
            }
        };
        let values = &args[1..];
        let types: Vec<Type> = values.iter().map(|a| self.expr(a, scope)).collect();
        let convs = segments.iter().filter(|s| matches!(s, FmtSegment::Conv { .. })).count();
        if convs != values.len() {
            let span = values.first().map_or(fmt_expr.span, |f| f.span.to(values[values.len() - 1].span));
            self.error(CallError::PrintfArgCount { func: "printf".into(), convs, args: values.len(), format: fmt_expr.span, span });
            return Type::Error;
        }
        if values.len() > MAX_SEQ_ARGS {
            self.error(CallError::SeqPrintfArgs { args: values.len(), max: MAX_SEQ_ARGS, span: e.span });
            return Type::Error;
        }
        let mut kernel_fmt = String::new();
        let mut seq_args = Vec::new();
        for segment in &segments {
            let (spec, arg) = match segment {
                FmtSegment::Lit(text) => {
                    kernel_fmt.push_str(&text.replace('%', "%%"));
                    continue;
                }
                FmtSegment::Conv { spec, arg } => (spec, *arg),
            };
            let (value, ty) = (&values[arg], types[arg]);
            if ty == Type::Error {
                return Type::Error;
            }
            let seq_arg = match (spec.conv, ty) {
                ('s', Type::Str { .. }) => SeqArg::Str,
                ('c', t) if t.is_int() => SeqArg::Int { bits: 8, signed: false },
                (c @ ('d' | 'i' | 'u' | 'x' | 'X'), t) if t.is_int() => SeqArg::Int { bits: spec.int_bits, signed: matches!(c, 'd' | 'i') },
                (conv, t) => {
                    self.error(CallError::SeqPrintfConv { conv, found: t.describe(), span: value.span });
                    return Type::Error;
                }
            };
            if spec.alt || spec.precision.is_some() {
                self.error(CallError::SeqPrintfFlags { span: fmt_expr.span });
                return Type::Error;
            }
            kernel_fmt.push_str(&kernel_conv(spec, &seq_arg));
            seq_args.push(seq_arg);
        }
        self.set(scope, e, Type::Void, Res::SeqPrintf { fmt: kernel_fmt, args: seq_args })
    }
}

/// One conversion as `bpf_seq_printf` reads it: flags and width kept, integers as `long long`.
fn kernel_conv(spec: &FmtSpec, arg: &SeqArg) -> String {
    let mut out = String::from("%");
    for (on, flag) in [(spec.left, '-'), (spec.zero, '0'), (spec.plus, '+'), (spec.space, ' ')] {
        if on {
            out.push(flag);
        }
    }
    if let Some(w) = spec.width {
        out.push_str(&w.to_string());
    }
    if matches!(arg, SeqArg::Int { .. }) && spec.conv != 'c' {
        out.push_str("ll");
    }
    out.push(spec.conv);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_conversions() {
        let spec = |s: &str| match printf::parse_format(s).unwrap().remove(0) {
            FmtSegment::Conv { spec, .. } => spec,
            FmtSegment::Lit(_) => unreachable!(),
        };
        let int = SeqArg::Int { bits: 32, signed: true };
        assert_eq!(kernel_conv(&spec("%d"), &int), "%lld");
        assert_eq!(kernel_conv(&spec("%-08lx"), &int), "%-08llx");
        assert_eq!(kernel_conv(&spec("%c"), &int), "%c");
        assert_eq!(kernel_conv(&spec("%-16s"), &SeqArg::Str), "%-16s");
    }
}
