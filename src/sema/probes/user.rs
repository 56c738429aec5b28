//! Probes in user binaries: `uprobe`/`uretprobe` (the functions of an ELF file, from its
//! symbol tables) and `usdt` (the probes of its `.note.stapsdt` notes).

use super::{function_offset, malformed, Expander, Point};
use crate::diag::{did_you_mean, Span};
use crate::glob::glob;
use crate::kernel::{elf, usdt};
use crate::plan::Attach;
use crate::sema::errors::{Form, ProbeError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

impl Expander<'_> {
    /// uprobe:BINARY:FUNCTION, uprobe:BINARY:FUNCTION+OFFSET (and uretprobe).
    pub(super) fn uprobe(&mut self, p: &Point) -> Result<(), ProbeError> {
        let parts = &p.parts;
        let ret = p.provider.starts_with("ur");
        if parts.len() != 3 || parts[1].is_empty() || parts[2].is_empty() {
            return Err(malformed(p, Form::UserFunction));
        }
        let path = find_binary(parts[1], p.field_span(1))?;
        let (func, extra) = function_offset(parts[2], ret, "uretprobe", p.text, p.field_span(2))?;
        let known = read_once(&mut self.elf_functions, &path, elf::functions, "symbols", p.field_span(1))?;
        let mut matches: Vec<(String, u64)> =
            known.iter().filter(|(name, _)| glob(func, name)).map(|(n, o)| (n.clone(), *o)).collect();
        if matches.is_empty() {
            let nearest = did_you_mean(func, known.keys().map(String::as_str)).map(str::to_string);
            let checked_anyway = self.opts.no_attach && !func.contains('*');
            let (name, path) = (func.to_string(), path.display().to_string());
            let e = ProbeError::NoUserFunction { func: name, path, span: p.field_span(2), nearest, checked_anyway };
            if !checked_anyway {
                return Err(e);
            }
            self.error(e);
            matches.push((func.to_string(), 0));
        }
        let path_text = path.display().to_string();
        for (name, off) in matches {
            let attach = Attach::Uprobe { path: path_text.clone(), func: name, offset: off + extra, ret };
            self.out.push(p.instance(attach, None));
        }
        Ok(())
    }

    /// usdt:BINARY:[PROVIDER:]NAME: one instance per location of each matching probe.
    pub(super) fn usdt(&mut self, p: &Point) -> Result<(), ProbeError> {
        let (path, matches) = usdt_probes(p, &mut self.usdt_notes)?;
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
        Ok(())
    }
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

/// The binary of `usdt:BINARY:[PROVIDER:]NAME` and its probes that match.
fn usdt_probes(p: &Point, cache: &mut HashMap<PathBuf, Vec<usdt::Note>>) -> Result<(PathBuf, Vec<usdt::Note>), ProbeError> {
    let parts = &p.parts;
    if !(3..=4).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
        return Err(malformed(p, Form::Usdt));
    }
    let path = find_binary(parts[1], p.field_span(1))?;
    let notes = read_once(cache, &path, usdt::notes, "USDT probes", p.field_span(1))?;
    let (provider, name) = if parts.len() == 4 { (parts[2], parts[3]) } else { ("*", parts[2]) };
    let matches: Vec<usdt::Note> =
        notes.iter().filter(|n| glob(provider, &n.provider) && glob(name, &n.name)).cloned().collect();
    if matches.is_empty() {
        return Err(no_usdt_probe(&path, notes, provider, name, Span::new(p.field_span(2).start, p.span.end)));
    }
    Ok((path, matches))
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
