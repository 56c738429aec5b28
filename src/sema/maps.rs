//! Maps: the table of user maps as the checker learns them from assignments (value kind, key
//! shape, where each was first assigned), the rules by which two uses of a map agree, and the
//! top-level map declarations.

use super::check::{Checker, ProbeCheck};
use super::types::{type_text, Type};
use super::Instance;
use super::errors::{CheckError, MapError};
use crate::diag::{did_you_mean, Span};
use crate::parser::ast::*;
use crate::plan::{MapDef, Scalar, ValueKind};
use std::collections::HashMap;


/// A user map as sema learns it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct MapInfo {
    pub(super) name: String,
    pub(super) value: ValueKind,
    pub(super) keys: Keys,
    /// Where the map first got its value type, and its key shape.
    pub(super) first_assign: Span,
    pub(super) first_keys: Span,
    /// What each key part was written as at the first assignment (`plan::MapDef::key_labels`).
    pub(super) key_labels: Vec<Option<String>>,
}

/// A map's key shape: its parts, and a record key's field names (one per part).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Keys {
    pub(super) fields: Vec<Scalar>,
    pub(super) names: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct MapTable {
    pub(super) maps: Vec<MapInfo>,
}

impl MapTable {
    pub(super) fn get(&self, name: &str) -> Option<(usize, &MapInfo)> {
        self.maps.iter().enumerate().find(|(_, m)| m.name == name)
    }
    /// `max_map_keys`: the entries of a map declared without a size.
    pub(super) fn defs(&self, declared: &HashMap<&str, Declared>, max_map_keys: u32) -> Vec<MapDef> {
        self.maps
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let decl = declared.get(m.name.as_str());
                MapDef {
                    name: m.name.clone(),
                    bpf_name: format!("m{i}"),
                    key: m.keys.fields.clone(),
                    key_names: m.keys.names.clone(),
                    key_labels: m.key_labels.clone(),
                    value: m.value,
                    max_entries: decl.map_or(max_map_keys, |d| d.max_entries),
                    lru: decl.is_some_and(|d| d.lru),
                }
            })
            .collect()
    }
}

/// What a `let @m = KIND(N);` declaration says of a map.
pub(super) struct Declared {
    pub(super) lru: bool,
    pub(super) max_entries: u32,
}

/// The map types a declaration may name: (name, LRU, per-CPU).
pub(super) const MAP_KINDS: [(&str, bool, bool); 4] =
    [("hash", false, false), ("lruhash", true, false), ("percpuhash", false, true), ("percpulruhash", true, true)];

/// Checks the top-level map declarations against each other and against what the probes do
/// with the maps (aggregations need a per-CPU map, other values a plain one).
pub(super) fn declared_maps<'p>(program: &'p Program, maps: &MapTable, errors: &mut Vec<CheckError>) -> HashMap<&'p str, Declared> {
    let mut declared = HashMap::new();
    let mut spans: HashMap<&str, Span> = HashMap::new();
    for d in &program.map_decls {
        let name = d.map.name.as_str();
        if let Some(first) = spans.get(name) {
            errors.push(MapError::MapDeclaredTwice { map: name.to_string(), first: *first, span: d.map.span }.into());
            continue;
        }
        spans.insert(name, d.map.span);
        let Some(&(kind, lru, per_cpu)) = MAP_KINDS.iter().find(|k| k.0 == d.kind.name) else {
            let suggestion = did_you_mean(&d.kind.name, MAP_KINDS.iter().map(|k| k.0));
            errors.push(MapError::UnknownMapType { kind: d.kind.name.clone(), suggestion, span: d.kind.span }.into());
            continue;
        };
        let max_entries = match d.args.as_slice() {
            [Expr { kind: ExprKind::Int(n), .. }] if (1..=u32::MAX as u64).contains(n) => *n as u32,
            [arg] => {
                errors.push(MapError::MapDeclEntries { kind, span: arg.span }.into());
                continue;
            }
            args => {
                let span = d.kind.span.to(args.last().map_or(d.kind.span, |a| a.span));
                errors.push(MapError::MapDeclArgs { kind, map: name.to_string(), count: args.len(), span }.into());
                continue;
            }
        };
        match maps.get(name) {
            None => errors.push(MapError::MapDeclaredUnused { map: name.to_string(), span: d.map.span }.into()),
            Some((_, info)) if info.value.is_aggregation() != per_cpu => {
                let (map, value) = (name.to_string(), value_desc(info.value));
                errors.push(MapError::MapDeclaredKind { map, kind, value, per_cpu, decl: d.kind.span, span: info.first_assign }.into());
            }
            Some(_) => {}
        }
        declared.insert(name, Declared { lru, max_entries });
    }
    declared
}

/// A map value kind with its article, for messages.
pub(super) fn value_desc(kind: ValueKind) -> String {
    match kind {
        ValueKind::Scalar(Scalar::Int { .. }) => "an integer".into(),
        ValueKind::Scalar(Scalar::Bool) => "a bool".into(),
        ValueKind::Scalar(Scalar::Ptr) => "a pointer".into(),
        ValueKind::Scalar(Scalar::Str { .. }) => "a string".into(),
        ValueKind::Scalar(Scalar::IntArray(a)) => type_text(Type::IntArray(a)),
        ValueKind::Hist { k } if k > 0 => format!("hist(n, {k})"),
        agg => agg.name().to_string(),
    }
}

