//! Loading the object into the kernel (libbpf-rs). When the kernel refuses a program, the
//! error names its probe and the verifier's reason in one line; `-v` adds libbpf's log and
//! the verifier's whole log.
//!
//! The verifier's log comes from a log buffer libbpf hands the kernel for each program
//! (`bpf_program__set_log_buf`). libbpf asks for a log only when a program fails (it loads it
//! again with logging on), so the one buffer that holds text is the failed program's.

use super::{Failure, Result, RuntimeError};
use crate::plan::Plan;
use libbpf_rs::libbpf_sys;
use libbpf_rs::{AsRawLibbpf, Object, ObjectBuilder, PrintLevel};
use std::path::Path;
use std::sync::Mutex;

/// Bytes of each program's log buffer: room for the verifier's last lines (its reason and
/// summary), which kernels from 6.4 on keep when the whole log does not fit.
const LOG_BYTES: usize = 16 << 10;
/// The first size of a buffer for a failed program's whole log (libbpf's own first size).
const WHOLE_LOG_BYTES: usize = 16 << 20;
/// The largest log buffer the kernel takes.
const MAX_LOG_BYTES: usize = (u32::MAX >> 2) as usize;

/// How to load an object.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings<'a> {
    /// `-v`: print libbpf's log and, when the verifier rejects a program, its whole log.
    pub verbose: bool,
    /// `--no-attach`: the programs will not be attached.
    pub no_attach: bool,
    /// The BTF file CO-RE relocations are resolved against (libbpf's `btf_custom_path`),
    /// instead of the kernel's own.
    pub btf: Option<&'a Path>,
    /// `--no-warnings`: not even that the kernel rejected rtrace's BTF.
    pub no_warnings: bool,
    /// The rows of `dw_ustack`'s unwind table (`plan::DW_ROWS_MAP`'s size; 0 leaves it).
    pub dw_rows: u32,
}

/// Loads the object as `settings` say.
pub fn load(object: &[u8], plan: &Plan, settings: &Settings) -> Result<Object> {
    let verbose = settings.verbose;
    let libbpf_log = LibbpfLog::start(verbose);
    let mut attempt = load_with_logs(object, plan, settings, None)?;
    // The whole log, when it is wanted (`-v`) or when the kernel kept only its beginning
    // (kernels before 6.4), which does not say why: the failed program again, with room.
    let again = match &attempt {
        Err(Refusal { prog: Some(name), log, cut, .. }) if (verbose && !log.is_empty()) || (*cut && !has_summary(log)) => {
            Some(name.clone())
        }
        _ => None,
    };
    if let Some(name) = again {
        attempt = load_with_whole_log(object, plan, settings, &name)?;
    }
    let log = libbpf_log.finish();
    match attempt {
        Ok(obj) => {
            // SAFETY: the object is loaded and alive for the call; bpf_object__btf_fd only
            // reads it.
            let btf_fd = unsafe { libbpf_sys::bpf_object__btf_fd(obj.as_libbpf_object().as_ptr()) };
            if btf_fd < 0 && !settings.no_warnings {
                eprintln!("warning: the kernel rejected rtrace's BTF; some features may not work (run with -v for details)");
                if verbose {
                    eprintln!("{log}");
                }
            }
            Ok(obj)
        }
        Err(refusal) => {
            if verbose {
                eprintln!("{log}");
                if let (Some(name), false) = (&refusal.prog, refusal.log.is_empty()) {
                    // Framed as libbpf frames a verifier log it prints itself.
                    eprint!("libbpf: prog '{name}': -- BEGIN PROG LOAD LOG --\n{}-- END PROG LOAD LOG --\n", refusal.log);
                }
            }
            let prog = refusal.prog.clone().or_else(|| failed_in_log(&log));
            Err(describe_refusal(plan, prog.as_deref(), &refusal.log, &refusal.error))
        }
    }
}

