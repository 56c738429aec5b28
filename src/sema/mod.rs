//! Semantic analysis, as passes run in order by `check()`: probe expansion (attach points to
//! concrete programs), sharing programs (`share`), the type checker (`check`: the type of every
//! expression, map types learnt from their assignments and settled across all probes by
//! `maps`), the values only the running system knows (`lookups`), and the plan (`resources`:
//! maps, printf formats, probes) that codegen and the runtime share. Errors are data
//! (`errors`). Sema emits no code.

mod check;
mod errors;
mod lookups;
mod maps;
mod resources;
mod share;
mod types;

pub use check::{named_int_type, parse_format};
pub use types::*;

use check::{Checker, ProbeCheck};
use errors::CheckError;
use maps::declared_maps;

use crate::kernel::perf::{HARDWARE_EVENTS, SOFTWARE_EVENTS};
use crate::kernel::{btf, elf, kallsyms, tracefs, usdt};

use crate::diag::{dedup, did_you_mean, Diagnostic, Span};
use crate::parser::ast::*;
use crate::plan::{self, Attach};
use std::collections::HashMap;
use std::path::PathBuf;
use tracefs::Format;

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
    let instances = expand_probes(program, opts, &mut kernel_types, &mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    let share::Shared { instances, names: probe_names, slots, params } = share::share_programs(program, instances);
    // Each program once, in order, learning the maps from their assignments; then again those
    // that read a map a later program changed (see `maps::settle`).
    let mut checker = Checker::new(program, opts, kernel_types);
    let mut probes: Vec<ProbeCheck> = instances.iter().map(|inst| checker.check_instance(inst)).collect();
    maps::settle(&mut checker, &instances, &mut probes);
    let mut errors = Vec::new();
    for (probe, slots) in probes.iter_mut().zip(slots) {
        lookups::resolve(probe, opts.no_attach);
        probe.info.params = slots;
        errors.append(&mut probe.errors);
    }
    let declared = declared_maps(program, &checker.maps, &mut errors);
    errors::dedup(&mut errors);
    // (probe expansion's diagnostics are still text; deduplicated as such)
    dedup(&mut diags);
    diags.extend(errors.iter().map(CheckError::diagnostic));
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    let input = resources::Input {
        instances: &instances,
        probes,
        maps: checker.maps.defs(&declared),
        tuples: &checker.tuples,
        strftime_formats: std::mem::take(&mut checker.strftime_formats),
        probe_names,
        params,
    };
    let (plan, progs) = resources::write(input, opts);
    Ok(Checked { plan, progs, warnings: diags, tuple_types: checker.tuples.types })
}


/// One concrete attach point of a probe.
struct Instance {
    probe: usize,
    display: String,
    attach: Attach,
    format: Option<Format>,
    /// fentry/fexit: the function's parameters (name, BTF type) and return type.
    params: Option<(Vec<(String, u32)>, u32)>,
    /// Which attach point (counted over the whole program) this came from.
    point: usize,
    /// More attach points the same program serves (a wildcard's other matches).
    also: Vec<Attach>,
    /// Ids (into the plan's probe names) of `attach`, then of each of `also`.
    name_ids: Vec<u64>,
    /// usdt: the location's argument specs (`-4@%edi`, …).
    usdt_args: Vec<String>,
}

const PROVIDERS: &[&str] = &[
    "BEGIN", "END", "tracepoint", "interval", "kprobe", "kretprobe", "uprobe", "uretprobe", "usdt", "profile",
    "software", "hardware", "rawtracepoint", "fentry", "fexit", "kfunc", "kretfunc", "watchpoint", "asyncwatchpoint",
];

type KernelTypesCache = Option<Result<std::rc::Rc<btf::KernelTypes>, String>>;

