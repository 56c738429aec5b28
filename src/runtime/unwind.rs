//! `dw_ustack`'s unwind tables: for each target process, the executable file mappings of
//! `/proc/PID/maps`, each file's `.eh_frame` parsed (gimli) into rows — from a pc on, the
//! CFA is rsp or rbp plus an offset, the return address is at CFA-8 and rbp is unchanged or
//! saved at CFA+N — placed at the process's addresses and sorted. A rule these rows cannot
//! say (an expression, as PLT entries have) and the gap after a function end the walk. The
//! BPF side is `codegen/dwunwind.rs`; the layout is `plan::DW_ROWS_MAP`'s.

use crate::plan;
use gimli::{CfaRule, RegisterRule, UnwindSection, X86_64};
use object::{Object, ObjectSection, ObjectSegment};
use std::collections::HashMap;

/// The most rows the tables may have (a 32 MiB array; `codegen/dwunwind.rs` searches it in
/// 22 steps).
pub const MAX_ROWS: usize = 1 << 21;

/// One row: from `pc` on (to the next row), how to find the caller's frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub pc: u64,
    pub cfa_offset: i32,
    /// `plan::DW_CFA_NONE`, `DW_CFA_RSP` or `DW_CFA_RBP`.
    pub cfa_register: u8,
    /// Whether rbp is saved at CFA + `rbp_offset` (else it is unchanged).
    pub rbp_saved: bool,
    pub rbp_offset: i16,
}

impl Row {
    /// The row as the BPF side reads it (`plan::DW_ROW_SIZE` bytes).
    pub fn bytes(&self) -> [u8; plan::DW_ROW_SIZE as usize] {
        let mut b = [0u8; plan::DW_ROW_SIZE as usize];
        b[..8].copy_from_slice(&self.pc.to_le_bytes());
        b[8..12].copy_from_slice(&self.cfa_offset.to_le_bytes());
        b[12] = self.cfa_register;
        b[13] = self.rbp_saved as u8;
        b[14..].copy_from_slice(&self.rbp_offset.to_le_bytes());
        b
    }

    fn none(pc: u64) -> Row {
        Row { pc, cfa_offset: 0, cfa_register: plan::DW_CFA_NONE, rbp_saved: false, rbp_offset: 0 }
    }
}

/// The tables of every target: all rows, and per process its first row and count.
#[derive(Debug, Default)]
pub struct Tables {
    pub rows: Vec<Row>,
    pub pids: Vec<(u32, u32, u32)>,
    /// The targets without unwind information (gone, or no mapping has an `.eh_frame`).
    pub without: Vec<u32>,
}

/// The tables of processes `pids`; an error when they would exceed `MAX_ROWS`.
pub fn tables(pids: &[u32]) -> Result<Tables, String> {
    let mut files: HashMap<String, Option<FileRows>> = HashMap::new();
    let mut t = Tables::default();
    for &pid in pids {
        if t.pids.iter().any(|p| p.0 == pid) || t.without.contains(&pid) {
            continue;
        }
        if t.pids.len() == plan::DW_MAX_PIDS as usize {
            return Err(format!("dw_ustack: at most {} target processes can be unwound", plan::DW_MAX_PIDS));
        }
        let rows = process_rows(pid, &mut files);
        if rows.is_empty() {
            t.without.push(pid);
            continue;
        }
        if t.rows.len() + rows.len() > MAX_ROWS {
            return Err(format!(
                "dw_ustack: the unwind tables of the target processes need more than {MAX_ROWS} rows; name fewer processes"
            ));
        }
        t.pids.push((pid, t.rows.len() as u32, rows.len() as u32));
        t.rows.extend(rows);
    }
    Ok(t)
}

/// A file's rows at its own (link-time) addresses, and its loadable segments
/// `(file offset, size, address)`.
struct FileRows {
    rows: Vec<Row>,
    segments: Vec<(u64, u64, u64)>,
}

