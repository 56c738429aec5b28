//! Probe expansion: every attach point of the script becomes the concrete instances it names
//! (a wildcard's matches, a USDT probe's locations), each with what the checker needs to know
//! about it (a tracepoint's record format, a function's BTF parameters, USDT argument specs).
//! This file walks the attach points; one file per provider family reads the host's facts
//! (`crate::kernel`) for its probes.

mod iter;
mod kernel_fn;
mod perf;
mod special;
mod tracepoint;
mod user;
mod watchpoint;

use super::errors::{Form, Missing, ProbeError};
use crate::config::MissingProbes;
use crate::diag::Severity;
use super::{KernelTypesCache, Options};
use crate::diag::{did_you_mean, Diagnostic, Span};
use crate::kernel::tracefs::Format;
use crate::kernel::usdt;
use crate::parser::ast::Program;
use crate::plan::Attach;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

/// One concrete attach point of a probe.
pub(super) struct Instance {
    pub probe: usize,
    pub display: String,
    pub attach: Attach,
    pub format: Option<Format>,
    /// fentry/fexit: the function's parameters (name, BTF type) and return type.
    pub params: Option<(Vec<(String, u32)>, u32)>,
    /// Which attach point (counted over the whole program) this came from.
    pub point: usize,
    /// More attach points the same program serves (a wildcard's other matches).
    pub also: Vec<Attach>,
    /// Ids (into the plan's probe names) of `attach`, then of each of `also`.
    pub name_ids: Vec<u64>,
    /// usdt: the location's argument specs (`-4@%edi`, …).
    pub usdt_args: Vec<String>,
}

const PROVIDERS: &[&str] = &[
    "BEGIN", "END", "test", "bench", "self", "tracepoint", "interval", "kprobe", "kretprobe", "uprobe", "uretprobe", "usdt", "profile",
    "software", "hardware", "rawtracepoint", "fentry", "fexit", "kfunc", "kretfunc", "watchpoint", "asyncwatchpoint", "iter",
];

/// What expanding one attach point did, beyond the instances it added.
enum Flow {
    Next,
    /// A kernel function that does not exist was skipped (a probe of several attach points).
    Skipped,
    /// Nothing more can be expanded (no tracefs).
    Stop,
}

/// One attach point being expanded: its text with positional parameters substituted, split
/// at `:`.
struct Point<'t> {
    probe: usize,
    /// Which attach point of the program this is, counted from 1.
    index: usize,
    text: &'t str,
    parts: Vec<&'t str>,
    span: Span,
    /// The provider, lower case, `U` spelled `usdt`.
    provider: String,
    /// How many attach points the probe has.
    attach_points: usize,
}

impl<'t> Point<'t> {
    fn new(probe: usize, index: usize, text: &'t str, span: Span, attach_points: usize) -> Point<'t> {
        let parts = split_fields(text);
        let provider = provider(parts[0]);
        Point { probe, index, text, parts, span, provider, attach_points }
    }

    /// The span of the n-th `:`-separated field.
    fn field_span(&self, n: usize) -> Span {
        let start: usize = self.parts[..n].iter().map(|p| p.len() + 1).sum();
        Span::new(self.span.start + start, self.span.start + start + self.parts[n].len())
    }

    fn instance(&self, attach: Attach, format: Option<Format>) -> Instance {
        Instance {
            probe: self.probe,
            display: self.text.to_string(),
            attach,
            format,
            params: None,
            point: self.index,
            also: vec![],
            name_ids: vec![],
            usdt_args: vec![],
        }
    }
}

/// An attach point's `:`-separated fields; a `:` inside `"…"` quotes separates nothing.
fn split_fields(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A field without its `"` quotes (`"/opt/a b:c"` is `/opt/a b:c`).
fn unquote(field: &str) -> String {
    field.replace('"', "")
}

/// An attach point's provider as written, in the form expansion matches: provider names are
/// case-insensitive (`Tracepoint:`, `BEGIN`, `begin`), except the short names `U` (usdt) and
/// `u` (uprobe).
fn provider(written: &str) -> String {
    if written == "U" {
        "usdt".to_string()
    } else {
        written.to_ascii_lowercase()
    }
}

/// What expanding a program's probes needs from the host that takes an effect to learn, which
/// sema does not do itself: the caller mounts tracefs where it is missing and asks the kernel
/// whether it loads fentry programs, then passes what it learned in `Options::host`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostNeeds {
    /// tracefs: tracepoints, and the functions kprobes can hook.
    pub tracefs: bool,
    /// Whether fentry programs load (libbpf's probe loads one): fentry and fexit probes, when
    /// they are to be attached.
    pub fentry: bool,
    /// Whether iterator programs load: `iter:` probes, when they are to be attached.
    pub iter: bool,
}

/// What the caller learned about the host before checking (see `HostNeeds`).
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// This kernel refuses fentry and fexit programs.
    pub fentry_refused: bool,
    /// This kernel refuses iterator programs.
    pub iter_refused: bool,
}

