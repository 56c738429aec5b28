//! `-f json`: one JSON object a line, `{"type": …, "data": …}`, laid out as bpftrace writes
//! them (a space after every `:` and `,`, except between an array's elements; 0.17 spaces
//! the buckets of a histogram too). bpftrace 0.26 (the default) also writes bools as
//! `true`/`false`, integers a double cannot hold exactly as strings, a `count` in
//! `attached_probes` and `lost_events`, `syscall` for `system()`'s output, and keys with every
//! blank removed.

use super::{Output, Sink};
use crate::plan::{MapDef, PrintfDef};
use crate::runtime::layout::{MapKind, MapView};
use crate::runtime::value::{self, KeyPart, Value};
use crate::runtime::Compat;
use serde_json::{json, Map, Value as Json};
use std::io;

/// `-f json`: everything as JSON lines in the output, lost events and the attached probes
/// included.
pub struct JsonOutput {
    pub sink: Sink,
    /// Which bpftrace's JSON this is.
    pub compat: Compat,
}

impl Output for JsonOutput {
    fn sink(&mut self) -> &mut Sink {
        &mut self.sink
    }

    fn event(&mut self, kind: &str, text: &str) -> io::Result<()> {
        let kind = if kind == "system" && !self.compat.old() { "syscall" } else { kind };
        self.sink.write(&line(kind, Json::String(text.to_string()), self.compat))
    }

    fn message(&mut self, text: &str) -> io::Result<()> {
        match message_json(text) {
            Some(line) if !self.compat.old() => self.sink.write(&line),
            _ => {
                self.sink.flush()?;
                eprint!("{text}");
                Ok(())
            }
        }
    }

    fn value(&mut self, _def: &PrintfDef, args: &[Value]) -> io::Result<()> {
        match args.first() {
            Some(value) => self.sink.write(&line("value", value_json(value, self.compat), self.compat)),
            None => Ok(()),
        }
    }

    fn map(&mut self, map: &MapView) -> io::Result<()> {
        self.sink.write(&map_line(map, self.compat))
    }

    fn lost(&mut self, n: u64) -> io::Result<()> {
        self.sink.write(&counted_line("lost_events", "events", n, self.compat))
    }

    fn map_full(&mut self, map: &MapDef, dropped: u64) -> io::Result<()> {
        let data = json!({ "map": map.name, "max_entries": map.max_entries, "dropped": dropped });
        self.sink.write(&line("map_full", data, self.compat))
    }

    fn end(&mut self) -> io::Result<()> {
        if self.compat.old() {
            self.sink.write("\n\n")?;
        }
        Ok(())
    }

    fn test_result(&mut self, run: &super::TestRun, index: usize) -> io::Result<()> {
        let (name, passed) = (&run.names[index], run.passed[index]);
        let duration = run.durations[index].as_nanos() as u64;
        let result = json!({ "duration": duration, "passed": passed, "output": run.outputs[index] });
        self.sink.write(&line("test_result", json!({ name: result }), self.compat))
    }

    fn bench_result(&mut self, names: &[String], index: usize, average_ns: u64, iterations: u64) -> io::Result<()> {
        self.sink.write(&line("benchmark_result", json!({ &names[index]: { "average": average_ns, "iters": iterations } }), self.compat))
    }

    fn attached(&mut self, probes: usize) -> io::Result<()> {
        self.sink.write(&counted_line("attached_probes", "probes", probes as u64, self.compat))?;
        self.sink.flush()
    }
}

/// One output line: `{"type": kind, "data": data}` and a newline.
fn line(kind: &str, data: Json, compat: Compat) -> String {
    let mut out = String::new();
    write(&mut out, &json!({"type": kind, "data": data}), compat);
    out.push('\n');
    out
}

