//! What the formatter keeps of a script's layout, found between its tokens: comments and
//! blank lines ("metadata", as bpftrace 0.26's parser records them), and the lines the
//! preprocessor set aside (`#include`, `#define`, `#if…` regions, a `#!` line), which are
//! printed back as written. The lexer skips all of this; the formatter reads it from the gaps
//! between the tokens' spans, so the normal parse path pays nothing for it.

use std::collections::VecDeque;

/// A comment's text (one per line of a `/* … */` comment), or one blank line.
#[derive(Debug, Clone, PartialEq)]
pub enum Meta {
    Comment(String),
    Vspace,
}

/// The layout still to be printed, in script order, each entry at the byte it begins at.
/// Printing claims entries with [`Metadata::before`], front first.
#[derive(Debug, Default)]
pub struct Metadata {
    entries: VecDeque<(usize, Meta)>,
}

impl Metadata {
    /// Removes and returns every entry that begins at or before `pos`.
    pub fn before(&mut self, pos: usize) -> Vec<Meta> {
        let n = self.entries.iter().take_while(|(at, _)| *at <= pos).count();
        self.entries.drain(..n).map(|(_, m)| m).collect()
    }

    /// Removes and returns every entry left.
    pub fn rest(&mut self) -> Vec<Meta> {
        self.entries.drain(..).map(|(_, m)| m).collect()
    }
}

/// A line the preprocessor blanked (a directive, a line of an inactive `#if` region) or the
/// `#!` line: printed as written, trailing blanks trimmed.
#[derive(Debug, Clone)]
pub struct RawLine {
    pub start: usize,
    pub text: String,
}

/// The lines of `src` that `pre` (its preprocessed text, of the same length) blanked out.
pub fn raw_lines(src: &str, pre: &str) -> Vec<RawLine> {
    let mut out = Vec::new();
    let mut offset = 0;
    for (line, pre_line) in src.split_inclusive('\n').zip(pre.split_inclusive('\n')) {
        let blanked = !line.trim().is_empty() && pre_line.trim().is_empty();
        let shebang = offset == 0 && line.starts_with("#!");
        if blanked || shebang {
            out.push(RawLine { start: offset, text: line.trim_end().to_string() });
        }
        offset += line.len();
    }
    out
}

fn is_hspace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r')
}

/// Reads the layout in `gaps` (byte ranges of `src` between tokens, in order), skipping the
/// `raw` lines: a `//` comment is its text after `//` and one blank; a `/* … */` comment is
/// one entry per line (leading blanks, `*`s and one blank dropped, an empty line kept); the
/// trailing blanks of each are dropped (bpftrace keeps them, so that its `/* c */` grows a
/// blank each time it is formatted); a newline is a blank line unless it ends a comment or
/// follows `;`, `{` or `}` (bpftrace 0.26's parser's rule: the newline that ends a statement
/// is not vertical space).
pub fn scan(src: &str, gaps: &[(usize, usize)], raw: &[RawLine]) -> Metadata {
    let b = src.as_bytes();
    let mut entries = VecDeque::new();
    let mut raw = raw.iter().peekable();
    for &(start, end) in gaps {
        let mut i = start;
        let mut after_comment = false;
        while i < end {
            while raw.next_if(|r| r.start + r.text.len() <= i).is_some() {}
            if let Some(r) = raw.peek().filter(|r| r.start == i) {
                // The whole line, with its newline.
                i = src[r.start..].find('\n').map_or(src.len(), |n| r.start + n + 1);
                raw.next();
                continue;
            }
            match b[i] {
                c if is_hspace(c) => i += 1,
                b'\n' => {
                    let prev = src[..i].bytes().rev().find(|c| !is_hspace(*c));
                    if !after_comment && !matches!(prev, Some(b';' | b'{' | b'}')) {
                        entries.push_back((i, Meta::Vspace));
                    }
                    after_comment = false;
                    i += 1;
                }
                b'/' if b.get(i + 1) == Some(&b'/') => {
                    let mut from = (i + 2).min(end);
                    if from < end && b[from] == b' ' {
                        from += 1;
                    }
                    let to = src[from..end].find('\n').map_or(end, |n| from + n);
                    entries.push_back((from, Meta::Comment(src[from..to].trim_end().to_string())));
                    after_comment = true;
                    i = to;
                }
                b'/' if b.get(i + 1) == Some(&b'*') => {
                    let open_end = (i + 2).min(end);
                    let close = src[open_end..end].find("*/").map_or(end, |n| open_end + n + 2);
                    block_comment(src, i, close, &mut entries);
                    after_comment = true;
                    i = close;
                }
                // Not layout (a gap holds none but what the lexer skips); step over it.
                _ => i += 1,
            }
        }
    }
    Metadata { entries }
}

/// The entries of the `/* … */` comment at `src[start..end]`.
fn block_comment(src: &str, start: usize, end: usize, entries: &mut VecDeque<(usize, Meta)>) {
    let body_end = if src[..end].ends_with("*/") { end - 2 } else { end };
    let mut at = start + 2;
    if src[at..].starts_with(' ') {
        at += 1;
    }
    let mut first = true;
    for line in src[at.min(body_end)..body_end].split_inclusive('\n') {
        let line_start = at;
        at += line.len();
        let text = line.strip_suffix('\n').unwrap_or(line);
        let was_first = first;
        let (offset, text) = match first {
            true => (0, text),
            false => {
                let trimmed = text.trim_start_matches([' ', '\t', '\r']);
                let starless = trimmed.trim_start_matches('*');
                let stripped = match starless.len() < trimmed.len() {
                    true => starless.strip_prefix(' ').unwrap_or(starless),
                    false => starless,
                };
                (text.len() - stripped.len(), stripped)
            }
        };
        first = false;
        let pos = line_start + offset;
        let text = text.trim_end();
        if !text.is_empty() {
            entries.push_back((pos, Meta::Comment(text.to_string())));
        } else if !was_first && !is_closing_line(src, line_start, body_end) {
            entries.push_back((pos, Meta::Comment(String::new())));
        }
    }
}

/// Whether the comment line at `from` holds only blanks up to the comment's `*/`.
fn is_closing_line(src: &str, from: usize, body_end: usize) -> bool {
    src[from..body_end].trim_start_matches([' ', '\t', '\r']).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metas(src: &str) -> Vec<Meta> {
        scan(src, &[(0, src.len())], &[]).rest()
    }

    #[test]
    fn comments_and_blank_lines() {
        use Meta::*;
        assert_eq!(metas("// a\n\n"), vec![Comment("a".into()), Vspace]);
        assert_eq!(metas("/* a\n * b\n *\n */"), vec![Comment("a".into()), Comment("b".into()), Comment("".into())]);
        assert_eq!(metas("//x"), vec![Comment("x".into())]);
    }
}
