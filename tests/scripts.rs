//! Script-case runner: runs every `tests/scripts/**/*.toml` and
//! `tests/vm/cases/**/*.toml` case against the built `rtrace` binary, one after
//! another, in sorted path order.
//!
//! Run it with `cargo test --release --test scripts`; a first argument filters
//! cases by a substring of their path (`cargo test --release --test scripts -- hist`).
//! `RTRACE_BIN=/usr/bin/bpftrace` runs the cases against another binary instead.
//! `RTRACE_TEST_CO_RE=1` runs every case with `--co-re` (kernel type accesses as CO-RE
//! relocations, which must not change any output).
//!
//! Cases under `tests/scripts/current/` expect bpftrace 0.26's output (rtrace's default);
//! every other case was checked against bpftrace 0.17 and runs with `RTRACE_COMPAT=0.17`.
//!
//! A case is a TOML file (full description in `tests/scripts/README.md`):
//!
//! ```toml
//! # what this case checks, one line
//! script = '''
//! tracepoint:syscalls:sys_enter_openat /comm == "cat"/ { @[comm] = count(); }
//! '''
//! requires = ["root", "tracefs"]        # unmet: the case is skipped, with the reason
//! run = "env -i /bin/cat /etc/hostname" # run once every probe is attached, then SIGINT
//! stdout = ["@[cat]: 3"]                # lines that must appear, in this order
//! ```
//!
//! Other keys: `args`, `params`, `file`, `stdin`, `signal`, `timeout`, `exit`
//! (the expected status; `-9` for killed by SIGKILL),
//! `stdout_regex`, `stdout_exact`, `stdout_absent`, `stderr`, `stderr_exact`,
//! `prefix` (a command that runs rtrace, e.g. `setpriv ...`; a prefix command
//! missing from `PATH` skips the case), `bpftrace` (see below),
//! `kernel_features` and `vm`.
//!
//! `kernel_features = ["kprobe"]` (also `kretprobe`, `kprobe_multi`, `ibt`, `fentry`,
//! `fexit`, `kallsyms_all`): the case needs that from the kernel; where this kernel lacks it
//! (no kprobe PMU, or its config does not say so) the case is skipped with the
//! reason. `tests/vm/run` runs such cases inside VMs booting Debian kernels that
//! have them; `vm = true` asks it to run a case there too. This runner ignores `vm`.
//!
//! bpftrace mode: when the binary's file name starts with `bpftrace`
//! (`RTRACE_BIN=/usr/bin/bpftrace`), cases are cross-checked against bpftrace
//! 0.17. A case whose `bpftrace` key is set (the reason it is not valid 0.17) is
//! skipped; `args.F` is rewritten to `args->F` and `fentry:`/`fexit:` to
//! `kfunc:`/`kretfunc:` (0.17's names); the `Attaching N probes...` stdout
//! line is dropped, and so is the final `"\n\n"` of a program without maps (not of a `-l` listing; bpftrace
//! always prints it, rtrace only before maps); `stderr` and `stderr_exact` are not
//! checked (diagnostics are rtrace's own); with `signal = false`, SIGINT is
//! sent 2 s after attaching if bpftrace is still running (0.17 does not exit
//! after a BEGIN-only program).
//!
//! rtrace runs with `NO_COLOR=1` and `__BPFTRACE_NOTIFY_PROBES_ATTACHED=1`; it then
//! prints the line `__BPFTRACE_NOTIFY_PROBES_ATTACHED` once every probe is attached.
//! That line starts the `run` command (which gets rtrace's pid in `RTRACE_PID`)
//! and is removed before outputs are compared.
//! The runner prints one line per case, then the details of each failure, then
//! `scripts: N passed, N failed, N skipped`, and exits 1 if any case failed.

mod cases;

use cases::Case;
use regex::Regex;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const MARKER: &str = "__BPFTRACE_NOTIFY_PROBES_ATTACHED";

