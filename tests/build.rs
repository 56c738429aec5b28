//! `rtrace build` (docs/build.md): a script compiled once into a standalone tool, run on this
//! kernel as `rtrace SCRIPT` runs it, again after `strip` and `objcopy`, with its parameters as
//! flags; and the ways a tool must refuse to start (no BTF, a missing probe, another kernel, no
//! privileges) or a script must refuse to build, each one `error:` line and exit status 1.
//! Needs root (tracefs formats, loading programs); skipped with the reason otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RTRACE: &str = env!("CARGO_BIN_EXE_rtrace");
const STUB: &str = env!("CARGO_BIN_EXE_rtrace-run");

/// A tool with a tracepoint, a kernel struct walk, a declared flag with a default, a switch
/// and `$#`.
const SCRIPT: &str = r#"// probe-tool: opens of one file
// $1 -n COUNT: events to print [default: 1]
// $2 -s: say hello first
BEGIN { if ($2) { printf("hello\n"); } }
tracepoint:syscalls:sys_enter_openat /str(args->filename) == "/etc/hostname" && @n < $1/
{
  @n++;
  printf("%s %d %d\n", str(args->filename), curtask->tgid == pid, $#);
}
"#;
const WORKLOAD: &str = "cat /etc/hostname /etc/hostname /etc/hostname > /dev/null";

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("build: skipped: needs root (tracefs formats, loading programs)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("rtrace-build-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cases: &[(&str, fn(&Path))] = &[
        ("runs_as_rtrace_runs_the_script", runs_as_rtrace_runs_the_script),
        ("survives_strip_and_objcopy", survives_strip_and_objcopy),
        ("help_lists_the_parameters", help_lists_the_parameters),
        ("named_parameters", named_parameters),
        ("string_parameters", string_parameters),
        ("no_btf", no_btf),
        ("btf_file", btf_file),
        ("missing_probe", missing_probe),
        ("other_kernel", other_kernel),
        ("struct_walk_as_rtrace", struct_walk_as_rtrace),
        ("no_privileges", no_privileges),
        ("build_errors", build_errors),
        ("plain_runtime", plain_runtime),
        ("opensnoop_beside_libbpf_tools", opensnoop_beside_libbpf_tools),
        ("softirqs_beside_libbpf_tools", softirqs_beside_libbpf_tools),
        ("killsnoop_beside_libbpf_tools", killsnoop_beside_libbpf_tools),
        ("execsnoop_beside_libbpf_tools", execsnoop_beside_libbpf_tools),
        ("runqlat_beside_libbpf_tools", runqlat_beside_libbpf_tools),
        ("biolatency_beside_libbpf_tools", biolatency_beside_libbpf_tools),
    ];
    let mut failed = 0;
    for (name, case) in cases {
        match std::panic::catch_unwind(|| case(&dir)) {
            Ok(()) => println!("{name} ... ok"),
            Err(_) => {
                println!("{name} ... FAILED");
                failed += 1;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("build: {} passed, {failed} failed", cases.len() - failed);
    if failed > 0 {
        std::process::exit(1);
    }
}

/// Builds `script` into `dir/name`; panics with rtrace's errors if it fails.
fn build(dir: &Path, name: &str, script: &str) -> PathBuf {
    let (source, tool) = (dir.join(format!("{name}.rt")), dir.join(name));
    std::fs::write(&source, script).unwrap();
    let out = Command::new(RTRACE).arg("build").arg(&source).arg("-o").arg(&tool).args(["--stub", STUB]).output().unwrap();
    assert!(out.status.success(), "rtrace build failed: {}", String::from_utf8_lossy(&out.stderr));
    tool
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program).args(args).env("NO_COLOR", "1").output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit status 1 and one `error:` line containing `needle`.
fn one_error(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "status; stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: ") && err.contains(needle), "`{needle}` in: {err}");
}

/// Expected: the first COUNT opens of /etc/hostname, then `@n`, as rtrace prints them.
fn expected(count: usize, args: usize, hello: bool) -> String {
    let mut s = String::from(if hello { "hello\n" } else { "" });
    s += &format!("/etc/hostname 1 {args}\n").repeat(count);
    s + &format!("\n\n@n: {count}\n")
}

fn runs_as_rtrace_runs_the_script(dir: &Path) {
    let tool = build(dir, "probe", SCRIPT);
    let built = stdout(&run(&tool, &["-q", "-c", WORKLOAD]));
    assert_eq!(built, expected(1, 1, false));
    let source = dir.join("probe.rt");
    let script = stdout(&run(Path::new(RTRACE), &["-q", "-c", WORKLOAD, source.to_str().unwrap()]));
    assert_eq!(built, script, "the tool and `rtrace SCRIPT` print the same");
    assert_eq!(stdout(&run(&tool, &["-q", "-n", "2", "-s", "-c", WORKLOAD])), expected(2, 2, true));
    let json = stdout(&run(&tool, &["-q", "-f", "json", "-c", WORKLOAD]));
    assert!(json.contains(r#"{"type": "printf", "data": "/etc/hostname 1 1\n"}"#), "{json}");
}

fn survives_strip_and_objcopy(dir: &Path) {
    let tool = build(dir, "stripped", SCRIPT);
    let status = Command::new("strip").arg("--strip-all").arg(&tool).status().unwrap();
    assert!(status.success());
    assert_eq!(stdout(&run(&tool, &["-q", "-c", WORKLOAD])), expected(1, 1, false));
    let copy = dir.join("copied");
    assert!(Command::new("objcopy").arg(&tool).arg(&copy).status().unwrap().success());
    assert_eq!(stdout(&run(&copy, &["-q", "-c", WORKLOAD])), expected(1, 1, false));
}

fn help_lists_the_parameters(dir: &Path) {
    let tool = build(dir, "helped", SCRIPT);
    let help = stdout(&run(&tool, &["--help"]));
    assert!(help.starts_with("probe-tool: opens of one file\n"), "{help}");
    assert!(help.contains("-n <COUNT>") && help.contains("events to print [default: 1]"), "{help}");
    assert!(help.contains("-s ") && help.contains("say hello first"), "{help}");
}

/// A script reading named parameters (`getopt()`), with `$1` beside them.
const NAMED: &str = r#"// named-tool: named parameters
BEGIN {
  printf("count=%d verbose=%d first=%d\n", getopt("count", 3, "how many to count"), getopt("verbose", false), $1);
  if (getopt("verbose")) { printf("loud\n"); }
  exit();
}
"#;

/// Integer and boolean named parameters are the tool's `--NAME=VALUE` and `--NAME` flags,
/// read when it starts (not frozen at build time), with their defaults in `--help`; rtrace
/// itself still reads them after `--`.
fn named_parameters(dir: &Path) {
    let tool = build(dir, "named", NAMED);
    assert_eq!(stdout(&run(&tool, &["-q"])), "count=3 verbose=0 first=0\n");
    assert_eq!(stdout(&run(&tool, &["-q", "--count=7", "--verbose", "5"])), "count=7 verbose=1 first=5\nloud\n");
    assert_eq!(stdout(&run(&tool, &["-q", "--verbose=false", "--count=-2"])), "count=-2 verbose=0 first=0\n");
    one_error(&run(&tool, &["-q", "--count=x"]), "--count must be an integer, not `x`");
    let help = stdout(&run(&tool, &["--help"]));
    let lines: Vec<&str> = help.lines().collect();
    let start = ["named-tool: named parameters", "", "Usage: named [OPTIONS] [ARG1]", "", "Arguments:", "  [ARG1]  ", ""];
    assert_eq!(lines[..7], start, "{help}");
    let options = ["Options:", "      --count=<INT>         how many to count [default: 3]", "      --verbose[=<BOOL>]    [default: false]"];
    assert_eq!(lines[7..10], options, "{help}");
    let source = dir.join("named.rt");
    let script = stdout(&run(Path::new(RTRACE), &["-q", source.to_str().unwrap(), "--", "--count=7"]));
    assert_eq!(script, "count=7 verbose=0 first=0\n");
}

/// A script reading string parameters: a string named one and `str($N)` (declared with a
/// default, and not).
const STRINGS: &str = r#"// strings-tool: string parameters
// $2 -w WORD: a word [default: hi]
BEGIN {
  printf("%s|%s|%s|%d|%d\n", getopt("who", "x y", "a name"), str($1), str($2), $#, $1);
  if (getopt("who", "x y") == "bob" && strcontains(str($1), str($2))) { printf("found\n"); }
  exit();
}
"#;

/// String parameters are read when the tool starts as integer ones are (`--NAME=TEXT`,
/// `str($N)` by flag or in place), cut to the script's string length; `rtrace SCRIPT` gives
/// the same. Expected output reasoned from bpftrace's docs: `str($N)` is the parameter's text,
/// "" when not given; `$N` read as an integer is 0 unless its text is one.
fn string_parameters(dir: &Path) {
    let tool = build(dir, "strings", STRINGS);
    assert_eq!(stdout(&run(&tool, &["-q"])), "x y||hi|2|0\n");
    let given = ["-q", "--who=bob", "12345", "-w", "234"];
    assert_eq!(stdout(&run(&tool, &given)), "bob|12345|234|2|12345\nfound\n");
    let long = "y".repeat(100);
    let cut = format!("x y|{}|hi|2|0\n", &long[..63]);
    assert_eq!(stdout(&run(&tool, &["-q", &long])), cut, "cut to 63 bytes and a NUL");
    let help = stdout(&run(&tool, &["--help"]));
    assert!(help.contains("      --who=<STRING>        a name [default: x y]\n"), "{help}");
    let source = dir.join("strings.rt");
    let script = stdout(&run(Path::new(RTRACE), &["-q", source.to_str().unwrap(), "12345", "-w", "234", "--", "--who=bob"]));
    assert_eq!(script, "bob|12345|234|2|12345\nfound\n");
}

/// Runs `tool args` in a mount namespace where /sys/kernel/btf is an empty tmpfs: a kernel
/// without BTF, as far as the tool (and libbpf) can tell.
fn without_kernel_btf(tool: &Path, args: &[&str]) -> Output {
    let script = r#"mount -t tmpfs none /sys/kernel/btf && exec "$@""#;
    Command::new("unshare").args(["-m", "sh", "-c", script, "sh"]).arg(tool).args(args).env("NO_COLOR", "1").output().unwrap()
}

fn no_btf(dir: &Path) {
    let tool = build(dir, "nobtf", SCRIPT);
    one_error(&without_kernel_btf(&tool, &["-q"]), "this kernel has no BTF (/sys/kernel/btf/vmlinux is missing");
}

/// `--btf FILE`: libbpf resolves the tool's CO-RE relocations against FILE (its
/// `btf_custom_path`), so a tool runs where the kernel has no /sys/kernel/btf/vmlinux; a file
/// that is missing or not BTF is one line.
fn btf_file(dir: &Path) {
    let tool = build(dir, "btffile", SCRIPT);
    let copy = dir.join("vmlinux.btf");
    std::fs::copy("/sys/kernel/btf/vmlinux", &copy).unwrap();
    let out = without_kernel_btf(&tool, &["-q", "--btf", copy.to_str().unwrap(), "-c", WORKLOAD]);
    assert_eq!(stdout(&out), expected(1, 1, false));
    one_error(&run(&tool, &["-q", "--btf", "/nonexistent/vmlinux"]), "cannot read BTF file /nonexistent/vmlinux: No such file or directory");
    one_error(&run(&tool, &["-q", "--btf", "/etc/passwd"]), "/etc/passwd is not a BTF file");
}

/// Rewrites a built tool's payload with `change` applied to its manifest (a different
/// machine, as far as the tool can tell).
fn edit_manifest(tool: &Path, change: impl FnOnce(&mut rtrace::bundle::Manifest)) {
    let data = std::fs::read(tool).unwrap();
    let section = rtrace::bundle::find(&data).unwrap().expect("payload");
    let (mut manifest, object) = rtrace::bundle::decode(section).unwrap();
    change(&mut manifest);
    let payload = tool.with_extension("payload");
    std::fs::write(&payload, rtrace::bundle::encode(&manifest, &object)).unwrap();
    let update = format!("{}={}", rtrace::bundle::SECTION, payload.display());
    assert!(Command::new("objcopy").args(["--update-section", &update]).arg(tool).status().unwrap().success());
}

fn missing_probe(dir: &Path) {
    let tool = build(dir, "noprobe", SCRIPT);
    edit_manifest(&tool, |m| {
        for p in &mut m.plan.probes {
            if let rtrace::plan::Attach::Tracepoint { event, .. } = &mut p.attach {
                *event = "sys_enter_nosuchcall".into();
            }
        }
    });
    one_error(&run(&tool, &["-q"]), "cannot attach probe `tracepoint:syscalls:sys_enter_openat`");
}

/// A tool is built with CO-RE: it runs on a kernel other than the one it was built on. One
/// whose manifest says it was not (none `rtrace build` writes now) refuses to, unless told.
fn other_kernel(dir: &Path) {
    let tool = build(dir, "otherkernel", SCRIPT);
    edit_manifest(&tool, |m| {
        assert!(m.co_re, "rtrace build compiles with CO-RE");
        m.kernel.release = "5.10.0-fake".into();
    });
    assert_eq!(stdout(&run(&tool, &["-q", "-c", WORKLOAD])), expected(1, 1, false));
    edit_manifest(&tool, |m| m.co_re = false);
    one_error(&run(&tool, &["-q"]), "built without CO-RE for kernel 5.10.0-fake");
    assert_eq!(stdout(&run(&tool, &["-q", "--any-kernel", "-c", WORKLOAD])), expected(1, 1, false));
}

/// Kernel struct walks, offsets and sizes through a built tool's CO-RE relocations give what
/// `rtrace -e` of the same script, compiled for this kernel, gives. (The relocations' local
/// offsets are made up: a read libbpf did not move would differ.)
fn struct_walk_as_rtrace(dir: &Path) {
    let script = r#"BEGIN {
  $t = (struct task_struct *)curtask;
  printf("%d %d %d\n", offsetof(struct task_struct, tgid), offsetof(struct task_struct, real_parent), sizeof(struct task_struct));
  printf("%d %s %s\n", $t->real_parent->tgid, $t->real_parent->comm, $t->nsproxy->uts_ns->name.sysname);
  printf("%d %d\n", $t->cred->uid.val, $t->signal->rlim[7].rlim_cur > 0);
  exit();
}
"#;
    let tool = build(dir, "walk", script);
    let built = stdout(&run(&tool, &["-q"]));
    let rtrace = stdout(&run(Path::new(RTRACE), &["-q", "-e", script]));
    assert_eq!(built, rtrace, "the tool and `rtrace -e` print the same");
    // Both run as this test's children: the parent's pid and comm are this process's.
    let parent = built.lines().nth(1).unwrap_or_default().to_string();
    assert!(parent.starts_with(&format!("{} build", std::process::id())) && parent.ends_with(" Linux"), "{built}");
}

fn no_privileges(dir: &Path) {
    let tool = build(dir, "unprivileged", SCRIPT);
    let out = Command::new("setpriv").args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"]).arg(&tool).output().unwrap();
    one_error(&out, "root");
}

fn build_errors(dir: &Path) {
    let cases = [
        ("kaddr", "BEGIN { printf(\"%x\\n\", kaddr(\"jiffies\")); exit(); }", "cannot carry kaddr() to another machine"),
        ("uprobe", "uprobe:/lib/x86_64-linux-gnu/libc.so.6:malloc { exit(); }", "cannot carry `uprobe:/lib/x86_64-linux-gnu/libc.so.6:malloc` to another machine"),
        ("flag", "// $1 -p PID: a pid\nBEGIN { printf(\"%d\\n\", $1); }", "parameter $1 cannot be flag -p"),
        ("attach", "tracepoint:syscalls:sys_enter_$1 { exit(); }", "cannot carry `tracepoint:syscalls:sys_enter_$1`"),
        ("str_offset", "BEGIN { printf(\"%s\\n\", str($1 + 1)); exit(); }", "cannot carry `str($N + K)` to another machine"),
        ("own_option", "BEGIN { printf(\"%d\\n\", getopt(\"btf\", 1)); exit(); }", "named parameter `--btf` cannot be a built tool's"),
    ];
    for (name, script, needle) in cases {
        let source = dir.join(format!("{name}.rt"));
        std::fs::write(&source, script).unwrap();
        let out = Command::new(RTRACE).arg("build").arg(&source).arg("-o").arg(dir.join(name)).args(["--stub", STUB]).env("NO_COLOR", "1").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(needle), "{name}: `{needle}` in {err}");
        assert!(!dir.join(name).exists(), "{name}: no tool written");
    }
}

/// The runtime without a payload says what it is.
fn plain_runtime(_dir: &Path) {
    one_error(&run(Path::new(STUB), &[]), "rtrace's runtime without a script");
}

/// tools/NAME.rt built, when libbpf-tools' NAME (and stdbuf, to read its rows as they come)
/// is here to compare it with; else the case is skipped, saying why.
fn beside_libbpf_tools(dir: &Path, name: &str) -> Option<PathBuf> {
    let theirs = format!("/usr/sbin/{name}");
    if !Path::new(&theirs).exists() || !Path::new("/usr/bin/stdbuf").exists() {
        println!("  skipped: needs {theirs} (libbpf-tools) and stdbuf");
        return None;
    }
    let source = std::fs::read_to_string(format!("{}/tools/{name}.rt", env!("CARGO_MANIFEST_DIR"))).unwrap();
    Some(build(dir, name, &source))
}

/// Starts `argv` with its output piped, and waits for its first line (each tool prints its
/// header once attached).
fn start_attached(argv: &[&str]) -> std::process::Child {
    start_with_header(argv).0
}

/// `start_attached`, and the first line.
fn start_with_header(argv: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = Command::new(argv[0]).args(&argv[1..]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let mut first = String::new();
    let stdout = child.stdout.take().unwrap();
    let mut reader = std::io::BufReader::new(stdout);
    reader.read_line(&mut first).unwrap();
    assert!(first.contains("PID") || first.contains("Tracing"), "header: {first}");
    child.stdout = Some(reader.into_inner());
    // libbpf-tools' snoops print their header before they open their perf buffer: events in
    // between are lost.
    std::thread::sleep(std::time::Duration::from_millis(300));
    (child, first)
}

/// SIGINT, then everything the child printed after its first line.
fn stop(child: std::process::Child) -> String {
    // SAFETY: kill has no memory effects; the pid is our child's, not yet reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The same failed opens, in the same rows, from the built tools/opensnoop.rt and from
/// libbpf-tools' opensnoop watching at the same time.
fn opensnoop_beside_libbpf_tools(dir: &Path) {
    let Some(tool) = beside_libbpf_tools(dir, "opensnoop") else { return };
    // -e adds the FLAGS column (cat opens read-only: 00000000); -n NAME keeps the processes
    // whose name contains NAME (cat, not head).
    let cases: [(&[&str], &str); 3] = [(&["-x"], ""), (&["-x", "-e"], "00000000 "), (&["-x", "-n", "ca"], "")];
    for (i, (flags, column)) in cases.into_iter().enumerate() {
        // libbpf-tools' opensnoop now and then prints nothing of a workload on this busy
        // machine (its side, not ours): it gets two more tries; ours is checked every time.
        for attempt in 0..3 {
            let ours = start_attached(&[&[tool.to_str().unwrap(), "-q", "-B", "line"][..], flags].concat());
            let theirs = start_attached(&[&["stdbuf", "-oL", "/usr/sbin/opensnoop"][..], flags].concat());
            // Longer than bpftrace's default string (64 bytes): printed whole, as libbpf-tools does.
            let marker = format!("/nonexistent-rtrace-{}-{i}-{attempt}-{}", std::process::id(), "x".repeat(100));
            Command::new("sh").arg("-c").arg(format!("cat {marker}-a {marker}-b 2>/dev/null; head {marker}-c 2>/dev/null; true")).status().unwrap();
            // Room for libbpf-tools to read its perf buffer before SIGINT ends its poll.
            std::thread::sleep(std::time::Duration::from_millis(1000));
            let rows = |text: String| text.lines().filter(|l| l.contains(&marker)).map(str::to_string).collect::<Vec<_>>();
            let (ours, theirs) = (rows(stop(ours)), rows(stop(theirs)));
            let named = flags.contains(&"-n");
            assert_eq!(ours.len(), if named { 2 } else { 3 }, "{ours:?}");
            assert!(ours[0].ends_with(&format!("cat               -1   2 {column}{marker}-a")), "{ours:?}");
            if theirs.is_empty() && attempt < 2 {
                println!("  libbpf-tools' opensnoop printed no row: again");
                continue;
            }
            assert_eq!(ours, theirs);
            break;
        }
    }
}

/// The same kill() calls, in the same rows, from the built tools/killsnoop.rt and from
/// libbpf-tools' killsnoop watching at the same time (the TIME column left out: the two may
/// read the clock on either side of a second).
fn killsnoop_beside_libbpf_tools(dir: &Path) {
    let Some(tool) = beside_libbpf_tools(dir, "killsnoop") else { return };
    for failed_only in [false, true] {
        let flags: &[&str] = if failed_only { &["-x"] } else { &[] };
        let ours = start_attached(&[&[tool.to_str().unwrap(), "-q", "-B", "line"][..], flags].concat());
        let theirs = start_attached(&[&["stdbuf", "-oL", "/usr/sbin/killsnoop"][..], flags].concat());
        // A process that is there (this test: signal 0 succeeds) and one that is not (pid_max
        // is at most 4194304, so the kill fails with ESRCH, -3), a number of this run's own
        // (other runs of this test may be sending theirs).
        let me = std::process::id();
        let absent = 4194305 + me % 100000;
        let script = format!("kill -0 {me}; kill -0 {absent} 2>/dev/null; true");
        Command::new("sh").arg("-c").arg(&script).status().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let rows = |text: String| {
            text.lines()
                .filter(|l| l.contains(" sh ") && (l.contains(&format!(" {me} ")) || l.contains(&format!(" {absent} "))))
                .map(|l| l.get(9..).unwrap_or("").to_string())
                .collect::<Vec<_>>()
        };
        let (ours, theirs) = (rows(stop(ours)), rows(stop(theirs)));
        let want = if failed_only { 1 } else { 2 };
        assert_eq!(ours.len(), want, "{ours:?}");
        assert!(ours[want - 1].ends_with(&format!("0         {absent} -3    ")), "{ours:?}");
        assert_eq!(ours, theirs);
    }
}

/// tools/softirqs.rt prints libbpf-tools' softirqs layouts: the totals table, and with -d
/// (and `--hist-style bcc`) a histogram per softirq type with the same headings.
fn softirqs_beside_libbpf_tools(dir: &Path) {
    let Some(tool) = beside_libbpf_tools(dir, "softirqs") else { return };
    let ours = stdout(&run(&tool, &["-q", "--hist-style", "bcc", "-d", "1", "1"]));
    let theirs = stdout(&run(Path::new("/usr/sbin/softirqs"), &["-d", "1", "1"]));
    for out in [&ours, &theirs] {
        assert!(out.starts_with("Tracing soft irq event time... Hit Ctrl-C to end.\n\nsoftirq = "), "{out}");
        assert!(out.contains("\n     usecs               : count    distribution\n         0 -> 1          : "), "{out}");
    }
    let ours = stdout(&run(&tool, &["-q", "1", "1"]));
    let theirs = stdout(&run(Path::new("/usr/sbin/softirqs"), &["1", "1"]));
    for out in [&ours, &theirs] {
        assert!(out.starts_with("Tracing soft irq event time... Hit Ctrl-C to end.\n\nSOFTIRQ          TOTAL_usecs\n"), "{out}");
    }
    // -T: a time line (HH:MM:SS) before each output.
    let ours_t = stdout(&run(&tool, &["-q", "-T", "1", "1"]));
    let theirs_t = stdout(&run(Path::new("/usr/sbin/softirqs"), &["-T", "1", "1"]));
    for out in [&ours_t, &theirs_t] {
        let lines: Vec<&str> = out.lines().collect();
        let time = lines.get(2).copied().unwrap_or("");
        assert!(time.len() == 8 && time.as_bytes()[2] == b':' && time.as_bytes()[5] == b':', "{out}");
        assert_eq!(lines.get(3).copied(), Some("SOFTIRQ          TOTAL_usecs"), "{out}");
    }
    let names = |out: &str| out.lines().skip(3).filter_map(|l| l.split_whitespace().next().map(str::to_string)).collect::<Vec<_>>();
    // The types seen in one second differ a little from run to run; timer and rcu always tick.
    for name in ["timer", "rcu"] {
        assert!(names(&ours).contains(&name.to_string()) && names(&theirs).contains(&name.to_string()), "{ours}\n{theirs}");
    }
}

/// The same exec() calls, in the same rows, from the built tools/execsnoop.rt and from
/// libbpf-tools' execsnoop watching at the same time: the headers, with -x the failed exec
/// (ENOENT), with -U and -T their columns (TIME left out of the comparison: the two may read
/// the clock on either side of a second), with -n the process names.
fn execsnoop_beside_libbpf_tools(dir: &Path) {
    let Some(tool) = beside_libbpf_tools(dir, "execsnoop") else { return };
    let cases: [&[&str]; 4] = [&[], &["-x"], &["-U", "-T"], &["-x", "-n", "tru"]];
    for (i, flags) in cases.into_iter().enumerate() {
        let (ours, our_header) = start_with_header(&[&[tool.to_str().unwrap(), "-q", "-B", "line"][..], flags].concat());
        let (theirs, their_header) = start_with_header(&[&["stdbuf", "-oL", "/usr/sbin/execsnoop"][..], flags].concat());
        assert_eq!(our_header, their_header);
        let marker = format!("rtrace-{}-{i}", std::process::id());
        // An exec that succeeds (true, with arguments), and one that fails (sh's exec of a
        // file that is not there).
        let script = format!("/usr/bin/true {marker} two; /nonexistent/{marker} x 2>/dev/null; true");
        Command::new("sh").arg("-c").arg(&script).status().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let time = flags.contains(&"-T");
        let rows = |text: String| {
            text.lines()
                .filter(|l| l.contains(&marker) && !l.contains(" -c "))
                .map(|l| if time { l.get(9..).unwrap_or("").to_string() } else { l.to_string() })
                .collect::<Vec<_>>()
        };
        let (ours, theirs) = (rows(stop(ours)), rows(stop(theirs)));
        let (failed, named) = (flags.contains(&"-x"), flags.contains(&"-n"));
        assert_eq!(ours.len(), if failed && !named { 2 } else { 1 }, "{ours:?}");
        assert!(ours[0].contains(&format!("   0 /usr/bin/true {marker} two ")), "{ours:?}");
        if failed && !named {
            assert!(ours[1].contains(&format!("  -2 /nonexistent/{marker} x ")), "{ours:?}");
        }
        assert_eq!(ours, theirs);
    }
}

/// tools/runqlat.rt prints libbpf-tools' runqlat layout: the same lines before the
/// histogram, its heading and buckets, with -m in milliseconds and -T a time line (the
/// counts differ: the two watch different seconds).
fn runqlat_beside_libbpf_tools(dir: &Path) {
    let Some(tool) = beside_libbpf_tools(dir, "runqlat") else { return };
    for flags in [&["1", "1"][..], &["-m", "-T", "1", "2"]] {
        let ours = stdout(&run(&tool, &[&["-q", "--hist-style", "bcc"][..], flags].concat()));
        let theirs = stdout(&run(Path::new("/usr/sbin/runqlat"), flags));
        assert_eq!(hist_shape(&ours), hist_shape(&theirs), "{ours}\n{theirs}");
        let unit = if flags.contains(&"-m") { "msecs" } else { "usecs" };
        assert!(ours.contains(&format!("\n     {unit}               : count    distribution\n         0 -> 1          : ")), "{ours}");
    }
}

/// A histogram tool's output without its counts: the lines that are not buckets (a time line
/// as `TIME`), and the first bucket's label.
fn hist_shape(out: &str) -> (String, String) {
    let lines: Vec<&str> = out.lines().collect();
    let is_time = |l: &str| l.len() == 8 && l.as_bytes()[2] == b':' && l.as_bytes()[5] == b':';
    let heads = lines.iter().filter(|l| !l.contains(" -> ")).map(|l| if is_time(l) { "TIME" } else { l }).collect::<Vec<_>>().join("\n");
    let first = lines.iter().find(|l| l.contains(" -> ")).map(|l| l[..27].to_string()).unwrap_or_default();
    (heads.trim_end().to_string(), first)
}

/// tools/biolatency.rt prints libbpf-tools' biolatency layout for the same direct writes,
/// both watching at the same time (the counts differ: other I/O comes and goes): plain, with
/// -m -T, and with -d DISK (the disk the writes go to, when it is `vda`).
fn biolatency_beside_libbpf_tools(dir: &Path) {
    let Some(tool) = beside_libbpf_tools(dir, "biolatency") else { return };
    let mut cases = vec![vec!["2", "1"], vec!["-m", "-T", "2", "1"]];
    if Path::new("/sys/block/vda").exists() {
        cases.push(vec!["-d", "vda", "2", "1"]);
    }
    let piped = |cmd: &mut Command| cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    for flags in cases {
        let ours = piped(Command::new(&tool).args(["-q", "--hist-style", "bcc"]).args(&flags));
        let theirs = piped(Command::new("/usr/sbin/biolatency").args(&flags));
        std::thread::sleep(std::time::Duration::from_millis(700));
        let file = dir.join("io");
        let dd = Command::new("dd").arg("if=/dev/zero").arg(format!("of={}", file.display())).args(["bs=4k", "count=100", "oflag=direct"]).output().unwrap();
        assert!(dd.status.success(), "dd: {}", String::from_utf8_lossy(&dd.stderr));
        let (ours, theirs) = (stdout(&ours.wait_with_output().unwrap()), stdout(&theirs.wait_with_output().unwrap()));
        assert_eq!(hist_shape(&ours), hist_shape(&theirs), "{ours}\n{theirs}");
        let unit = if flags.contains(&"-m") { "msecs" } else { "usecs" };
        assert!(ours.contains(&format!("\n     {unit}               : count    distribution\n         0 -> 1          : ")), "{ours}");
    }
}