/// Loads the programs compiled for a multi-attach link that this kernel will not make
/// (`attach::multi_link`) as plain kprobes and uprobes, to be attached one link per point:
/// their expected attach type becomes 0, as libbpf's `kprobe/` and `uprobe/` sections set it.
fn load_without_multi_links(open: &mut libbpf_rs::OpenObject, plan: &Plan, no_attach: bool) {
    for mut prog in open.progs_mut() {
        let def = plan.probes.iter().find(|d| prog.name() == d.prog_name.as_str());
        if def.is_some_and(|d| d.multi && !super::attach::multi_link(d, no_attach)) {
            prog.set_attach_type(libbpf_rs::ProgramAttachType::from(0));
        }
    }
}

/// Writes the number of possible CPUs into the object's `plan::NCPUS_SECTION` (which holds
/// only `plan::NCPUS_GLOBAL`), when a program reads per-CPU values on every CPU: this
/// machine's count, also for a built tool compiled elsewhere.
fn set_ncpus(open: &mut libbpf_rs::OpenObject) {
    let ncpus = libbpf_rs::num_possible_cpus().unwrap_or(1) as u64;
    for mut map in open.maps_mut() {
        if map.name().to_string_lossy().ends_with(crate::plan::NCPUS_SECTION) {
            if let Some(value) = map.initial_value_mut().filter(|v| v.len() >= 8) {
                value[..8].copy_from_slice(&ncpus.to_le_bytes());
            }
        }
    }
}

/// Loads the object again with a buffer for program `name`'s whole log, as large as it
/// takes (up to the kernel's limit).
fn load_with_whole_log(object: &[u8], plan: &Plan, settings: &Settings, name: &str) -> Result<std::result::Result<Object, Refusal>> {
    let mut size = WHOLE_LOG_BYTES;
    loop {
        let attempt = load_with_logs(object, plan, settings, Some((name, size)))?;
        match &attempt {
            Err(refusal) if refusal.cut && size < MAX_LOG_BYTES => size = (size * 4).min(MAX_LOG_BYTES),
            _ => return Ok(attempt),
        }
    }
}

/// What the kernel (or libbpf) said when it refused a program.
struct Refusal {
    /// The program whose log buffer holds text: the one the verifier rejected.
    prog: Option<String>,
    /// The verifier's log.
    log: String,
    /// The log filled its buffer: the kernel cut it.
    cut: bool,
    /// libbpf's error.
    error: String,
}

/// Opens and loads the object, with a log buffer for every program: `whole` gives one program
/// (by name) a buffer of that size, and the others none; otherwise each gets `LOG_BYTES`.
fn load_with_logs(
    object: &[u8],
    plan: &Plan,
    settings: &Settings,
    whole: Option<(&str, usize)>,
) -> Result<std::result::Result<Object, Refusal>> {
    LibbpfLog::clear();
    let mut builder = ObjectBuilder::default();
    if let Some(btf) = settings.btf {
        builder.btf_custom_path(btf).map_err(|e| RuntimeError::new(format!("cannot use BTF file {}: {e}", btf.display())))?;
    }
    let mut open = builder
        .open_memory(object)
        .map_err(|e| RuntimeError::new(format!("internal error: libbpf cannot open rtrace's object: {e}")))?;
    load_without_multi_links(&mut open, plan, settings.no_attach);
    set_ncpus(&mut open);
    if settings.dw_rows > 0 {
        if let Some(mut map) = open.maps_mut().find(|m| m.name() == crate::plan::DW_ROWS_MAP) {
            map.set_max_entries(settings.dw_rows)
                .map_err(|e| RuntimeError::new(format!("cannot size dw_ustack's unwind table: {e}")))?;
        }
    }
    let names: Vec<String> = open.progs_mut().map(|p| p.name().to_string_lossy().into_owned()).collect();
    let sizes: Vec<usize> = names
        .iter()
        .map(|name| match whole {
            Some((wanted, size)) if wanted == name => size,
            Some(_) => 0,
            None => LOG_BYTES,
        })
        .collect();
    // One allocation for every program's buffer; pages the kernel never writes cost nothing.
    let mut buffer = vec![0u8; sizes.iter().sum()];
    let base = buffer.as_mut_ptr();
    let mut offset = 0;
    for (prog, &size) in open.progs_mut().zip(&sizes) {
        if size > 0 {
            // SAFETY: `offset..offset + size` lies inside `buffer`, which outlives the load
            // below and is not touched until it returns (libbpf keeps the pointer until the
            // object is loaded, and the kernel writes there only during the load).
            let rc = unsafe {
                libbpf_sys::bpf_program__set_log_buf(prog.as_libbpf_object().as_ptr(), base.add(offset).cast(), size as u64)
            };
            if rc != 0 {
                return Err(RuntimeError::new("internal error: libbpf refused a log buffer"));
            }
        }
        offset += size;
    }
    let result = open.load();
    Ok(result.map_err(|e| {
        let mut offset = 0;
        let mut written = None;
        for (i, &size) in sizes.iter().enumerate() {
            if size > 0 && buffer[offset] != 0 {
                written = Some((i, &buffer[offset..offset + size]));
                break;
            }
            offset += size;
        }
        let log = written.map_or(&[][..], |(_, log)| log);
        let len = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        Refusal {
            prog: written.map(|(i, _)| names[i].clone()),
            log: String::from_utf8_lossy(&log[..len]).into_owned(),
            cut: !log.is_empty() && len + 1 >= log.len(),
            error: e.to_string(),
        }
    }))
}

