//! Text output of maps, byte-compatible with bpftrace 0.17 (rules in docs/bpftrace-output.md).
//!
//! This module is pure: it turns already-decoded map contents into the exact
//! text bpftrace 0.17 prints at exit (and for `print(@map)`). It does no I/O.
//!
//! Summary of the rules (measured against bpftrace 0.17.0):
//!
//! * Maps print in byte order of their names (`@` first, then `@B`, `@_x`, `@a`).
//! * Ordinary maps print one `@name[k1, k2]: value` line per entry, then nothing
//!   else; an empty map prints a single empty line.
//! * `avg()` maps print their lines followed by one extra empty line (an empty
//!   `avg()` map prints two empty lines).
//! * `hist()`/`lhist()` maps print `@name[key]: ` (note the trailing space), the
//!   histogram rows, and an empty line, for every key.
//! * Entry order: count/sum/min/max/int maps by value ascending; hist/lhist maps
//!   by total count ascending; avg maps by average ascending; all other maps by
//!   key (integers compared as unsigned, strings bytewise). Ties in the
//!   value-sorted maps are broken exactly as GNU libstdc++'s (unstable)
//!   `std::sort` breaks them, see [`cxx_sort`].

/// One part of a map key.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyPart {
    Int(i64),
    UInt(u64),
    Str(String),
}

/// A decoded map value (already summed over CPUs by the caller).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// non-aggregate signed int, sum(), min(), max()
    Int(i64),
    /// count(), or a non-aggregate unsigned 64-bit int
    UInt(u64),
    Str(String),
    Avg { sum: i64, count: u64 },
    /// log2 histogram: index 0 = negative values, 1 = value 0, k>=2 = [2^(k-2), 2^(k-1)); length 66
    Hist(Vec<u64>),
    /// linear histogram: index 0 = below min, 1..=n = [min+step*(i-1), min+step*i), last = >= max
    Lhist {
        buckets: Vec<u64>,
        min: i64,
        max: i64,
        step: i64,
    },
}

/// One map entry: its key (empty for a scalar map such as `@` or `@x`) and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Vec<KeyPart>,
    pub value: Value,
}

/// The three layouts bpftrace uses when printing a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKind {
    /// count/sum/min/max/int/string maps: `@m[k]: v` lines.
    Plain,
    /// hist()/lhist() maps: header line, histogram rows, empty line per key.
    Hist,
    /// avg() maps: like `Plain`, plus one empty line after the whole map.
    Avg,
}

