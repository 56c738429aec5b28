//! USDT probes: the `.note.stapsdt` notes of an ELF file (each a probe's provider and name,
//! its location, its semaphore and its arguments' specs), read by hand from the 64-bit
//! little-endian ELF layout, and x86-64 argument specs (`-4@%edi`, `8@-8(%rbp)`, `-4@$5`,
//! `8@(%rdi,%rsi,8)`) turned into where each value is.

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
const NT_STAPSDT: u64 = 3;
const PT_LOAD: u64 = 1;

/// Little-endian reads that fail instead of panicking on a short or malformed file.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn get<const N: usize>(&self, at: u64) -> Option<[u8; N]> {
        let at = usize::try_from(at).ok()?;
        self.0.get(at..at.checked_add(N)?)?.try_into().ok()
    }
    fn u16(&self, at: u64) -> Option<u64> {
        self.get::<2>(at).map(|b| u16::from_le_bytes(b) as u64)
    }
    fn u32(&self, at: u64) -> Option<u64> {
        self.get::<4>(at).map(|b| u32::from_le_bytes(b) as u64)
    }
    fn u64(&self, at: u64) -> Option<u64> {
        self.get::<8>(at).map(u64::from_le_bytes)
    }
    fn slice(&self, at: u64, len: u64) -> Option<&[u8]> {
        self.0.get(usize::try_from(at).ok()?..usize::try_from(at.checked_add(len)?).ok()?)
    }
}

/// A section's address, file offset and size.
struct Section {
    addr: u64,
    offset: u64,
    size: u64,
}

/// The USDT probes `path` defines, in the order of its notes.
pub fn notes(path: &Path) -> Result<Vec<Note>, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    parse(&data).ok_or_else(|| "not a 64-bit little-endian ELF file, or a malformed one".to_string())
}

fn parse(data: &[u8]) -> Option<Vec<Note>> {
    let b = Bytes(data);
    if b.get::<6>(0)? != *b"\x7fELF\x02\x01" {
        return None;
    }
    let (phoff, shoff) = (b.u64(0x20)?, b.u64(0x28)?);
    let (phentsize, phnum) = (b.u16(0x36)?, b.u16(0x38)?);
    let (shentsize, shnum, shstrndx) = (b.u16(0x3a)?, b.u16(0x3c)?, b.u16(0x3e)?);
    // Offsets past the end are malformed; below it, the sums below cannot overflow.
    let len = data.len() as u64;
    let inside = |s: &Section| s.offset <= len && s.size <= len;
    if phoff > len || shoff > len {
        return None;
    }
    let section = |i: u64| {
        let h = shoff + i * shentsize;
        Some((b.u32(h)?, Section { addr: b.u64(h + 0x10)?, offset: b.u64(h + 0x18)?, size: b.u64(h + 0x20)? }))
    };
    let names = section(shstrndx)?.1;
    if !inside(&names) {
        return None;
    }
    let section_name = |name_off: u64| {
        let bytes = b.slice(names.offset + name_off, names.size.checked_sub(name_off)?)?;
        Some(bytes.split(|&c| c == 0).next()?.to_vec())
    };
    let (mut notes_section, mut base_section) = (None, None);
    for i in 0..shnum {
        let (name_off, s) = section(i)?;
        match section_name(name_off)?.as_slice() {
            b".note.stapsdt" => notes_section = Some(s),
            b".stapsdt.base" => base_section = Some(s),
            _ => {}
        }
    }
    let Some(notes_section) = notes_section else { return Some(vec![]) };
    if !inside(&notes_section) {
        return None;
    }
    // Loadable segments: (vaddr, memsz, file offset), to turn addresses into file offsets.
    let mut segments = Vec::new();
    for i in 0..phnum {
        let h = phoff + i * phentsize;
        if b.u32(h)? == PT_LOAD {
            segments.push((b.u64(h + 0x10)?, b.u64(h + 0x28)?, b.u64(h + 8)?));
        }
    }
    let file_offset = |addr: u64| {
        let seg = segments.iter().find(|(vaddr, memsz, _)| (*vaddr..vaddr.saturating_add(*memsz)).contains(&addr));
        seg.map(|(vaddr, _, off)| (addr - vaddr).wrapping_add(*off))
    };
    let mut out = Vec::new();
    let (mut at, end) = (notes_section.offset, notes_section.offset + notes_section.size);
    while at + 12 <= end {
        let (namesz, descsz, kind) = (b.u32(at)?, b.u32(at + 4)?, b.u32(at + 8)?);
        let name_at = at + 12;
        let desc_at = name_at + namesz.next_multiple_of(4);
        at = desc_at + descsz.next_multiple_of(4);
        if kind != NT_STAPSDT || b.slice(name_at, namesz)? != b"stapsdt\0" {
            continue;
        }
        let (pc, base, sema) = (b.u64(desc_at)?, b.u64(desc_at + 8)?, b.u64(desc_at + 16)?);
        let mut strings = b.slice(desc_at + 24, descsz.checked_sub(24)?)?.split(|&c| c == 0);
        let mut text = || strings.next().map(|s| String::from_utf8_lossy(s).into_owned());
        let (provider, name, args) = (text()?, text()?, text().unwrap_or_default());
        // A prelinked file moved its sections: `.stapsdt.base` is where the note's `base` is now.
        let shift = |addr: u64| match &base_section {
            Some(s) if addr != 0 => addr.wrapping_add(s.addr).wrapping_sub(base),
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