enum Outcome {
    Ok,
    Skipped(String),
    Failed(String),
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = std::env::var_os("RTRACE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_rtrace")));
    let bpftrace_mode = bin
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("bpftrace"));
    if bpftrace_mode {
        println!("bpftrace mode: cross-checking against {}", bin.display());
    }
    // cargo may pass libtest options such as `--nocapture`: ignore them.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut paths = Vec::new();
    cases::collect(&root.join("tests/scripts"), &mut paths);
    cases::collect(&root.join("tests/vm/cases"), &mut paths);
    paths.sort();
    let tmp = std::env::temp_dir().join(format!("rtrace-scripts-{}", std::process::id()));
    if let Err(e) = fs::create_dir_all(&tmp) {
        eprintln!("cannot create {}: {e}", tmp.display());
        std::process::exit(1);
    }

    let (mut passed, mut skipped, mut failures) = (0, 0, Vec::new());
    for path in &paths {
        let name = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        print!("{name} ... ");
        let _ = std::io::stdout().flush();
        match run_case(path, &bin, &tmp, bpftrace_mode) {
            Outcome::Ok => {
                passed += 1;
                println!("ok");
            }
            Outcome::Skipped(reason) => {
                skipped += 1;
                println!("skipped: {reason}");
            }
            Outcome::Failed(details) => {
                println!("FAILED");
                failures.push((name, details));
            }
        }
    }
    let _ = fs::remove_dir_all(&tmp);

    for (name, details) in &failures {
        println!("\n==== FAILED: {name}\n{details}");
    }
    println!(
        "\nscripts: {passed} passed, {} failed, {skipped} skipped",
        failures.len()
    );
    std::process::exit(if failures.is_empty() { 0 } else { 1 });
}

/// Why this kernel cannot run a case that needs `features` (`Ok(Some)`), or an
/// unknown feature (`Err`). Kprobes show as the kprobe PMU; the others are read
/// from the kernel's config (`/boot/config-RELEASE` or `/proc/config.gz`) and
/// also need kprobes (where there are none, as on the CI host, fentry is refused too).
fn missing_kernel_feature(features: &[String]) -> Result<Option<String>, String> {
    let mut config: Option<Option<String>> = None; // read once, when first needed
    for feature in features {
        let options: &[&str] = match feature.as_str() {
            "kprobe" => &["CONFIG_KPROBES"],
            "kretprobe" => &["CONFIG_KRETPROBES"],
            "kprobe_multi" => &["CONFIG_FPROBE"],
            // Indirect branch tracking: every kernel function starts with a 4-byte endbr64.
            "ibt" => &["CONFIG_X86_KERNEL_IBT"],
            "fentry" | "fexit" => &["CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS", "CONFIG_DEBUG_INFO_BTF"],
            // Variables in kallsyms, where the verifier finds a `__ksym` variable's address.
            "kallsyms_all" => &["CONFIG_KALLSYMS_ALL"],
            other => return Err(format!("unknown kernel feature {other:?}")),
        };
        if feature != "kallsyms_all" && !Path::new("/sys/bus/event_source/devices/kprobe").exists() {
            return Ok(Some(format!(
                "needs {feature}: this kernel has no kprobes (no /sys/bus/event_source/devices/kprobe); tests/vm/run runs it in VMs"
            )));
        }
        if feature == "kprobe" {
            continue;
        }
        let Some(text) = config.get_or_insert_with(kernel_config) else {
            return Ok(Some(format!(
                "needs {feature}: cannot tell whether this kernel has it (no /boot/config-RELEASE nor /proc/config.gz); tests/vm/run runs it in VMs"
            )));
        };
        for option in options {
            if !text.lines().any(|l| l == format!("{option}=y")) {
                return Ok(Some(format!(
                    "needs {feature}: this kernel has no {option}; tests/vm/run runs it in VMs"
                )));
            }
        }
    }
    Ok(None)
}

/// The running kernel's config, if it can be found.
fn kernel_config() -> Option<String> {
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut uts) } == 0 {
        let release = unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) };
        let path = format!("/boot/config-{}", release.to_string_lossy());
        if let Ok(text) = fs::read_to_string(path) {
            return Some(text);
        }
    }
    let out = Command::new("zcat").arg("/proc/config.gz").stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Stands, anywhere in a case file, for the directory of the built test helpers.