impl Value {
    /// The layout a map holding this kind of value is printed with.
    pub fn map_kind(&self) -> MapKind {
        match self {
            Value::Hist(_) | Value::Lhist { .. } => MapKind::Hist,
            Value::Avg { .. } => MapKind::Avg,
            Value::Int(_) | Value::UInt(_) | Value::Str(_) => MapKind::Plain,
        }
    }
}

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
pub fn write_map(out: &mut String, name: &str, entries: Vec<Entry>) {
    let kind = match entries.first() {
        Some(first) => first.value.map_kind(),
        None => {
            write_empty_map(out, MapKind::Plain);
            return;
        }
    };
    let entries = sort_entries(kind, entries);
    for entry in &entries {
        out.push_str(name);
        out.push_str(&key_suffix(&entry.key));
        out.push_str(": ");
        match &entry.value {
            Value::Hist(buckets) => {
                out.push('\n');
                write_hist(out, buckets);
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
/// prints nothing.
pub fn write_hist(out: &mut String, buckets: &[u64]) {
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
            1 => "[0]".to_string(),
            2 => "[1]".to_string(),
            _ => format!("[{}, {})", hist_index_label(i - 2), hist_index_label(i - 1)),
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
    let parts: Vec<String> = key
        .iter()
        .map(|part| match part {
            KeyPart::Int(v) => v.to_string(),
            KeyPart::UInt(v) => (*v as i64).to_string(),
            KeyPart::Str(s) => s.clone(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// The order in which bpftrace prints several maps at exit, given their names.
///
/// That is plain byte order of the names: `@` sorts before every other name.
pub fn map_print_order(names: &mut Vec<String>) {
    names.sort();
}

/// Sorts `items` into exactly the order GNU libstdc++'s `std::sort` (introsort:
/// median-of-three quicksort, heapsort past the depth limit, insertion sort
/// below 16 elements) produces for the same input and comparison.
///
/// `std::sort` is not stable, and bpftrace uses it for value-sorted maps, so
/// equal values come out in this particular order, which differs from any
/// stable sort once there are more than 16 entries.
pub fn cxx_sort<T>(items: Vec<T>, mut less: impl FnMut(&T, &T) -> bool) -> Vec<T> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    {
        let mut lt = |a: usize, b: usize| less(&items[a], &items[b]);
        libstdcxx::sort(&mut order, &mut lt);
    }
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order.iter().filter_map(|&i| slots[i].take()).collect()
}

/// Puts the entries of one map into bpftrace's print order.
fn sort_entries(kind: MapKind, mut entries: Vec<Entry>) -> Vec<Entry> {
    match kind {
        MapKind::Plain => {
            let all_numbers = entries.iter().all(|e| number_value(&e.value).is_some());
            if all_numbers {
                // std::sort over the kernel's iteration order, by value.
                cxx_sort(entries, |a, b| number_value(&a.value) < number_value(&b.value))
            } else {
                // Keys are unique, so this order does not depend on the input order.
                entries.sort_by(|a, b| compare_keys_sorted(&a.key, &b.key));
                entries
            }
        }
        MapKind::Hist => {
            // bpftrace first groups buckets in a std::map (raw key byte order),
            // then std::sorts by the total count.
            entries.sort_by(|a, b| compare_keys_raw(&a.key, &b.key));
            cxx_sort(entries, |a, b| hist_total(&a.value) < hist_total(&b.value))
        }
        MapKind::Avg => {
            entries.sort_by(|a, b| compare_keys_raw(&a.key, &b.key));
            cxx_sort(entries, |a, b| average(&a.value) < average(&b.value))
        }
    }
}

/// The value of a count/sum/min/max/int entry, for sorting.
fn number_value(value: &Value) -> Option<i128> {
    match value {
        Value::Int(v) => Some(i128::from(*v)),
        Value::UInt(v) => Some(i128::from(*v)),
        _ => None,
    }
}

/// Sum of all buckets of a hist/lhist value (bpftrace adds them in 64 bits).
fn hist_total(value: &Value) -> u64 {
    let buckets: &[u64] = match value {
        Value::Hist(buckets) => buckets,
        Value::Lhist { buckets, .. } => buckets,
        _ => &[],
    };
    buckets.iter().fold(0u64, |acc, &c| acc.wrapping_add(c))
}

/// avg() result: sum / count, truncated toward zero; 0 when count is 0.
fn average(value: &Value) -> i64 {
    match value {
        Value::Avg { sum, count } => {
            let count = *count as i64;
            if count == 0 {
                0
            } else {
                sum.wrapping_div(count)
            }
        }
        _ => 0,
    }
}

/// The text after `@name[key]: ` for a one-line value.
fn scalar_value_text(value: &Value) -> String {
    match value {
        Value::Int(v) => v.to_string(),
        Value::UInt(v) => v.to_string(),
        Value::Str(s) => s.clone(),
        Value::Avg { .. } => average(value).to_string(),
        Value::Hist(_) | Value::Lhist { .. } => String::new(),
    }
}

/// Key order of maps sorted by key: part by part, integers compared as
/// unsigned 64-bit numbers, strings bytewise.
fn compare_keys_sorted(a: &[KeyPart], b: &[KeyPart]) -> std::cmp::Ordering {
    fn as_unsigned(part: &KeyPart) -> Result<u64, &[u8]> {
        match part {
            KeyPart::Int(v) => Ok(*v as u64),
            KeyPart::UInt(v) => Ok(*v),
            KeyPart::Str(s) => Err(s.as_bytes()),
        }
    }
    let a = a.iter().map(as_unsigned);
    let b = b.iter().map(as_unsigned);
    a.cmp(b)
}

/// Order of the raw key bytes (what a C++ `std::map<std::vector<uint8_t>, _>`
/// gives): integers are little-endian, so they compare lowest byte first;
/// strings compare bytewise (NUL padding makes a prefix sort first).
fn compare_keys_raw(a: &[KeyPart], b: &[KeyPart]) -> std::cmp::Ordering {
    fn raw(part: &KeyPart) -> Vec<u8> {
        match part {
            KeyPart::Int(v) => v.to_le_bytes().to_vec(),
            KeyPart::UInt(v) => v.to_le_bytes().to_vec(),
            KeyPart::Str(s) => s.as_bytes().to_vec(),
        }
    }
    a.iter().map(raw).cmp(b.iter().map(raw))
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

/// A line-by-line port of the algorithm of GNU libstdc++'s `std::sort` and the
/// heapsort it falls back to, working on a slice of indices.
mod libstdcxx {
    /// Below this many elements, introsort leaves the range to insertion sort.
    const THRESHOLD: usize = 16;

    type Less<'a> = dyn FnMut(usize, usize) -> bool + 'a;

    /// `std::sort(v.begin(), v.end(), lt)`.
    pub(super) fn sort(v: &mut [usize], lt: &mut Less<'_>) {
        let n = v.len();
        if n == 0 {
            return;
        }
        let depth_limit = 2 * floor_log2(n);
        introsort_loop(v, 0, n, depth_limit, lt);
        final_insertion_sort(v, 0, n, lt);
    }

    fn floor_log2(n: usize) -> usize {
        (usize::BITS - 1 - n.leading_zeros()) as usize
    }

    fn introsort_loop(
        v: &mut [usize],
        first: usize,
        mut last: usize,
        mut depth_limit: usize,
        lt: &mut Less<'_>,
    ) {
        while last - first > THRESHOLD {
            if depth_limit == 0 {
                heap_sort(&mut v[first..last], lt);
                return;
            }
            depth_limit -= 1;
            let cut = partition_pivot(v, first, last, lt);
            introsort_loop(v, cut, last, depth_limit, lt);
            last = cut;
        }
    }

    fn partition_pivot(v: &mut [usize], first: usize, last: usize, lt: &mut Less<'_>) -> usize {
        let mid = first + (last - first) / 2;
        move_median_to_first(v, first, first + 1, mid, last - 1, lt);
        unguarded_partition(v, first + 1, last, first, lt)
    }

    fn move_median_to_first(
        v: &mut [usize],
        result: usize,
        a: usize,
        b: usize,
        c: usize,
        lt: &mut Less<'_>,
    ) {
        let chosen = if lt(v[a], v[b]) {
            if lt(v[b], v[c]) {
                b
            } else if lt(v[a], v[c]) {
                c
            } else {
                a
            }
        } else if lt(v[a], v[c]) {
            a
        } else if lt(v[b], v[c]) {
            c
        } else {
            b
        };
        v.swap(result, chosen);
    }

    fn unguarded_partition(
        v: &mut [usize],
        mut first: usize,
        mut last: usize,
        pivot: usize,
        lt: &mut Less<'_>,
    ) -> usize {
        loop {
            while first < v.len() && lt(v[first], v[pivot]) {
                first += 1;
            }
            last -= 1;
            while last > 0 && lt(v[pivot], v[last]) {
                last -= 1;
            }
            if first >= last {
                return first;
            }
            v.swap(first, last);
            first += 1;
        }
    }

    fn final_insertion_sort(v: &mut [usize], first: usize, last: usize, lt: &mut Less<'_>) {
        if last - first > THRESHOLD {
            insertion_sort(v, first, first + THRESHOLD, lt);
            for i in first + THRESHOLD..last {
                unguarded_linear_insert(v, i, lt);
            }
        } else {
            insertion_sort(v, first, last, lt);
        }
    }

    fn insertion_sort(v: &mut [usize], first: usize, last: usize, lt: &mut Less<'_>) {
        if first == last {
            return;
        }
        for i in first + 1..last {
            if lt(v[i], v[first]) {
                v[first..=i].rotate_right(1);
            } else {
                unguarded_linear_insert(v, i, lt);
            }
        }
    }

    fn unguarded_linear_insert(v: &mut [usize], mut last: usize, lt: &mut Less<'_>) {
        let val = v[last];
        while last > 0 && lt(val, v[last - 1]) {
            v[last] = v[last - 1];
            last -= 1;
        }
        v[last] = val;
    }

    /// `std::partial_sort(first, last, last)`: make_heap, then sort_heap.
    pub(super) fn heap_sort(s: &mut [usize], lt: &mut Less<'_>) {
        make_heap(s, lt);
        let mut last = s.len();
        while last > 1 {
            last -= 1;
            // __pop_heap(first, last, last)
            let value = s[last];
            s[last] = s[0];
            adjust_heap(s, 0, last, value, lt);
        }
    }

    fn make_heap(s: &mut [usize], lt: &mut Less<'_>) {
        let len = s.len();
        if len < 2 {
            return;
        }
        let mut parent = (len - 2) / 2;
        loop {
            let value = s[parent];
            adjust_heap(s, parent, len, value, lt);
            if parent == 0 {
                return;
            }
            parent -= 1;
        }
    }

    fn adjust_heap(s: &mut [usize], mut hole: usize, len: usize, value: usize, lt: &mut Less<'_>) {
        let top = hole;
        let mut second = hole;
        while second < (len - 1) / 2 {
            second = 2 * (second + 1);
            if lt(s[second], s[second - 1]) {
                second -= 1;
            }
            s[hole] = s[second];
            hole = second;
        }
        if (len & 1) == 0 && second == (len - 2) / 2 {
            second = 2 * (second + 1);
            s[hole] = s[second - 1];
            hole = second - 1;
        }
        // __push_heap
        while hole > top {
            let parent = (hole - 1) / 2;
            if !lt(s[parent], value) {
                break;
            }
            s[hole] = s[parent];
            hole = parent;
        }
        s[hole] = value;
    }
}