/// What expanding `program`'s probes will need from the host (see `HostNeeds`).
pub fn host_needs(program: &Program, opts: &Options) -> HostNeeds {
    let mut needs = HostNeeds::default();
    for ap in program.probes.iter().flat_map(|p| &p.attach_points) {
        let text = substitute_params(&ap.text, &opts.params);
        match provider(text.split(':').next().unwrap_or_default()).as_str() {
            "tracepoint" | "t" | "kprobe" | "k" | "kretprobe" | "kr" => needs.tracefs = true,
            "fentry" | "f" | "kfunc" | "fexit" | "fr" | "kretfunc" => needs.fentry |= !opts.no_attach,
            "iter" | "it" => needs.iter |= !opts.no_attach,
            _ => {}
        }
    }
    needs
}

/// Whether `inst`'s program may be attached at all its points with one multi-attach link
/// (kprobe_multi; uprobe_multi, one per binary): it serves several points of a kind that has
/// such links. Whether it is, the runtime decides, asking the kernel (`ProbeDef::multi`).
pub(super) fn multi_link_candidate(inst: &Instance) -> bool {
    !inst.also.is_empty() && matches!(inst.attach, Attach::Uprobe { .. } | Attach::Usdt { .. } | Attach::Kprobe { offset: 0, .. })
}

/// Expansion's state: the instances so far, and the host's facts, each read once.
struct Expander<'a> {
    opts: &'a Options,
    kernel_types: &'a mut KernelTypesCache,
    diags: &'a mut Vec<Diagnostic>,
    out: Vec<Instance>,
    tracefs_root: Option<Option<PathBuf>>,
    functions: Option<BTreeSet<String>>,
    elf_symbols: HashMap<PathBuf, Vec<crate::kernel::elf::Function>>,
    usdt_notes: HashMap<PathBuf, Vec<usdt::Note>>,
    /// Each tracepoint's format is read once, however many probes use it.
    formats: HashMap<(String, String), Format>,
    /// `test:`/`bench:` probes so far, and where each was named (a name is used once).
    special_names: Vec<(Attach, Span)>,
}

