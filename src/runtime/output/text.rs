//! Text output of maps, byte-compatible with bpftrace 0.17 (rules in docs/bpftrace-output.md).
//!
//! This module is pure: it turns already-decoded map contents into the exact
//! text bpftrace 0.17 prints at exit (and for `print(@map)`). It does no I/O.
//!
//! Summary of the rules (measured against bpftrace 0.17.0):
//!
//! * Ordinary maps print one `@name[k1, k2]: value` line per entry, then nothing
//!   else; an empty map prints a single empty line.
//! * `avg()` maps print their lines followed by one extra empty line (an empty
//!   `avg()` map prints two empty lines).
//! * `hist()`/`lhist()` maps print `@name[key]: ` (note the trailing space), the
//!   histogram rows, and an empty line, for every key.
//! * Entries are in bpftrace's order (`layout`).

use crate::runtime::layout::sort_entries;
use crate::runtime::value::{scalar_value_text, Entry, KeyPart, MapKind, Value};

/// Width of the histogram bar, in `@` characters.
const BAR_WIDTH: usize = 52;

/// Append one whole map as bpftrace prints it at exit (`name` is "@" or "@foo"), entries in
/// bpftrace's order (this function sorts them), including the blank line(s) bpftrace prints.
/// An empty `entries` prints whatever bpftrace prints for an empty map (maybe nothing).
///
/// An empty map prints one empty line, which is right for every map type except
/// `avg()`; use [`write_empty_map`] with [`MapKind::Avg`] for an empty avg map.
///
/// Pass `entries` in the order the map was read from the kernel (`bpf_get_next_key`
/// order). That order only matters for count/sum/min/max/int maps whose values
/// tie; bpftrace's own order for those ties changes from run to run.
#[cfg(test)]
pub fn write_map(out: &mut String, name: &str, entries: Vec<Entry>) {
    write_map_top(out, name, entries, 0);
}

/// Like [`write_map`], keeping only the last `top` entries in print order (the largest), as
/// `print(@map, top)` does; `top == 0` keeps all.
pub fn write_map_top(out: &mut String, name: &str, entries: Vec<Entry>, top: usize) {
    let kind = match entries.first() {
        Some(first) => first.value.map_kind(),
        None => {
            write_empty_map(out, MapKind::Plain);
            return;
        }
    };
    let mut entries = sort_entries(kind, entries);
    if top > 0 && entries.len() > top {
        entries.drain(..entries.len() - top);
    }
    for entry in &entries {
        out.push_str(name);
        out.push_str(&key_suffix(&entry.key));
        out.push_str(": ");
        match &entry.value {
            Value::Hist { buckets, k } => {
                out.push('\n');
                write_hist(out, buckets, *k);
            }
            Value::Lhist {
                buckets,
                min,
                max,
                step,
            } => {
                out.push('\n');
                write_lhist(out, buckets, *min, *max, *step);
            }
            other => out.push_str(&scalar_value_text(other)),
        }
        out.push('\n');
    }
    if kind == MapKind::Avg {
        out.push('\n');
    }
}

/// Append what bpftrace prints for a map with no entries at all (e.g. after
/// `clear()` or `delete()` of its last key): one empty line, two for `avg()`.
pub fn write_empty_map(out: &mut String, kind: MapKind) {
    match kind {
        MapKind::Plain | MapKind::Hist => out.push('\n'),
        MapKind::Avg => out.push_str("\n\n"),
    }
}

/// Append just the histogram body (the lines after `@h[key]:`), for reuse by print().
///
/// Rows run from the first to the last non-zero bucket; an all-zero histogram
/// prints nothing. `k` is `hist(n, k)`'s: 2^k buckets per power of two.
pub fn write_hist(out: &mut String, buckets: &[u64], k: u8) {
    // bpftrace 0.17 reads each count into a C `int` while looking for the
    // printed range and the largest count; mirror that truncation.
    let mut first: Option<usize> = None;
    let mut last: Option<usize> = None;
    let mut max_count: i32 = 0;
    for (i, &count) in buckets.iter().enumerate() {
        let count = count as i32;
        if count > 0 {
            first.get_or_insert(i);
            last = Some(i);
        }
        if count > max_count {
            max_count = count;
        }
    }
    let (first, last) = match (first, last) {
        (Some(first), Some(last)) => (first, last),
        _ => return,
    };
    for (i, &count) in buckets.iter().enumerate().take(last + 1).skip(first) {
        let label = match i {
            0 => "(..., 0)".to_string(),
            // k = 0 keeps bpftrace 0.17's labels (no unit above T).
            _ if k == 0 && i >= 3 => format!("[{}, {})", hist_index_label(i - 2), hist_index_label(i - 1)),
            // The first 2^(k+1) buckets hold one value each.
            _ if i <= 2 << k => format!("[{}]", i - 1),
            _ => format!("[{}, {})", hist_sub_label(i - 1, k), hist_sub_label(i, k)),
        };
        write_row(out, &label, count, max_count);
    }
}

