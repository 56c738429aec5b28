//! The robustness suite: rtrace always stops when asked, and never loses END's output. Each
//! case runs in the real kernel, under rtrace and (where bpftrace 0.17 is the reference)
//! under /usr/bin/bpftrace, and checks: the exit within a generous bound after the signal (2 s,
//! so a loaded machine passes), the exit status, END's output, and that the programs and links
//! the tracer held are gone from the kernel afterwards (found in /proc/PID/fdinfo while it
//! runs, looked up with bpftool after). It ends with a table of both tracers' outcomes. Only
//! rtrace's outcomes can fail the suite; bpftrace's are there to compare. See
//! tests/robustness/README.md for the cases.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "robustness/kernel_objects.rs"]
mod kernel_objects;
use kernel_objects::{exists, held_objects};

const RTRACE: &str = env!("CARGO_BIN_EXE_rtrace");
const BPFTRACE: &str = "/usr/bin/bpftrace";
const MARKER: &str = "__BPFTRACE_NOTIFY_PROBES_ATTACHED";
/// How long a tracer may take to exit after it is asked to.
const BOUND: Duration = Duration::from_secs(2);
/// How long a tracer may take to start and attach.
const START: Duration = Duration::from_secs(20);
const SELF_FEEDING: &str = r#"tracepoint:raw_syscalls:sys_enter { printf("%d %s\n", pid, comm); } END { printf("END ran\n"); }"#;

#[derive(Clone, Copy, PartialEq)]
enum Tracer {
    Rtrace,
    Bpftrace,
}

impl Tracer {
    fn path(self) -> &'static str {
        match self {
            Tracer::Rtrace => RTRACE,
            Tracer::Bpftrace => BPFTRACE,
        }
    }
}

/// What one run showed: `Ok` with a short note, or what went wrong.
type Outcome = Result<String, String>;

struct Case {
    name: &'static str,
    /// Whether bpftrace is run too (it is the reference, or the comparison shows a difference).
    compare: bool,
    run: fn(Tracer) -> Outcome,
}

