//! Every expected string below is the real stdout of bpftrace 0.17.0 on
//! this machine (minus the `Attaching N probes...` line and the two empty
//! lines bpftrace prints before the maps); the command is in each comment.

use super::*;
use crate::runtime::layout::{arrange, compare_keys_raw, compare_keys_sorted, map_order};
use crate::runtime::value::Entry;

/// A map as bpftrace prints it at exit: laid out (`layout::arrange`) by the kind of its
/// values, then written.
fn write_map(out: &mut String, name: &str, entries: Vec<Entry>) {
    let kind = match entries.first().map(|e| &e.value) {
        Some(Value::Hist { .. } | Value::Lhist { .. }) => MapKind::Hist,
        Some(Value::Avg { .. } | Value::Stats { .. }) => MapKind::Avg,
        _ => MapKind::Plain,
    };
    super::write_map(out, &arrange(name, kind, entries, 0, 0), crate::runtime::Compat::V017);
}

/// Bucket index of bpftrace 0.17's `hist()`: its log2 only looks at 32
/// bits, so every value >= 2^31 lands in `[2G, 4G)` (index 33).
fn hist_bucket(v: i64) -> usize {
    if v < 0 {
        0
    } else if v == 0 {
        1
    } else {
        2 + (63 - v.leading_zeros() as usize).min(31)
    }
}

fn hist_of(values: &[i64]) -> Value {
    let mut buckets = vec![0u64; 66];
    for &v in values {
        buckets[hist_bucket(v)] += 1;
    }
    Value::Hist { buckets, k: 0 }
}

/// Bucket index of bpftrace 0.17's `lhist()`.
fn lhist_of(values: &[i64], min: i64, max: i64, step: i64) -> Value {
    let top = 1 + (max - min) / step;
    let mut buckets = vec![0u64; top as usize + 1];
    for &v in values {
        let i = if v < min {
            0
        } else if v > max {
            top
        } else {
            1 + (v - min) / step
        };
        buckets[i as usize] += 1;
    }
    Value::Lhist {
        buckets,
        min,
        max,
        step,
    }
}

fn e(key: Vec<KeyPart>, value: Value) -> Entry {
    Entry { key, value }
}

fn i(v: i64) -> KeyPart {
    KeyPart::Int(v)
}

fn s(v: &str) -> KeyPart {
    KeyPart::Str(v.to_string())
}

/// Prints several maps the way bpftrace does at exit (without the two
/// leading newlines).
fn print_all(maps: Vec<(&str, Vec<Entry>)>) -> String {
    let order = map_order(maps.iter().map(|(n, _)| *n));
    let mut maps: Vec<Option<(&str, Vec<Entry>)>> = maps.into_iter().map(Some).collect();
    let mut out = String::new();
    for i in order {
        if let Some((name, entries)) = maps[i].take() {
            write_map(&mut out, name, entries);
        }
    }
    out
}

// bpftrace -e 'BEGIN { @a = count(); @b[1] = 5; @c["x", 2] = 3; @ = 7; exit(); }'
#[test]
fn scalars_keys_and_map_order() {
    let out = print_all(vec![
        ("@a", vec![e(vec![], Value::UInt(1))]),
        ("@b", vec![e(vec![i(1)], Value::Int(5))]),
        ("@c", vec![e(vec![s("x"), i(2)], Value::Int(3))]),
        ("@", vec![e(vec![], Value::Int(7))]),
    ]);
    assert_eq!(
        out,
        "@: 7\n\
         @a: 1\n\
         @b[1]: 5\n\
         @c[x, 2]: 3\n"
    );
}

// bpftrace -e 'BEGIN { @h = hist(0); @h = hist(1); @h = hist(2); @h = hist(3);
//   @h = hist(5); @h = hist(100); @h = hist(1500); exit(); }'
#[test]
fn hist_small_values() {
    let mut out = String::new();
    write_map(
        &mut out,
        "@h",
        vec![e(vec![], hist_of(&[0, 1, 2, 3, 5, 100, 1500]))],
    );
    assert_eq!(
        out,
        "@h: \n\
[0]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\
[1]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\
[2, 4)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\
[8, 16)                0 |                                                    |\n\
[16, 32)               0 |                                                    |\n\
[32, 64)               0 |                                                    |\n\
[64, 128)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\
[128, 256)             0 |                                                    |\n\
[256, 512)             0 |                                                    |\n\
[512, 1K)              0 |                                                    |\n\
[1K, 2K)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\
\n"
    );
}

