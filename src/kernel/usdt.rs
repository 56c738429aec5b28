//! USDT probes: the `.note.stapsdt` notes of an ELF file (each a probe's provider and name,
//! its location, its semaphore and its arguments' specs), read with the `object` crate from
//! 64-bit little-endian ELF files, and x86-64 argument specs (`-4@%edi`, `8@-8(%rbp)`,
//! `-4@$5`, `8@(%rdi,%rsi,8)`) turned into where each value is.

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::LittleEndian;
use std::path::Path;

/// One probe location in a binary.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub provider: String,
    pub name: String,
    /// The file offset of the probe's `nop`, where the uprobe goes.
    pub offset: u64,
    /// The file offset of the probe's semaphore (a u16 the tracer raises), or 0 for none.
    pub semaphore: u64,
    /// The argument specs, one per argument.
    pub args: Vec<String>,
}

/// `NT_STAPSDT`, the type of a SystemTap SDT note.
const NT_STAPSDT: elf::NoteType = elf::NoteType(3);

/// The USDT probes `path` defines, in the order of its notes.
pub fn notes(path: &Path) -> Result<Vec<Note>, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    parse(&data).ok_or_else(|| "not a 64-bit little-endian ELF file, or a malformed one".to_string())
}

/// The notes of an ELF file's `.note.stapsdt` section (the `object` crate reads the ELF
/// layout; each note's description is SystemTap's: three addresses, then the provider, the
/// name and the argument specs as NUL-terminated strings).
fn parse(data: &[u8]) -> Option<Vec<Note>> {
    let header = elf::FileHeader64::<LittleEndian>::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let sections = header.sections(endian, data).ok()?;
    let Some((_, notes_section)) = sections.section_by_name(endian, b".note.stapsdt") else { return Some(vec![]) };
    // A prelinked file moved its sections: `.stapsdt.base` is where each note's `base` is now.
    let base_section = sections.section_by_name(endian, b".stapsdt.base").map(|(_, s)| s.sh_addr(endian));
    // Loadable segments: (vaddr, memsz, file offset), to turn addresses into file offsets.
    let segments: Vec<(u64, u64, u64)> = header
        .program_headers(endian, data)
        .ok()?
        .iter()
        .filter(|h| h.p_type(endian) == elf::PT_LOAD)
        .map(|h| (h.p_vaddr(endian), h.p_memsz(endian), h.p_offset(endian)))
        .collect();
    let file_offset = |addr: u64| {
        let seg = segments.iter().find(|(vaddr, memsz, _)| (*vaddr..vaddr.saturating_add(*memsz)).contains(&addr));
        seg.map(|(vaddr, _, off)| (addr - vaddr).wrapping_add(*off))
    };
    let mut out = Vec::new();
    let mut notes = notes_section.notes(endian, data).ok()??;
    while let Some(note) = notes.next().ok()? {
        if note.n_type(endian) != NT_STAPSDT || note.name() != b"stapsdt" {
            continue;
        }
        let desc = note.desc();
        let u64_at = |at: usize| Some(u64::from_le_bytes(desc.get(at..at + 8)?.try_into().ok()?));
        let (pc, base, sema) = (u64_at(0)?, u64_at(8)?, u64_at(16)?);
        let mut strings = desc.get(24..)?.split(|&c| c == 0);
        let mut text = || strings.next().map(|s| String::from_utf8_lossy(s).into_owned());
        let (provider, name, args) = (text()?, text()?, text().unwrap_or_default());
        let shift = |addr: u64| match base_section {
            Some(section_addr) if addr != 0 => addr.wrapping_add(section_addr).wrapping_sub(base),
            _ => addr,
        };
        let Some(offset) = file_offset(shift(pc)) else { continue };
        let semaphore = if sema == 0 { 0 } else { file_offset(shift(sema)).unwrap_or(0) };
        out.push(Note { provider, name, offset, semaphore, args: args.split_whitespace().map(str::to_string).collect() });
    }
    Some(out)
}

/// Where a USDT argument is, and how wide it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    /// Bytes: 1, 2, 4 or 8.
    pub size: u32,
    pub signed: bool,
    pub loc: Loc,
}

/// Registers are byte offsets into x86-64's `struct pt_regs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    Const(i64),
    Reg(u32),
    /// User memory at `base + index * scale + disp`.
    Mem { base: u32, index: Option<(u32, u8)>, disp: i64 },
}

