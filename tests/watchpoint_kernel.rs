//! Watchpoints on a kernel address (no `-p`/`-c`: a breakpoint on every CPU), as bpftrace's
//! docs show with `jiffies`. This kernel has no variables in /proc/kallsyms
//! (CONFIG_KALLSYMS_ALL is off), so the test finds a kernel address the kernel writes
//! regularly with rtrace itself: the `nvcsw` counter in the `task_struct` of a shell that
//! waits for a `sleep` again and again (every wait is a voluntary context switch, counted by
//! `__schedule` in the shell's own context). A script case cannot do this: its address is
//! known only once the shell runs. Skipped, with the reason printed, without root, BTF, tracefs
//! or hardware breakpoints.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RTRACE: &str = env!("CARGO_BIN_EXE_rtrace");
const MARKER: &str = "__BPFTRACE_NOTIFY_PROBES_ATTACHED";

fn skip_reason() -> Option<&'static str> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root");
    }
    let missing = |path: &str| !std::path::Path::new(path).exists();
    if missing("/sys/kernel/btf/vmlinux") {
        return Some("needs the kernel's BTF (/sys/kernel/btf/vmlinux)");
    }
    if missing("/sys/kernel/tracing/events/sched/sched_switch") {
        return Some("needs tracefs (sched:sched_switch)");
    }
    if missing("/sys/bus/event_source/devices/breakpoint") {
        return Some("needs hardware breakpoints (no `breakpoint` perf PMU)");
    }
    None
}

/// A shell waiting for a `sleep` of `period` seconds, again and again; killed when dropped.
struct Waiter(Child);

impl Waiter {
    fn start(period: &str) -> Waiter {
        let script = format!("while :; do sleep {period}; done");
        Waiter(Command::new("/bin/sh").arg("-c").arg(script).spawn().expect("sh starts"))
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs rtrace with `script` until it exits (at most `limit`), returning its status, stdout
/// and stderr; `stop_after`: once attached, wait this long and send SIGTERM.
fn rtrace(script: &str, stop_after: Option<Duration>, limit: Duration) -> (Option<i32>, String, String) {
    let mut child = Command::new(RTRACE)
        .arg("-e")
        .arg(script)
        .env(MARKER, "1")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rtrace starts");
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let start = Instant::now();
    let mut signalled = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if let Some(after) = stop_after.filter(|_| !signalled) {
            if start.elapsed() >= after {
                // SAFETY: kill sends a signal to the child we started.
                unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
                signalled = true;
            }
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rtrace did not stop within {limit:?}: {script}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = reader.join().unwrap().replace(&format!("{MARKER}\n"), "");
    (status, stdout, err_reader.join().unwrap())
}

/// The kernel address of `nvcsw` in process `pid`'s `task_struct`, printed by rtrace when
/// the process is switched out.
fn nvcsw_address(pid: u32) -> String {
    let script = format!(
        "tracepoint:sched:sched_switch /args.prev_pid == {pid}/ {{ \
         printf(\"0x%lx\\n\", (uint64)curtask + offsetof(struct task_struct, nvcsw)); exit(); }}"
    );
    let (status, stdout, stderr) = rtrace(&script, None, Duration::from_secs(20));
    assert_eq!(status, Some(0), "{stderr}");
    let addr = stdout.lines().find(|l| l.starts_with("0xffff")).unwrap_or_else(|| panic!("no address: {stdout:?}"));
    addr.to_string()
}

/// A shell waiting for `sleep PERIOD` again and again, and its `nvcsw`'s address; `None`
/// (the reason printed) where the host cannot run the test.
fn watched_shell(period: &str) -> Option<(Waiter, String)> {
    if let Some(reason) = skip_reason() {
        eprintln!("skipped: {reason}");
        return None;
    }
    let waiter = Waiter::start(period);
    let addr = nvcsw_address(waiter.pid());
    Some((waiter, addr))
}

/// The docs' example, counted by (the writer is the shell, the function that wrote): every
/// write comes from `__schedule` in the shell's context, and a SIGTERM stops rtrace (its
/// breakpoints are per-CPU perf events) with the map printed.
#[test]
fn kernel_address_on_every_cpu() {
    let Some((waiter, addr)) = watched_shell("0.05") else { return };
    let script = format!("watchpoint:{addr}:8:w {{ @[pid == {}, ksym(reg(\"ip\"))] = count(); }}", waiter.pid());
    let (status, stdout, stderr) = rtrace(&script, Some(Duration::from_millis(1500)), Duration::from_secs(20));
    assert_eq!(status, Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with('@')).collect();
    assert_eq!(lines.len(), 1, "one key expected: {stdout:?}");
    let count: u64 = lines[0]
        .strip_prefix("@[true, __schedule]: ")
        .unwrap_or_else(|| panic!("writes by the shell in __schedule expected: {stdout:?}"))
        .parse()
        .expect("a count");
    // ~40 writes a second (two per round) for about a second.
    assert!(count >= 5, "{stdout:?}");
}

/// `unwatch()` of a kernel address: the first write's event removes the breakpoints of every
/// CPU before the shell's next round (100 ms later). Each round writes twice within a few
/// milliseconds (the shell waits once in fork, once in wait4), and `unwatch()` acts when its
/// event reaches rtrace, as in bpftrace: one round's writes are seen, 1 or 2, of the ~20 a
/// second brings.
#[test]
fn unwatch_kernel_address() {
    // The shell runs until the end of the test (`_waiter` is dropped there).
    let Some((_waiter, addr)) = watched_shell("0.1") else { return };
    let script = format!("watchpoint:{addr}:8:w {{ @ = count(); unwatch({addr}); }} interval:ms:1000 {{ exit(); }}");
    let (status, stdout, stderr) = rtrace(&script, None, Duration::from_secs(20));
    assert_eq!(status, Some(0), "{stderr}");
    assert!(stdout.lines().any(|l| l == "@: 1" || l == "@: 2"), "one round's writes expected: {stdout:?}");
}
