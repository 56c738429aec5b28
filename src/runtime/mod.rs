//! The runtime: loads the BPF object (libbpf-rs), attaches every probe, runs BEGIN, prints
//! events from the ring buffer as they come, and on exit (END done, `exit()`, SIGINT, SIGTERM)
//! runs END, prints every map in bpftrace's format and detaches. It reads the plan only — never
//! the parser, sema or LLVM — so it could run a precompiled object on another host.

mod attach;
mod child;
mod decode;
mod events;
mod layout;
mod load;
mod maps;
mod output;
mod printf;
mod symbols;
mod value;

use crate::plan::{self, Attach, Plan};
use events::{handle_event, report_lost, MapAction, Shared};
use libbpf_rs::{MapCore, Object, ProgramInput, RingBufferBuilder};
use output::json;
use std::cell::RefCell;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::rc::Rc;

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

/// A runtime failure, as one line for the user; `detail` is shown with `-v`.
#[derive(Debug)]
pub struct RuntimeError {
    pub message: String,
    pub detail: Option<String>,
}

impl RuntimeError {
    fn new(message: impl Into<String>) -> RuntimeError {
        RuntimeError { message: message.into(), detail: None }
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
    let flush_batches = opts.buffering.is_none();
    // The -c command starts now, held until every probe is attached, so `cpid` is known.
    let mut command = match &opts.command {
        Some(cmd) if !opts.dry_run => Some(
            child::HeldChild::spawn(cmd).map_err(|e| RuntimeError::new(format!("cannot start `{cmd}`: {e}")))?,
        ),
        _ => None,
    };
    let started = std::time::Instant::now();
    let lap = |stage: &str, since: std::time::Instant| {
        if opts.timings {
            eprintln!("timing: {stage:<8} {:>8.3} ms", since.elapsed().as_secs_f64() * 1000.0);
        }
        std::time::Instant::now()
    };
    let obj = load::load(object, plan, opts)?;
    let loaded = lap("load", started);
    if opts.dry_run && opts.no_attach {
        return Ok(0);
    }
    if let Some(c) = &command {
        set_global(&obj, plan::GLOBAL_CPID, c.pid() as u64)?;
    }
    let watched = command.as_ref().map(|c| c.pid()).or(opts.pid);
    let exited = match watched {
        Some(pid) => Some(child::pidfd(pid).map_err(|e| RuntimeError::new(format!("cannot watch process {pid}: {e}")))?),
        None => None,
    };
    if plan.uses_elapsed {
        set_start_time(&obj)?;
    }
    set_params(&obj, plan)?;

    let shared = Rc::new(RefCell::new(Shared {
        out: std::io::BufWriter::with_capacity(capacity, out),
        json: opts.json,
        exit_code: None,
        actions: Vec::new(),
        symbols: symbols::Symbols::default(),
        lost_reported: 0,
    }));
    {
        let symbols = &mut shared.borrow_mut().symbols;
        symbols.probe_names = plan.probe_names.clone();
        symbols.strftime_formats = plan.strftime_formats.clone();
        symbols.enums = plan.enums.clone();
        symbols.boot_ns = clock_ns(libc::CLOCK_REALTIME).wrapping_sub(clock_ns(libc::CLOCK_MONOTONIC));
    }
    for &depth in &plan.stack_depths {
        let stacks = find_map(&obj, &plan::stack_map(depth))?;
        if let Ok(handle) = libbpf_rs::MapHandle::try_from(&stacks) {
            shared.borrow_mut().symbols.stacks.insert(depth, handle);
        }
    }
    let events = find_map(&obj, plan::EVENTS_MAP)?;
    let mut rb_builder = RingBufferBuilder::new();
    let cb_shared = shared.clone();
    let cb_plan = plan.clone();
    rb_builder
        .add(&events, move |data: &[u8]| handle_event(&cb_plan, &cb_shared, data))
        .map_err(|e| RuntimeError::new(format!("cannot set up the ring buffer: {e}")))?;
    let ringbuf = rb_builder.build().map_err(|e| RuntimeError::new(format!("cannot set up the ring buffer: {e}")))?;

    let links = attach::attach(&obj, plan, watched)?;
    lap("attach", loaded);
    let n: usize = plan.probes.iter().map(|p| 1 + p.also.len()).sum();
    if opts.json {
        let mut s = shared.borrow_mut();
        let _ = s.out.write_all(json::line("attached_probes", serde_json::json!({ "probes": n })).as_bytes());
        let _ = s.out.flush();
    } else if !opts.quiet {
        eprintln!("Attaching {n} probe{}...", if n == 1 { "" } else { "s" });
    }
    if opts.dry_run {
        child::detach_in_background(links);
        return Ok(0);
    }
    if std::env::var_os("__BPFTRACE_NOTIFY_PROBES_ATTACHED").is_some() {
        let mut s = shared.borrow_mut();
        let _ = writeln!(s.out, "__BPFTRACE_NOTIFY_PROBES_ATTACHED");
        let _ = s.out.flush();
    }

    // Reads every pending event, in order: reading stops at an event that needs a map
    // operation, which is done before reading on.
    let drain = |shared: &Rc<RefCell<Shared>>| loop {
        let _ = ringbuf.consume();
        let actions = std::mem::take(&mut shared.borrow_mut().actions);
        let done = actions.is_empty();
        for action in actions {
            let mut s = shared.borrow_mut();
            match action {
                MapAction::Clear(index) => {
                    if let Some(def) = plan.maps.get(index) {
                        maps::clear(&obj, def);
                    }
                }
                MapAction::Zero(index) => {
                    if let Some(def) = plan.maps.get(index) {
                        maps::zero(&obj, def);
                    }
                }
                MapAction::Print(index, top, div) => {
                    let json = s.json;
                    let text = maps::print_one(&obj, plan, index, top, div, &mut s.symbols, json);
                    let _ = s.out.write_all(text.as_bytes());
                }
            }
        }
        if done {
            report_lost(&mut shared.borrow_mut(), maps::lost_events(&obj));
            if flush_batches {
                let _ = shared.borrow_mut().out.flush();
            }
            break;
        }
    };

    for (i, p) in plan.probes.iter().enumerate() {
        if p.attach == Attach::Begin {
            run_once(&obj, plan, i)?;
        }
    }
    drain(&shared);

    if let Some(c) = &mut command {
        c.release();
    }
    let only_begin_end = plan.probes.iter().all(|p| matches!(p.attach, Attach::Begin | Attach::End));
    // With -c or -p, tracing lasts until that process exits, even for BEGIN/END-only programs.
    if (!only_begin_end || exited.is_some()) && shared.borrow().exit_code.is_none() {
        event_loop(&shared, ringbuf.epoll_fd(), signals, exited.as_ref(), &|| drain(&shared))?;
    }
    if let Some(c) = &mut command {
        // Reap the command if it ended; leave it running if rtrace was stopped first.
        c.reap();
    }

    // END runs with event processing re-enabled, whatever stopped the loop.
    let code = shared.borrow_mut().exit_code.take().unwrap_or(0);
    for (i, p) in plan.probes.iter().enumerate() {
        if p.attach == Attach::End {
            run_once(&obj, plan, i)?;
        }
    }
    drain(&shared);
    let code = shared.borrow().exit_code.unwrap_or(code);

    {
        let mut s = shared.borrow_mut();
        // bpftrace separates the maps from the trace output by two empty lines; rtrace does
        // too, but only when the program has maps (docs/differences.md).
        if !plan.maps.is_empty() {
            let _ = s.out.write_all(b"\n\n");
        }
        let json = s.json;
        let text = maps::print_all(&obj, plan, &mut s.symbols, json);
        let _ = s.out.write_all(text.as_bytes());
        let _ = s.out.flush();
    }
    report_lost(&mut shared.borrow_mut(), maps::lost_events(&obj));
    // Flushes and closes the output (a duplicate of standard output) before the detaching
    // child is forked: holding it, the child kept a pipe to rtrace open until every probe was
    // released (`rtrace big.bt | less` waited ~80 ms a tracepoint after rtrace had exited).
    let _ = std::mem::replace(&mut shared.borrow_mut().out, std::io::BufWriter::new(Box::new(std::io::sink())));
    child::detach_in_background(links);
    Ok(code)
}

/// The time of `clock` in nanoseconds.
fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Waits for ring-buffer data or a signal, without a timeout, until exit() or a signal.
fn event_loop(
    shared: &Rc<RefCell<Shared>>,
    rb_fd: i32,
    signals: &OwnedFd,
    exited: Option<&OwnedFd>,
    drain: &dyn Fn(),
) -> Result<()> {
    // A watched process that exits ends tracing like a signal does; -1 is ignored by poll.
    let mut fds = [
        libc::pollfd { fd: rb_fd, events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: signals.as_raw_fd(), events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: exited.map_or(-1, |fd| fd.as_raw_fd()), events: libc::POLLIN, revents: 0 },
    ];
    loop {
        // SAFETY: `fds` is a valid array of pollfd for the duration of the call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(RuntimeError::new(format!("poll failed: {err}")));
        }
        if fds[0].revents != 0 {
            drain();
            if shared.borrow().exit_code.is_some() {
                return Ok(());
            }
        }
        if fds[1].revents != 0 {
            let mut info = [0u8; 128];
            // SAFETY: reading into a buffer of the size of signalfd_siginfo (128 bytes).
            unsafe { libc::read(signals.as_raw_fd(), info.as_mut_ptr().cast(), info.len()) };
            drain();
            return Ok(());
        }
        if fds[2].revents != 0 {
            drain();
            return Ok(());
        }
    }
}

