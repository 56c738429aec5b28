//! How a map is laid out for printing, decided here once for every output format: which
//! entries (`print(@m, top)`), their values (`div`), and the order bpftrace prints maps and
//! entries in (measured against bpftrace 0.17.0): maps by name; count/sum/min/max/int entries
//! by value, hist/lhist entries by total count, avg/stats entries by average, all others by
//! key. Ties in the value-sorted maps are broken exactly as GNU libstdc++'s (unstable)
//! `std::sort` breaks them, see [`cxx_sort`].

use super::value::{average, Entry, KeyPart, Value};
use crate::plan::ValueKind;

/// The three layouts bpftrace uses when printing a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKind {
    /// count/sum/min/max/int/string maps: `@m[k]: v` lines.
    Plain,
    /// hist()/lhist() maps: header line, histogram rows, empty line per key.
    Hist,
    /// avg() and stats() maps: like `Plain`, plus one empty line after the whole map.
    Avg,
    /// tseries() maps (bpftrace 0.26): a graph per key, keys from the least recently updated.
    TSeries,
}

impl MapKind {
    /// The layout of a map holding values of `kind`.
    pub fn of(kind: ValueKind) -> MapKind {
        match kind {
            ValueKind::Avg | ValueKind::Stats => MapKind::Avg,
            ValueKind::Hist { .. } | ValueKind::Lhist { .. } => MapKind::Hist,
            ValueKind::TSeries { .. } => MapKind::TSeries,
            _ => MapKind::Plain,
        }
    }
}

/// A map ready to print: its entries in print order, `top` and `div` applied.
#[derive(Debug)]
pub struct MapView<'n> {
    /// `@` or `@name`.
    pub name: &'n str,
    pub kind: MapKind,
    pub entries: Vec<Entry>,
}

/// Lays a map out as `print(@map, top, div)` prints it (and, with both 0, as the exit does):
/// values divided by `div` (0: as they are), in bpftrace's order, only the last `top` entries
/// in that order, the largest (0: all).
pub fn arrange(name: &str, kind: MapKind, mut entries: Vec<Entry>, top: usize, div: u64) -> MapView<'_> {
    if div > 0 {
        for e in &mut entries {
            match &mut e.value {
                Value::Int(v) => *v /= div as i64,
                Value::UInt(v) => *v /= div,
                _ => {}
            }
        }
    }
    let mut entries = sort_entries(kind, entries);
    if top > 0 && entries.len() > top {
        entries.drain(..entries.len() - top);
    }
    MapView { name, kind, entries }
}

/// The order in which bpftrace prints several maps at exit: the indices of `names` in plain
/// byte order of the names (`@` sorts before every other name).
pub fn map_order<'n>(names: impl IntoIterator<Item = &'n str>) -> Vec<usize> {
    let names: Vec<&str> = names.into_iter().collect();
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by_key(|&i| names[i]);
    order
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
                cxx_sort(entries, |a, b| {
                    number_value(&a.value) < number_value(&b.value)
                })
            } else {
                // Keys are unique, so this order does not depend on the input order.
                sort_by_key(&mut entries, KeyOrder::Sorted);
                entries
            }
        }
        MapKind::Hist => {
            // bpftrace first groups buckets in a std::map (raw key byte order),
            // then std::sorts by the total count.
            sort_by_key(&mut entries, KeyOrder::Raw);
            cxx_sort(entries, |a, b| hist_total(&a.value) < hist_total(&b.value))
        }
        MapKind::Avg => {
            sort_by_key(&mut entries, KeyOrder::Raw);
            cxx_sort(entries, |a, b| average(&a.value) < average(&b.value))
        }
        MapKind::TSeries => {
            sort_by_key(&mut entries, KeyOrder::Raw);
            let latest = |v: &Value| if let Value::TSeries(s) = v { s.latest } else { 0 };
            cxx_sort(entries, |a, b| latest(&a.value) < latest(&b.value))
        }
    }
}