const HELPERS: &str = "{helpers}";

/// Builds every `tests/helpers/*.c` and `*.cc` (once per run, with `cc -O1`, or `c++ -O1` for
/// C++, and the flags of a `// cc flags: …` line in the source) into this build's target
/// directory, and returns that directory.
fn helpers() -> &'static Result<String, String> {
    static BUILT: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("helpers");
        fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helpers");
        let mut sources: Vec<PathBuf> = fs::read_dir(&src)
            .map_err(|e| format!("cannot read {}: {e}", src.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "c" || e == "cc"))
            .collect();
        sources.sort();
        for source in sources {
            let name = source.file_stem().unwrap_or_default();
            let (bin, partial) = (out.join(name), out.join(name).with_extension("partial"));
            // A `// cc flags: …` line in the source adds flags (e.g. `-no-pie`).
            let text = fs::read_to_string(&source).unwrap_or_default();
            let flags: Vec<&str> =
                text.lines().filter_map(|l| l.strip_prefix("// cc flags:")).flat_map(str::split_whitespace).collect();
            let compiler = if source.extension().is_some_and(|e| e == "cc") { "c++" } else { "cc" };
            let result = Command::new(compiler).args(["-O1"]).args(&flags).arg("-o").arg(&partial).arg(&source).output();
            match result {
                Ok(o) if o.status.success() => {}
                Ok(o) => return Err(format!("cannot build {}:\n{}", source.display(), String::from_utf8_lossy(&o.stderr))),
                Err(e) => return Err(format!("cannot run {compiler} to build {}: {e}", source.display())),
            }
            // Renamed into place, so that no case runs a half-written binary.
            fs::rename(&partial, &bin).map_err(|e| format!("cannot rename {}: {e}", partial.display()))?;
        }
        Ok(out.display().to_string())
    })
}