/// bpftrace 0.26's JSON line of an `errorf()`/`warnf()` message (src/output/json.cpp):
/// `{"type": "errorf", "msg": …, "filename": …, "line": N, "col": N}` (`warnf` for a warning;
/// the column is where the call starts). `None` for text not laid out as rtrace's messages are.
fn message_json(text: &str) -> Option<String> {
    let (at, kind, len) = [(": ERROR: ", "errorf"), (": WARNING: ", "warnf")]
        .into_iter()
        .filter_map(|(marker, kind)| text.find(marker).map(|at| (at, kind, marker.len())))
        .min_by_key(|(at, ..)| *at)?;
    let msg = text[at + len..].strip_suffix('\n').unwrap_or(&text[at + len..]);
    let mut place = text[..at].rsplitn(3, ':');
    let col: u64 = place.next()?.split('-').next()?.parse().ok()?;
    let line: u64 = place.next()?.parse().ok()?;
    let filename = place.next()?;
    let mut out = String::new();
    let data = json!({"type": kind, "msg": msg, "filename": filename, "line": line, "col": col});
    write(&mut out, &data, Compat::V026);
    out.push('\n');
    Some(out)
}

/// `{"type": kind, "data": {field: n}}`, with `"count": n` before the data in 0.26's JSON.
fn counted_line(kind: &str, field: &str, n: u64, compat: Compat) -> String {
    match compat {
        Compat::V017 => line(kind, json!({ field: n }), compat),
        Compat::V026 => format!("{{\"type\": \"{kind}\", \"count\": {n}, \"data\": {{\"{field}\": {n}}}}}\n"),
    }
}

