//! `rtrace --live`, used as a person would: inside tmux, reading the screen with
//! `tmux capture-pane`. A script counts getppid() calls by process; a helper with a
//! distinctive name makes a known number of them. The helper's row appears with its count and
//! follows new calls; `/` filters it out; `c` clears it; `p` pauses; `q` leaves the view, and the final
//! maps print on the normal screen, the alternate screen left. SIGTERM and the `-c` command's
//! exit leave the view the same way. A pipe or a tiny terminal is a one-line error.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const RTRACE: &str = env!("CARGO_BIN_EXE_rtrace");
const SCRIPT: &str = "tracepoint:syscalls:sys_enter_getppid { @calls[comm] = count(); }";

/// A tmux server of the test's own, with one window running `sh`.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, width: u16, height: u16) -> Tmux {
        let tmux = Tmux { socket: format!("rtlive-{name}-{}", std::process::id()) };
        let _ = tmux.run(&["kill-server"]);
        let (w, h) = (width.to_string(), height.to_string());
        let out = tmux.run(&["new-session", "-d", "-x", &w, "-y", &h, "env", "PS1=$ ", "TERM=xterm-256color", "sh"]);
        assert!(out.status.success(), "tmux new-session: {}", String::from_utf8_lossy(&out.stderr));
        tmux
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux").args(["-L", &self.socket]).args(args).output().expect("tmux runs")
    }

    /// Types `text` and Enter at the shell.
    fn type_line(&self, text: &str) {
        self.run(&["send-keys", "-l", text]);
        self.run(&["send-keys", "Enter"]);
    }

    fn key(&self, key: &str) {
        self.run(&["send-keys", key]);
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-J"]).stdout).into_owned()
    }

    fn alternate_on(&self) -> String {
        String::from_utf8_lossy(&self.run(&["display", "-p", "#{alternate_on}"]).stdout).trim().to_string()
    }

    /// Waits (up to 15 s) for a screen that `ok` accepts, and returns it.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if start.elapsed() > Duration::from_secs(15) {
                panic!("timed out waiting for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Whether the test can run here; prints why not.
fn usable() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root");
        return false;
    }
    if Command::new("tmux").arg("-V").output().is_err() {
        println!("skipped: tmux is not installed (scripts/setup installs it)");
        return false;
    }
    true
}

/// Builds the helper (benches/getppid.c: N getppid() calls) under a distinctive name, its
/// comm (one per test: the tests run at the same time, and each counts its own helper).
fn helper(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("live");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/getppid.c");
    let out = Command::new("cc").arg("-O1").arg("-o").arg(&path).arg(&src).output().expect("cc runs");
    assert!(out.status.success(), "cc: {}", String::from_utf8_lossy(&out.stderr));
    path
}

fn calls(helper: &Path, n: u32) {
    let status = Command::new(helper).arg(n.to_string()).stdout(std::process::Stdio::null()).status().unwrap();
    assert!(status.success());
}

