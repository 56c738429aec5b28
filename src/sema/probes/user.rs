//! Probes in user binaries: `uprobe`/`uretprobe` (the functions of an ELF file, from its
//! symbol tables) and `usdt` (the probes of its `.note.stapsdt` notes).

use super::{function_offset, Expander, Point};
use crate::diag::{did_you_mean, Diagnostic, Severity, Span};
use crate::glob::glob;
use crate::kernel::{elf, usdt};
use crate::plan::Attach;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

impl Expander<'_> {
    /// uprobe:BINARY:FUNCTION, uprobe:BINARY:FUNCTION+OFFSET (and uretprobe).
    pub(super) fn uprobe(&mut self, p: &Point) {
        let parts = &p.parts;
        let ret = p.provider.starts_with("ur");
        if parts.len() != 3 || parts[1].is_empty() || parts[2].is_empty() {
            return self.diags.push(
                Diagnostic::error(format!("invalid {} `{}`", parts[0], p.text))
                    .at(p.span, format!("expected `{}:BINARY:FUNCTION`", parts[0])),
            );
        }
        let path = match find_binary(parts[1], p.field_span(1)) {
            Ok(p) => p,
            Err(d) => return self.diags.push(d),
        };
        let (func, extra) = match function_offset(parts[2], ret, "uretprobe", p.text, p.field_span(2)) {
            Ok(found) => found,
            Err(d) => return self.diags.push(d),
        };
        let known = match read_once(&mut self.elf_functions, &path, elf::functions, "symbols", p.field_span(1)) {
            Ok(k) => k,
            Err(d) => return self.diags.push(d),
        };
        let mut matches: Vec<(String, u64)> =
            known.iter().filter(|(name, _)| glob(func, name)).map(|(n, o)| (n.clone(), *o)).collect();
        if matches.is_empty() {
            let mut d = Diagnostic::error(format!("no function matches `{func}` in `{}`", path.display()))
                .at(p.field_span(2), "not a function of that binary");
            if let Some(s) = did_you_mean(func, known.keys().map(String::as_str)) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            if !self.opts.no_attach || func.contains('*') {
                return self.diags.push(d);
            }
            d.severity = Severity::Warning;
            self.diags.push(d.note("checked anyway, since nothing is attached"));
            matches.push((func.to_string(), 0));
        }
        let path_text = path.display().to_string();
        for (name, off) in matches {
            let attach = Attach::Uprobe { path: path_text.clone(), func: name, offset: off + extra, ret };
            self.out.push(p.instance(attach, None));
        }
    }

    /// usdt:BINARY:[PROVIDER:]NAME: one instance per location of each matching probe.
    pub(super) fn usdt(&mut self, p: &Point) {
        let (path, matches) = match usdt_probes(p, &mut self.usdt_notes) {
            Ok(found) => found,
            Err(d) => return self.diags.push(d),
        };
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

/// The file a uprobe or usdt probe names (a path, a library, a program on `$PATH`).
fn find_binary(target: &str, span: Span) -> Result<PathBuf, Diagnostic> {
    elf::resolve(target).ok_or_else(|| {
        Diagnostic::error(format!("cannot find the binary `{target}`"))
            .at(span, "no such file or library")
            .help("give a path (`/usr/bin/bash`) or a library name (`libc`)")
    })
}

/// What `read` finds in the binary `path` (its `what`, for the error), read once per run.
fn read_once<'c, T>(
    cache: &'c mut HashMap<PathBuf, T>,
    path: &Path,
    read: impl FnOnce(&Path) -> Result<T, String>,
    what: &str,
    span: Span,
) -> Result<&'c T, Diagnostic> {
    if !cache.contains_key(path) {
        let value = read(path).map_err(|e| {
            Diagnostic::error(format!("cannot read the {what} of `{}`: {e}", path.display())).at(span, "here")
        })?;
        cache.insert(path.to_path_buf(), value);
    }
    Ok(&cache[path])
}

/// The binary of `usdt:BINARY:[PROVIDER:]NAME` and its probes that match.
fn usdt_probes(p: &Point, cache: &mut HashMap<PathBuf, Vec<usdt::Note>>) -> Result<(PathBuf, Vec<usdt::Note>), Diagnostic> {
    let parts = &p.parts;
    if !(3..=4).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
        return Err(Diagnostic::error(format!("invalid {} `{}`", parts[0], p.text))
            .at(p.span, format!("expected `{0}:BINARY:NAME` or `{0}:BINARY:PROVIDER:NAME`", parts[0])));
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
fn no_usdt_probe(path: &Path, notes: &[usdt::Note], provider: &str, name: &str, span: Span) -> Diagnostic {
    let path = path.display();
    if notes.is_empty() {
        return Diagnostic::error(format!("`{path}` has no USDT probes"))
            .at(span, "no such probe")
            .note("the binary has no `.note.stapsdt` section");
    }
    let wanted = if provider == "*" { name.to_string() } else { format!("{provider}:{name}") };
    let d = Diagnostic::error(format!("no USDT probe matches `{wanted}` in `{path}`")).at(span, "no such probe");
    let known: Vec<String> = notes.iter().map(|n| format!("{}:{}", n.provider, n.name)).collect();
    let nearest = match provider {
        "*" => did_you_mean(name, notes.iter().map(|n| n.name.as_str())),
        _ => did_you_mean(&wanted, known.iter().map(String::as_str)),
    };
    match nearest {
        Some(s) if !wanted.contains('*') => d.help(format!("did you mean `{s}`?")),
        _ => d.help(format!("`rtrace -l 'usdt:{path}:*'` lists them")),
    }
}
