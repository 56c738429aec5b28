//! `import "PATH";` of other script files (bpftrace 0.26, docs/language.md "Imports").
//!
//! [`load`] parses the main script and every file it imports, and merges them into one
//! program: an imported file's probes, macros, map declarations and C definitions join the
//! program before those of the file that imports it (where its `import` stands), and macros are
//! expanded only then, so a probe may call an imported macro. The rules are bpftrace's: a
//! path is relative to the directory of the script that imports it (a `-e` program's: the
//! current directory); each file is imported once (later imports of it are ignored); a
//! directory imports its `.bt` files (not its subdirectories), in name order; an imported
//! script may import others but has no config block; nothing is imported from a directory
//! every user may write to. A C header (`.h`) adds its type definitions to the program's C
//! definitions, as if written in the script (read with the script's preprocessor); a BPF C
//! file (`.bpf.c`) is noted in [`Program::c_sources`], for `cimport` to compile and link in.
//! A directory imports its `.h` and `.bpf.c` files too.
//!
//! All files share one text, [`Script::text`]: each file's text follows the previous ones',
//! so spans are offsets into it, and a diagnostic is rendered in the file it points into,
//! under that file's name ([`Script::renderer`]).

use super::ast::{CDefinition, CSource, Import, Program};
use crate::diag::{Diagnostic, Renderer, Span};
use crate::limits::Limits;
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A script and the files it imports: one text, and each file's name and offset in it.
#[derive(Debug, Clone, Default)]
pub struct Script {
    pub text: String,
    /// `(name, offset)` of each file, in the order read; the main script is first, at 0.
    pub files: Vec<(String, usize)>,
}

impl Script {
    /// A script of one file.
    pub fn single(name: &str, text: &str) -> Script {
        Script { text: text.to_string(), files: vec![(name.to_string(), 0)] }
    }

    /// A renderer of diagnostics that point into any of the files.
    pub fn renderer(&self, color: bool) -> Renderer<'_> {
        let files: Vec<(&str, usize)> = self.files.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        Renderer::with_files(&files, &self.text, color)
    }
}

/// Parses the script `name` (its text `source`) with every file it imports, into one program
/// whose macro calls are expanded. The `Script` holds every file read, for rendering the
/// diagnostics, which are all the errors found.
pub fn load(name: &str, source: &str, limits: &Limits) -> (Script, Result<Program, Vec<Diagnostic>>) {
    let dir = match name {
        "-e" | "stdin" | "-" => PathBuf::new(),
        path => Path::new(path).parent().map_or_else(PathBuf::new, Path::to_path_buf),
    };
    let mut loader = Loader { script: Script::single(name, source), seen: HashSet::new(), next_id: 0, diags: Vec::new(), limits };
    if !matches!(name, "-e" | "stdin" | "-") {
        if let Ok(path) = std::fs::canonicalize(name) {
            loader.seen.insert(path);
        }
    }
    let program = loader.file(0, &dir, true);
    let mut diags = loader.diags;
    let result = match program {
        Some(mut p) if diags.is_empty() => super::expand_macros(&mut p).map(|()| p),
        _ => {
            if diags.is_empty() {
                diags.push(Diagnostic::error("the script could not be parsed"));
            }
            Err(diags)
        }
    };
    (loader.script, result)
}

struct Loader<'l> {
    script: Script,
    /// The files read so far, canonical.
    seen: HashSet<PathBuf>,
    /// The next expression id.
    next_id: u32,
    diags: Vec<Diagnostic>,
    limits: &'l Limits,
}

