//! Probes in user binaries: `uprobe`/`uretprobe` (the functions of an ELF file, from its
//! symbol tables, C++ ones also by demangled name; addresses; source lines, from its DWARF)
//! and `usdt` (the probes of its `.note.stapsdt` notes).

use super::{function_offset, malformed, parse_offset, unquote, Expander, Point};
use crate::diag::{did_you_mean, Span};
use crate::glob::glob;
use crate::kernel::{cpp, dwarf, elf, usdt};
use crate::plan::Attach;
use crate::sema::errors::{Form, ProbeError, UserProbeError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

impl Expander<'_> {
    /// uprobe:BINARY:FUNCTION, uprobe:BINARY:FUNCTION+OFFSET, uprobe:BINARY:ADDRESS,
    /// uprobe:BINARY:cpp:NAME, uprobe:BINARY@FILE:LINE[:COL] (and uretprobe, at functions).
    pub(super) fn uprobe(&mut self, p: &Point) -> Result<(), ProbeError> {
        let parts = &p.parts;
        let ret = p.provider.starts_with("ur");
        if parts.len() >= 2 && parts[1].contains('@') && !parts[1].starts_with('"') {
            return self.uprobe_line(p, ret);
        }
        let (lang, f) = match parts.len() {
            3 => (None, 2),
            4 => (Some(unquote(parts[2])), 3),
            _ => return Err(malformed(p, Form::UserFunction)),
        };
        if parts[1].is_empty() || parts[f].is_empty() {
            return Err(malformed(p, Form::UserFunction));
        }
        if let Some(lang) = lang.as_ref().filter(|l| *l != "cpp") {
            return Err(ProbeError::User { error: UserProbeError::Language { lang: lang.clone() }, span: p.field_span(2) });
        }
        let path = find_binary(&unquote(parts[1]), p.field_span(1))?;
        let field = unquote(parts[f]);
        if let (None, Some(address)) = (&lang, field.starts_with(|c: char| c.is_ascii_digit()).then(|| parse_offset(&field)).flatten()) {
            return self.uprobe_address(p, &path, address, ret, false, p.field_span(f));
        }
        let (func, extra) = function_offset(&field, ret, "uretprobe", p.text, p.field_span(f))?;
        let cpp = lang.is_some();
        let symbols = read_once(&mut self.elf_symbols, &path, elf::function_symbols, "symbols", p.field_span(1))?;
        let wanted = symbols.iter().filter(|f| glob(func, &f.name) || cpp && cpp::matches(func, &f.name));
        let mut matches: Vec<(String, u64)> = elf::by_name(wanted).into_iter().collect();
        if extra != 0 {
            check_inside(symbols, &matches, extra, p.field_span(f))?;
        }
        if matches.is_empty() {
            let nearest = did_you_mean(func, symbols.iter().map(|f| f.name.as_str())).map(str::to_string);
            let checked_anyway = self.opts.no_attach && !func.contains('*');
            let (name, path) = (func.to_string(), path.display().to_string());
            let e = ProbeError::NoUserFunction { func: name, path, span: p.field_span(f), nearest, checked_anyway };
            if !checked_anyway {
                return Err(e);
            }
            self.error(e);
            matches.push((func.to_string(), 0));
        }
        if extra != 0 {
            self.instruction_boundary(&field, p.field_span(f))?;
        }
        let path_text = path.display().to_string();
        for (name, off) in matches {
            let label = match (cpp, extra) {
                (true, _) => format!("cpp:{name}"),
                (false, 0) => name.clone(),
                (false, _) => format!("{name}+{extra}"),
            };
            let attach = Attach::Uprobe { path: path_text.clone(), func: name, label, offset: off + extra, ret };
            self.out.push(p.instance(attach, None));
        }
        Ok(())
    }

    /// uprobe:BINARY:ADDRESS: the function that holds the address (a virtual address as
    /// linked), at the address's offset in it. `from_line`: the address is a line table's,
    /// known to start an instruction.
    fn uprobe_address(
        &mut self,
        p: &Point,
        path: &Path,
        address: u64,
        ret: bool,
        from_line: bool,
        span: Span,
    ) -> Result<(), ProbeError> {
        let symbols = read_once(&mut self.elf_symbols, path, elf::function_symbols, "symbols", span)?;
        let user = |error| ProbeError::User { error, span };
        let Some(f) = symbols.iter().find(|f| f.addr <= address && address < f.addr + f.size.max(1)).cloned() else {
            return Err(user(UserProbeError::Address { path: path.display().to_string(), address }));
        };
        let offset = address - f.addr;
        if ret && offset != 0 {
            return Err(user(UserProbeError::RetprobeOffset { func: f.name.clone(), offset }));
        }
        if offset != 0 && !from_line {
            self.instruction_boundary(&format!("{}+{offset}", f.name), span)?;
        }
        let (path, func, label) = (path.display().to_string(), f.name.clone(), address.to_string());
        let attach = Attach::Uprobe { path, func, label, offset: f.file_offset + offset, ret };
        self.out.push(p.instance(attach, None));
        Ok(())
    }

    /// A uprobe inside a function (`FUNC+OFFSET`, an address past a function's start) must
    /// fall on an instruction boundary, or the traced process runs a corrupted instruction.
    /// rtrace does not disassemble the binary to check (its LLVM has only the BPF target), so,
    /// as bpftrace built without that check, it asks for `--unsafe`. Source-line probes take
    /// their addresses from the line table: those are instructions.
    fn instruction_boundary(&self, place: &str, span: Span) -> Result<(), ProbeError> {
        if self.opts.allow_unsafe {
            return Ok(());
        }
        Err(ProbeError::User { error: UserProbeError::UncheckedOffset { place: place.to_string() }, span })
    }

    /// uprobe:BINARY@FILE:LINE[:COL]: the address of the line's first statement, from the
    /// binary's DWARF line table.
    fn uprobe_line(&mut self, p: &Point, ret: bool) -> Result<(), ProbeError> {
        let parts = &p.parts;
        let user = |error| ProbeError::User { error, span: p.span };
        if ret {
            return Err(user(UserProbeError::LineOnRetprobe));
        }
        let (target, file) = parts[1].split_once('@').unwrap_or_default();
        let number = |s: &&str| s.parse::<u64>().ok();
        let (line, col) = (parts.get(2).and_then(number), parts.get(3).map_or(Some(0), number));
        let (Some(line), Some(col), false, 3..=4) = (line, col, target.is_empty() || file.is_empty(), parts.len()) else {
            return Err(malformed(p, Form::UserLine));
        };
        let target_span = Span::new(p.field_span(1).start, p.field_span(1).start + target.len());
        let path = find_binary(&unquote(target), target_span)?;
        let span = p.field_span(1);
        let debug = dwarf::Debug::load(&path)
            .map_err(|reason| ProbeError::UnreadableBinary { what: "debug info", path: path.display().to_string(), reason, span })?
            .ok_or_else(|| user(UserProbeError::NoLineInfo { path: path.display().to_string() }))?;
        let address = debug.line_address(&unquote(file), line, col).map_err(|reason| user(UserProbeError::Line { reason }))?;
        self.uprobe_address(p, &path, address, false, true, p.span)
    }

    /// usdt:BINARY:[PROVIDER:]NAME: one instance per location of each matching probe. With
    /// `-p PID`, `usdt:*:…` (or no binary, `usdt:NAME`) is every file the process maps
    /// executable.
    pub(super) fn usdt(&mut self, p: &Point) -> Result<(), ProbeError> {
        let parts = &p.parts;
        let whole_process = match self.opts.pid {
            Some(pid) if parts.len() == 2 || parts.get(1) == Some(&"*") => Some(pid),
            _ => None,
        };
        let Some(pid) = whole_process else {
            let (path, matches) = usdt_probes(p, &parts[1..], &mut self.usdt_notes)?;
            self.usdt_instances(p, &path, matches);
            return Ok(());
        };
        let rest = if parts.len() == 2 { &parts[1..] } else { &parts[2..] };
        let mut found = false;
        for path in mapped_files(pid) {
            let Ok(notes) = read_once(&mut self.usdt_notes, &path, usdt::notes, "USDT probes", p.field_span(1)) else { continue };
            let matches = matching_notes(notes, rest);
            found |= !matches.is_empty();
            self.usdt_instances(p, &path, matches);
        }
        match found {
            true => Ok(()),
            false => Err(ProbeError::NoProcessUsdtProbe { wanted: rest.join(":"), pid, span: p.span }),
        }
    }

    fn usdt_instances(&mut self, p: &Point, path: &Path, matches: Vec<usdt::Note>) {
        let path_text = path.display().to_string();
        for note in matches {
            let attach = Attach::Usdt {
                path: path_text.clone(),
                provider: note.provider.clone(),
                name: note.name.clone(),
                offset: note.offset,
                semaphore: note.semaphore,
            };
            let mut inst = p.instance(attach, None);
            inst.usdt_args = note.args.clone();
            self.out.push(inst);
        }
    }
}

