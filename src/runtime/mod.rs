//! The runtime: loads the BPF object (libbpf-rs), attaches every probe, runs BEGIN, prints
//! events from the ring buffer as they come, and on exit (END done, `exit()`, SIGINT, SIGTERM)
//! runs END, prints every map in bpftrace's format and detaches. It reads the plan only — never
//! the parser, sema or LLVM — so it could run a precompiled object on another host.

mod child;
pub mod format;
mod json;
mod maps;
mod printf;
mod symbols;

use crate::plan::{self, Attach, EventKind, Plan};
use libbpf_rs::{Link, MapCore, Object, ObjectBuilder, PrintLevel, ProgramInput, RingBufferBuilder};
use std::cell::RefCell;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::Mutex;

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

/// libbpf's log lines, collected while loading.
static LIBBPF_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn collect_log(_level: PrintLevel, msg: String) {
    if let Ok(mut log) = LIBBPF_LOG.lock() {
        log.push(msg);
    }
}

fn take_log() -> String {
    LIBBPF_LOG.lock().map(|mut l| std::mem::take(&mut *l).concat()).unwrap_or_default()
}

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

/// What the ring-buffer callback shares with the event loop.
struct Shared {
    out: std::io::BufWriter<Box<dyn Write>>,
    /// `-f json`.
    json: bool,
    exit_code: Option<i32>,
    /// Map operations events asked for, done between ring-buffer reads (they need the object).
    actions: Vec<MapAction>,
    symbols: symbols::Symbols,
    /// Lost events already reported.
    lost_reported: u64,
}

impl Shared {
    /// Writes an event's text, or with `-f json` its JSON line of type `kind`.
    fn write_event(&mut self, kind: &str, text: String) {
        let text = if self.json { json::line(kind, serde_json::Value::String(text)) } else { text };
        let _ = self.out.write_all(text.as_bytes());
    }
}

/// Reports the events lost since the last report (the ring buffer was full): `Lost N events`
/// on stderr, or with `-f json` a `lost_events` line in the output.
fn report_lost(s: &mut Shared, total: u64) {
    if total <= s.lost_reported {
        return;
    }
    let n = total - s.lost_reported;
    s.lost_reported = total;
    if s.json {
        let _ = s.out.write_all(json::line("lost_events", serde_json::json!({ "events": n })).as_bytes());
    } else {
        let _ = s.out.flush();
        eprintln!("Lost {n} events");
    }
}

enum MapAction {
    Clear(usize),
    Zero(usize),
    /// Map index, top, div.
    Print(usize, u64, u64),
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
    let obj = load(object, plan, opts)?;
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

    let links = attach(&obj, plan, watched)?;
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
        detach_in_background(links);
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
    detach_in_background(links);
    Ok(code)
}

/// Detaches every probe off the user's critical path. Closing a perf-event tracepoint waits
/// for RCU grace periods in the kernel (~80 ms each, one after another), and that wait happens
/// in whichever process closes the last reference. So a forked child keeps a copy of every
/// descriptor until rtrace has exited, and the slow release happens when the child exits, not
/// when rtrace does. The child closes stdin, stdout and stderr at once, so whoever reads
/// rtrace's output sees it end with rtrace. When the fork fails, rtrace detaches itself.
fn detach_in_background(links: Vec<Link>) {
    if links.is_empty() {
        return;
    }
    // `fds`: reaches end-of-file in the child when rtrace has exited. `ready`: reaches
    // end-of-file in rtrace once the child has closed its copies of stdin, stdout and stderr,
    // so that rtrace's output never outlives rtrace, however late the child is scheduled.
    let (mut fds, mut ready) = ([0; 2], [0; 2]);
    // SAFETY: pipe2 writes two new descriptors into its array; close takes back the first
    // pair when the second pipe cannot be made.
    let piped = unsafe {
        libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) == 0
            && (libc::pipe2(ready.as_mut_ptr(), libc::O_CLOEXEC) == 0 || {
                libc::close(fds[0]);
                libc::close(fds[1]);
                false
            })
    };
    if !piped {
        drop(links);
        return;
    }
    // SAFETY: fork has no preconditions. The child only closes descriptors, waits for the
    // pipe to reach end-of-file (rtrace has exited), and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: plain descriptor calls on the child's own descriptors.
        unsafe {
            libc::close(0);
            libc::close(1);
            libc::close(2);
            libc::close(ready[0]);
            libc::close(ready[1]);
            libc::close(fds[1]);
            let mut byte = 0u8;
            while libc::read(fds[0], (&mut byte as *mut u8).cast(), 1) != 0 {}
            libc::_exit(0);
        }
    }
    // SAFETY: descriptors the parent owns; the read returns 0 when the child has closed its
    // copy of `ready[1]` (or at once, if the fork failed).
    unsafe {
        libc::close(fds[0]);
        libc::close(ready[1]);
        let mut byte = 0u8;
        while libc::read(ready[0], (&mut byte as *mut u8).cast(), 1) < 0
            && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {}
        libc::close(ready[0]);
    }
    // Disables the probes and closes rtrace's copies: cheap while the child holds its own.
    // (Without a child, this is where the slow release happens.)
    drop(links);
}

