//! Every way a run ends (SIGINT, SIGTERM, `exit()`, the `-c` command's exit) leaves nothing
//! in the kernel: the programs, links and maps rtrace held while it ran are gone soon after it
//! exits (detaching finishes in the background, see `child::detach_in_background` in src/runtime), and no
//! `uprobe_events` entry is left. The objects are found through /proc/PID/fdinfo while rtrace
//! runs and looked up by id with bpftool afterwards.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "robustness/kernel_objects.rs"]
mod kernel_objects;
use kernel_objects::{exists, held_objects};

const RTRACE: &str = env!("CARGO_BIN_EXE_rtrace");
const MARKER: &str = "__BPFTRACE_NOTIFY_PROBES_ATTACHED";
/// Probes of each kind this host attaches differently: a uprobe, a perf-event tracepoint, a
/// perf event (interval) and BEGIN/END (run once, never attached).
const PROBES: &str = r#"
BEGIN { @start = 1; }
uprobe:/lib/x86_64-linux-gnu/libc.so.6:getppid { @u = count(); }
tracepoint:syscalls:sys_enter_getppid { @t = count(); }
interval:ms:100 { @i = count(); }
END { @end = 1; }
"#;

fn skip_reason() -> Option<&'static str> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root");
    }
    if Command::new("bpftool").arg("version").output().map(|o| !o.status.success()).unwrap_or(true) {
        return Some("needs bpftool (scripts/setup installs it)");
    }
    None
}

/// Starts rtrace and waits until every probe is attached.
fn start(args: &[&str], script: &str) -> Child {
    let mut child = Command::new(RTRACE)
        .arg("-q")
        .args(args)
        .arg("-e")
        .arg(script)
        .env(MARKER, "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("rtrace starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line == MARKER => break,
            Some(Ok(_)) => continue,
            _ => panic!("rtrace ended before attaching"),
        }
    }
    // The rest of the output is drained so that rtrace never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    child
}


fn uprobe_events() -> String {
    ["/sys/kernel/tracing/uprobe_events", "/sys/kernel/debug/tracing/uprobe_events"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default()
}

/// Runs the script, ends it with `end`, and checks that nothing it held outlives it.
fn check(args: &[&str], script: &str, end: impl FnOnce(&mut Child)) {
    if let Some(reason) = skip_reason() {
        println!("skipped: {reason}");
        return;
    }
    let before = uprobe_events();
    let mut child = start(args, script);
    let _guard = KillOnPanic(child.id());
    let held = held_objects(child.id());
    for kind in ["prog", "link", "map"] {
        assert!(held.iter().any(|(k, _)| *k == kind), "no {kind} found in rtrace's fdinfo: {held:?}");
    }
    // The lookup that must fail afterwards succeeds now.
    for (kind, id) in &held {
        assert!(exists(kind, *id), "bpftool cannot find {kind} {id} while rtrace holds it");
    }
    end(&mut child);
    let status = child.wait().expect("rtrace exits");
    assert!(status.success(), "rtrace exited with {status}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left: Vec<_> = held.iter().filter(|(kind, id)| exists(kind, *id)).collect();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still in the kernel 20 s after rtrace exited: {left:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(uprobe_events(), before, "uprobe_events changed");
}

/// Kills rtrace when a check fails before it was ended, so that no rtrace outlives the test
/// (holding the harness's output pipe open).
struct KillOnPanic(u32);

impl Drop for KillOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
        }
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, sig) };
}

#[test]
fn sigint_leaves_nothing() {
    check(&[], PROBES, |c| signal(c, libc::SIGINT));
}

#[test]
fn sigterm_leaves_nothing() {
    check(&[], PROBES, |c| signal(c, libc::SIGTERM));
}

#[test]
fn exit_leaves_nothing() {
    let script = format!("{PROBES}\ninterval:ms:300 {{ exit(); }}");
    check(&[], &script, |_| {});
}

#[test]
fn command_exit_leaves_nothing() {
    check(&["-c", "sleep 0.3"], PROBES, |_| {});
}

/// The `link_type` of every BPF link a process holds.
fn link_types(pid: u32) -> Vec<String> {
    let mut types = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fdinfo")).expect("fdinfo readable") {
        let Ok(text) = std::fs::read_to_string(entry.expect("fdinfo entry").path()) else { continue };
        types.extend(text.lines().filter_map(|l| l.strip_prefix("link_type:")).map(|t| t.trim().to_string()));
    }
    types
}

/// A uprobe wildcard over libc's `str*` functions (about 80) is attached with one
/// uprobe_multi link where the kernel has them (Linux 6.6), and leaves nothing behind.
#[test]
fn wildcard_uprobes_share_one_link() {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut v = release.trim().split(|c: char| !c.is_ascii_digit()).map(|p| p.parse::<u32>().unwrap_or(0));
    if (v.next().unwrap_or(0), v.next().unwrap_or(0)) < (6, 6) {
        println!("skipped: uprobe_multi needs Linux 6.6");
        return;
    }
    let script = "uprobe:/lib/x86_64-linux-gnu/libc.so.6:str* { @[probe] = count(); }";
    check(&[], script, |c| {
        assert_eq!(link_types(c.id()), ["uprobe_multi"], "expected one uprobe_multi link");
        signal(c, libc::SIGINT);
    });
}

/// `--no-feature uprobe_multi` (bpftrace's flag) attaches the same wildcard one link per
/// function (perf event links), as on a kernel without uprobe_multi, and leaves nothing behind.
#[test]
fn no_feature_uprobe_multi_links_each_point() {
    let script = "uprobe:/lib/x86_64-linux-gnu/libc.so.6:strn* { @[probe] = count(); }";
    check(&["--no-feature", "uprobe_multi"], script, |c| {
        let types = link_types(c.id());
        assert!(types.len() > 1, "expected a link per strn* function, got {types:?}");
        assert!(types.iter().all(|t| t == "perf"), "expected perf event links only, got {types:?}");
        signal(c, libc::SIGINT);
    });
}

/// The child that detaches in the background holds no copy of rtrace's output: whoever reads
/// it sees its end when rtrace exits, not when the last tracepoint is released (~80 ms each,
/// in that child; eight of them here).
#[test]
fn output_ends_with_rtrace() {
    if let Some(reason) = skip_reason() {
        println!("skipped: {reason}");
        return;
    }
    let script: String = ["getppid", "getpid", "getuid", "getgid", "geteuid", "getegid", "gettid", "getpgrp"]
        .iter()
        .map(|s| format!("tracepoint:syscalls:sys_enter_{s} {{ @{s} = count(); }}\n"))
        .chain(["interval:ms:10 { exit(); }\n".to_string()])
        .collect();
    let mut child = Command::new(RTRACE).args(["-q", "-e", &script]).stdout(Stdio::piped()).spawn().expect("rtrace starts");
    let mut out = child.stdout.take().expect("piped stdout");
    let status = child.wait().expect("rtrace exits");
    assert!(status.success(), "rtrace exited with {status}");
    use std::io::Read;
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a descriptor this test owns.
    unsafe { libc::fcntl(out.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let mut buf = [0u8; 4096];
    loop {
        match out.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) => panic!("rtrace has exited but its output has not ended ({e}): another process still holds it"),
        }
    }
}