/// The first file named `name` in a `PATH` directory (or `name` itself if it has a `/`).
fn find_in_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn run_case(path: &Path, bin: &Path, tmp: &Path, bpftrace_mode: bool) -> Outcome {
    let mut case: Case = match fs::read_to_string(path) {
        Err(e) => return Outcome::Failed(format!("cannot read case file: {e}")),
        Ok(text) if text.contains(HELPERS) => match helpers() {
            Err(e) => return Outcome::Failed(e.clone()),
            Ok(dir) => match toml::from_str(&text.replace(HELPERS, dir)) {
                Err(e) => return Outcome::Failed(format!("malformed case file: {e}")),
                Ok(case) => case,
            },
        },
        Ok(text) => match toml::from_str(&text) {
            Err(e) => return Outcome::Failed(format!("malformed case file: {e}")),
            Ok(case) => case,
        },
    };
    match cases::missing_requirement(&case.requires) {
        Err(e) => return Outcome::Failed(format!("malformed case file: {e}")),
        Ok(Some(reason)) => return Outcome::Skipped(reason),
        Ok(None) => {}
    }
    match missing_kernel_feature(&case.kernel_features) {
        Err(e) => return Outcome::Failed(format!("malformed case file: {e}")),
        Ok(Some(reason)) => return Outcome::Skipped(reason),
        Ok(None) => {}
    }
    if let Some(cmd) = case.prefix.first() {
        if find_in_path(cmd).is_none() {
            return Outcome::Skipped(format!("needs `{cmd}` (the `prefix` command), not found in PATH"));
        }
    }
    if bpftrace_mode {
        if let Some(reason) = &case.bpftrace {
            return Outcome::Skipped(format!("not bpftrace 0.17: {reason}"));
        }
        let dot = Regex::new(r"\bargs\.([A-Za-z_])").expect("valid regex");
        case.script = dot.replace_all(&case.script, "args->$1").into_owned();
        let fentry = Regex::new(r"\bfentry:").expect("valid regex");
        case.script = fentry.replace_all(&case.script, "kfunc:").into_owned();
        let fexit = Regex::new(r"\bfexit:").expect("valid regex");
        case.script = fexit.replace_all(&case.script, "kretfunc:").into_owned();
    }
    let regexes = match case.regexes() {
        Err(e) => return Outcome::Failed(format!("malformed case file: {e}")),
        Ok(r) => r,
    };
    if case.script.is_empty() {
        return Outcome::Failed("malformed case file: no `script`".into());
    }
    if case.file && case.stdin {
        return Outcome::Failed("malformed case file: `file` and `stdin` are both true".into());
    }

    if case.built_tool && case.stdin {
        return Outcome::Failed("malformed case file: a `built_tool` case cannot read its script from stdin".into());
    }
    // A `built_tool` case runs the tool `rtrace build` makes of its script in rtrace's place.
    let mut tool = None;
    if case.built_tool && !bpftrace_mode {
        match build_tool(&case, bin, tmp) {
            Ok(built) => tool = Some(built),
            Err(e) => return Outcome::Failed(e),
        }
    }
    let mut cmd = command(&case.prefix, tool.as_deref().unwrap_or(bin));
    if tool.is_some() {
        cmd.args(tool_args(&case.args));
    } else {
        cmd.args(&case.args);
        // RTRACE_TEST_CO_RE=1: every case again with kernel type accesses as CO-RE relocations.
        if !bpftrace_mode && std::env::var_os("RTRACE_TEST_CO_RE").is_some_and(|v| v == "1") && !case.args.iter().any(|a| a == "--no-opt" || a == "--co-re") {
            cmd.arg("--co-re");
        }
    }
    if tool.is_some() {
        // The script is in the tool.
    } else if case.stdin {
        cmd.arg("-");
    } else if case.file {
        let script_path = tmp.join("script.bt");
        if let Err(e) = fs::write(&script_path, &case.script) {
            return Outcome::Failed(format!("cannot write {}: {e}", script_path.display()));
        }
        if case.files.is_empty() {
            cmd.arg(&script_path);
        } else {
            // Beside its files, named as written: diagnostics name the imported files so.
            cmd.current_dir(tmp).arg("script.bt");
        }
    } else {
        cmd.arg("-e").arg(&case.script);
    }
    cmd.args(&case.params).env("NO_COLOR", "1").env(MARKER, "1");
    set_compat(&mut cmd, path, bpftrace_mode);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if case.stdin {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let shown = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ");

    let mut problems = Vec::new();
    let mut notes = Vec::new();
    if let Err(e) = write_files(&case, tmp) {
        return Outcome::Failed(e);
    }
    let executed = execute(&case, cmd, tmp, bpftrace_mode, &mut problems, &mut notes);
    for name in case.files.keys() {
        let _ = fs::remove_file(tmp.join(name));
    }
    let (status, mut stdout, stderr) = match executed {
        Ok(result) => result,
        Err(e) => return Outcome::Failed(format!("command: {shown}\ncannot start rtrace: {e}")),
    };
    if bpftrace_mode {
        // A listing (-l, -lv) runs no program, so prints no exit lines.
        let listing = case.args.iter().any(|a| a.starts_with("-l"));
        stdout = bpftrace_stdout(&stdout, !listing && !case.script.contains('@'));
        // Diagnostics are rtrace's own wording: only the exit status and stdout are compared.
        case.stderr.clear();
        case.stderr_exact = None;
    }

    // A process killed by signal N counts as exit -N.
    if status.code().or(status.signal().map(|s| -s)) != Some(case.exit) {
        let actual = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit {code}"),
            (None, signal) => format!("killed by signal {}", signal.unwrap_or(0)),
        };
        problems.push(format!(
            "exit status: expected exit {}, got {actual}",
            case.exit
        ));
    }
    problems.extend(cases::output_problems(&case, &regexes, &stdout, &stderr));
    if case.same_as_rtrace && tool.is_some() {
        problems.extend(differs_from_rtrace(&case, path, bin, tmp, &stdout));
    }
    if problems.is_empty() {
        return Outcome::Ok;
    }
    problems.extend(notes);
    Outcome::Failed(cases::failure_details(path, &shown, &case, &problems, &stdout, &stderr))
}

