//! Sema's errors as data: the attach points probe expansion refuses (`ProbeError`, in
//! `errors/probes.rs`), and every error and warning of the type checker, the map declarations
//! and the values looked up after the checks, one enum per family (in `errors/`), each
//! holding what its message needs (spans, names, the types involved, already described);
//! all their wording is in their `diagnostic()`. Two errors are the same error when they are
//! of the same kind at the same place (`CheckError::identity`), whatever their text.

mod args;
mod calls;
mod expr;
mod kernel;
mod maps;
mod probes;
mod stdlib;
mod stmt;

pub use args::ArgError;
pub use calls::CallError;
pub use expr::ExprError;
pub use kernel::KernelError;
pub use maps::MapError;
pub use probes::*;
pub use stdlib::StdlibError;
pub use stmt::StmtError;

use crate::diag::{Diagnostic, Span};
use std::hash::{Hash, Hasher};

/// A type checker error (or warning), by family.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckError {
    Stmt(StmtError),
    Expr(ExprError),
    Arg(ArgError),
    Kernel(KernelError),
    Map(MapError),
    Call(CallError),
    Stdlib(StdlibError),
}

macro_rules! families {
    ($($family:ident($error:ident)),*) => {
        $(impl From<$error> for CheckError {
            fn from(e: $error) -> CheckError {
                CheckError::$family(e)
            }
        })*

        impl CheckError {
            /// The error as the user reads it.
            pub fn diagnostic(&self) -> Diagnostic {
                match self {
                    $(CheckError::$family(e) => e.diagnostic(),)*
                }
            }

            /// The kind of error (its family and variant) and where it points: an error met
            /// again (in another attach point of a probe, or a macro expanded twice) is
            /// reported once.
            pub fn identity(&self) -> (u64, Option<Span>) {
                let mut kind = std::collections::hash_map::DefaultHasher::new();
                match self {
                    $(CheckError::$family(e) => std::mem::discriminant(e).hash(&mut kind),)*
                }
                (kind.finish(), self.diagnostic().primary.map(|(span, _)| span))
            }
        }
    };
}

families!(Stmt(StmtError), Expr(ExprError), Arg(ArgError), Kernel(KernelError), Map(MapError), Call(CallError), Stdlib(StdlibError));

/// What needed an integer (`ExprError::NotInteger`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IntWanted {
    Predicate,
    If,
    While,
    Ternary,
    ForRange,
    Index,
    /// `op=`.
    Compound(&'static str),
    /// An aggregation's arguments.
    Aggregation(&'static str),
    PrintTopDiv,
    StrftimeNsecs,
    /// `kptr()`, `uptr()`.
    Pointer(&'static str),
    /// `ksym()`, `usym()`.
    Address(&'static str),
    Bswap,
    Signal,
    /// A byte count (`memcmp()`).
    Count(&'static str),
    /// A number to print as a name (`strerror()`).
    Number(&'static str),
    /// A condition (`assert()`).
    Condition(&'static str),
    /// `return N;`.
    Return,
}

/// What rtrace cannot do yet (`ExprError::Unsupported`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unsupported {
    /// A type other than an integer where a variable's type or a cast is written.
    NonIntegerTypes,
    AddressOf,
}

/// What a variable held before (`StmtError::VarTypeMismatch`).
#[derive(Debug, Clone, PartialEq)]
pub enum Before {
    /// It was first assigned a value of this type (described).
    Assigned(String),
    /// It was declared with this type, as written.
    Declared(String),
}

/// An array in memory cast to an integer (`KernelError::MemoryArrayCast`).
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayDesc {
    Bytes(u32),
    /// Of elements of a kernel type that is not an integer.
    Of(String),
}

/// Whose arguments `argN` is past (`ArgError::PastLastArg`).
#[derive(Debug, Clone, PartialEq)]
pub enum ArgsOf {
    RawTracepoint(String),
    /// `provider:name`.
    Usdt(String),
}

/// A printf format that does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatError {
    UnknownConversion(char),
    Unfinished,
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            FormatError::UnknownConversion(c) => write!(f, "unknown printf conversion `%{c}`"),
            FormatError::Unfinished => write!(f, "printf format ends in the middle of a conversion"),
        }
    }
}

fn error(message: impl Into<String>) -> Diagnostic {
    Diagnostic::error(message)
}

/// "s" for other counts than one.
fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A "did you mean" help, if there is a suggestion.
fn suggest(d: Diagnostic, suggestion: &Option<String>) -> Diagnostic {
    match suggestion {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d,
    }
}

fn this_is(found: &str) -> String {
    format!("this is {found}")
}


const HIST_K_HELP: &str = "hist(n, k) makes 2^k buckets per power of two, k from 0 to 5: e.g. `hist($x, 2)`";

impl IntWanted {
    fn message(self) -> String {
        match self {
            IntWanted::Predicate => "a predicate must be an integer condition".into(),
            IntWanted::If => "an `if` condition must be an integer".into(),
            IntWanted::While => "a `while` condition must be an integer".into(),
            IntWanted::Ternary => "a condition must be an integer".into(),
            IntWanted::ForRange => "a `for` range needs integer bounds".into(),
            IntWanted::Index => "an index must be an integer".into(),
            IntWanted::Compound(op) => format!("`{op}=` needs an integer"),
            IntWanted::Aggregation(func) => format!("`{func}()` takes integers"),
            IntWanted::PrintTopDiv => "`print()`'s top and div are integers".into(),
            IntWanted::StrftimeNsecs => "`strftime()` takes nanoseconds since boot, such as `nsecs`".into(),
            IntWanted::Pointer(func) => format!("`{func}()` takes a pointer"),
            IntWanted::Address(func) => format!("`{func}()` takes an address"),
            IntWanted::Bswap => "`bswap()` takes an integer".into(),
            IntWanted::Signal => "`signal()` takes a signal name or number".into(),
            IntWanted::Count(func) => format!("`{func}()`'s count is an integer"),
            IntWanted::Number(func) => format!("`{func}()` takes an integer"),
            IntWanted::Condition(func) => format!("`{func}()`'s condition must be an integer"),
            IntWanted::Return => "a probe returns an integer".into(),
        }
    }
}

/// Drops repeats (the same kind of error at the same place), keeping the first.
pub fn dedup(errors: &mut Vec<CheckError>) {
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert(e.identity()));
}