impl Loader<'_> {
    /// The file whose text starts at `base` in the script's text (its last file), with what it
    /// imports from `dir`; `None` if it does not parse.
    fn file(&mut self, base: usize, dir: &Path, main: bool) -> Option<Program> {
        // Blanks before the text put every span at its offset in the script's text.
        let mut text = self.script.text[base..].to_string();
        if text.starts_with("#!") {
            let end = text.find('\n').unwrap_or(text.len());
            text.replace_range(..end, &" ".repeat(end));
        }
        let padded = format!("{}{text}", " ".repeat(base));
        let own = match super::parse_file(&padded, self.next_id, self.limits) {
            Ok(p) => p,
            Err(diags) => {
                self.diags.extend(diags);
                return None;
            }
        };
        self.next_id = own.expr_count;
        if !main {
            for block in &own.config {
                self.diags.push(
                    Diagnostic::error("an imported script cannot have a config block")
                        .at(block.span, "in an imported script")
                        .help("only the main script may have `config = { … }`"),
                );
            }
        }
        let mut program = empty(&own);
        for import in &own.imports {
            if import.misplaced {
                self.diags.push(
                    Diagnostic::error("`import` must come before any probe, macro or map declaration")
                        .at(import.span, "too late here")
                        .help("move the `import` up, after C definitions and before the probes"),
                );
                continue;
            }
            for path in self.resolve(import, dir) {
                if let Some(imported) = self.import(&path, import.span) {
                    merge(&mut program, imported);
                }
            }
        }
        merge(&mut program, own);
        program.expr_count = self.next_id;
        Some(program)
    }

    /// The files `import` names, relative to `dir`: the file, or a directory's `.bt`, `.h`
    /// and `.bpf.c` files in name order; none (and an error) if it cannot be imported.
    fn resolve(&mut self, import: &Import, dir: &Path) -> Vec<PathBuf> {
        let path = dir.join(&import.path);
        let span = import.span;
        let shown = path.display().to_string();
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                self.error(span, format!("cannot import `{shown}`: {}", io_message(&e)), "imported here");
                return Vec::new();
            }
        };
        let holder = if meta.is_dir() { path.clone() } else { path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf) };
        let holder = if holder.as_os_str().is_empty() { PathBuf::from(".") } else { holder };
        if std::fs::metadata(&holder).is_ok_and(|m| m.permissions().mode() & 0o002 != 0) {
            self.diags.push(
                Diagnostic::error(format!("refusing to import `{shown}`: `{}` is writable by every user", holder.display()))
                    .at(span, "imported here")
                    .note("bpftrace's rule: nothing is imported from a world-writable directory, where anyone could plant a script"),
            );
            return Vec::new();
        }
        if !meta.is_dir() {
            if !import.path.ends_with(".bt") && !is_c_file(&import.path) {
                self.diags.push(
                    Diagnostic::error(format!("cannot import `{shown}`: not a `.bt` script, a `.h` header or a `.bpf.c` file"))
                        .at(span, "imported here")
                        .help("rtrace imports bpftrace scripts (`.bt`), C headers (`.h`), BPF C files (`.bpf.c`) and directories of them"),
                );
                return Vec::new();
            }
            return vec![path];
        }
        let entries = match std::fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) => {
                self.error(span, format!("cannot import `{shown}`: {}", io_message(&e)), "imported here");
                return Vec::new();
            }
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        let mut scripts = Vec::new();
        for file in files {
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name.ends_with(".bt") || is_c_file(&name) {
                scripts.push(file);
            }
        }
        scripts
    }

    /// The script at `path`, parsed with its own imports; `None` if it was imported before
    /// or has errors.
    fn import(&mut self, path: &Path, span: Span) -> Option<Program> {
        let shown = path.display().to_string();
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if !self.seen.insert(canonical) {
            return None;
        }
        if shown.ends_with(".bpf.c") {
            let mut program = bare();
            program.c_sources.push(CSource { path: shown, span });
            return Some(program);
        }
        let max = self.limits.max_script_bytes;
        let bytes = match std::fs::read(path) {
            Ok(b) if b.len() > max => {
                self.error(span, format!("cannot import `{shown}`: larger than {max} bytes, the most rtrace reads of a script"), "imported here");
                return None;
            }
            Ok(b) => b,
            Err(e) => {
                self.error(span, format!("cannot import `{shown}`: {}", io_message(&e)), "imported here");
                return None;
            }
        };
        let Ok(text) = String::from_utf8(bytes) else {
            self.error(span, format!("cannot import `{shown}`: it is not valid UTF-8"), "imported here");
            return None;
        };
        self.script.text.push('\n');
        let base = self.script.text.len();
        self.script.text.push_str(&text);
        let header = shown.ends_with(".h");
        self.script.files.push((shown, base));
        if header {
            return self.header(base);
        }
        let dir = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
        self.file(base, &dir, false)
    }

    /// The C header whose text starts at `base` in the script's text (its last file): a
    /// program of its type definitions, preprocessed as a script's are.
    fn header(&mut self, base: usize) -> Option<Program> {
        let padded = format!("{}{}", " ".repeat(base), &self.script.text[base..]);
        let read = crate::lexer::preprocess::preprocess(&padded).and_then(|pre| crate::lexer::header_definitions(&pre.text));
        match read {
            Ok(defs) => {
                let mut program = bare();
                program.c_definitions = defs.into_iter().map(|(span, text)| CDefinition { text, span }).collect();
                Some(program)
            }
            Err(d) => {
                self.diags.push(d);
                None
            }
        }
    }

    fn error(&mut self, span: Span, message: String, label: &str) {
        self.diags.push(Diagnostic::error(message).at(span, label));
    }
}