/// Process `pid`'s rows at its addresses, sorted by pc (empty when it cannot be read).
fn process_rows(pid: u32, files: &mut HashMap<String, Option<FileRows>>) -> Vec<Row> {
    let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else { return Vec::new() };
    let mut rows = Vec::new();
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [range, perms, offset, _, _, path, ..] = fields[..] else { continue };
        if !perms.contains('x') || !path.starts_with('/') {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else { continue };
        let parse = |s: &str| u64::from_str_radix(s, 16).ok();
        let (Some(start), Some(end), Some(offset)) = (parse(start), parse(end), parse(offset)) else { continue };
        // The process's own view of the file (it may be in another mount namespace).
        let file = files.entry(path.to_string()).or_insert_with(|| file_rows(&format!("/proc/{pid}/root{path}")).or_else(|| file_rows(path)));
        let Some(file) = file else { continue };
        let Some(&(seg_offset, _, seg_addr)) = file.segments.iter().find(|(o, size, _)| (*o..o + size).contains(&offset)) else { continue };
        let first = seg_addr + (offset - seg_offset);
        let bias = start.wrapping_sub(first);
        let last = first + (end - start);
        rows.extend(file.rows.iter().filter(|r| (first..last).contains(&r.pc)).map(|r| Row { pc: r.pc.wrapping_add(bias), ..*r }));
        rows.push(Row::none(end));
    }
    sorted(rows)
}

/// Rows sorted by pc, one per pc: a function's row over the end of the one before.
fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by_key(|r| (r.pc, r.cfa_register != plan::DW_CFA_NONE));
    let mut out: Vec<Row> = Vec::with_capacity(rows.len());
    for r in rows {
        match out.last_mut() {
            Some(last) if last.pc == r.pc => *last = r,
            _ => out.push(r),
        }
    }
    out
}

/// The rows of the ELF file at `path` from its `.eh_frame`; `None` when it has none.
fn file_rows(path: &str) -> Option<FileRows> {
    let data = std::fs::read(path).ok()?;
    let elf = object::File::parse(&*data).ok()?;
    let section = elf.section_by_name(".eh_frame")?;
    let bytes = section.data().ok()?;
    let eh_frame = gimli::EhFrame::new(bytes, gimli::LittleEndian);
    let mut bases = gimli::BaseAddresses::default().set_eh_frame(section.address());
    if let Some(text) = elf.section_by_name(".text") {
        bases = bases.set_text(text.address());
    }
    if let Some(hdr) = elf.section_by_name(".eh_frame_hdr") {
        bases = bases.set_eh_frame_hdr(hdr.address());
    }
    let mut rows = Vec::new();
    let mut ctx = gimli::UnwindContext::new();
    let mut entries = eh_frame.entries(&bases);
    while let Ok(Some(entry)) = entries.next() {
        let gimli::CieOrFde::Fde(partial) = entry else { continue };
        let Ok(fde) = partial.parse(|s, b, o| s.cie_from_offset(b, o)) else { continue };
        let Ok(mut table) = fde.rows(&eh_frame, &bases, &mut ctx) else { continue };
        while let Ok(Some(row)) = table.next_row() {
            rows.push(row_of(row));
        }
        rows.push(Row::none(fde.end_address()));
    }
    let segments = elf.segments().map(|s| (s.file_range().0, s.file_range().1, s.address())).collect();
    Some(FileRows { rows: sorted(rows), segments })
}

/// A row of gimli's table as the BPF side can follow it, or one that ends the walk.
fn row_of<R: gimli::ReaderOffset>(row: &gimli::UnwindTableRow<R>) -> Row {
    let pc = row.start_address();
    let CfaRule::RegisterAndOffset { register, offset } = row.cfa() else { return Row::none(pc) };
    let cfa_register = match *register {
        X86_64::RSP => plan::DW_CFA_RSP,
        X86_64::RBP => plan::DW_CFA_RBP,
        _ => return Row::none(pc),
    };
    let Ok(cfa_offset) = i32::try_from(*offset) else { return Row::none(pc) };
    if row.register(X86_64::RA) != RegisterRule::Offset(-8) {
        return Row::none(pc);
    }
    let (rbp_saved, rbp_offset) = match row.register(X86_64::RBP) {
        RegisterRule::Undefined | RegisterRule::SameValue => (false, 0),
        RegisterRule::Offset(n) => match i16::try_from(n) {
            Ok(n) => (true, n),
            Err(_) => return Row::none(pc),
        },
        _ => return Row::none(pc),
    };
    Row { pc, cfa_offset, cfa_register, rbp_saved, rbp_offset }
}
