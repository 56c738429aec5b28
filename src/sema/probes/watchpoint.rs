//! `watchpoint:ADDRESS:LENGTH:MODE` (`w:`): a hardware breakpoint, on an address of the
//! `-p`/`-c` process or, without one, on every CPU (a kernel address, or a user address in
//! any process), checked against what x86's debug registers can watch.

use super::{parse_offset, Expander, Point};
use crate::plan::{self, Attach};
use crate::sema::errors::{ProbeError, WatchpointError as E};

/// The watchpoint modes x86's debug registers have: writes, reads and writes, execution
/// (no reads alone, nothing combined with execution).
const MODES: [&str; 3] = ["w", "rw", "x"];

impl Expander<'_> {
    pub(super) fn watchpoint(&mut self, p: &Point) -> Result<(), ProbeError> {
        let attach = watchpoint(p).map_err(|(error, span)| ProbeError::Watchpoint { error, span })?;
        self.out.push(p.instance(attach, None));
        Ok(())
    }
}

/// A watchpoint's mode as bpftrace writes it (`rw`, `w`, `x`).
pub(super) fn mode_text(bp_type: u32) -> String {
    [(plan::HW_BREAKPOINT_R, 'r'), (plan::HW_BREAKPOINT_W, 'w'), (plan::HW_BREAKPOINT_X, 'x')]
        .iter()
        .filter(|(bit, _)| bp_type & bit != 0)
        .map(|(_, c)| *c)
        .collect()
}

/// The watchpoint `p` names. An error comes with the span it is about.
fn watchpoint(p: &Point) -> Result<Attach, (E, crate::diag::Span)> {
    let parts = &p.parts;
    if parts.len() != 4 {
        return Err((E::Malformed { text: p.text.to_string() }, p.span));
    }
    let (addr_span, len_span, mode_span) = (p.field_span(1), p.field_span(2), p.field_span(3));
    if parts[1].contains("+arg") {
        return Err((E::FunctionArg { provider: parts[0].to_string() }, addr_span));
    }
    let addr = parse_offset(parts[1]).ok_or_else(|| (E::Address { address: parts[1].to_string() }, addr_span))?;
    if addr == 0 {
        return Err((E::ZeroAddress, addr_span));
    }
    let len: u64 = match parts[2].parse() {
        Ok(n @ (1 | 2 | 4 | 8)) => n,
        _ => return Err((E::Length { length: parts[2].to_string() }, len_span)),
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
            return Err((E::ModeLetter { mode: mode.to_string(), repeats: bit != 0 }, mode_span));
        }
        bp_type |= bit;
    }
    if mode.is_empty() || !MODES.contains(&mode_text(bp_type).as_str()) {
        return Err((E::Mode { mode: mode.to_string() }, mode_span));
    }
    if bp_type == plan::HW_BREAKPOINT_X && len != 8 {
        return Err((E::ExecutionLength { length: len }, len_span));
    }
    if addr % len != 0 {
        return Err((E::Unaligned { address: parts[1].to_string(), length: len }, addr_span));
    }
    Ok(Attach::Watchpoint { addr, len, bp_type })
}
