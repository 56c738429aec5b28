//! The formatter's output under construction: lines of text and comment pieces, built by
//! appending smaller buffers, with the measure (width, lines) the layout decisions read. The
//! model is bpftrace 0.26's printer's: a buffer appended at a column continues there (its
//! later lines aligned under its first), or, with an indent, starts on a new line indented by
//! it and ends with a line break.

use super::layout::Meta;

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Comment(String),
}

#[derive(Debug, Clone, Default)]
struct Line(Vec<Piece>);

impl Line {
    /// The line as printed: a comment after text is set off by a blank; the last piece, a
    /// comment, is `// …`, a comment before more text `/* … */`.
    fn render(&self) -> String {
        let mut out = String::new();
        let mut blank = true;
        for (i, piece) in self.0.iter().enumerate() {
            match piece {
                Piece::Text(t) => {
                    out.push_str(t);
                    blank = blank && t.chars().all(char::is_whitespace);
                }
                Piece::Comment(c) => {
                    if !blank {
                        out.push(' ');
                    }
                    match (i + 1 == self.0.len(), c.is_empty()) {
                        (true, true) => out.push_str("//"),
                        (true, false) => out.push_str(&format!("// {c}")),
                        (false, _) => out.push_str(&format!("/* {c} */")),
                    }
                }
            }
        }
        out
    }

    fn columns(&self) -> usize {
        self.render().len()
    }
}

/// Text being laid out; never empty of lines (the last one is where text goes next).
#[derive(Debug, Clone)]
pub struct Buf {
    lines: Vec<Line>,
}

impl Default for Buf {
    fn default() -> Self {
        Buf::new()
    }
}

impl Buf {
    pub fn new() -> Buf {
        Buf { lines: vec![Line::default()] }
    }

    pub fn text(mut self, s: impl Into<String>) -> Buf {
        self.last().0.push(Piece::Text(s.into()));
        self
    }

    pub fn line_break(mut self) -> Buf {
        self.lines.push(Line::default());
        self
    }

    fn last(&mut self) -> &mut Line {
        self.lines.last_mut().expect("a buffer has a line")
    }

    /// `other` after this buffer's text: continued on the current line, its later lines
    /// indented to the current column; or, with `indent` > 0, on lines of its own indented by
    /// `indent`, followed by a line break.
    pub fn append(mut self, other: Buf, indent: usize) -> Buf {
        if other.lines() == 0 {
            return self;
        }
        let mut col = self.last().columns();
        if indent > 0 {
            self.lines.push(Line::default());
            col = indent;
        }
        let n = other.lines.len();
        for (i, line) in other.lines.into_iter().enumerate() {
            if col != 0 && self.last().0.is_empty() {
                self.last().0.push(Piece::Text(" ".repeat(col)));
            }
            self.last().0.extend(line.0);
            if indent > 0 || i + 1 < n {
                self.lines.push(Line::default());
            }
        }
        self
    }

    /// `append(other, 0)`.
    pub fn then(self, other: Buf) -> Buf {
        self.append(other, 0)
    }

    /// Comments and blank lines on lines of their own (before a statement or a top-level
    /// item): at least `min_vspace` blank lines first, the blank lines recorded beyond those.
    pub fn meta_lines(mut self, metas: Vec<Meta>, min_vspace: usize) -> Buf {
        for _ in 0..min_vspace {
            self.lines.push(Line::default());
        }
        let mut vspace = 0;
        for m in metas {
            match m {
                Meta::Vspace => {
                    if vspace >= min_vspace {
                        self.lines.push(Line::default());
                    }
                    vspace += 1;
                }
                Meta::Comment(c) => {
                    self.last().0.push(Piece::Comment(c));
                    self.lines.push(Line::default());
                }
            }
        }
        self
    }

    /// Comments on the current line, blank lines dropped.
    pub fn meta_inline(mut self, metas: Vec<Meta>) -> Buf {
        for m in metas {
            if let Meta::Comment(c) = m {
                self.last().0.push(Piece::Comment(c));
            }
        }
        self
    }

    /// The widest line's width.
    pub fn width(&self) -> usize {
        self.lines.iter().map(Line::columns).max().unwrap_or(0)
    }

    /// How many lines hold something (an empty last line is where text would go next).
    pub fn lines(&self) -> usize {
        match self.lines.last().is_some_and(|l| l.0.is_empty()) {
            true => self.lines.len() - 1,
            false => self.lines.len(),
        }
    }

    /// The text, each line's trailing blanks trimmed and each line ended by a newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.lines[..self.lines()] {
            out.push_str(line.render().trim_end());
            out.push('\n');
        }
        out
    }
}
