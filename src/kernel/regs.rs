//! x86-64's registers as `reg(NAME)` names them: byte offsets into `struct pt_regs`, the
//! context of kprobes, uprobes and USDT probes, and the first member of perf events' context
//! (`struct bpf_perf_event_data`), so the same offsets serve profile, interval, software,
//! hardware and watchpoint probes.

/// The names bpftrace 0.26 accepts on x86-64 (`struct pt_regs`'s members; `pc` is `ip`,
/// `orig_rax` the member `orig_ax`) and their offsets.
pub const PT_REGS: &[(&str, u64)] = &[
    ("r15", 0),
    ("r14", 8),
    ("r13", 16),
    ("r12", 24),
    ("bp", 32),
    ("bx", 40),
    ("r11", 48),
    ("r10", 56),
    ("r9", 64),
    ("r8", 72),
    ("ax", 80),
    ("cx", 88),
    ("dx", 96),
    ("si", 104),
    ("di", 112),
    ("orig_rax", 120),
    ("ip", 128),
    ("pc", 128),
    ("cs", 136),
    ("flags", 144),
    ("sp", 152),
    ("ss", 160),
];

/// The offset in `struct pt_regs` of register `name`.
pub fn pt_regs_offset(name: &str) -> Option<u64> {
    PT_REGS.iter().find(|(n, _)| *n == name).map(|(_, off)| *off)
}