fn expand_probes(
    program: &Program,
    opts: &Options,
    kernel_types: &mut KernelTypesCache,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Instance> {
    let mut out = Vec::new();
    let mut tracefs_root: Option<Result<PathBuf, String>> = None;
    let mut functions: Option<std::collections::BTreeSet<String>> = None;
    let mut elf_functions: HashMap<PathBuf, std::collections::BTreeMap<String, u64>> = HashMap::new();
    let mut usdt_notes: HashMap<PathBuf, Vec<usdt::Note>> = HashMap::new();
    // Each tracepoint's format is read once, however many probes use it.
    let mut formats: HashMap<(String, String), Format> = HashMap::new();
    let mut point = 0;
    for (pi, probe) in program.probes.iter().enumerate() {
        // Kernel functions this probe names that do not exist, skipped (see below).
        let mut skipped = 0;
        for ap in &probe.attach_points {
            point += 1;
            // `$1` … in attach points take the positional parameters' text.
            let substituted = substitute_params(&ap.text, &opts.params);
            let text = substituted.as_str();
            let parts: Vec<&str> = text.split(':').collect();
            // Span of the n-th `:`-separated field of the attach point.
            let field_span = |n: usize| {
                let start: usize = parts[..n].iter().map(|p| p.len() + 1).sum();
                Span::new(ap.span.start + start, ap.span.start + start + parts[n].len())
            };
            let mut push = |attach, format| {
                out.push(Instance {
                    probe: pi,
                    display: text.to_string(),
                    attach,
                    format,
                    params: None,
                    point,
                    also: vec![],
                    name_ids: vec![],
                    usdt_args: vec![],
                })
            };
            // Provider names are case-insensitive (`Tracepoint:`, `BEGIN`, `begin`), except
            // the short names `U` (usdt) and `u` (uprobe).
            let provider = if parts[0] == "U" { "usdt".to_string() } else { parts[0].to_ascii_lowercase() };
            match provider.as_str() {
                "begin" if parts.len() == 1 => push(Attach::Begin, None),
                "end" if parts.len() == 1 => push(Attach::End, None),
                "tracepoint" | "t" => {
                    if parts.len() != 3 || parts[1].is_empty() || parts[2].is_empty() {
                        diags.push(
                            Diagnostic::error(format!("invalid tracepoint `{text}`"))
                                .at(ap.span, "expected `tracepoint:CATEGORY:EVENT`"),
                        );
                        continue;
                    }
                    let root = tracefs_root.get_or_insert_with(tracefs::root);
                    let root = match root {
                        Ok(r) => r.clone(),
                        Err(msg) => {
                            diags.push(Diagnostic::error(msg.clone()));
                            return out;
                        }
                    };
                    let matches = expand_tracepoint(&root, parts[1], parts[2]);
                    if matches.is_empty() {
                        diags.push(unknown_tracepoint(&root, parts[1], parts[2], field_span(1), field_span(2)));
                    }
                    for (cat, ev) in matches {
                        let key = (cat.clone(), ev.clone());
                        let format = match formats.get(&key) {
                            Some(f) => Some(f.clone()),
                            None => tracefs::format(&root, &cat, &ev),
                        };
                        if let Some(f) = &format {
                            formats.insert(key, f.clone());
                        }
                        match format {
                            Some(f) => push(Attach::Tracepoint { category: cat, event: ev, id: f.id }, Some(f)),
                            // (a name without wildcards is not looked for before its format is read)
                            None if !tracefs::exists(&root, &cat, &ev) => {
                                diags.push(unknown_tracepoint(&root, parts[1], parts[2], field_span(1), field_span(2)))
                            }
                            None => diags.push(
                                Diagnostic::error(format!("cannot read the format of tracepoint `{cat}:{ev}`"))
                                    .at(ap.span, "here"),
                            ),
                        }
                    }
                }
                "rawtracepoint" | "rt" => {
                    // rawtracepoint:NAME or rawtracepoint:MODULE:NAME
                    let field = parts.len() - 1;
                    if !(2..=3).contains(&parts.len()) || parts[field].is_empty() {
                        diags.push(
                            Diagnostic::error(format!("invalid {} `{text}`", parts[0]))
                                .at(ap.span, format!("expected `{}:NAME` or `{}:MODULE:NAME`", parts[0], parts[0])),
                        );
                        continue;
                    }
                    let (module, name) = (parts.get(field - 1).filter(|_| field == 2).copied(), parts[field]);
                    match raw_tracepoints(module, name, kernel_types) {
                        Ok(names) => {
                            names.into_iter().for_each(|name| push(Attach::RawTracepoint { name }, None));
                            // `args.NAME`: BTF names each tracepoint's arguments in the
                            // `__probestub_NAME` function the kernel defines for it.
                            let types = kernel_types.as_ref().and_then(|t| t.as_ref().ok());
                            for inst in out.iter_mut().rev().take_while(|i| i.point == point) {
                                if let (Attach::RawTracepoint { name }, Some(t)) = (&inst.attach, types) {
                                    inst.params = t.raw_tracepoint_params(name);
                                }
                            }
                        }
                        Err((d, in_module)) => diags.push(match in_module {
                            true => d.at(field_span(1), "no such module"),
                            false => d.at(field_span(field), "not a raw tracepoint of this kernel"),
                        }),
                    }
                }
                "kprobe" | "k" | "kretprobe" | "kr" => {
                    let ret = provider.starts_with("kr");
                    // kprobe:FUNC, kprobe:FUNC+OFFSET, kprobe:MODULE:FUNC
                    let target_field = match kernel_function_field(&parts, text, ap.span) {
                        Ok(i) => i,
                        Err(d) => {
                            diags.push(d);
                            continue;
                        }
                    };
                    let (func, offset) = match function_offset(parts[target_field], ret, "kretprobe", text, field_span(target_field)) {
                        Ok(found) => found,
                        Err(d) => {
                            diags.push(d);
                            continue;
                        }
                    };
                    let root = tracefs_root.get_or_insert_with(tracefs::root).as_ref().ok().cloned();
                    let all;
                    let known = match target_field {
                        // kprobe:MODULE:FUNC: only that module's functions.
                        2 if parts[1] != "vmlinux" => {
                            all = kallsyms::module_functions(root.as_deref(), parts[1]);
                            if all.is_empty() && !opts.no_attach {
                                diags.push(
                                    Diagnostic::error(format!("module `{}` is not loaded, or has no traceable functions", parts[1]))
                                        .at(field_span(1), "no such module")
                                        .note("`lsmod` lists the loaded modules"),
                                );
                                continue;
                            }
                            &all
                        }
                        _ => functions.get_or_insert_with(|| kallsyms::traceable_functions(root.as_deref())),
                    };
                    let mut matches: Vec<String> = if func.contains('*') {
                        known.iter().filter(|f| glob(func, f)).cloned().collect()
                    } else if known.contains(func) {
                        vec![func.to_string()]
                    } else {
                        vec![]
                    };
                    if matches.is_empty() {
                        let mut d = Diagnostic::error(format!("no kernel function matches `{func}`"))
                            .at(field_span(target_field), "not a traceable kernel function");
                        if !func.contains('*') {
                            if let Some(s) = did_you_mean(func, known.iter().map(String::as_str)) {
                                d = d.help(format!("did you mean `{s}`?"));
                            }
                        }
                        // In a probe of several attach points (biolatency.bt's
                        // `kprobe:blk_account_io_start, kprobe:__blk_account_io_start`, one
                        // name per kernel version) a missing function is skipped, as bpftrace
                        // does; the probe is an error only if it is left with none.
                        if !opts.no_attach && probe.attach_points.len() > 1 {
                            d.severity = crate::diag::Severity::Warning;
                            diags.push(d.note("skipped, since the probe has other attach points (as in bpftrace)"));
                            skipped += 1;
                            continue;
                        }
                        if !opts.no_attach {
                            diags.push(d);
                            continue;
                        }
                        // Without attaching, the program can still be checked by the verifier
                        // (a wildcard that matches nothing leaves nothing to check).
                        d.severity = crate::diag::Severity::Warning;
                        if func.contains('*') {
                            diags.push(d.note("skipped, since nothing is attached"));
                            continue;
                        }
                        diags.push(d.note("checked anyway, since nothing is attached"));
                        matches.push(func.to_string());
                    }
                    if !opts.no_attach && !crate::kernel::features::has_kprobes() {
                        diags.push(no_kprobes(parts[0], func, ap.span));
                        continue;
                    }
                    for f in matches {
                        push(Attach::Kprobe { func: f, offset, ret }, None);
                    }
                }
                "fentry" | "f" | "kfunc" | "fexit" | "fr" | "kretfunc" => {
                    let ret = matches!(provider.as_str(), "fexit" | "fr" | "kretfunc");
                    let target_field = match kernel_function_field(&parts, text, ap.span) {
                        Ok(i) => i,
                        Err(d) => {
                            diags.push(d);
                            continue;
                        }
                    };
                    let func = parts[target_field];
                    // fentry:MODULE:FUNC: the module's functions, typed by vmlinux's BTF and
                    // the module's (one module per script: see `KernelTypes::load_module`).
                    let module = Some(parts[1]).filter(|m| target_field == 2 && *m != "vmlinux");
                    if let Some(m) = module {
                        let loaded = kernel_types.as_ref().and_then(|t| t.as_ref().ok()).and_then(|t| t.module.clone());
                        match loaded {
                            Some(other) if other != m => {
                                diags.push(
                                    Diagnostic::error(format!("rtrace can trace the functions of one module per script, and this one also traces `{other}`"))
                                        .at(field_span(1), "a second module")
                                        .help("run one rtrace per module"),
                                );
                                continue;
                            }
                            Some(_) => {}
                            None => *kernel_types = Some(btf::KernelTypes::load_module(m).map(std::rc::Rc::new)),
                        }
                    }
                    let types = kernel_types.get_or_insert_with(|| btf::KernelTypes::load().map(std::rc::Rc::new)).clone();
                    let types = match types {
                        Ok(t) => t,
                        Err(msg) => {
                            // A module that is not loaded: vmlinux's types still serve other probes.
                            if module.is_some() {
                                *kernel_types = None;
                                diags.push(Diagnostic::error(msg).at(field_span(1), "no BTF for this module"));
                                continue;
                            }
                            diags.push(Diagnostic::error(msg).at(ap.span, "fentry needs the kernel's BTF"));
                            continue;
                        }
                    };
                    // Functions of the module only (ids past vmlinux's), or of vmlinux only.
                    let in_scope = |n: &str| types.function_is_in_module(n) == module.is_some();
                    let names = if func.contains('*') {
                        types.functions_matching(|n| glob(func, n) && in_scope(n))
                    } else if types.function(func).is_some() && in_scope(func) {
                        vec![func.to_string()]
                    } else {
                        vec![]
                    };
                    if names.is_empty() {
                        let what = match module {
                            Some(m) => format!("no function of module `{m}` matches `{func}` in BTF"),
                            None => format!("no kernel function matches `{func}` in BTF"),
                        };
                        diags.push(Diagnostic::error(what).at(field_span(target_field), "not a kernel function with BTF"));
                        continue;
                    }
                    if !opts.no_attach && !crate::kernel::features::has_fentry() {
                        let mut d = Diagnostic::error(format!("this kernel refuses {} programs", parts[0]))
                            .at(ap.span, "cannot load here");
                        if crate::kernel::features::has_kprobes() {
                            let k = if ret { "kretprobe" } else { "kprobe" };
                            d = d.help(format!("`{k}:{func}` traces the same function (with `arg0`…, not `args.NAME`)"));
                        } else if let Some(tp) = kallsyms::syscall_tracepoint_for(func) {
                            d = d.help(format!("`tracepoint:syscalls:{tp}` traces the same system calls"));
                        }
                        diags.push(d.note("`rtrace --info` lists what this kernel supports"));
                        continue;
                    }
                    for name in names {
                        let params = types.function(&name);
                        out.push(Instance {
                            probe: pi,
                            display: text.to_string(),
                            // libbpf finds `MODULE:FUNC` in the module's BTF.
                            attach: Attach::Fentry { func: module.map_or(name.clone(), |m| format!("{m}:{name}")), ret },
                            format: None,
                            params,
                            point,
                            also: vec![],
                            name_ids: vec![],
                            usdt_args: vec![],
                        });
                    }
                }
                "uprobe" | "u" | "uretprobe" | "ur" => {
                    let ret = provider.starts_with("ur");
                    if parts.len() != 3 || parts[1].is_empty() || parts[2].is_empty() {
                        diags.push(
                            Diagnostic::error(format!("invalid {} `{text}`", parts[0]))
                                .at(ap.span, format!("expected `{}:BINARY:FUNCTION`", parts[0])),
                        );
                        continue;
                    }
                    let path = match find_binary(parts[1], field_span(1)) {
                        Ok(p) => p,
                        Err(d) => {
                            diags.push(d);
                            continue;
                        }
                    };
                    let (func, extra) = match function_offset(parts[2], ret, "uretprobe", text, field_span(2)) {
                        Ok(found) => found,
                        Err(d) => {
                            diags.push(d);
                            continue;
                        }
                    };
                    let known = match read_once(&mut elf_functions, &path, elf::functions, "symbols", field_span(1)) {
                        Ok(k) => k,
                        Err(d) => {
                            diags.push(d);
                            continue;
                        }
                    };
                    let mut matches: Vec<(String, u64)> =
                        known.iter().filter(|(name, _)| glob(func, name)).map(|(n, o)| (n.clone(), *o)).collect();
                    if matches.is_empty() {
                        let mut d = Diagnostic::error(format!("no function matches `{func}` in `{}`", path.display()))
                            .at(field_span(2), "not a function of that binary");
                        if let Some(s) = did_you_mean(func, known.keys().map(String::as_str)) {
                            d = d.help(format!("did you mean `{s}`?"));
                        }
                        if !opts.no_attach || func.contains('*') {
                            diags.push(d);
                            continue;
                        }
                        d.severity = crate::diag::Severity::Warning;
                        diags.push(d.note("checked anyway, since nothing is attached"));
                        matches.push((func.to_string(), 0));
                    }
                    let path_text = path.display().to_string();
                    for (name, off) in matches {
                        let attach = Attach::Uprobe { path: path_text.clone(), func: name, offset: off + extra, ret };
                        push(attach, None);
                    }
                }
                "usdt" | "U" => {
                    let (path, matches) = match usdt_probes(&parts, text, ap.span, &field_span, &mut usdt_notes) {
                        Ok(found) => found,
                        Err(d) => {
                            diags.push(d);
                            continue;
                        }
                    };
                    let path_text = path.display().to_string();
                    for note in matches {
                        out.push(Instance {
                            probe: pi,
                            display: text.to_string(),
                            attach: Attach::Usdt {
                                path: path_text.clone(),
                                provider: note.provider.clone(),
                                name: note.name.clone(),
                                offset: note.offset,
                                semaphore: note.semaphore,
                            },
                            format: None,
                            params: None,
                            point,
                            also: vec![],
                            name_ids: vec![],
                            usdt_args: note.args.clone(),
                        });
                    }
                }
                "profile" | "p" | "software" | "s" | "hardware" | "h" => match perf_probe(&parts) {
                    Ok(attach) => push(attach, None),
                    Err(help) => diags.push(
                        Diagnostic::error(format!("invalid {} probe `{text}`", parts[0])).at(ap.span, "cannot read this").help(help),
                    ),
                },
                "watchpoint" | "w" => match watchpoint(&parts, text, ap.span, &field_span, opts) {
                    Ok(attach) => push(attach, None),
                    Err(d) => diags.push(d),
                },
                "interval" | "i" => match interval_ns(&parts) {
                    Some(ns) => push(Attach::Interval { period_ns: ns }, None),
                    None => diags.push(
                        Diagnostic::error(format!("invalid interval `{text}`"))
                            .at(ap.span, "expected `interval:UNIT:N`")
                            .help("UNIT is one of s, ms, us, hz; N is a positive integer, e.g. `interval:s:1`"),
                    ),
                },
                other => {
                    let known = PROVIDERS.iter().any(|p| p.eq_ignore_ascii_case(other))
                        || ["k", "kr", "u", "ur", "U", "p", "s", "h", "rt", "f", "fr", "aw"].contains(&other);
                    let d = if known {
                        let name = if other == "aw" { "asyncwatchpoint" } else { other };
                        Diagnostic::error(format!("`{name}` probes are not supported by rtrace yet"))
                            .at(field_span(0), "not supported yet")
                            .help("rtrace runs BEGIN, END, tracepoint, rawtracepoint, interval, profile, software, hardware, kprobe, kretprobe, fentry, fexit, uprobe, uretprobe, usdt and watchpoint probes so far")
                    } else {
                        let d = Diagnostic::error(format!("unknown probe type `{other}`")).at(field_span(0), "unknown probe type");
                        match did_you_mean(other, PROVIDERS.iter().copied()) {
                            Some(s) => d.help(format!("did you mean `{s}`?")),
                            None => d,
                        }
                    };
                    diags.push(d);
                }
            }
        }
        if skipped > 0 && skipped == probe.attach_points.len() {
            let (first, last) = (&probe.attach_points[0], &probe.attach_points[skipped - 1]);
            diags.push(
                Diagnostic::error("none of this probe's kernel functions exists")
                    .at(first.span.to(last.span), "nothing to attach to")
                    .note("each was skipped: see the warnings above"),
            );
        }
    }
    out
}

/// The tracepoints matching `cat:event`, where either may hold `*` wildcards.
fn expand_tracepoint(root: &std::path::Path, cat: &str, event: &str) -> Vec<(String, String)> {
    if !cat.contains('*') && !event.contains('*') {
        return vec![(cat.to_string(), event.to_string())];
    }
    let mut out = Vec::new();
    for c in tracefs::categories(root).into_iter().filter(|c| glob(cat, c)) {
        for e in tracefs::events(root, &c).into_iter().filter(|e| glob(event, e)) {
            out.push((c.clone(), e));
        }
    }
    out
}

/// The raw tracepoints `name` (which may hold `*` wildcards) names: from the kernel's BTF,
/// which has a `btf_trace_NAME` typedef for each (tracefs has no list of them: its events
/// include syscalls' per-call events, which are not raw tracepoints, and miss tracepoints that
/// have no trace event). A module's tracepoints are taken on trust, as the kernel finds them
/// by name at attach time.
/// An error is about the module (`true`) or the name.
fn raw_tracepoints(
    module: Option<&str>,
    name: &str,
    kernel_types: &mut KernelTypesCache,
) -> Result<Vec<String>, (Diagnostic, bool)> {
    if let Some(m) = module.filter(|m| *m != "vmlinux") {
        if !std::path::Path::new("/sys/module").join(m).is_dir() {
            return Err((Diagnostic::error(format!("no kernel module `{m}` is loaded")), true));
        }
        if name.contains('*') {
            let d = Diagnostic::error(format!("rtrace cannot expand wildcards in a module's raw tracepoints (`{name}`)"));
            return Err((d, false));
        }
        return Ok(vec![name.to_string()]);
    }
    let types = kernel_types.get_or_insert_with(|| btf::KernelTypes::load().map(std::rc::Rc::new)).clone();
    raw_tracepoints_in(types.map_err(|e| (Diagnostic::error(e), false))?.as_ref(), name).map_err(|d| (d, false))
}

/// The kernel's raw tracepoints matching `name`, or the error saying there are none.
fn raw_tracepoints_in(types: &btf::KernelTypes, name: &str) -> Result<Vec<String>, Diagnostic> {
    let names = types.raw_tracepoints_matching(|n| glob(name, n));
    if !names.is_empty() {
        return Ok(names);
    }
    let d = Diagnostic::error(format!("no raw tracepoint matches `{name}`"));
    if name.contains('*') {
        return Err(d.help("`rtrace -l 'rawtracepoint:*'` lists them"));
    }
    let all = types.raw_tracepoints_matching(|_| true);
    Err(match did_you_mean(name, all.iter().map(String::as_str)) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help("`rtrace -l 'rawtracepoint:*'` lists them"),
    })
}