/// `FUNCTION+OFFSET` must stay inside each matched function (where the symbol table gives
/// its size).
fn check_inside(symbols: &[elf::Function], matches: &[(String, u64)], offset: u64, span: Span) -> Result<(), ProbeError> {
    for (name, _) in matches {
        if let Some(f) = symbols.iter().find(|f| f.name == *name && f.size != 0 && offset >= f.size) {
            let error = UserProbeError::OutsideFunction { func: f.name.clone(), size: f.size };
            return Err(ProbeError::User { error, span });
        }
    }
    Ok(())
}

/// The file a uprobe or usdt probe names (a path, a library, a program on `$PATH`).
fn find_binary(target: &str, span: Span) -> Result<PathBuf, ProbeError> {
    elf::resolve(target).ok_or_else(|| ProbeError::BinaryNotFound { target: target.to_string(), span })
}

/// What `read` finds in the binary `path` (its `what`, for the error), read once per run.
fn read_once<'c, T>(
    cache: &'c mut HashMap<PathBuf, T>,
    path: &Path,
    read: impl FnOnce(&Path) -> Result<T, String>,
    what: &'static str,
    span: Span,
) -> Result<&'c T, ProbeError> {
    if !cache.contains_key(path) {
        let value = read(path)
            .map_err(|reason| ProbeError::UnreadableBinary { what, path: path.display().to_string(), reason, span })?;
        cache.insert(path.to_path_buf(), value);
    }
    Ok(&cache[path])
}