/// The count on the helper's row (`name`) of the live view, if the row is on the screen.
fn row_count(screen: &str, name: &str) -> Option<u64> {
    let line = screen.lines().find(|l| l.trim_start().starts_with(name))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The command line that runs rtrace --live with `extra` flags, then says how it ended
/// (`TAG-exit=N`).
fn command(tag: &str, extra: &str) -> String {
    format!("{RTRACE} -q --live --interval 0.2 {extra} -e '{SCRIPT}'; echo {tag}-exit=$?")
}

/// How the command tagged `tag` ended, once the shell has said it.
fn exit_code(screen: &str, tag: &str) -> Option<i32> {
    let marker = format!("{tag}-exit=");
    screen.lines().find_map(|l| l.split_once(&marker)?.1.trim().parse().ok())
}

/// The header line of the view.
const HEADER: &str = "rtrace --live |";

/// What a test of the view needs: its helper, built as `name`, and a tmux of `width`x30 of
/// its own; `None` (the reason printed) where the test cannot run.
fn set_up(name: &str, width: u16) -> Option<(PathBuf, Tmux)> {
    if !usable() {
        return None;
    }
    Some((helper(name), Tmux::start(name, width, 30)))
}

#[test]
fn the_live_view_follows_counts_clears_filters_and_quits_to_the_normal_screen() {
    const HELPER: &str = "rtlive-keys";
    let Some((helper, tmux)) = set_up(HELPER, 110) else { return };
    let row_count = |s: &str| row_count(s, HELPER);
    tmux.type_line(&command("keys", ""));
    // The view starts before BEGIN, the probes attach after it: calls count from `attached`.
    tmux.wait_for("the live view, attached", |s| s.contains(HEADER) && s.contains(" attached |") && s.contains("@calls"));
    assert_eq!(tmux.alternate_on(), "1", "the view is on the alternate screen");

    calls(&helper, 1000);
    let first = tmux.wait_for("the helper's row at 1000", |s| row_count(s) == Some(1000));
    assert!(first.contains("probe attached"), "the header:\n{first}");
    calls(&helper, 2345);
    tmux.wait_for("the helper's row at 3345", |s| row_count(s) == Some(3345));

    tmux.key("/");
    for c in ["n", "o", "n", "e"] {
        tmux.key(c);
    }
    tmux.key("Enter");
    tmux.wait_for("the row filtered out", |s| row_count(s).is_none() && s.contains("filtered out"));
    tmux.key("Escape");
    tmux.wait_for("the row back", |s| row_count(s) == Some(3345));

    tmux.key("c");
    tmux.wait_for("the row cleared", |s| row_count(s).is_none() && s.contains("@calls "));
    calls(&helper, 7);
    tmux.wait_for("the helper's row at 7", |s| row_count(s) == Some(7));

    tmux.key("p");
    tmux.wait_for("the pause", |s| s.contains("PAUSED |"));
    calls(&helper, 10);
    // Several intervals (0.2 s) go by: paused, the view does not read the maps.
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(row_count(&tmux.screen()), Some(7), "paused:\n{}", tmux.screen());
    tmux.key("p");
    tmux.wait_for("the helper's row at 17", |s| row_count(s) == Some(17) && !s.contains("PAUSED"));

    tmux.key("?");
    tmux.wait_for("the help", |s| s.contains("clear every map, as clear() does"));
    tmux.key("x");
    tmux.wait_for("the help closed", |s| !s.contains("clear every map, as clear() does"));

    tmux.key("q");
    let normal = tmux.wait_for("rtrace's exit", |s| exit_code(s, "keys").is_some());
    assert_eq!(exit_code(&normal, "keys"), Some(0), "{normal}");
    assert!(normal.contains(&format!("@calls[{HELPER}]: 17")), "the final maps on the normal screen:\n{normal}");
    assert!(!normal.contains(HEADER), "the view is gone:\n{normal}");
    assert_eq!(tmux.alternate_on(), "0", "the alternate screen is left");
}

#[test]
fn sigterm_and_the_commands_exit_leave_the_view_too() {
    const HELPER: &str = "rtlive-term";
    let Some((helper, tmux)) = set_up(HELPER, 100) else { return };
    let row_count = |s: &str| row_count(s, HELPER);
    let pid_file = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("live-{}.pid", std::process::id()));
    let _ = std::fs::remove_file(&pid_file);
    let exec = format!("sh -c \"echo \\$\\$ > {}; exec {RTRACE} -q --live -e '{SCRIPT}'\"; echo term-exit=$?", pid_file.display());
    tmux.type_line(&exec);
    // The view starts before BEGIN, the probes attach after it: calls count from `attached`.
    tmux.wait_for("the live view, attached", |s| s.contains(HEADER) && s.contains(" attached |") && s.contains("@calls"));
    calls(&helper, 42);
    tmux.wait_for("the helper's row at 42", |s| row_count(s) == Some(42));
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let normal = tmux.wait_for("rtrace's exit", |s| exit_code(s, "term").is_some());
    assert!(normal.contains(&format!("@calls[{HELPER}]: 42")), "{normal}");
    assert_eq!(tmux.alternate_on(), "0");

    tmux.type_line("clear");
    let with_command = format!("-c '{} 5'", helper.display());
    tmux.type_line(&command("cmd", &with_command));
    let normal = tmux.wait_for("rtrace's exit", |s| exit_code(s, "cmd").is_some());
    assert_eq!(exit_code(&normal, "cmd"), Some(0), "{normal}");
    assert!(normal.contains(&format!("@calls[{HELPER}]: 5")), "{normal}");
    assert_eq!(tmux.alternate_on(), "0");
}

#[test]
fn no_terminal_or_a_tiny_one_is_a_one_line_error() {
    if !usable() {
        return;
    }
    let out = Command::new(RTRACE).args(["--live", "-e", SCRIPT]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "error: --live needs a terminal: standard output is not one\n");

    let tmux = Tmux::start("tiny", 40, 8);
    tmux.type_line(&command("tiny", ""));
    let screen = tmux.wait_for("rtrace's exit", |s| exit_code(s, "tiny").is_some());
    assert_eq!(exit_code(&screen, "tiny"), Some(1), "{screen}");
    assert!(screen.contains("error: --live needs a terminal of at least 60x12"), "{screen}");
}