/// The file a uprobe or usdt probe names (a path, a library, a program on `$PATH`).
fn find_binary(target: &str, span: Span) -> Result<PathBuf, Diagnostic> {
    elf::resolve(target).ok_or_else(|| {
        Diagnostic::error(format!("cannot find the binary `{target}`"))
            .at(span, "no such file or library")
            .help("give a path (`/usr/bin/bash`) or a library name (`libc`)")
    })
}

/// What `read` finds in the binary `path` (its `what`, for the error), read once per run.
fn read_once<'c, T>(
    cache: &'c mut HashMap<PathBuf, T>,
    path: &std::path::Path,
    read: impl FnOnce(&std::path::Path) -> Result<T, String>,
    what: &str,
    span: Span,
) -> Result<&'c T, Diagnostic> {
    if !cache.contains_key(path) {
        let value = read(path).map_err(|e| {
            Diagnostic::error(format!("cannot read the {what} of `{}`: {e}", path.display())).at(span, "here")
        })?;
        cache.insert(path.to_path_buf(), value);
    }
    Ok(&cache[path])
}

/// The binary of `usdt:BINARY:[PROVIDER:]NAME` and its probes that match.
fn usdt_probes(
    parts: &[&str],
    text: &str,
    span: Span,
    field_span: &dyn Fn(usize) -> Span,
    cache: &mut HashMap<PathBuf, Vec<usdt::Note>>,
) -> Result<(PathBuf, Vec<usdt::Note>), Diagnostic> {
    if !(3..=4).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
        return Err(Diagnostic::error(format!("invalid {} `{text}`", parts[0]))
            .at(span, format!("expected `{0}:BINARY:NAME` or `{0}:BINARY:PROVIDER:NAME`", parts[0])));
    }
    let path = find_binary(parts[1], field_span(1))?;
    let notes = read_once(cache, &path, usdt::notes, "USDT probes", field_span(1))?;
    let (provider, name) = if parts.len() == 4 { (parts[2], parts[3]) } else { ("*", parts[2]) };
    let matches: Vec<usdt::Note> =
        notes.iter().filter(|n| glob(provider, &n.provider) && glob(name, &n.name)).cloned().collect();
    if matches.is_empty() {
        return Err(no_usdt_probe(&path, notes, provider, name, Span::new(field_span(2).start, span.end)));
    }
    Ok((path, matches))
}

