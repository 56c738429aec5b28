//! `tseries()` maps read back (bpftrace 0.26): each CPU's slots of a key combined into one
//! value per interval, and the keys' series cut to the map's last `intervals` intervals, as
//! bpftrace 0.26 does it: the newest interval of any key ends every key's series, which starts
//! at the key's oldest interval still in that window; an interval with nothing recorded is a
//! gap (`None`). The BPF side is in `codegen/aggregate.rs` (`plan::ValueKind::TSeries`).

use super::decode::read_u64;
use super::maps::RawEntry;
use crate::plan::TSeriesAgg;

/// One key's time series, ready to print.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Each interval's start (wall-clock nanoseconds since the epoch) and value, oldest first.
    pub points: Vec<(u64, Option<i64>)>,
    /// The values are unsigned (`tseries()` of an unsigned integer).
    pub unsigned: bool,
    /// The newest interval with a value (keys print from the least recently updated).
    pub latest: u64,
}

/// One CPU's slot: `{ u64 epoch; i64 value; u64 aux; }`; `aux` 0: never written.
fn slot(bytes: &[u8]) -> (u64, i64, u64) {
    let at = |o: usize| read_u64(bytes.get(o..).unwrap_or(&[]));
    (at(0), at(8) as i64, at(16))
}

/// The interval a slot entry holds and its value, every CPU's share combined: only the CPUs
/// whose slot holds the newest interval count; the last value is the one written last.
pub fn combine(agg: TSeriesAgg, entry: &RawEntry) -> Option<(u64, i64)> {
    let slots: Vec<(u64, i64, u64)> = entry.values().map(slot).filter(|s| s.2 != 0).collect();
    let epoch = slots.iter().map(|s| s.0).max()?;
    let current = slots.iter().filter(|s| s.0 == epoch);
    let value = match agg {
        TSeriesAgg::Last => current.max_by_key(|s| s.2)?.1,
        TSeriesAgg::Sum => current.fold(0i64, |a, s| a.wrapping_add(s.1)),
        TSeriesAgg::Avg => {
            let (sum, count) = current.fold((0i128, 0i128), |(a, n), s| (a + i128::from(s.1), n + i128::from(s.2)));
            (sum / count.max(1)) as i64
        }
        TSeriesAgg::Min => current.map(|s| s.1).min()?,
        TSeriesAgg::Max => current.map(|s| s.1).max()?,
    };
    Some((epoch, value))
}

/// Every key's series (`keys`: each key's intervals and values, in any order), cut to the
/// last `intervals` intervals of the map; `tai_to_wall` turns a TAI time into wall-clock time.
pub fn assemble<K>(keys: Vec<(K, Vec<(u64, i64)>)>, interval_ns: u64, intervals: u32, unsigned: bool, tai_to_wall: impl Fn(u64) -> u64) -> Vec<(K, Series)> {
    let Some(last) = keys.iter().flat_map(|(_, v)| v.iter().map(|p| p.0)).max() else { return Vec::new() };
    let first = last.saturating_sub(u64::from(intervals) - 1);
    keys.into_iter()
        .map(|(key, mut values)| {
            values.retain(|p| p.0 >= first);
            values.sort_by_key(|p| p.0);
            let latest = values.last().map_or(0, |p| p.0);
            // A key with nothing left in the window shows the window's last interval, empty.
            let start = values.first().map_or(last, |p| p.0);
            let points = (start..=last)
                .map(|epoch| {
                    let v = values.binary_search_by_key(&epoch, |p| p.0).ok().map(|i| values[i].1);
                    (tai_to_wall(epoch.saturating_mul(interval_ns)), v)
                })
                .collect();
            (key, Series { points, unsigned, latest })
        })
        .collect()
}

/// Columns of the graph, its two borders included.
const WIDTH: usize = 53;
/// Columns the lowest value takes on the lines above and below the graph.
const PADDING: usize = 21;

/// The unit of the interval: the digits of a second shown, and its name (bpftrace's
/// `duration_str`: the largest unit the interval reaches; a single interval is 0 ns).
fn unit(interval: u64) -> (usize, &'static str) {
    match interval {
        i if i >= 1_000_000_000 => (0, "s"),
        i if i >= 1_000_000 => (3, "ms"),
        i if i >= 1_000 => (6, "μs"),
        _ => (9, "ns"),
    }
}

/// `text` then spaces up to `width` bytes (C++'s `setw` counts bytes).
fn pad(out: &mut String, text: &str, width: usize) {
    out.push_str(text);
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(text.len())));
}

