//! What a map becomes as Prometheus metrics (docs/exporter.md has the rules with examples):
//! `count()` a counter, `sum()` a counter (unsigned) or a gauge, `min`/`max`/`avg` and plain
//! integers gauges, `stats()` `_count` and `_sum` (a histogram with only `+Inf`) and an `_avg`
//! gauge, `hist`/`lhist` a
//! histogram with cumulative `le` buckets; keys become labels. The families of one scrape are
//! plain data (`Family`), written out by `prometheus-client` through `Snapshot`.

use super::super::value::{hist_bounds, Entry, KeyPart, Value};
use crate::plan::{MapDef, Plan, Scalar, ValueKind};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use std::collections::HashMap;

/// One metric family of a scrape.
#[derive(Debug)]
pub struct Family {
    /// The full name, prefix included (without the `_total` a counter's samples get).
    pub name: String,
    pub help: String,
    pub kind: MetricType,
    pub samples: Vec<Sample>,
}

#[derive(Debug)]
pub struct Sample {
    pub labels: Vec<(String, String)>,
    pub value: Number,
}

/// A sample's value.
#[derive(Debug)]
pub enum Number {
    U(u64),
    I(i64),
    F(f64),
    /// A histogram: per-bucket (not cumulative) counts by inclusive upper bound, the count
    /// and the sum of the observed values.
    Hist { buckets: Vec<(f64, u64)>, count: u64, sum: f64 },
}

impl Family {
    pub fn new(name: String, help: String, kind: MetricType) -> Family {
        Family { name, help, kind, samples: Vec::new() }
    }

    /// A family of one sample without labels.
    pub fn single(name: String, help: &str, kind: MetricType, value: Number) -> Family {
        Family { name, help: help.to_string(), kind, samples: vec![Sample { labels: Vec::new(), value }] }
    }
}

/// Why a map cannot be a metric, if it cannot.
fn not_exported(kind: ValueKind) -> Option<&'static str> {
    Some(match kind.scalar()? {
        Scalar::Int { .. } | Scalar::Bool | Scalar::Ptr => return None,
        Scalar::Str { .. } => "a string",
        Scalar::Ksym => "a kernel symbol",
        Scalar::Stack(_) => "a stack",
        Scalar::Inet => "an address",
        Scalar::Timestamp(_) => "a time",
        Scalar::Tuple { .. } => "a tuple",
        Scalar::Struct { .. } => "a struct",
        Scalar::IntArray(_) => "an array",
        Scalar::ProbeName | Scalar::Usym | Scalar::Buf | Scalar::Enum { .. } | Scalar::Named(_) => "not a number",
    })
}

/// One warning per map that cannot be a metric, naming it.
pub fn warnings(plan: &Plan) -> Vec<String> {
    plan.maps
        .iter()
        .filter_map(|m| not_exported(m.value).map(|what| format!("map {} holds {what}, not a number: it is not exported as a metric (--prometheus)", m.name)))
        .collect()
}

/// Whether map `def` is exported.
pub fn exported(def: &MapDef) -> bool {
    not_exported(def.value).is_none()
}

/// A metric name: the prefix and the map's name with every character Prometheus does not
/// allow made `_`; the map `@` is `map`.
pub fn metric_name(prefix: &str, map: &str) -> String {
    let bare = map.trim_start_matches('@');
    let bare = if bare.is_empty() { "map" } else { bare };
    let name: String = format!("{prefix}{bare}").chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == ':' { c } else { '_' }).collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name
    }
}

/// The label names of a map's key parts: a record key's field names, else the builtin or field
/// each part was written as (`comm`, `fd`), else `key` for the first part and `keyN` for
/// part N. A name given twice, or `le` for a histogram or stats(), falls back to `keyN`.
pub fn label_names(def: &MapDef) -> Vec<String> {
    // Histograms (and stats(), written as one) have an `le` label of their own.
    let histogram_kind = def.value.is_histogram() || def.value == ValueKind::Stats;
    let mut names: Vec<String> = Vec::new();
    for i in 0..def.key.len() {
        let given = match &def.key_names {
            Some(fields) => fields.get(i).cloned(),
            None => def.key_labels.get(i).cloned().flatten(),
        };
        let fallback = if i == 0 { "key".to_string() } else { format!("key{i}") };
        let name = given.map(|n| label_name(&n)).filter(|n| !(names.contains(n) || n == "le" && histogram_kind));
        names.push(name.unwrap_or(fallback));
    }
    names
}

