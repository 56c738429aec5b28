//! Runaway input: every input limit (`rtrace::limits`) ends in its own diagnostic, checked
//! here word for word. The script-level cases run the front end in process
//! (`rtrace::driver::front_end`, as `tests/diagnostics.rs` does, on a thread with the
//! compiler's stack); those that set environment variables run the binary. None needs root.
//!
//! `big_block_parses_in_linear_time` is a guard against the quadratic parse that came back
//! once (50,000 statements took 76 s): its 5-second bound is ~10x what a loaded 2-core
//! machine takes, so it fails only when the cost grows faster than the script again. It is
//! not a measure of speed (`benches/runaway_input.py` is).

use clap::Parser;
use rtrace::driver::{front_end, Cli, COMPILER_STACK};
use std::process::Command;
use std::time::{Duration, Instant};

const RTRACE: &str = env!("CARGO_BIN_EXE_rtrace");

/// Runs the front end on `argv` (after `rtrace`) on a thread with the compiler's stack;
/// returns its exit status (0 when it accepted the script) and what it wrote on stderr.
fn front(argv: Vec<String>) -> (i32, String) {
    let run = move || {
        let cli = Cli::try_parse_from(std::iter::once("rtrace".to_string()).chain(argv)).expect("arguments parse");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = match front_end(&cli, false, &mut out, &mut err) {
            Ok(_) => 0,
            Err(status) => status,
        };
        (status, String::from_utf8(err).expect("UTF-8 diagnostics"))
    };
    std::thread::Builder::new().stack_size(COMPILER_STACK).spawn(run).unwrap().join().expect("no panic")
}

fn script(text: String) -> (i32, String) {
    front(vec!["-e".into(), text])
}

/// A temporary file holding `bytes`, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("rtrace-limits-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }
    fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const NESTING_NOTE: &str = "  = note: rtrace takes at most 1000 levels of brackets (`{`, `(`, `[`) open at once, and of operators applied to one operand (`!!x`, `1 + 1 + 1`)\n\n";

#[test]
fn nested_braces_stop_at_the_nesting_limit() {
    // The probe's body is level 1; the 1000th `{` inside it is level 1001, on line 1001.
    let text = format!("BEGIN {{\n{}}}", "{\n".repeat(1000));
    let (status, err) = script(text);
    assert_eq!(status, 1);
    let want = format!(
        "error: nesting deeper than 1000 levels\n     ┌─ -e:1001:1\n     │\n1001 │ {{\n     │ ^ too deep here\n     │\n   {NESTING_NOTE}"
    );
    assert_eq!(err, want);
    // One level less is accepted.
    let ok = format!("BEGIN {{\n{}{}}}", "{\n".repeat(999), "}".repeat(999));
    assert_eq!(script(ok), (0, String::new()));
}

#[test]
fn operator_chains_stop_at_the_nesting_limit() {
    // `!` on 1,001 lines, then the operand: 1,001 prefix operators in a row are 1,001
    // levels, found at the last one (before the parser has to hold them all).
    let (status, err) = script(format!("BEGIN {{ @x = \n{}1; }}", "!\n".repeat(1001)));
    assert_eq!(status, 1);
    let want = format!(
        "error: nesting deeper than 1000 levels\n     ┌─ -e:1002:1\n     │\n1002 │ !\n     │ ^ too deep here\n     │\n   {NESTING_NOTE}"
    );
    assert_eq!(err, want);
    // 1,000 is not too deep.
    assert_eq!(script(format!("BEGIN {{ @x = {}1; }}", "!".repeat(999))), (0, String::new()));
    // `!(` 1,001 times: the 1,001st `(` is past the limit.
    let (status, err) = script(format!("BEGIN {{ @x =\n{}1{}; }}", "!(\n".repeat(1001), ")".repeat(1001)));
    assert_eq!(status, 1);
    assert!(err.starts_with("error: nesting deeper than 1000 levels\n     ┌─ -e:1001:2\n"), "{err}");
    // `1 + 1 + … + 1` nests to the left: the 1,001st `+` makes level 1001 (its left operand
    // starts the line).
    let (status, err) = script(format!("BEGIN {{\n@x = 1{};\n}}", "\n+ 1".repeat(1001)));
    assert_eq!(status, 1);
    let want = format!(
        "error: nesting deeper than 1000 levels\n  ┌─ -e:2:6\n  │\n2 │ @x = 1\n  │      ^ too deep here\n  │\n{NESTING_NOTE}"
    );
    assert_eq!(err, want);
}

#[test]
fn statements_stop_at_their_limit() {
    let text = format!("BEGIN {{\n{}}}\n", "@x = 1;\n".repeat(100_001));
    let (status, err) = script(text);
    assert_eq!(status, 1);
    let want = "error: more than 100000 statements\n       ┌─ -e:100002:1\n       │\n100002 │ @x = 1;\n       │ ^^^^^^ one too many\n       │\n       = note: rtrace takes at most 100000 statements in a script\n\n";
    assert_eq!(err, want);
}