/// x86-64 register names (64, 32, 16 and 8-bit) and their offsets in `struct pt_regs`.
const REGISTERS: &[(&[&str], u32)] = &[
    (&["rax", "eax", "ax", "al"], 80),
    (&["rbx", "ebx", "bx", "bl"], 40),
    (&["rcx", "ecx", "cx", "cl"], 88),
    (&["rdx", "edx", "dx", "dl"], 96),
    (&["rsi", "esi", "si", "sil"], 104),
    (&["rdi", "edi", "di", "dil"], 112),
    (&["rbp", "ebp", "bp", "bpl"], 32),
    (&["rsp", "esp", "sp", "spl"], 152),
    (&["r8", "r8d", "r8w", "r8b"], 72),
    (&["r9", "r9d", "r9w", "r9b"], 64),
    (&["r10", "r10d", "r10w", "r10b"], 56),
    (&["r11", "r11d", "r11w", "r11b"], 48),
    (&["r12", "r12d", "r12w", "r12b"], 24),
    (&["r13", "r13d", "r13w", "r13b"], 16),
    (&["r14", "r14d", "r14w", "r14b"], 8),
    (&["r15", "r15d", "r15w", "r15b"], 0),
];

fn register(name: &str) -> Option<u32> {
    let name = name.strip_prefix('%')?;
    REGISTERS.iter().find(|(names, _)| names.contains(&name)).map(|(_, off)| *off)
}

fn number(text: &str) -> Option<i64> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let v = match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok()? as i64,
        None => digits.parse::<u64>().ok()? as i64,
    };
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Parses one argument spec: `[-]SIZE@OPERAND`, where the operand is `%reg`, `$constant`,
/// `disp(%base)` or `disp(%base,%index,scale)`. Operands rtrace cannot read (an address
/// relative to `%rip`, which names a symbol) are errors.
pub fn parse_arg(spec: &str) -> Option<Arg> {
    let (size, operand) = spec.split_once('@')?;
    let size = number(size)?;
    let (signed, size) = (size < 0, size.unsigned_abs() as u32);
    if ![1, 2, 4, 8].contains(&size) {
        return None;
    }
    let loc = if let Some(c) = operand.strip_prefix('$') {
        Loc::Const(number(c)?)
    } else if operand.starts_with('%') {
        Loc::Reg(register(operand)?)
    } else {
        let (disp, inner) = operand.strip_suffix(')')?.split_once('(')?;
        let disp = if disp.is_empty() { 0 } else { number(disp)? };
        let mut regs = inner.split(',');
        let base = register(regs.next()?)?;
        let index = match (regs.next(), regs.next()) {
            (None, _) => None,
            (Some(i), scale) => {
                let scale = scale.map_or(Some(1), number)?;
                Some((register(i)?, u8::try_from(scale).ok().filter(|s| [1, 2, 4, 8].contains(s))?))
            }
        };
        if regs.next().is_some() {
            return None;
        }
        Loc::Mem { base, index, disp }
    };
    Some(Arg { size, signed, loc })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_specs() {
        let arg = |size, signed, loc| Some(Arg { size, signed, loc });
        assert_eq!(parse_arg("-4@%edi"), arg(4, true, Loc::Reg(112)));
        assert_eq!(parse_arg("8@%rax"), arg(8, false, Loc::Reg(80)));
        assert_eq!(parse_arg("1@%r10b"), arg(1, false, Loc::Reg(56)));
        assert_eq!(parse_arg("-4@$42"), arg(4, true, Loc::Const(42)));
        assert_eq!(parse_arg("-2@$-7"), arg(2, true, Loc::Const(-7)));
        assert_eq!(parse_arg("8@-8(%rbp)"), arg(8, false, Loc::Mem { base: 32, index: None, disp: -8 }));
        assert_eq!(parse_arg("-8@8(%rdi)"), arg(8, true, Loc::Mem { base: 112, index: None, disp: 8 }));
        assert_eq!(parse_arg("-8@(%rdi,%rsi,8)"), arg(8, true, Loc::Mem { base: 112, index: Some((104, 8)), disp: 0 }));
        assert_eq!(parse_arg("4@0x10(%rsp,%rcx)"), arg(4, false, Loc::Mem { base: 152, index: Some((88, 1)), disp: 16 }));
        // A symbol's address relative to %rip, an unknown register, a bad size: not readable.
        assert_eq!(parse_arg("-8@8+values(%rip)"), None);
        assert_eq!(parse_arg("8@values(%rip)"), None);
        assert_eq!(parse_arg("4@%ah"), None);
        assert_eq!(parse_arg("3@%eax"), None);
        assert_eq!(parse_arg("%eax"), None);
        assert_eq!(parse_arg("8@(%rdi,%rsi,3)"), None);
    }

    #[test]
    fn malformed_elf_is_none_not_a_panic() {
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"\x7fELF\x02\x01"), None);
        let mut header = b"\x7fELF\x02\x01".to_vec();
        header.resize(64, 0xff);
        assert_eq!(parse(&header), None);
    }
}
