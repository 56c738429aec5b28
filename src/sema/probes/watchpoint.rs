//! `watchpoint:ADDRESS:LENGTH:MODE` (`w:`): a hardware breakpoint in the `-p`/`-c` process,
//! checked against what x86's debug registers can watch.

use super::{parse_offset, Expander, Point};
use crate::diag::Diagnostic;
use crate::plan::{self, Attach};

/// The watchpoint modes x86's debug registers have: writes, reads and writes, execution
/// (no reads alone, nothing combined with execution).
const MODES: [&str; 3] = ["w", "rw", "x"];

impl Expander<'_> {
    pub(super) fn watchpoint(&mut self, p: &Point) {
        match watchpoint(p, self.opts.pid.is_some() || self.opts.has_command) {
            Ok(attach) => self.out.push(p.instance(attach, None)),
            Err(d) => self.diags.push(d),
        }
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

/// The watchpoint `p` names; `has_process`: whether `-p` or `-c` gives the process to watch.
fn watchpoint(p: &Point, has_process: bool) -> Result<Attach, Diagnostic> {
    let (parts, text, span) = (&p.parts, p.text, p.span);
    if parts.len() != 4 {
        return Err(Diagnostic::error(format!("invalid watchpoint `{text}`"))
            .at(span, "expected `watchpoint:ADDRESS:LENGTH:MODE`")
            .help("e.g. `watchpoint:0x10000000:8:w`, with `-p PID` or `-c CMD`"));
    }
    if parts[1].contains("+arg") {
        return Err(Diagnostic::error(format!("`{}:FUNCTION+argN` watchpoints are not supported by rtrace yet", parts[0]))
            .at(p.field_span(1), "not supported yet")
            .help("watch a fixed address: `watchpoint:0xADDRESS:LENGTH:MODE`"));
    }
    let addr = parse_offset(parts[1]).ok_or_else(|| {
        Diagnostic::error(format!("invalid watchpoint address `{}`", parts[1]))
            .at(p.field_span(1), "expected a number, e.g. 0x10000000")
    })?;
    let len: u64 = match parts[2].parse() {
        Ok(n @ (1 | 2 | 4 | 8)) => n,
        _ => {
            return Err(Diagnostic::error(format!("invalid watchpoint length `{}`", parts[2]))
                .at(p.field_span(2), "expected 1, 2, 4 or 8"))
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
                .at(p.field_span(3), label)
                .help("the modes are `w` (writes), `rw` (reads and writes) and `x` (execution)"));
        }
        bp_type |= bit;
    }
    if mode.is_empty() || !MODES.contains(&mode_text(bp_type).as_str()) {
        let d = Diagnostic::error(format!("invalid watchpoint mode `{mode}`"))
            .at(p.field_span(3), if mode.is_empty() { "expected a mode" } else { "not a mode of x86's hardware breakpoints" })
            .help("the modes are `w` (writes), `rw` (reads and writes) and `x` (execution)");
        return Err(if mode == "r" { d.note("x86 cannot watch reads alone: `rw` fires on reads and writes") } else { d });
    }
    if bp_type == plan::HW_BREAKPOINT_X && len != 8 {
        return Err(Diagnostic::error(format!("an execution watchpoint watches 8 bytes, not {len}"))
            .at(p.field_span(2), "expected 8")
            .note("x86's execution breakpoints have the length of a pointer"));
    }
    if addr % len != 0 {
        return Err(Diagnostic::error(format!("watchpoint address {} is not a multiple of its length, {len}", parts[1]))
            .at(p.field_span(1), "not aligned")
            .note("hardware breakpoints watch aligned addresses"));
    }
    if !has_process {
        return Err(Diagnostic::error("a watchpoint needs the process whose address it watches: `-p PID` or `-c CMD`")
            .at(span, "an address in which process?")
            .note("rtrace does not watch kernel addresses (bpftrace does, without -p or -c)"));
    }
    Ok(Attach::Watchpoint { addr, len, bp_type })
}