#[test]
fn big_block_parses_in_linear_time() {
    let text: String = (0..50_000).map(|i| format!("  $x{} = {i};\n", i % 10)).collect();
    let start = Instant::now();
    let (status, err) = script(format!("BEGIN {{\n{text}  exit();\n}}\n"));
    let took = start.elapsed();
    assert_eq!((status, err.as_str()), (0, ""));
    assert!(took < Duration::from_secs(5), "50,000 statements took {took:?} to parse and check");
}

#[test]
fn script_size_is_limited() {
    let big = TempFile::new("big.bt", &vec![b' '; (10 << 20) + 1]);
    let (status, err) = front(vec![big.arg()]);
    assert_eq!(status, 1);
    assert_eq!(err, format!("error: `{}` is larger than 10485760 bytes, the most rtrace reads of a script\n", big.arg()));
    // An endless file ends there too.
    let (status, err) = front(vec!["/dev/zero".into()]);
    assert_eq!((status, err.as_str()), (1, "error: `/dev/zero` is larger than 10485760 bytes, the most rtrace reads of a script\n"));
    // Exactly the limit is read (and parsed: blanks).
    let fits = TempFile::new("fits.bt", &vec![b' '; 10 << 20]);
    assert_eq!(front(vec![fits.arg()]).0, 1, "an empty script is refused as such, not for its size");
}

#[test]
fn invalid_utf8_is_shown_where_it_is() {
    let file = TempFile::new("utf8.bt", b"BEGIN {\n  printf(\"caf\xe9\\n\");\n}\n");
    let (status, err) = front(vec![file.arg()]);
    assert_eq!(status, 1);
    let want = format!(
        "error: the script is not valid UTF-8\n  ┌─ {}:2:14\n  │\n2 │   printf(\"caf\u{FFFD}\\n\");\n  │              ^ not UTF-8\n\n",
        file.arg()
    );
    assert_eq!(err, want);
}

#[test]
fn probes_stop_at_max_probes() {
    let text = "BEGIN { @a = 1; }\n".repeat(1025);
    let (status, err) = script(text);
    assert_eq!(status, 1);
    let want = "error: 1025 attach points, more than max_probes (1024)\n     ┌─ -e:1025:1\n     │\n1025 │ BEGIN { @a = 1; }\n     │ ^^^^^ past the limit here\n     │\n     = help: BPFTRACE_MAX_PROBES=N raises the limit; with care: every attached probe slows down what it traces\n\n";
    assert_eq!(err, want);
}

/// The binary with environment variables set, given `-e SCRIPT`: status and stderr.
fn with_env(vars: &[(&str, &str)], script: &str) -> (i32, String) {
    let out = Command::new(RTRACE).envs(vars.iter().copied()).env("NO_COLOR", "1").args(["-e", script]).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn environment_sets_bpftrace_limits() {
    let three = "BEGIN { } BEGIN { } BEGIN { }";
    let (status, err) = with_env(&[("BPFTRACE_MAX_PROBES", "2")], three);
    assert_eq!(status, 1);
    assert_eq!(
        err,
        "error: 3 attach points, more than max_probes (2)\n  ┌─ -e:1:21\n  │\n1 │ BEGIN { } BEGIN { } BEGIN { }\n  │                     ^^^^^ past the limit here\n  │\n  = help: BPFTRACE_MAX_PROBES=N raises the limit; with care: every attached probe slows down what it traces\n\n"
    );
    let (status, err) = with_env(&[("BPFTRACE_MAX_BPF_PROGS", "1")], three);
    assert_eq!(status, 1);
    assert_eq!(
        err,
        "error: 3 BPF programs, more than max_bpf_progs (1)\n  ┌─ -e:1:11\n  │\n1 │ BEGIN { } BEGIN { } BEGIN { }\n  │           ^^^^^ past the limit here\n  │\n  = help: BPFTRACE_MAX_BPF_PROGS=N raises the limit\n\n"
    );
    let (status, err) = with_env(&[("BPFTRACE_MAX_CAT_BYTES", "lots")], three);
    assert_eq!((status, err.as_str()), (1, "error: BPFTRACE_MAX_CAT_BYTES: `lots` is not a number\n"));
}

#[test]
fn config_block_sets_bpftrace_limits_and_the_environment_wins() {
    let script = "config = { max_probes = 2 } BEGIN { } BEGIN { } BEGIN { }";
    let (status, err) = with_env(&[], script);
    assert_eq!(status, 1);
    assert!(err.starts_with("error: 3 attach points, more than max_probes (2)\n"), "{err}");
    let (status, err) = with_env(&[("BPFTRACE_MAX_PROBES", "3"), ("BPFTRACE_MAX_BPF_PROGS", "2")], script);
    assert_eq!(status, 1);
    assert!(err.starts_with("error: 3 BPF programs, more than max_bpf_progs (2)\n"), "{err}");
}