/// The output rtrace prints for a case: bpftrace 0.26's (the default) for the cases under
/// `tests/scripts/current/`, written from 0.26's documentation; 0.17's (`RTRACE_COMPAT=0.17`)
/// for every other case, checked against bpftrace 0.17. Nothing for bpftrace itself.
fn set_compat(cmd: &mut Command, path: &Path, bpftrace_mode: bool) {
    if bpftrace_mode {
        return;
    }
    if path.to_string_lossy().contains("/tests/scripts/current/") {
        cmd.env_remove("RTRACE_COMPAT");
    } else {
        cmd.env("RTRACE_COMPAT", "0.17");
    }
}

/// A case's `files`, written under `tmp` (where a `file` case's script is).
fn write_files(case: &Case, tmp: &Path) -> Result<(), String> {
    for (name, text) in &case.files {
        let path = tmp.join(name);
        if name.starts_with('/') || name.contains("..") {
            return Err(format!("malformed case file: `files` names `{name}`, outside the script's directory"));
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// `PREFIX... PROGRAM`, the command a case runs.
fn command(prefix: &[String], program: &Path) -> Command {
    match prefix.split_first() {
        Some((first, rest)) => {
            let mut cmd = Command::new(first);
            cmd.args(rest).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// The path of the stub `rtrace build` puts scripts in (cargo's build of it).
const STUB: &str = env!("CARGO_BIN_EXE_rtrace-run");

/// A `built_tool` case's script built by `rtrace build` into `tmp/tool` (so its comm is
/// `tool`), or why it could not be.
fn build_tool(case: &Case, bin: &Path, tmp: &Path) -> Result<PathBuf, String> {
    let (script, tool) = (tmp.join("tool.rt"), tmp.join("tool"));
    fs::write(&script, &case.script).map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let mut build = Command::new(bin);
    build.arg("build").arg(&script).arg("-o").arg(&tool).args(["--stub", STUB]).env("NO_COLOR", "1");
    if case.args.iter().any(|a| a == "--unsafe") {
        build.arg("--unsafe");
    }
    match build.output() {
        Ok(o) if o.status.success() => Ok(tool),
        Ok(o) => Err(format!("`rtrace build` of the case's script failed:\n{}", String::from_utf8_lossy(&o.stderr))),
        Err(e) => Err(format!("cannot run {}: {e}", bin.display())),
    }
}

/// A built tool's arguments: the case's, but those that are `rtrace build`'s (`--co-re`, which
/// every build is, and `--unsafe`).
fn tool_args(args: &[String]) -> impl Iterator<Item = &String> {
    args.iter().filter(|a| *a != "--co-re" && *a != "--unsafe")
}

/// For a `same_as_rtrace` case: how the tool's stdout differs from that of `rtrace -e` of the
/// same script, compiled for this kernel without CO-RE (nothing if it does not).
fn differs_from_rtrace(case: &Case, path: &Path, bin: &Path, tmp: &Path, tool_stdout: &str) -> Vec<String> {
    let mut cmd = command(&case.prefix, bin);
    cmd.args(case.args.iter().filter(|a| *a != "--co-re")).arg("-e").arg(&case.script).args(&case.params);
    set_compat(&mut cmd, path, false);
    cmd.env("NO_COLOR", "1").env(MARKER, "1").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let (mut problems, mut notes) = (Vec::new(), Vec::new());
    match execute(case, cmd, tmp, false, &mut problems, &mut notes) {
        Ok((_, reference, _)) if reference != tool_stdout => problems.push(format!(
            "stdout differs from that of `rtrace -e` of the same script\n    rtrace -e: {reference:?}\n    the tool:  {tool_stdout:?}"
        )),
        Ok(_) => {}
        Err(e) => problems.push(format!("cannot start rtrace -e: {e}")),
    }
    problems.into_iter().map(|p| format!("rtrace -e: {p}")).collect()
}

/// Runs rtrace as the case says; returns its exit status, stdout and stderr
/// (without the attach marker). Timeouts go to `problems`, other facts to `notes`.
fn execute(
    case: &Case,
    mut cmd: Command,
    tmp: &Path,
    bpftrace_mode: bool,
    problems: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> std::io::Result<(ExitStatus, String, String)> {
    let attached = Arc::new(AtomicBool::new(false));
    let timeout = case.timeout.unwrap_or(10);
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let mut child = cmd.spawn()?;
    let out = read_stream(child.stdout.take(), attached.clone());
    let err = read_stream(child.stderr.take(), attached.clone());
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(case.script.as_bytes()); // dropping `stdin` closes it
    }

    let mut triggered = false;
    let mut grace: Option<Instant> = None; // bpftrace mode: when to SIGINT a `signal = false` case
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            problems.push(format!("timed out after {timeout}s; rtrace was killed"));
            if !attached.load(Ordering::SeqCst) {
                notes.push(format!("rtrace never printed {MARKER}"));
            }
            let _ = child.kill();
            break child.wait()?;
        }
        if !triggered && attached.load(Ordering::SeqCst) {
            triggered = true;
            if let Some(run) = &case.run {
                match run_workload(run, child.id(), deadline, tmp) {
                    Ok(note) => notes.push(note),
                    Err(problem) => problems.push(problem),
                }
            }
            if case.signal != Some(false) {
                unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            } else if bpftrace_mode {
                grace = Some(Instant::now() + Duration::from_secs(2));
            }
        }
        if grace.is_some_and(|g| Instant::now() >= g) {
            grace = None;
            notes.push("bpftrace mode: still running 2 s after attaching; sent SIGINT".into());
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
        }
        thread::sleep(Duration::from_millis(10));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok((status, stdout, stderr))
}

/// bpftrace 0.17's stdout made comparable with rtrace's: without its
/// `Attaching N probes...` line and, for a program without maps, without the
/// `"\n\n"` it prints at exit.
fn bpftrace_stdout(stdout: &str, no_maps: bool) -> String {
    let attaching = Regex::new(r"^Attaching \d+ probes?\.\.\.\n").expect("valid regex");
    let mut out = attaching.replace(stdout, "").into_owned();
    if no_maps && out.ends_with("\n\n") {
        out.truncate(out.len() - 2);
    }
    out
}

/// Reads a stream to its end on a thread, dropping the attach-marker line and
/// setting `attached` when it comes (bpftrace 0.17 prints it on stderr).
fn read_stream(
    stream: Option<impl Read + Send + 'static>,
    attached: Arc<AtomicBool>,
) -> JoinHandle<String> {
    thread::spawn(move || {
        let Some(stream) = stream else {
            return String::new();
        };
        let mut reader = BufReader::new(stream);
        let (mut all, mut line) = (Vec::new(), Vec::new());
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            if line.strip_suffix(b"\n").unwrap_or(&line) == MARKER.as_bytes() {
                attached.store(true, Ordering::SeqCst);
            } else {
                all.extend_from_slice(&line);
            }
            line.clear();
        }
        String::from_utf8_lossy(&all).into_owned()
    })
}

/// Runs the `run` command with `sh -c` in its own process group, with rtrace's
/// pid in `RTRACE_PID`. Returns a note with its status and output, or a problem
/// if it outlived the deadline.
fn run_workload(run: &str, pid: u32, deadline: Instant, tmp: &Path) -> Result<String, String> {
    let out_path = tmp.join("run.out");
    let start = |out: File| -> std::io::Result<Child> {
        let err = out.try_clone()?;
        Command::new("sh")
            .arg("-c")
            .arg(run)
            .env("RTRACE_PID", pid.to_string())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
    };
    let mut child = File::create(&out_path)
        .and_then(start)
        .map_err(|e| format!("cannot start run command: {e}"))?;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.to_string(),
            Err(e) => break format!("unknown ({e})"),
            Ok(None) if Instant::now() >= deadline => {
                unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
                let _ = child.wait();
                return Err(
                    "timed out while the run command was still running; it was killed".into(),
                );
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
        }
    };
    let output = fs::read_to_string(&out_path).unwrap_or_default();
    Ok(format!("run command: {status}; its output: {output:?}"))
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
