//! The tokens the parser sees, and the lexer's errors as data (each worded once, in
//! `LexError::diagnostic`).

use crate::diag::{Diagnostic, Span};

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
    /// `config`, starting the config block (`config = { … }`) at the top level.
    Config,
    /// `import`, starting `import "path";` at the top level.
    Import,
    /// `typeof`, in a type context: `typeof(expr)`, `typeof(type)`.
    Typeof,
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
    /// `{` where an expression is wanted (after `=`, `(`, `,`, `?`, `:`, an operator): a
    /// block expression, `{ let $b = 1; $b }`. Told apart here so that a `{` starting a
    /// statement stays a block statement, and the grammar free of conflicts.
    ExprBlockOpen,
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
            Tok::Config => "`config`".into(),
            Tok::Import => "`import`".into(),
            Tok::Typeof => "`typeof`".into(),
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
        Tok::BodyOpen | Tok::LBrace | Tok::ExprBlockOpen => "{",
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
                .help("valid escapes are \\n \\t \\r \\\\ \\\" \\NNN (octal) and \\xHH"),
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
