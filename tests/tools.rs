//! Every bpftrace tool Debian ships (`/usr/sbin/*.bt`) must pass `rtrace --dry-run
//! --no-attach`: parsed, checked against this kernel's BTF and tracefs, compiled, and loaded
//! into the kernel's verifier (nothing is attached). Needs root and the bpftrace package
//! (for the tools); without them the test is skipped with the reason printed.
//!
//! `KNOWN_GAPS` lists the tools that do not pass yet, each with the reason. The test fails if
//! any other tool fails, and also if a listed tool starts passing, so the list stays true.

use std::process::Command;

const KNOWN_GAPS: &[(&str, &str)] = &[
    ("runqlen.bt", "struct cfs_rq has no nr_running on this kernel (6.18 renamed it); bpftrace fails too"),
];

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("tools: skipped: needs root (loads programs into the kernel)");
        return;
    }
    let mut tools: Vec<_> = match std::fs::read_dir("/usr/sbin") {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "bt"))
            .collect(),
        Err(e) => {
            println!("tools: skipped: cannot list /usr/sbin: {e}");
            return;
        }
    };
    if tools.is_empty() {
        println!("tools: skipped: no /usr/sbin/*.bt (install Debian's bpftrace package)");
        return;
    }
    tools.sort();
    let rtrace = env!("CARGO_BIN_EXE_rtrace");
    let mut failures = Vec::new();
    let (mut passed, mut known) = (0, 0);
    for tool in &tools {
        let name = tool.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let mut cmd = Command::new(rtrace);
        // RTRACE_TEST_CO_RE=1: with every kernel type access a CO-RE relocation (docs/co-re.md).
        if std::env::var_os("RTRACE_TEST_CO_RE").is_some_and(|v| v == "1") {
            cmd.arg("--co-re");
        }
        let out = cmd
            .args(["--dry-run", "--no-attach"])
            .arg(tool)
            .env("NO_COLOR", "1")
            // bpftrace 0.17's tools: its output.
            .env("RTRACE_COMPAT", "0.17")
            .output()
            .expect("run rtrace");
        let ok = out.status.success();
        let gap = KNOWN_GAPS.iter().find(|(n, _)| *n == name);
        match (ok, gap) {
            (true, None) => {
                passed += 1;
                println!("{name} ... ok");
            }
            (false, Some((_, why))) => {
                known += 1;
                println!("{name} ... known gap: {why}");
            }
            (true, Some(_)) => {
                println!("{name} ... FAILED (passes now: remove it from KNOWN_GAPS)");
                failures.push(format!("{name}: listed as a known gap but passes"));
            }
            (false, None) => {
                println!("{name} ... FAILED");
                failures.push(format!("{name}:\n{}", String::from_utf8_lossy(&out.stderr)));
            }
        }
    }
    println!("\ntools: {passed} passed, {known} known gaps, {} failed (of {})", failures.len(), tools.len());
    if !failures.is_empty() {
        for f in &failures {
            println!("==== {f}");
        }
        std::process::exit(1);
    }
}
