//! The probes a session runs itself, beside BEGIN and END (bpftrace 0.26): `--test` runs each
//! `test:` probe once and reports which passed; `--bench` runs each `bench:` probe in timed
//! loops and prints how long a run takes; `self:signal:SIGUSR1` probes run when rtrace gets
//! the signal. While a test or bench runs, what it prints is kept (`Capture`): a passing
//! test's output is not shown, a failing one's is, a bench's never.

use super::super::events::Event;
use super::super::output::TestRun;
use super::super::{printf, signals, Failure, Result, RuntimeError};
use super::Session;
use crate::plan::Attach;
use libbpf_rs::ProgramInput;
use std::time::{Duration, Instant};

/// What a test or bench printed while it ran, and how many errors (`errorf()`, a failed
/// `assert()`) it reported.
#[derive(Debug, Default)]
pub(super) struct Capture {
    text: String,
    errors: usize,
}

impl Capture {
    /// Keeps the text of a printing event; any other event is handed back, to be handled.
    pub(super) fn keep<'p>(&mut self, event: Event<'p>) -> Option<Event<'p>> {
        match event {
            Event::Text { text, .. } => self.text.push_str(&text),
            Event::Value { def, args } => self.text.push_str(&printf::format(def, &args)),
            Event::Message { text, .. } => {
                if text.contains(": ERROR: ") {
                    self.errors += 1;
                }
                self.text.push_str(&text);
            }
            other => return Some(other),
        }
        None
    }
}

/// Whether a probe runs only under `--test` or `--bench`.
pub(super) fn test_or_bench(attach: &Attach) -> bool {
    matches!(attach, Attach::Test { .. } | Attach::Bench { .. })
}

/// The input of an XDP test run: an Ethernet header's worth of bytes (the kernel refuses less).
const XDP_INPUT: [u8; 14] = [0; 14];

/// Below this total time a bench's runs are repeated more (bpftrace 0.26's steps).
const BENCH_STEPS: [(Duration, u32); 4] = [
    (Duration::from_micros(1), 1000),
    (Duration::from_micros(10), 100),
    (Duration::from_micros(100), 10),
    (Duration::from_millis(1), 2),
];

impl Session<'_> {
    /// The `test:` or `bench:` probes (`bench`), in the script's order: index and name.
    fn special_probes(&self, bench: bool) -> Vec<(usize, String)> {
        let plan = self.plan;
        plan.probes
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match &p.attach {
                Attach::Test { name } if !bench => Some((i, name.clone())),
                Attach::Bench { name } if bench => Some((i, name.clone())),
                _ => None,
            })
            .collect()
    }

    /// Runs probe `index`'s program `repeat` times through BPF_PROG_TEST_RUN: its return value
    /// and the kernel's average time per run (zero for raw tracepoint programs, which it does
    /// not time).
    fn test_run(&mut self, index: usize, input: ProgramInput) -> Result<(u32, Duration)> {
        let def = &self.plan.probes[index];
        let prog = super::attach::program(&self.object, &def.prog_name)?;
        let out = prog.test_run(input).map_err(|e| {
            RuntimeError::at_probe(format!("cannot run probe `{}`: {e}", def.display), index, None, Failure::Run)
        })?;
        Ok((out.return_value, out.duration))
    }

    /// Runs what a test or bench sent, keeping its output: what it printed, its errors, and the
    /// status of an `exit()` it called (which is then forgotten, as bpftrace resets it).
    fn drain_captured(&mut self) -> (Capture, Option<i32>) {
        self.capture = Some(Capture::default());
        self.drain();
        let capture = self.capture.take().unwrap_or_default();
        (capture, self.exit.take())
    }

    /// `--test`: runs every `test:` probe once, in order, and reports each; a test passes when
    /// it returns 0, calls no `exit()` with another status and reports no error. The status is
    /// 1 when one failed.
    pub fn run_tests(&mut self) -> Result<i32> {
        let tests = self.special_probes(false);
        let mut run = TestRun { names: tests.iter().map(|t| t.1.clone()).collect(), ..TestRun::default() };
        for (i, &(index, _)) in tests.iter().enumerate() {
            if signals::stop_requested() {
                break;
            }
            let start = Instant::now();
            let (ret, _) = self.test_run(index, ProgramInput::default())?;
            let took = start.elapsed();
            let (capture, exit) = self.drain_captured();
            run.passed.push(ret == 0 && exit.unwrap_or(0) == 0 && capture.errors == 0);
            run.durations.push(took);
            run.outputs.push(capture.text);
            self.emit(|out| out.test_result(&run, i));
        }
        self.emit(|out| out.sink().flush());
        Ok(i32::from(run.passed.contains(&false)))
    }

    /// `--bench`: runs every `bench:` probe in loops of more runs until they take a
    /// millisecond, and prints the average time of a run. A bench returning other than 0 is
    /// skipped; one that calls `exit()` with a status or reports an error fails (status 1).
    pub fn run_benches(&mut self) -> Result<i32> {
        let benches = self.special_probes(true);
        let names: Vec<String> = benches.iter().map(|b| b.1.clone()).collect();
        let mut status = 0;
        let mut row = 0;
        for &(index, ref name) in &benches {
            let mut iterations = 1u32;
            loop {
                if signals::stop_requested() {
                    return Ok(status);
                }
                let input = ProgramInput { data_in: Some(&XDP_INPUT), repeat: iterations, ..ProgramInput::default() };
                let (ret, average) = self.test_run(index, input)?;
                let (capture, exit) = self.drain_captured();
                let exit = exit.unwrap_or(0);
                if exit == 0 && ret != 0 {
                    // Skipped by the bench itself.
                    break;
                }
                let total = average * iterations;
                if let Some(&(_, factor)) = BENCH_STEPS.iter().find(|(below, _)| total < *below) {
                    iterations = iterations.saturating_mul(factor);
                    continue;
                }
                if exit != 0 || capture.errors > 0 {
                    eprintln!("ERROR: Benchmark '{name}' failed.");
                    status = 1;
                    break;
                }
                let average_ns = average.as_nanos() as u64;
                self.emit(|out| out.bench_result(&names, row, average_ns, u64::from(iterations)));
                row += 1;
                break;
            }
        }
        self.emit(|out| out.sink().flush());
        Ok(status)
    }

    /// Runs the `self:signal:SIGUSR1` probes (SIGUSR1 came), and prints what they sent.
    pub(super) fn run_signal_probes(&mut self) -> Result<()> {
        self.run_probes(&Attach::Signal { name: "SIGUSR1".into() })?;
        self.drain();
        Ok(())
    }

    /// Whether the program has `self:signal` probes (rtrace then catches SIGUSR1).
    pub fn has_signal_probes(&self) -> bool {
        self.plan.probes.iter().any(|p| matches!(p.attach, Attach::Signal { .. }))
    }

    /// The `test:` or `bench:` probes (`bench`) there are, and whether any other probe is.
    pub fn special_only(&self) -> Option<&'static str> {
        let plan = self.plan;
        let others = plan.probes.iter().any(|p| !test_or_bench(&p.attach));
        let first = plan.probes.iter().find(|p| test_or_bench(&p.attach))?;
        match (others, &first.attach) {
            (true, _) => None,
            (false, Attach::Test { .. }) => Some("test"),
            (false, _) => Some("bench"),
        }
    }
}
