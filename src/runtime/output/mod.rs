//! Writing the script's output, behind one `Output` trait: bpftrace's text (`text`, with
//! `hist` for histogram rows) and `-f json` (`json`), each writing into a `Sink` (standard
//! output or `-o FILE`, buffered as `-B` says).

pub(super) mod hist;
mod bcc;
mod json;
mod report;
pub(super) mod text;

use super::layout::MapView;
use super::value::Value;
use super::{Buffering, Options, Result, RuntimeError};
use crate::plan::{MapDef, PrintfDef};
use std::io::{self, IsTerminal, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};

/// Where the script's output goes, buffered as `-B` says.
pub struct Sink {
    out: std::io::BufWriter<Box<dyn Write>>,
    /// No `-B`: flush at the end of each batch of events.
    flush_batches: bool,
    /// The descriptor written to (until `close`), which a forked child must not keep open.
    fd: Option<RawFd>,
}

/// A file whose writes give up when a second signal asks rtrace to hurry: a write blocked on
/// a stalled reader returns `EINTR` on a signal, which `write_all` would retry for ever.
struct Interruptible(std::fs::File);

impl Write for Interruptible {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.0.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    if crate::runtime::signals::hurry() {
                        return Err(io::Error::other("stopped by a second signal"));
                    }
                }
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Sink {
    /// Standard output, or `-o FILE` (created now).
    pub fn open(opts: &Options) -> Result<Sink> {
        let file = match &opts.output {
            Some(path) => std::fs::File::create(path)
                .map_err(|e| RuntimeError::new(format!("cannot write `{}`: {e}", path.display())))?,
            // Standard output without Rust's own line buffer, which would hold back a partial
            // line under `-B none`.
            None => std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .map(std::fs::File::from)
                .map_err(|e| RuntimeError::new(format!("cannot write to standard output: {e}")))?,
        };
        let fd = Some(file.as_raw_fd());
        let file: Box<dyn Write> = Box::new(Interruptible(file));
        // Line and unbuffered modes write through a zero-capacity BufWriter.
        let (out, capacity): (Box<dyn Write>, usize) = match opts.buffering {
            Some(Buffering::Line) => (Box::new(std::io::LineWriter::new(file)), 0),
            Some(Buffering::None) => (file, 0),
            Some(Buffering::Full) | None => (file, 64 << 10),
        };
        Ok(Sink { out: std::io::BufWriter::with_capacity(capacity, out), flush_batches: opts.buffering.is_none(), fd })
    }

    pub fn write(&mut self, text: &str) -> io::Result<()> {
        self.out.write_all(text.as_bytes())
    }

    /// Bytes written as they are (an iterator's text, which a read may cut mid-character).
    pub fn write_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The end of a batch of events: flushed unless `-B` says otherwise.
    pub fn end_batch(&mut self) -> io::Result<()> {
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
        self.fd = None;
    }

    /// The descriptor written to, while open.
    pub fn raw_fd(&self) -> Option<RawFd> {
        self.fd
    }

    /// Drops what is buffered without writing it (the output failed, or a second signal
    /// asks to hurry), so that `close` does not block on it.
    pub fn discard(&mut self) {
        let old = std::mem::replace(&mut self.out, std::io::BufWriter::new(Box::new(std::io::sink())));
        // Taken apart, the old writer is dropped without a last flush.
        drop(old.into_parts());
        self.fd = None;
    }
}

/// The script's output in one format. The session hands it what to print, already decoded
/// (and maps already laid out, `layout::arrange`); it decides only how that looks.
pub trait Output {
    /// Where the output goes; the session writes the lines that are the same in every format
    /// through it (the test harness's marker).
    fn sink(&mut self) -> &mut Sink;
    /// An event's text: a `printf`, `time()`, `join()`, `cat()`, or a `system()` command's
    /// output; `kind` names it (its JSON type).
    fn event(&mut self, kind: &str, text: &str) -> io::Result<()>;
    /// `errorf()`, `warnf()`, a failed `assert()`: `text` is the whole message as printed on
    /// standard error, `NAME:LINE:COL-END: ERROR: message` and a newline.
    fn message(&mut self, text: &str) -> io::Result<()> {
        // After what the script printed before it.
        self.sink().flush()?;
        eprint!("{text}");
        Ok(())
    }
    /// `print(value)`: the value (`args[0]`) and the format that prints it as text.
    fn value(&mut self, def: &PrintfDef, args: &[Value]) -> io::Result<()>;
    /// A map, at exit or for `print(@map)`.
    fn map(&mut self, map: &MapView) -> io::Result<()>;
    /// `n` more events were lost (the ring buffer was full).
    fn lost(&mut self, n: u64) -> io::Result<()>;
    /// Every probe (`probes` attach points) is attached.
    fn attached(&mut self, probes: usize) -> io::Result<()>;
    /// At exit: user map `map` was full when `dropped` new entries came.
    fn map_full(&mut self, map: &MapDef, dropped: u64) -> io::Result<()>;
    /// At exit, before the maps: two empty lines (bpftrace 0.26's JSON writes nothing).
    fn end(&mut self) -> io::Result<()> {
        self.sink().write("\n\n")
    }
    /// `--test`: test `index` of `run.names` ran (what it printed is shown if it failed).
    fn test_result(&mut self, run: &TestRun, index: usize) -> io::Result<()>;
    /// `--bench`: bench `index` of `names` took `average_ns` a run over `iterations` runs.
    fn bench_result(&mut self, names: &[String], index: usize, average_ns: u64, iterations: u64) -> io::Result<()>;
}

/// The `test:` probes of a `--test` run: their names, and for those that ran, whether each
/// passed, how long it took and what it printed.
#[derive(Debug, Default)]
pub struct TestRun {
    pub names: Vec<String>,
    pub passed: Vec<bool>,
    pub durations: Vec<std::time::Duration>,
    pub outputs: Vec<String>,
}

/// The output `-f`, `-o`, `-B` and `-q` ask for.
pub fn open(opts: &Options) -> Result<Box<dyn Output>> {
    let sink = Sink::open(opts)?;
    let compat = opts.compat;
    Ok(if opts.json {
        Box::new(json::JsonOutput { sink, compat })
    } else {
        let color = opts.output.is_none() && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Box::new(text::TextOutput { sink, quiet: opts.quiet, bcc_hists: opts.bcc_hists, color, compat })
    })
}
