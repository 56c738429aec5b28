//! `iter:NAME[:PIN]` (short name `it`): a BPF iterator over kernel objects, named by the
//! kernel's BTF (`struct bpf_iter__NAME`, the context the program gets, and the function
//! `bpf_iter_NAME`). As in bpftrace, an iterator is the only probe of its script (BEGIN and
//! END aside), takes no wildcards, and may be pinned at PIN (a path, relative ones under
//! /sys/fs/bpf).

use super::{malformed, provider, substitute_params, Expander, Flow, Point};
use crate::diag::{did_you_mean, Span};
use crate::parser::ast::Program;
use crate::plan::Attach;
use crate::sema::errors::{Form, ProbeError};
use crate::sema::Options;

/// The prefix of an iterator's context struct in BTF.
const CTX_PREFIX: &str = "bpf_iter__";

impl Expander<'_> {
    /// `iter:NAME` or `iter:NAME:PIN`.
    pub(super) fn iter(&mut self, p: &Point) -> Result<Flow, ProbeError> {
        let (name, pin) = match p.parts.as_slice() {
            [_, name] if !name.is_empty() => (*name, None),
            [_, name, pin] if !name.is_empty() && !pin.is_empty() => (*name, Some(*pin)),
            _ => return Err(malformed(p, Form::Iter)),
        };
        if p.parts[1..].iter().any(|f| f.contains('*')) {
            return Err(ProbeError::IterWildcard { span: p.span });
        }
        let types = match self.kernel_types.get_or_insert_with(|| crate::kernel::btf::KernelTypes::load().map(std::rc::Rc::new)) {
            Ok(t) => t.clone(),
            Err(reason) => return Err(ProbeError::NoKernelBtf { reason: reason.clone(), span: p.span }),
        };
        let ctx = types.find_tagged("struct", &format!("{CTX_PREFIX}{name}"));
        if ctx.is_none() || !types.iterators().iter().any(|n| n == name) {
            let names = types.iterators();
            let nearest = did_you_mean(name, names.iter().map(String::as_str)).map(str::to_string);
            return Err(ProbeError::NoIterator { name: name.to_string(), span: p.field_span(1), nearest });
        }
        if !self.opts.no_attach && self.opts.host.iter_refused {
            return Err(ProbeError::FentryRefused { provider: "iter".into(), span: p.span, instead: None });
        }
        let attach = Attach::Iter { name: name.to_string(), pin: pin.map(super::unquote) };
        self.push(p.instance(attach, None))
    }
}

/// An error if the program has an `iter:` probe and another probe beside it (BEGIN and END
/// aside), or a second iterator: the runtime reads one iterator and ends.
pub(super) fn alone(program: &Program, opts: &Options) -> Option<ProbeError> {
    let points: Vec<(String, Span)> = program
        .probes
        .iter()
        .flat_map(|p| &p.attach_points)
        .map(|ap| {
            let text = substitute_params(&ap.text, &opts.params);
            (provider(text.split(':').next().unwrap_or_default()), ap.span)
        })
        .collect();
    let is_iter = |p: &str| matches!(p, "iter" | "it");
    let (_, span) = points.iter().find(|(p, _)| is_iter(p))?;
    let other = points.iter().find(|(p, s)| s != span && !matches!(p.as_str(), "begin" | "end"))?;
    Some(ProbeError::IterNotAlone { span: *span, other: other.1 })
}