/// The binary of `usdt:BINARY:[PROVIDER:]NAME` (`fields`: from BINARY on) and its probes that
/// match.
fn usdt_probes(
    p: &Point,
    fields: &[&str],
    cache: &mut HashMap<PathBuf, Vec<usdt::Note>>,
) -> Result<(PathBuf, Vec<usdt::Note>), ProbeError> {
    if !(2..=3).contains(&fields.len()) || fields.iter().any(|p| p.is_empty()) {
        return Err(malformed(p, Form::Usdt));
    }
    let path = find_binary(&unquote(fields[0]), p.field_span(1))?;
    let notes = read_once(cache, &path, usdt::notes, "USDT probes", p.field_span(1))?;
    let matches = matching_notes(notes, &fields[1..]);
    if matches.is_empty() {
        let (provider, name) = if fields.len() == 3 { (fields[1], fields[2]) } else { ("*", fields[1]) };
        return Err(no_usdt_probe(&path, notes, provider, name, Span::new(p.field_span(2).start, p.span.end)));
    }
    Ok((path, matches))
}

/// The notes that `[PROVIDER:]NAME` matches.
fn matching_notes(notes: &[usdt::Note], fields: &[&str]) -> Vec<usdt::Note> {
    let (provider, name) = match fields {
        [provider, name] => (*provider, *name),
        [name] => ("*", *name),
        _ => return vec![],
    };
    notes.iter().filter(|n| glob(provider, &n.provider) && glob(name, &n.name)).cloned().collect()
}

/// The files process `pid` maps executable (its program and libraries), each once, in the
/// order of its memory map.
fn mapped_files(pid: u32) -> Vec<PathBuf> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    let mut out: Vec<PathBuf> = Vec::new();
    for line in maps.lines() {
        let fields: Vec<&str> = line.splitn(6, char::is_whitespace).collect();
        let (Some(perms), Some(path)) = (fields.get(1), fields.get(5).map(|p| p.trim())) else { continue };
        if perms.contains('x') && path.starts_with('/') && !out.iter().any(|p| p.as_os_str() == path) {
            out.push(PathBuf::from(path));
        }
    }
    out
}

/// The error for a usdt probe that matches none of the binary's probes.
fn no_usdt_probe(path: &Path, notes: &[usdt::Note], provider: &str, name: &str, span: Span) -> ProbeError {
    let path = path.display().to_string();
    if notes.is_empty() {
        return ProbeError::NoUsdtProbes { path, span };
    }
    let wanted = if provider == "*" { name.to_string() } else { format!("{provider}:{name}") };
    let known: Vec<String> = notes.iter().map(|n| format!("{}:{}", n.provider, n.name)).collect();
    let nearest = match provider {
        "*" => did_you_mean(name, notes.iter().map(|n| n.name.as_str())),
        _ => did_you_mean(&wanted, known.iter().map(String::as_str)),
    };
    let nearest = nearest.filter(|_| !wanted.contains('*')).map(str::to_string);
    ProbeError::NoUsdtProbe { wanted, path, span, nearest }
}