/// Whether a verifier log ends with the verifier's summary (`processed N insns …`): the lines
/// before it say why it refused the program.
fn has_summary(log: &str) -> bool {
    log.lines().rev().find(|l| !l.trim().is_empty()).is_some_and(|l| l.starts_with("processed "))
}

/// The program libbpf's log names as the one that failed to load, when no verifier log does
/// (the kernel, or libbpf, refused it before the verifier ran).
fn failed_in_log(log: &str) -> Option<String> {
    log.lines().find_map(|l| {
        let rest = l.split("prog '").nth(1)?;
        l.contains("failed to load").then(|| rest.split('\'').next().unwrap_or_default().to_string())
    })
}

/// The refusal as one line naming the probe (`prog`, its program) and the reason: the
/// verifier's last words, or libbpf's error when the verifier said nothing.
fn describe_refusal(plan: &Plan, prog: Option<&str>, verifier_log: &str, error: &str) -> RuntimeError {
    let index = prog.and_then(|name| plan.probes.iter().position(|p| p.prog_name == name));
    let reason = verifier_log
        .lines()
        .map(str::trim)
        .rev()
        .find(|l| !l.is_empty() && !l.starts_with("processed ") && !l.starts_with("verification time") && !l.starts_with("stack depth"));
    let message = match (index.map(|i| &plan.probes[i].display), reason) {
        (Some(p), Some(reason)) if core_failure(reason).is_some() => {
            let access = core_failure(reason).unwrap_or_default();
            format!("probe `{p}` reads `{access}`, which this kernel does not have (its CO-RE relocation failed; run with -v for libbpf's log)")
        }
        (Some(p), Some(reason)) => {
            format!("the kernel's verifier rejected probe `{p}`: {reason} (run with -v for the verifier log)")
        }
        (Some(p), None) => format!("the kernel refused to load probe `{p}`: {error} (run with -v for libbpf's log)"),
        (None, _) => format!("the kernel refused to load the programs: {error} (run with -v for libbpf's log)"),
    };
    match index {
        Some(index) => RuntimeError::at_probe(message, index, None, Failure::Load),
        None => RuntimeError::new(message),
    }
}

/// The access a failed CO-RE relocation names, from the line libbpf puts in the verifier's
/// log in place of the poisoned instruction's error: `failed to resolve CO-RE relocation
/// <byte_off> [12] struct task_struct.no_such (0:3 @ offset 8)` gives
/// `struct task_struct.no_such`.
fn core_failure(line: &str) -> Option<String> {
    let spec = line.split("failed to resolve CO-RE relocation ").nth(1)?;
    let after_id = spec.split_once("] ").map_or(spec, |(_, rest)| rest);
    let access = after_id.split(" (").next()?.trim();
    (!access.is_empty()).then(|| access.to_string())
}

