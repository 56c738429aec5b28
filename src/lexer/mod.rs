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
//! * `{` or `<` at the top level opens a probe body. In a `< … >` body, `>` closes the body
//!   where a statement could begin — right after the opening `<`, a `;` or a `}` at the body's
//!   own nesting level — and is greater-than everywhere else. So `< if ($a > 1) { @x = 1; } >`
//!   works, and the grammar sees distinct tokens, free of conflicts.
//! * an identifier right after `(` is a type name (`(pid_t)x`) when what follows makes it a cast;
//!   see `cast_type_follows`. That needs the names of builtins and constants
//!   (`sema::builtins`, a plain table), which are values in `(pid) - 1`.

pub mod preprocess;

use crate::diag::{Diagnostic, Span};
use logos::Logos;
use preprocess::Define;
use std::collections::{HashMap, VecDeque};

/// Tokens the parser sees.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok<'a> {
    AttachPoint(&'a str),
    PredOpen,
    PredClose,
    /// `{` opening a probe body.
    BodyOpen,
    /// `}` closing a probe body.
    BodyClose,
    /// `<` opening a probe body.
    AngleOpen,
    /// `>` closing a probe body.
    AngleClose,
    Comma,

    Ident(&'a str),
    /// `@` or `@name`.
    Map(&'a str),
    /// `$name` or `$1`.
    Var(&'a str),
    Int(u64),
    Str(String),
    /// A top-level C `struct`/`union` definition, kept as text.
    CDefinition(&'a str),
    /// `macro`, starting a macro definition at the top level.
    Macro,
    /// A builtin type name usable in casts: `uint32`, `int`, `unsigned`, …
    TypeName(&'a str),
    /// A record's field name: an identifier right after `(` or `,` and right before `=`
    /// (assignment is a statement, so there it can only name a field: `(a = 1, b = 2)`).
    FieldName(&'a str),
    If,
    Else,
    While,
    Unroll,
    For,
    Break,
    Continue,
    Return,
    Let,
    Struct,
    Union,
    Enum,
    True,
    False,
    Sizeof,
    Offsetof,
    PlusPlus,
    MinusMinus,
    /// `+=`, `-=`, …: the operator without its `=`.
    OpAssign(&'static str),
    DotDot,

    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Semi,
    Colon,
    Question,
    Dot,
    Arrow,
    Assign,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    AndAnd,
    OrOr,
    Not,
    Amp,
    Pipe,
    Caret,
    Shl,
    Shr,
    Tilde,
    /// Text the lexer could not read. Lexing goes on after it, so that one run reports
    /// several errors; the grammar accepts it nowhere, and the parser reports it as the lexer
    /// error it holds.
    Error(LexError),
}

impl Tok<'_> {
    /// How the token is written, for "expected one of" lists and messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::AttachPoint(s) => format!("probe `{s}`"),
            Tok::Ident(s) | Tok::Map(s) | Tok::Var(s) | Tok::TypeName(s) | Tok::FieldName(s) => format!("`{s}`"),
            Tok::CDefinition(_) => "a C definition".into(),
            Tok::Macro => "`macro`".into(),
            Tok::OpAssign(op) => format!("`{op}=`"),
            Tok::Int(n) => format!("`{n}`"),
            Tok::Str(_) => "string".into(),
            Tok::Error(_) => "an unreadable token".into(),
            other => format!("`{}`", punct(other)),
        }
    }
}

fn punct(t: &Tok) -> &'static str {
    match t {
        Tok::PredOpen | Tok::PredClose | Tok::Slash => "/",
        Tok::BodyOpen | Tok::LBrace => "{",
        Tok::BodyClose | Tok::RBrace => "}",
        Tok::AngleOpen | Tok::Lt => "<",
        Tok::AngleClose | Tok::Gt => ">",
        Tok::Comma => ",",
        Tok::If => "if",
        Tok::Else => "else",
        Tok::While => "while",
        Tok::Unroll => "unroll",
        Tok::For => "for",
        Tok::Break => "break",
        Tok::Continue => "continue",
        Tok::Return => "return",
        Tok::Let => "let",
        Tok::Struct => "struct",
        Tok::Union => "union",
        Tok::Enum => "enum",
        Tok::True => "true",
        Tok::False => "false",
        Tok::Sizeof => "sizeof",
        Tok::Offsetof => "offsetof",
        Tok::PlusPlus => "++",
        Tok::MinusMinus => "--",
        Tok::DotDot => "..",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::LBracket => "[",
        Tok::RBracket => "]",
        Tok::Semi => ";",
        Tok::Colon => ":",
        Tok::Question => "?",
        Tok::Dot => ".",
        Tok::Arrow => "->",
        Tok::Assign => "=",
        Tok::Eq => "==",
        Tok::Ne => "!=",
        Tok::Le => "<=",
        Tok::Ge => ">=",
        Tok::Plus => "+",
        Tok::Minus => "-",
        Tok::Star => "*",
        Tok::Percent => "%",
        Tok::AndAnd => "&&",
        Tok::OrOr => "||",
        Tok::Not => "!",
        Tok::Amp => "&",
        Tok::Pipe => "|",
        Tok::Caret => "^",
        Tok::Shl => "<<",
        Tok::Shr => ">>",
        Tok::Tilde => "~",
        _ => "?",
    }
}

/// What went wrong while lexing.
#[derive(Debug, Clone, PartialEq)]
pub struct LexError {
    pub span: Span,
    pub kind: LexErrorKind,
}

/// The most tokens one use of a `#define` may expand to (see `Lexer::expand_define`).
pub const MAX_EXPANSION: usize = 10_000;

#[derive(Debug, Clone, PartialEq)]
pub enum LexErrorKind {
    UnexpectedChar(char),
    UnterminatedString,
    UnterminatedComment,
    BadEscape(char),
    IntTooLarge,
    UnterminatedDefinition,
    /// A use of a `#define` whose expansion (through other `#define`s) runs past
    /// `MAX_EXPANSION` tokens.
    DefineTooLarge,
}

impl LexError {
    pub fn to_diagnostic(&self) -> Diagnostic {
        match &self.kind {
            // A backtick is quoted Markdown's way, in double backticks.
            LexErrorKind::UnexpectedChar('`') => {
                Diagnostic::error("unexpected character `` ` ``").at(self.span, "not valid here")
            }
            LexErrorKind::UnexpectedChar(c) => {
                Diagnostic::error(format!("unexpected character `{c}`")).at(self.span, "not valid here")
            }
            LexErrorKind::UnterminatedString => {
                Diagnostic::error("unterminated string").at(self.span, "this string has no closing `\"`")
            }
            LexErrorKind::UnterminatedComment => Diagnostic::error("unterminated comment")
                .at(self.span, "this comment has no closing `*/`"),
            LexErrorKind::BadEscape(c) => Diagnostic::error(format!("unknown escape `\\{c}`"))
                .at(self.span, "not a valid escape")
                .help("valid escapes are \\n \\t \\r \\\\ \\\" \\0 and \\xHH"),
            LexErrorKind::UnterminatedDefinition => Diagnostic::error("unterminated struct definition")
                .at(self.span, "this definition has no closing `}`"),
            LexErrorKind::IntTooLarge => {
                Diagnostic::error("integer literal too large").at(self.span, "does not fit in 64 bits")
            }
            LexErrorKind::DefineTooLarge => Diagnostic::error("`#define` expansion too large")
                .at(self.span, format!("expands to more than {MAX_EXPANSION} tokens"))
                .note("`#define`s that use other `#define`s several times grow exponentially"),
        }
    }
}

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
    #[regex(r"[0-9][0-9_]*([eE][0-9]+)?(ns|us|ms|s|m|h|d)?|0[xX][0-9a-fA-F_]+")]
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
    /// A map declaration, up to its `;`.
    MapDecl,
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
    /// Whether the last two tokens were `sizeof (`, and whether the last was `sizeof`.
    in_sizeof: bool,
    last_was_sizeof: bool,
    /// The names macro headers declare (macros and their parameters): values, not types, in
    /// `(NAME) - x`.
    macro_names: Vec<&'a str>,
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
            in_sizeof: false,
            last_was_sizeof: false,
            macro_names: Vec::new(),
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
            _ if starts_c_definition(self.rest()) => self.c_definition(),
            _ if starts_macro(self.rest()) => {
                self.mode = Mode::MacroHeader;
                self.single(Tok::Macro, "macro".len())
            }
            _ if starts_map_decl(self.rest()) => {
                self.mode = Mode::MapDecl;
                self.single(Tok::Let, "let".len())
            }
            _ => self.attach_point(),
        })
    }

    /// `struct NAME { … };` at the top level, up to the matching `}` and an optional `;`.
    fn c_definition(&mut self) -> Spanned<'a> {
        let start = self.pos;
        let rest = self.rest();
        let mut depth = 0usize;
        let mut end = None;
        for (i, c) in rest.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
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
        let after = &rest[end..];
        let trimmed = after.trim_start();
        if trimmed.starts_with(';') {
            end += after.len() - trimmed.len() + 1;
        }
        self.pos += end;
        (start, Tok::CDefinition(&rest[..end]), self.pos)
    }

    /// An attach point runs until a blank, `,`, `{`, `<`, or a `/` that is not part of a path.
    /// A field (between `:`s) that starts with `/` or `.` is a path and may hold `/`; so may a
    /// field that goes on, in path characters only, to a `:` (`uprobe:bin/app:main`): a
    /// predicate follows the last field, so such a `/` cannot start one.
    fn attach_point(&mut self) -> Spanned<'a> {
        let start = self.pos;
        let rest = self.rest();
        let mut end = 0;
        let mut in_path = false;
        let mut field_start = true;
        for (i, c) in rest.char_indices() {
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
                        Tok::Ident(text)
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
        self.field_may_start = matches!(tok, Tok::LParen | Tok::Comma);
        self.in_sizeof = tok == Tok::LParen && self.last_was_sizeof;
        self.last_was_sizeof = tok == Tok::Sizeof;
        self.after_lparen = tok == Tok::LParen;
        if let (Mode::MacroHeader, Tok::Ident(name)) = (self.mode, &tok) {
            self.macro_names.push(*name);
        }
        if self.mode == Mode::MacroHeader && tok == Tok::LBrace {
            self.mode = Mode::Body { angle: false, depth: 0, stmt_start: true };
            return Some((start, Tok::BodyOpen, end));
        }
        if self.mode == Mode::MapDecl && tok == Tok::Semi {
            self.mode = Mode::Top;
        }
        if let Mode::Body { angle, depth, stmt_start } = &mut self.mode {
            match tok {
                Tok::LBrace => *depth += 1,
                Tok::RBrace if *depth == 0 && !*angle => {
                    self.mode = Mode::Top;
                    return Some((start, Tok::BodyClose, end));
                }
                Tok::RBrace => *depth = depth.saturating_sub(1),
                _ => {}
            }
            *stmt_start = matches!(tok, Tok::Semi | Tok::RBrace | Tok::LBrace);
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
                        '0' => out.push('\0'),
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
    /// the name (kernel typedefs from BTF). In `sizeof(NAME)`, `NAME` is a type unless it is
    /// one of those values.
    fn cast_type_follows(&self, name: &str, end: usize) -> bool {
        let mut pos = end;
        let mut stars = 0;
        let next = loop {
            match self.raw_after(pos) {
                Some((RawTok::Star, e)) => {
                    stars += 1;
                    pos = e;
                }
                Some((RawTok::RParen, e)) => break self.raw_after(e).map(|(t, _)| t),
                _ => return false,
            }
        };
        use crate::builtins::{builtin, constant};
        let value = || builtin(name).is_some() || constant(name).is_some() || self.macro_names.iter().any(|m| *m == name);
        if stars > 0 {
            return true;
        }
        if self.in_sizeof {
            return !value();
        }
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
        if let Mode::Body { stmt_start, .. } = &mut self.mode {
            *stmt_start = false;
        }
    }
}

/// Integer literals: decimal (`1_000`), hex, octal (`0644`), `1e6`, and durations in
/// nanoseconds (`5s`, `100ms`, `10us`, `3ns`, `2m`, `1h`, `1d`).
fn parse_int(text: &str) -> Option<u64> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
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
        "int8" | "int16" | "int32" | "int64" | "uint8" | "uint16" | "uint32" | "uint64" | "bool" | "char" | "short"
        | "int" | "long" | "unsigned" | "signed" | "void" | "u8" | "u16" | "u32" | "u64" | "s8" | "s16" | "s32"
        | "s64" => Tok::TypeName(text),
        _ => return None,
    })
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

