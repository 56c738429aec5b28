//! The runtime: loads the BPF object (libbpf-rs), attaches every probe, runs BEGIN, prints
//! events from the ring buffer as they come, and on exit (END done, `exit()`, SIGINT, SIGTERM)
//! runs END, prints every map in bpftrace's format and detaches. It reads the plan only — never
//! the parser, sema or LLVM — so it could run a precompiled object on another host.

mod attach;
mod child;
mod decode;
mod events;
mod layout;
mod live;
mod load;
mod maps;
mod output;
mod printf;
mod session;
mod symbols;
mod value;

use crate::plan::Plan;
use session::Session;
use std::os::fd::{FromRawFd, OwnedFd};

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Show libbpf's and the verifier's full logs on failure.
    pub verbose: bool,
    /// Load and attach every probe, then exit without running anything (`--dry-run`).
    pub dry_run: bool,
    /// With `dry_run`: load into the verifier only, attach nothing.
    pub no_attach: bool,
    /// `-c CMD`: run CMD once attached, end when it exits.
    pub command: Option<String>,
    /// `-p PID`: end when PID exits (the programs filter on it).
    pub pid: Option<u32>,
    /// `-o FILE`: where the script's output goes.
    pub output: Option<std::path::PathBuf>,
    /// `-q`: no `Attaching N probes...`.
    pub quiet: bool,
    /// `--timings`: print how long loading and attaching took.
    pub timings: bool,
    /// `-f json`: every output as a JSON line.
    pub json: bool,
    /// `-B MODE`; `None` flushes once per batch of events.
    pub buffering: Option<Buffering>,
    /// `--live`: the full-screen view, redrawn at this interval.
    pub live: Option<std::time::Duration>,
}

/// `-B`: when the script's output is flushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Buffering {
    /// At every newline.
    Line,
    /// When the buffer is full, and at exit.
    Full,
    /// After every write.
    None,
}

/// A runtime failure: one line for the user, and the probe it belongs to, if any.
#[derive(Debug)]
pub struct RuntimeError {
    pub message: String,
    pub probe: Option<ProbeAt>,
}

/// The probe a failure belongs to, so that it can be shown where the script wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeAt {
    /// The probe's index in `plan.probes`.
    pub index: usize,
    /// For a program several attach points share, the one that failed (its full name, as in
    /// `plan.probe_names`).
    pub point: Option<String>,
    pub failure: Failure,
}

/// What failed for a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The kernel (its verifier, mostly) refused to load its program.
    Load,
    /// It could not be attached.
    Attach,
    /// Running it (BEGIN, END) failed.
    Run,
}

impl RuntimeError {
    fn new(message: impl Into<String>) -> RuntimeError {
        RuntimeError { message: message.into(), probe: None }
    }

    fn at_probe(message: impl Into<String>, index: usize, point: Option<String>, failure: Failure) -> RuntimeError {
        RuntimeError { message: message.into(), probe: Some(ProbeAt { index, point, failure }) }
    }
}

type Result<T> = std::result::Result<T, RuntimeError>;

/// Blocks SIGINT and SIGTERM and returns a signalfd that reports them. Call before any
/// thread starts, so the signals reach the event loop instead of killing the process.
pub fn block_signals() -> std::io::Result<OwnedFd> {
    // SAFETY: sigset_t is plain data initialised by sigemptyset before use; the calls only
    // read the set we own, and signalfd returns a new descriptor that we take ownership of.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Loads, attaches and runs the program until it ends; returns the process exit status.
pub fn run(object: &[u8], plan: &Plan, signals: &OwnedFd, opts: &Options) -> Result<i32> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(RuntimeError::new(
            "rtrace must run as root (it loads BPF programs into the kernel); try `sudo rtrace …`",
        ));
    }
    let (out, mut view) = live::wrap(output::open(opts)?, plan, opts.live)?;
    // The -c command starts now, held until every probe is attached, so `cpid` is known.
    let mut command = match &opts.command {
        Some(cmd) if !opts.dry_run => Some(
            child::HeldChild::spawn(cmd).map_err(|e| RuntimeError::new(format!("cannot start `{cmd}`: {e}")))?,
        ),
        _ => None,
    };
    let mut timer = Timer { on: opts.timings, since: std::time::Instant::now() };
    let mut session = Session::load(object, plan, out, opts.verbose, opts.no_attach)?;
    timer.lap("load");
    if opts.dry_run && opts.no_attach {
        return Ok(0);
    }
    let cpid = command.as_ref().map(child::HeldChild::pid);
    session.set_up(cpid)?;
    let watched = cpid.or(opts.pid);
    let exited = match watched {
        Some(pid) => Some(child::pidfd(pid).map_err(|e| RuntimeError::new(format!("cannot watch process {pid}: {e}")))?),
        None => None,
    };
    session.attach(watched)?;
    timer.lap("attach");
    session.announce(!opts.dry_run && std::env::var_os("__BPFTRACE_NOTIFY_PROBES_ATTACHED").is_some());
    if opts.dry_run {
        return Ok(0);
    }
    if let Some(view) = &mut view {
        view.start(&mut session)?;
    }
    session.run_begin()?;
    if let Some(c) = &mut command {
        c.release();
    }
    session.trace(signals, exited.as_ref(), view.as_mut().map(|v| v as &mut dyn session::Watcher))?;
    // Leaving the live view: END and the maps print on the normal screen.
    drop(view);
    if let Some(c) = &command {
        // Reap the command if it ended; leave it running if rtrace was stopped first.
        c.reap();
    }
    session.run_end()?;
    session.print_maps();
    Ok(session.finish())
}

/// `--timings`: how long loading and attaching took, on stderr.
struct Timer {
    on: bool,
    since: std::time::Instant,
}

impl Timer {
    fn lap(&mut self, stage: &str) {
        if self.on {
            eprintln!("timing: {stage:<8} {:>8.3} ms", self.since.elapsed().as_secs_f64() * 1000.0);
        }
        self.since = std::time::Instant::now();
    }
}
