//! The text of `--test`'s report and `--bench`'s table, laid out as bpftrace 0.26 prints them
//! (its `TextOutput::test_result` and `benchmark_result`): a gtest-like report, coloured only
//! on a terminal (bpftrace always colours it), each test's time in its largest unit; and a
//! table of each benchmark's average time per run and the runs it was timed over.

use super::TestRun;
use std::fmt::Write;

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// One report line's tag, e.g. `[ RUN      ]`, in `color` (an ANSI code) when colouring.
fn tag(out: &mut String, text: &str, color: Option<&str>) {
    match color {
        Some(c) => {
            let _ = write!(out, "{c}{text}{RESET} ");
        }
        None => {
            let _ = write!(out, "{text} ");
        }
    }
}

/// `1 test` or `N tests`.
fn tests(n: usize) -> String {
    format!("{n} {}", if n == 1 { "test" } else { "tests" })
}

/// A duration in the largest unit it reaches (`12 μs`, `3 ms`), as bpftrace's `duration_str`
/// chooses it.
fn duration(ns: u64) -> String {
    let (scale, unit) = match ns {
        n if n >= 1_000_000_000 => (1_000_000_000, "s"),
        n if n >= 1_000_000 => (1_000_000, "ms"),
        n if n >= 1_000 => (1_000, "μs"),
        _ => (1, "ns"),
    };
    format!("{} {unit}", ns / scale)
}

/// Appends test `index`'s lines: the header before the first test, `RUN`, then `OK`, or what
/// the test printed and `FAILED`; after the last test, the summary.
pub fn write_test(out: &mut String, run: &TestRun, index: usize, color: bool) {
    let (green, red) = if color { (Some(GREEN), Some(RED)) } else { (None, None) };
    let name = &run.names[index];
    if index == 0 {
        tag(out, "[==========]", green);
        let _ = writeln!(out, "Running {}.", tests(run.names.len()));
    }
    tag(out, "[ RUN      ]", green);
    let _ = writeln!(out, "{name}");
    if run.passed[index] {
        tag(out, "[       OK ]", green);
    } else {
        for line in run.outputs[index].lines().filter(|l| !l.is_empty()) {
            let _ = writeln!(out, "{line}");
        }
        tag(out, "[  FAILED  ]", red);
    }
    let _ = writeln!(out, "{name} ({})", duration(run.durations[index].as_nanos() as u64));
    if index + 1 < run.names.len() {
        return;
    }
    tag(out, "[==========]", green);
    let _ = writeln!(out, "{} ran.", tests(run.names.len()));
    let failed: Vec<&String> = run.names.iter().zip(&run.passed).filter(|(_, p)| !**p).map(|(n, _)| n).collect();
    tag(out, "[  PASSED  ]", green);
    let _ = writeln!(out, "{}.", tests(run.names.len() - failed.len()));
    if !failed.is_empty() {
        tag(out, "[  FAILED  ]", red);
        let _ = writeln!(out, "{}, listed below:", tests(failed.len()));
        for name in failed {
            tag(out, "[  FAILED  ]", red);
            let _ = writeln!(out, "{name}");
        }
    }
}

/// Appends bench `index`'s row, after the table's header before the first one.
pub fn write_bench(out: &mut String, names: &[String], index: usize, average_ns: u64, iterations: u64) {
    const TIME_WIDTH: usize = 15;
    let width = names.iter().map(String::len).max().unwrap_or(0).max(40) + 1;
    if index == 0 {
        let _ = writeln!(out, "{:<width$}{:<TIME_WIDTH$}Iterations", "Benchmark", "Time(ns)");
        let _ = writeln!(out, "{}", "-".repeat(width + TIME_WIDTH + "Iterations".len()));
    }
    let _ = writeln!(out, "{:<width$}{:<TIME_WIDTH$}{iterations}", names[index], average_ns);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn test_report() {
        let run = TestRun {
            names: vec!["okay".into(), "failure".into()],
            passed: vec![true, false],
            durations: vec![Duration::from_nanos(900), Duration::from_micros(12)],
            outputs: vec![String::new(), "This is a failure!\n\n".into()],
        };
        let mut out = String::new();
        write_test(&mut out, &run, 0, false);
        write_test(&mut out, &run, 1, false);
        let want = "[==========] Running 2 tests.\n[ RUN      ] okay\n[       OK ] okay (900 ns)\n\
                    [ RUN      ] failure\nThis is a failure!\n[  FAILED  ] failure (12 μs)\n[==========] 2 tests ran.\n\
                    [  PASSED  ] 1 test.\n[  FAILED  ] 1 test, listed below:\n[  FAILED  ] failure\n";
        assert_eq!(out, want);
    }

    #[test]
    fn bench_table() {
        let names = vec!["count".to_string(), "lhist".to_string()];
        let mut out = String::new();
        write_bench(&mut out, &names, 0, 40, 1000000);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], format!("{:<41}{:<15}Iterations", "Benchmark", "Time(ns)"));
        assert_eq!(lines[1].len(), 66);
        assert_eq!(lines[2], format!("{:<41}{:<15}1000000", "count", 40));
    }
}