fn handle_event(plan: &Plan, shared: &Rc<RefCell<Shared>>, data: &[u8]) -> i32 {
    let mut s = shared.borrow_mut();
    if s.exit_code.is_some() {
        // After exit(), other probes' events are dropped, as in bpftrace.
        return 0;
    }
    if data.len() < plan::EVENT_HEADER {
        return 0;
    }
    let kind = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let id = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
    match EventKind::from_u32(kind) {
        Some(EventKind::Printf) => {
            if let Some(def) = plan.printfs.get(id as usize) {
                let text = printf::format(def, data, &plan.tuples, &mut s.symbols);
                s.write_event("printf", text);
            }
        }
        Some(EventKind::System) => {
            if let Some(def) = plan.printfs.get(id as usize) {
                let command = printf::format(def, data, &plan.tuples, &mut s.symbols);
                let _ = s.out.flush();
                // The command's output goes where the script's does, in order with it.
                match child::system(&command) {
                    Ok(output) => s.write_event("system", String::from_utf8_lossy(&output).into_owned()),
                    Err(e) => eprintln!("error: system(\"{command}\"): {e}"),
                }
            }
        }
        Some(EventKind::PrintValue) => {
            let Some(def) = plan.printfs.get(id as usize) else { return 0 };
            if s.json {
                let Some(field) = def.args.first() else { return 0 };
                let bytes = data.get(field.offset..field.offset + field.kind.size()).unwrap_or(&[]);
                let value = printf::decode(field.kind, bytes, &plan.tuples, &mut s.symbols);
                let text = json::line("value", json::value_json(&value));
                let _ = s.out.write_all(text.as_bytes());
            } else {
                let text = printf::format(def, data, &plan.tuples, &mut s.symbols);
                let _ = s.out.write_all(text.as_bytes());
            }
        }
        Some(EventKind::Time) => {
            if let Some(fmt) = plan.time_formats.get(id as usize) {
                s.write_event("time", printf::strftime(fmt, clock_ns(libc::CLOCK_REALTIME)));
            }
        }
        Some(EventKind::Cat) => {
            if let Some(path) = plan.cat_paths.get(id as usize) {
                match std::fs::read(path) {
                    Ok(bytes) => s.write_event("cat", String::from_utf8_lossy(&bytes).into_owned()),
                    Err(e) => eprintln!("error: cat(\"{path}\"): {e}"),
                }
            }
        }
        Some(EventKind::Join) => {
            let sep = plan.join_separators.get(id as usize).map_or(" ", String::as_str);
            let strings: Vec<String> = data[plan::EVENT_HEADER..]
                .chunks(plan::JOIN_ARG_LEN)
                .map(printf::c_string)
                .take_while(|s| !s.is_empty())
                .collect();
            s.write_event("join", format!("{}\n", strings.join(sep)));
        }
        Some(EventKind::Exit) => s.exit_code = Some(id as i32),
        Some(EventKind::Clear) => {
            s.actions.push(MapAction::Clear(id as usize));
            return -1;
        }
        Some(EventKind::Zero) => {
            s.actions.push(MapAction::Zero(id as usize));
            return -1;
        }
        Some(EventKind::PrintMap) => {
            let arg = |i: usize| data.get(plan::EVENT_HEADER + 8 * i..).map_or(0, printf::read_u64);
            s.actions.push(MapAction::Print(id as usize, arg(0), arg(1)));
            return -1;
        }
        None => {}
    }
    0
}

