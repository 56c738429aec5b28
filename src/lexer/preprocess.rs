//! The preprocessor lines bpftrace scripts use, handled before lexing without kernel headers
//! (BTF supplies the types): `#include` and `#pragma` are dropped; `#define NAME value` records a constant;
//! `#ifdef`/`#ifndef`/`#else`/`#endif` keep or drop lines, with `BPFTRACE_HAVE_BTF` defined.
//! Dropped text is replaced by spaces, so every span still points into the user's script.

use crate::diag::{Diagnostic, Span};
use std::collections::HashMap;

/// A `#define`d constant: its replacement text and where that text sits in the script.
#[derive(Debug, Clone, PartialEq)]
pub struct Define {
    pub value: String,
    pub span: Span,
}

#[derive(Debug, Default)]
pub struct Preprocessed {
    /// The script with directive lines and inactive regions blanked out.
    pub text: String,
    pub defines: HashMap<String, Define>,
}

/// Names defined for every script.
const PREDEFINED: &[&str] = &["BPFTRACE_HAVE_BTF"];

pub fn preprocess(src: &str) -> Result<Preprocessed, Diagnostic> {
    let mut out = String::with_capacity(src.len());
    let mut defines: HashMap<String, Define> = HashMap::new();
    // One entry per open #if…: (active, seen #else, span of the directive).
    let mut stack: Vec<(bool, bool, Span)> = Vec::new();
    let mut offset = 0;
    let mut in_comment = false;
    for line in src.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        let active = stack.iter().all(|(a, _, _)| *a);
        // `#!` is only an interpreter line at the very start; the lexer skips it. A `#` inside
        // a `/* … */` comment is text.
        let directive =
            !in_comment && trimmed.starts_with('#') && !(start == 0 && trimmed.starts_with("#!"));
        in_comment = ends_in_comment(line, in_comment);
        if !directive {
            if active {
                out.push_str(line);
            } else {
                out.push_str(&blank(line));
            }
            continue;
        }
        let lead = line.len() - trimmed.len();
        let body = trimmed[1..].trim_end();
        let (word, rest) = body.trim_start().split_once(char::is_whitespace).unwrap_or((body.trim_start(), ""));
        let span = Span::new(start + lead, start + line.trim_end().len());
        let is_defined = |name: &str, defines: &HashMap<String, Define>| {
            PREDEFINED.contains(&name) || defines.contains_key(name)
        };
        match word {
            // `#pragma once` and the like mean nothing here (each file is read once).
            "include" | "pragma" => {}
            "define" if active => {
                let rest = rest.trim_start();
                let (name, value) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.contains('(') {
                    return Err(Diagnostic::error("`#define` needs a name and a value")
                        .at(span, "rtrace supports `#define NAME value` for constants")
                        .help("function-like macros are not supported; use `macro` or a map"));
                }
                let value = value.trim();
                let value_start = start + line.find(value).unwrap_or(0);
                defines.insert(name.to_string(), Define { value: value.to_string(), span: Span::new(value_start, value_start + value.len()) });
            }
            "define" => {}
            "ifdef" | "ifndef" => {
                let name = rest.trim();
                let defined = is_defined(name, &defines);
                stack.push((if word == "ifdef" { defined } else { !defined }, false, span));
            }
            "else" => match stack.last_mut() {
                Some((a, seen_else, _)) if !*seen_else => {
                    *a = !*a;
                    *seen_else = true;
                }
                _ => return Err(Diagnostic::error("`#else` without a matching `#ifdef` or `#ifndef`").at(span, "unmatched")),
            },
            "endif" => {
                if stack.pop().is_none() {
                    return Err(Diagnostic::error("`#endif` without a matching `#ifdef` or `#ifndef`").at(span, "unmatched"));
                }
            }
            "undef" if active => {
                defines.remove(rest.trim());
            }
            "undef" => {}
            other => {
                if active {
                    return Err(Diagnostic::error(format!("unsupported preprocessor directive `#{other}`"))
                        .at(span, "not supported")
                        .help("rtrace handles #include, #pragma, #define NAME value, #ifdef, #ifndef, #else, #endif"));
                }
            }
        }
        out.push_str(&blank(line));
    }
    if let Some((_, _, span)) = stack.last() {
        return Err(Diagnostic::error("`#ifdef`/`#ifndef` without `#endif`").at(*span, "never closed"));
    }
    Ok(Preprocessed { text: out, defines })
}

/// Whether a `/* … */` comment is still open at the end of `line`.
fn ends_in_comment(line: &str, mut in_comment: bool) -> bool {
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let pair = (bytes[i], bytes.get(i + 1).copied());
        if in_comment {
            if pair == (b'*', Some(b'/')) {
                in_comment = false;
                i += 1;
            }
        } else if in_string {
            match bytes[i] {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match pair {
                (b'"', _) => in_string = true,
                (b'/', Some(b'*')) => {
                    in_comment = true;
                    i += 1;
                }
                (b'/', Some(b'/')) => return false,
                _ => {}
            }
        }
        i += 1;
    }
    in_comment
}

/// The line with every character but newlines turned into spaces (byte length kept).
fn blank(line: &str) -> String {
    line.bytes().map(|b| if b == b'\n' { '\n' } else { ' ' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_includes_and_non_btf_blocks() {
        let src = "#include <linux/sched.h>\n#ifndef BPFTRACE_HAVE_BTF\nstruct x { int a; }\n#else\n#include <y.h>\n#endif\nBEGIN {}\n";
        let p = preprocess(src).unwrap();
        assert_eq!(p.text.len(), src.len());
        assert_eq!(p.text.trim(), "BEGIN {}");
    }

    #[test]
    fn records_defines_with_spans() {
        let src = "#define MAX  100\nBEGIN { @ = MAX; }";
        let p = preprocess(src).unwrap();
        let d = &p.defines["MAX"];
        assert_eq!(d.value, "100");
        assert_eq!(&src[d.span.start..d.span.end], "100");
    }

    #[test]
    fn hash_inside_block_comment_is_text() {
        let p = preprocess("/*\n # need this\n */\nBEGIN {}").unwrap();
        assert!(p.text.contains("# need this"));
    }

    #[test]
    fn unbalanced() {
        assert!(preprocess("#ifdef X\nBEGIN {}").is_err());
        assert!(preprocess("#endif\n").is_err());
    }
}
