//! Reading and changing user maps in the kernel: every map printed at exit, `print()`,
//! `clear()`, `zero()`, and the lost-events counter.

use super::decode::{read, read_u64};
use super::symbols::Symbols;
use super::{layout, output};
use super::value::{Entry, MapKind, Value};
use crate::plan::{self, MapDef, Plan, ValueKind};
use libbpf_rs::{MapCore, MapFlags, Object};

/// Every user map as bpftrace prints them at exit.
pub fn print_all(obj: &Object, plan: &Plan, symbols: &mut Symbols, json: bool) -> String {
    let mut names: Vec<String> = plan.maps.iter().map(|m| m.name.clone()).collect();
    layout::map_print_order(&mut names);
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
            entries = layout::sort_entries(kind, entries);
            entries.drain(..entries.len() - top);
        }
        out.push_str(&output::json::map(&def.name, entries));
        return;
    }
    if entries.is_empty() {
        let kind = match def.value {
            ValueKind::Avg | ValueKind::Stats => MapKind::Avg,
            ValueKind::Hist { .. } | ValueKind::Lhist { .. } => MapKind::Hist,
            _ => MapKind::Plain,
        };
        output::text::write_empty_map(out, kind);
    } else {
        output::text::write_map_top(out, &def.name, entries, top);
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