/// The error for a usdt probe that matches none of the binary's probes.
fn no_usdt_probe(path: &std::path::Path, notes: &[usdt::Note], provider: &str, name: &str, span: Span) -> Diagnostic {
    let path = path.display();
    if notes.is_empty() {
        return Diagnostic::error(format!("`{path}` has no USDT probes"))
            .at(span, "no such probe")
            .note("the binary has no `.note.stapsdt` section");
    }
    let wanted = if provider == "*" { name.to_string() } else { format!("{provider}:{name}") };
    let d = Diagnostic::error(format!("no USDT probe matches `{wanted}` in `{path}`")).at(span, "no such probe");
    let known: Vec<String> = notes.iter().map(|n| format!("{}:{}", n.provider, n.name)).collect();
    let nearest = match provider {
        "*" => did_you_mean(name, notes.iter().map(|n| n.name.as_str())),
        _ => did_you_mean(&wanted, known.iter().map(String::as_str)),
    };
    match nearest {
        Some(s) if !wanted.contains('*') => d.help(format!("did you mean `{s}`?")),
        _ => d.help(format!("`rtrace -l 'usdt:{path}:*'` lists them")),
    }
}

/// Shell-style matching with `*` only.
pub fn glob(pattern: &str, s: &str) -> bool {
    // Iterative, backtracking only to the last `*`: O(len(pattern) * len(s)); the recursive
    // version was exponential in the number of `*`s (a hang found by fuzz/). Bytes suffice: `*`
    // is ASCII and a literal UTF-8 sequence only matches at a character boundary.
    let (p, s) = (pattern.as_bytes(), s.as_bytes());
    let (mut pi, mut si) = (0, 0);
    // After the last `*` seen: where the pattern resumes, and where in `s` that was tried.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            pi += 1;
            star = Some((pi, si));
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

fn unknown_tracepoint(root: &std::path::Path, cat: &str, event: &str, cat_span: Span, ev_span: Span) -> Diagnostic {
    let categories = tracefs::categories(root);
    if !cat.contains('*') && !categories.iter().any(|c| c == cat) {
        let d = Diagnostic::error(format!("unknown tracepoint category `{cat}`")).at(cat_span, "no such category");
        return match did_you_mean(cat, categories.iter().map(String::as_str)) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help("`rtrace -l 'tracepoint:*'` lists the tracepoints"),
        };
    }
    let events = if cat.contains('*') { vec![] } else { tracefs::events(root, cat) };
    let d = Diagnostic::error(format!("unknown tracepoint `{cat}:{event}`")).at(ev_span, format!("no such event in `{cat}`"));
    match did_you_mean(event, events.iter().map(String::as_str)) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d,
    }
}

