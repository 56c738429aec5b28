//! The script-case format (`tests/scripts/README.md`), shared by the two runners: the case
//! file's keys, where cases are found, what a case requires of the machine, and how a run's
//! outputs are compared with what the case expects. `tests/scripts.rs` runs each case with the
//! `rtrace` binary; `tests/diagnostics.rs` runs the front-end cases in process.

use regex::Regex;
use serde::Deserialize;
use std::fs;
use std::path::{Path, PathBuf};

/// One case file; see `tests/scripts/README.md` for what each key means.
#[derive(Deserialize, Default, Clone)]
#[serde(default, deny_unknown_fields)]
pub struct Case {
    pub script: String,
    /// Other files, by path relative to the script file's directory, and their text: written
    /// before the run (scripts a `file` case imports), removed after it.
    pub files: std::collections::BTreeMap<String, String>,
    pub args: Vec<String>,
    pub params: Vec<String>,
    pub file: bool,
    pub stdin: bool,
    pub run: Option<String>,
    pub signal: Option<bool>,
    pub timeout: Option<u64>,
    pub exit: i32,
    pub stdout: Vec<String>,
    pub stdout_regex: Vec<String>,
    pub stdout_exact: Option<String>,
    pub stdout_absent: Vec<String>,
    pub stderr: Vec<String>,
    pub stderr_exact: Option<String>,
    pub requires: Vec<String>,
    pub prefix: Vec<String>,
    pub bpftrace: Option<String>,
    pub kernel_features: Vec<String>,
    /// Also run in tests/vm/run's VMs; nothing to do here.
    #[allow(dead_code)]
    pub vm: bool,
    /// Compile the script with `rtrace build` (on the host, in tests/vm/run) and run the
    /// tool instead of rtrace: one CO-RE object, every kernel.
    #[allow(dead_code)]
    pub built_tool: bool,
    /// With `built_tool`: the tool's stdout must equal that of `rtrace -e` of the same script
    /// on the same kernel (compiled there, without CO-RE).
    #[allow(dead_code)]
    pub same_as_rtrace: bool,
}

impl Case {
    /// The case's `stdout_regex` patterns, compiled.
    pub fn regexes(&self) -> Result<Vec<Regex>, String> {
        self.stdout_regex.iter().map(|r| Regex::new(r)).collect::<Result<_, _>>().map_err(|e| format!("bad stdout_regex: {e}"))
    }
}

/// Every `*.toml` file under `dir`, subfolders included.
pub fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

/// Whether `dir` is a BPF file system (statfs's magic number).
fn on_bpf_fs(dir: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(dir) else { return false };
    // SAFETY: statfs fills the zeroed buffer; the path is NUL-terminated.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above, both valid for the duration of the call.
    unsafe { libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == 0xcafe4a11 }
}

/// Why the case must be skipped (`Ok(Some)`), or a malformed `requires` (`Err`).
pub fn missing_requirement(requires: &[String]) -> Result<Option<String>, String> {
    // SAFETY: geteuid has no preconditions.
    let is_root = unsafe { libc::geteuid() } == 0;
    if requires.iter().any(|r| r == "root") && !is_root {
        return Ok(Some("needs root".into()));
    }
    for req in requires {
        let missing = match req.as_str() {
            "root" => false,
            "tracefs" => {
                !Path::new("/sys/kernel/tracing/events").exists()
                    && !Path::new("/sys/kernel/debug/tracing/events").exists()
            }
            // The kernel's own types (CONFIG_DEBUG_INFO_BTF).
            "btf" => !Path::new("/sys/kernel/btf/vmlinux").exists(),
            "bpftrace" => !Path::new("/usr/bin/bpftrace").exists(),
            // Watchpoints: the kernel's hardware breakpoint PMU (CONFIG_HAVE_HW_BREAKPOINT).
            "hw_breakpoint" => !Path::new("/sys/bus/event_source/devices/breakpoint").exists(),
            // A BPF file system at /sys/fs/bpf, where `iter:NAME:PIN` pins a relative PIN.
            "bpffs" => !on_bpf_fs("/sys/fs/bpf"),
            other => return Err(format!("unknown requirement {other:?}")),
        };
        if missing && req == "hw_breakpoint" {
            return Ok(Some("needs hw_breakpoint (this kernel has no /sys/bus/event_source/devices/breakpoint)".into()));
        }
        if missing && req == "bpffs" {
            return Ok(Some("needs bpffs (/sys/fs/bpf is not a BPF file system)".into()));
        }
        if missing && req == "btf" {
            return Ok(Some("needs btf (this kernel has no /sys/kernel/btf/vmlinux)".into()));
        }
        if missing {
            return Ok(Some(format!("needs {req}")));
        }
    }
    Ok(None)
}

/// How the outputs differ from what the case expects (the exit status is the runner's to
/// compare): one line per problem, none when they match.
pub fn output_problems(case: &Case, regexes: &[Regex], stdout: &str, stderr: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (what, exact, actual) in [("stdout", &case.stdout_exact, stdout), ("stderr", &case.stderr_exact, stderr)] {
        match exact {
            Some(expected) if expected != actual => problems.push(format!(
                "{what} differs from {what}_exact\n    expected: {expected:?}\n    actual:   {actual:?}"
            )),
            _ => {}
        }
    }
    if let Some(w) = first_missing(&case.stdout, stdout, |w, line| line == w) {
        problems.push(format!("stdout: no line {w:?} (in order)"));
    }
    if let Some(r) = first_missing(regexes, stdout, |r, line| r.is_match(line)) {
        problems.push(format!("stdout: no line matching /{r}/ (in order)"));
    }
    if let Some(w) = first_missing(&case.stderr, stderr, |w, line| line == w) {
        problems.push(format!("stderr: no line {w:?} (in order)"));
    }
    for line in stdout.lines().filter(|l| case.stdout_absent.iter().any(|a| a == l)) {
        problems.push(format!("stdout: line that must be absent is present: {line:?}"));
    }
    problems
}

/// What a failed case prints: the case, the command, the problems, then what was expected
/// line by line and the actual outputs.
pub fn failure_details(path: &Path, command: &str, case: &Case, problems: &[String], stdout: &str, stderr: &str) -> String {
    let mut details = format!("case: {}\ncommand: {command}\n", path.display());
    if let Some(run) = &case.run {
        details += &format!("run: {run}\n");
    }
    details += "problems:\n";
    for p in problems {
        details += &format!("  - {p}\n");
    }
    for (what, lines) in [("stdout lines", &case.stdout), ("stdout_regex", &case.stdout_regex), ("stderr lines", &case.stderr)] {
        if !lines.is_empty() {
            details += &format!("expected {what} (in order): {lines:?}\n");
        }
    }
    details + &format!("--- actual stdout ---\n{stdout}--- actual stderr ---\n{stderr}--- end ---")
}

/// The first wanted item that matches no line after the previous item's line.
fn first_missing<'a, T>(wanted: &'a [T], text: &str, matches: impl Fn(&T, &str) -> bool) -> Option<&'a T> {
    let mut lines = text.lines();
    wanted.iter().find(|w| !lines.any(|line| matches(w, line)))
}
