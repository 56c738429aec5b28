//! printf: format parsing, and the check of `printf()` (and `system()`) arguments against
//! their conversions.

use super::*;

/// The largest printf record (built in a per-CPU scratch map, not on the stack).
const MAX_PRINTF_RECORD: usize = 1024;

impl Checker<'_> {
    /// `printf(fmt, args…)`, or a function `name` that formats like it (`system()`).
    pub(super) fn printf(&mut self, e: &Expr, name: &str, args: &[Expr], scope: &mut Scope) -> Type {
        if name == "printf" && matches!(scope.inst.attach, Attach::Iter { .. }) {
            return self.seq_printf(e, args, scope);
        }
        let fmt_expr = &args[0];
        let ExprKind::Str(fmt) = &fmt_expr.kind else {
            self.error(CallError::PrintfFormatLiteral { func: name.to_string(), span: fmt_expr.span });
            return Type::Error;
        };
        let segments = match parse_format(fmt) {
            Ok(s) => s,
            Err(error) => {
                self.error(CallError::Format { error, span: fmt_expr.span });
                return Type::Error;
            }
        };
        let convs: Vec<&FmtSpec> = segments
            .iter()
            .filter_map(|s| match s {
                FmtSegment::Conv { spec, .. } => Some(spec),
                _ => None,
            })
            .collect();
        let values = &args[1..];
        let types: Vec<Type> = values.iter().map(|a| self.expr(a, scope)).collect();
        if convs.len() != values.len() {
            let span = values.first().map_or(fmt_expr.span, |f| f.span.to(values[values.len() - 1].span));
            let (convs, args) = (convs.len(), values.len());
            self.error(CallError::PrintfArgCount { func: name.to_string(), convs, args, format: fmt_expr.span, span });
            return Type::Error;
        }
        let mut fields = Vec::new();
        let mut offset = plan::EVENT_HEADER;
        let mut ok = true;
        for ((spec, value), ty) in convs.iter().zip(values).zip(&types) {
            let kind = match (spec.conv, ty) {
                (_, Type::Error) => {
                    ok = false;
                    continue;
                }
                ('s', Type::Str { len }) => Scalar::Str { len: *len },
                ('s', Type::Ksym) => Scalar::Ksym,
                ('s', Type::Named(t)) => Scalar::Named(*t),
                ('s', Type::Stack(spec)) => Scalar::Stack(*spec),
                ('s', Type::Inet) => Scalar::Inet,
                ('s', Type::ProbeName) => Scalar::ProbeName,
                ('s', Type::Usym) => Scalar::Usym,
                ('s', Type::Timestamp(id)) => Scalar::Timestamp(*id),
                ('r', Type::Buffer) => Scalar::Buf,
                ('s', Type::IntArray(a)) if a.mac => Scalar::IntArray(*a),
                (_, Type::IntArray(a)) if !a.mac => {
                    ok = false;
                    self.error(CallError::PrintfIntArray { array: array_name(*a), span: value.span });
                    continue;
                }
                (_, Type::Tuple(_)) => {
                    ok = false;
                    self.error(CallError::PrintfTuple { span: value.span });
                    continue;
                }
                ('r', t) => {
                    ok = false;
                    self.error(CallError::PrintfBuffer { found: t.describe(), span: value.span });
                    continue;
                }
                ('g', t) if t.is_int() => Scalar::Named(crate::kernel::names::NameTable::Gfp),
                (_, Type::Ksym) => Scalar::Int { signed: false },
                (_, Type::Named(_)) => Scalar::Int { signed: true },
                ('s', Type::Bool) => Scalar::Bool,
                ('s', t) if t.is_int() => self.with_enum(Scalar::Int { signed: t.signed() }, value, scope),
                (c, t) if c != 's' && t.is_int() => Scalar::Int { signed: t.signed() },
                (c, t) => {
                    ok = false;
                    self.error(CallError::PrintfInteger { conv: c, found: t.describe(), span: value.span });
                    continue;
                }
            };
            let size = kind.size().next_multiple_of(8);
            fields.push(ArgField { offset, kind });
            offset += size;
        }
        if !ok {
            return Type::Error;
        }
        if offset > MAX_PRINTF_RECORD {
            let (func, size, max) = (name.to_string(), offset, MAX_PRINTF_RECORD);
            self.error(CallError::PrintfTooLarge { func, size, max, span: e.span });
            return Type::Error;
        }
        self.need(e, Need::Printf(PrintfDef { segments, args: fields, size: offset, warning: false }));
        self.set(scope, e, Type::Void, Res::Printf(0))
    }
}


/// Splits a printf format into literal text and conversions.
pub fn parse_format(fmt: &str) -> Result<Vec<FmtSegment>, FormatError> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = fmt.chars().peekable();
    let mut n = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            lit.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            lit.push('%');
            continue;
        }
        let mut spec = FmtSpec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.left = true,
                '0' => spec.zero = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alt = true,
                _ => break,
            }
            chars.next();
        }
        let digits = |chars: &mut std::iter::Peekable<std::str::Chars>| {
            let mut s = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                s.push(d);
                chars.next();
            }
            s.parse::<usize>().ok()
        };
        spec.width = digits(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(digits(&mut chars).unwrap_or(0));
        }
        let mut modifier = String::new();
        while let Some(&m) = chars.peek().filter(|c| matches!(c, 'l' | 'h' | 'z' | 'j' | 't')) {
            modifier.push(m);
            chars.next();
        }
        spec.int_bits = match modifier.as_str() {
            "" => 32,
            "h" => 16,
            "hh" => 8,
            _ => 64,
        };
        match chars.next() {
            // `%gr`: GFP flags by name (bpftrace 0.26).
            Some('g') if chars.peek() == Some(&'r') => {
                chars.next();
                spec.conv = 'g';
                if !lit.is_empty() {
                    out.push(FmtSegment::Lit(std::mem::take(&mut lit)));
                }
                out.push(FmtSegment::Conv { spec, arg: n });
                n += 1;
            }
            Some(conv @ ('d' | 'i' | 'u' | 'x' | 'X' | 'o' | 's' | 'c' | 'p' | 'r')) => {
                spec.conv = conv;
                if let (Some(&style @ ('x' | 'h')), 'r') = (chars.peek(), conv) {
                    spec.hex = Some(style);
                    chars.next();
                }
                if !lit.is_empty() {
                    out.push(FmtSegment::Lit(std::mem::take(&mut lit)));
                }
                out.push(FmtSegment::Conv { spec, arg: n });
                n += 1;
            }
            Some(other) => return Err(FormatError::UnknownConversion(other)),
            None => return Err(FormatError::Unfinished),
        }
    }
    if !lit.is_empty() {
        out.push(FmtSegment::Lit(lit));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn formats() {
        let s = parse_format("%-16s %5d%%\n").unwrap();
        assert_eq!(s.len(), 4);
        let FmtSegment::Conv { spec, .. } = &s[0] else { panic!() };
        assert!(spec.left);
        assert_eq!(spec.width, Some(16));
        assert_eq!(parse_format("%q").unwrap_err().to_string(), "unknown printf conversion `%q`");
    }
}
