//! User maps in the kernel, through their handles: read as raw bytes, in batches (decoded by
//! `decode`), `clear()`, `zero()`, the lost-events counter and the full-map counters. A handle
//! is all these need, so a map can be read from anywhere that holds one.

use super::decode::read_u64;
use super::signals;
use crate::plan::{MapDef, ValueKind};
use libbpf_rs::{libbpf_sys, AsRawLibbpf, MapCore, MapFlags, MapHandle, Object};
use std::os::fd::{AsFd, AsRawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// One entry as the kernel holds it: the key's bytes and the value's, one value per possible
/// CPU for a per-CPU map.
pub struct RawEntry {
    pub key: Vec<u8>,
    /// The values, each in a slot of `slot` bytes (a per-CPU value's slot is 8-byte aligned).
    values: Vec<u8>,
    slot: usize,
}

impl RawEntry {
    /// The value, or a per-CPU map's values, one per possible CPU.
    pub fn values(&self) -> impl Iterator<Item = &[u8]> {
        self.values.chunks(self.slot.max(1))
    }
}

/// Entries asked for per batch; a hash bucket with more is read with a larger batch.
const BATCH: usize = 8192;

/// Every entry of a map, in the kernel's iteration order: read a batch at a time
/// (`BPF_MAP_LOOKUP_BATCH`, Linux 5.6), or key by key where the kernel cannot. A second signal
/// (`signals::hurry`) cuts the reading short: what was read is returned.
pub fn read_raw(map: &MapHandle, def: &MapDef) -> Vec<RawEntry> {
    read_batched(map, def).unwrap_or_else(|| read_by_key(map, def))
}

fn read_by_key(map: &MapHandle, def: &MapDef) -> Vec<RawEntry> {
    let mut entries = Vec::new();
    for key in map.keys() {
        if signals::hurry() {
            break;
        }
        let (values, slot) = if def.per_cpu() {
            let Ok(Some(per_cpu)) = map.lookup_percpu(&key, MapFlags::ANY) else { continue };
            let slot = per_cpu.first().map_or(0, Vec::len);
            (per_cpu.concat(), slot)
        } else {
            let Ok(Some(bytes)) = map.lookup(&key, MapFlags::ANY) else { continue };
            let slot = bytes.len();
            (bytes, slot)
        };
        entries.push(RawEntry { key, values, slot });
    }
    entries
}

/// The entries through `BPF_MAP_LOOKUP_BATCH`; `None` when the kernel refuses it before the
/// end (the caller then reads key by key).
fn read_batched(map: &MapHandle, def: &MapDef) -> Option<Vec<RawEntry>> {
    let key_size = map.key_size() as usize;
    let value_size = map.value_size() as usize;
    // A per-CPU value comes as one 8-byte aligned slot per possible CPU.
    let (cpus, slot) = if def.per_cpu() {
        (libbpf_rs::num_possible_cpus().ok()?, value_size.next_multiple_of(8))
    } else {
        (1, value_size)
    };
    let mut capacity = BATCH;
    let mut keys = vec![0u8; key_size * capacity];
    let mut values = vec![0u8; slot * cpus * capacity];
    // The kernel's cursor (a bucket index for hash maps), opaque to us.
    let mut cursor = vec![0u8; key_size.max(8)];
    let mut next = cursor.clone();
    let mut started = false;
    let opts = libbpf_sys::bpf_map_batch_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_batch_opts>() as _,
        ..Default::default()
    };
    let mut entries = Vec::new();
    loop {
        if signals::hurry() {
            return Some(entries);
        }
        let mut count = capacity as u32;
        let in_batch = if started { cursor.as_mut_ptr().cast() } else { std::ptr::null_mut() };
        // SAFETY: `keys` and `values` hold `capacity` keys and values of the sizes the kernel
        // writes (per-CPU values: `cpus` slots each), `next` and `cursor` hold a whole key, and
        // `count` says how many entries fit; the kernel writes nothing beyond these.
        let rc = unsafe {
            libbpf_sys::bpf_map_lookup_batch(
                map.as_fd().as_raw_fd(),
                in_batch,
                next.as_mut_ptr().cast(),
                keys.as_mut_ptr().cast(),
                values.as_mut_ptr().cast(),
                &mut count,
                &opts,
            )
        };
        let errno = if rc < 0 { -rc } else { 0 };
        match errno {
            0 | libc::ENOENT => {}
            // A bucket holds more entries than fit: ask again with room for them.
            libc::ENOSPC => {
                capacity *= 2;
                keys.resize(key_size * capacity, 0);
                values.resize(slot * cpus * capacity, 0);
                continue;
            }
            libc::EINTR | libc::EAGAIN => continue,
            _ => return None,
        }
        let count = (count as usize).min(capacity);
        let per_entry = slot * cpus;
        for i in 0..count {
            entries.push(RawEntry {
                key: keys[i * key_size..(i + 1) * key_size].to_vec(),
                values: values[i * per_entry..(i + 1) * per_entry].to_vec(),
                slot,
            });
        }
        if errno == libc::ENOENT {
            return Some(entries);
        }
        std::mem::swap(&mut cursor, &mut next);
        started = true;
    }
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

/// The lost-events counter (`plan::LOST_GLOBAL`), read through libbpf's mapping of its
/// section into this process (libbpf maps a `.data…` section's array map, `BPF_F_MMAPABLE`,
/// shared with the kernel's copy): a read makes no system call.
pub struct MappedCounter {
    /// Into libbpf's mapping, valid while the object it was found in is loaded: the session
    /// that owns the object keeps this beside it.
    value: NonNull<AtomicU64>,
}

impl MappedCounter {
    /// The counter alone in the section named `section` (by libbpf's name for its map), if
    /// `object` has it and libbpf mapped it.
    pub fn find(object: &Object, section: &str) -> Option<MappedCounter> {
        let map = object.maps().find(|m| m.name().to_string_lossy().ends_with(section))?;
        let mut size = 0u64;
        // SAFETY: the pointer names a map of the loaded `object`; libbpf returns its mapping
        // (or null) and writes its size to `size`.
        let data = unsafe { libbpf_sys::bpf_map__initial_value(map.as_libbpf_object().as_ptr(), &mut size) };
        let value = NonNull::new(data.cast::<AtomicU64>()).filter(|p| size >= 8 && p.as_ptr().is_aligned())?;
        Some(MappedCounter { value })
    }

    pub fn get(&self) -> u64 {
        // SAFETY: an aligned u64 of a mapping that lives as long as the loaded object (see
        // `value`); the kernel adds to it atomically, so it is read atomically.
        unsafe { self.value.as_ref() }.load(Ordering::Relaxed)
    }
}

/// The lost-events counter read through `data`, a handle of its section's map (a system
/// call, for readers on other threads: the exporter).
pub fn lost_events(data: &MapHandle) -> u64 {
    match data.lookup(&0u32.to_le_bytes(), MapFlags::ANY) {
        Ok(Some(bytes)) => read_u64(&bytes),
        _ => 0,
    }
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