const CASES: &[Case] = &[
    Case { name: "SIGINT, -B none, self-feeding raw_syscalls printf", compare: true, run: |t| self_feeding(t, Some("none"), libc::SIGINT, false) },
    Case { name: "SIGINT, -B line, self-feeding raw_syscalls printf", compare: false, run: |t| self_feeding(t, Some("line"), libc::SIGINT, false) },
    Case { name: "SIGINT, default buffering, getppid() loop", compare: true, run: |t| self_feeding(t, None, libc::SIGINT, true) },
    Case { name: "SIGTERM, default buffering, getppid() loop", compare: false, run: |t| self_feeding(t, None, libc::SIGTERM, true) },
    Case { name: "exit() then END, raw_syscalls under load (3 runs)", compare: true, run: exit_then_end },
    Case { name: "stdout closed (| head -1)", compare: true, run: closed_pipe },
    Case { name: "-o /dev/full", compare: true, run: dev_full },
    Case { name: "2>/dev/full", compare: true, run: stderr_full },
    Case { name: "SIGINT while reading the script from stdin", compare: true, run: |t| blocked_start(t, Blocked::Stdin) },
    Case { name: "SIGINT while the script file is a FIFO without writer", compare: true, run: |t| blocked_start(t, Blocked::ScriptFifo) },
    Case { name: "SIGINT while -o is a FIFO without reader", compare: true, run: |t| blocked_start(t, Blocked::OutputFifo) },
    Case { name: "cat() of a FIFO without writer", compare: true, run: cat_fifo },
    Case { name: "second SIGINT with a stalled reader", compare: true, run: stalled_reader },
    Case { name: "BEGIN runs before the other probes attach", compare: true, run: begin_first },
    Case { name: "-c with a missing command", compare: true, run: |t| bad_command(t, "/nonexistent/cmd") },
    Case { name: "-c with a file that is not executable", compare: true, run: |t| bad_command(t, "/etc/passwd") },
    Case { name: "-c command ended after SIGINT", compare: true, run: command_ended },
    Case { name: "-p with -c", compare: true, run: pid_and_command },
    Case { name: "-l and --info as a user who cannot read tracefs", compare: true, run: not_root },
    Case { name: "second SIGINT while a 1M-key map is read and printed", compare: true, run: big_map_second_signal },
    Case { name: "one SIGINT while a 1M-key map prints after exit()", compare: false, run: big_map_first_signal },
    Case { name: "SIGINT during a long compile (20,000 `@x = 1;`)", compare: true, run: long_compile },
    Case { name: "Lost events reported within 2 s of the loss", compare: true, run: lost_reported_soon },
];

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: the robustness suite needs root");
        return;
    }
    if !Command::new("bpftool").arg("version").output().is_ok_and(|o| o.status.success()) {
        println!("skipped: needs bpftool (scripts/setup installs it)");
        return;
    }
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let bpftrace = std::path::Path::new(BPFTRACE).exists();
    if !bpftrace {
        println!("note: {BPFTRACE} missing: rtrace only");
    }
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut failed = 0;
    for case in CASES.iter().filter(|c| filter.is_empty() || filter.iter().any(|f| c.name.contains(f.as_str()))) {
        let ours = (case.run)(Tracer::Rtrace);
        let theirs = (case.compare && bpftrace).then(|| (case.run)(Tracer::Bpftrace));
        println!("{} ... {}", case.name, if ours.is_ok() { "ok" } else { "FAILED" });
        if let Err(e) = &ours {
            println!("    {e}");
            failed += 1;
        }
        rows.push((case.name, ours, theirs));
    }
    println!("\n| case | rtrace | bpftrace 0.17 |\n|---|---|---|");
    let cell = |o: &Outcome| match o {
        Ok(note) => format!("ok: {note}"),
        Err(e) => format!("**no**: {e}"),
    };
    for (name, ours, theirs) in &rows {
        let theirs = theirs.as_ref().map_or("—".to_string(), cell);
        println!("| {name} | {} | {theirs} |", cell(ours));
    }
    let better = rows.iter().filter(|(_, o, t)| o.is_ok() && matches!(t, Some(Err(_)))).count();
    println!("\nrtrace passes {} of {} cases; bpftrace fails {better} of those that rtrace passes ({:.0} s)", rows.len() - failed, rows.len(), started.elapsed().as_secs_f64());
    if failed > 0 {
        std::process::exit(1);
    }
}

/// A tracer started with its standard output in a file (`out`), standard error in another.
struct Run {
    child: Child,
    out: std::path::PathBuf,
    err: std::path::PathBuf,
    /// The BPF programs and links it held once attached.
    held: Vec<(&'static str, u64)>,
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("rtrace-robustness-{}-{name}", std::process::id()))
}

/// Starts `tracer` with `args`, its output in files, and waits until every probe is attached.
fn start(tracer: Tracer, args: &[&str]) -> Result<Run, String> {
    start_with(tracer, args, &[])
}

