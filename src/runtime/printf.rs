//! `printf` records to text, with C's flags, widths and precisions.

use super::value::{self, Value};
use crate::plan::{FmtSegment, FmtSpec, PrintfDef};

/// Formats a printf's arguments (decoded from its record) by its plan entry.
pub fn format(def: &PrintfDef, args: &[Value]) -> String {
    let mut out = String::new();
    for seg in &def.segments {
        match seg {
            FmtSegment::Lit(s) => out.push_str(s),
            FmtSegment::Conv { spec, arg } => {
                let Some(value) = args.get(*arg) else { continue };
                let text;
                let arg = match value {
                    Value::Int(v) => Arg::Int { bits: *v as u64, signed: true },
                    Value::UInt(v) => Arg::Int { bits: *v, signed: false },
                    // `%d` of a bool prints 1 or 0, `%s` (and `print()`) `true` or `false`.
                    Value::Bool(b) if spec.conv != 's' => Arg::Int { bits: u64::from(*b), signed: false },
                    Value::Ptr(p) if spec.conv != 's' => Arg::Int { bits: *p, signed: false },
                    Value::Str(s) => Arg::Str(s),
                    other => {
                        text = value::scalar_value_text(other);
                        Arg::Str(&text)
                    }
                };
                out.push_str(&conversion(spec, &arg));
            }
        }
    }
    out
}

enum Arg<'a> {
    Int { bits: u64, signed: bool },
    Str(&'a str),
}

fn conversion(spec: &FmtSpec, arg: &Arg) -> String {
    let body = match (spec.conv, arg) {
        ('s', Arg::Str(s)) => match spec.precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.to_string(),
        },
        ('s', Arg::Int { bits, signed }) => {
            if *signed {
                (*bits as i64).to_string()
            } else {
                bits.to_string()
            }
        }
        ('c', Arg::Int { bits, .. }) => char::from(*bits as u8).to_string(),
        // glibc prints a null pointer as `(nil)`.
        ('p', Arg::Int { bits: 0, .. }) => "(nil)".to_string(),
        (_, Arg::Str(s)) => s.to_string(),
        (conv, Arg::Int { bits, .. }) => {
            // C converts the argument to the type the length modifier names.
            let width = if conv == 'p' { 64 } else { spec.int_bits.clamp(8, 64) as u32 };
            let shift = 64 - width;
            let unsigned = (*bits << shift) >> shift;
            let bits = &unsigned;
            let (sign, digits) = match conv {
                'd' | 'i' => {
                    let v = ((*bits << shift) as i64) >> shift;
                    let sign = if v < 0 {
                        "-"
                    } else if spec.plus {
                        "+"
                    } else if spec.space {
                        " "
                    } else {
                        ""
                    };
                    (sign, v.unsigned_abs().to_string())
                }
                'u' => ("", bits.to_string()),
                'x' => (if spec.alt && *bits != 0 { "0x" } else { "" }, format!("{bits:x}")),
                'X' => (if spec.alt && *bits != 0 { "0X" } else { "" }, format!("{bits:X}")),
                'o' => (if spec.alt { "0" } else { "" }, format!("{bits:o}")),
                'p' => ("0x", format!("{bits:x}")),
                _ => ("", bits.to_string()),
            };
            let digits = match spec.precision {
                Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
                _ => digits,
            };
            if spec.zero && !spec.left && spec.precision.is_none() {
                let width = spec.width.unwrap_or(0);
                let pad = width.saturating_sub(sign.len() + digits.len());
                return format!("{sign}{}{digits}", "0".repeat(pad));
            }
            format!("{sign}{digits}")
        }
    };
    pad(&body, spec)
}

fn pad(body: &str, spec: &FmtSpec) -> String {
    let width = spec.width.unwrap_or(0);
    let len = body.chars().count();
    if len >= width {
        return body.to_string();
    }
    let fill = " ".repeat(width - len);
    if spec.left {
        format!("{body}{fill}")
    } else {
        format!("{fill}{body}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spec from a tiny subset of printf syntax: flags `-0#`, width, `.precision`, conv.
    fn spec(s: &str) -> FmtSpec {
        let mut sp = FmtSpec { int_bits: if s.contains('l') { 64 } else { 32 }, ..FmtSpec::default() };
        let body = s.trim_start_matches('%');
        let mut rest = body;
        while let Some(c) = rest.chars().next().filter(|c| "-0#".contains(*c)) {
            match c {
                '-' => sp.left = true,
                '0' => sp.zero = true,
                _ => sp.alt = true,
            }
            rest = &rest[1..];
        }
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        sp.width = digits.parse().ok();
        rest = &rest[digits.len()..];
        if let Some(r) = rest.strip_prefix('.') {
            let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
            sp.precision = digits.parse().ok();
            rest = &r[digits.len()..];
        }
        sp.conv = rest.trim_start_matches('l').chars().next().unwrap();
        sp
    }

    #[test]
    fn like_c() {
        let i = |v: i64| Arg::Int { bits: v as u64, signed: true };
        assert_eq!(conversion(&spec("%5d"), &i(42)), "   42");
        assert_eq!(conversion(&spec("%-5d"), &i(42)), "42   ");
        assert_eq!(conversion(&spec("%05d"), &i(-42)), "-0042");
        assert_eq!(conversion(&spec("%x"), &i(255)), "ff");
        assert_eq!(conversion(&spec("%#x"), &i(255)), "0xff");
        assert_eq!(conversion(&spec("%llu"), &i(-1)), "18446744073709551615");
        assert_eq!(conversion(&spec("%-8s"), &Arg::Str("cat")), "cat     ");
        assert_eq!(conversion(&spec("%.2s"), &Arg::Str("cat")), "ca");
        assert_eq!(conversion(&spec("%c"), &i(65)), "A");
        assert_eq!(conversion(&spec("%p"), &i(4096)), "0x1000");
        assert_eq!(conversion(&spec("%p"), &i(0)), "(nil)");
    }
}