// bpftrace -e 'BEGIN { @h = hist(1048576); @h = hist(2147483648); @h = hist(-1);
//   @h = hist(-100); @h = hist(1099511627776); @h=hist(4611686018427387904);
//   @h=hist(9223372036854775807); exit(); }'
#[test]
fn hist_negative_and_large_values() {
    let mut out = String::new();
    let values = [
        1048576,
        2147483648,
        -1,
        -100,
        1099511627776,
        4611686018427387904,
        9223372036854775807,
    ];
    write_map(&mut out, "@h", vec![e(vec![], hist_of(&values))]);
    assert_eq!(
        out,
        "@h: \n\
(..., 0)               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\
[0]                    0 |                                                    |\n\
[1]                    0 |                                                    |\n\
[2, 4)                 0 |                                                    |\n\
[4, 8)                 0 |                                                    |\n\
[8, 16)                0 |                                                    |\n\
[16, 32)               0 |                                                    |\n\
[32, 64)               0 |                                                    |\n\
[64, 128)              0 |                                                    |\n\
[128, 256)             0 |                                                    |\n\
[256, 512)             0 |                                                    |\n\
[512, 1K)              0 |                                                    |\n\
[1K, 2K)               0 |                                                    |\n\
[2K, 4K)               0 |                                                    |\n\
[4K, 8K)               0 |                                                    |\n\
[8K, 16K)              0 |                                                    |\n\
[16K, 32K)             0 |                                                    |\n\
[32K, 64K)             0 |                                                    |\n\
[64K, 128K)            0 |                                                    |\n\
[128K, 256K)           0 |                                                    |\n\
[256K, 512K)           0 |                                                    |\n\
[512K, 1M)             0 |                                                    |\n\
[1M, 2M)               1 |@@@@@@@@@@@@@                                       |\n\
[2M, 4M)               0 |                                                    |\n\
[4M, 8M)               0 |                                                    |\n\
[8M, 16M)              0 |                                                    |\n\
[16M, 32M)             0 |                                                    |\n\
[32M, 64M)             0 |                                                    |\n\
[64M, 128M)            0 |                                                    |\n\
[128M, 256M)           0 |                                                    |\n\
[256M, 512M)           0 |                                                    |\n\
[512M, 1G)             0 |                                                    |\n\
[1G, 2G)               0 |                                                    |\n\
[2G, 4G)               4 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n"
    );
}

// bpftrace -e 'BEGIN { @h["cat"] = hist(5); @h["cat"] = hist(5); @h["cat"] = hist(6);
//   @h["dog"] = hist(1); @h["ant"] = hist(10); @h["ant"] = hist(1000);
//   @h["ant"]=hist(1000); @h["ant"]=hist(1000); @g = hist(3); exit(); }'
#[test]
fn keyed_hist_sorted_by_total_count() {
    let out = print_all(vec![
        (
            "@h",
            vec![
                e(vec![s("cat")], hist_of(&[5, 5, 6])),
                e(vec![s("dog")], hist_of(&[1])),
                e(vec![s("ant")], hist_of(&[10, 1000, 1000, 1000])),
            ],
        ),
        ("@g", vec![e(vec![], hist_of(&[3]))]),
    ]);
    assert_eq!(
        out,
        "@g: \n\
[2, 4)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n\
@h[dog]: \n\
[1]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n\
@h[cat]: \n\
[4, 8)                 3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n\
@h[ant]: \n\
[8, 16)                1 |@@@@@@@@@@@@@@@@@                                   |\n\
[16, 32)               0 |                                                    |\n\
[32, 64)               0 |                                                    |\n\
[64, 128)              0 |                                                    |\n\
[128, 256)             0 |                                                    |\n\
[256, 512)             0 |                                                    |\n\
[512, 1K)              3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n"
    );
}

