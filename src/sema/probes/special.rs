//! Probes the runtime runs itself, beside `begin`/`end`: `test:NAME` and `bench:NAME` (run by
//! `--test` and `--bench`, each name once) and `self:signal:SIGUSR1` (bpftrace 0.26).

use super::{malformed, Expander, Flow, Point};
use crate::plan::Attach;
use crate::sema::errors::{Form, ProbeError};

impl Expander<'_> {
    /// `test:NAME` or `bench:NAME`.
    pub(super) fn named_special(&mut self, p: &Point) -> Result<Flow, ProbeError> {
        let test = p.provider == "test";
        let name = match p.parts.as_slice() {
            [_, name] if !name.is_empty() => name.to_string(),
            _ => return Err(malformed(p, Form::Named)),
        };
        let attach = if test { Attach::Test { name: name.clone() } } else { Attach::Bench { name: name.clone() } };
        let span = p.field_span(1);
        if let Some(first) = self.special_names.iter().find(|(a, _)| *a == attach).map(|(_, s)| *s) {
            let provider = if test { "TEST" } else { "BENCH" };
            return Err(ProbeError::DuplicateName { provider, name, first, span });
        }
        self.special_names.push((attach.clone(), span));
        self.push(p.instance(attach, None))
    }

    /// `self:signal:SIGUSR1`, the one trigger bpftrace 0.26 has.
    pub(super) fn self_probe(&mut self, p: &Point) -> Result<Flow, ProbeError> {
        let [_, trigger, signal] = p.parts.as_slice() else { return Err(malformed(p, Form::SelfSignal)) };
        if *trigger != "signal" || *signal != "SIGUSR1" {
            let signal = Some(signal.to_string()).filter(|_| *trigger == "signal");
            let span = if *trigger == "signal" { p.field_span(2) } else { p.field_span(1) };
            return Err(ProbeError::SelfTrigger { trigger: trigger.to_string(), signal, span });
        }
        self.push(p.instance(Attach::Signal { name: signal.to_string() }, None))
    }
}
