//! Timed and counted probes: `profile:hz:N` (and `s|ms|us:N`, and `profile:DURATION` such as
//! `profile:10ms` or nanoseconds), `software:EVENT[:[COUNT]]`, `hardware:EVENT[:[COUNT]]` (perf
//! events, from `crate::kernel::perf`'s tables) and `interval:UNIT:N` or `interval:DURATION`
//! (`interval:1s`, `interval:100ms`, nanoseconds). Counts are integer literals (`1e6`, `1_000`).

use super::{Expander, Point};
use crate::kernel::perf::{HARDWARE_EVENTS, SOFTWARE_EVENTS};
use crate::lexer::parse_int;
use crate::plan::{Attach, PerfEvent};
use crate::sema::errors::ProbeError;

impl Expander<'_> {
    pub(super) fn perf(&mut self, p: &Point) -> Result<(), ProbeError> {
        let attach = perf_probe(&p.parts).map_err(|events| ProbeError::InvalidPerf {
            provider: p.parts[0].to_string(),
            text: p.text.to_string(),
            span: p.span,
            events,
        })?;
        self.out.push(p.instance(attach, None));
        Ok(())
    }

    pub(super) fn interval(&mut self, p: &Point) -> Result<(), ProbeError> {
        let ns = interval_ns(&p.parts).ok_or_else(|| ProbeError::InvalidInterval { text: p.text.to_string(), span: p.span })?;
        self.out.push(p.instance(Attach::Interval { period_ns: ns }, None));
        Ok(())
    }
}

/// `profile:hz:N`, `profile:s|ms|us:N`, `software:EVENT[:COUNT]`, `hardware:EVENT[:COUNT]`;
/// an error holds the event names to list (none for `profile`).
fn perf_probe(parts: &[&str]) -> Result<Attach, Option<Vec<&'static str>>> {
    match parts[0] {
        "profile" | "p" => {
            let event = PerfEvent::CPU_CLOCK;
            if parts.len() == 2 {
                // A duration: the cpu-clock event counts nanoseconds.
                let period = duration(parts[1]).ok_or(None)?;
                return Ok(Attach::Perf { event, period, frequency: false });
            }
            if parts.len() != 3 {
                return Err(None);
            }
            let n = count(parts[2]).ok_or(None)?;
            let (period, frequency) = match parts[1] {
                "hz" => (n, true),
                "s" => (n * 1_000_000_000, false),
                "ms" => (n * 1_000_000, false),
                "us" => (n * 1_000, false),
                _ => return Err(None),
            };
            Ok(Attach::Perf { event, period, frequency })
        }
        kind => {
            let software = kind.starts_with('s');
            let table = if software { SOFTWARE_EVENTS } else { HARDWARE_EVENTS };
            let names = || Some(table.iter().flat_map(|(n, _, _)| n.iter().copied()).collect());
            if !(2..=3).contains(&parts.len()) {
                return Err(names());
            }
            let (_, config, default) = table.iter().find(|(n, _, _)| n.contains(&parts[1])).ok_or_else(names)?;
            let period = match parts.get(2) {
                Some(c) if !c.is_empty() => count(c).ok_or_else(names)?,
                _ => *default,
            };
            let type_ = if software { PerfEvent::SOFTWARE } else { PerfEvent::HARDWARE };
            let event = PerfEvent { type_, config: *config };
            Ok(Attach::Perf { event, period, frequency: false })
        }
    }
}

/// A count: a positive integer literal (`100`, `1e6`, `1_000`), with no duration suffix.
fn count(text: &str) -> Option<u64> {
    let hex = text.starts_with("0x") || text.starts_with("0X");
    let plain = hex || text.chars().all(|c| c.is_ascii_digit() || matches!(c, '_' | 'e' | 'E'));
    parse_int(text).filter(|&n| n > 0 && plain)
}

/// A positive duration in nanoseconds: `1s`, `100ms`, `10us`, or a bare number of nanoseconds.
fn duration(text: &str) -> Option<u64> {
    parse_int(text).filter(|&n| n > 0)
}

/// `interval:UNIT:N`'s or `interval:DURATION`'s period in nanoseconds.
fn interval_ns(parts: &[&str]) -> Option<u64> {
    if parts.len() == 2 {
        return duration(parts[1]);
    }
    if parts.len() != 3 {
        return None;
    }
    let n = count(parts[2])?;
    match parts[1] {
        "s" => n.checked_mul(1_000_000_000),
        "ms" => n.checked_mul(1_000_000),
        "us" => n.checked_mul(1_000),
        "hz" => Some(1_000_000_000 / n).filter(|&ns| ns > 0),
        _ => None,
    }
}
