//! Histogram rows in bpftrace's text layout: `hist()` (powers of two, or 2^k buckets per power
//! with bpftrace 0.20's `hist(n, k)`) and `lhist()` (linear), byte-compatible with bpftrace
//! 0.17, and 0.26 where its labels differ (docs/bpftrace-output.md).

/// Width of the histogram bar, in `@` characters.
const BAR_WIDTH: usize = 52;

/// Append just the histogram body (the lines after `@h[key]:`), for reuse by print().
///
/// Rows run from the first to the last non-zero bucket; an all-zero histogram
/// prints nothing. `k` is `hist(n, k)`'s: 2^k buckets per power of two. With `v026`
/// (bpftrace 0.26's labels) bounds beyond `T` take the `P` and `E` units.
pub fn write_hist(out: &mut String, buckets: &[u64], k: u8, v026: bool) {
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
            // k = 0 in 0.17's output keeps its labels (no unit above T).
            _ if k == 0 && !v026 && i >= 3 => format!("[{}, {})", hist_index_label(i - 2), hist_index_label(i - 1)),
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
/// bucket; an all-zero histogram prints nothing. With `v026` (bpftrace 0.26's labels), a
/// bucket holding one value (`step` 1) is labelled `[3]`, not `[3, 4)`, and bounds take a
/// `K`/`M` unit only when `step` is a multiple of 1024.
pub fn write_lhist(out: &mut String, buckets: &[u64], min: i64, max: i64, step: i64, v026: bool) {
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
    let units = !v026 || step % 1024 == 0;
    let lhist_index_label = |n: i64| if units { lhist_index_label(n) } else { n.to_string() };
    for (i, &count) in buckets.iter().enumerate().take(last + 1).skip(first) {
        let label = if i == 0 {
            format!("(..., {})", lhist_index_label(min))
        } else if i == top {
            format!("[{}, ...)", lhist_index_label(max))
        } else {
            let low = (i as i64 - 1).wrapping_mul(step).wrapping_add(min);
            let high = (i as i64).wrapping_mul(step).wrapping_add(min);
            if v026 && step == 1 {
                format!("[{}]", lhist_index_label(low))
            } else {
                format!("[{}, {})", lhist_index_label(low), lhist_index_label(high))
            }
        };
        write_row(out, &label, count, max_count);
    }
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
mod tests {
    use super::*;
    use crate::runtime::value::hist_bounds;

    // Not reachable with bpftrace 0.17's hist() (it caps at [2G, 4G)), so taken
    // from its source: T is the largest unit.
    #[test]
    fn hist_labels_beyond_giga() {
        let mut buckets = vec![0u64; 66];
        buckets[42] = 1;
        buckets[65] = 1;
        let mut out = String::new();
        write_hist(&mut out, &buckets, 0, false);
        let bar = "@".repeat(52);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 24);
        assert_eq!(lines[0], format!("[1T, 2T)               1 |{}|", bar));
        // A label wider than 16 columns is not cut, it pushes the rest right.
        assert_eq!(
            lines[23],
            format!("[8388608T, 16777216T)       1 |{}|", bar)
        );
    }

    // bpftrace 0.26's hist_index_label (v0.26.0 src/types_format.cpp) takes its unit from
    // "\0KMGTPE" by the power of 1024: P and E beyond T.
    #[test]
    fn hist_labels_beyond_tera_in_026() {
        let mut buckets = vec![0u64; 66];
        buckets[42] = 1;
        buckets[52] = 1;
        buckets[65] = 1;
        let mut out = String::new();
        write_hist(&mut out, &buckets, 0, true);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("[1T, 2T) "), "{}", lines[0]);
        assert!(lines[10].starts_with("[1P, 2P) "), "{}", lines[10]);
        assert!(lines[23].starts_with("[8E, 16E) "), "{}", lines[23]);
    }

    /// bpftrace 0.20+'s `log2(n, k)` (codegen_llvm.cpp's createLog2Function), restated from
    /// its comment: 0 below zero, `n + 1` up to `2^k - 1`, else
    /// `((l - k + 1) << k) + (the k bits after the highest set bit l) + 1`.
    fn log2_k(n: i64, k: u8) -> usize {
        let mask = (1i64 << k) - 1;
        if n < 0 {
            return 0;
        }
        if n <= mask {
            return n as usize + 1;
        }
        let l = 63 - n.leading_zeros() as i64 - k as i64;
        ((((l + 1) << k) + ((n >> l) & mask)) + 1) as usize
    }

    // hist(n, k) is bpftrace 0.20+ (0.17 has no k): the expected labels are derived from
    // bpftrace's TextOutput::hist_to_str / hist_index_label (v0.20.0 src/output.cpp).
    #[test]
    fn hist_k_buckets_and_labels() {
        // bpftrace's own example: 225 with k = 2 is bucket 28, [224, 256).
        assert_eq!(log2_k(225, 2), 28);
        assert_eq!(hist_sub_label(27, 2), "224");
        assert_eq!(hist_sub_label(28, 2), "256");
        // Every value lands in a bucket whose bounds hold it, for every k.
        for k in 0..=5u8 {
            assert_eq!(log2_k(i64::MAX, k), crate::plan::hist_buckets(k) - 1);
            for v in [0i64, 1, 2, 3, 7, 31, 63, 64, 100, 225, 1000, 4095, 4096, 1 << 40, (1 << 62) + 5, i64::MAX] {
                let (lo, hi) = hist_bounds(log2_k(v, k), k);
                assert!(lo <= v && v <= hi, "k {k} v {v} in [{lo}, {hi}]");
            }
        }
        let hist = |values: &[i64], k: u8| {
            let mut buckets = vec![0u64; crate::plan::hist_buckets(k)];
            for &v in values {
                buckets[log2_k(v, k)] += 1;
            }
            let mut out = String::new();
            write_hist(&mut out, &buckets, k, false);
            out.lines().map(|l| l[..l.find(" |").unwrap()].trim_end().to_string()).collect::<Vec<_>>()
        };
        // The first 2^(k+1) buckets are single values; units come from the power of two.
        let rows = hist(&[-1, 3, 4, 8], 1);
        assert_eq!(rows, ["(..., 0)               1", "[0]                    0", "[1]                    0", "[2]                    0", "[3]                    1", "[4, 6)                 1", "[6, 8)                 0", "[8, 12)                1"]);
        let rows = hist(&[1000, 4096], 2);
        assert_eq!(rows.first().unwrap(), "[896, 1024)            1");
        assert_eq!(rows[8], "[3584, 4K)             0");
        assert_eq!(rows.last().unwrap(), "[4K, 5K)               1");
        // Above T come P and E (bpftrace 0.20+), unlike k = 0's 0.17 labels.
        assert_eq!(hist(&[1 << 62], 1), ["[4E, 6E)               1"]);
        assert_eq!(hist(&[i64::MAX], 5), ["[8064P, 8192P)         1"]);
    }

    #[test]
    fn all_zero_histograms_print_nothing() {
        let mut out = String::new();
        write_hist(&mut out, &[0; 66], 0, false);
        write_hist(&mut out, &[], 0, true);
        write_lhist(&mut out, &[0; 12], 0, 100, 10, false);
        write_lhist(&mut out, &[1; 12], 0, 100, 0, false);
        assert_eq!(out, "");
    }
}
