//! The text output: bpftrace 0.26's layout, or 0.17's with `--compat=0.17`, byte for byte
//! (rules in docs/bpftrace-output.md).
//!
//! * Ordinary maps print one `@name[k1, k2]: value` line per entry, then nothing
//!   else; an empty map prints nothing (0.17: a single empty line).
//! * 0.17 only: `avg()` and `stats()` maps print their lines followed by one extra empty line
//!   (an empty one prints two empty lines).
//! * `hist()`/`lhist()` maps print `@name[key]:` (0.17: with a trailing space), the
//!   histogram rows (`hist`), and an empty line, for every key.
//! * 0.26: a `stats()` value is a record, `{ .count = 1, .average = 5, .total = 5 }`; a bool
//!   is `true`/`false` (decoded so by `Decoder`).
//! * Entries come in the order `layout` decided.

use super::hist::write_hist;
use super::{Output, Sink};
use crate::plan::{MapDef, PrintfDef};
use crate::runtime::layout::{MapKind, MapView};
use crate::runtime::printf;
use crate::runtime::value::{self, write_scalar_value, KeyPart, Value};
use crate::runtime::Compat;
use std::io;

/// bpftrace's text: events as they are, maps in its layout, notes on standard error.
pub struct TextOutput {
    pub sink: Sink,
    /// `-q`: no `Attaching N probes...`.
    pub quiet: bool,
    /// `--hist-style bcc`: `hist()` maps in BCC's layout (`bcc.rs`).
    pub bcc_hists: bool,
    /// Which bpftrace's text this is.
    pub compat: Compat,
    /// The `--test` report in colour (standard output is a terminal, no `NO_COLOR`).
    pub color: bool,
}

impl Output for TextOutput {
    fn sink(&mut self) -> &mut Sink {
        &mut self.sink
    }

    fn event(&mut self, kind: &str, text: &str) -> io::Result<()> {
        self.sink.write(text)?;
        // bpftrace 0.26 ends a `system()` command's output with a newline of its own.
        if kind == "system" && !self.compat.old() {
            self.sink.write("\n")?;
        }
        Ok(())
    }

    fn value(&mut self, def: &PrintfDef, args: &[Value]) -> io::Result<()> {
        self.sink.write(&printf::format(def, args))
    }

    fn map(&mut self, map: &MapView) -> io::Result<()> {
        let mut out = String::new();
        if !(self.bcc_hists && super::bcc::write_map(&mut out, map)) {
            write_map(&mut out, map, self.compat);
        }
        self.sink.write(&out)
    }

    fn lost(&mut self, n: u64) -> io::Result<()> {
        self.sink.flush()?;
        eprintln!("Lost {n} events");
        Ok(())
    }

    fn map_full(&mut self, map: &MapDef, dropped: u64) -> io::Result<()> {
        self.sink.flush()?;
        eprintln!("{}", map_full_warning(map, dropped));
        Ok(())
    }

    fn test_result(&mut self, run: &super::TestRun, index: usize) -> io::Result<()> {
        let mut out = String::new();
        super::report::write_test(&mut out, run, index, self.color);
        self.sink.write(&out)
    }

    fn bench_result(&mut self, names: &[String], index: usize, average_ns: u64, iterations: u64) -> io::Result<()> {
        let mut out = String::new();
        super::report::write_bench(&mut out, names, index, average_ns, iterations);
        self.sink.write(&out)
    }

    fn attached(&mut self, probes: usize) -> io::Result<()> {
        if !self.quiet {
            let s = if probes == 1 { "" } else { "s" };
            match self.compat {
                Compat::V017 => eprintln!("Attaching {probes} probe{s}..."),
                Compat::V026 => eprintln!("Attached {probes} probe{s}"),
            }
        }
        Ok(())
    }
}

/// The warning at exit for a user map that was full when `dropped` new entries came
/// (docs/differences.md).
pub fn map_full_warning(map: &MapDef, dropped: u64) -> String {
    let (name, size) = (&map.name, map.max_entries);
    let kind = if map.per_cpu() { "percpuhash" } else { "hash" };
    let updates = if dropped == 1 { "update" } else { "updates" };
    format!(
        "warning: map {name} was full ({size} entries): {dropped} {updates} with a new key dropped; \
         declare it bigger (`let {name} = {kind}(N);`) or raise max_map_keys"
    )
}

/// Appends a map as bpftrace prints it at exit and for `print(@map)`, blank lines included;
/// an empty map is what bpftrace prints for one (0.17: an empty line, two for `avg()`; 0.26:
/// nothing).
pub fn write_map(out: &mut String, map: &MapView, compat: Compat) {
    let old = compat.old();
    if map.entries.is_empty() {
        if old {
            write_empty_map(out, map.kind);
        }
        return;
    }
    for entry in &map.entries {
        out.push_str(map.name);
        write_key_suffix(out, &entry.key);
        if let Value::TSeries(series) = &entry.value {
            // bpftrace 0.26: the graph under `@name[key]:`, then an empty line.
            out.push_str(":\n");
            crate::runtime::tseries::graph(out, series);
            out.push('\n');
            continue;
        }
        out.push(':');
        match &entry.value {
            Value::Hist { buckets, k } => {
                out.push_str(if old { " \n" } else { "\n" });
                write_hist(out, buckets, *k, !old);
            }
            Value::Lhist { buckets, min, max, step } => {
                out.push_str(if old { " \n" } else { "\n" });
                super::hist::write_lhist(out, buckets, *min, *max, *step, !old);
            }
            Value::Stats { sum, count } if !old => {
                let average = value::average(&entry.value);
                let _ = std::fmt::Write::write_fmt(out, format_args!(" {{ .count = {count}, .average = {average}, .total = {sum} }}"));
            }
            other => {
                out.push(' ');
                write_scalar_value(out, other);
            }
        }
        out.push('\n');
    }
    if old && map.kind == MapKind::Avg {
        out.push('\n');
    }
}

/// Append what bpftrace prints for a map with no entries at all (e.g. after
/// `clear()` or `delete()` of its last key): one empty line, two for `avg()`.
fn write_empty_map(out: &mut String, kind: MapKind) {
    match kind {
        MapKind::Plain | MapKind::Hist => out.push('\n'),
        MapKind::Avg => out.push_str("\n\n"),
        // bpftrace 0.26 prints nothing for a `tseries()` map without entries.
        MapKind::TSeries => {}
    }
}

/// `[a, b]` key suffix (empty string for a scalar map).
///
/// Integer key parts always print as signed 64-bit numbers, as bpftrace does
/// (so `UInt(u64::MAX)` prints `-1`). A 32-bit key should be passed
/// sign-extended (`Int(v as i32 as i64)`), which is how bpftrace prints it.
#[cfg(test)]
pub fn key_suffix(key: &[KeyPart]) -> String {
    let mut out = String::new();
    write_key_suffix(&mut out, key);
    out
}

/// Appends `key_suffix(key)`.
fn write_key_suffix(out: &mut String, key: &[KeyPart]) {
    if key.is_empty() {
        return;
    }
    out.push('[');
    for (i, part) in key.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        part.write_text(out);
    }
    out.push(']');
}

#[cfg(test)]
mod tests;