/// JSON with bpftrace's spacing: `", "` and `": "` in objects, but a bare `","` in arrays
/// (tuples, written `[1,"x"]`), except 0.17's arrays of objects (histogram buckets).
fn write(out: &mut String, v: &Json, compat: Compat) {
    match v {
        Json::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Json::String(k.clone()).to_string());
                out.push_str(": ");
                write(out, v, compat);
            }
            out.push('}');
        }
        Json::Array(items) => {
            let sep = if compat.old() && items.iter().any(Json::is_object) { ", " } else { "," };
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                write(out, item, compat);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A map key as a JSON object key: the parts joined by `,`, a record written as its text
/// without the blanks around its punctuation, `{.a=1,.b=x}` (newer bpftrace writes a key's
/// text with every blank removed, strings' own included; rtrace keeps those, as it does in
/// tuple keys in 0.17's JSON; 0.26's removes them).
fn key_text(key: &[KeyPart], compat: Compat) -> String {
    if !compat.old() {
        let text: Vec<String> = key.iter().map(KeyPart::text).collect();
        return text.join(",").replace(' ', "");
    }
    key.iter()
        .map(|k| match k {
            KeyPart::Record(fields) => {
                let parts: Vec<String> = fields.iter().map(|(n, p)| format!(".{n}={}", key_text(std::slice::from_ref(p), compat))).collect();
                format!("{{{}}}", parts.join(","))
            }
            k => k.text(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The buckets from the first to the last non-empty one, each with its bounds. A bucket open
/// at one end has no bound there: `{"max": -1, "count": 2}` (below 0, or below an lhist's
/// min), `{"min": 100, "count": 1}` (an lhist's max and above), as bpftrace writes them.
fn buckets(value: &Value, compat: Compat) -> Json {
    type Bounds = Box<dyn Fn(usize) -> (Option<i64>, Option<i64>)>;
    let (counts, bounds): (&[u64], Bounds) = match value {
        Value::Hist { buckets, k } => {
            let k = *k;
            (
                buckets,
                Box::new(move |i| match i {
                    0 => (None, Some(-1)),
                    i => {
                        let (lo, hi) = value::hist_bounds(i, k);
                        (Some(lo), Some(hi))
                    }
                }),
            )
        }
        Value::Lhist { buckets, min, max, step } => {
            let (min, max, step, n) = (*min, *max, *step, buckets.len());
            (
                buckets,
                Box::new(move |i| match i {
                    0 => (None, Some(min - 1)),
                    i if i == n - 1 => (Some(max), None),
                    i => (Some(min + step * (i as i64 - 1)), Some(min + step * i as i64 - 1)),
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
            let mut bucket = Map::new();
            let (lo, hi) = bounds(i);
            if let Some(lo) = lo {
                bucket.insert("min".into(), int(lo, compat));
            }
            if let Some(hi) = hi {
                bucket.insert("max".into(), int(hi, compat));
            }
            bucket.insert("count".into(), json!(counts[i]));
            Json::Object(bucket)
        })
        .collect()
}

/// An integer: a number, or in 0.26's JSON a string when a double cannot hold it exactly
/// (bpftrace's rule, after RFC 8259).
fn int(v: impl Into<i128>, compat: Compat) -> Json {
    let v: i128 = v.into();
    if !compat.old() && (v as f64) as i128 != v {
        return Json::String(v.to_string());
    }
    match (i64::try_from(v), u64::try_from(v)) {
        (Ok(v), _) => json!(v),
        (_, Ok(v)) => json!(v),
        _ => Json::String(v.to_string()),
    }
}

fn value_json(value: &Value, compat: Compat) -> Json {
    match value {
        Value::Int(v) => int(*v, compat),
        Value::UInt(v) => int(*v, compat),
        Value::Str(s) => json!(s),
        Value::Bool(b) => json!(b),
        Value::Ptr(p) | Value::Enum { value: p, .. } => int(*p, compat),
        Value::Avg { .. } => int(value::average(value), compat),
        Value::Stats { sum, count } => {
            json!({"count": int(*count, compat), "average": int(value::average(value), compat), "total": int(*sum, compat)})
        }
        Value::Hist { .. } | Value::Lhist { .. } => buckets(value, compat),
        Value::Tuple(elems) | Value::Array(elems) => elems.iter().map(|v| value_json(v, compat)).collect(),
        Value::Record(fields) => Json::Object(fields.iter().map(|(n, v)| (n.clone(), value_json(v, compat))).collect()),
        Value::TSeries(_) => Json::Null,
    }
}

/// One map at exit (or for `print`): its line, or nothing for an empty map.
fn map_line(map: &MapView, compat: Compat) -> String {
    let Some(first) = map.entries.first() else { return String::new() };
    let kind = match map.kind {
        MapKind::Hist => "hist",
        MapKind::Avg => "stats",
        MapKind::Plain => "map",
        MapKind::TSeries => return tseries_line(map),
    };
    let data = if first.key.is_empty() {
        value_json(&first.value, compat)
    } else {
        let mut obj = Map::new();
        for e in &map.entries {
            obj.insert(key_text(&e.key, compat), value_json(&e.value, compat));
        }
        Json::Object(obj)
    };
    line(kind, json!({ map.name: data }), compat)
}

/// A `tseries()` map as bpftrace 0.26 writes it: each series a compact array of
/// `{"interval_start":"DATE TIME","value":V}` (UTC, nanoseconds), gaps left out.
fn tseries_line(map: &MapView) -> String {
    let series = |v: &Value| match v {
        Value::TSeries(s) => crate::runtime::tseries::json(s),
        _ => "[]".to_string(),
    };
    let name = Json::String(map.name.to_string()).to_string();
    let data = match map.entries.as_slice() {
        [only] if only.key.is_empty() => series(&only.value),
        entries => {
            let parts: Vec<String> =
                entries.iter().map(|e| format!("{}: {}", Json::String(key_text(&e.key, Compat::V026)), series(&e.value))).collect();
            format!("{{{}}}", parts.join(", "))
        }
    };
    format!("{{\"type\": \"tseries\", \"data\": {{{name}: {data}}}}}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::value::Entry;

    /// A map laid out as at exit, as its JSON line.
    fn map(name: &str, entries: Vec<Entry>) -> String {
        let kind = match entries.first().map(|e| &e.value) {
            Some(Value::Hist { .. }) => MapKind::Hist,
            Some(Value::Stats { .. }) => MapKind::Avg,
            _ => MapKind::Plain,
        };
        map_line(&crate::runtime::layout::arrange(name, kind, entries, 0, 0), Compat::V017)
    }

    /// bpftrace 0.26's src/output/json.cpp: the message without its place, then the place's
    /// file, line and first column.
    #[test]
    fn messages_as_026_writes_them() {
        assert_eq!(
            message_json("stdin:1:9-26: ERROR: x 1\n").unwrap(),
            "{\"type\": \"errorf\", \"msg\": \"x 1\", \"filename\": \"stdin\", \"line\": 1, \"col\": 9}\n"
        );
        assert_eq!(
            message_json("a:b.bt:12:3-9: WARNING: w: ERROR: \n").unwrap(),
            "{\"type\": \"warnf\", \"msg\": \"w: ERROR: \", \"filename\": \"a:b.bt\", \"line\": 12, \"col\": 3}\n"
        );
        assert_eq!(message_json("no place"), None);
    }

    /// Expected lines are bpftrace 0.17's output for the same values.
    #[test]
    fn like_bpftrace() {
        assert_eq!(line("printf", json!("hi 5\n"), Compat::V017), "{\"type\": \"printf\", \"data\": \"hi 5\\n\"}\n");
        let mut h = vec![0u64; 66];
        h[3] = 1;
        h[8] = 1;
        assert_eq!(
            map("@h", vec![Entry { key: vec![], value: Value::Hist { buckets: h, k: 0 } }]),
            "{\"type\": \"hist\", \"data\": {\"@h\": [{\"min\": 2, \"max\": 3, \"count\": 1}, {\"min\": 4, \"max\": 7, \"count\": 0}, {\"min\": 8, \"max\": 15, \"count\": 0}, {\"min\": 16, \"max\": 31, \"count\": 0}, {\"min\": 32, \"max\": 63, \"count\": 0}, {\"min\": 64, \"max\": 127, \"count\": 1}]}}\n"
        );
        let m = vec![Entry { key: vec![KeyPart::Str("x".into()), KeyPart::Int(2)], value: Value::Int(3) }];
        assert_eq!(map("@m", m), "{\"type\": \"map\", \"data\": {\"@m\": {\"x,2\": 3}}}\n");
        let r = vec![Entry { key: vec![KeyPart::Record(vec![("s".into(), KeyPart::Str("a b".into())), ("n".into(), KeyPart::Int(1))])], value: Value::Int(3) }];
        assert_eq!(map("@r", r), "{\"type\": \"map\", \"data\": {\"@r\": {\"{.s=a b,.n=1}\": 3}}}\n");
        let t = vec![Entry { key: vec![KeyPart::Str("k".into())], value: Value::Tuple(vec![Value::Str("a\"b".into()), Value::Tuple(vec![Value::Int(-1), Value::UInt(2)])]) }];
        assert_eq!(map("@t", t), "{\"type\": \"map\", \"data\": {\"@t\": {\"k\": [\"a\\\"b\",[-1,2]]}}}\n");
        let st = vec![Entry { key: vec![], value: Value::Stats { sum: 3, count: 1 } }];
        assert_eq!(map("@st", st), "{\"type\": \"stats\", \"data\": {\"@st\": {\"count\": 1, \"average\": 3, \"total\": 3}}}\n");
    }

    /// bpftrace 0.26's JSON (read from v0.26.0's src/output/json.cpp, not measured).
    #[test]
    fn v026() {
        let v = Compat::V026;
        assert_eq!(counted_line("attached_probes", "probes", 3, v), "{\"type\": \"attached_probes\", \"count\": 3, \"data\": {\"probes\": 3}}\n");
        assert_eq!(int(1u64 << 53, v), json!(1u64 << 53));
        assert_eq!(int((1u64 << 53) + 1, v), json!("9007199254740993"));
        assert_eq!(int(u64::MAX, v), json!("18446744073709551615"));
        assert_eq!(int(i64::MIN, v), json!(i64::MIN));
        assert_eq!(int(u64::MAX, Compat::V017), json!(u64::MAX));
        assert_eq!(key_text(&[KeyPart::Str("a b".into()), KeyPart::Int(1)], v), "ab,1");
        let mut h = vec![0u64; 8];
        h[3] = 1;
        h[4] = 1;
        let view = crate::runtime::layout::arrange("@h", MapKind::Hist, vec![Entry { key: vec![], value: Value::Hist { buckets: h, k: 0 } }], 0, 0);
        assert_eq!(map_line(&view, v), "{\"type\": \"hist\", \"data\": {\"@h\": [{\"min\": 2, \"max\": 3, \"count\": 1},{\"min\": 4, \"max\": 7, \"count\": 1}]}}\n");
        let b = vec![Entry { key: vec![], value: Value::Tuple(vec![Value::Bool(true), Value::Str("x".into())]) }];
        assert_eq!(map_line(&crate::runtime::layout::arrange("@t", MapKind::Plain, b, 0, 0), v), "{\"type\": \"map\", \"data\": {\"@t\": [true,\"x\"]}}\n");
    }
}