/// `name` as a label name: characters outside `[A-Za-z0-9_]` made `_`, never starting with a
/// digit or `__` (reserved).
fn label_name(name: &str) -> String {
    let name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.starts_with("__") {
        format!("k{name}")
    } else {
        name
    }
}

/// A key part as a label value: its text as rtrace prints it; a value of several lines (a
/// stack's frames) is one value, its lines trimmed and joined by `;`.
fn label_value(part: &KeyPart) -> String {
    let text = match part {
        KeyPart::UInt(v) => v.to_string(),
        part => part.text(),
    };
    if text.contains('\n') {
        text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(";")
    } else {
        text
    }
}

/// An entry's labels, by the map's label names.
fn labels(names: &[String], key: &[KeyPart]) -> Vec<(String, String)> {
    let parts: Vec<&KeyPart> = key
        .iter()
        .flat_map(|part| match part {
            KeyPart::Record(fields) => fields.iter().map(|(_, p)| p).collect(),
            p => vec![p],
        })
        .collect();
    names.iter().cloned().zip(parts.into_iter().map(label_value)).collect()
}

/// The `# HELP` text of a map: how the script fills it.
fn help(def: &MapDef, names: &[String]) -> String {
    let keys = if names.is_empty() { String::new() } else { format!("[{}]", names.join(", ")) };
    let value = match def.value {
        ValueKind::Scalar(Scalar::Int { .. }) => "an integer".to_string(),
        ValueKind::Hist { k } if k > 0 => format!("hist(n, {k})"),
        ValueKind::Lhist { min, max, step } => format!("lhist(n, {min}, {max}, {step})"),
        kind => kind.name().to_string(),
    };
    format!("rtrace map {}{keys}: {value}", def.name)
}

/// A map's families from its decoded entries; `sums` holds each histogram key's sum of
/// observed values (by `key_id`).
pub fn map_families(prefix: &str, def: &MapDef, entries: &[Entry], sums: &HashMap<String, i64>) -> Vec<Family> {
    let names = label_names(def);
    let name = metric_name(prefix, &def.name);
    let help = help(def, &names);
    let sample = |e: &Entry, value: Number| Sample { labels: labels(&names, &e.key), value };
    let family = |name: String, kind: MetricType, value: &dyn Fn(&Entry) -> Option<Number>| {
        let mut f = Family::new(name, help.clone(), kind);
        f.samples = entries.iter().filter_map(|e| value(e).map(|v| sample(e, v))).collect();
        f
    };
    match def.value {
        ValueKind::Count | ValueKind::Sum { signed: false } => {
            let name = name.strip_suffix("_total").map_or(name.clone(), str::to_string);
            vec![family(name, MetricType::Counter, &|e| uint(&e.value).map(Number::U))]
        }
        ValueKind::Sum { signed: true } | ValueKind::Min | ValueKind::Max | ValueKind::Scalar(Scalar::Int { .. } | Scalar::Bool | Scalar::Ptr) => {
            vec![family(name, MetricType::Gauge, &|e| int(&e.value).map(Number::I))]
        }
        ValueKind::Avg => vec![family(name, MetricType::Gauge, &|e| avg(&e.value).map(|(_, _, a)| Number::I(a)))],
        // A histogram without buckets but `+Inf`: its `_count` and `_sum` (a summary without
        // quantiles, which prometheus-client does not write), and the average beside it.
        ValueKind::Stats => vec![
            family(name.clone(), MetricType::Histogram, &|e| {
                avg(&e.value).map(|(s, c, _)| Number::Hist { buckets: vec![(f64::INFINITY, c)], count: c, sum: s as f64 })
            }),
            family(format!("{name}_avg"), MetricType::Gauge, &|e| avg(&e.value).map(|(_, _, a)| Number::I(a))),
        ],
        ValueKind::Hist { .. } | ValueKind::Lhist { .. } => {
            vec![family(name, MetricType::Histogram, &|e| histogram(&e.value, sums.get(&key_id(&e.key)).copied()))]
        }
        _ => Vec::new(),
    }
}

/// The identity of a decoded key, to match a histogram's sum with its buckets.
pub fn key_id(key: &[KeyPart]) -> String {
    format!("{key:?}")
}

fn uint(v: &Value) -> Option<u64> {
    match v {
        Value::UInt(n) => Some(*n),
        Value::Int(n) => Some(*n as u64),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::UInt(n) => Some(*n as i64),
        Value::Int(n) => Some(*n),
        _ => None,
    }
}

