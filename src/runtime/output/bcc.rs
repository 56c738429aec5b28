//! `--hist-style bcc`: `hist()` maps in the layout of BCC's and libbpf-tools' log2
//! histograms (`print_log2_hist`), for tools that match theirs (docs/build.md):
//!
//! ```text
//! softirq = timer
//!      usecs               : count    distribution
//!          0 -> 1          : 0        |                                        |
//!          2 -> 3          : 19       |*******************************         |
//! ```
//!
//! The value column is named by the map (`@usecs` → `usecs`); a record key's fields head each
//! histogram (`@usecs[(softirq = $name)]` → `softirq = timer`), other keys as `key = K`.
//! Buckets are BCC's: `0 -> 1`, then `2^j -> 2^(j+1) - 1` (bpftrace's `[0]` and `[1]`, and its
//! negative bucket, fold into the first).

use crate::runtime::layout::{MapKind, MapView};
use crate::runtime::value::{KeyPart, Value};

/// Appends `map` in BCC's layout; `false` when it is not a `hist()` map of powers of two
/// (the caller prints it in bpftrace's).
pub fn write_map(out: &mut String, map: &MapView) -> bool {
    if map.entries.is_empty() {
        // BCC prints nothing for a histogram with no data.
        return map.kind == MapKind::Hist;
    }
    if !map.entries.iter().all(|e| matches!(e.value, Value::Hist { k: 0, .. })) {
        return false;
    }
    let unit = map.name.trim_start_matches('@');
    let unit = if unit.is_empty() { "value" } else { unit };
    for entry in &map.entries {
        let Value::Hist { buckets, .. } = &entry.value else { continue };
        if !entry.key.is_empty() {
            out.push('\n');
            out.push_str(&key_heading(&entry.key));
            out.push('\n');
        }
        write_log2_hist(out, &bcc_buckets(buckets), unit);
    }
    if map.entries.iter().all(|e| e.key.is_empty()) {
        out.push('\n');
    }
    true
}

/// `name = value` for each field of a record key, `key = K` otherwise.
fn key_heading(key: &[KeyPart]) -> String {
    match key {
        [KeyPart::Record(fields)] => fields.iter().map(|(n, p)| format!("{n} = {}", p.text())).collect::<Vec<_>>().join(", "),
        parts => format!("key = {}", parts.iter().map(KeyPart::text).collect::<Vec<_>>().join(", ")),
    }
}

/// bpftrace's buckets (negative, `[0]`, `[1]`, `[2, 4)`, …) as BCC's (`0 -> 1`, `2 -> 3`, …).
fn bcc_buckets(buckets: &[u64]) -> Vec<u64> {
    let mut out: Vec<u64> = buckets.iter().skip(2).copied().collect();
    let first: u64 = buckets.iter().take(3).sum();
    match out.first_mut() {
        Some(f) => *f = first,
        None => out.push(first),
    }
    out
}

/// libbpf-tools' `print_log2_hist`: rows up to the last non-zero bucket, 40 stars (20 past
/// bucket 32), nothing for an all-zero histogram.
fn write_log2_hist(out: &mut String, vals: &[u64], unit: &str) {
    let Some(idx_max) = vals.iter().rposition(|&v| v > 0) else { return };
    let val_max = vals.iter().copied().max().unwrap_or(0);
    let narrow = idx_max <= 32;
    let (pad, label_width, width, stars) = if narrow { (5, 19, 10, 40) } else { (15, 29, 20, 20) };
    out.push_str(&format!("{:pad$}{unit:<label_width$} : count    distribution\n", ""));
    for (i, &val) in vals.iter().enumerate().take(idx_max + 1) {
        let high = (1u128 << (i + 1)) - 1;
        let low = if i == 0 { 0 } else { 1u128 << i };
        let filled = (val.min(val_max) as u128 * stars as u128 / val_max.max(1) as u128) as usize;
        out.push_str(&format!("{low:>width$} -> {high:<width$} : {val:<8} |{}{}|\n", "*".repeat(filled), " ".repeat(stars - filled)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_as_libbpf_tools_prints_them() {
        let mut out = String::new();
        // bpftrace's buckets: negative 0, [0] 0, [1] 0, [2,4) 19, [4,8) 21, [8,16) 24, [16,32) 2.
        write_log2_hist(&mut out, &bcc_buckets(&[0, 0, 0, 19, 21, 24, 2]), "usecs");
        // From /usr/sbin/softirqs -d (Debian's libbpf-tools) on this machine.
        let expected = "     usecs               : count    distribution
         0 -> 1          : 0        |                                        |
         2 -> 3          : 19       |*******************************         |
         4 -> 7          : 21       |***********************************     |
         8 -> 15         : 24       |****************************************|
        16 -> 31         : 2        |***                                     |
";
        assert_eq!(out, expected);
        let mut folded = String::new();
        write_log2_hist(&mut folded, &bcc_buckets(&[1, 2, 3]), "x");
        assert!(folded.contains("0 -> 1          : 6 "), "{folded}");
    }
}
