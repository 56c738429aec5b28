//! The runtime: loads the BPF object (libbpf-rs), runs BEGIN, attaches every other probe (as
//! bpftrace does, so BEGIN never sees rtrace's own start-up), prints events from the ring
//! buffer as they come, and on exit (`exit()`, SIGINT, SIGTERM, a closed output, the watched
//! process's exit) stops the probes, drains the ring buffer, runs END, prints every map in
//! bpftrace's format and detaches. It reads the plan only — never the parser, sema or LLVM —
//! so it could run a precompiled object on another host.

mod attach;
mod child;
mod decode;
mod events;
#[cfg(feature = "exporter")]
pub mod export;
mod layout;
#[cfg(feature = "live")]
mod live;
/// Without the `live` feature (the stub built tools run): no live view can be asked for.
#[cfg(not(feature = "live"))]
mod live {
    use super::output::Output;
    use super::session::{Session, Watcher};
    use super::Result;

    /// A view that cannot exist.
    pub enum Live {}

    pub fn wrap(out: Box<dyn Output>, _: &crate::plan::Plan, _: Option<std::time::Duration>) -> Result<(Box<dyn Output>, Option<Live>)> {
        Ok((out, None))
    }

    impl Live {
        pub fn start(&mut self, _: &mut Session) -> Result<()> {
            match *self {}
        }
    }

    impl Watcher for Live {
        fn timeout_ms(&self) -> i32 {
            match *self {}
        }
        fn wake(&mut self, _: &mut Session) -> bool {
            match *self {}
        }
    }
}
mod load;
mod maps;
mod notify;
mod output;
mod pcap;
mod printf;
mod session;
pub mod signals;
mod symbols;
mod tseries;
#[cfg(feature = "compiler")]
mod unwind;
mod value;

use crate::plan::Plan;
use session::Session;

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
    /// `--dwarf-pid PID`: more processes whose unwind tables `dw_ustack` loads.
    pub dwarf_pids: Vec<u32>,
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
    /// The most bytes `cat()` prints of a file (bpftrace's `max_cat_bytes`).
    pub max_cat_bytes: usize,
    /// Entries of the globals map to fill before anything runs: a built tool's `-p` and
    /// parameters (`plan::GLOBAL_FILTER_PID`, `plan::GLOBAL_ARGC`).
    pub globals: Vec<(u32, u64)>,
    /// Entries of the string globals map (`plan::STR_GLOBALS_MAP`) to fill likewise: a built
    /// tool's string parameters, cut to `Plan::str_len` - 1 bytes.
    pub str_globals: Vec<(u32, String)>,
    /// A BTF file libbpf resolves the object's CO-RE relocations against, instead of the
    /// kernel's own (a built tool's `--btf`).
    pub btf: Option<std::path::PathBuf>,
    /// `--hist-style bcc`: text output prints `hist()` maps in BCC's layout.
    pub bcc_hists: bool,
    /// `--prometheus ADDR`: serve the maps as Prometheus metrics while tracing.
    #[cfg(feature = "exporter")]
    pub prometheus: Option<export::Config>,
    /// `--live`: the full-screen view, redrawn at this interval.
    pub live: Option<std::time::Duration>,
    /// `--compat`: which bpftrace's output rtrace prints.
    pub compat: Compat,
    /// `--test`, `--bench`, or tracing.
    pub mode: Mode,
    /// `--no-warnings`: no warning on standard error (`warnf()`, a full map, the exporter's).
    pub no_warnings: bool,
}

/// `--compat` (or `RTRACE_COMPAT`): the bpftrace version whose output rtrace prints —
/// 0.26's by default, 0.17's for readers written against it (docs/bpftrace-output.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "compiler", derive(clap::ValueEnum))]
pub enum Compat {
    /// bpftrace 0.17: `Attaching N probes...`, bools as 1/0, `stats()` as `count …, average …`.
    #[cfg_attr(feature = "compiler", value(name = "0.17"))]
    V017,
    /// bpftrace 0.26: `Attached N probes`, `true`/`false`, records, JSON `count` fields.
    #[default]
    #[cfg_attr(feature = "compiler", value(name = "0.26"))]
    V026,
}