fn find_map<'o>(obj: &'o Object, name: &str) -> Result<libbpf_rs::Map<'o>> {
    obj.maps()
        .find(|m| m.name() == name)
        .ok_or_else(|| RuntimeError::new(format!("internal error: map {name} missing from the object")))
}

fn set_start_time(obj: &Object) -> Result<()> {
    set_global(obj, plan::GLOBAL_START_NS, clock_ns(libc::CLOCK_MONOTONIC))
}

/// Fills the parameters map: the literals of programs shared by probes that differ in them,
/// one row per attach cookie.
fn set_params(obj: &Object, plan: &Plan) -> Result<()> {
    let slots = plan.param_slots();
    if slots == 0 {
        return Ok(());
    }
    let map = find_map(obj, plan::PARAMS_MAP)?;
    let mut row = vec![0u8; 8 * slots];
    for (cookie, values) in &plan.params {
        row.fill(0);
        for (chunk, v) in row.chunks_mut(8).zip(values) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        map.update(&(*cookie as u32).to_le_bytes(), &row, libbpf_rs::MapFlags::ANY)
            .map_err(|e| RuntimeError::new(format!("cannot set a probe's parameters: {e}")))?;
    }
    Ok(())
}

/// Sets one of the values programs read from the globals map.
fn set_global(obj: &Object, index: u32, value: u64) -> Result<()> {
    find_map(obj, plan::GLOBALS_MAP)?
        .update(&index.to_le_bytes(), &value.to_le_bytes(), libbpf_rs::MapFlags::ANY)
        .map_err(|e| RuntimeError::new(format!("cannot set a global value: {e}")))
}

fn program<'o>(obj: &'o Object, name: &str) -> Result<libbpf_rs::ProgramMut<'o>> {
    obj.progs_mut()
        .find(|p| p.name() == name)
        .ok_or_else(|| RuntimeError::new(format!("internal error: program {name} missing from the object")))
}

/// Runs a BEGIN or END program once through BPF_PROG_TEST_RUN.
fn run_once(obj: &Object, plan: &Plan, index: usize) -> Result<()> {
    let def = &plan.probes[index];
    let prog = program(obj, &def.prog_name)?;
    prog.test_run(ProgramInput::default())
        .map_err(|e| RuntimeError::new(format!("cannot run probe `{}`: {e}", def.display)))?;
    Ok(())
}