/// libbpf's own messages, collected while loading (all of them with `-v`, else its warnings).
struct LibbpfLog;

static LIBBPF_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn collect_log(_level: PrintLevel, msg: String) {
    if let Ok(mut log) = LIBBPF_LOG.lock() {
        log.push(msg);
    }
}

impl LibbpfLog {
    fn start(verbose: bool) -> LibbpfLog {
        LibbpfLog::clear();
        libbpf_rs::set_print(Some((if verbose { PrintLevel::Debug } else { PrintLevel::Warn }, collect_log)));
        LibbpfLog
    }

    /// Forgets what was collected (before another attempt at loading).
    fn clear() {
        if let Ok(mut log) = LIBBPF_LOG.lock() {
            log.clear();
        }
    }

    /// Stops collecting (libbpf says nothing more, attaching included) and returns the log.
    fn finish(self) -> String {
        libbpf_rs::set_print(None);
        LIBBPF_LOG.lock().map(|mut l| std::mem::take(&mut *l).concat()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Attach, ProbeDef};
    use crate::runtime::ProbeAt;

    /// The end of a verifier log when the kernel rejects a program.
    const LOG: &str = "0: R1=ctx() R10=fp0
0: (79) r1 = *(u64 *)(r1 +0)
R1 invalid mem access 'scalar'
processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
";

    fn plan() -> Plan {
        let probe = |name: &str, display: &str| ProbeDef { prog_name: name.into(), display: display.into(), attach: Attach::Begin, cookie: 0, also: vec![], multi: false };
        Plan { probes: vec![probe("p0", "BEGIN"), probe("p1", "tracepoint:syscalls:sys_enter_openat")], ..Plan::default() }
    }

    #[test]
    fn failed_relocation_names_the_missing_member() {
        let log = "5: <invalid CO-RE relocation>\nfailed to resolve CO-RE relocation <byte_off> [12] struct task_struct.no_such (0:3 @ offset 8)\nprocessed 6 insns (limit 1000000)\n";
        let err = describe_refusal(&plan(), Some("p1"), log, "Invalid argument (os error 22)");
        assert_eq!(
            err.message,
            "probe `tracepoint:syscalls:sys_enter_openat` reads `struct task_struct.no_such`, which this kernel does not have (its CO-RE relocation failed; run with -v for libbpf's log)"
        );
    }

    #[test]
    fn verifier_rejection_is_one_line_naming_the_probe() {
        let err = describe_refusal(&plan(), Some("p1"), LOG, "Permission denied (os error 13)");
        assert_eq!(
            err.message,
            "the kernel's verifier rejected probe `tracepoint:syscalls:sys_enter_openat`: R1 invalid mem access 'scalar' (run with -v for the verifier log)"
        );
        assert!(matches!(err.probe, Some(ProbeAt { index: 1, point: None, failure: Failure::Load })));
        assert!(has_summary(LOG));
        assert!(!has_summary("0: R1=ctx() R10=fp0\n0: (79) r1 = *(u64 *)(r1 +0)\n"));
    }

    #[test]
    fn refusal_without_a_verifier_log() {
        let log = "libbpf: prog 'p0': BPF program load failed: -EPERM\nlibbpf: prog 'p0': failed to load: -EPERM\n";
        let prog = failed_in_log(log);
        let err = describe_refusal(&plan(), prog.as_deref(), "", "Operation not permitted (os error 1)");
        assert_eq!(err.message, "the kernel refused to load probe `BEGIN`: Operation not permitted (os error 1) (run with -v for libbpf's log)");
        let err = describe_refusal(&plan(), None, "", "Invalid argument (os error 22)");
        assert_eq!(err.message, "the kernel refused to load the programs: Invalid argument (os error 22) (run with -v for libbpf's log)");
        assert!(err.probe.is_none());
    }
}
