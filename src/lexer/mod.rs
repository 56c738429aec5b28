//! The lexer: script text to tokens with byte spans.
//!
//! Tokens inside predicates and bodies come from a logos-generated scanner (`RawTok`). Around
//! it sits a small mode machine that knows only the shape of a script, never the meaning of a
//! probe:
//!
//! * at the top level, an attach point such as `tracepoint:syscalls:sys_enter_openat` or
//!   `uprobe:/bin/bash:readline` is one `AttachPoint` token;
//! * `/` at the top level opens a predicate, and a `/` whose next non-blank character is `{` or
//!   `<` closes it;
//! * `macro NAME(…)` at the top level is a macro definition: its header is scanned as code, and
//!   its `{ … }` body as a probe body;
//! * `let @NAME = …;` at the top level is a map declaration, scanned as code up to its `;`;
//! * `config = { … }` at the top level is the config block, scanned as code up to its `}`;
//! * `import "PATH";` at the top level is an import, scanned as code up to its `;`;
//! * `{` or `<` at the top level opens a probe body. In a `< … >` body, `>` closes the body
//!   where a statement could begin — right after the opening `<`, a `;` or a `}` at the body's
//!   own nesting level — and is greater-than everywhere else. So `< if ($a > 1) { @x = 1; } >`
//!   works, and the grammar sees distinct tokens, free of conflicts.
//! * an identifier right after `(` is a type name (`(pid_t)x`) when what follows makes it a cast;
//!   see `cast_type_follows`. That needs the names of builtins and constants
//!   (`crate::builtins`, a plain table), which are values in `(pid) - 1`.

pub mod preprocess;

use crate::diag::Span;
use logos::Logos;
use preprocess::Define;
use std::collections::{HashMap, VecDeque};

mod token;

pub use token::{LexError, LexErrorKind, Tok, MAX_EXPANSION};


/// The scanner for predicates and bodies.
#[derive(Logos, Debug, Clone, PartialEq)]
#[logos(skip r"[ \t\r\n\f]+")]
enum RawTok {
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*")]
    Ident,
    #[regex(r"@[A-Za-z0-9_]*")]
    Map,
    #[regex(r"\$[A-Za-z_][A-Za-z0-9_]*|\$[0-9]+|\$#")]
    Var,
    #[regex(r"[0-9][0-9_]*([eE][0-9]+)?(ns|us|ms|s|m|h|d|[uU]|[uU]?[lL][lL]?|[lL][lL]?[uU])?|0[xX][0-9a-fA-F_]+([uU]|[uU]?[lL][lL]?|[lL][lL]?[uU])?")]
    Int,
    #[token("\"")]
    Quote,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token(";")]
    Semi,
    #[token(":")]
    Colon,
    #[token(",")]
    Comma,
    #[token("?")]
    Question,
    #[token(".")]
    Dot,
    #[token("->")]
    Arrow,
    #[token("=")]
    Assign,
    #[token("==")]
    Eq,
    #[token("!=")]
    Ne,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,
    #[token("!")]
    Not,
    #[token("&")]
    Amp,
    #[token("|")]
    Pipe,
    #[token("^")]
    Caret,
    #[token("<<")]
    Shl,
    #[token(">>")]
    Shr,
    #[token("~")]
    Tilde,
    #[token("++")]
    PlusPlus,
    #[token("--")]
    MinusMinus,
    #[token("..")]
    DotDot,
    #[regex(r"(\+|-|\*|/|%|&|\||\^|<<|>>)=")]
    OpAssign,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Top,
    Pred,
    /// A macro definition's name and parameters, up to the `{` of its body.
    MacroHeader,
    /// A map declaration or an import, up to its `;`.
    MapDecl,
    /// The config block, up to its `}`.
    Config,
    /// Inside a probe body; `depth` counts the `{` opened inside it.
    Body { angle: bool, depth: u32, stmt_start: bool },
}

