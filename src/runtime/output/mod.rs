//! Writing the script's output: bpftrace's text (`text`) and `-f json` (`json`), into a `Sink`
//! (standard output or `-o FILE`, buffered as `-B` says).

pub mod json;
pub mod text;

use super::layout;
use super::value::{Entry, MapKind, Value};
use super::{Buffering, Options, Result, RuntimeError};
use crate::plan::{MapDef, PrintfDef, ValueKind};
use std::io::Write;
use std::os::fd::AsFd;

/// Where the script's output goes, buffered as `-B` says.
pub struct Sink {
    out: std::io::BufWriter<Box<dyn Write>>,
    /// No `-B`: flush at the end of each batch of events.
    flush_batches: bool,
}

impl Sink {
    /// Standard output, or `-o FILE` (created now).
    pub fn open(opts: &Options) -> Result<Sink> {
        let file: Box<dyn Write> = match &opts.output {
            Some(path) => Box::new(
                std::fs::File::create(path)
                    .map_err(|e| RuntimeError::new(format!("cannot write `{}`: {e}", path.display())))?,
            ),
            // Standard output without Rust's own line buffer, which would hold back a partial
            // line under `-B none`.
            None => match std::io::stdout().as_fd().try_clone_to_owned() {
                Ok(fd) => Box::new(std::fs::File::from(fd)),
                Err(_) => Box::new(std::io::stdout()),
            },
        };
        // Line and unbuffered modes write through a zero-capacity BufWriter.
        let (out, capacity): (Box<dyn Write>, usize) = match opts.buffering {
            Some(Buffering::Line) => (Box::new(std::io::LineWriter::new(file)), 0),
            Some(Buffering::None) => (file, 0),
            Some(Buffering::Full) | None => (file, 64 << 10),
        };
        Ok(Sink { out: std::io::BufWriter::with_capacity(capacity, out), flush_batches: opts.buffering.is_none() })
    }

    pub fn write(&mut self, text: &str) -> std::io::Result<()> {
        self.out.write_all(text.as_bytes())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// The end of a batch of events: flushed unless `-B` says otherwise.
    pub fn end_batch(&mut self) -> std::io::Result<()> {
        if self.flush_batches {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Flushes and closes the output (for standard output, rtrace's duplicate of it), so that
    /// a reader sees its end even while a child rtrace started still runs.
    pub fn close(&mut self) {
        let _ = self.out.flush();
        self.out = std::io::BufWriter::new(Box::new(std::io::sink()));
    }
}

/// The script's output in the format `-f` chose.
pub struct Out {
    pub sink: Sink,
    json: bool,
    quiet: bool,
}

impl Out {
    pub fn open(opts: &Options) -> Result<Out> {
        Ok(Out { sink: Sink::open(opts)?, json: opts.json, quiet: opts.quiet })
    }

    /// An event's text (printf, time, join, cat, system's output), or with `-f json` its JSON
    /// line of type `kind`.
    pub fn event(&mut self, kind: &str, text: String) {
        let text = if self.json { json::line(kind, serde_json::Value::String(text)) } else { text };
        let _ = self.sink.write(&text);
    }

    /// `print(value)`: the value as its format prints it.
    pub fn value(&mut self, def: &PrintfDef, args: &[Value]) {
        let text = if self.json {
            let Some(value) = args.first() else { return };
            json::line("value", json::value_json(value))
        } else {
            super::printf::format(def, args)
        };
        let _ = self.sink.write(&text);
    }

    /// A map, as `print(@map, top, div)` and the exit print it.
    pub fn map(&mut self, def: &MapDef, entries: Vec<Entry>, top: usize) {
        let mut out = String::new();
        if self.json {
            // Empty maps print nothing in JSON; `top` keeps the last entries in print order.
            let mut entries = entries;
            if top > 0 && entries.len() > top {
                let kind = entries[0].value.map_kind();
                entries = layout::sort_entries(kind, entries);
                entries.drain(..entries.len() - top);
            }
            out.push_str(&json::map(&def.name, entries));
        } else if entries.is_empty() {
            let kind = match def.value {
                ValueKind::Avg | ValueKind::Stats => MapKind::Avg,
                ValueKind::Hist { .. } | ValueKind::Lhist { .. } => MapKind::Hist,
                _ => MapKind::Plain,
            };
            text::write_empty_map(&mut out, kind);
        } else {
            text::write_map_top(&mut out, &def.name, entries, top);
        }
        let _ = self.sink.write(&out);
    }

    /// `n` more events lost: `Lost N events` on stderr, or with `-f json` a `lost_events` line in
    /// the output.
    pub fn lost(&mut self, n: u64) {
        if self.json {
            let _ = self.sink.write(&json::line("lost_events", serde_json::json!({ "events": n })));
        } else {
            let _ = self.sink.flush();
            eprintln!("Lost {n} events");
        }
    }

    /// Every probe is attached: `Attaching N probes...` on stderr unless `-q`, or with `-f json`
    /// an `attached_probes` line in the output.
    pub fn attached(&mut self, n: usize) {
        if self.json {
            let _ = self.sink.write(&json::line("attached_probes", serde_json::json!({ "probes": n })));
            let _ = self.sink.flush();
        } else if !self.quiet {
            eprintln!("Attaching {n} probe{}...", if n == 1 { "" } else { "s" });
        }
    }
}
