//! Events the ring buffer has no room for are counted and reported, never lost silently:
//! rtrace is stopped (SIGSTOP) while a workload makes far more events than the 1 MiB ring
//! buffer holds, then continued; every event is either printed or counted in `Lost N events`
//! (stderr; a `lost_events` line with -f json).

use std::process::{Command, Stdio};
use std::time::Duration;

const RTRACE: &str = env!("CARGO_BIN_EXE_rtrace");
const MARKER: &str = "__BPFTRACE_NOTIFY_PROBES_ATTACHED";
/// One-byte reads made by the workload: at 40 bytes a record or more, more than 1 MiB.
const READS: usize = 100_000;

/// Runs the flood; returns (stdout, stderr).
fn flood(json: bool) -> Option<(String, String)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root");
        return None;
    }
    let dd = std::env::temp_dir().join(format!("rt-lost{}", if json { "j" } else { "" }));
    let _ = std::fs::remove_file(&dd);
    std::os::unix::fs::symlink("/bin/dd", &dd).expect("symlink dd");
    let comm = dd.file_name().unwrap().to_string_lossy().into_owned();
    let script = format!(
        "tracepoint:syscalls:sys_enter_read /comm == \"{comm}\" && args.count == 1/ \
         {{ printf(\"%d %s\\n\", args.count, comm); }}"
    );
    let mut args = vec!["-q", "-e", &script];
    if json {
        args.extend(["-f", "json"]);
    }
    let mut child = Command::new(RTRACE)
        .args(&args)
        .env(MARKER, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rtrace starts");
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut text = String::new();
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains(MARKER) {
                let _ = tx.send(());
                continue;
            }
            text += &line;
            text.push('\n');
        }
        text
    });
    let err_reader = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
    rx.recv_timeout(Duration::from_secs(10)).expect("rtrace attached");
    let pid = child.id() as i32;
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let status = Command::new(&dd)
        .args(["if=/dev/zero", "of=/dev/null", "bs=1", &format!("count={READS}"), "status=none"])
        .status()
        .expect("dd runs");
    assert!(status.success());
    unsafe { libc::kill(pid, libc::SIGCONT) };
    std::thread::sleep(Duration::from_millis(500));
    unsafe { libc::kill(pid, libc::SIGINT) };
    assert!(child.wait().expect("rtrace exits").success());
    let _ = std::fs::remove_file(&dd);
    Some((reader.join().unwrap(), err_reader.join().unwrap()))
}

#[test]
fn lost_events_are_counted_in_text_output() {
    let Some((stdout, stderr)) = flood(false) else { return };
    let printed = stdout.lines().filter(|l| *l == "1 rt-lost").count();
    let lost: usize = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("Lost ")?.strip_suffix(" events")?.parse::<usize>().ok())
        .sum();
    assert!(printed > 0 && lost > 0, "printed {printed}, lost {lost}; stderr: {stderr}");
    assert_eq!(printed + lost, READS, "stderr: {stderr}");
}

#[test]
fn lost_events_are_counted_in_json_output() {
    let Some((stdout, _)) = flood(true) else { return };
    let mut printed = 0;
    let mut lost = 0;
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        match v["type"].as_str() {
            Some("printf") => printed += 1,
            Some("lost_events") => lost += v["data"]["events"].as_u64().expect("a count") as usize,
            _ => {}
        }
    }
    assert!(printed > 0 && lost > 0, "printed {printed}, lost {lost}");
    assert_eq!(printed + lost, READS);
}