/// The concrete instances of every attach point of `program`; problems go to `diags`.
pub(super) fn expand(
    program: &Program,
    opts: &Options,
    kernel_types: &mut KernelTypesCache,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Instance> {
    let mut x = Expander {
        opts,
        kernel_types,
        diags,
        out: Vec::new(),
        tracefs_root: None,
        functions: None,
        elf_symbols: HashMap::new(),
        usdt_notes: HashMap::new(),
        formats: HashMap::new(),
        special_names: Vec::new(),
    };
    if let Some(e) = iter::alone(program, opts) {
        x.error(e);
    }
    let mut index = 0;
    for (pi, probe) in program.probes.iter().enumerate() {
        // Kernel functions this probe names that do not exist, skipped (see kernel_fn.rs).
        let mut skipped = 0;
        for ap in &probe.attach_points {
            index += 1;
            // `$1` … in attach points take the positional parameters' text.
            let text = substitute_params(&ap.text, &opts.params);
            match x.attach_point(&Point::new(pi, index, &text, ap.span, probe.attach_points.len())) {
                Flow::Next => {}
                Flow::Skipped => skipped += 1,
                Flow::Stop => return x.out,
            }
        }
        if skipped > 0 && skipped == probe.attach_points.len() {
            let (first, last) = (&probe.attach_points[0], &probe.attach_points[skipped - 1]);
            x.error(ProbeError::NoKernelFunctionLeft { span: first.span.to(last.span) });
        }
    }
    if x.out.is_empty() && !x.diags.iter().any(Diagnostic::is_error) {
        x.diags.push(Diagnostic::error("no probe is left to attach").note("every probe of the script is missing, and was skipped"));
    }
    match &opts.probe_filter {
        Some(filter) if !x.diags.iter().any(Diagnostic::is_error) => filter_probes(x.out, filter, x.diags),
        _ => x.out,
    }
}

/// `--probe-filter`: the instances left with only the attach points whose name matches
/// `filter` (BEGIN and END are kept whatever their name); an error if no probe is left but
/// BEGIN and END. Probes left out are not compiled, so their bodies are not checked either.
fn filter_probes(instances: Vec<Instance>, filter: &regex_lite::Regex, diags: &mut Vec<Diagnostic>) -> Vec<Instance> {
    let keep = |inst: &Instance, attach: &Attach| {
        matches!(attach, Attach::Begin | Attach::End) || filter.is_match(&probe_name(attach, &inst.display))
    };
    let mut out = Vec::new();
    for mut inst in instances {
        let mut points: Vec<Attach> = std::iter::once(inst.attach.clone()).chain(std::mem::take(&mut inst.also)).collect();
        points.retain(|a| keep(&inst, a));
        if points.is_empty() {
            continue;
        }
        inst.attach = points.remove(0);
        inst.also = points;
        out.push(inst);
    }
    if out.iter().all(|inst| matches!(inst.attach, Attach::Begin | Attach::End)) {
        diags.push(
            Diagnostic::error(format!("no probe matches `--probe-filter {}`", filter.as_str()))
                .note("BEGIN and END are kept whatever the filter; every other probe was left out"),
        );
    }
    out
}

impl Expander<'_> {
    fn attach_point(&mut self, p: &Point) -> Flow {
        let parts = &p.parts;
        let done = match p.provider.as_str() {
            "begin" if parts.len() == 1 => self.push(p.instance(Attach::Begin, None)),
            "end" if parts.len() == 1 => self.push(p.instance(Attach::End, None)),
            "test" | "bench" => self.named_special(p),
            "self" => self.self_probe(p),
            "tracepoint" | "t" => self.tracepoint(p),
            "rawtracepoint" | "rt" => self.raw_tracepoint(p).map(|()| Flow::Next),
            "kprobe" | "k" | "kretprobe" | "kr" => self.kprobe(p),
            "fentry" | "f" | "kfunc" | "fexit" | "fr" | "kretfunc" => self.fentry(p).map(|()| Flow::Next),
            "uprobe" | "u" | "uretprobe" | "ur" => self.uprobe(p).map(|()| Flow::Next),
            "usdt" => self.usdt(p).map(|()| Flow::Next),
            "profile" | "p" | "software" | "s" | "hardware" | "h" => self.perf(p).map(|()| Flow::Next),
            "watchpoint" | "w" => self.watchpoint(p).map(|()| Flow::Next),
            "interval" | "i" => self.interval(p).map(|()| Flow::Next),
            "iter" | "it" => self.iter(p),
            other => Err(unknown_provider(p, other)),
        };
        done.unwrap_or_else(|e| {
            self.error(e);
            Flow::Next
        })
    }

    fn push(&mut self, inst: Instance) -> Result<Flow, ProbeError> {
        self.out.push(inst);
        Ok(Flow::Next)
    }

    /// Reports `e`; a probe that does not exist is a warning or nothing under config
    /// `missing_probes = warn` or `ignore`.
    fn error(&mut self, e: ProbeError) {
        let missing = matches!(
            e,
            ProbeError::UnknownTracepoint { .. }
                | ProbeError::UnknownTracepointCategory { .. }
                | ProbeError::NoRawTracepoint { .. }
                | ProbeError::NoKernelFunction { missing: Missing::Error, .. }
                | ProbeError::NoBtfFunction { .. }
                | ProbeError::NoUserFunction { checked_anyway: false, .. }
                | ProbeError::NoUsdtProbe { .. }
        );
        let mut d: Diagnostic = e.into();
        if missing {
            match self.opts.config.missing_probes {
                MissingProbes::Error => {}
                MissingProbes::Warn => {
                    d.severity = Severity::Warning;
                    d = d.note("the probe is skipped (config `missing_probes = warn`)");
                }
                MissingProbes::Ignore => return,
            }
        }
        self.diags.push(d);
    }

    /// tracefs's mount point, looked for once (the caller mounts it first where it is
    /// missing: see `host_needs`).
    fn tracefs_root(&mut self) -> Option<PathBuf> {
        self.tracefs_root.get_or_insert_with(crate::kernel::tracefs::find).clone()
    }
}