/// Whether the top level continues with `let @`.
fn starts_map_decl(rest: &str) -> bool {
    rest.strip_prefix("let").is_some_and(|after| after.starts_with(char::is_whitespace) && after.trim_start().starts_with('@'))
}

/// Whether the top level continues with `struct NAME {` or `union NAME {`.
fn starts_c_definition(rest: &str) -> bool {
    let Some(after) = rest.strip_prefix("struct").or_else(|| rest.strip_prefix("union")) else { return false };
    if !after.starts_with(char::is_whitespace) {
        return false;
    }
    let after = after.trim_start();
    let name_end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
    name_end > 0 && after[name_end..].trim_start().starts_with('{')
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

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok<'_>> {
        let t: Vec<Tok> = Lexer::new(src).map(|(_, t, _)| t).collect();
        assert!(!t.iter().any(|t| matches!(t, Tok::Error(_))), "{t:?}");
        t
    }

    #[test]
    fn attach_points_and_brace_body() {
        assert_eq!(
            toks("tracepoint:syscalls:sys_enter_openat, BEGIN { @[comm] = count(); }"),
            vec![
                Tok::AttachPoint("tracepoint:syscalls:sys_enter_openat"),
                Tok::Comma,
                Tok::AttachPoint("BEGIN"),
                Tok::BodyOpen,
                Tok::Map("@"),
                Tok::LBracket,
                Tok::Ident("comm"),
                Tok::RBracket,
                Tok::Assign,
                Tok::Ident("count"),
                Tok::LParen,
                Tok::RParen,
                Tok::Semi,
                Tok::BodyClose,
            ]
        );
    }

    #[test]
    fn angle_body_closes_only_where_a_statement_begins() {
        let t = toks("BEGIN < if ($a > 1) { @x = 2; } >");
        assert!(t.contains(&Tok::Gt));
        assert_eq!(t.last(), Some(&Tok::AngleClose));
        assert_eq!(t[1], Tok::AngleOpen);
        assert_eq!(toks("BEGIN <>"), vec![Tok::AttachPoint("BEGIN"), Tok::AngleOpen, Tok::AngleClose]);
        // Without the `;` the `>` is a comparison.
        let t = toks("BEGIN < @x = 1 >");
        assert_eq!(t.last(), Some(&Tok::Gt));
    }

    #[test]
    fn predicate_ends_at_slash_before_body() {
        let t = toks("tracepoint:a:b /pid / 2 == 1/ { }");
        assert_eq!(
            t,
            vec![
                Tok::AttachPoint("tracepoint:a:b"),
                Tok::PredOpen,
                Tok::Ident("pid"),
                Tok::Slash,
                Tok::Int(2),
                Tok::Eq,
                Tok::Int(1),
                Tok::PredClose,
                Tok::BodyOpen,
                Tok::BodyClose,
            ]
        );
    }

    #[test]
    fn paths_comments_and_shebang() {
        let t = toks("#!/usr/bin/rtrace\n// c\nuprobe:/bin/bash:readline /* x */ { }");
        assert_eq!(t[0], Tok::AttachPoint("uprobe:/bin/bash:readline"));
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn relative_paths_and_predicates() {
        let t = toks("uprobe:bin/app:main /pid/ { }");
        assert_eq!(t[0], Tok::AttachPoint("uprobe:bin/app:main"));
        let t = toks("uprobe:bin/app:main/pid/ { }");
        assert_eq!(t[0], Tok::AttachPoint("uprobe:bin/app:main"));
        assert_eq!(t[1], Tok::PredOpen);
        let t = toks("kprobe:f/arg0 == 1/ { }");
        assert_eq!(t[0], Tok::AttachPoint("kprobe:f"));
    }

    #[test]
    fn strings_and_ints() {
        let t = toks(r#"BEGIN { printf("a\tb\n%d", 0x10, 1_000); }"#);
        assert!(t.contains(&Tok::Str("a\tb\n%d".into())));
        assert!(t.contains(&Tok::Int(16)));
        assert!(t.contains(&Tok::Int(1000)));
    }

    #[test]
    fn cast_type_names() {
        let names = |src| {
            toks(src).into_iter().filter_map(|t| if let Tok::TypeName(n) = t { Some(n) } else { None }).collect::<Vec<_>>()
        };
        assert_eq!(names("BEGIN { (a)1; (b)$x; (c)(1); (d)-1; (e *)p; (f * *)p; (g)!x; (h)@m; (i)j; sizeof(k); }"), [
            "a", "b", "c", "d", "e", "f", "g", "h", "i", "k"
        ]);
        // Values in parentheses: before a binary operator, or a builtin, constant or macro
        // parameter before `-`, `*` or `&`.
        let values = "macro m(x) { (x) - 1 } BEGIN { (a) + 1; (b) == 1; (c) != 1; (d) && 1; (e) -> f; (g); f((h)); \
                      (pid) - 1; (tid) * 2; (uid) & 1; (TASK_RUNNING) - 1; sizeof(pid); (x)--; }";
        assert_eq!(names(values), Vec::<&str>::new());
    }

    #[test]
    fn record_field_names() {
        let t = toks("BEGIN { $r = (a = 1, b=2); $c = (a == 1, b); f(x, y); }");
        assert_eq!(t.iter().filter(|t| matches!(t, Tok::FieldName(_))).count(), 2);
        assert!(t.contains(&Tok::FieldName("a")) && t.contains(&Tok::FieldName("b")));
        assert!(t.contains(&Tok::Ident("x")) && t.contains(&Tok::Ident("y")));
    }

    fn errors(src: &str) -> Vec<LexError> {
        Lexer::new(src)
            .filter_map(|(_, t, _)| match t {
                Tok::Error(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn errors_have_spans() {
        let e = &errors("BEGIN { \"abc }")[0];
        assert_eq!(e.kind, LexErrorKind::UnterminatedString);
        assert_eq!(e.span, Span::new(8, 14));
    }

    #[test]
    fn lexing_goes_on_after_errors() {
        let src = "} BEGIN { $a = `1; $ = \"a\\qb\\\"c\" + 99999999999999999999; \"x\n @b = 1; } /* x";
        let kinds: Vec<LexErrorKind> = errors(src).into_iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![
                LexErrorKind::UnexpectedChar('}'),
                LexErrorKind::UnexpectedChar('`'),
                LexErrorKind::UnexpectedChar('$'),
                LexErrorKind::BadEscape('q'),
                LexErrorKind::IntTooLarge,
                LexErrorKind::UnterminatedString,
                LexErrorKind::UnterminatedComment,
            ]
        );
        // What follows each error is lexed as usual: the rest of a string with a bad escape
        // is skipped, an unterminated string ends at the end of its line.
        let toks: Vec<Tok> = Lexer::new(src).map(|(_, t, _)| t).collect();
        assert!(toks.contains(&Tok::Int(1)) && toks.contains(&Tok::Map("@b")) && toks.contains(&Tok::BodyClose));
        assert!(!toks.iter().any(|t| matches!(t, Tok::Ident("c") | Tok::Ident("b"))));
    }
}