// bpftrace -e 'BEGIN { @h[1] = hist(5); @h[256] = hist(5); @h[2] = hist(5);
//   @h[-1] = hist(5); @h[3]=hist(1); @h[3]=hist(1); exit(); }'
// Equal totals keep the order of the raw little-endian key bytes.
#[test]
fn keyed_hist_ties_follow_raw_key_bytes() {
    let mut out = String::new();
    write_map(
        &mut out,
        "@h",
        vec![
            e(vec![i(3)], hist_of(&[1, 1])),
            e(vec![i(-1)], hist_of(&[5])),
            e(vec![i(2)], hist_of(&[5])),
            e(vec![i(1)], hist_of(&[5])),
            e(vec![i(256)], hist_of(&[5])),
        ],
    );
    assert_eq!(
        out,
        "@h[256]: \n\
[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n\
@h[1]: \n\
[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n\
@h[2]: \n\
[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n\
@h[-1]: \n\
[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n\
@h[3]: \n\
[1]                    2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n"
    );
}

// timeout -s INT 3 bpftrace -e 'tracepoint:syscalls:sys_enter_read
//   /comm == "dd" || comm == "head"/ { @h[comm] = hist(args->count);
//   @c[comm] = count(); @s[comm] = sum(args->count); @a[comm] = avg(args->count); }'
// while running `dd if=/dev/zero of=/dev/null bs=3000 count=50; head -c 100000 /dev/zero`
#[test]
fn real_workload_all_kinds() {
    let mut head = vec![0u64; 66];
    head[11] = 1;
    head[12] = 1;
    head[14] = 2;
    head[15] = 12;
    let mut dd = vec![0u64; 66];
    dd[11] = 1;
    dd[13] = 50;
    dd[14] = 2;
    let out = print_all(vec![
        (
            "@h",
            vec![
                e(vec![s("dd")], Value::Hist { buckets: dd, k: 0 }),
                e(vec![s("head")], Value::Hist { buckets: head, k: 0 }),
            ],
        ),
        (
            "@c",
            vec![
                e(vec![s("dd")], Value::UInt(53)),
                e(vec![s("head")], Value::UInt(16)),
            ],
        ),
        (
            "@s",
            vec![
                e(vec![s("dd")], Value::Int(159024)),
                e(vec![s("head")], Value::Int(109024)),
            ],
        ),
        (
            "@a",
            vec![
                e(
                    vec![s("head")],
                    Value::Avg {
                        sum: 109024,
                        count: 16,
                    },
                ),
                e(
                    vec![s("dd")],
                    Value::Avg {
                        sum: 159024,
                        count: 53,
                    },
                ),
            ],
        ),
    ]);
    assert_eq!(
        out,
        "@a[dd]: 3000\n\
@a[head]: 6814\n\
\n\
@c[head]: 16\n\
@c[dd]: 53\n\
@h[head]: \n\
[512, 1K)              1 |@@@@                                                |\n\
[1K, 2K)               1 |@@@@                                                |\n\
[2K, 4K)               0 |                                                    |\n\
[4K, 8K)               2 |@@@@@@@@                                            |\n\
[8K, 16K)             12 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n\
@h[dd]: \n\
[512, 1K)              1 |@                                                   |\n\
[1K, 2K)               0 |                                                    |\n\
[2K, 4K)              50 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
[4K, 8K)               2 |@@                                                  |\n\
\n\
@s[head]: 109024\n\
@s[dd]: 159024\n"
    );
}

// bpftrace -e 'BEGIN { @l = lhist(-5, 0, 100, 10); @l = lhist(0, 0, 100, 10);
//   @l = lhist(15, 0, 100, 10); @l = lhist(15, 0, 100, 10); @l = lhist(99, 0, 100, 10);
//   @l = lhist(100, 0, 100, 10); @l = lhist(1000, 0, 100, 10); exit(); }'
#[test]
fn lhist_below_inside_and_above() {
    let mut out = String::new();
    write_map(
        &mut out,
        "@l",
        vec![e(
            vec![],
            lhist_of(&[-5, 0, 15, 15, 99, 100, 1000], 0, 100, 10),
        )],
    );
    assert_eq!(
        out,
        "@l: \n\
(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\
[0, 10)                1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\
[10, 20)               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
[20, 30)               0 |                                                    |\n\
[30, 40)               0 |                                                    |\n\
[40, 50)               0 |                                                    |\n\
[50, 60)               0 |                                                    |\n\
[60, 70)               0 |                                                    |\n\
[70, 80)               0 |                                                    |\n\
[80, 90)               0 |                                                    |\n\
[90, 100)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\
[100, ...)             2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n"
    );
}