/// The value of a count/sum/min/max/int entry, for sorting.
pub(super) fn number_value(value: &Value) -> Option<i128> {
    match value {
        Value::Int(v) => Some(i128::from(*v)),
        Value::UInt(v) => Some(i128::from(*v)),
        _ => None,
    }
}

/// Sum of all buckets of a hist/lhist value (bpftrace adds them in 64 bits).
pub(super) fn hist_total(value: &Value) -> u64 {
    let buckets: &[u64] = match value {
        Value::Hist { buckets, .. } => buckets,
        Value::Lhist { buckets, .. } => buckets,
        _ => &[],
    };
    buckets.iter().fold(0u64, |acc, &c| acc.wrapping_add(c))
}

/// The two orders of map keys bpftrace uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrder {
    /// Maps sorted by key: part by part, integers compared as unsigned 64-bit numbers,
    /// strings bytewise.
    Sorted,
    /// The order of the raw key bytes (what a C++ `std::map<std::vector<uint8_t>, _>` gives):
    /// integers are little-endian, so they compare lowest byte first; strings compare bytewise
    /// (NUL padding makes a prefix sort first).
    Raw,
}

/// Sorts `entries` by key in `order` (stable). Each key is encoded once into bytes whose
/// plain byte order is `order` (see [`encode_key`]), so the sort itself compares byte strings:
/// a million keys sort in a fraction of a second.
pub fn sort_by_key(entries: &mut [Entry], order: KeyOrder) {
    entries.sort_by_cached_key(|e| encode_key(&e.key, order));
}

/// Key order of maps sorted by key ([`KeyOrder::Sorted`]).
#[cfg(test)]
pub fn compare_keys_sorted(a: &[KeyPart], b: &[KeyPart]) -> std::cmp::Ordering {
    encode_key(a, KeyOrder::Sorted).cmp(&encode_key(b, KeyOrder::Sorted))
}

/// Order of the raw key bytes ([`KeyOrder::Raw`]).
#[cfg(test)]
pub fn compare_keys_raw(a: &[KeyPart], b: &[KeyPart]) -> std::cmp::Ordering {
    encode_key(a, KeyOrder::Raw).cmp(&encode_key(b, KeyOrder::Raw))
}