/// Append just the linear histogram body (the lines after `@h[key]:`).
///
/// `buckets[0]` counts values below `min`, `buckets[(max - min) / step + 1]`
/// values at or above `max`. Rows run from the first to the last non-zero
/// bucket; an all-zero histogram prints nothing.
pub fn write_lhist(out: &mut String, buckets: &[u64], min: i64, max: i64, step: i64) {
    let inner = match max.checked_sub(min).and_then(|span| span.checked_div(step)) {
        Some(n) if n >= 0 => n,
        _ => return,
    };
    let mut any_nonzero = false;
    let mut max_count: i32 = 0;
    for &count in buckets {
        let count = count as i32;
        if count != 0 {
            any_nonzero = true;
        }
        if count > max_count {
            max_count = count;
        }
    }
    if !any_nonzero {
        return;
    }
    // Only the below-min, in-range and at-or-above-max buckets are considered.
    let top = usize::try_from(inner).map_or(usize::MAX, |n| n.saturating_add(1));
    let mut first: Option<usize> = None;
    let mut last: usize = 0;
    for (i, &count) in buckets.iter().enumerate().take(top.saturating_add(1)) {
        if count > 0 {
            first.get_or_insert(i);
            last = i;
        }
    }
    let first = first.unwrap_or(0);
    for (i, &count) in buckets.iter().enumerate().take(last + 1).skip(first) {
        let label = if i == 0 {
            format!("(..., {})", lhist_index_label(min))
        } else if i == top {
            format!("[{}, ...)", lhist_index_label(max))
        } else {
            let low = (i as i64 - 1).wrapping_mul(step).wrapping_add(min);
            let high = (i as i64).wrapping_mul(step).wrapping_add(min);
            format!("[{}, {})", lhist_index_label(low), lhist_index_label(high))
        };
        write_row(out, &label, count, max_count);
    }
}

/// `[a, b]` key suffix (empty string for a scalar map).
///
/// Integer key parts always print as signed 64-bit numbers, as bpftrace does
/// (so `UInt(u64::MAX)` prints `-1`). A 32-bit key should be passed
/// sign-extended (`Int(v as i32 as i64)`), which is how bpftrace prints it.
pub fn key_suffix(key: &[KeyPart]) -> String {
    if key.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = key.iter().map(KeyPart::text).collect();
    format!("[{}]", parts.join(", "))
}

/// One histogram row: label left-aligned in 16 columns, count right-aligned in
/// 8, then ` |`, the bar padded to 52 columns, and `|`.
fn write_row(out: &mut String, label: &str, count: u64, max_count: i32) {
    // bpftrace computes the bar length in single-precision float and truncates.
    let bar_len = (count as f32 / max_count as f32 * BAR_WIDTH as f32) as i32;
    let bar = "@".repeat(usize::try_from(bar_len).unwrap_or(0));
    out.push_str(&format!(
        "{:<16}{:>8} |{:<width$}|\n",
        label,
        count,
        bar,
        width = BAR_WIDTH
    ));
}

/// Label of the power-of-two bucket boundary `2^power`: `1`, `512`, `1K`,
/// `2M`, `4G`, `8T`; bpftrace 0.17 has no unit above `T`.
fn hist_index_label(power: usize) -> String {
    let (power, suffix) = if power >= 40 {
        (power - 40, "T")
    } else if power >= 30 {
        (power - 30, "G")
    } else if power >= 20 {
        (power - 20, "M")
    } else if power >= 10 {
        (power - 10, "K")
    } else {
        (power, "")
    };
    let value = u32::try_from(power)
        .ok()
        .and_then(|p| 1u128.checked_shl(p))
        .unwrap_or(0);
    format!("{}{}", value, suffix)
}

/// Lower bound of bucket `index` of a `hist(n, k)` with k > 0, as bpftrace 0.20+ writes it:
/// with `p = (index >> k) - 1` and `j = index & (2^k - 1)` the bound is `2^p * (2^k + j)`,
/// written as `2^(p % 10) * (2^k + j)` followed by the unit of `2^p` (K, M, G, T, P, E for
/// p / 10 = 1 to 6), so not always in the largest unit that divides it (`2560`, `5K`).
/// Callers pass `index >= 2^k`.
pub fn hist_sub_label(index: usize, k: u8) -> String {
    let n = 1usize << k;
    let power = (index >> k).saturating_sub(1);
    let unit = ["", "K", "M", "G", "T", "P", "E"].get(power / 10).copied().unwrap_or("?");
    format!("{}{}", (1u64 << (power % 10)) * (n + (index & (n - 1))) as u64, unit)
}

/// Label of a linear bucket boundary: `0`, a multiple of 2^20 as `NM`, a
/// multiple of 2^10 as `NK`, anything else in full.
fn lhist_index_label(number: i64) -> String {
    const KILO: i64 = 1024;
    const MEGA: i64 = 1024 * 1024;
    if number == 0 {
        "0".to_string()
    } else if number % MEGA == 0 {
        format!("{}M", number / MEGA)
    } else if number % KILO == 0 {
        format!("{}K", number / KILO)
    } else {
        number.to_string()
    }
}

#[cfg(test)]
mod tests;