impl Compat {
    /// `0.17` or `0.26`.
    pub fn parse(v: &str) -> Option<Compat> {
        match v {
            "0.17" => Some(Compat::V017),
            "0.26" => Some(Compat::V026),
            _ => None,
        }
    }

    /// The environment's choice, `RTRACE_COMPAT=0.17` or `0.26` (`None` when unset or empty).
    pub fn from_env() -> std::result::Result<Option<Compat>, String> {
        match std::env::var("RTRACE_COMPAT") {
            Ok(v) if v.is_empty() => Ok(None),
            Ok(v) => Compat::parse(&v).map(Some).ok_or_else(|| format!("RTRACE_COMPAT must be `0.17` or `0.26`, not `{v}`")),
            Err(_) => Ok(None),
        }
    }

    /// Whether this is bpftrace 0.17's output.
    pub fn old(self) -> bool {
        self == Compat::V017
    }
}

/// What a run does with its probes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Attach them and trace (`test:` and `bench:` probes are not run).
    #[default]
    Trace,
    /// `--test`: run the `test:` probes, attach nothing.
    Test,
    /// `--bench`: run the `bench:` probes in timed loops, attach nothing.
    Bench,
}

/// `-B`: when the script's output is flushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "compiler", derive(clap::ValueEnum))]
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

/// Loads, attaches and runs the program until it ends; returns the process exit status.
/// Signals end rtrace at once until the output is open; from then on they stop it in order
/// (`signals`).
pub fn run(object: &[u8], plan: &Plan, opts: &Options) -> Result<i32> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(RuntimeError::new(
            "rtrace must run as root (it loads BPF programs into the kernel); try `sudo rtrace …`",
        ));
    }
    if let Some(cmd) = opts.command.as_deref().filter(|_| !opts.dry_run) {
        child::check_command(cmd).map_err(|e| RuntimeError::new(format!("cannot run `{cmd}`: {e}")))?;
    }
    // Opening an `-o` FIFO waits for a reader; a signal there still ends rtrace at once.
    let (out, mut view) = live::wrap(output::open(opts)?, plan, opts.live)?;
    // Bound before anything loads, so that a port in use fails at once.
    #[cfg(feature = "exporter")]
    let listener = match &opts.prometheus {
        Some(config) if !opts.dry_run => Some(export::listen(config)?),
        _ => None,
    };
    // The -c command starts now, held until every probe is attached, so `cpid` is known.
    let unwinds = !plan.dw_stack_depths.is_empty() && !opts.dry_run;
    let mut command = match &opts.command {
        Some(cmd) if !opts.dry_run => Some(
            child::HeldChild::spawn(cmd, unwinds).map_err(|e| RuntimeError::new(format!("cannot start `{cmd}`: {e}")))?,
        ),
        _ => None,
    };
    let tables = match unwinds {
        true => Some(unwind_tables(opts, command.as_mut())?),
        false => None,
    };
    signals::arm();
    let mut timer = Timer { on: opts.timings, since: std::time::Instant::now() };
    let dw_rows = tables.as_ref().map_or(0, unwind_rows);
    let mut session = Session::load(object, plan, out, opts, dw_rows)?;
    if let Some(tables) = &tables {
        fill_unwind(&session, tables)?;
    }
    session.max_cat_bytes = opts.max_cat_bytes;
    timer.lap("load");
    if opts.dry_run && opts.no_attach {
        return Ok(0);
    }
    let cpid = command.as_ref().map(child::HeldChild::pid);
    session.set_up(cpid, &opts.globals, &opts.str_globals)?;
    let target = cpid.or(opts.pid);
    let exited = match target {
        Some(pid) => Some(child::pidfd(pid).map_err(|e| RuntimeError::new(format!("cannot watch process {pid}: {e}")))?),
        None => None,
    };
    let watched = match target {
        Some(pid) => attach::Watched::Process(pid),
        None if opts.command.is_some() => attach::Watched::Nothing,
        None => attach::Watched::Cpus,
    };
    if opts.dry_run {
        session.attach(watched)?;
        session.announce();
        return Ok(0);
    }
    // Before BEGIN's output, as bpftrace (0.26 prints `Attached N probes` once the probes are
    // attached, but before it reads BEGIN's output).
    if opts.mode != Mode::Trace {
        return run_special(session, opts.mode);
    }
    if let Some(kind) = session.special_only() {
        return Err(RuntimeError::new(format!("no probes attached; use --{kind} to run {kind} probes")));
    }
    if session.has_signal_probes() {
        signals::catch_usr1().map_err(|e| RuntimeError::new(format!("cannot catch SIGUSR1: {e}")))?;
    }
    session.announce();
    #[cfg(feature = "exporter")]
    let exporter = listener.map(|l| export::Exporter::start(l, plan, session.object(), !opts.no_warnings));
    if let Some(view) = &mut view {
        view.start(&mut session)?;
    }
    session.run_begin()?;
    // Whether systemd was told rtrace is ready, and so must be told it stops.
    let mut ready = false;
    if !session.exited() && !signals::stop_requested() {
        session.attach(watched)?;
        timer.lap("attach");
        session.notify_attached(std::env::var_os("__BPFTRACE_NOTIFY_PROBES_ATTACHED").is_some());
        notify::notify(notify::READY, opts.no_warnings);
        ready = true;
        if let Some(c) = &mut command {
            c.release();
        }
        session.trace(exited.as_ref(), view.as_mut().map(|v| v as &mut dyn session::Watcher))?;
    }
    if ready {
        notify::notify(notify::STOPPING, opts.no_warnings);
    }
    #[cfg(feature = "exporter")]
    drop(exporter);
    session.stop_probes();
    // Leaving the live view: END and the maps print on the normal screen.
    drop(view);
    // The command ends with the run, as in bpftrace.
    if let Some(c) = &mut command {
        c.end();
    }
    if !signals::hurry() {
        session.run_end()?;
    }
    if plan.print_maps_on_exit {
        session.print_maps();
    }
    let status = session.finish();
    if signals::pipe_broken() {
        signals::die_of_sigpipe();
    }
    Ok(status)
}

