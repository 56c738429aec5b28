//! Reading user maps out of the kernel and decoding them by the plan: per-CPU values summed,
//! histogram buckets gathered per key, keys split into their parts.

use super::format::{self, Entry, KeyPart, MapKind, Value};
use super::printf::{c_string, decode, inet, read_u64};
use super::symbols::{self, Symbols};
use crate::plan::{self, ArgKind, KeyField, MapDef, Plan, TupleDef, ValueKind};
use libbpf_rs::{MapCore, MapFlags, Object};
use std::collections::BTreeMap;

/// Every user map as bpftrace prints them at exit.
pub fn print_all(obj: &Object, plan: &Plan, symbols: &mut Symbols, json: bool) -> String {
    let mut names: Vec<String> = plan.maps.iter().map(|m| m.name.clone()).collect();
    format::map_print_order(&mut names);
    let mut out = String::new();
    for name in names {
        let Some(def) = plan.maps.iter().find(|m| m.name == name) else { continue };
        let Some(map) = obj.maps().find(|m| m.name() == def.bpf_name.as_str()) else { continue };
        write(&mut out, def, read(&map, def, &plan.tuples, symbols), 0, json);
    }
    out
}

/// One map as `print(@map, top, div)` shows it: the same layout as at exit, only the `top`
/// largest entries (0: all), values divided by `div` (0: as they are).
pub fn print_one(obj: &Object, plan: &Plan, index: usize, top: u64, div: u64, symbols: &mut Symbols, json: bool) -> String {
    let Some(def) = plan.maps.get(index) else { return String::new() };
    let mut out = String::new();
    if let Some(map) = obj.maps().find(|m| m.name() == def.bpf_name.as_str()) {
        let mut entries = read(&map, def, &plan.tuples, symbols);
        if div > 0 {
            for e in &mut entries {
                match &mut e.value {
                    Value::Int(v) => *v /= div as i64,
                    Value::UInt(v) => *v /= div,
                    _ => {}
                }
            }
        }
        write(&mut out, def, entries, top as usize, json);
    }
    out
}

fn write(out: &mut String, def: &MapDef, entries: Vec<Entry>, top: usize, json: bool) {
    if json {
        // Empty maps print nothing in JSON; `top` keeps the last entries in print order.
        let mut entries = entries;
        if top > 0 && entries.len() > top {
            let kind = entries[0].value.map_kind();
            entries = format::sort_entries(kind, entries);
            entries.drain(..entries.len() - top);
        }
        out.push_str(&super::json::map(&def.name, entries));
        return;
    }
    if entries.is_empty() {
        let kind = match def.value {
            ValueKind::Avg | ValueKind::Stats => MapKind::Avg,
            ValueKind::Hist { .. } | ValueKind::Lhist { .. } => MapKind::Hist,
            _ => MapKind::Plain,
        };
        format::write_empty_map(out, kind);
    } else {
        format::write_map_top(out, &def.name, entries, top);
    }
}

/// `clear()`: deletes every entry of a map — except that, as in bpftrace, a `count()` map
/// without keys is set to zero instead.
pub fn clear(obj: &Object, def: &MapDef) {
    let Some(map) = obj.maps().find(|m| m.name() == def.bpf_name.as_str()) else { return };
    let keys: Vec<Vec<u8>> = map.keys().collect();
    let zero_scalar_count = def.value == ValueKind::Count && def.key.is_empty();
    for k in keys {
        if zero_scalar_count {
            zero_entry(&map, def, &k);
        } else {
            let _ = map.delete(&k);
        }
    }
}

/// `zero()`: sets every value of a map to zero, keeping the keys.
pub fn zero(obj: &Object, def: &MapDef) {
    let Some(map) = obj.maps().find(|m| m.name() == def.bpf_name.as_str()) else { return };
    let keys: Vec<Vec<u8>> = map.keys().collect();
    for k in keys {
        zero_entry(&map, def, &k);
    }
}

/// Sets the value at `key` to zero (on every CPU for per-CPU maps). A `min()` or `max()`
/// stays set, so that it prints 0, as bpftrace's does.
fn zero_entry(map: &libbpf_rs::Map, def: &MapDef, key: &[u8]) {
    let mut zero = vec![0u8; def.value.size()];
    if matches!(def.value, ValueKind::Min | ValueKind::Max) {
        zero[8] = 1;
    }
    if def.per_cpu() {
        let zeros = vec![zero; libbpf_rs::num_possible_cpus().unwrap_or(1)];
        let _ = map.update_percpu(key, &zeros, MapFlags::ANY);
    } else {
        let _ = map.update(key, &zero, MapFlags::ANY);
    }
}

/// Events the ring buffer had no room for, over all CPUs.
pub fn lost_events(obj: &Object) -> u64 {
    let Some(map) = obj.maps().find(|m| m.name() == plan::LOST_MAP) else { return 0 };
    match map.lookup_percpu(&0u32.to_le_bytes(), MapFlags::ANY) {
        Ok(Some(per_cpu)) => per_cpu.iter().map(|v| read_u64(v)).sum(),
        _ => 0,
    }
}

