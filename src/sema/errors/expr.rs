//! Expressions: operand types, operators, tuples and records, arguments of the wrong kind.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub enum ExprError {
    /// A value that is not an integer where one is wanted; `found` describes it ("a string").
    NotInteger { wanted: IntWanted, found: &'static str, span: Span },
    /// `func()`'s argument `arg` must be a string literal (`span`: the argument, if given).
    NotStringLiteral { func: &'static str, arg: &'static str, span: Option<Span> },
    Unsupported { what: Unsupported, span: Span },
    /// `$N` past the positional parameters a built tool can take.
    TooManyToolParams { name: String, max: u32, span: Span },
    Arity { func: &'static str, signature: &'static str, min: usize, max: usize, given: usize, span: Span },
    Unsafe { func: &'static str, span: Span },
    UnaryOperand { op: &'static str, found: &'static str, span: Span },
    BinaryOperands { op: &'static str, left: &'static str, right: &'static str, bad: &'static str, span: Span },
    ArrayCompare { left: String, right: String, left_span: Span, span: Span },
    /// A sign mismatch warning; `comparison`: in a comparison, else in arithmetic.
    SignMismatch { comparison: bool, left: &'static str, right: &'static str, span: Span },
    TupleElement { found: &'static str, span: Span },
    RecordField { found: &'static str, span: Span },
    DuplicateField { name: String, first: Span, span: Span },
    IndexOutOfRange { index: i64, array: String, len: u8, span: Span },
    TupleIndexOfNonTuple { index: u64, found: &'static str, span: Span },
    TupleIndexOutOfRange { index: u64, len: usize, span: Span },
    TernaryBranches { then: String, els: String, then_span: Span, span: Span },
    NoRecordField { record: String, field: String, suggestion: Option<String>, span: Span },
    NotARecord { op: &'static str, found: &'static str, span: Span },
    /// `(string[N])x` of something that is not a string.
    CastToString { found: &'static str, span: Span },
    /// `(string[N])s` with N missing, 0 or past 1024.
    StringCastLength { span: Span },
    /// `$t[i]`, `$s[i]` where `i` is not a constant.
    ConstantIndex { of: &'static str, span: Span },
    /// `$t[i]`, `$s[i]` past the end.
    ConstantIndexRange { of: String, index: i64, len: i64, span: Span },
    /// `typeof(EXPR)` where EXPR's type cannot stand where it is written (a cast, `sizeof`).
    TypeofHere { found: &'static str, span: Span },
    /// Config `unstable_typeinfo`: `error` (the default) forbids `typeinfo()`, `warn` warns.
    TypeinfoUnstable { error: bool, span: Span },
    TypeinfoOf { found: &'static str, span: Span },
    /// `typeof(TYPE)` as an argument of something that is not a macro.
    TypeArgument { span: Span },
    /// `&` of something that is neither a variable nor a map.
    AddressOfOperand { span: Span },
    /// `&$v` where `$v` is not stored as an integer (a string, a tuple).
    AddressOfValue { found: &'static str, span: Span },
}

impl ExprError {
    pub(super) fn diagnostic(&self) -> Diagnostic {
        use ExprError::*;
        match self {
            NotInteger { wanted, found, span } => error(wanted.message()).at(*span, this_is(found)),
            CastToString { found, span } => error(format!("cannot cast {found} to a string"))
                .at(*span, this_is(found))
                .help("`(string[N])` resizes a string; `str(p, N)` reads one from memory"),
            StringCastLength { span } => {
                error("a string cast needs a length from 1 to 1024: `(string[64])s`").at(*span, "no length in range")
            }
            ConstantIndex { of, span } => error(format!("the index of {of} must be a constant"))
                .at(*span, "not a constant")
                .help("write an integer, or literals and `+`, `-`, `*`: `$t[1]`, `$t[2 - 1]`"),
            ConstantIndexRange { of, index, len, span } => {
                error(format!("index {index} is out of range for {of}")).at(*span, format!("valid indexes are 0 to {}", len - 1))
            }
            TypeinfoUnstable { error: true, span } => error(
                "typeinfo feature is not enabled by default. To enable this unstable feature, set the config flag to enable. unstable_typeinfo=enable",
            )
            .at(*span, "an unstable feature"),
            TypeinfoUnstable { error: false, span } => crate::diag::Diagnostic::warning(
                "Script is using an unstable feature: typeinfo. To prevent this warning you must explicitly enable it in the config e.g. unstable_typeinfo=enable",
            )
            .at(*span, "typeinfo() is unstable in bpftrace 0.26"),
            TypeinfoOf { found, span } => error(format!("`typeinfo` of {found} is not supported by rtrace")).at(*span, this_is(found)),
            TypeofHere { found, span } => error(format!("`typeof` of {found} cannot be used here"))
                .at(*span, this_is(found))
                .help("here `typeof` takes an expression of an integer or pointer type"),
            TypeArgument { span } => error("a type is an argument only of a macro")
                .at(*span, "a type")
                .help("`typeof(TYPE)` passes a type to a macro that uses its parameter as one: `(a *)b`"),
            AddressOfOperand { span } => {
                error("`&` takes a variable or a map").at(*span, "neither a variable nor a map").help("write `&$var` or `&@map`")
            }
            AddressOfValue { found, span } => error(format!("cannot take the address of a variable holding {found}"))
                .at(*span, this_is(found))
                .note("rtrace takes the address of integer and pointer variables and maps"),
            TooManyToolParams { name, max, span } => {
                error(format!("a tool made by `rtrace build` takes at most {max} parameters, not `{name}`")).at(*span, "not a tool parameter")
            }
            NotStringLiteral { func, arg, span } => {
                let d = error(format!("`{func}()`'s {arg} must be a string literal"));
                match span {
                    Some(span) => d.at(*span, "not a string literal"),
                    None => d,
                }
            }
            Unsupported { what, span } => {
                let what = match what {
                    self::Unsupported::NonIntegerTypes => "struct, pointer and array types",
                    self::Unsupported::AddressOf => "`&` addresses",
                };
                error(format!("{what} are not supported by rtrace yet")).at(*span, "not supported yet")
            }
            Arity { func, signature, min, max, given, span } => {
                let want = if min == max {
                    format!("{min} argument{}", plural(*min))
                } else if *max == usize::MAX {
                    format!("at least {min} argument{}", plural(*min))
                } else {
                    format!("{min} to {max} arguments")
                };
                error(format!("`{func}()` takes {want}, but {given} were given"))
                    .at(*span, "wrong number of arguments")
                    .help(format!("the signature is `{signature}`"))
            }
            Unsafe { func, span } => {
                let what = match *func {
                    "system" => "it runs a shell command for each event",
                    "signal_thread" => "it sends a signal to the traced thread",
                    "write_user" => "it writes to the traced process's memory",
                    "override" => "it changes what the traced function returns",
                    _ => "it sends a signal to the traced process",
                };
                error(format!("`{func}()` is unsafe: {what}")).at(*span, "needs `--unsafe`").help("run `rtrace --unsafe …` to allow it")
            }
            UnaryOperand { op, found, span } => error(format!("cannot apply `{op}` to {found}")).at(*span, this_is(found)),
            BinaryOperands { op, left, right, bad, span } => {
                let d = error(format!("cannot apply `{op}` to {left} and {right}")).at(*span, this_is(bad));
                match (*left, *right) {
                    ("a string", "a string") => d.note("strings can only be compared with `==` and `!=`"),
                    _ => d,
                }
            }
            ArrayCompare { left, right, left_span, span } => error(format!("cannot compare `{left}` with `{right}`"))
                .at(*span, format!("this is `{right}`"))
                .also(*left_span, format!("this is `{left}`"))
                .note("arrays compare equal when they have the same type and elements"),
            SignMismatch { comparison, left, right, span } => {
                let what = if *comparison { "comparison of" } else { "arithmetic on" };
                Diagnostic::warning(format!("{what} integers of different signs: {left} and {right}"))
                    .at(*span, "may not be what it reads as")
                    .help("cast one side, e.g. `(int64)x`, to say which is meant")
            }
            TupleElement { found, span } => error(format!("a tuple cannot hold {found}")).at(*span, this_is(found)),
            RecordField { found, span } => error(format!("a record cannot hold {found}")).at(*span, this_is(found)),
            DuplicateField { name, first, span } => {
                error(format!("a record has two fields named `{name}`")).at(*span, "second field").also(*first, "first field")
            }
            IndexOutOfRange { index, array, len, span } => error(format!("index {index} is out of range for `{array}`"))
                .at(*span, format!("the array has {len} elements: 0 to {}", len - 1)),
            TupleIndexOfNonTuple { index, found, span } => {
                error(format!("`.{index}` needs a tuple, but this is {found}")).at(*span, this_is(found))
            }
            TupleIndexOutOfRange { index, len, span } => error(format!("tuple index {index} is out of range"))
                .at(*span, format!("this tuple has {len} elements: `.0` to `.{}`", len.saturating_sub(1))),
            TernaryBranches { then, els, then_span, span } => {
                error(format!("the branches of `?:` have different types: {then} and {els}"))
                    .at(*span, this_is(els))
                    .also(*then_span, this_is(then))
            }
            NoRecordField { record, field, suggestion, span } => {
                suggest(error(format!("record `{record}` has no field `{field}`")).at(*span, "unknown field"), suggestion)
            }
            NotARecord { op, found, span } => error(format!("`{op}` needs a record, but this is {found}")).at(*span, this_is(found)),
        }
    }
}