// bpftrace -e 'BEGIN { @l = lhist(15, 0, 100, 10); @l = lhist(35, 0, 100, 10);
//   @m = lhist(3000, 0, 10240, 1024); @m = lhist(20000, 0, 10240, 1024);
//   @n = lhist(1500000, 1048576, 3145728, 524288); @n = lhist(5, 1048576, 3145728, 524288);
//   exit(); }'
#[test]
fn lhist_trimmed_and_unit_labels() {
    let out = print_all(vec![
        ("@l", vec![e(vec![], lhist_of(&[15, 35], 0, 100, 10))]),
        (
            "@m",
            vec![e(vec![], lhist_of(&[3000, 20000], 0, 10240, 1024))],
        ),
        (
            "@n",
            vec![e(vec![], lhist_of(&[1500000, 5], 1048576, 3145728, 524288))],
        ),
    ]);
    assert_eq!(
        out,
        "@l: \n\
[10, 20)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
[20, 30)               0 |                                                    |\n\
[30, 40)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n\
@m: \n\
[2K, 3K)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
[3K, 4K)               0 |                                                    |\n\
[4K, 5K)               0 |                                                    |\n\
[5K, 6K)               0 |                                                    |\n\
[6K, 7K)               0 |                                                    |\n\
[7K, 8K)               0 |                                                    |\n\
[8K, 9K)               0 |                                                    |\n\
[9K, 10K)              0 |                                                    |\n\
[10K, ...)             1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n\
@n: \n\
(..., 1M)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
[1M, 1536K)            1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n"
    );
}

// bpftrace -e 'BEGIN { @l[1] = lhist(15, 0, 100, 10); @l[2] = lhist(35, 0, 100, 10);
//   @l[2] = lhist(55, 0, 100, 10); @e = lhist(5, 0, 10, 3); @e = lhist(10, 0, 10, 3);
//   @e = lhist(9, 0, 10, 3); exit(); }'
// (0, 10, 3) has 3 in-range buckets; the 4th is labelled from `max`.
#[test]
fn lhist_keyed_and_uneven_step() {
    let out = print_all(vec![
        (
            "@l",
            vec![
                e(vec![i(2)], lhist_of(&[35, 55], 0, 100, 10)),
                e(vec![i(1)], lhist_of(&[15], 0, 100, 10)),
            ],
        ),
        ("@e", vec![e(vec![], lhist_of(&[5, 10, 9], 0, 10, 3))]),
    ]);
    assert_eq!(
        out,
        "@e: \n\
[3, 6)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\
[6, 9)                 0 |                                                    |\n\
[10, ...)              2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n\
@l[1]: \n\
[10, 20)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n\
@l[2]: \n\
[30, 40)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
[40, 50)               0 |                                                    |\n\
[50, 60)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n"
    );
}

// bpftrace -e 'BEGIN { @c[1] = count(); @c[2] = count(); @c[2] = count(); @c[3] = count();
//   @c[3] = count(); @c[3] = count(); @c[0]=count(); exit(); }'
// (The tie @c[1]/@c[0] comes out in the kernel's iteration order.)
#[test]
fn counts_sorted_by_value() {
    let mut out = String::new();
    write_map(
        &mut out,
        "@c",
        vec![
            e(vec![i(3)], Value::UInt(3)),
            e(vec![i(1)], Value::UInt(1)),
            e(vec![i(2)], Value::UInt(2)),
            e(vec![i(0)], Value::UInt(1)),
        ],
    );
    assert_eq!(
        out,
        "@c[1]: 1\n\
         @c[0]: 1\n\
         @c[2]: 2\n\
         @c[3]: 3\n"
    );
}