/// `start`, with variables added to the environment.
fn start_with(tracer: Tracer, args: &[&str], env: &[(&str, &str)]) -> Result<Run, String> {
    let (out, err) = (temp("out"), temp("err"));
    let file = |p: &std::path::Path| std::fs::File::create(p).map_err(|e| e.to_string());
    let child = Command::new(tracer.path())
        .args(args)
        .env(MARKER, "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(file(&out)?)
        .stderr(file(&err)?)
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    let mut run = Run { child, out, err, held: Vec::new() };
    let deadline = Instant::now() + START;
    // bpftrace writes the marker to standard error, rtrace to standard output.
    while !head(&run.out).contains(MARKER) && !head(&run.err).contains(MARKER) {
        if Instant::now() > deadline || run.child.try_wait().ok().flatten().is_some() {
            let _ = run.child.kill();
            let _ = run.child.wait();
            return Err(format!("did not attach: {}", head(&run.err).trim()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    run.held = held_objects(run.child.id());
    Ok(run)
}

/// The first MiB of a file (outputs can grow fast).
fn head(path: &std::path::Path) -> String {
    let mut buf = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(1 << 20).read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// The last 64 KiB of a file.
fn tail(path: &std::path::Path) -> String {
    let Ok(bytes) = std::fs::read(path) else { return String::new() };
    String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(64 << 10)..]).into_owned()
}

impl Run {
    /// Sends `sig`, waits for the exit within `BOUND`; returns the status and the time taken.
    fn signal_and_wait(&mut self, sig: i32) -> Result<(ExitStatus, Duration), String> {
        signal(self.child.id(), sig);
        let since = Instant::now();
        let status = wait_bounded(&mut self.child, BOUND).map_err(|t| format!("still running {t:.1?} after the signal"))?;
        Ok((status, since.elapsed()))
    }

    /// Checks that what the tracer held in the kernel has gone (the detaching child may take
    /// ~80 ms a tracepoint; 10 s is generous).
    fn check_released(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left: Vec<_> = self.held.iter().filter(|(kind, id)| exists(kind, *id)).collect();
            if left.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("still in the kernel 10 s after exit: {left:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.out);
        let _ = std::fs::remove_file(&self.err);
    }
}

/// Waits for `child` to exit within `bound`; kills it (and returns how long it waited) if not.
fn wait_bounded(child: &mut Child, bound: Duration) -> Result<ExitStatus, Duration> {
    let since = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Ok(status);
        }
        if since.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            return Err(since.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid as i32, sig) };
}


/// A thread calling getppid() as fast as it can until dropped: the load of the "C loop".
struct Load(Arc<AtomicBool>, Option<std::thread::JoinHandle<()>>);

impl Load {
    fn start() -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                // SAFETY: getppid has no preconditions.
                unsafe { libc::getppid() };
            }
        });
        Load(stop, Some(thread))
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        if let Some(t) = self.1.take() {
            let _ = t.join();
        }
    }
}

fn expect_status(status: ExitStatus, code: i32) -> Result<(), String> {
    if status.code() == Some(code) {
        Ok(())
    } else {
        Err(format!("exit {status}, expected status {code}"))
    }
}

/// The raw_syscalls printf script (whose own writes make new events under `-B none`), stopped
/// by `sig`: exits within the bound, status 0, END's output present, nothing left attached.
fn self_feeding(tracer: Tracer, buffering: Option<&str>, sig: i32, load: bool) -> Outcome {
    let _load = load.then(Load::start);
    let mut args = vec!["-e", SELF_FEEDING];
    if let Some(mode) = buffering {
        args.splice(0..0, ["-B", mode]);
    }
    let mut run = start(tracer, &args)?;
    std::thread::sleep(Duration::from_millis(500));
    let (status, took) = run.signal_and_wait(sig)?;
    expect_status(status, 0)?;
    if !tail(&run.out).contains("END ran") {
        return Err("END's output missing".into());
    }
    run.check_released()?;
    Ok(format!("{took:.2?}"))
}

/// `exit()` on a busy tracepoint, then END: END's output is there every time.
fn exit_then_end(tracer: Tracer) -> Outcome {
    let _load = Load::start();
    for _ in 0..3 {
        let script = r#"tracepoint:raw_syscalls:sys_enter { exit(); } END { printf("END ran\n"); }"#;
        let mut run = start(tracer, &["-e", script])?;
        let status = wait_bounded(&mut run.child, BOUND * 5).map_err(|_| "exit() did not end the run".to_string())?;
        expect_status(status, 0)?;
        if !head(&run.out).contains("END ran") {
            return Err("END's output lost".into());
        }
        run.check_released()?;
    }
    Ok("END ran 3 of 3".into())
}