/// The token stream lalrpop reads: `(start, token, end)` triples or a lexing error.
pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    mode: Mode,
    defines: Option<&'a HashMap<String, Define>>,
    /// Tokens of an expanded `#define`, waiting to be handed out.
    pending: VecDeque<Spanned<'a>>,
    /// Whether the last token was `(` or `,`, where a record's field may start.
    field_may_start: bool,
    /// Whether the last token was `(`, where a cast's type may start.
    after_lparen: bool,
    /// Whether the last token leaves an operand to come (`=`, `(`, `,`, an operator): a `{`
    /// there opens a block expression.
    operand_wanted: bool,
    /// Whether the last two tokens were `sizeof (`, and whether the last was `sizeof`.
    in_sizeof: bool,
    last_was_sizeof: bool,
    /// The names macro headers declare (macros and their parameters): values, not types, in
    /// `(NAME) - x`.
    macro_names: Vec<&'a str>,
    /// The macros' own names (the first name of each header), and whether the next name in
    /// a header is one: in type contexts (`sizeof(NAME)`) a macro's name is a type.
    macro_fns: Vec<&'a str>,
    naming_macro: bool,
}

/// A token and its byte span. An error is a token too (`Tok::Error`), after which lexing
/// goes on: past the character it could not read, or past the end of a line with an
/// unterminated string; an unterminated comment or definition runs to the end of the script.
pub type Spanned<'a> = (usize, Tok<'a>, usize);

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Lexer<'a> {
        let mut pos = 0;
        // A `#!` interpreter line is a comment.
        if src.starts_with("#!") {
            pos = src.find('\n').unwrap_or(src.len());
        }
        Lexer {
            src,
            pos,
            mode: Mode::Top,
            defines: None,
            pending: VecDeque::new(),
            field_may_start: false,
            after_lparen: false,
            operand_wanted: false,
            in_sizeof: false,
            last_was_sizeof: false,
            macro_names: Vec::new(),
            macro_fns: Vec::new(),
            naming_macro: false,
        }
    }

    /// A lexer that replaces `#define`d names in code by their values' tokens.
    pub fn with_defines(src: &'a str, defines: &'a HashMap<String, Define>) -> Lexer<'a> {
        Lexer { defines: Some(defines), ..Lexer::new(src) }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    /// An error token for `span`, lexing going on from `self.pos`.
    fn error(&mut self, span: Span, kind: LexErrorKind) -> Spanned<'a> {
        self.field_may_start = false;
        (span.start, Tok::Error(LexError { span, kind }), span.end)
    }

    /// Skips blanks and comments; an unterminated comment is an error that ends the script.
    fn skip_trivia(&mut self) -> Result<(), Spanned<'a>> {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else if trimmed.starts_with("/*") {
                match trimmed[2..].find("*/") {
                    Some(i) => self.pos += i + 4,
                    None => {
                        let span = Span::new(self.pos, self.pos + 2);
                        self.pos = self.src.len();
                        return Err(self.error(span, LexErrorKind::UnterminatedComment));
                    }
                }
            } else {
                return Ok(());
            }
        }
    }

    /// The first character after blanks and comments starting at byte `from`, if any.
    fn next_significant_after(&self, from: usize) -> Option<char> {
        let mut probe = Lexer { pos: from, ..Lexer::new(self.src) };
        probe.mode = self.mode;
        probe.skip_trivia().ok()?;
        probe.rest().chars().next()
    }

    fn single(&mut self, tok: Tok<'a>, len: usize) -> Spanned<'a> {
        let start = self.pos;
        self.pos += len;
        (start, tok, self.pos)
    }

    /// An error at the character at `start` (which `self.pos` is at or before), skipped.
    fn unexpected_char(&mut self, start: usize) -> Spanned<'a> {
        let c = self.src[start..].chars().next().unwrap_or(' ');
        self.pos = start + c.len_utf8();
        self.error(Span::new(start, self.pos), LexErrorKind::UnexpectedChar(c))
    }

    fn top_level(&mut self) -> Option<Spanned<'a>> {
        let c = self.rest().chars().next()?;
        Some(match c {
            '{' => {
                self.mode = Mode::Body { angle: false, depth: 0, stmt_start: true };
                self.single(Tok::BodyOpen, 1)
            }
            '<' => {
                self.mode = Mode::Body { angle: true, depth: 0, stmt_start: true };
                self.single(Tok::AngleOpen, 1)
            }
            '/' => {
                self.mode = Mode::Pred;
                self.single(Tok::PredOpen, 1)
            }
            ',' => self.single(Tok::Comma, 1),
            _ if cdef::starts_c_definition(self.rest()) => self.c_definition(),
            _ if starts_macro(self.rest()) => {
                self.mode = Mode::MacroHeader;
                self.naming_macro = true;
                self.single(Tok::Macro, "macro".len())
            }
            _ if starts_config(self.rest()) => {
                self.mode = Mode::Config;
                self.single(Tok::Config, "config".len())
            }
            _ if starts_import(self.rest()) => {
                self.mode = Mode::MapDecl;
                self.single(Tok::Import, "import".len())
            }
            _ if starts_map_decl(self.rest()) => {
                self.mode = Mode::MapDecl;
                self.single(Tok::Let, "let".len())
            }
            _ => self.attach_point(),
        })
    }

    /// An attach point runs until a blank, `,`, `{`, `<`, or a `/` that is not part of a path,
    /// outside `"…"` quotes.
    /// A field (between `:`s) that starts with `/` or `.` is a path and may hold `/`; so may a
    /// field that goes on, in path characters only, to a `:` (`uprobe:bin/app:main`): a
    /// predicate follows the last field, so such a `/` cannot start one.
    fn attach_point(&mut self) -> Spanned<'a> {
        let start = self.pos;
        let rest = self.rest();
        let mut end = 0;
        let mut in_path = false;
        let mut field_start = true;
        let mut quoted = false;
        for (i, c) in rest.char_indices() {
            // A quoted part (`uprobe:"/opt/a b:c":f`) holds any character but `"`.
            if c == '"' || quoted {
                quoted ^= c == '"';
                end = i + c.len_utf8();
                field_start = false;
                continue;
            }
            if field_start {
                in_path = c == '/' || c == '.';
            }
            field_start = c == ':';
            if c == '/' && !in_path {
                let path_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '+');
                let field = &rest[i..];
                in_path = field.find(|c: char| !path_chars(c)).is_some_and(|end| field[end..].starts_with(':'));
            }
            let stop = c.is_whitespace() || matches!(c, ',' | '{' | '<' | '}' | ';' | '>') || (c == '/' && !in_path);
            if stop {
                break;
            }
            end = i + c.len_utf8();
        }
        if end == 0 {
            return self.unexpected_char(start);
        }
        self.pos += end;
        (start, Tok::AttachPoint(&rest[..end]), self.pos)
    }

    fn in_code(&mut self) -> Option<Spanned<'a>> {
        let rest = self.rest();
        let c = rest.chars().next()?;
        match self.mode {
            Mode::Pred if c == '/' => {
                if matches!(self.next_significant_after(self.pos + 1), Some('{') | Some('<')) {
                    self.mode = Mode::Top;
                    return Some(self.single(Tok::PredClose, 1));
                }
            }
            Mode::Body { angle: true, depth: 0, stmt_start: true } if c == '>' => {
                self.mode = Mode::Top;
                return Some(self.single(Tok::AngleClose, 1));
            }
            _ => {}
        }
        let mut lex = RawTok::lexer(rest);
        let raw = lex.next()?;
        let span = lex.span();
        let (start, end) = (self.pos + span.start, self.pos + span.end);
        let text = &rest[span.clone()];
        let raw = match raw {
            Ok(t) => t,
            Err(()) => return Some(self.unexpected_char(start)),
        };
        self.pos = end;
        let tok = match raw {
            RawTok::Ident => match keyword(text) {
                Some(t) => t,
                None if self.field_may_start && self.single_assign_follows(end) => Tok::FieldName(text),
                None => {
                    let mut budget = MAX_EXPANSION;
                    if let Some(tokens) = self.expand_define(text, start, end, 0, &mut budget) {
                        self.pending.extend(tokens);
                        return self.next();
                    }
                    if self.after_lparen && self.cast_type_follows(text, end) {
                        Tok::TypeName(text)
                    } else {
                        Tok::Ident(builtin_spelling(text))
                    }
                }
            },
            RawTok::Map => Tok::Map(text),
            RawTok::Var => Tok::Var(text),
            RawTok::Int => match parse_int(text) {
                Some(n) => Tok::Int(n),
                None => return Some(self.error(Span::new(start, end), LexErrorKind::IntTooLarge)),
            },
            RawTok::Quote => return Some(self.string(start)),
            RawTok::LBrace => Tok::LBrace,
            RawTok::RBrace => Tok::RBrace,
            RawTok::LParen => Tok::LParen,
            RawTok::RParen => Tok::RParen,
            RawTok::LBracket => Tok::LBracket,
            RawTok::RBracket => Tok::RBracket,
            RawTok::Semi => Tok::Semi,
            RawTok::Colon => Tok::Colon,
            RawTok::Comma => Tok::Comma,
            RawTok::Question => Tok::Question,
            RawTok::Dot => Tok::Dot,
            RawTok::Arrow => Tok::Arrow,
            RawTok::Assign => Tok::Assign,
            RawTok::Eq => Tok::Eq,
            RawTok::Ne => Tok::Ne,
            RawTok::Lt => Tok::Lt,
            RawTok::Le => Tok::Le,
            RawTok::Gt => Tok::Gt,
            RawTok::Ge => Tok::Ge,
            RawTok::Plus => Tok::Plus,
            RawTok::Minus => Tok::Minus,
            RawTok::Star => Tok::Star,
            RawTok::Slash => Tok::Slash,
            RawTok::Percent => Tok::Percent,
            RawTok::AndAnd => Tok::AndAnd,
            RawTok::OrOr => Tok::OrOr,
            RawTok::Not => Tok::Not,
            RawTok::Amp => Tok::Amp,
            RawTok::Pipe => Tok::Pipe,
            RawTok::Caret => Tok::Caret,
            RawTok::Shl => Tok::Shl,
            RawTok::Shr => Tok::Shr,
            RawTok::Tilde => Tok::Tilde,
            RawTok::PlusPlus => Tok::PlusPlus,
            RawTok::MinusMinus => Tok::MinusMinus,
            RawTok::DotDot => Tok::DotDot,
            RawTok::OpAssign => Tok::OpAssign(op_assign(text)),
        };
        let tok = match tok {
            Tok::LBrace if self.operand_wanted && matches!(self.mode, Mode::Body { .. }) => Tok::ExprBlockOpen,
            tok => tok,
        };
        self.operand_wanted = wants_operand(&tok);
        self.field_may_start = matches!(tok, Tok::LParen | Tok::Comma);
        self.in_sizeof = tok == Tok::LParen && self.last_was_sizeof;
        self.last_was_sizeof = matches!(tok, Tok::Sizeof | Tok::Typeof);
        self.after_lparen = tok == Tok::LParen;
        if let (Mode::MacroHeader, Tok::Ident(name)) = (self.mode, &tok) {
            self.macro_names.push(*name);
            if std::mem::take(&mut self.naming_macro) {
                self.macro_fns.push(*name);
            }
        }
        if self.mode == Mode::MacroHeader && tok == Tok::LBrace {
            self.mode = Mode::Body { angle: false, depth: 0, stmt_start: true };
            return Some((start, Tok::BodyOpen, end));
        }
        if (self.mode == Mode::MapDecl && tok == Tok::Semi) || (self.mode == Mode::Config && tok == Tok::RBrace) {
            self.mode = Mode::Top;
        }
        if let Mode::Body { angle, depth, stmt_start } = &mut self.mode {
            match tok {
                Tok::LBrace | Tok::ExprBlockOpen => *depth += 1,
                Tok::RBrace if *depth == 0 && !*angle => {
                    self.mode = Mode::Top;
                    return Some((start, Tok::BodyClose, end));
                }
                Tok::RBrace => *depth = depth.saturating_sub(1),
                _ => {}
            }
            *stmt_start = matches!(tok, Tok::Semi | Tok::RBrace | Tok::LBrace | Tok::ExprBlockOpen);
        }
        Some((start, tok, end))
    }

    /// A string literal; `start` is the offset of the opening quote, already consumed.
    fn string(&mut self, start: usize) -> Spanned<'a> {
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    self.after_value();
                    return (start, Tok::Str(out), self.pos);
                }
                '\\' => {
                    let Some((j, e)) = chars.next() else { break };
                    let esc_span = Span::new(self.pos + i, self.pos + j + e.len_utf8());
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '\\' => out.push('\\'),
                        '"' => out.push('"'),
                        '\'' => out.push('\''),
                        // `\0nn`, `\101`: up to three octal digits, as in C.
                        '0'..='7' => {
                            let digits: String = self.rest()[j..].chars().take(3).take_while(|c| ('0'..='7').contains(c)).collect();
                            match u8::from_str_radix(&digits, 8) {
                                Ok(b) => {
                                    out.push(b as char);
                                    for _ in 1..digits.len() {
                                        chars.next();
                                    }
                                }
                                Err(_) => return self.bad_escape(esc_span, e),
                            }
                        }
                        'x' => {
                            let hex: String = self.rest()[j + 1..].chars().take(2).take_while(|c| c.is_ascii_hexdigit()).collect();
                            match u8::from_str_radix(&hex, 16) {
                                Ok(b) => {
                                    out.push(b as char);
                                    for _ in 0..hex.len() {
                                        chars.next();
                                    }
                                }
                                Err(_) => return self.bad_escape(esc_span, 'x'),
                            }
                        }
                        other => return self.bad_escape(esc_span, other),
                    }
                }
                '\n' => break,
                c => out.push(c),
            }
        }
        self.pos += self.rest().find('\n').unwrap_or(self.rest().len());
        self.error(Span::new(start, self.pos), LexErrorKind::UnterminatedString)
    }

    /// An unknown escape at `span`: the rest of the string (up to its closing `"` or the end
    /// of the line) is skipped, so that it is not read as code.
    fn bad_escape(&mut self, span: Span, c: char) -> Spanned<'a> {
        self.pos = span.end;
        let mut chars = self.rest().char_indices();
        let mut end = self.rest().find('\n').unwrap_or(self.rest().len());
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                '\n' => break,
                _ => {}
            }
        }
        self.pos += end;
        self.error(span, LexErrorKind::BadEscape(c))
    }

    /// The tokens of `name`'s `#define` value, each with the span of the use of `name`.
    /// `budget` bounds the tokens visited, nested `#define`s included: without it a few
    /// lines of `#define A B B B …` take exponential time and memory (found by fuzz/).
    fn expand_define(&self, name: &str, start: usize, end: usize, depth: u32, budget: &mut usize) -> Option<Vec<Spanned<'a>>> {
        let defines = self.defines?;
        let define = defines.get(name)?;
        let mut inner = Lexer::new(&define.value);
        inner.mode = Mode::Body { angle: false, depth: 0, stmt_start: false };
        let mut out = Vec::new();
        for t in inner {
            if *budget == 0 {
                break;
            }
            *budget -= 1;
            if *budget == 0 {
                let e = LexError { span: Span::new(start, end), kind: LexErrorKind::DefineTooLarge };
                out.push((start, Tok::Error(e), end));
                break;
            }
            match t {
                (_, Tok::Ident(n), _) if depth < 8 && defines.contains_key(n) => {
                    out.extend(self.expand_define(n, start, end, depth + 1, budget)?)
                }
                (_, Tok::Error(mut e), _) => {
                    e.span = Span::new(start, end);
                    out.push((start, Tok::Error(e), end));
                    break;
                }
                (_, tok, _) => out.push((start, tok, end)),
            }
        }
        Some(out)
    }

    /// The next raw token after byte `from` (blanks and comments skipped), and where it ends.
    fn raw_after(&self, from: usize) -> Option<(RawTok, usize)> {
        let mut probe = Lexer { pos: from, ..Lexer::new(self.src) };
        probe.skip_trivia().ok()?;
        let mut lex = RawTok::lexer(probe.rest());
        let raw = lex.next()?.ok()?;
        Some((raw, probe.pos + lex.span().end))
    }

    /// Whether identifier `name`, just after `(` and ending at byte `end`, names the type of a
    /// cast, as in bpftrace: `(NAME *…)`, or `(NAME)` followed by something that can only
    /// start an operand (`(pid_t)5`, `(u32)$x`, `(size_t)(a + b)`). Before `-`, `*` or `&`,
    /// which could also be binary operators, it is a cast unless `NAME` is a builtin, a
    /// constant or a macro's name or parameter: `(pid_t)-1` casts, `(pid) - 1` subtracts. Sema resolves
    /// the name (kernel typedefs from BTF). In `sizeof(NAME…)` and `typeof(NAME…)`, as 0.26's
    /// "Cast Parsing" says, `NAME` followed by `*` and `[N]` suffixes is a type unless it is a
    /// builtin, a constant or a macro's parameter (a macro's name is a type there:
    /// `sizeof(uint64_t)` is 8 even beside `macro uint64_t()`; `sizeof(uint64_t())` calls it),
    /// and `sizeof(ident[1])` is an array type (`sizeof((ident)[1])` indexes).
    fn cast_type_follows(&self, name: &str, end: usize) -> bool {
        use crate::builtins::{builtin, constant};
        let mut pos = end;
        let mut suffixes = 0;
        let next = loop {
            match self.raw_after(pos) {
                Some((RawTok::Star, e)) => {
                    suffixes += 1;
                    pos = e;
                }
                Some((RawTok::LBracket, e)) if self.in_sizeof => match (self.raw_after(e), self.raw_after(e).and_then(|(_, e)| self.raw_after(e))) {
                    (Some((RawTok::Int, _)), Some((RawTok::RBracket, e))) => {
                        suffixes += 1;
                        pos = e;
                    }
                    _ => return false,
                },
                Some((RawTok::RParen, e)) => break self.raw_after(e).map(|(t, _)| t),
                _ => return false,
            }
        };
        let builtin_value = || builtin(name).is_some() || constant(name).is_some();
        if self.in_sizeof {
            let param = self.macro_names.iter().any(|m| *m == name) && !self.macro_fns.contains(&name);
            return !builtin_value() && !param;
        }
        if suffixes > 0 {
            return true;
        }
        let value = || builtin_value() || self.macro_names.iter().any(|m| *m == name);
        match next {
            Some(
                RawTok::Int | RawTok::Var | RawTok::Map | RawTok::Quote | RawTok::LParen | RawTok::Not | RawTok::Tilde | RawTok::Ident,
            ) => true,
            Some(RawTok::Minus | RawTok::Star | RawTok::Amp) => !value(),
            _ => false,
        }
    }

    /// Whether `=`, and not `==`, comes next after byte `from`.
    fn single_assign_follows(&self, from: usize) -> bool {
        let mut probe = Lexer { pos: from, ..Lexer::new(self.src) };
        probe.skip_trivia().is_ok() && probe.rest().starts_with('=') && !probe.rest().starts_with("==")
    }

    fn after_value(&mut self) {
        self.field_may_start = false;
        self.operand_wanted = false;
        if let Mode::Body { stmt_start, .. } = &mut self.mode {
            *stmt_start = false;
        }
    }
}