// bpftrace -e 'BEGIN { @s[1] = sum(5); @s[2] = sum(-7); @s[3] = sum(3); @s[3] = sum(-10);
//   @mn[1] = min(5); @mn[2] = min(-3); @mn[3]=min(100); @mx[1] = max(5); @mx[2] = max(-3);
//   @mx[3] = max(100); exit(); }'
// (max(-3) never creates its key in 0.17, so @mx[2] is absent.)
#[test]
fn sum_min_max_sorted_signed() {
    let out = print_all(vec![
        (
            "@s",
            vec![
                e(vec![i(1)], Value::Int(5)),
                e(vec![i(2)], Value::Int(-7)),
                e(vec![i(3)], Value::Int(-7)),
            ],
        ),
        (
            "@mn",
            vec![
                e(vec![i(1)], Value::Int(5)),
                e(vec![i(2)], Value::Int(-3)),
                e(vec![i(3)], Value::Int(100)),
            ],
        ),
        (
            "@mx",
            vec![e(vec![i(3)], Value::Int(100)), e(vec![i(1)], Value::Int(5))],
        ),
    ]);
    assert_eq!(
        out,
        "@mn[2]: -3\n\
         @mn[1]: 5\n\
         @mn[3]: 100\n\
         @mx[1]: 5\n\
         @mx[3]: 100\n\
         @s[2]: -7\n\
         @s[3]: -7\n\
         @s[1]: 5\n"
    );
}

// bpftrace -e 'BEGIN { @a[1] = avg(5); @a[1] = avg(6); @a[2] = avg(-7); @a[2] = avg(-8);
//   @a[3] = avg(100); @a[4]=avg(0); @b = avg(10); @c = count(); exit(); }'
// avg truncates toward zero (-15/2 = -7) and is followed by an empty line.
#[test]
fn avg_truncates_and_adds_blank_line() {
    let out = print_all(vec![
        (
            "@a",
            vec![
                e(vec![i(1)], Value::Avg { sum: 11, count: 2 }),
                e(vec![i(2)], Value::Avg { sum: -15, count: 2 }),
                e(vec![i(3)], Value::Avg { sum: 100, count: 1 }),
                e(vec![i(4)], Value::Avg { sum: 0, count: 1 }),
            ],
        ),
        ("@b", vec![e(vec![], Value::Avg { sum: 10, count: 1 })]),
        ("@c", vec![e(vec![], Value::UInt(1))]),
    ]);
    assert_eq!(
        out,
        "@a[2]: -7\n\
         @a[4]: 0\n\
         @a[1]: 5\n\
         @a[3]: 100\n\
         \n\
         @b: 10\n\
         \n\
         @c: 1\n"
    );
}

// bpftrace -e 'BEGIN { @s[pid] = comm; @t[comm] = pid; @i[1] = -5; @i[2] = 3;
//   @i[3] = -100; @i[4] = 0; exit(); }'
#[test]
fn plain_ints_sorted_by_signed_value() {
    let out = print_all(vec![
        (
            "@i",
            vec![
                e(vec![i(1)], Value::Int(-5)),
                e(vec![i(2)], Value::Int(3)),
                e(vec![i(3)], Value::Int(-100)),
                e(vec![i(4)], Value::Int(0)),
            ],
        ),
        ("@s", vec![e(vec![i(5478)], Value::Str("bpftrace".into()))]),
        ("@t", vec![e(vec![s("bpftrace")], Value::UInt(5478))]),
    ]);
    assert_eq!(
        out,
        "@i[3]: -100\n\
         @i[1]: -5\n\
         @i[4]: 0\n\
         @i[2]: 3\n\
         @s[5478]: bpftrace\n\
         @t[bpftrace]: 5478\n"
    );
}

