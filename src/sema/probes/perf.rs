//! Timed and counted probes: `profile:hz:N` (and `s|ms|us:N`), `software:EVENT[:COUNT]`,
//! `hardware:EVENT[:COUNT]` (perf events, from `crate::kernel::perf`'s tables) and
//! `interval:UNIT:N`.

use super::{Expander, Point};
use crate::diag::Diagnostic;
use crate::kernel::perf::{HARDWARE_EVENTS, SOFTWARE_EVENTS};
use crate::plan::{Attach, PerfEvent};

impl Expander<'_> {
    pub(super) fn perf(&mut self, p: &Point) {
        match perf_probe(&p.parts) {
            Ok(attach) => self.out.push(p.instance(attach, None)),
            Err(help) => self.diags.push(
                Diagnostic::error(format!("invalid {} probe `{}`", p.parts[0], p.text)).at(p.span, "cannot read this").help(help),
            ),
        }
    }

    pub(super) fn interval(&mut self, p: &Point) {
        match interval_ns(&p.parts) {
            Some(ns) => self.out.push(p.instance(Attach::Interval { period_ns: ns }, None)),
            None => self.diags.push(
                Diagnostic::error(format!("invalid interval `{}`", p.text))
                    .at(p.span, "expected `interval:UNIT:N`")
                    .help("UNIT is one of s, ms, us, hz; N is a positive integer, e.g. `interval:s:1`"),
            ),
        }
    }
}

/// `profile:hz:N`, `profile:s|ms|us:N`, `software:EVENT[:COUNT]`, `hardware:EVENT[:COUNT]`.
fn perf_probe(parts: &[&str]) -> Result<Attach, String> {
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

/// `interval:UNIT:N`'s period in nanoseconds.
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