/// Integer literals: decimal (`1_000`), hex, octal (`0644`), `1e6`, and durations in
/// nanoseconds (`5s`, `100ms`, `10us`, `3ns`, `2m`, `1h`, `1d`). C's suffixes (`123UL`, `1U`,
/// `5LL`) are read and dropped, as in bpftrace. Probe expansion reads attach points' counts and
/// durations (`interval:1s`, `hardware:cache-misses:1e6`) with it.
pub fn parse_int(text: &str) -> Option<u64> {
    let clean: String = text.trim_end_matches(['u', 'U', 'l', 'L']).chars().filter(|&c| c != '_').collect();
    if let Some(hex) = clean.strip_prefix("0x").or_else(|| clean.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok();
    }
    let digits_end = clean.find(|c: char| !c.is_ascii_digit()).unwrap_or(clean.len());
    let (digits, mut rest) = clean.split_at(digits_end);
    let mut n: u64 = if digits.len() > 1 && digits.starts_with('0') && rest.is_empty() {
        u64::from_str_radix(digits, 8).ok()?
    } else {
        digits.parse().ok()?
    };
    if let Some(exp) = rest.strip_prefix(['e', 'E']) {
        let exp_end = exp.find(|c: char| !c.is_ascii_digit()).unwrap_or(exp.len());
        n = n.checked_mul(10u64.checked_pow(exp[..exp_end].parse().ok()?)?)?;
        rest = &exp[exp_end..];
    }
    let scale: u64 = match rest {
        "" | "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// `__builtin_NAME`, 0.26's spelling of builtin or function NAME (`__builtin_comm`), is NAME.
fn builtin_spelling(text: &str) -> &str {
    match text.strip_prefix("__builtin_") {
        Some(name) if crate::builtins::builtin(name).is_some() || crate::builtins::function(name).is_some() => name,
        _ => text,
    }
}

fn keyword(text: &str) -> Option<Tok<'_>> {
    Some(match text {
        "if" => Tok::If,
        "else" => Tok::Else,
        "while" => Tok::While,
        "unroll" => Tok::Unroll,
        "for" => Tok::For,
        "break" => Tok::Break,
        "continue" => Tok::Continue,
        "return" => Tok::Return,
        "let" => Tok::Let,
        "struct" => Tok::Struct,
        "union" => Tok::Union,
        "enum" => Tok::Enum,
        "true" => Tok::True,
        "false" => Tok::False,
        "sizeof" => Tok::Sizeof,
        "offsetof" => Tok::Offsetof,
        "container_of" => Tok::ContainerOf,
        "typeof" => Tok::Typeof,
        "int8" | "int16" | "int32" | "int64" | "uint8" | "uint16" | "uint32" | "uint64" | "bool" | "char" | "short"
        | "int" | "long" | "unsigned" | "signed" | "void" | "u8" | "u16" | "u32" | "u64" | "s8" | "s16" | "s32"
        | "s64" | "string" => Tok::TypeName(text),
        _ => return None,
    })
}

/// Whether an operand must follow `tok` (so a `{` after it is a block expression).
fn wants_operand(tok: &Tok) -> bool {
    use Tok::*;
    matches!(
        tok,
        Assign | OpAssign(_) | LParen | Comma | Question | Colon | Eq | Ne | Lt | Le | Gt | Ge | Plus | Minus | Star
            | Slash | Percent | AndAnd | OrOr | Not | Amp | Pipe | Caret | Shl | Shr | Tilde | LBracket | DotDot
    )
}

fn op_assign(text: &str) -> &'static str {
    match text.trim_end_matches('=') {
        "+" => "+",
        "-" => "-",
        "*" => "*",
        "/" => "/",
        "%" => "%",
        "&" => "&",
        "|" => "|",
        "^" => "^",
        "<<" => "<<",
        _ => ">>",
    }
}