/// The error for a provider rtrace does not run, or does not know.
fn unknown_provider(p: &Point, other: &str) -> ProbeError {
    let known = PROVIDERS.iter().any(|name| name.eq_ignore_ascii_case(other))
        || ["k", "kr", "u", "ur", "U", "p", "s", "h", "rt", "f", "fr", "aw"].contains(&other);
    let span = p.field_span(0);
    if known {
        let name = if other == "aw" { "asyncwatchpoint" } else { other };
        return ProbeError::UnsupportedProvider { name: name.to_string(), span };
    }
    let nearest = did_you_mean(other, PROVIDERS.iter().copied()).map(str::to_string);
    ProbeError::UnknownProvider { name: other.to_string(), span, nearest }
}

/// A `ProbeError::Malformed` for `p`.
fn malformed(p: &Point, form: Form) -> ProbeError {
    ProbeError::Malformed { provider: p.parts[0].to_string(), text: p.text.to_string(), form, span: p.span }
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

/// `FUNCTION` or `FUNCTION+OFFSET`; a return probe (`ret_kind`, e.g. "kretprobe") takes no
/// offset.
fn function_offset<'t>(field: &'t str, ret: bool, ret_kind: &'static str, text: &str, span: Span) -> Result<(&'t str, u64), ProbeError> {
    let Some((func, off)) = field.split_once('+') else { return Ok((field, 0)) };
    match parse_offset(off) {
        Some(o) if !ret => Ok((func, o)),
        _ => Err(ProbeError::InvalidOffset { text: text.to_string(), ret_kind, span }),
    }
}

/// A decimal or `0x` hexadecimal number.
fn parse_offset(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The concrete name of the probe an instance attaches, as `probe` gives it.
pub(super) fn probe_name(attach: &Attach, display: &str) -> String {
    match attach {
        Attach::Begin => "BEGIN".into(),
        Attach::End => "END".into(),
        Attach::Test { name } => format!("test:{name}"),
        Attach::Bench { name } => format!("bench:{name}"),
        Attach::Signal { name } => format!("self:signal:{name}"),
        Attach::Tracepoint { category, event, .. } => format!("tracepoint:{category}:{event}"),
        Attach::RawTracepoint { name } => format!("rawtracepoint:{name}"),
        Attach::Kprobe { func, ret: false, .. } => format!("kprobe:{func}"),
        Attach::Kprobe { func, ret: true, .. } => format!("kretprobe:{func}"),
        Attach::Fentry { func, ret: false } => format!("fentry:{func}"),
        Attach::Fentry { func, ret: true } => format!("fexit:{func}"),
        Attach::Iter { name, pin: None } => format!("iter:{name}"),
        Attach::Iter { name, pin: Some(pin) } => format!("iter:{name}:{pin}"),
        Attach::Uprobe { path, label, ret: false, .. } => format!("uprobe:{path}:{label}"),
        Attach::Uprobe { path, label, ret: true, .. } => format!("uretprobe:{path}:{label}"),
        Attach::Usdt { path, provider, name, .. } => format!("usdt:{path}:{provider}:{name}"),
        Attach::Interval { .. } | Attach::Perf { .. } => display.to_string(),
        Attach::Watchpoint { addr, len, bp_type } => {
            format!("watchpoint:0x{addr:x}:{len}:{}", watchpoint::mode_text(*bp_type))
        }
    }
}
