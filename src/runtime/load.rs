//! Loading the object into the kernel (libbpf-rs), and a verifier's rejection turned into one
//! line naming the probe.

use super::{Result, RuntimeError};
use crate::plan::Plan;
use libbpf_rs::{Object, ObjectBuilder, PrintLevel};
use std::sync::Mutex;

/// libbpf's log lines, collected while loading.
static LIBBPF_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn collect_log(_level: PrintLevel, msg: String) {
    if let Ok(mut log) = LIBBPF_LOG.lock() {
        log.push(msg);
    }
}

fn take_log() -> String {
    LIBBPF_LOG.lock().map(|mut l| std::mem::take(&mut *l).concat()).unwrap_or_default()
}

pub fn load(object: &[u8], plan: &Plan, verbose: bool) -> Result<Object> {
    let _ = take_log();
    libbpf_rs::set_print(Some((PrintLevel::Debug, collect_log)));
    let mut builder = ObjectBuilder::default();
    let open = builder
        .open_memory(object)
        .map_err(|e| RuntimeError::new(format!("internal error: libbpf cannot open rtrace's object: {e}")))?;
    let result = open.load();
    let log = take_log();
    libbpf_rs::set_print(None);
    if log.contains("BTF is optional, ignoring") {
        eprintln!("warning: the kernel rejected rtrace's BTF; some features may not work (run with -v for details)");
        if verbose {
            eprintln!("{log}");
        }
    }
    match result {
        Ok(obj) => Ok(obj),
        Err(e) => {
            let err = describe_load_failure(plan, &log, &e.to_string());
            if verbose {
                eprintln!("{log}");
            }
            Err(err)
        }
    }
}

/// Turns libbpf's log of a failed load into one line naming the probe and the reason.
fn describe_load_failure(plan: &Plan, log: &str, error: &str) -> RuntimeError {
    let prog = log.lines().find_map(|l| {
        let rest = l.split("prog '").nth(1)?;
        let name = rest.split('\'').next()?;
        (l.contains("failed to load") || l.contains("load failed") || l.contains("BEGIN PROG LOAD LOG"))
            .then(|| name.to_string())
    });
    let probe = prog
        .as_ref()
        .and_then(|name| plan.probes.iter().find(|p| &p.prog_name == name))
        .map(|p| p.display.clone());
    let verifier_log: Vec<&str> = log
        .split("-- BEGIN PROG LOAD LOG --")
        .nth(1)
        .and_then(|s| s.split("-- END PROG LOAD LOG --").next())
        .map(|s| s.lines().map(str::trim).filter(|l| !l.is_empty()).collect())
        .unwrap_or_default();
    let reason = verifier_log
        .iter()
        .rev()
        .find(|l| !l.starts_with("processed ") && !l.starts_with("verification time") && !l.starts_with("stack depth"))
        .map(|s| s.to_string())
        .unwrap_or_else(|| error.to_string());
    let message = match probe {
        Some(p) if !verifier_log.is_empty() => {
            format!("the kernel's verifier rejected probe `{p}`: {reason} (run with -v for the verifier log)")
        }
        Some(p) => format!("the kernel refused to load probe `{p}`: {reason} (run with -v for libbpf's log)"),
        None => format!("the kernel refused to load the programs: {reason} (run with -v for libbpf's log)"),
    };
    RuntimeError { message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Attach, ProbeDef};

    /// The shape of libbpf 1.7's log when the verifier rejects a program.
    const LOG: &str = "libbpf: prog 'p1': BPF program load failed: Permission denied
libbpf: prog 'p1': -- BEGIN PROG LOAD LOG --
0: R1=ctx() R10=fp0
0: (79) r1 = *(u64 *)(r1 +0)
R1 invalid mem access 'scalar'
processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
-- END PROG LOAD LOG --
libbpf: prog 'p1': failed to load: -13
libbpf: failed to load object 'rtrace'
";

    #[test]
    fn verifier_rejection_is_one_line_naming_the_probe() {
        let probe = |name: &str, display: &str| ProbeDef { prog_name: name.into(), display: display.into(), attach: Attach::Begin, cookie: 0, also: vec![], multi: false };
        let plan = Plan {
            probes: vec![probe("p0", "BEGIN"), probe("p1", "tracepoint:syscalls:sys_enter_openat")],
            ..Plan::default()
        };
        let err = describe_load_failure(&plan, LOG, "Permission denied (os error 13)");
        assert_eq!(
            err.message,
            "the kernel's verifier rejected probe `tracepoint:syscalls:sys_enter_openat`: R1 invalid mem access 'scalar' (run with -v for the verifier log)"
        );
    }
}
