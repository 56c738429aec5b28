//! `-f json`: one JSON object a line, `{"type": …, "data": …}`, laid out as bpftrace 0.17
//! writes them (a space after every `:` and `,`).

use super::format::{self, Entry, KeyPart, Value};
use serde_json::{json, Map, Value as Json};
use std::io;

/// serde_json's compact output with bpftrace's spacing.
struct Spaced;

impl serde_json::ser::Formatter for Spaced {
    fn begin_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
}

/// One output line: `{"type": kind, "data": data}` and a newline.
pub fn line(kind: &str, data: Json) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Spaced);
    // Serialising a serde_json::Value into memory cannot fail.
    let _ = serde::Serialize::serialize(&json!({"type": kind, "data": data}), &mut ser);
    out.push(b'\n');
    String::from_utf8_lossy(&out).into_owned()
}

fn key_text(key: &[KeyPart]) -> String {
    key.iter()
        .map(|k| match k {
            KeyPart::Int(v) => v.to_string(),
            KeyPart::UInt(v) => (*v as i64).to_string(),
            KeyPart::Str(s) => s.clone(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The buckets from the first to the last non-empty one, each with its bounds.
fn buckets(value: &Value) -> Json {
    let (counts, bounds): (&[u64], Box<dyn Fn(usize) -> (i64, i64)>) = match value {
        Value::Hist(b) => (
            b,
            Box::new(|i| match i {
                0 => (i64::MIN, -1),
                1 => (0, 0),
                k => (1i64 << (k - 2), (1i64 << (k - 1)).wrapping_sub(1)),
            }),
        ),
        Value::Lhist { buckets, min, max, step } => {
            let (min, max, step, n) = (*min, *max, *step, buckets.len());
            (
                buckets,
                Box::new(move |i| match i {
                    0 => (i64::MIN, min - 1),
                    i if i == n - 1 => (max, i64::MAX),
                    i => (min + step * (i as i64 - 1), min + step * i as i64 - 1),
                }),
            )
        }
        _ => return Json::Null,
    };
    let first = counts.iter().position(|&c| c > 0);
    let last = counts.iter().rposition(|&c| c > 0);
    let (Some(first), Some(last)) = (first, last) else { return json!([]) };
    (first..=last)
        .map(|i| {
            let (lo, hi) = bounds(i);
            json!({"min": lo, "max": hi, "count": counts[i]})
        })
        .collect()
}

fn value_json(value: &Value) -> Json {
    match value {
        Value::Int(v) => json!(v),
        Value::UInt(v) => json!(v),
        Value::Str(s) => json!(s),
        Value::Avg { .. } => json!(format::average(value)),
        Value::Stats { sum, count } => json!({"count": count, "average": format::average(value), "total": sum}),
        Value::Hist(_) | Value::Lhist { .. } => buckets(value),
    }
}

/// One map at exit (or for `print`): its line, or nothing for an empty map.
pub fn map(name: &str, entries: Vec<Entry>) -> String {
    let Some(first) = entries.first() else { return String::new() };
    let kind = match first.value {
        Value::Hist(_) | Value::Lhist { .. } => "hist",
        Value::Avg { .. } | Value::Stats { .. } => "stats",
        _ => "map",
    };
    let scalar = first.key.is_empty();
    let entries = format::sort_entries(first.value.map_kind(), entries);
    let data = if scalar {
        value_json(&entries[0].value)
    } else {
        let mut obj = Map::new();
        for e in &entries {
            obj.insert(key_text(&e.key), value_json(&e.value));
        }
        Json::Object(obj)
    };
    line(kind, json!({ name: data }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected lines are bpftrace 0.17's output for the same values.
    #[test]
    fn like_bpftrace() {
        assert_eq!(line("printf", json!("hi 5\n")), "{\"type\": \"printf\", \"data\": \"hi 5\\n\"}\n");
        let mut h = vec![0u64; 66];
        h[3] = 1;
        h[8] = 1;
        assert_eq!(
            map("@h", vec![Entry { key: vec![], value: Value::Hist(h) }]),
            "{\"type\": \"hist\", \"data\": {\"@h\": [{\"min\": 2, \"max\": 3, \"count\": 1}, {\"min\": 4, \"max\": 7, \"count\": 0}, {\"min\": 8, \"max\": 15, \"count\": 0}, {\"min\": 16, \"max\": 31, \"count\": 0}, {\"min\": 32, \"max\": 63, \"count\": 0}, {\"min\": 64, \"max\": 127, \"count\": 1}]}}\n"
        );
        let m = vec![Entry { key: vec![KeyPart::Str("x".into()), KeyPart::Int(2)], value: Value::Int(3) }];
        assert_eq!(map("@m", m), "{\"type\": \"map\", \"data\": {\"@m\": {\"x,2\": 3}}}\n");
        let st = vec![Entry { key: vec![], value: Value::Stats { sum: 3, count: 1 } }];
        assert_eq!(map("@st", st), "{\"type\": \"stats\", \"data\": {\"@st\": {\"count\": 1, \"average\": 3, \"total\": 3}}}\n");
    }
}
