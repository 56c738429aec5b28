//! `-f json`: one JSON object a line, `{"type": …, "data": …}`, laid out as bpftrace 0.17
//! writes them (a space after every `:` and `,`, except between a tuple's elements).

use super::{Output, Sink};
use crate::plan::{MapDef, PrintfDef};
use crate::runtime::layout::{MapKind, MapView};
use crate::runtime::value::{self, KeyPart, Value};
use serde_json::{json, Map, Value as Json};
use std::io;

/// `-f json`: everything as JSON lines in the output, lost events and the attached probes
/// included.
pub struct JsonOutput {
    pub sink: Sink,
}

impl Output for JsonOutput {
    fn sink(&mut self) -> &mut Sink {
        &mut self.sink
    }

    fn event(&mut self, kind: &str, text: &str) -> io::Result<()> {
        self.sink.write(&line(kind, Json::String(text.to_string())))
    }

    fn value(&mut self, _def: &PrintfDef, args: &[Value]) -> io::Result<()> {
        match args.first() {
            Some(value) => self.sink.write(&line("value", value_json(value))),
            None => Ok(()),
        }
    }

    fn map(&mut self, map: &MapView) -> io::Result<()> {
        self.sink.write(&map_line(map))
    }

    fn lost(&mut self, n: u64) -> io::Result<()> {
        self.sink.write(&line("lost_events", json!({ "events": n })))
    }

    fn map_full(&mut self, map: &MapDef, dropped: u64) -> io::Result<()> {
        self.sink.write(&line("map_full", json!({ "map": map.name, "max_entries": map.max_entries, "dropped": dropped })))
    }

    fn test_result(&mut self, run: &super::TestRun, index: usize) -> io::Result<()> {
        let (name, passed) = (&run.names[index], run.passed[index]);
        let duration = run.durations[index].as_nanos() as u64;
        let result = json!({ "duration": duration, "passed": passed, "output": run.outputs[index] });
        self.sink.write(&line("test_result", json!({ name: result })))
    }

    fn bench_result(&mut self, names: &[String], index: usize, average_ns: u64, iterations: u64) -> io::Result<()> {
        self.sink.write(&line("benchmark_result", json!({ &names[index]: { "average": average_ns, "iters": iterations } })))
    }

    fn attached(&mut self, probes: usize) -> io::Result<()> {
        self.sink.write(&line("attached_probes", json!({ "probes": probes })))?;
        self.sink.flush()
    }
}

/// One output line: `{"type": kind, "data": data}` and a newline.
fn line(kind: &str, data: Json) -> String {
    let mut out = String::new();
    write(&mut out, &json!({"type": kind, "data": data}));
    out.push('\n');
    out
}

/// JSON with bpftrace's spacing: `", "` and `": "` in objects and in arrays of objects
/// (histogram buckets), but a bare `","` in other arrays (tuples, written `[1,"x"]`).
fn write(out: &mut String, v: &Json) {
    match v {
        Json::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Json::String(k.clone()).to_string());
                out.push_str(": ");
                write(out, v);
            }
            out.push('}');
        }
        Json::Array(items) => {
            let sep = if items.iter().any(Json::is_object) { ", " } else { "," };
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                write(out, item);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A map key as a JSON object key: the parts joined by `,`, a record written as its text
/// without the blanks around its punctuation, `{.a=1,.b=x}` (newer bpftrace writes a key's
/// text with every blank removed, strings' own included; rtrace keeps those, as it does in
/// tuple keys).
fn key_text(key: &[KeyPart]) -> String {
    key.iter()
        .map(|k| match k {
            KeyPart::Record(fields) => {
                let parts: Vec<String> = fields.iter().map(|(n, p)| format!(".{n}={}", key_text(std::slice::from_ref(p)))).collect();
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
fn buckets(value: &Value) -> Json {
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
                bucket.insert("min".into(), json!(lo));
            }
            if let Some(hi) = hi {
                bucket.insert("max".into(), json!(hi));
            }
            bucket.insert("count".into(), json!(counts[i]));
            Json::Object(bucket)
        })
        .collect()
}

fn value_json(value: &Value) -> Json {
    match value {
        Value::Int(v) => json!(v),
        Value::UInt(v) => json!(v),
        Value::Str(s) => json!(s),
        Value::Avg { .. } => json!(value::average(value)),
        Value::Stats { sum, count } => json!({"count": count, "average": value::average(value), "total": sum}),
        Value::Hist { .. } | Value::Lhist { .. } => buckets(value),
        Value::TSeries(_) => Json::Null,
        Value::Tuple(elems) | Value::Array(elems) => elems.iter().map(value_json).collect(),
        Value::Record(fields) => Json::Object(fields.iter().map(|(n, v)| (n.clone(), value_json(v))).collect()),
    }
}

/// One map at exit (or for `print`): its line, or nothing for an empty map.
fn map_line(map: &MapView) -> String {
    let Some(first) = map.entries.first() else { return String::new() };
    let kind = match map.kind {
        MapKind::Hist => "hist",
        MapKind::Avg => "stats",
        MapKind::Plain => "map",
        MapKind::TSeries => return tseries_line(map),
    };
    let data = if first.key.is_empty() {
        value_json(&first.value)
    } else {
        let mut obj = Map::new();
        for e in &map.entries {
            obj.insert(key_text(&e.key), value_json(&e.value));
        }
        Json::Object(obj)
    };
    line(kind, json!({ map.name: data }))
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
                entries.iter().map(|e| format!("{}: {}", Json::String(key_text(&e.key)), series(&e.value))).collect();
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
        map_line(&crate::runtime::layout::arrange(name, kind, entries, 0, 0))
    }

    /// Expected lines are bpftrace 0.17's output for the same values.
    #[test]
    fn like_bpftrace() {
        assert_eq!(line("printf", json!("hi 5\n")), "{\"type\": \"printf\", \"data\": \"hi 5\\n\"}\n");
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
}
