//! `tracepoint:CATEGORY:EVENT` (from tracefs: the events, and each one's record format) and
//! `rawtracepoint:[MODULE:]NAME` (from the kernel's BTF).

use super::{malformed, Expander, Flow, Point};
use crate::diag::{did_you_mean, Span};
use crate::glob::glob;
use crate::kernel::{btf, tracefs};
use crate::plan::Attach;
use crate::sema::errors::{Form, ProbeError};
use std::path::Path;

impl Expander<'_> {
    pub(super) fn tracepoint(&mut self, p: &Point) -> Result<Flow, ProbeError> {
        let parts = &p.parts;
        if parts.len() != 3 || parts[1].is_empty() || parts[2].is_empty() {
            return Err(malformed(p, Form::Tracepoint));
        }
        let Some(root) = self.tracefs_root() else {
            self.error(ProbeError::NoTracefs { unreadable_at: crate::kernel::tracefs::mounted_at() });
            return Ok(Flow::Stop);
        };
        let unknown = || unknown_tracepoint(&root, parts[1], parts[2], p.field_span(1), p.field_span(2));
        let matches = expand_tracepoint(&root, parts[1], parts[2]);
        if matches.is_empty() {
            self.error(unknown());
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
                None if !tracefs::exists(&root, &cat, &ev) => self.error(unknown()),
                None => self.error(ProbeError::TracepointFormat { category: cat, event: ev, span: p.span }),
            }
        }
        Ok(Flow::Next)
    }

    /// rawtracepoint:NAME or rawtracepoint:MODULE:NAME
    pub(super) fn raw_tracepoint(&mut self, p: &Point) -> Result<(), ProbeError> {
        let parts = &p.parts;
        let field = parts.len() - 1;
        if !(2..=3).contains(&parts.len()) || parts[field].is_empty() {
            return Err(malformed(p, Form::RawTracepoint));
        }
        let (module, name) = (parts.get(field - 1).filter(|_| field == 2).copied(), parts[field]);
        let names = self.raw_tracepoints(module, name, p.field_span(1), p.field_span(field))?;
        // `args.NAME`: BTF names each tracepoint's arguments in the `__probestub_NAME`
        // function the kernel defines for it.
        let types = self.kernel_types.as_ref().and_then(|t| t.as_ref().ok());
        for name in names {
            let mut inst = p.instance(Attach::RawTracepoint { name: name.clone() }, None);
            inst.params = types.and_then(|t| t.raw_tracepoint_params(&name));
            self.out.push(inst);
        }
        Ok(())
    }

    /// The raw tracepoints `name` (which may hold `*` wildcards) names: from the kernel's BTF,
    /// which has a `btf_trace_NAME` typedef for each (tracefs has no list of them: its events
    /// include syscalls' per-call events, which are not raw tracepoints, and miss tracepoints
    /// that have no trace event). A module's tracepoints are taken on trust, as the kernel
    /// finds them by name at attach time.
    fn raw_tracepoints(&mut self, module: Option<&str>, name: &str, module_span: Span, span: Span) -> Result<Vec<String>, ProbeError> {
        if let Some(m) = module.filter(|m| *m != "vmlinux") {
            if !Path::new("/sys/module").join(m).is_dir() {
                return Err(ProbeError::RawTracepointModule { module: m.to_string(), span: module_span });
            }
            if name.contains('*') {
                return Err(ProbeError::RawTracepointModuleWildcard { name: name.to_string(), span });
            }
            return Ok(vec![name.to_string()]);
        }
        let types = self.kernel_types.get_or_insert_with(|| btf::KernelTypes::load().map(std::rc::Rc::new)).clone();
        let types = types.map_err(|reason| ProbeError::NoRawTracepointBtf { reason, span })?;
        let names = types.raw_tracepoints_matching(|n| glob(name, n));
        if !names.is_empty() {
            return Ok(names);
        }
        let nearest = match name.contains('*') {
            true => None,
            false => did_you_mean(name, types.raw_tracepoints_matching(|_| true).iter().map(String::as_str)).map(str::to_string),
        };
        Err(ProbeError::NoRawTracepoint { name: name.to_string(), span, nearest })
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

fn unknown_tracepoint(root: &Path, cat: &str, event: &str, cat_span: Span, ev_span: Span) -> ProbeError {
    let categories = tracefs::categories(root);
    if !cat.contains('*') && !categories.iter().any(|c| c == cat) {
        let nearest = did_you_mean(cat, categories.iter().map(String::as_str)).map(str::to_string);
        return ProbeError::UnknownTracepointCategory { category: cat.to_string(), span: cat_span, nearest };
    }
    let events = if cat.contains('*') { vec![] } else { tracefs::events(root, cat) };
    let nearest = did_you_mean(event, events.iter().map(String::as_str)).map(str::to_string);
    ProbeError::UnknownTracepoint { category: cat.to_string(), event: event.to_string(), span: ev_span, nearest }
}
