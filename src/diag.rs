//! Spans and diagnostics: every user error is a `Diagnostic` value (message, labelled spans,
//! help notes); rendering through codespan-reporting is separate from building one.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor};

/// A byte range in the script text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// The primary label: where the problem is, and a short word about it.
    pub primary: Option<(Span, String)>,
    /// Other places that matter (e.g. where a map got its type).
    pub secondary: Vec<(Span, String)>,
    /// `help:` and `note:` lines, already prefixed.
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            notes: Vec::new(),
        }
    }
    pub fn warning(message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(message) }
    }
    pub fn at(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.primary = Some((span, label.into()));
        self
    }
    pub fn also(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push((span, label.into()));
        self
    }
    pub fn help(mut self, text: impl Into<String>) -> Diagnostic {
        self.notes.push(format!("help: {}", text.into()));
        self
    }
    pub fn note(mut self, text: impl Into<String>) -> Diagnostic {
        self.notes.push(format!("note: {}", text.into()));
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Renders diagnostics against the script they point into. A script with imports is one
/// text, the imported files' texts each at their own offset (`parser::imports`): a span
/// belongs to the file whose text it starts in, and is shown with that file's name and lines.
pub struct Renderer<'a> {
    files: SimpleFiles<&'a str, &'a str>,
    /// Each file's offset in the combined text, ascending (the first is 0).
    bases: Vec<usize>,
    color: bool,
}

impl<'a> Renderer<'a> {
    pub fn new(name: &'a str, source: &'a str, color: bool) -> Renderer<'a> {
        Renderer::with_files(&[(name, 0)], source, color)
    }

    /// `source` holding several files: each `(name, offset)`, ascending, the first at 0.
    pub fn with_files(files: &[(&'a str, usize)], source: &'a str, color: bool) -> Renderer<'a> {
        let mut all = SimpleFiles::new();
        let mut bases = Vec::new();
        for (i, (name, base)) in files.iter().enumerate() {
            let end = files.get(i + 1).map_or(source.len(), |next| next.1).min(source.len());
            let base = (*base).min(end);
            all.add(*name, &source[base..end]);
            bases.push(base);
        }
        Renderer { files: all, bases, color }
    }

    /// The file `span` starts in, and the span within that file's text.
    fn locate(&self, span: Span) -> (usize, std::ops::Range<usize>) {
        let id = self.bases.iter().rposition(|b| *b <= span.start).unwrap_or(0);
        let base = self.bases[id];
        let len = self.files.get(id).map_or(0, |f| f.source().len());
        let start = (span.start - base.min(span.start)).min(len);
        let end = span.end.saturating_sub(base).min(len).max(start);
        (id, start..end)
    }

    pub fn render(&self, diag: &Diagnostic) -> String {
        let mut cs = match diag.severity {
            Severity::Error => CsDiagnostic::error(),
            Severity::Warning => CsDiagnostic::warning(),
        }
        .with_message(&diag.message);
        let mut labels = Vec::new();
        if let Some((span, text)) = &diag.primary {
            let (id, range) = self.locate(*span);
            labels.push(Label::primary(id, range).with_message(text));
        }
        for (span, text) in &diag.secondary {
            let (id, range) = self.locate(*span);
            labels.push(Label::secondary(id, range).with_message(text));
        }
        cs = cs.with_labels(labels).with_notes(diag.notes.clone());
        let config = term::Config::default();
        let mut buf = if self.color {
            termcolor::Buffer::ansi()
        } else {
            termcolor::Buffer::no_color()
        };
        // Writing into an in-memory buffer cannot fail for I/O reasons, and `locate` keeps
        // every span inside its file.
        let _ = term::emit(&mut buf, &config, &self.files, &cs);
        String::from_utf8_lossy(buf.as_slice()).into_owned()
    }
}

/// Drops repeats: the same message at the same place (a check met once per probe or call).
pub fn dedup(diags: &mut Vec<Diagnostic>) {
    let mut seen = std::collections::HashSet::new();
    diags.retain(|d| seen.insert((d.message.clone(), d.primary.as_ref().map(|p| p.0))));
}

/// The closest of `candidates` to `name`, if one is close enough to suggest.
pub fn did_you_mean<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(name, c);
        if score > 0.8 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}
