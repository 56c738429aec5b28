//! Front-end cases, in process: every script case (`tests/scripts/**/*.toml`) that the front
//! end alone decides — no `requires`, expected exit status 1, and nothing else to set up (no
//! `run`, `prefix`, `stdin`, `file`, `kernel_features` or `{helpers}`) — is run through
//! `rtrace::driver::front_end`, the function the `rtrace` binary runs to read, parse and check
//! a script and render its diagnostics. Its status and what it wrote are compared with the
//! case's `exit`, `stderr`/`stderr_exact` and `stdout` keys, as `tests/scripts.rs` compares the
//! binary's. It needs no root, no tracefs and no BTF, and takes well under a second.
//!
//! A case the front end lets through fails here: it is not a front-end case, and must say what
//! it needs (`requires`, see `tests/scripts/README.md`). `tests/scripts.rs` runs these cases
//! too, through the binary (clap, the exit path, bpftrace mode's exit-status cross-check).
//!
//! `cargo test --release --test diagnostics` runs them all (a first argument filters by path);
//! `RTRACE_BLESS=1 cargo test --release --test diagnostics` rewrites each case's
//! `stderr_exact` with what the front end now prints, after a deliberate change of wording,
//! for the change to be reviewed in the diff (`git diff tests/scripts`).

#[allow(dead_code)] // the keys and checks only the binary runner uses
mod cases;

use cases::Case;
use clap::Parser;
use rtrace::driver::{front_end, Cli};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Stands for the directory of the binary runner's built test helpers.
const HELPERS: &str = "{helpers}";

enum Outcome {
    Ok,
    /// The expected `stderr_exact` was rewritten (`RTRACE_BLESS=1`).
    Blessed,
    Failed(String),
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // cargo may pass libtest options such as `--nocapture`: ignore them.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let bless = std::env::var_os("RTRACE_BLESS").is_some_and(|v| !v.is_empty() && v != "0");
    let mut paths = Vec::new();
    cases::collect(&root.join("tests/scripts"), &mut paths);
    paths.sort();
    let paths: Vec<PathBuf> =
        paths.into_iter().filter(|p| filter.as_ref().is_none_or(|f| p.to_string_lossy().contains(f.as_str()))).collect();

    // The front end recurses once per level of nesting: it gets the stack the binary gives it.
    let worker = std::thread::Builder::new()
        .stack_size(rtrace::driver::COMPILER_STACK)
        .spawn(move || run_all(root, &paths, bless))
        .expect("cannot start the worker thread");
    let failed = worker.join().unwrap_or_else(|_| {
        println!("diagnostics: the front end panicked");
        true
    });
    std::process::exit(if failed { 1 } else { 0 });
}

/// Runs every front-end case of `paths`; returns whether any failed.
fn run_all(root: &Path, paths: &[PathBuf], bless: bool) -> bool {
    let start = Instant::now();
    let (mut passed, mut blessed, mut failures) = (0, 0, Vec::new());
    for path in paths {
        let name = path.strip_prefix(root).unwrap_or(path).display().to_string();
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                failures.push((name, format!("cannot read case file: {e}")));
                continue;
            }
        };
        let case: Case = match toml::from_str(&text) {
            Ok(case) => case,
            Err(e) => {
                failures.push((name, format!("malformed case file: {e}")));
                continue;
            }
        };
        if !is_front_end(&case, &text) {
            continue;
        }
        match run_case(path, &case, &text, bless) {
            Outcome::Ok => passed += 1,
            Outcome::Blessed => {
                blessed += 1;
                println!("{name} ... re-recorded");
            }
            Outcome::Failed(details) => {
                println!("{name} ... FAILED");
                failures.push((name, details));
            }
        }
    }
    for (name, details) in &failures {
        println!("\n==== FAILED: {name}\n{details}");
    }
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    println!("\ndiagnostics: {passed} passed, {blessed} re-recorded, {} failed, in {ms:.0} ms", failures.len());
    !failures.is_empty()
}