// bpftrace -e 'BEGIN { @s[3] = "abc"; @s[1] = "zz"; @s[2] = "a"; @s[-1] = "neg";
//   @s[256] = "x"; @t["b"] = "1"; @t["a"] = "2"; @t["ab"]="3"; @u["b", 2] = "q";
//   @u["a", 5] = "r"; @u["b", 1] = "s"; exit(); }'
// String-valued maps sort by key; integer keys compare as unsigned.
#[test]
fn string_values_sorted_by_key() {
    let st = |v: &str| Value::Str(v.to_string());
    let out = print_all(vec![
        (
            "@s",
            vec![
                e(vec![i(3)], st("abc")),
                e(vec![i(1)], st("zz")),
                e(vec![i(2)], st("a")),
                e(vec![i(-1)], st("neg")),
                e(vec![i(256)], st("x")),
            ],
        ),
        (
            "@t",
            vec![
                e(vec![s("b")], st("1")),
                e(vec![s("a")], st("2")),
                e(vec![s("ab")], st("3")),
            ],
        ),
        (
            "@u",
            vec![
                e(vec![s("b"), i(2)], st("q")),
                e(vec![s("a"), i(5)], st("r")),
                e(vec![s("b"), i(1)], st("s")),
            ],
        ),
    ]);
    assert_eq!(
        out,
        "@s[1]: zz\n\
         @s[2]: a\n\
         @s[3]: abc\n\
         @s[256]: x\n\
         @s[-1]: neg\n\
         @t[a]: 2\n\
         @t[ab]: 3\n\
         @t[b]: 1\n\
         @u[a, 5]: r\n\
         @u[b, 1]: s\n\
         @u[b, 2]: q\n"
    );
}

// bpftrace -e 'BEGIN { @c = count(); @s = sum(18446744073709551615);
//   @u = (uint64)18446744073709551615; @v[1] = (uint64)18446744073709551615;
//   @v[2] = (uint64)5; @k = 1000000; @m[1,2,3] = 1; @w[(uint64)18446744073709551615] = 1;
//   @w[(int32)-1] = 2; exit(); }'
// Numbers are never abbreviated; integer keys always print signed.
#[test]
fn big_numbers_and_signed_keys() {
    let out = print_all(vec![
        ("@c", vec![e(vec![], Value::UInt(1))]),
        ("@s", vec![e(vec![], Value::Int(-1))]),
        ("@u", vec![e(vec![], Value::UInt(u64::MAX))]),
        (
            "@v",
            vec![
                e(vec![i(1)], Value::UInt(u64::MAX)),
                e(vec![i(2)], Value::UInt(5)),
            ],
        ),
        ("@k", vec![e(vec![], Value::Int(1000000))]),
        ("@m", vec![e(vec![i(1), i(2), i(3)], Value::Int(1))]),
        ("@w", vec![e(vec![KeyPart::UInt(u64::MAX)], Value::Int(2))]),
    ]);
    assert_eq!(
        out,
        "@c: 1\n\
         @k: 1000000\n\
         @m[1, 2, 3]: 1\n\
         @s: -1\n\
         @u: 18446744073709551615\n\
         @v[2]: 5\n\
         @v[1]: 18446744073709551615\n\
         @w[-1]: 2\n"
    );
}

// bpftrace -e 'BEGIN { @a = count(); @b[1] = 2; @h = hist(5); @l = lhist(5,0,10,1);
//   @v = avg(4); @c = 1; clear(@a); clear(@b); clear(@h); clear(@l); clear(@v); exit(); }'
// A cleared (empty) map prints an empty line; an empty avg map two.
#[test]
fn empty_maps_print_blank_lines() {
    let mut out = String::new();
    write_map(&mut out, "@a", vec![e(vec![], Value::UInt(0))]);
    write_map(&mut out, "@b", vec![]);
    write_map(&mut out, "@c", vec![e(vec![], Value::Int(1))]);
    write_empty_map(&mut out, MapKind::Hist);
    write_empty_map(&mut out, MapKind::Hist);
    write_empty_map(&mut out, MapKind::Avg);
    assert_eq!(
        out,
        "@a: 0\n\
         \n\
         @c: 1\n\
         \n\
         \n\
         \n\
         \n"
    );
}

// bpftrace -e 'BEGIN { @a = count(); @b[1] = 2; @h = hist(5); @v = avg(4); @z=1;
//   zero(@a); zero(@b); zero(@h); zero(@v); exit(); }'
// A zeroed hist keeps its header but has no rows.
#[test]
fn zeroed_maps() {
    let out = print_all(vec![
        ("@a", vec![e(vec![], Value::UInt(0))]),
        ("@b", vec![e(vec![i(1)], Value::Int(0))]),
        ("@h", vec![e(vec![], Value::Hist { buckets: vec![0; 66], k: 0 })]),
        ("@v", vec![e(vec![], Value::Avg { sum: 0, count: 0 })]),
        ("@z", vec![e(vec![], Value::Int(1))]),
    ]);
    assert_eq!(
        out,
        "@a: 0\n\
         @b[1]: 0\n\
         @h: \n\
         \n\
         @v: 0\n\
         \n\
         @z: 1\n"
    );
}