fn read(map: &libbpf_rs::Map, def: &MapDef, tuples: &[TupleDef], symbols: &mut Symbols) -> Vec<Entry> {
    let user_key = def.user_key_size();
    // Histograms: user key -> buckets, in the order keys are first seen.
    let mut hists: BTreeMap<Vec<u8>, (usize, Vec<u64>)> = BTreeMap::new();
    let mut entries = Vec::new();
    for key in map.keys() {
        if def.per_cpu() {
            let Ok(Some(per_cpu)) = map.lookup_percpu(&key, MapFlags::ANY) else { continue };
            match def.value {
                ValueKind::Hist { .. } | ValueKind::Lhist { .. } => {
                    let nbuckets = match def.value {
                        ValueKind::Lhist { min, max, step } => plan::lhist_buckets(min, max, step),
                        ValueKind::Hist { k } => plan::hist_buckets(k),
                        _ => 0,
                    };
                    let bucket = read_u64(&key[user_key.min(key.len())..]) as usize;
                    let order = hists.len();
                    let slot = hists.entry(key[..user_key.min(key.len())].to_vec()).or_insert((order, vec![0; nbuckets]));
                    if let Some(b) = slot.1.get_mut(bucket) {
                        *b += per_cpu.iter().map(|v| read_u64(v)).sum::<u64>();
                    }
                }
                kind => {
                    if let Some(value) = aggregate(kind, &per_cpu) {
                        entries.push(Entry { key: decode_key(def, &key, symbols), value });
                    }
                }
            }
        } else {
            let Ok(Some(bytes)) = map.lookup(&key, MapFlags::ANY) else { continue };
            let value = match def.value {
                ValueKind::Str { .. } => Value::Str(c_string(&bytes)),
                ValueKind::Ksym => Value::Str(symbols.kernel(read_u64(&bytes))),
                ValueKind::Stack(spec) => Value::Str(symbols.stack(spec, &bytes, symbols::VALUE_INDENT)),
                ValueKind::Inet => Value::Str(inet(&bytes)),
                ValueKind::Timestamp(fmt) => Value::Str(symbols.timestamp(fmt, read_u64(&bytes))),
                ValueKind::Tuple { id, size } => decode(ArgKind::Tuple { id, size }, &bytes, tuples, symbols),
                ValueKind::IntArray(a) => decode(ArgKind::IntArray(a), &bytes, tuples, symbols),
                ValueKind::Int { signed: true } => Value::Int(read_u64(&bytes) as i64),
                _ => Value::UInt(read_u64(&bytes)),
            };
            entries.push(Entry { key: decode_key(def, &key, symbols), value });
        }
    }
    let mut hists: Vec<(Vec<u8>, (usize, Vec<u64>))> = hists.into_iter().collect();
    hists.sort_by_key(|(_, (order, _))| *order);
    for (key, (_, buckets)) in hists {
        let value = match def.value {
            ValueKind::Lhist { min, max, step } => Value::Lhist { buckets, min, max, step },
            ValueKind::Hist { k } => Value::Hist { buckets, k },
            _ => continue,
        };
        entries.push(Entry { key: decode_key(def, &key, symbols), value });
    }
    // Hash order is arbitrary; key order makes ties between equal values come out the same
    // on every run (bpftrace's own order for such ties varies between runs).
    entries.sort_by(|a, b| format::compare_keys_raw(&a.key, &b.key));
    entries
}

/// Sums one per-CPU aggregation; `None` for a min/max no CPU has set.
fn aggregate(kind: ValueKind, per_cpu: &[Vec<u8>]) -> Option<Value> {
    let ints = |off: usize| per_cpu.iter().map(move |v| read_u64(v.get(off..).unwrap_or(&[])));
    Some(match kind {
        ValueKind::Count => Value::UInt(ints(0).sum()),
        ValueKind::Sum { signed: true } => Value::Int(ints(0).fold(0i64, |a, b| a.wrapping_add(b as i64))),
        ValueKind::Sum { signed: false } => Value::UInt(ints(0).fold(0u64, u64::wrapping_add)),
        ValueKind::Stats => Value::Stats {
            sum: ints(0).fold(0i64, |a, b| a.wrapping_add(b as i64)),
            count: ints(8).sum(),
        },
        ValueKind::Avg => Value::Avg {
            sum: ints(0).fold(0i64, |a, b| a.wrapping_add(b as i64)),
            count: ints(8).sum(),
        },
        ValueKind::Min | ValueKind::Max => {
            let set = ints(0).zip(ints(8)).filter(|(_, set)| *set != 0).map(|(v, _)| v as i64);
            let v = if kind == ValueKind::Min { set.min() } else { set.max() };
            Value::Int(v?)
        }
        _ => return None,
    })
}

fn decode_key(def: &MapDef, key: &[u8], symbols: &mut Symbols) -> Vec<KeyPart> {
    let mut parts = Vec::new();
    let mut off = 0;
    for field in &def.key {
        let bytes = key.get(off..off + field.size()).unwrap_or(&[]);
        parts.push(match field {
            // Key stacks are indented less than stacks elsewhere (docs/bpftrace-output.md).
            KeyField::Stack(spec) => KeyPart::Str(symbols.stack(*spec, bytes, symbols::KEY_INDENT)),
            _ => match decode(field.arg_kind(), bytes, &[], symbols) {
                Value::Int(v) => KeyPart::Int(v),
                Value::UInt(v) => KeyPart::UInt(v),
                other => KeyPart::Str(format::scalar_value_text(&other)),
            },
        });
        off += field.size();
    }
    match &def.key_names {
        Some(names) => vec![KeyPart::Record(names.iter().cloned().zip(parts).collect())],
        None => parts,
    }
}
