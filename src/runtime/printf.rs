//! `printf` records to text, with C's flags, widths and precisions.

use super::format::Value;
use super::symbols::{self, Symbols};
use crate::plan::{ArgKind, FmtSegment, FmtSpec, PrintfDef, TupleDef};

/// Formats one printf record (header included) by its plan entry.
pub fn format(def: &PrintfDef, record: &[u8], tuples: &[TupleDef], symbols: &mut Symbols) -> String {
    let mut out = String::new();
    for seg in &def.segments {
        match seg {
            FmtSegment::Lit(s) => out.push_str(s),
            FmtSegment::Conv { spec, arg } => {
                let Some(field) = def.args.get(*arg) else { continue };
                let bytes = record.get(field.offset..field.offset + field.kind.size()).unwrap_or(&[]);
                let arg = match decode(field.kind, bytes, tuples, symbols) {
                    Value::Int(v) => Arg::Int { bits: v as u64, signed: true },
                    Value::UInt(v) => Arg::Int { bits: v, signed: false },
                    Value::Str(s) => Arg::Str(s),
                    other => Arg::Str(super::format::scalar_value_text(&other)),
                };
                out.push_str(&conversion(spec, &arg));
            }
        }
    }
    out
}

/// A value of `kind` from its bytes (a printf argument, a map value, a tuple element).
pub(crate) fn decode(kind: ArgKind, bytes: &[u8], tuples: &[TupleDef], symbols: &mut Symbols) -> Value {
    match kind {
        ArgKind::Int { signed: true } => Value::Int(read_u64(bytes) as i64),
        ArgKind::Int { signed: false } => Value::UInt(read_u64(bytes)),
        ArgKind::Str { .. } => Value::Str(c_string(bytes)),
        ArgKind::Ksym => Value::Str(symbols.kernel(read_u64(bytes))),
        ArgKind::Enum { id } => match symbols.enums.get(id as usize) {
            Some(def) => Value::Str(def.text(read_u64(bytes))),
            None => Value::UInt(read_u64(bytes)),
        },
        ArgKind::Stack(spec) => Value::Str(symbols.stack(spec, bytes, symbols::VALUE_INDENT)),
        ArgKind::Timestamp(fmt) => Value::Str(symbols.timestamp(fmt, read_u64(bytes))),
        ArgKind::IntArray(a) => Value::Array(
            a.elements(bytes).into_iter().map(|v| if a.signed { Value::Int(v as i64) } else { Value::UInt(v) }).collect(),
        ),
        ArgKind::Inet => Value::Str(inet(bytes)),
        ArgKind::ProbeName => Value::Str(symbols.probe(read_u64(bytes))),
        ArgKind::Usym => Value::Str(symbols.user(read_u64(bytes), read_u64(bytes.get(8..).unwrap_or(&[])))),
        ArgKind::Buf => {
            let n = (read_u64(bytes) as usize).min(bytes.len().saturating_sub(8));
            Value::Str(escape_buffer(&bytes[8..8 + n]))
        }
        ArgKind::Tuple { id, .. } => {
            let Some(def) = tuples.get(id as usize) else { return Value::Tuple(Vec::new()) };
            let elems = def.fields.iter().map(|f| {
                let part = bytes.get(f.offset..f.offset + f.kind.size()).unwrap_or(&[]);
                decode(f.kind, part, tuples, symbols)
            });
            match &def.names {
                Some(names) => Value::Record(names.iter().cloned().zip(elems).collect()),
                None => Value::Tuple(elems.collect()),
            }
        }
    }
}

pub(crate) fn read_u64(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(b)
}

/// A wall-clock time (nanoseconds since the epoch) in local time, formatted by strftime(3),
/// with bpftrace's `%f` for the microseconds.
pub(crate) fn strftime(fmt: &str, wall_ns: u64) -> String {
    // `%f` is replaced before strftime sees the format (`%%f` stays `%%f`).
    let mut expanded = String::with_capacity(fmt.len());
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            expanded.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => expanded.push_str(&format!("{:06}", wall_ns % 1_000_000_000 / 1000)),
            Some(next) => {
                expanded.push('%');
                expanded.push(next);
            }
            None => expanded.push('%'),
        }
    }
    let Ok(cfmt) = std::ffi::CString::new(expanded.as_str()) else { return String::new() };
    let mut buf = vec![0u8; 256 + expanded.len() * 4];
    let secs = (wall_ns / 1_000_000_000) as libc::time_t;
    // SAFETY: localtime_r writes only into the tm we own; strftime writes at most `buf.len()`
    // bytes into `buf` and returns how many it wrote.
    let n = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm)
    };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// `%r`: printable ASCII as it is, every other byte as `\xNN`, as bpftrace prints buffers.
fn escape_buffer(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| if (0x20..0x7f).contains(&b) { (b as char).to_string() } else { format!("\\x{b:02x}") })
        .collect()
}

/// An `ntop()` value as text: `{ u64 family; u8 addr[16]; }`.
pub(crate) fn inet(bytes: &[u8]) -> String {
    let family = read_u64(bytes);
    let addr = bytes.get(8..24).unwrap_or(&[]);
    match (family, addr.len()) {
        (2, 16) => std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
        (10, 16) => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(addr);
            std::net::Ipv6Addr::from(octets).to_string()
        }
        _ => String::new(),
    }
}

/// The text of a NUL-padded buffer, up to its first NUL.
pub(crate) fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

enum Arg {
    Int { bits: u64, signed: bool },
    Str(String),
}

fn conversion(spec: &FmtSpec, arg: &Arg) -> String {
    let body = match (spec.conv, arg) {
        ('s', Arg::Str(s)) => match spec.precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.clone(),
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
        (_, Arg::Str(s)) => s.clone(),
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
    fn strftime_microseconds() {
        assert_eq!(strftime("%f", 1_234_567_890), "234567");
        assert_eq!(strftime("%f|%%f|%", 5_000_001_000), "000001|%f|%");
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
        assert_eq!(conversion(&spec("%-8s"), &Arg::Str("cat".into())), "cat     ");
        assert_eq!(conversion(&spec("%.2s"), &Arg::Str("cat".into())), "ca");
        assert_eq!(conversion(&spec("%c"), &i(65)), "A");
        assert_eq!(conversion(&spec("%p"), &i(4096)), "0x1000");
        assert_eq!(conversion(&spec("%p"), &i(0)), "(nil)");
    }
}