/// A key as bytes whose byte order is `order`, record fields in the record's place. Each part
/// is encoded so that no encoding is a prefix of another's and the parts' order is kept: a
/// byte string is written with each NUL as `00 FF` and ends with `00 00` (so a shorter string
/// sorts first); under `Sorted`, an integer is a `00` tag and its 8 big-endian bytes, and a
/// string a `01` tag before its bytes, so integers sort before strings.
fn encode_key(key: &[KeyPart], order: KeyOrder) -> Vec<u8> {
    fn bytes(out: &mut Vec<u8>, b: &[u8]) {
        for &c in b {
            out.push(c);
            if c == 0 {
                out.push(0xff);
            }
        }
        out.extend_from_slice(&[0, 0]);
    }
    fn part(out: &mut Vec<u8>, p: &KeyPart, order: KeyOrder) {
        let int = match p {
            KeyPart::Int(v) => Some(*v as u64),
            KeyPart::UInt(v) => Some(*v),
            KeyPart::Str(s) => {
                if order == KeyOrder::Sorted {
                    out.push(1);
                }
                bytes(out, s.as_bytes());
                None
            }
            KeyPart::Record(fields) => {
                fields.iter().for_each(|(_, f)| part(out, f, order));
                None
            }
        };
        match (int, order) {
            (Some(v), KeyOrder::Sorted) => {
                out.push(0);
                out.extend_from_slice(&v.to_be_bytes());
            }
            (Some(v), KeyOrder::Raw) => bytes(out, &v.to_le_bytes()),
            (None, _) => {}
        }
    }
    let mut out = Vec::with_capacity(16 * key.len());
    key.iter().for_each(|p| part(&mut out, p, order));
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    // bpftrace -e 'BEGIN { @ab = 1; @a_b = 2; @_x = 3; @B = 4; @a = 5; @Z9 = 6; @a1 = 7; @ = 8; exit(); }'
    #[test]
    fn map_names_print_in_byte_order() {
        let names = ["@ab", "@a_b", "@_x", "@B", "@a", "@Z9", "@a1", "@"];
        let sorted: Vec<&str> = map_order(names).into_iter().map(|i| names[i]).collect();
        assert_eq!(sorted, ["@", "@B", "@Z9", "@_x", "@a", "@a1", "@a_b", "@ab"]);
    }

    /// The keys of a map laid out for printing, in print order.
    fn keys(kind: MapKind, entries: Vec<Entry>) -> String {
        let view = arrange("@m", kind, entries, 0, 0);
        view.entries.iter().map(|e| e.key[0].text()).collect::<Vec<_>>().join(" ")
    }

    // BEGIN { @h[1] = hist(1); ... @h[40] = hist(1); @h[7]=hist(1); @h[30]=hist(1);
    //   @h[12] = hist(1); @h[12]=hist(1); exit(); } (the keys of bpftrace 0.17's output)
    // More than 16 keys: ties come out in libstdc++ std::sort's (unstable) order.
    #[test]
    fn many_hist_keys_with_ties() {
        let mut entries = Vec::new();
        for k in (1..=40).rev() {
            let extra = match k {
                7 | 30 => 1,
                12 => 2,
                _ => 0,
            };
            // Every value is 1: bucket [1].
            let mut buckets = vec![0; 66];
            buckets[2] = 1 + extra;
            entries.push(Entry { key: vec![KeyPart::Int(k)], value: Value::Hist { buckets, k: 0 } });
        }
        assert_eq!(
            keys(MapKind::Hist, entries),
            "31 1 22 23 24 25 26 27 28 29 21 32 33 34 35 36 37 38 39 40 11 2 3 4 5 6 8 9 10 \
         20 13 14 15 16 17 18 19 30 7 12"
        );
    }

    // BEGIN { @a[1] = avg(1); ... @a[40] = avg(1); @a[5]=avg(3); exit(); } (bpftrace 0.17)
    #[test]
    fn many_avg_keys_with_ties() {
        let mut entries = Vec::new();
        for k in 1..=40 {
            let value = if k == 5 { Value::Avg { sum: 4, count: 2 } } else { Value::Avg { sum: 1, count: 1 } };
            entries.push(Entry { key: vec![KeyPart::Int(k)], value });
        }
        assert_eq!(
            keys(MapKind::Avg, entries),
            "31 22 23 24 25 26 27 28 29 30 21 32 33 34 35 36 37 38 39 40 11 2 3 4 6 7 8 9 10 \
         1 12 13 14 15 16 17 18 19 20 5"
        );
    }

    // The encoded orders against their definitions, over keys that differ in every way that
    // matters: sign, byte order, strings that are prefixes of others or hold NULs, records.
    #[test]
    fn encoded_key_orders_match_their_definitions() {
        use std::cmp::Ordering;
        let s = |t: &str| KeyPart::Str(t.to_string());
        let flat = |k: &[KeyPart]| -> Vec<KeyPart> {
            k.iter().flat_map(|p| match p {
                KeyPart::Record(f) => f.iter().map(|(_, p)| p.clone()).collect(),
                p => vec![p.clone()],
            }).collect()
        };
        let sorted = |a: &[KeyPart], b: &[KeyPart]| -> Ordering {
            let f = |p: &KeyPart| match p {
                KeyPart::Int(v) => Ok(*v as u64),
                KeyPart::UInt(v) => Ok(*v),
                KeyPart::Str(s) => Err(s.as_bytes().to_vec()),
                KeyPart::Record(_) => Err(Vec::new()),
            };
            flat(a).iter().map(f).cmp(flat(b).iter().map(f))
        };
        let raw = |a: &[KeyPart], b: &[KeyPart]| -> Ordering {
            let f = |p: &KeyPart| match p {
                KeyPart::Int(v) => v.to_le_bytes().to_vec(),
                KeyPart::UInt(v) => v.to_le_bytes().to_vec(),
                KeyPart::Str(s) => s.as_bytes().to_vec(),
                KeyPart::Record(_) => Vec::new(),
            };
            flat(a).iter().map(f).cmp(flat(b).iter().map(f))
        };
        let keys: Vec<Vec<KeyPart>> = vec![
            vec![],
            vec![KeyPart::Int(-1)],
            vec![KeyPart::Int(1)],
            vec![KeyPart::Int(256)],
            vec![KeyPart::UInt(u64::MAX)],
            vec![KeyPart::Int(0)],
            vec![s("")],
            vec![s("a")],
            vec![s("a\0")],
            vec![s("ab")],
            vec![s("a"), KeyPart::Int(2)],
            vec![s("a"), KeyPart::Int(-2)],
            vec![s("ab"), KeyPart::Int(2)],
            vec![s(""), s("b")],
            vec![s("\0"), s("")],
            vec![KeyPart::Record(vec![("n".into(), s("a")), ("i".into(), KeyPart::Int(2))])],
            vec![KeyPart::Record(vec![("n".into(), s("a")), ("i".into(), KeyPart::Int(3))])],
        ];
        for a in &keys {
            for b in &keys {
                // Keys of one map have one shape: compare only those whose parts agree.
                let kinds = |k: &[KeyPart]| flat(k).iter().map(|p| matches!(p, KeyPart::Str(_))).collect::<Vec<_>>();
                if kinds(a) != kinds(b) {
                    continue;
                }
                assert_eq!(compare_keys_sorted(a, b), sorted(a, b), "sorted {a:?} {b:?}");
                assert_eq!(compare_keys_raw(a, b), raw(a, b), "raw {a:?} {b:?}");
            }
        }
    }

    #[test]
    fn top_keeps_the_largest_and_div_divides() {
        let entries = (1..=5).map(|k| Entry { key: vec![KeyPart::Int(k)], value: Value::UInt(10 * k as u64) }).collect();
        let view = arrange("@m", MapKind::Plain, entries, 2, 10);
        let values: Vec<&Value> = view.entries.iter().map(|e| &e.value).collect();
        assert_eq!(values, [&Value::UInt(4), &Value::UInt(5)]);
    }

    // Expected permutation from g++ 12 / libstdc++: std::sort of (value, index)
    // pairs by value. This input (a McIlroy "antiqsort" adversary folded to
    // create ties) drives introsort into its heapsort fallback.
    #[test]
    fn cxx_sort_matches_libstdcxx_including_heapsort() {
        let values: [i64; 64] = [
            23, 0, 26, 1, 30, 2, 25, 3, 28, 4, 24, 5, 32, 6, 23, 7, 27, 8, 22, 9, 29, 10, 12, 11,
            31, 30, 29, 28, 27, 26, 25, 24, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 22, 20, 21, 19,
            20, 18, 19, 17, 18, 16, 17, 15, 16, 14, 15, 13, 14, 12, 13, 21,
        ];
        let expected: [usize; 64] = [
            1, 32, 3, 33, 5, 34, 7, 35, 9, 36, 11, 37, 13, 38, 15, 39, 17, 40, 19, 41, 21, 42, 23,
            43, 22, 61, 59, 62, 57, 60, 58, 55, 56, 53, 51, 54, 49, 52, 47, 50, 45, 48, 63, 46, 18,
            44, 14, 0, 31, 10, 6, 30, 2, 29, 16, 28, 27, 8, 20, 26, 25, 4, 24, 12,
        ];
        let items: Vec<(i64, usize)> = values.iter().copied().zip(0..).collect();
        let sorted = cxx_sort(items, |a, b| a.0 < b.0);
        let order: Vec<usize> = sorted.iter().map(|x| x.1).collect();
        assert_eq!(order, expected);
    }

}
