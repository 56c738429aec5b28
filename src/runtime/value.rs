//! Decoded values: what a map entry or an event argument is once read out of its bytes by the
//! plan, before any output format (text, JSON) writes it.

/// One part of a map key.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyPart {
    Int(i64),
    UInt(u64),
    Str(String),
    /// A record key, printed `{ .a = 1, .b = x }`; its fields are the other kinds. It sorts
    /// as its fields would as keys of their own.
    Record(Vec<(String, KeyPart)>),
}

impl KeyPart {
    /// The part as it is printed in `@m[…]`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.write_text(&mut out);
        out
    }

    /// Appends the part as it is printed in `@m[…]` (no allocation for an integer or string).
    pub fn write_text(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            KeyPart::Int(v) => {
                let _ = write!(out, "{v}");
            }
            KeyPart::UInt(v) => {
                let _ = write!(out, "{}", *v as i64);
            }
            KeyPart::Str(s) => out.push_str(s),
            KeyPart::Record(fields) => {
                out.push_str("{ ");
                for (i, (name, part)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, ".{name} = ");
                    part.write_text(out);
                }
                out.push_str(" }");
            }
        }
    }
}

/// A decoded map value (already summed over CPUs by the caller).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// non-aggregate signed int, sum(), min(), max()
    Int(i64),
    /// count(), or a non-aggregate unsigned 64-bit int
    UInt(u64),
    Str(String),
    Avg {
        sum: i64,
        count: u64,
    },
    /// stats(): printed `count C, average A, total T`, laid out and sorted like avg().
    Stats {
        sum: i64,
        count: u64,
    },
    /// log2 histogram with 2^k buckets per power of two (see `plan::hist_buckets`); with
    /// k = 0, index 0 = negative values, 1 = value 0, i >= 2 = [2^(i-2), 2^(i-1)).
    Hist { buckets: Vec<u64>, k: u8 },
    /// linear histogram: index 0 = below min, 1..=n = [min+step*(i-1), min+step*i), last = >= max
    Lhist {
        buckets: Vec<u64>,
        min: i64,
        max: i64,
        step: i64,
    },
    /// `tseries()`: each interval's start and value (bpftrace 0.26's graph).
    TSeries(super::tseries::Series),
    /// A tuple, printed `(1, x)`; its elements are Int, UInt, Str or Tuple.
    Tuple(Vec<Value>),
    /// A record, printed `{ .a = 1, .b = x }`.
    Record(Vec<(String, Value)>),
    /// An array of integers, printed `[1,2,3]` (no spaces, as bpftrace prints arrays).
    Array(Vec<Value>),
    /// A `bool` in bpftrace 0.26's output, printed `true`/`false` (0.17's output decodes a
    /// bool as `UInt` 1/0).
    Bool(bool),
    /// A pointer in bpftrace 0.26's output, printed in hex (`0x10`); JSON writes the number
    /// (0.17's output decodes it as `UInt`).
    Ptr(u64),
    /// A struct member of a named enum type, printed as its enumerator's name (or the number
    /// when none has it); JSON writes the number, as bpftrace 0.26 does.
    Enum { name: String, value: u64 },
}

/// One map entry: its key (empty for a scalar map such as `@` or `@x`) and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Vec<KeyPart>,
    pub value: Value,
}

/// avg() result: sum / count, truncated toward zero; 0 when count is 0.
pub fn average(value: &Value) -> i64 {
    match value {
        Value::Avg { sum, count } | Value::Stats { sum, count } => {
            let count = *count as i64;
            if count == 0 {
                0
            } else {
                sum.wrapping_div(count)
            }
        }
        _ => 0,
    }
}

/// Appends the text of a one-line value (`scalar_value_text`), without an allocation for an
/// integer or a string.
pub fn write_scalar_value(out: &mut String, value: &Value) {
    use std::fmt::Write;
    let _ = match value {
        Value::Int(v) => write!(out, "{v}"),
        Value::UInt(v) => write!(out, "{v}"),
        Value::Str(s) => out.write_str(s),
        Value::Bool(b) => out.write_str(bool_text(*b)),
        Value::Ptr(p) => write!(out, "{p:#x}"),
        other => out.write_str(&scalar_value_text(other)),
    };
}

/// The text of a one-line value: after `@name[key]: `, or from `print(value)`.
pub fn scalar_value_text(value: &Value) -> String {
    match value {
        Value::Tuple(elems) => format!("({})", elems.iter().map(scalar_value_text).collect::<Vec<_>>().join(", ")),
        Value::Record(fields) if fields.is_empty() => "{}".to_string(),
        Value::Record(fields) => {
            let parts: Vec<String> = fields.iter().map(|(n, v)| format!(".{n} = {}", scalar_value_text(v))).collect();
            format!("{{ {} }}", parts.join(", "))
        }
        Value::Array(elems) => format!("[{}]", elems.iter().map(scalar_value_text).collect::<Vec<_>>().join(",")),
        Value::Int(v) => v.to_string(),
        Value::UInt(v) => v.to_string(),
        Value::Str(s) => s.clone(),
        Value::Bool(b) => bool_text(*b).to_string(),
        Value::Ptr(p) => format!("{p:#x}"),
        Value::Enum { name, .. } => name.clone(),
        Value::Avg { .. } => average(value).to_string(),
        Value::Stats { sum, count } => format!("count {count}, average {}, total {sum}", average(value)),
        Value::Hist { .. } | Value::Lhist { .. } | Value::TSeries(_) => String::new(),
    }
}

/// A bool as bpftrace 0.26 prints it.
pub fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// Bounds `[low, high]` of bucket `index` (> 0) of a `hist(n, k)`, for JSON.
pub fn hist_bounds(index: usize, k: u8) -> (i64, i64) {
    if index <= 2 << k {
        return (index as i64 - 1, index as i64 - 1);
    }
    let start = |i: usize| -> i128 {
        let n = 1usize << k;
        let power = ((i >> k) - 1) as u32;
        (1i128 << power) * (n + (i & (n - 1))) as i128
    };
    (start(index - 1) as i64, (start(index) - 1) as i64)
}