/// `$1`, `$2`, …, `$#`.
fn is_positional(name: &str) -> bool {
    name == "$#" || (name.len() > 1 && name[1..].bytes().all(|b| b.is_ascii_digit()))
}

/// An attach point with `$N` replaced by the N-th positional parameter.
fn substitute_params(text: &str, params: &[String]) -> String {
    if !text.contains('$') {
        return text.to_string();
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let digits: String = rest[i + 1..].chars().take_while(char::is_ascii_digit).collect();
        match digits.parse::<usize>().ok().and_then(|n| n.checked_sub(1)) {
            Some(n) => out.push_str(params.get(n).map_or("", String::as_str)),
            None => out.push('$'),
        }
        rest = &rest[i + 1 + digits.len()..];
    }
    out.push_str(rest);
    out
}

/// Which `:`-separated field of a kernel-function probe (`kprobe:FUNC`,
/// `kprobe:MODULE:FUNC`, `fentry:…`) names the function.
fn kernel_function_field(parts: &[&str], text: &str, span: Span) -> Result<usize, Diagnostic> {
    let field = parts.len() - 1;
    if !(2..=3).contains(&parts.len()) || parts[field].is_empty() {
        return Err(Diagnostic::error(format!("invalid {} `{text}`", parts[0]))
            .at(span, format!("expected `{}:FUNCTION`", parts[0])));
    }
    Ok(field)
}