/// Whether the front end alone decides the case: it needs nothing of the machine, expects
/// exit status 1, and reads its script from `-e` with nothing around the run.
fn is_front_end(case: &Case, text: &str) -> bool {
    case.exit == 1
        && case.requires.is_empty()
        && case.kernel_features.is_empty()
        && case.prefix.is_empty()
        && case.run.is_none()
        && !case.stdin
        && !case.file
        && case.files.is_empty()
        && !text.contains(HELPERS)
}

fn run_case(path: &Path, case: &Case, text: &str, bless: bool) -> Outcome {
    let regexes = match case.regexes() {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(format!("malformed case file: {e}")),
    };
    // The command line the binary runner gives rtrace.
    let argv: Vec<&str> = std::iter::once("rtrace")
        .chain(case.args.iter().map(String::as_str))
        .chain(["-e", case.script.as_str()])
        .chain(case.params.iter().map(String::as_str))
        .collect();
    let shown = format!("front_end({argv:?})");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = match Cli::try_parse_from(&argv) {
        // A usage error: clap's message and exit status 1, as the binary's main gives them.
        Err(e) => {
            err.extend_from_slice(e.render().to_string().as_bytes());
            1
        }
        Ok(mut cli) => {
            // As the binary runner does (`RTRACE_COMPAT=0.17`): 0.17's language outside `current/`.
            if cli.compat.is_none() && !path.to_string_lossy().contains("/tests/scripts/current/") {
                cli.compat = Some(rtrace::runtime::Compat::V017);
            }
            match front_end(&cli, false, &mut out, &mut err) {
                Ok(_) => 0,
                Err(status) => status,
            }
        }
    };
    let (stdout, stderr) = (String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned());

    let mut problems = Vec::new();
    if status != case.exit {
        let why = if status == 0 {
            " (the front end accepted the script: a case that needs more than the front end must say so with `requires`)"
        } else {
            ""
        };
        problems.push(format!("exit status: expected exit {}, got {status}{why}", case.exit));
    }
    // Re-recording changes the wording only: the status and every other check must hold.
    if bless && problems.is_empty() && case.stderr_exact.as_ref().is_some_and(|e| *e != stderr) {
        let reworded = Case { stderr_exact: Some(stderr.clone()), ..case.clone() };
        if cases::output_problems(&reworded, &regexes, &stdout, &stderr).is_empty() {
            return match rerecord(path, text, &stderr) {
                Ok(()) => Outcome::Blessed,
                Err(e) => Outcome::Failed(format!("case: {}
cannot re-record stderr_exact: {e}", path.display())),
            };
        }
    }
    problems.extend(cases::output_problems(case, &regexes, &stdout, &stderr));
    if problems.is_empty() {
        return Outcome::Ok;
    }
    Outcome::Failed(cases::failure_details(path, &shown, case, &problems, &stdout, &stderr))
}

/// Rewrites the case file's `stderr_exact = '''…'''` to `stderr`, leaving the rest of the file
/// as it is, and checks that the file now reads back as that text.
fn rerecord(path: &Path, text: &str, stderr: &str) -> Result<(), String> {
    const KEY: &str = "\nstderr_exact = '''";
    let start = text.find(KEY).ok_or("the case's stderr_exact is not a '''…''' string on a line of its own")? + KEY.len();
    let len = text[start..].find("'''").ok_or("stderr_exact's string does not end")?;
    if stderr.contains("'''") {
        return Err("the new text holds ''', which a '''…''' string cannot".into());
    }
    // A newline right after the opening ''' is not part of the string.
    let new = format!("{}\n{stderr}{}", &text[..start], &text[start + len..]);
    let reread: Case = toml::from_str(&new).map_err(|e| format!("the rewritten file does not parse: {e}"))?;
    if reread.stderr_exact.as_deref() != Some(stderr) {
        return Err("the rewritten file does not read back as the new text".into());
    }
    fs::write(path, new).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