#[cfg(feature = "compiler")]
type UnwindTables = unwind::Tables;
#[cfg(not(feature = "compiler"))]
type UnwindTables = ();

/// `dw_ustack`'s unwind tables of its targets: `--dwarf-pid`s, `-p`'s process and the `-c`
/// command, run to its entry point (an error when there is none); a warning for each target without
/// unwind information.
#[cfg(feature = "compiler")]
fn unwind_tables(opts: &Options, command: Option<&mut child::HeldChild>) -> Result<UnwindTables> {
    let mut pids = opts.dwarf_pids.clone();
    pids.extend(opts.pid);
    if let Some(c) = command {
        if c.run_to_entry() {
            pids.push(c.pid());
        }
    }
    if pids.is_empty() {
        return Err(RuntimeError::new("dw_ustack requires a target process. Use -p, -c, or --dwarf-pid to specify one."));
    }
    let tables = unwind::tables(&pids).map_err(RuntimeError::new)?;
    if !opts.no_warnings {
        for pid in &tables.without {
            eprintln!("WARNING: dw_ustack: no DWARF unwind data available for process {pid}");
        }
    }
    Ok(tables)
}

#[cfg(not(feature = "compiler"))]
fn unwind_tables(_: &Options, _: Option<&mut child::HeldChild>) -> Result<UnwindTables> {
    Err(RuntimeError::new("dw_ustack needs rtrace itself: a built tool cannot read unwind tables"))
}

#[cfg(feature = "compiler")]
fn unwind_rows(tables: &UnwindTables) -> u32 {
    tables.rows.len().max(1) as u32
}
#[cfg(not(feature = "compiler"))]
fn unwind_rows(_: &UnwindTables) -> u32 {
    1
}

#[cfg(feature = "compiler")]
fn fill_unwind(session: &Session, tables: &UnwindTables) -> Result<()> {
    session.fill_unwind(tables)
}
#[cfg(not(feature = "compiler"))]
fn fill_unwind(_: &Session, _: &UnwindTables) -> Result<()> {
    Ok(())
}

/// `--test` or `--bench`: BEGIN, the tests or benchmarks, END; nothing is attached and no map
/// is printed. The status is 1 when a test or benchmark failed.
fn run_special(mut session: Session, mode: Mode) -> Result<i32> {
    session.run_begin()?;
    let status = if session.exited() {
        0
    } else if mode == Mode::Test {
        session.run_tests()?
    } else {
        session.run_benches()?
    };
    if !signals::hurry() {
        session.run_end()?;
    }
    Ok(session.finish().max(status))
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