/// The errno behind a libbpf error, if it has one: libbpf-rs keeps the `io::Error` in a
/// private type, so it is read from the error chain's text (`… (os error 84)`).
fn io_errno(e: &libbpf_rs::Error) -> Option<i32> {
    let text = format!("{e:#}");
    let at = text.rfind("(os error ")? + "(os error ".len();
    text[at..].split(')').next()?.parse().ok()
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

fn load(object: &[u8], plan: &Plan, opts: &Options) -> Result<Object> {
    let _ = take_log();
    libbpf_rs::set_print(Some((PrintLevel::Debug, collect_log)));
    let mut builder = ObjectBuilder::default();
    let mut open = builder
        .open_memory(object)
        .map_err(|e| RuntimeError::new(format!("internal error: libbpf cannot open rtrace's object: {e}")))?;
    load_without_multi_links(&mut open, plan, opts.no_attach);
    let result = open.load();
    let log = take_log();
    libbpf_rs::set_print(None);
    if log.contains("BTF is optional, ignoring") {
        eprintln!("warning: the kernel rejected rtrace's BTF; some features may not work (run with -v for details)");
        if opts.verbose {
            eprintln!("{log}");
        }
    }
    match result {
        Ok(obj) => Ok(obj),
        Err(e) => {
            let err = describe_load_failure(plan, &log, &e.to_string());
            if opts.verbose {
                eprintln!("{log}");
            }
            Err(err)
        }
    }
}

/// Turns libbpf's log of a failed load into one line naming the probe and the reason.
fn describe_load_failure(plan: &Plan, log: &str, error: &str) -> RuntimeError {
    let prog = log.lines().find_map(|l| {
        let rest = l.split("prog '").nth(1)?;
        let name = rest.split('\'').next()?;
        (l.contains("failed to load") || l.contains("load failed") || l.contains("BEGIN PROG LOAD LOG"))
            .then(|| name.to_string())
    });
    let probe = prog
        .as_ref()
        .and_then(|name| plan.probes.iter().find(|p| &p.prog_name == name))
        .map(|p| p.display.clone());
    let verifier_log: Vec<&str> = log
        .split("-- BEGIN PROG LOAD LOG --")
        .nth(1)
        .and_then(|s| s.split("-- END PROG LOAD LOG --").next())
        .map(|s| s.lines().map(str::trim).filter(|l| !l.is_empty()).collect())
        .unwrap_or_default();
    let reason = verifier_log
        .iter()
        .rev()
        .find(|l| !l.starts_with("processed ") && !l.starts_with("verification time") && !l.starts_with("stack depth"))
        .map(|s| s.to_string())
        .unwrap_or_else(|| error.to_string());
    let message = match probe {
        Some(p) if !verifier_log.is_empty() => {
            format!("the kernel's verifier rejected probe `{p}`: {reason} (run with -v for the verifier log)")
        }
        Some(p) => format!("the kernel refused to load probe `{p}`: {reason} (run with -v for libbpf's log)"),
        None => format!("the kernel refused to load the programs: {reason} (run with -v for libbpf's log)"),
    };
    RuntimeError { message, detail: Some(log.to_string()) }
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

/// `target`: the `-p` or `-c` process, whose addresses watchpoints watch (none under
/// `--dry-run -c`, which starts no command: watchpoints are then left unattached).
fn attach(obj: &Object, plan: &Plan, target: Option<u32>) -> Result<Vec<Link>> {
    let mut links = Vec::new();
    for def in &plan.probes {
        let prog = program(obj, &def.prog_name)?;
        // (attaching: not under --no-attach)
        if multi_link(def, false) {
            attach_multi(&prog, plan, def, &mut links)
                .map_err(|e| RuntimeError::new(format!("cannot attach probe `{}`: {e}", def.display)))?;
            continue;
        }
        for (attach, cookie) in def.points() {
            attach_one(&prog, plan, attach, cookie, target, &mut links).map_err(|e| {
                // A shared program's points: name the one that failed.
                let name = plan.probe_names.get(cookie as usize).filter(|_| !def.also.is_empty());
                RuntimeError::new(format!("cannot attach probe `{}`: {e}", name.unwrap_or(&def.display)))
            })?;
        }
    }
    Ok(links)
}

/// Whether `def`'s points get one multi-attach link (kprobe_multi; uprobe_multi, one per
/// binary) instead of one link each: where sema compiled the program for one
/// (`ProbeDef::multi`, a `.multi` section) and this kernel has them. Under `--no-attach`
/// the kernel is not asked about kprobe_multi (asking links a probe for an instant).
fn multi_link(def: &plan::ProbeDef, no_attach: bool) -> bool {
    def.multi
        && match def.attach {
            Attach::Uprobe { .. } | Attach::Usdt { .. } => crate::kernel::features::has_uprobe_multi(),
            Attach::Kprobe { .. } => !no_attach && crate::kernel::features::has_kprobe_multi(),
            _ => false,
        }
}

/// Loads the programs compiled for a multi-attach link that this kernel will not make
/// (`multi_link`) as plain kprobes and uprobes, to be attached one link per point: their
/// expected attach type becomes 0, as libbpf's `kprobe/` and `uprobe/` sections set it.
fn load_without_multi_links(open: &mut libbpf_rs::OpenObject, plan: &Plan, no_attach: bool) {
    for mut prog in open.progs_mut() {
        let def = plan.probes.iter().find(|d| prog.name() == d.prog_name.as_str());
        if def.is_some_and(|d| d.multi && !multi_link(d, no_attach)) {
            prog.set_attach_type(libbpf_rs::ProgramAttachType::from(0));
        }
    }
}

/// Attaches a program at all its uprobe or USDT points with one uprobe_multi link per binary
/// (one kernel call, and one RCU grace period when detached, for any number of functions).
fn attach_multi(prog: &libbpf_rs::ProgramMut, plan: &Plan, def: &plan::ProbeDef, links: &mut Vec<Link>) -> std::result::Result<(), String> {
    if let Attach::Kprobe { ret, .. } = def.attach {
        let mut opts = libbpf_rs::KprobeMultiOpts { retprobe: ret, ..Default::default() };
        for (attach, cookie) in def.points() {
            let Attach::Kprobe { func, .. } = attach else { return Err("not a kprobe".into()) };
            opts.symbols.push(func.clone());
            opts.cookies.push(cookie);
        }
        links.push(prog.attach_kprobe_multi_with_opts(opts).map_err(|e| e.to_string())?);
        return Ok(());
    }
    // Per binary: file offsets, semaphore offsets and cookies.
    let mut by_path: Vec<(&str, bool, libbpf_rs::UprobeMultiOpts)> = Vec::new();
    for (attach, cookie) in def.points() {
        let (path, offset, semaphore, ret) = match attach {
            Attach::Uprobe { path, offset, ret, .. } => (path.as_str(), *offset, 0, *ret),
            Attach::Usdt { path, offset, semaphore, .. } => (path.as_str(), *offset, *semaphore, false),
            _ => return Err("not a uprobe".into()),
        };
        let at = match by_path.iter().position(|(p, r, _)| *p == path && *r == ret) {
            Some(i) => i,
            None => {
                let opts = libbpf_rs::UprobeMultiOpts { retprobe: ret, ..Default::default() };
                by_path.push((path, ret, opts));
                by_path.len() - 1
            }
        };
        let opts = &mut by_path[at].2;
        opts.offsets.push(offset as usize);
        opts.ref_ctr_offsets.push(semaphore as usize);
        opts.cookies.push(cookie);
    }
    let pid = plan.filter_pid.map_or(-1, |p| p as i32);
    for (path, _, mut opts) in by_path {
        if opts.ref_ctr_offsets.iter().all(|&o| o == 0) {
            opts.ref_ctr_offsets.clear();
        }
        links.push(prog.attach_uprobe_multi_with_opts(pid, path, "", opts).map_err(|e| e.to_string())?);
    }
    Ok(())
}

/// Attaches `prog` at one attach point, with `cookie` for `probe` to read.
fn attach_one(
    prog: &libbpf_rs::ProgramMut,
    plan: &Plan,
    attach: &Attach,
    cookie: u64,
    target: Option<u32>,
    links: &mut Vec<Link>,
) -> std::result::Result<(), String> {
    let err = |e: libbpf_rs::Error| e.to_string();
    match attach {
        Attach::Begin | Attach::End => {}
        Attach::Tracepoint { id, .. } if *id != 0 => {
            // As libbpf attaches a tracepoint, with the id sema read already (libbpf would
            // read it from tracefs again: five system calls per tracepoint).
            let fd = tracepoint_event(*id).map_err(|e| e.to_string())?;
            let opts = libbpf_rs::PerfEventOpts { cookie, ..Default::default() };
            links.push(prog.attach_perf_event_with_opts(fd.into_raw_fd(), opts).map_err(err)?);
        }
        Attach::Tracepoint { category, event, .. } => {
            let opts = libbpf_rs::TracepointOpts { cookie, ..Default::default() };
            let category = libbpf_rs::TracepointCategory::Custom(category.clone());
            links.push(prog.attach_tracepoint_with_opts(category, event, opts).map_err(err)?);
        }
        Attach::RawTracepoint { name } => {
            let opts = libbpf_rs::RawTracepointOpts { cookie, ..Default::default() };
            links.push(prog.attach_raw_tracepoint_with_opts(name, opts).map_err(err)?);
        }
        Attach::Kprobe { func, offset: 0, ret } => {
            let opts = libbpf_rs::KprobeOpts { cookie, ..Default::default() };
            links.push(prog.attach_kprobe_with_opts(*ret, func, opts).map_err(err)?);
        }
        // libbpf attaches kprobes at an offset, and fentry, by the program's section
        // (`kprobe/FUNC+OFFSET`, `fentry/FUNC`); such programs serve one attach point.
        Attach::Kprobe { func, offset, .. } => links.push(prog.attach().map_err(|e| {
            // The kernel checks the offset against its instruction decoder: EILSEQ.
            if io_errno(&e) == Some(libc::EILSEQ) {
                format!("offset {offset} is not at the start of an instruction of `{func}`; try another offset")
            } else {
                e.to_string()
            }
        })?),
        Attach::Fentry { .. } => links.push(prog.attach().map_err(err)?),
        Attach::Uprobe { path, offset, ret, .. } => {
            let pid = plan.filter_pid.map_or(-1, |p| p as i32);
            let opts = libbpf_rs::UprobeOpts { cookie, retprobe: *ret, ..Default::default() };
            links.push(prog.attach_uprobe_with_opts(pid, path, *offset as usize, opts).map_err(err)?);
        }
        Attach::Usdt { path, offset, semaphore, .. } => {
            let pid = plan.filter_pid.map_or(-1, |p| p as i32);
            let opts = libbpf_rs::UprobeOpts { cookie, ref_ctr_offset: *semaphore as usize, ..Default::default() };
            links.push(prog.attach_uprobe_with_opts(pid, path, *offset as usize, opts).map_err(err)?);
        }
        Attach::Interval { period_ns } => {
            let fd = perf_event(plan::PerfEvent::CPU_CLOCK, *period_ns, false, 0).map_err(|e| e.to_string())?;
            // libbpf's link takes the descriptor and closes it on detach.
            links.push(prog.attach_perf_event(fd.into_raw_fd()).map_err(err)?);
        }
        Attach::Perf { event, period, frequency } => {
            for cpu in crate::kernel::features::online_cpus() {
                let fd = perf_event(*event, *period, *frequency, cpu).map_err(|e| {
                    if e.raw_os_error() == Some(libc::ENOENT) && event.type_ == plan::PerfEvent::HARDWARE {
                        "this machine has no hardware performance counters (no PMU); use a `software:` or `profile:` probe"
                            .to_string()
                    } else {
                        e.to_string()
                    }
                })?;
                links.push(prog.attach_perf_event(fd.into_raw_fd()).map_err(err)?);
            }
        }
        Attach::Watchpoint { addr, len, bp_type } => {
            let Some(pid) = target else { return Ok(()) };
            // One breakpoint per thread the process has now, each inherited by the threads
            // (and processes) that thread starts later.
            let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).map_err(|e| format!("cannot list the threads of process {pid}: {e}"))?;
            let mut tids: Vec<i32> = tasks.filter_map(|t| t.ok()?.file_name().to_str()?.parse().ok()).collect();
            tids.sort_unstable();
            for tid in tids {
                let attr = PerfEventAttr {
                    type_: PERF_TYPE_BREAKPOINT,
                    sample_period: 1,
                    flags: ATTR_FLAG_INHERIT,
                    bp_type: *bp_type,
                    config1: *addr,
                    config2: *len,
                    ..Default::default()
                };
                match perf_event_open(attr, tid, -1) {
                    Ok(fd) => links.push(prog.attach_perf_event(fd.into_raw_fd()).map_err(err)?),
                    // A thread that has exited since it was listed.
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                    Err(e) => return Err(breakpoint_error(&e, *addr)),
                }
            }
        }
    }
    Ok(())
}

/// What a failed `perf_event_open` of a hardware breakpoint means.
fn breakpoint_error(e: &std::io::Error, addr: u64) -> String {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::EOPNOTSUPP) => {
            "this kernel has no hardware breakpoints (no `breakpoint` perf PMU: built without CONFIG_HAVE_HW_BREAKPOINT)".into()
        }
        Some(libc::ENOSPC) => "no hardware breakpoint is free: x86 has 4 debug registers per thread, shared with debuggers".into(),
        Some(libc::EINVAL) => format!("the kernel refused a breakpoint at 0x{addr:x} (not an address this process can watch?)"),
        _ => e.to_string(),
    }
}