/// The reader of standard output goes away after one line: the tracer dies of SIGPIPE, as
/// bpftrace does.
fn closed_pipe(tracer: Tracer) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    let _load = Load::start();
    let mut child = Command::new(tracer.path())
        .args(["-e", r#"tracepoint:raw_syscalls:sys_enter { printf("%d %s\n", pid, comm); }"#])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    lines.read_line(&mut line).map_err(|e| e.to_string())?;
    let held = held_objects(child.id());
    drop(lines);
    let since = Instant::now();
    let status = wait_bounded(&mut child, BOUND).map_err(|t| format!("still running {t:.1?} after its reader left"))?;
    if status.signal() != Some(libc::SIGPIPE) {
        return Err(format!("exit {status}, expected death by SIGPIPE"));
    }
    Run { child, out: temp("none"), err: temp("none"), held }.check_released()?;
    Ok(format!("SIGPIPE after {:.2?}", since.elapsed()))
}

/// Output to a device that is always full: the write error is reported, exit 1.
fn dev_full(tracer: Tracer) -> Outcome {
    let out = Command::new(tracer.path())
        .args(["-o", "/dev/full", "-e", r#"BEGIN { printf("hi\n"); exit(); }"#])
        .output()
        .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    expect_status(out.status, 1)?;
    if !err.contains("No space left") {
        return Err(format!("no word of the write error: {}", err.trim()));
    }
    Ok("exit 1, error said".into())
}

/// Standard error that cannot be written: no panic, the maps still printed.
fn stderr_full(tracer: Tracer) -> Outcome {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").map_err(|e| e.to_string())?;
    let out = Command::new(tracer.path())
        .args(["-e", "BEGIN { @a = 1; exit(); }"])
        .stderr(full)
        .output()
        .map_err(|e| e.to_string())?;
    expect_status(out.status, 0)?;
    if !String::from_utf8_lossy(&out.stdout).contains("@a: 1") {
        return Err("the map was not printed".into());
    }
    Ok("exit 0, maps printed".into())
}

enum Blocked {
    Stdin,
    ScriptFifo,
    OutputFifo,
}

/// A tracer blocked before it attaches anything (reading its script, opening its output) ends
/// within the bound of a SIGINT.
fn blocked_start(tracer: Tracer, blocked: Blocked) -> Outcome {
    let fifo = temp("fifo");
    let _ = std::fs::remove_file(&fifo);
    let path = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("no NUL");
    // SAFETY: mkfifo reads a NUL-terminated path.
    if unsafe { libc::mkfifo(path.as_ptr(), 0o600) } != 0 {
        return Err(format!("mkfifo: {}", std::io::Error::last_os_error()));
    }
    let fifo_arg = fifo.to_string_lossy().into_owned();
    let mut cmd = Command::new(tracer.path());
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    match blocked {
        // Standard input is a pipe this test holds open and never writes.
        Blocked::Stdin => cmd.arg("-").stdin(Stdio::piped()),
        Blocked::ScriptFifo => cmd.arg(&fifo_arg),
        Blocked::OutputFifo => cmd.args(["-o", &fifo_arg, "-e", "BEGIN { printf(\"x\\n\"); }"]),
    };
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(500));
    let still = child.try_wait().ok().flatten().is_none();
    signal(child.id(), libc::SIGINT);
    let since = Instant::now();
    let result = wait_bounded(&mut child, BOUND);
    let _ = std::fs::remove_file(&fifo);
    if !still {
        return Err("ended before the signal: the case did not block".into());
    }
    let status = result.map_err(|t| format!("still running {t:.1?} after SIGINT"))?;
    Ok(format!("{status} after {:.2?}", since.elapsed()))
}

/// `cat()` of a FIFO nobody writes: the run goes on (the FIFO reads as empty) and ends.
fn cat_fifo(tracer: Tracer) -> Outcome {
    let fifo = temp("catfifo");
    let _ = std::fs::remove_file(&fifo);
    let path = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("no NUL");
    // SAFETY: mkfifo reads a NUL-terminated path.
    unsafe { libc::mkfifo(path.as_ptr(), 0o600) };
    let script = format!(r#"BEGIN {{ cat("{}"); printf("after\n"); exit(); }} END {{ printf("END ran\n"); }}"#, fifo.display());
    let mut child = Command::new(tracer.path())
        .args(["-e", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let result = wait_bounded(&mut child, BOUND * 3);
    let _ = std::fs::remove_file(&fifo);
    let status = result.map_err(|_| "blocked on the FIFO".to_string())?;
    let mut out = String::new();
    let _ = child.stdout.take().expect("piped").read_to_string(&mut out);
    expect_status(status, 0)?;
    if !out.contains("END ran") {
        return Err("END's output missing".into());
    }
    Ok("read as empty".into())
}

/// Output into a pipe nobody reads: the first SIGINT cannot finish (the write blocks), the
/// second ends the run within the bound.
fn stalled_reader(tracer: Tracer) -> Outcome {
    let _load = Load::start();
    let mut child = Command::new(tracer.path())
        .args(["-e", SELF_FEEDING])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stalled = child.stdout.take();
    std::thread::sleep(Duration::from_secs(3));
    let held = held_objects(child.id());
    signal(child.id(), libc::SIGINT);
    std::thread::sleep(Duration::from_millis(500));
    let first = child.try_wait().ok().flatten();
    signal(child.id(), libc::SIGINT);
    let since = Instant::now();
    let status = match first {
        Some(status) => status,
        None => wait_bounded(&mut child, BOUND).map_err(|t| format!("still running {t:.1?} after a second SIGINT"))?,
    };
    drop(stalled);
    Run { child, out: temp("none"), err: temp("none"), held }.check_released()?;
    Ok(format!("{status} {:.2?} after the second", since.elapsed()))
}

/// BEGIN runs before the other probes attach: a probe that counts system calls while BEGIN has
/// not run yet never fires (the BEGIN run itself is a `bpf()` call).
fn begin_first(tracer: Tracer) -> Outcome {
    let script = "BEGIN { @began = 1; } tracepoint:raw_syscalls:sys_enter /@began == 0/ { @before = count(); } \
                  interval:ms:200 { exit(); }";
    let out = Command::new(tracer.path()).args(["-e", script]).stderr(Stdio::null()).output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    expect_status(out.status, 0)?;
    if !text.contains("@began: 1") {
        return Err(format!("BEGIN did not run: {text}"));
    }
    let before = text.lines().find_map(|l| l.strip_prefix("@before: ")).and_then(|n| n.trim().parse::<u64>().ok());
    if let Some(n) = before.filter(|&n| n > 0) {
        return Err(format!("a probe fired {n} times before BEGIN"));
    }
    Ok("no event before BEGIN".into())
}

/// `-c` whose command cannot start: one line of error, a failure status, nothing attached.
fn bad_command(tracer: Tracer, cmd: &str) -> Outcome {
    let out = Command::new(tracer.path())
        .args(["-c", cmd, "-e", r#"BEGIN { printf("began\n"); }"#])
        .output()
        .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = err.lines().filter(|l| !l.contains("RLIMIT_MEMLOCK")).collect();
    if out.status.success() {
        return Err("exit 0".into());
    }
    if String::from_utf8_lossy(&out.stdout).contains("began") || err.contains("Attaching") || err.contains("Attached") {
        return Err("ran the script before failing".into());
    }
    if errors.len() != 1 {
        return Err(format!("{} lines of error", errors.len()));
    }
    Ok(format!("exit {}, one line", out.status.code().unwrap_or(-1)))
}

/// After SIGINT, the `-c` command is ended with the run.
fn command_ended(tracer: Tracer) -> Outcome {
    let mut run = start(tracer, &["-c", "/usr/bin/sleep 60", "-e", "tracepoint:syscalls:sys_enter_nanosleep { @ = count(); }"])?;
    // The command may be the child of any of the tracer's threads, and is started once the
    // probes are attached (the held child execs it after the marker): look for a while.
    let command_children = || -> Vec<u32> {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", run.child.id())) else { return vec![] };
        let children: String =
            tasks.flatten().filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok()).collect::<Vec<_>>().join(" ");
        children
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .filter(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep"))
            .collect()
    };
    let looking = Instant::now() + BOUND;
    let mut sleeps = command_children();
    while sleeps.is_empty() && Instant::now() < looking {
        std::thread::sleep(Duration::from_millis(20));
        sleeps = command_children();
    }
    if sleeps.is_empty() {
        return Err("the command was not found running".into());
    }
    let (status, took) = run.signal_and_wait(libc::SIGINT)?;
    expect_status(status, 0)?;
    let deadline = Instant::now() + BOUND;
    while sleeps.iter().any(|p| std::path::Path::new(&format!("/proc/{p}")).exists()) {
        if Instant::now() > deadline {
            sleeps.iter().for_each(|&p| signal(p, libc::SIGKILL));
            return Err("the command still runs after the tracer exited".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    run.check_released()?;
    Ok(format!("ended, tracer exited in {took:.2?}"))
}

/// `-p` together with `-c` is refused.
fn pid_and_command(tracer: Tracer) -> Outcome {
    let out = Command::new(tracer.path())
        .args(["-p", "1", "-c", "/bin/true", "-e", "BEGIN { exit(); }"])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        return Err("accepted".into());
    }
    Ok(format!("refused, exit {}", out.status.code().unwrap_or(-1)))
}

/// As `nobody`, with tracefs mounted but unreadable: `-l` fails saying why, and `--info` says
/// tracefs is mounted but not readable (not that it is missing).
fn not_root(tracer: Tracer) -> Outcome {
    let readable = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "test", "-r", "/sys/kernel/tracing/events"])
        .status()
        .map_err(|e| format!("setpriv: {e}"))?;
    if readable.success() {
        return Ok("skipped: tracefs is readable by nobody here".into());
    }
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", tracer.path()])
            .args(args)
            .output()
            .map_err(|e| e.to_string())
    };
    let list = as_nobody(&["-l", "tracepoint:syscalls:*getppid*"])?;
    if list.status.success() {
        return Err(format!("-l exit 0, printing {:?}", String::from_utf8_lossy(&list.stdout).trim()));
    }
    if tracer == Tracer::Rtrace {
        if !String::from_utf8_lossy(&list.stderr).contains("cannot read it") {
            return Err(format!("-l says: {}", String::from_utf8_lossy(&list.stderr).trim()));
        }
        let info = as_nobody(&["--info"])?;
        let text = String::from_utf8_lossy(&info.stdout);
        if !text.contains("tracefs: mounted at") {
            return Err(format!("--info says: {}", text.lines().find(|l| l.contains("tracefs")).unwrap_or("nothing of tracefs")));
        }
    }
    Ok(format!("-l exit {}, said why", list.status.code().unwrap_or(-1)))
}

/// Keys of the large map.
const BIG_MAP_KEYS: u64 = 1_000_000;
/// Fills `@[offset]` with `BIG_MAP_KEYS` keys: lseek() with every offset from a thread named
/// `rtmapfill`; `getpgid()` from that thread ends the run with exit().
const BIG_MAP: &str = r#"tracepoint:syscalls:sys_enter_lseek /comm == "rtmapfill"/ { @[args->offset] = count(); }
tracepoint:syscalls:sys_enter_getpgid /comm == "rtmapfill"/ { exit(); }"#;
/// The map size for both tracers (bpftrace 0.26's and 0.17's name).
const BIG_MAP_ENV: &[(&str, &str)] = &[("BPFTRACE_MAX_MAP_KEYS", "1100000"), ("BPFTRACE_MAP_KEYS_MAX", "1100000")];

/// Runs `work` in a thread of its own named `name` (what a script's `comm` filter sees), and
/// waits for it.
fn in_named_thread(name: &'static str, work: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        let cname = std::ffi::CString::new(name).expect("no NUL");
        // SAFETY: PR_SET_NAME reads a NUL-terminated name of at most 16 bytes.
        unsafe { libc::prctl(libc::PR_SET_NAME, cname.as_ptr()) };
        work();
    })
    .join()
    .expect("the thread panicked");
}

/// Makes the 1M-key map; then `getpgid()` (an exit()) if `end`.
fn fill_big_map(end: bool) {
    in_named_thread("rtmapfill", move || {
        let devnull = std::fs::File::open("/dev/null").expect("/dev/null");
        let fd = std::os::fd::AsRawFd::as_raw_fd(&devnull);
        for offset in 0..BIG_MAP_KEYS {
            // SAFETY: lseek on a descriptor we own has no memory effects.
            unsafe { libc::lseek(fd, offset as libc::off_t, libc::SEEK_SET) };
        }
        if end {
            // SAFETY: getpgid has no preconditions.
            unsafe { libc::getpgid(0) };
        }
    });
}

/// The map's lines in the tracer's output.
fn map_lines(run: &Run) -> usize {
    std::fs::File::open(&run.out).map_or(0, |f| BufReader::new(f).split(b'\n').flatten().filter(|l| l.starts_with(b"@[")).count())
}

/// A 1M-key map at exit: the first SIGINT stops the probes and starts reading and printing
/// the map; a second, 300 ms later, ends the tracer within the bound.
fn big_map_second_signal(tracer: Tracer) -> Outcome {
    let mut run = start_with(tracer, &["-e", BIG_MAP], BIG_MAP_ENV)?;
    fill_big_map(false);
    signal(run.child.id(), libc::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    if run.child.try_wait().ok().flatten().is_some() {
        return Err("ended within 300 ms of the first SIGINT: the case did not test a second".into());
    }
    let (status, took) = run.signal_and_wait(libc::SIGINT)?;
    run.check_released()?;
    Ok(format!("{status} {took:.2?} after the second, {} of {BIG_MAP_KEYS} lines printed", map_lines(&run)))
}

/// A 1M-key map printed after exit(): one SIGINT while it is read does not cut it short, every
/// key is printed and the exit status is 0 (bpftrace 0.17 takes ~20 s to print it here, so it
/// is not run).
fn big_map_first_signal(tracer: Tracer) -> Outcome {
    let mut run = start_with(tracer, &["-e", BIG_MAP], BIG_MAP_ENV)?;
    fill_big_map(true);
    std::thread::sleep(Duration::from_millis(200));
    let since = Instant::now();
    signal(run.child.id(), libc::SIGINT);
    let status = wait_bounded(&mut run.child, Duration::from_secs(60)).map_err(|_| "still printing 60 s after SIGINT".to_string())?;
    expect_status(status, 0)?;
    let lines = map_lines(&run);
    if lines as u64 != BIG_MAP_KEYS {
        return Err(format!("{lines} of {BIG_MAP_KEYS} keys printed"));
    }
    run.check_released()?;
    Ok(format!("every key printed, exit {:.2?} after SIGINT", since.elapsed()))
}

/// A script that takes seconds to compile: SIGINT a second into it ends the tracer within
/// the bound.
fn long_compile(tracer: Tracer) -> Outcome {
    // A file: one argument may not exceed 128 KiB.
    let file = temp("compile.bt");
    std::fs::write(&file, format!("BEGIN {{ {} exit(); }}", "@x = 1; ".repeat(20_000))).map_err(|e| e.to_string())?;
    let child = Command::new(tracer.path()).arg(&file).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
    let result = child.map_err(|e| e.to_string()).and_then(interrupt_compile);
    let _ = std::fs::remove_file(&file);
    result
}

/// SIGINT a second after `child` started (compiling); it must end within the bound.
fn interrupt_compile(mut child: Child) -> Outcome {
    std::thread::sleep(Duration::from_secs(1));
    if child.try_wait().ok().flatten().is_some() {
        return Err("ended within a second: the case did not test a long compile".into());
    }
    signal(child.id(), libc::SIGINT);
    let since = Instant::now();
    let status = wait_bounded(&mut child, BOUND).map_err(|t| format!("still running {t:.1?} after SIGINT"))?;
    Ok(format!("{status} after {:.2?}", since.elapsed()))
}

/// A burst of printf events into a one-page ring buffer (`perf_rb_pages`), the run going on:
/// `Lost N events` is on standard error within 2 s of the burst's end.
fn lost_reported_soon(tracer: Tracer) -> Outcome {
    let script = r#"tracepoint:syscalls:sys_enter_getppid /comm == "rtlossload"/ { printf("%d %d %d\n", pid, tid, nsecs); }"#;
    let mut run = start_with(tracer, &["-e", script], &[("BPFTRACE_PERF_RB_PAGES", "1")])?;
    in_named_thread("rtlossload", || {
        for _ in 0..200_000 {
            // SAFETY: getppid has no preconditions.
            unsafe { libc::getppid() };
        }
    });
    let burst_end = Instant::now();
    let reported = loop {
        if head(&run.err).contains("Lost") {
            break Some(burst_end.elapsed());
        }
        if burst_end.elapsed() > Duration::from_secs(5) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (status, _) = run.signal_and_wait(libc::SIGINT)?;
    expect_status(status, 0)?;
    run.check_released()?;
    match reported {
        Some(t) if t <= BOUND => Ok(format!("reported {t:.2?} after the burst")),
        Some(t) => Err(format!("reported only {t:.2?} after the burst")),
        None => Err(format!("no `Lost` report 5 s after the burst ({} lines printed)", head(&run.out).lines().count())),
    }
}
