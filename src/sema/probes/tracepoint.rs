//! `tracepoint:CATEGORY:EVENT` (from tracefs: the events, and each one's record format) and
//! `rawtracepoint:[MODULE:]NAME` (from the kernel's BTF).

use super::{Expander, Flow, Point};
use crate::diag::{did_you_mean, Diagnostic, Span};
use crate::glob::glob;
use crate::kernel::{btf, tracefs};
use crate::plan::Attach;
use std::path::Path;

impl Expander<'_> {
    pub(super) fn tracepoint(&mut self, p: &Point) -> Flow {
        let parts = &p.parts;
        if parts.len() != 3 || parts[1].is_empty() || parts[2].is_empty() {
            self.diags.push(
                Diagnostic::error(format!("invalid tracepoint `{}`", p.text)).at(p.span, "expected `tracepoint:CATEGORY:EVENT`"),
            );
            return Flow::Next;
        }
        let root = match self.tracefs_root() {
            Ok(r) => r.clone(),
            Err(msg) => {
                let d = Diagnostic::error(msg.clone());
                self.diags.push(d);
                return Flow::Stop;
            }
        };
        let unknown = || unknown_tracepoint(&root, parts[1], parts[2], p.field_span(1), p.field_span(2));
        let matches = expand_tracepoint(&root, parts[1], parts[2]);
        if matches.is_empty() {
            self.diags.push(unknown());
        }
        for (cat, ev) in matches {
            let key = (cat.clone(), ev.clone());
            let format = match self.formats.get(&key) {
                Some(f) => Some(f.clone()),
                None => tracefs::format(&root, &cat, &ev),
            };
            if let Some(f) = &format {
                self.formats.insert(key, f.clone());
            }
            match format {
                Some(f) => self.out.push(p.instance(Attach::Tracepoint { category: cat, event: ev, id: f.id }, Some(f))),
                // (a name without wildcards is not looked for before its format is read)
                None if !tracefs::exists(&root, &cat, &ev) => self.diags.push(unknown()),
                None => self.diags.push(
                    Diagnostic::error(format!("cannot read the format of tracepoint `{cat}:{ev}`")).at(p.span, "here"),
                ),
            }
        }
        Flow::Next
    }

    pub(super) fn raw_tracepoint(&mut self, p: &Point) {
        let parts = &p.parts;
        // rawtracepoint:NAME or rawtracepoint:MODULE:NAME
        let field = parts.len() - 1;
        if !(2..=3).contains(&parts.len()) || parts[field].is_empty() {
            self.diags.push(
                Diagnostic::error(format!("invalid {} `{}`", parts[0], p.text))
                    .at(p.span, format!("expected `{}:NAME` or `{}:MODULE:NAME`", parts[0], parts[0])),
            );
            return;
        }
        let (module, name) = (parts.get(field - 1).filter(|_| field == 2).copied(), parts[field]);
        match self.raw_tracepoints(module, name) {
            Ok(names) => {
                // `args.NAME`: BTF names each tracepoint's arguments in the `__probestub_NAME`
                // function the kernel defines for it.
                let types = self.kernel_types.as_ref().and_then(|t| t.as_ref().ok());
                for name in names {
                    let mut inst = p.instance(Attach::RawTracepoint { name: name.clone() }, None);
                    inst.params = types.and_then(|t| t.raw_tracepoint_params(&name));
                    self.out.push(inst);
                }
            }
            Err((d, in_module)) => self.diags.push(match in_module {
                true => d.at(p.field_span(1), "no such module"),
                false => d.at(p.field_span(field), "not a raw tracepoint of this kernel"),
            }),
        }
    }

    /// The raw tracepoints `name` (which may hold `*` wildcards) names: from the kernel's BTF,
    /// which has a `btf_trace_NAME` typedef for each (tracefs has no list of them: its events
    /// include syscalls' per-call events, which are not raw tracepoints, and miss tracepoints
    /// that have no trace event). A module's tracepoints are taken on trust, as the kernel
    /// finds them by name at attach time.
    /// An error is about the module (`true`) or the name.
    fn raw_tracepoints(&mut self, module: Option<&str>, name: &str) -> Result<Vec<String>, (Diagnostic, bool)> {
        if let Some(m) = module.filter(|m| *m != "vmlinux") {
            if !Path::new("/sys/module").join(m).is_dir() {
                return Err((Diagnostic::error(format!("no kernel module `{m}` is loaded")), true));
            }
            if name.contains('*') {
                let d = Diagnostic::error(format!("rtrace cannot expand wildcards in a module's raw tracepoints (`{name}`)"));
                return Err((d, false));
            }
            return Ok(vec![name.to_string()]);
        }
        let types = self.kernel_types.get_or_insert_with(|| btf::KernelTypes::load().map(std::rc::Rc::new)).clone();
        raw_tracepoints_in(types.map_err(|e| (Diagnostic::error(e), false))?.as_ref(), name).map_err(|d| (d, false))
    }
}

/// The tracepoints matching `cat:event`, where either may hold `*` wildcards.
fn expand_tracepoint(root: &Path, cat: &str, event: &str) -> Vec<(String, String)> {
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

fn unknown_tracepoint(root: &Path, cat: &str, event: &str, cat_span: Span, ev_span: Span) -> Diagnostic {
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