/// `struct perf_event_attr` as of PERF_ATTR_SIZE_VER1 (72 bytes), enough for a timer and a
/// hardware breakpoint (`config1` is `bp_addr`, `config2` is `bp_len`).
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    type_: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
    config2: u64,
}

const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// `perf_event_attr.freq`: `sample_period` is a frequency in Hz.
const ATTR_FLAG_FREQ: u64 = 1 << 10;
/// `perf_event_attr.inherit`: threads and processes the task starts later get the event too.
const ATTR_FLAG_INHERIT: u64 = 1 << 1;
const PERF_TYPE_BREAKPOINT: u32 = 5;

/// The perf event of tracepoint `id`, which runs an attached program at every hit on any CPU.
fn tracepoint_event(id: u64) -> std::io::Result<OwnedFd> {
    const PERF_TYPE_TRACEPOINT: u32 = 2;
    perf_event_open(PerfEventAttr { type_: PERF_TYPE_TRACEPOINT, config: id, ..Default::default() }, -1, 0)
}

/// A perf event on `cpu` that runs the attached program every `period` events (or
/// `period` times a second, with `frequency`).
fn perf_event(event: plan::PerfEvent, period: u64, frequency: bool, cpu: i32) -> std::io::Result<OwnedFd> {
    let attr = PerfEventAttr {
        type_: event.type_,
        config: event.config,
        sample_period: period,
        flags: if frequency { ATTR_FLAG_FREQ } else { 0 },
        ..Default::default()
    };
    perf_event_open(attr, -1, cpu)
}