// bpftrace -e 'BEGIN { @h = hist(5); @c[1] = count(); @a = avg(3); print(@h); print(@c);
//   print(@a); printf("--\n"); clear(@h); clear(@c); clear(@a); exit(); }'
// print() uses the same layout as the exit path.
#[test]
fn print_uses_same_layout() {
    let mut out = String::new();
    write_map(&mut out, "@h", vec![e(vec![], hist_of(&[5]))]);
    write_map(&mut out, "@c", vec![e(vec![i(1)], Value::UInt(1))]);
    write_map(
        &mut out,
        "@a",
        vec![e(vec![], Value::Avg { sum: 3, count: 1 })],
    );
    assert_eq!(
        out,
        "@h: \n\
[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
\n\
@c[1]: 1\n\
@a: 3\n\
\n"
    );
    let mut body = String::new();
    write_hist(&mut body, &[0, 0, 0, 0, 1], 0, false);
    assert_eq!(
        body,
        "[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
    );
}

#[test]
fn key_suffix_forms() {
    assert_eq!(key_suffix(&[]), "");
    assert_eq!(key_suffix(&[i(-4)]), "[-4]");
    assert_eq!(key_suffix(&[s("x"), i(2)]), "[x, 2]");
    assert_eq!(key_suffix(&[KeyPart::UInt(u64::MAX)]), "[-1]");
    assert_eq!(key_suffix(&[s("")]), "[]");
    let record = KeyPart::Record(vec![("name".into(), s("bash")), ("n".into(), i(-1))]);
    assert_eq!(key_suffix(std::slice::from_ref(&record)), "[{ .name = bash, .n = -1 }]");
    // A record key sorts as its fields would.
    let other = KeyPart::Record(vec![("name".into(), s("bash")), ("n".into(), i(2))]);
    assert_eq!(compare_keys_sorted(&[other.clone()], &[record.clone()]), compare_keys_sorted(&[s("bash"), i(2)], &[s("bash"), i(-1)]));
    assert_eq!(compare_keys_raw(&[other], &[record]), compare_keys_raw(&[s("bash"), i(2)], &[s("bash"), i(-1)]));
}

/// bpftrace 0.26's layout (not measured: read from v0.26.0's src/output/text.cpp and
/// src/types_format.cpp): stats records, no empty line after avg maps or for empty maps, no
/// blank after a histogram's colon, `[3]` for an lhist bucket of one value, bools.
#[test]
fn v026_layout() {
    let write = |name: &str, kind: MapKind, entries: Vec<Entry>| {
        let mut out = String::new();
        super::write_map(&mut out, &arrange(name, kind, entries, 0, 0), crate::runtime::Compat::V026);
        out
    };
    let e = |key: Vec<KeyPart>, value: Value| Entry { key, value };
    assert_eq!(write("@s", MapKind::Avg, vec![e(vec![], Value::Stats { sum: 6, count: 2 })]), "@s: { .count = 2, .average = 3, .total = 6 }\n");
    assert_eq!(write("@a", MapKind::Avg, vec![e(vec![i(1)], Value::Avg { sum: 6, count: 2 })]), "@a[1]: 3\n");
    assert_eq!(write("@m", MapKind::Plain, vec![]), "");
    assert_eq!(write("@a", MapKind::Avg, vec![]), "");
    assert_eq!(write("@b", MapKind::Plain, vec![e(vec![s("true")], Value::Bool(false))]), "@b[true]: false\n");
    let mut buckets = vec![0u64; 7];
    buckets[4] = 2;
    let lhist = Value::Lhist { buckets, min: 0, max: 5, step: 1 };
    assert_eq!(
        write("@l", MapKind::Hist, vec![e(vec![], lhist)]),
        "@l:\n[3]                    2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n"
    );
}