/// `(sum, count, average)` of an avg() or stats() value.
fn avg(v: &Value) -> Option<(i64, u64, i64)> {
    match v {
        Value::Avg { sum, count } | Value::Stats { sum, count } => Some((*sum, *count, super::super::value::average(v))),
        _ => None,
    }
}

/// A histogram sample: bpftrace's integer buckets as inclusive upper bounds (`[2^k, 2^(k+1))`
/// is `le = 2^(k+1) - 1`), from the bucket below the lowest one used to the highest one used;
/// the last `lhist` bucket (at or above max) only in `+Inf`.
fn histogram(v: &Value, sum: Option<i64>) -> Option<Number> {
    let (counts, upper): (&[u64], Box<dyn Fn(usize) -> f64>) = match v {
        Value::Hist { buckets, k } => {
            let k = *k;
            (buckets, Box::new(move |i| if i == 0 { -1.0 } else { hist_bounds(i, k).1 as f64 }))
        }
        Value::Lhist { buckets, min, step, .. } => {
            let (min, step) = (*min, *step);
            let last = buckets.len().saturating_sub(1);
            (&buckets[..last], Box::new(move |i| (min + step * i as i64 - 1) as f64))
        }
        _ => return None,
    };
    let count = match v {
        Value::Hist { buckets, .. } | Value::Lhist { buckets, .. } => buckets.iter().sum(),
        _ => 0,
    };
    let used: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0).collect();
    let mut buckets: Vec<(f64, u64)> = match (used.first(), used.last()) {
        (Some(&lo), Some(&hi)) => (lo.saturating_sub(1)..=hi).map(|i| (upper(i), counts[i])).collect(),
        _ => Vec::new(),
    };
    // `+Inf` written here: the OpenMetrics encoder does not add it, and without it
    // `histogram_quantile()` gives NaN.
    let below: u64 = buckets.iter().map(|b| b.1).sum();
    buckets.push((f64::INFINITY, count - below));
    Some(Number::Hist { buckets, count, sum: sum.unwrap_or(0) as f64 })
}

/// One scrape's families, written by `prometheus-client`.
#[derive(Debug)]
pub struct Snapshot(pub Vec<Family>);

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.0 {
            let mut metric = encoder.encode_descriptor(&family.name, &family.help, None, family.kind)?;
            for sample in &family.samples {
                let mut m = metric.encode_family(&sample.labels)?;
                match &sample.value {
                    Number::U(v) if family.kind == MetricType::Counter => m.encode_counter::<NoLabelSet, _, u64>(v, None)?,
                    Number::F(v) if family.kind == MetricType::Counter => m.encode_counter::<NoLabelSet, _, f64>(v, None)?,
                    Number::U(v) => m.encode_gauge(v)?,
                    Number::I(v) => m.encode_gauge(v)?,
                    Number::F(v) => m.encode_gauge(v)?,
                    Number::Hist { buckets, count, sum } => m.encode_histogram::<NoLabelSet>(*sum, *count, buckets, None)?,
                }
            }
        }
        Ok(())
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(metric_name("rtrace_", "@"), "rtrace_map");
        assert_eq!(metric_name("rtrace_", "@a.b-c"), "rtrace_a_b_c");
        assert_eq!(metric_name("", "@9x"), "_9x");
        assert_eq!(label_name("__x"), "k__x");
        assert_eq!(label_name("a-b"), "a_b");
    }

    #[test]
    fn stack_label_is_one_line() {
        assert_eq!(label_value(&KeyPart::Str("\n        f+1\n        g+2\n".into())), "f+1;g+2");
        assert_eq!(label_value(&KeyPart::UInt(u64::MAX)), "18446744073709551615");
    }

    #[test]
    fn hist_buckets_are_inclusive_integer_bounds() {
        // hist(n, 0): index 1 is 0, index i >= 2 is [2^(i-2), 2^(i-1)).
        let mut buckets = vec![0; 66];
        buckets[5] = 3; // [8, 16)
        let Some(Number::Hist { buckets, count, .. }) = histogram(&Value::Hist { buckets, k: 0 }, Some(30)) else { panic!() };
        assert_eq!(buckets, vec![(7.0, 0), (15.0, 3), (f64::INFINITY, 0)]);
        assert_eq!(count, 3);
    }
}
