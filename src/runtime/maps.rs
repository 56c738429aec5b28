//! User maps in the kernel, through their handles: read as raw bytes (decoded by `decode`),
//! `clear()`, `zero()`, the lost-events counter and the full-map counters. A handle is all
//! these need, so a map can be read from anywhere that holds one.

use super::decode::read_u64;
use crate::plan::{MapDef, ValueKind};
use libbpf_rs::{MapCore, MapFlags, MapHandle};

/// One entry as the kernel holds it: the key's bytes and the value's, one value per possible
/// CPU for a per-CPU map.
pub struct RawEntry {
    pub key: Vec<u8>,
    pub values: Vec<Vec<u8>>,
}

/// Every entry of a map, in the kernel's iteration order.
pub fn read_raw(map: &MapHandle, def: &MapDef) -> Vec<RawEntry> {
    let mut entries = Vec::new();
    for key in map.keys() {
        let values = if def.per_cpu() {
            let Ok(Some(per_cpu)) = map.lookup_percpu(&key, MapFlags::ANY) else { continue };
            per_cpu
        } else {
            let Ok(Some(bytes)) = map.lookup(&key, MapFlags::ANY) else { continue };
            vec![bytes]
        };
        entries.push(RawEntry { key, values });
    }
    entries
}

/// `clear()`: deletes every entry of a map — except that, as in bpftrace, a `count()` map
/// without keys is set to zero instead.
pub fn clear(map: &MapHandle, def: &MapDef) {
    let keys: Vec<Vec<u8>> = map.keys().collect();
    let zero_scalar_count = def.value == ValueKind::Count && def.key.is_empty();
    for k in keys {
        if zero_scalar_count {
            zero_entry(map, def, &k);
        } else {
            let _ = map.delete(&k);
        }
    }
}

/// `zero()`: sets every value of a map to zero, keeping the keys.
pub fn zero(map: &MapHandle, def: &MapDef) {
    let keys: Vec<Vec<u8>> = map.keys().collect();
    for k in keys {
        zero_entry(map, def, &k);
    }
}

/// Sets the value at `key` to zero (on every CPU for per-CPU maps). A `min()` or `max()`
/// stays set, so that it prints 0, as bpftrace's does.
fn zero_entry(map: &MapHandle, def: &MapDef, key: &[u8]) {
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

/// Events the ring buffer had no room for, over all CPUs (`plan::LOST_MAP`).
pub fn lost_events(lost: &MapHandle) -> u64 {
    percpu_counter(lost, 0)
}

/// New entries user map `index` (of the plan) was too full to take, over all CPUs
/// (`plan::MAP_FULL_MAP`).
pub fn map_full_drops(counters: &MapHandle, index: usize) -> u64 {
    percpu_counter(counters, index as u32)
}

/// The u64 counter at `slot` of a per-CPU array, summed over the CPUs.
fn percpu_counter(map: &MapHandle, slot: u32) -> u64 {
    match map.lookup_percpu(&slot.to_le_bytes(), MapFlags::ANY) {
        Ok(Some(per_cpu)) => per_cpu.iter().map(|v| read_u64(v)).sum(),
        _ => 0,
    }
}