/// The value kind two assignments to one map agree on, if they do.
pub(super) fn merge_value(a: ValueKind, b: ValueKind) -> Option<ValueKind> {
    match (a, b) {
        (ValueKind::Sum { signed: x }, ValueKind::Sum { signed: y }) => Some(ValueKind::Sum { signed: x && y }),
        // tseries() values print as unsigned only when every value written is unsigned.
        (ValueKind::TSeries { interval_ns, intervals, agg, signed: x }, ValueKind::TSeries { signed: y, .. })
            if b == (ValueKind::TSeries { interval_ns, intervals, agg, signed: y }) =>
        {
            Some(ValueKind::TSeries { interval_ns, intervals, agg, signed: x || y })
        }
        (ValueKind::Scalar(Scalar::Int { signed: x }), ValueKind::Scalar(Scalar::Int { signed: y })) => {
            Some(ValueKind::Scalar(Scalar::Int { signed: x || y }))
        }
        // An enum and an integer: the integer (printed as a number).
        (ValueKind::Scalar(Scalar::Int { signed }), ValueKind::Scalar(Scalar::Enum { .. }))
        | (ValueKind::Scalar(Scalar::Enum { .. }), ValueKind::Scalar(Scalar::Int { signed })) => Some(ValueKind::Scalar(Scalar::Int { signed })),
        // A pointer and an integer: the integer (printed as a number).
        (ValueKind::Scalar(Scalar::Int { signed }), ValueKind::Scalar(Scalar::Ptr))
        | (ValueKind::Scalar(Scalar::Ptr), ValueKind::Scalar(Scalar::Int { signed })) => Some(ValueKind::Scalar(Scalar::Int { signed })),
        (ValueKind::Scalar(Scalar::Str { len: x }), ValueKind::Scalar(Scalar::Str { len: y })) => {
            Some(ValueKind::Scalar(Scalar::Str { len: x.max(y) }))
        }
        (a, b) if a == b => Some(a),
        _ => None,
    }
}

/// The key part a value of type `t` makes, if it can be one (a tuple key is its parts).
pub(super) fn key_field(t: Type) -> Option<Scalar> {
    t.plain_scalar().map(Scalar::padded)
}

/// The type of a value read from a map, or `None` for an aggregation (per-CPU, summed only
/// when printed).
pub(super) fn value_type(kind: ValueKind) -> Option<Type> {
    kind.scalar().map(Type::of_scalar)
}

pub(super) fn merge_keys(a: &Keys, b: &Keys) -> Option<Keys> {
    if a.fields.len() != b.fields.len() || a.names != b.names {
        return None;
    }
    let fields = a
        .fields
        .iter()
        .zip(&b.fields)
        .map(|(x, y)| match (x, y) {
            (Scalar::Int { signed: s }, Scalar::Int { signed: t }) => Some(Scalar::Int { signed: *s && *t }),
            (Scalar::Int { signed }, Scalar::Ptr) | (Scalar::Ptr, Scalar::Int { signed }) => Some(Scalar::Int { signed: *signed }),
            (Scalar::Str { len: m }, Scalar::Str { len: n }) => Some(Scalar::Str { len: *m.max(n) }),
            (x, y) if x == y => Some(*x),
            _ => None,
        })
        .collect::<Option<_>>()?;
    Some(Keys { fields, names: a.names.clone() })
}

/// A map used (at `span`) with other keys than it was first used with.
pub(super) fn key_mismatch(info: &MapInfo, span: Span, keys: &Keys) -> MapError {
    let (keys, first_keys) = (describe_keys(keys), describe_keys(&info.keys));
    MapError::KeyMismatch { map: info.name.clone(), keys, first_keys, first: info.first_keys, span }
}

pub(super) fn describe_keys(keys: &Keys) -> String {
    if keys.fields.is_empty() {
        return "none (a scalar map)".into();
    }
    let parts: Vec<&str> = keys
        .fields
        .iter()
        .map(|k| match k {
            Scalar::Int { .. } => "int",
            Scalar::Bool => "bool",
            Scalar::Ptr => "pointer",
            Scalar::Str { .. } => "string",
            Scalar::Ksym => "ksym",
            Scalar::Stack(spec) => spec.name(),
            Scalar::Inet => "inet",
            Scalar::ProbeName => "probe",
            Scalar::Usym => "usym",
            Scalar::Timestamp(_) => "timestamp",
            Scalar::IntArray(_) => "array",
            Scalar::Named(_) => k.name(),
            // Never key parts (`key_field` refuses them).
            Scalar::Buf | Scalar::Tuple { .. } | Scalar::Enum { .. } | Scalar::Struct { .. } => k.name(),
        })
        .collect();
    match &keys.names {
        Some(names) => {
            let fields: Vec<String> = names.iter().zip(parts).map(|(n, p)| format!("{n} = {p}")).collect();
            format!("[({})]", fields.join(", "))
        }
        None => format!("[{}]", parts.join(", ")),
    }
}

/// Checks again, against the map table every probe has now taught, each probe that read a map
/// whose entry has changed since (or that had none yet). The probes are first checked once,
/// in order, each learning from its own assignments; a read sees the map as the assignments
/// checked so far made it, which is its final type unless a later probe (or a later statement
/// of a probe that read the map first) widens it or gives it one. Only those probes are
/// checked again, so most programs are checked once. A second check may widen a map again
/// (`@b = @a` where `@a` changed), so this goes on until nothing changes; merging only widens
/// a map, so it ends.
pub(super) fn settle(checker: &mut Checker, instances: &[Instance], probes: &mut [ProbeCheck]) {
    checker.learning = false;
    loop {
        let stale: Vec<usize> = (0..probes.len())
            .filter(|&i| probes[i].seen.iter().any(|(name, seen)| seen.is_none() || *seen != checker.map_entry(name)))
            .collect();
        if stale.is_empty() {
            return;
        }
        for i in stale {
            probes[i] = checker.check_instance(&instances[i]);
        }
    }
}