/// `FUNCTION` or `FUNCTION+OFFSET`; a return probe (`ret_kind`, e.g. "kretprobe") takes no
/// offset.
fn function_offset<'t>(field: &'t str, ret: bool, ret_kind: &str, text: &str, span: Span) -> Result<(&'t str, u64), Diagnostic> {
    let Some((func, off)) = field.split_once('+') else { return Ok((field, 0)) };
    match parse_offset(off) {
        Some(o) if !ret => Ok((func, o)),
        _ => Err(Diagnostic::error(format!("invalid offset in `{text}`"))
            .at(span, "expected FUNCTION+OFFSET with a number")
            .note(format!("{ret_kind}s take no offset"))),
    }
}

fn parse_offset(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The concrete name of the probe an instance attaches, as `probe` gives it.
fn probe_name(attach: &Attach, display: &str) -> String {
    match attach {
        Attach::Begin => "BEGIN".into(),
        Attach::End => "END".into(),
        Attach::Tracepoint { category, event, .. } => format!("tracepoint:{category}:{event}"),
        Attach::RawTracepoint { name } => format!("rawtracepoint:{name}"),
        Attach::Kprobe { func, ret: false, .. } => format!("kprobe:{func}"),
        Attach::Kprobe { func, ret: true, .. } => format!("kretprobe:{func}"),
        Attach::Fentry { func, ret: false } => format!("fentry:{func}"),
        Attach::Fentry { func, ret: true } => format!("fexit:{func}"),
        Attach::Uprobe { path, func, ret: false, .. } => format!("uprobe:{path}:{func}"),
        Attach::Uprobe { path, func, ret: true, .. } => format!("uretprobe:{path}:{func}"),
        Attach::Usdt { path, provider, name, .. } => format!("usdt:{path}:{provider}:{name}"),
        Attach::Interval { .. } | Attach::Perf { .. } => display.to_string(),
        Attach::Watchpoint { addr, len, bp_type } => format!("watchpoint:0x{addr:x}:{len}:{}", watchpoint_mode(*bp_type)),
    }
}

/// The watchpoint modes x86's debug registers have: writes, reads and writes, execution
/// (no reads alone, nothing combined with execution).
const WATCHPOINT_MODES: [&str; 3] = ["w", "rw", "x"];

/// A watchpoint's mode as bpftrace writes it (`rw`, `w`, `x`).
fn watchpoint_mode(bp_type: u32) -> String {
    [(plan::HW_BREAKPOINT_R, 'r'), (plan::HW_BREAKPOINT_W, 'w'), (plan::HW_BREAKPOINT_X, 'x')]
        .iter()
        .filter(|(bit, _)| bp_type & bit != 0)
        .map(|(_, c)| *c)
        .collect()
}

/// `watchpoint:ADDRESS:LENGTH:MODE` (`w:`): a hardware breakpoint in the `-p`/`-c` process.
fn watchpoint(parts: &[&str], text: &str, span: Span, field_span: &dyn Fn(usize) -> Span, opts: &Options) -> Result<Attach, Diagnostic> {
    if parts.len() != 4 {
        return Err(Diagnostic::error(format!("invalid watchpoint `{text}`"))
            .at(span, "expected `watchpoint:ADDRESS:LENGTH:MODE`")
            .help("e.g. `watchpoint:0x10000000:8:w`, with `-p PID` or `-c CMD`"));
    }
    if parts[1].contains("+arg") {
        return Err(Diagnostic::error(format!("`{}:FUNCTION+argN` watchpoints are not supported by rtrace yet", parts[0]))
            .at(field_span(1), "not supported yet")
            .help("watch a fixed address: `watchpoint:0xADDRESS:LENGTH:MODE`"));
    }
    let addr = parse_offset(parts[1]).ok_or_else(|| {
        Diagnostic::error(format!("invalid watchpoint address `{}`", parts[1]))
            .at(field_span(1), "expected a number, e.g. 0x10000000")
    })?;
    let len: u64 = match parts[2].parse() {
        Ok(n @ (1 | 2 | 4 | 8)) => n,
        _ => {
            return Err(Diagnostic::error(format!("invalid watchpoint length `{}`", parts[2]))
                .at(field_span(2), "expected 1, 2, 4 or 8"))
        }
    };
    let mode = parts[3];
    let mut bp_type = 0;
    for c in mode.chars() {
        let bit = match c {
            'r' => plan::HW_BREAKPOINT_R,
            'w' => plan::HW_BREAKPOINT_W,
            'x' => plan::HW_BREAKPOINT_X,
            _ => 0,
        };
        if bit == 0 || bp_type & bit != 0 {
            let label = if bit == 0 { "expected r, w or x, each at most once" } else { "a mode letter repeats" };
            return Err(Diagnostic::error(format!("invalid watchpoint mode `{mode}`"))
                .at(field_span(3), label)
                .help("the modes are `w` (writes), `rw` (reads and writes) and `x` (execution)"));
        }
        bp_type |= bit;
    }
    if mode.is_empty() || !WATCHPOINT_MODES.contains(&watchpoint_mode(bp_type).as_str()) {
        let d = Diagnostic::error(format!("invalid watchpoint mode `{mode}`"))
            .at(field_span(3), if mode.is_empty() { "expected a mode" } else { "not a mode of x86's hardware breakpoints" })
            .help("the modes are `w` (writes), `rw` (reads and writes) and `x` (execution)");
        return Err(if mode == "r" { d.note("x86 cannot watch reads alone: `rw` fires on reads and writes") } else { d });
    }
    if bp_type == plan::HW_BREAKPOINT_X && len != 8 {
        return Err(Diagnostic::error(format!("an execution watchpoint watches 8 bytes, not {len}"))
            .at(field_span(2), "expected 8")
            .note("x86's execution breakpoints have the length of a pointer"));
    }
    if addr % len != 0 {
        return Err(Diagnostic::error(format!("watchpoint address {} is not a multiple of its length, {len}", parts[1]))
            .at(field_span(1), "not aligned")
            .note("hardware breakpoints watch aligned addresses"));
    }
    if opts.pid.is_none() && !opts.has_command {
        return Err(Diagnostic::error("a watchpoint needs the process whose address it watches: `-p PID` or `-c CMD`")
            .at(span, "an address in which process?")
            .note("rtrace does not watch kernel addresses (bpftrace does, without -p or -c)"));
    }
    Ok(Attach::Watchpoint { addr, len, bp_type })
}

/// The error for a kprobe on a kernel without kprobes, with what works instead.
fn no_kprobes(provider: &str, func: &str, span: Span) -> Diagnostic {
    let mut d = Diagnostic::error(format!("this kernel cannot attach {provider}s: it was built without CONFIG_KPROBES"))
        .at(span, format!("needs a {provider}"));
    if let Some(tp) = kallsyms::syscall_tracepoint_for(func) {
        d = d.help(format!("`tracepoint:syscalls:{tp}` traces the same system calls"));
    }
    d.note("`rtrace --info` lists what this kernel supports; `--dry-run --no-attach` still checks the program")
}

/// `profile:hz:N`, `profile:s|ms|us:N`, `software:EVENT[:COUNT]`, `hardware:EVENT[:COUNT]`.
fn perf_probe(parts: &[&str]) -> Result<Attach, String> {
    use plan::PerfEvent;
    match parts[0] {
        "profile" | "p" => {
            let help = "write `profile:hz:N` or `profile:s|ms|us:N`, e.g. `profile:hz:99`";
            if parts.len() != 3 {
                return Err(help.into());
            }
            let n: u64 = parts[2].parse().ok().filter(|&n| n > 0).ok_or(help)?;
            let event = PerfEvent::CPU_CLOCK;
            let (period, frequency) = match parts[1] {
                "hz" => (n, true),
                "s" => (n * 1_000_000_000, false),
                "ms" => (n * 1_000_000, false),
                "us" => (n * 1_000, false),
                _ => return Err(help.into()),
            };
            Ok(Attach::Perf { event, period, frequency })
        }
        kind => {
            let software = kind.starts_with('s');
            let table = if software { SOFTWARE_EVENTS } else { HARDWARE_EVENTS };
            let names: Vec<&str> = table.iter().flat_map(|(n, _, _)| n.iter().copied()).collect();
            let help = format!("the events are: {}", names.join(", "));
            if !(2..=3).contains(&parts.len()) {
                return Err(help);
            }
            let (_, config, default) = table.iter().find(|(n, _, _)| n.contains(&parts[1])).ok_or(help.clone())?;
            let period = match parts.get(2) {
                Some(c) => c.parse().ok().filter(|&n: &u64| n > 0).ok_or(help)?,
                None => *default,
            };
            let type_ = if software { PerfEvent::SOFTWARE } else { PerfEvent::HARDWARE };
            let event = PerfEvent { type_, config: *config };
            Ok(Attach::Perf { event, period, frequency: false })
        }
    }
}

fn interval_ns(parts: &[&str]) -> Option<u64> {
    if parts.len() != 3 {
        return None;
    }
    let n: u64 = parts[2].parse().ok().filter(|&n| n > 0)?;
    match parts[1] {
        "s" => n.checked_mul(1_000_000_000),
        "ms" => n.checked_mul(1_000_000),
        "us" => n.checked_mul(1_000),
        "hz" => Some(1_000_000_000 / n).filter(|&ns| ns > 0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob("sys_enter_open*", "sys_enter_openat"));
        assert!(glob("*", "x"));
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("sys_enter_open*", "sys_exit_open"));
    }
}