fn is_c_file(path: &str) -> bool {
    path.ends_with(".h") || path.ends_with(".bpf.c")
}

/// An I/O error without Rust's `(os error N)`.
fn io_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// A program with nothing in it but `p`'s config block and imports.
fn empty(p: &Program) -> Program {
    Program { config: p.config.clone(), imports: p.imports.clone(), ..bare() }
}

/// A program with nothing in it.
fn bare() -> Program {
    Program {
        probes: Vec::new(),
        c_definitions: Vec::new(),
        macros: Vec::new(),
        map_decls: Vec::new(),
        config: Vec::new(),
        imports: Vec::new(),
        c_sources: Vec::new(),
        expr_count: 0,
    }
}

/// `from`'s probes, C definitions, macros and map declarations added after `into`'s.
fn merge(into: &mut Program, from: Program) {
    into.probes.extend(from.probes);
    into.c_definitions.extend(from.c_definitions);
    into.macros.extend(from.macros);
    into.map_decls.extend(from.map_decls);
    into.c_sources.extend(from.c_sources);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A directory of its own (only its owner may write to it, unlike the temp dir).
    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rtrace-imports-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("lib")).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    #[test]
    fn imported_items_come_first_and_once() {
        let d = dir("merge");
        fs::write(d.join("a.bt"), "import \"lib\";\nmacro one() { 1 }\nend { }\n").unwrap();
        fs::write(d.join("lib/x.bt"), "import \"../a.bt\";\nbegin { }\n").unwrap();
        fs::write(d.join("lib/y.h"), "#pragma once\nstruct y { int a; };\nint f(int a);\n").unwrap();
        let main = d.join("main.bt");
        let text = "import \"a.bt\";\nimport \"a.bt\";\ninterval:s:1 { $x = one(); }\n";
        fs::write(&main, text).unwrap();
        let (script, program) = load(main.to_str().unwrap(), text, &Limits::default());
        // The directory's C header gives its struct, not its prototype; each file is read once.
        let defs: Vec<String> = program.unwrap().c_definitions.into_iter().map(|d| d.text).collect();
        assert_eq!(defs, ["struct y { int a; };"]);
        assert_eq!(script.files.len(), 4);
        assert!(script.files[1].0.ends_with("a.bt") && script.files[2].0.ends_with("x.bt") && script.files[3].0.ends_with("y.h"));
        fs::remove_file(d.join("lib/y.h")).unwrap();
        let (script, program) = load(main.to_str().unwrap(), text, &Limits::default());
        let program = program.unwrap();
        let names: Vec<&str> = program.probes.iter().map(|p| p.attach_points[0].text.as_str()).collect();
        assert_eq!(names, ["begin", "end", "interval:s:1"]);
        // Each file's text sits at its offset; spans point there.
        let (_, base) = &script.files[2];
        assert!(script.text[*base..].starts_with("import \"../a.bt\""));
        assert!(program.probes[0].span.start > *base);
        let _ = fs::remove_dir_all(&d);
    }
}