/// Whether the top level continues with `macro NAME`.
fn starts_macro(rest: &str) -> bool {
    rest.strip_prefix("macro")
        .filter(|after| after.starts_with(char::is_whitespace))
        .is_some_and(|after| after.trim_start().starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'))
}

/// Whether the top level continues with `config =` (and not `config:…`, which would be a
/// probe).
fn starts_config(rest: &str) -> bool {
    rest.strip_prefix("config").is_some_and(|after| after.trim_start().starts_with('=') && !after.trim_start().starts_with("=="))
}

/// Whether the top level continues with `import "`.
fn starts_import(rest: &str) -> bool {
    rest.strip_prefix("import").is_some_and(|after| after.trim_start().starts_with('"'))
}

/// Whether the top level continues with `let @`.
fn starts_map_decl(rest: &str) -> bool {
    rest.strip_prefix("let").is_some_and(|after| after.starts_with(char::is_whitespace) && after.trim_start().starts_with('@'))
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Spanned<'a>;

    fn next(&mut self) -> Option<Spanned<'a>> {
        if let Some(t) = self.pending.pop_front() {
            return Some(t);
        }
        if let Err(e) = self.skip_trivia() {
            return Some(e);
        }
        match self.mode {
            Mode::Top => self.top_level(),
            _ => self.in_code(),
        }
    }
}

mod cdef;
pub use cdef::header_definitions;
#[cfg(test)]
mod tests;
