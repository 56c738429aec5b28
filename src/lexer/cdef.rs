//! C definitions at the top level of a script (`struct S { … } __attribute__((packed));`,
//! `union`, `enum`, `typedef …;`): the lexer hands each one to the parser as a single token,
//! which `kernel::cdecl` reads later. An imported C header (`import "x.h";`) is read here too:
//! its type definitions, the rest (function prototypes, `extern` declarations) skipped.

use super::{LexErrorKind, Lexer, Spanned, Tok};
use crate::diag::{Diagnostic, Span};

/// The type definitions (`struct`, `union`, `enum`, `typedef`) of a C header's text, which
/// has been preprocessed (`preprocess`): each one's span and text, in order. Other
/// declarations, up to their `;`, are skipped: a header may declare the functions of a
/// `.bpf.c` file beside the types they take.
pub fn header_definitions(src: &str) -> Result<Vec<(Span, String)>, Diagnostic> {
    let mut lexer = Lexer::new(src);
    let mut defs = Vec::new();
    loop {
        if let Err((_, Tok::Error(e), _)) = lexer.skip_trivia() {
            return Err(e.to_diagnostic());
        }
        let rest = lexer.rest();
        if rest.is_empty() {
            return Ok(defs);
        }
        if starts_c_definition(rest) {
            match lexer.c_definition() {
                (l, Tok::CDefinition(text), r) => defs.push((Span::new(l, r), text.to_string())),
                (_, Tok::Error(e), _) => return Err(e.to_diagnostic()),
                _ => {}
            }
            continue;
        }
        // Anything else: a declaration, up to its `;` outside brackets.
        let mut depth = 0usize;
        let end = rest.char_indices().find(|&(_, c)| {
            match c {
                '{' | '(' | '[' => depth += 1,
                '}' | ')' | ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            c == ';' && depth == 0
        });
        lexer.pos += end.map_or(rest.len(), |(i, _)| i + 1);
    }
}

impl<'a> Lexer<'a> {
    /// `struct NAME { … };` (also `union`, `enum`) at the top level, up to the matching `}`,
    /// its `__attribute__((…))`s and an optional `;`; `typedef …;` up to its `;`.
    pub(super) fn c_definition(&mut self) -> Spanned<'a> {
        let start = self.pos;
        let rest = self.rest();
        let typedef = rest.starts_with("typedef");
        let mut depth = 0usize;
        let mut end = None;
        for (i, c) in rest.char_indices() {
            match c {
                '{' | '(' => depth += 1,
                ';' if typedef && depth == 0 => {
                    end = Some(i + 1);
                    break;
                }
                '}' | ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 && c == '}' && !typedef {
                        end = Some(i + 1);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(mut end) = end else {
            self.pos = self.src.len();
            return self.error(Span::new(start, self.pos), LexErrorKind::UnterminatedDefinition);
        };
        // Attributes after the body: `} __attribute__((packed));`.
        while let Some(attr) = rest[end..].trim_start().strip_prefix("__attribute__") {
            let at = rest.len() - attr.len();
            let mut depth = 0usize;
            let close = attr.char_indices().find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                c == ')' && depth == 0
            });
            let Some((close, _)) = close else { break };
            end = at + close + 1;
        }
        let after = &rest[end..];
        let trimmed = after.trim_start();
        if trimmed.starts_with(';') {
            end += after.len() - trimmed.len() + 1;
        }
        self.pos += end;
        (start, Tok::CDefinition(&rest[..end]), self.pos)
    }
}

/// Whether the top level continues with `struct NAME {`, `union NAME {`, `enum NAME {` or
/// `typedef `.
pub(super) fn starts_c_definition(rest: &str) -> bool {
    if rest.strip_prefix("typedef").is_some_and(|after| after.starts_with(char::is_whitespace)) {
        return true;
    }
    let Some(after) = rest.strip_prefix("struct").or_else(|| rest.strip_prefix("union")).or_else(|| rest.strip_prefix("enum")) else {
        return false;
    };
    if !after.starts_with(char::is_whitespace) {
        return false;
    }
    let after = after.trim_start();
    let name_end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
    name_end > 0 && after[name_end..].trim_start().starts_with('{')
}