/// Appends a series as bpftrace 0.26 draws it (its `TextEmitter<TimeSeries>`): a header with
/// the lowest and highest value, one line per interval (local time, the graph with `*` at
/// the value and `.` at zero, the value or `-` for a gap), a footer; `<no data>` without a
/// newline when nothing was recorded.
pub fn graph(out: &mut String, s: &Series) {
    let present: Vec<i128> = s.points.iter().filter_map(|p| p.1).map(|v| wide(v, s.unsigned)).collect();
    let (Some(&lo), Some(&hi)) = (present.iter().min(), present.iter().max()) else {
        out.push_str("<no data>");
        return;
    };
    let (low, high) = if s.unsigned { (0, i128::from(u64::MAX)) } else { (i128::from(i64::MIN), i128::from(i64::MAX)) };
    // One value: some room on both sides, where the type has it.
    let (lo, hi) = if lo == hi { ((lo - 1).max(low), (hi + 1).min(high)) } else { (lo, hi) };
    let n = s.points.len() as u64;
    let interval = (s.points[s.points.len() - 1].0 - s.points[0].0) / (n - 1).max(1);
    let (digits, name) = unit(interval);
    let time_fmt = if digits > 0 { format!("hh:mm:ss.{name}") } else { "hh:mm:ss".to_string() };
    let time_size = 8 + if digits > 0 { 1 + digits } else { 0 };
    let bounds = |out: &mut String| {
        pad(out, &lo.to_string(), PADDING);
        out.push_str(&format!("{:>1$}\n", hi, WIDTH - PADDING));
    };
    out.push_str(&" ".repeat(time_size + 1));
    bounds(out);
    pad(out, &time_fmt, time_size + 1);
    out.push_str(&format!("|{}|\n", "_".repeat(WIDTH - 2)));
    let zero = if lo < 0 && hi > 0 { (WIDTH as f32 * (-lo) as f32 / (hi - lo) as f32) as usize } else { 0 };
    for &(start, v) in &s.points {
        out.push_str(&clock(start, digits));
        out.push(' ');
        let mut line = vec![b' '; WIDTH];
        (line[0], line[WIDTH - 1]) = (b'|', b'|');
        if zero > 0 {
            line[zero] = b'.';
        }
        match v {
            Some(v) => {
                let at = ((WIDTH - 1) as f32 * (wide(v, s.unsigned) - lo) as f32 / (hi - lo) as f32) as i64;
                line[at.clamp(0, WIDTH as i64 - 1) as usize] = b'*';
                out.push_str(&String::from_utf8_lossy(&line));
                out.push(' ');
                out.push_str(&wide(v, s.unsigned).to_string());
            }
            None => {
                out.push_str(&String::from_utf8_lossy(&line));
                out.push_str(" -");
            }
        }
        out.push('\n');
    }
    out.push_str(&" ".repeat(time_size + 1));
    out.push_str(&format!("v{}v\n", "_".repeat(WIDTH - 2)));
    out.push_str(&" ".repeat(time_size + 1));
    bounds(out);
}

/// A value as its type reads it.
fn wide(v: i64, unsigned: bool) -> i128 {
    if unsigned {
        i128::from(v as u64)
    } else {
        i128::from(v)
    }
}

/// A wall-clock time as local `HH:MM:SS`, with `digits` digits of the second.
fn clock(wall_ns: u64, digits: usize) -> String {
    let mut text = super::decode::strftime("%H:%M:%S", wall_ns);
    if digits > 0 {
        let frac = wall_ns % 1_000_000_000 / 10u64.pow(9 - digits as u32);
        text.push_str(&format!(".{frac:0digits$}"));
    }
    text
}

/// A series as bpftrace 0.26's JSON writes it: `[{"interval_start":"…","value":V},…]`, the
/// start in UTC (`YYYY-MM-DD HH:MM:SS.NNNNNNNNN`), gaps left out.
pub fn json(s: &Series) -> String {
    let points: Vec<String> = s
        .points
        .iter()
        .filter_map(|&(start, v)| Some(format!("{{\"interval_start\":\"{}\",\"value\":{}}}", utc(start), wide(v?, s.unsigned))))
        .collect();
    format!("[{}]", points.join(","))
}

/// A wall-clock time in UTC with nanoseconds.
fn utc(wall_ns: u64) -> String {
    let secs = (wall_ns / 1_000_000_000) as libc::time_t;
    // SAFETY: gmtime_r writes only into the tm we own.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::gmtime_r(&secs, &mut tm);
        tm
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:09}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        wall_ns % 1_000_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_gaps() {
        let keys = vec![("a", vec![(10, 1), (7, 5)]), ("b", vec![(12, 3), (2, 9)])];
        let got = assemble(keys, 100, 5, false, |t| t);
        // The window is intervals 8..=12: `a` starts at 10, `b` loses interval 2.
        assert_eq!(got[0].1.points, vec![(1000, Some(1)), (1100, None), (1200, None)]);
        assert_eq!(got[1].1.points, vec![(1200, Some(3))]);
        assert_eq!((got[0].1.latest, got[1].1.latest), (10, 12));
    }

    /// The zigzag of docs/stdlib.md's second tseries example (bpftrace 0.26): its header,
    /// zero column and points, times aside.
    #[test]
    fn zigzag_like_the_docs() {
        let values = [-5i64, -4, 0, 1, 5];
        let points = values.iter().enumerate().map(|(i, &v)| (i as u64 * 100_000_000, Some(v))).collect();
        let mut out = String::new();
        graph(&mut out, &Series { points, unsigned: false, latest: 0 });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "             -5                                                  5");
        assert_eq!(lines[1], "hh:mm:ss.ms  |___________________________________________________|");
        let tail = |l: &str| l[13..].to_string();
        assert_eq!(tail(lines[2]), "*                         .                         | -5");
        assert_eq!(tail(lines[3]), "|    *                    .                         | -4");
        assert_eq!(tail(lines[4]), "|                         *                         | 0");
        assert_eq!(tail(lines[5]), "|                         .    *                    | 1");
        assert_eq!(tail(lines[6]), "|                         .                         * 5");
        assert_eq!(lines[7], "             v___________________________________________________v");
        assert_eq!(lines[8], lines[0]);
    }
}
