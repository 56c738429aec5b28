//! Semantic analysis, as passes run in order by `check()`: probe expansion (attach points to
//! concrete programs), sharing programs (`share`), the type checker (`check`: the type of every
//! expression, map types learnt from their assignments and settled across all probes by
//! `maps`), the values only the running system knows (`lookups`), and the plan (`resources`:
//! maps, printf formats, probes) that codegen and the runtime share. Errors are data
//! (`errors`). Sema emits no code.

pub mod errors;
mod check;
pub mod core;
pub mod ksyms;
mod lookups;
mod maps;
mod probes;
mod resources;
mod script_types;
mod share;
mod types;

pub use check::{named_int_type, parse_format};
pub(crate) use check::pton_bytes;
pub use types::*;

use check::{Checker, ProbeCheck};
use errors::CheckError;
use maps::declared_maps;

use probes::Instance;
pub use probes::{host_needs, HostFacts, HostNeeds};

use crate::kernel::btf;

use crate::diag::{dedup, Diagnostic};
use crate::parser::ast::*;

/// How the program will be used, where it changes what is an error.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The programs will be loaded but not attached (`--dry-run --no-attach`): probes this
    /// kernel cannot attach are still checked.
    pub no_attach: bool,
    /// Positional parameters: `$1` is `params[0]`.
    pub params: Vec<String>,
    /// `-p PID`.
    pub pid: Option<u32>,
    /// Whether `-c CMD` was given (`cpid` needs it).
    pub has_command: bool,
    /// `--unsafe`: functions that act on the system (`signal()`, `system()`) are allowed.
    pub allow_unsafe: bool,
    /// What the caller learned about the host first (`host_needs`).
    pub host: HostFacts,
    /// The config variables (`config = { … }`, `BPFTRACE_*`).
    pub config: crate::config::Config,
    /// `--co-re`: note every kernel type access for relocation (`ProgInfo::core`).
    pub co_re: bool,
    /// For `rtrace build`: the program runs later, on another machine. Positional parameters
    /// and `-p` are read at run time (`Plan::runtime_params`); values only the build machine
    /// knows (`kaddr()`, `uaddr()`, `cgroupid()`, `ncpus`) are errors.
    pub portable: bool,
    /// With `portable`: the script's named parameters (`getopt()`), each integer or boolean
    /// one read at run time from globals slot `plan::GLOBAL_NAMED` + its index here.
    pub named: Vec<crate::parser::getopt::Opt>,
    /// The script with the files it imports, each under its name as diagnostics show it
    /// (`-e`, a path, `stdin`): the place `errorf()`, `warnf()` and `assert()` print before
    /// their message is reckoned in the file a span points into.
    pub script: crate::parser::imports::Script,
    /// `--compat` (`RTRACE_COMPAT`): with 0.17, the language of bpftrace 0.17 where 0.26's
    /// changes what a script means: variables live for the whole probe, integer literals are
    /// 64 bits wide, and subtracting unsigned integers gives an unsigned one.
    pub compat: crate::runtime::Compat,
    /// `-k`: a failed read of memory sends a warning naming its place (`Plan::source`).
    pub read_warnings: bool,
    /// `--probe-filter REGEX`: only the attach points whose name (as `probe` gives it)
    /// matches are kept; BEGIN and END always are.
    pub probe_filter: Option<regex_lite::Regex>,
    /// The imported `.bpf.c` files, compiled (`cimport`): their functions may be called.
    pub c_code: crate::cimport::CCode,
}

/// Checks a parsed program and writes its plan. Errors (with any warnings) come back as
/// diagnostics: each pass runs only if the ones before it reported no errors.
pub fn check(program: &Program, opts: &Options) -> Result<Checked, Vec<Diagnostic>> {
    if program.probes.is_empty() {
        return Err(vec![Diagnostic::error("the program has no probes")
            .help("a probe looks like `tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }`")]);
    }
    let mut diags = Vec::new();
    // The kernel's BTF is loaded at most once, by probe expansion (fentry) or by the checks.
    let mut kernel_types = None;
    let instances = probes::expand(program, opts, &mut kernel_types, &mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    if let Err(d) = script_types::add(program, &mut kernel_types) {
        diags.push(d);
        return Err(diags);
    }
    let share::Shared { instances, names: probe_names, slots, params } = share::share_programs(program, instances);
    // Each program once, in order, learning the maps from their assignments; then again those
    // that read a map a later program changed (see `maps::settle`).
    let mut checker = Checker::new(program, opts, kernel_types);
    checker.add_dwarf_types(&instances);
    let mut probes: Vec<ProbeCheck> = instances.iter().map(|inst| checker.check_instance(inst)).collect();
    maps::settle(&mut checker, &instances, &mut probes);
    let mut errors = Vec::new();
    for (probe, slots) in probes.iter_mut().zip(slots) {
        lookups::resolve(probe, opts.no_attach, opts.portable);
        probe.info.params = slots;
        errors.append(&mut probe.errors);
    }
    let declared = declared_maps(program, &checker.maps, &mut errors);
    errors::dedup(&mut errors);
    // The unstable-feature warning of `tseries()` once, as bpftrace gives it.
    let mut warned = false;
    errors.retain(|e| {
        !matches!(e, CheckError::Map(errors::MapError::TSeriesUnstable { error: false, .. })) || !std::mem::replace(&mut warned, true)
    });
    // (probe expansion's diagnostics are still text; deduplicated as such)
    dedup(&mut diags);
    diags.extend(errors.iter().map(CheckError::diagnostic));
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    let input = resources::Input {
        instances: &instances,
        probes,
        maps: checker.maps.defs(&declared, opts.config.max_map_keys as u32),
        tuples: &checker.tuples,
        strftime_formats: std::mem::take(&mut checker.strftime_formats),
        structs: std::mem::take(&mut checker.structs).into_iter().map(|(_, def)| def).collect(),
        enums: std::mem::take(&mut checker.enum_types).into_iter().map(|(_, def)| def).collect(),
        probe_names,
        params,
    };
    let (plan, progs) = resources::write(input, opts);
    let relocated = opts.co_re && progs.iter().any(|p| !p.core.is_empty());
    let core = match relocated.then(|| checker.kernel_types()) {
        Some(Ok(k)) => core::build(&k, &progs),
        _ => core::CoreTypes::default(),
    };
    let ksyms = std::mem::take(&mut checker.ksyms).into_values().collect();
    let c_bitcode = opts.c_code.bitcode.clone();
    Ok(Checked { plan, progs, warnings: diags, tuple_types: checker.tuples.types, core, ksyms, c_bitcode })
}

/// The kernel's types, loaded on first use (by probe expansion or the checker), or why not.
pub(super) type KernelTypesCache = Option<Result<std::rc::Rc<btf::KernelTypes>, String>>;

/// `$1`, `$2`, …, `$#`.
pub(crate) fn is_positional(name: &str) -> bool {
    name == "$#" || (name.len() > 1 && name[1..].bytes().all(|b| b.is_ascii_digit()))
}