/// Opens the perf event `attr` describes, for thread `pid` (-1: every process) on `cpu` (-1:
/// any CPU).
fn perf_event_open(attr: PerfEventAttr, pid: i32, cpu: i32) -> std::io::Result<OwnedFd> {
    let attr = PerfEventAttr { size: std::mem::size_of::<PerfEventAttr>() as u32, ..attr };
    // SAFETY: perf_event_open reads `attr` (valid, sized by its `size` field) and returns a new
    // descriptor that we take ownership of.
    let fd = unsafe {
        libc::syscall(libc::SYS_perf_event_open, &attr as *const PerfEventAttr, pid, cpu, -1i32, PERF_FLAG_FD_CLOEXEC)
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ProbeDef;

    /// A kernel without hardware breakpoints (no `breakpoint` PMU: perf_event_open says
    /// ENOENT) is one line naming the cause; this host has them, so the mapping is tested here.
    #[test]
    fn breakpoint_errors() {
        let e = |errno| breakpoint_error(&std::io::Error::from_raw_os_error(errno), 0x1000);
        assert_eq!(
            e(libc::ENOENT),
            "this kernel has no hardware breakpoints (no `breakpoint` perf PMU: built without CONFIG_HAVE_HW_BREAKPOINT)"
        );
        assert_eq!(e(libc::ENOSPC), "no hardware breakpoint is free: x86 has 4 debug registers per thread, shared with debuggers");
        assert_eq!(e(libc::EINVAL), "the kernel refused a breakpoint at 0x1000 (not an address this process can watch?)");
    }

    /// The shape of libbpf 1.7's log when the verifier rejects a program.
    const LOG: &str = "libbpf: prog 'p1': BPF program load failed: Permission denied
libbpf: prog 'p1': -- BEGIN PROG LOAD LOG --
0: R1=ctx() R10=fp0
0: (79) r1 = *(u64 *)(r1 +0)
R1 invalid mem access 'scalar'
processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
-- END PROG LOAD LOG --
libbpf: prog 'p1': failed to load: -13
libbpf: failed to load object 'rtrace'
";

    #[test]
    fn verifier_rejection_is_one_line_naming_the_probe() {
        let probe = |name: &str, display: &str| ProbeDef { prog_name: name.into(), display: display.into(), attach: Attach::Begin, cookie: 0, also: vec![], multi: false };
        let plan = Plan {
            probes: vec![probe("p0", "BEGIN"), probe("p1", "tracepoint:syscalls:sys_enter_openat")],
            ..Plan::default()
        };
        let err = describe_load_failure(&plan, LOG, "Permission denied (os error 13)");
        assert_eq!(
            err.message,
            "the kernel's verifier rejected probe `tracepoint:syscalls:sys_enter_openat`: R1 invalid mem access 'scalar' (run with -v for the verifier log)"
        );
    }
}
