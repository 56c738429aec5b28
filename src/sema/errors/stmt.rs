//! Statements and variables: assignments, loops, `++` and `op=` targets.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub enum StmtError {
    /// An aggregation (`count()`) not assigned to a map; `statement`: as a statement of its own.
    AggregationNotAssigned { func: String, statement: bool, span: Span },
    UnrollCount { span: Span },
    OutsideLoop { word: &'static str, span: Span },
    ReturnInMapLoop { span: Span },
    LoopVarOfOuterLoop { var: String, span: Span },
    LoopVarAssignedBefore { var: String, span: Span },
    AssignToLoopVar { var: String, span: Span },
    AssignNoValue { found: &'static str, span: Span },
    /// A variable given a value of another type than before (`before`).
    VarTypeMismatch { var: String, found: String, before: Before, first: Span, other_kinds: bool, span: Span },
    /// An integer literal outside `min..=max`, the range of a variable declared `bits` wide.
    LiteralDoesNotFit { var: String, n: i128, bits: u32, signed: bool, min: i128, max: i128, span: Span },
    NotIntegerVariable { op: String, var: String, found: &'static str, span: Span },
    NotUpdatable { op: String, span: Span },
    VarOutsideLoop { var: String, loop_var: Span, span: Span },
    VarBeforeAssigned { var: String, suggestion: Option<String>, span: Span },
    InMapLoop { name: String, span: Span },
    /// A variable read after the block that declared it (`first`) ended (block scoping).
    /// `loop_var`: the variable of a `for` loop over a range, read after the loop.
    VarOutOfScope { var: String, first: Span, loop_var: bool, span: Span },
    /// `let $v` where `$v` (declared at `first`) is visible already.
    LetShadows { var: String, first: Span, span: Span },
    /// A statement whose value is not used (`has_key(@a, 1);`, `{ 1 }`): a warning.
    DiscardedValue { span: Span },
    /// `exit()` inside a `for` loop (bpftrace 0.25 and later refuse it).
    ExitInForLoop { span: Span },
}

impl StmtError {
    pub(super) fn diagnostic(&self) -> Diagnostic {
        use StmtError::*;
        match self {
            AggregationNotAssigned { func, statement, span } => error(format!("`{func}()` must be assigned to a map"))
                .at(*span, if *statement { "its value is not stored anywhere" } else { "an aggregation has no value here" })
                .help(format!("write `@name = {func}(…);`")),
            UnrollCount { span } => {
                error("`unroll` takes an integer literal from 1 to 100").at(*span, "not a count from 1 to 100")
            }
            OutsideLoop { word, span } => error(format!("`{word}` outside a loop")).at(*span, "not inside `while` or `for`"),
            DiscardedValue { span } => Diagnostic::warning("return value discarded")
                .at(*span, "this value is not used")
                .help("assign it to `_` (`_ = …;`) to discard it on purpose"),
            ExitInForLoop { span } => error("`exit()` cannot be used inside a `for` loop")
                .at(*span, "inside a `for` loop")
                .help("`exit()` returns from the probe, which a loop's body cannot do: set a variable, `break`, and call `exit()` after the loop"),
            ReturnInMapLoop { span } => error("`return` cannot be used inside a `for` loop over a map")
                .at(*span, "inside a `for` loop over a map")
                .help("use `break` to leave the loop"),
            LoopVarOfOuterLoop { var, span } => {
                error(format!("the loop variable `{var}` is already the variable of an enclosing loop"))
                    .at(*span, "already a loop's variable")
                    .help("give each loop's variable a name of its own")
            }
            LoopVarAssignedBefore { var, span } => {
                error(format!("the loop variable `{var}` has the name of a variable assigned before"))
                    .at(*span, "already a variable")
                    .help("give the loop's variable a name of its own")
            }
            AssignToLoopVar { var, span } => error(format!("cannot assign to `{var}`, the variable of a `for` loop"))
                .at(*span, "the loop's variable")
                .help("copy it to a variable of your own"),
            AssignNoValue { found, span } => error(format!("cannot assign {found} to a variable")).at(*span, "no value"),
            VarTypeMismatch { var, found, before, first, other_kinds, span } => {
                let before = match before {
                    Before::Assigned(t) => format!("`{var}` was first assigned {t} here"),
                    Before::Declared(t) => format!("`{var}` was declared `{t}` here"),
                };
                let d = error(format!("type mismatch for `{var}`")).at(*span, this_is(found)).also(*first, before);
                match other_kinds {
                    true => d.note("stacks of other depths or modes, and timestamps of other formats, are other types"),
                    false => d,
                }
            }
            LiteralDoesNotFit { var, n, bits, signed, min, max, span } => {
                let name = format!("{}int{bits}", if *signed { "" } else { "u" });
                error(format!("type mismatch for `{var}`: {n} does not fit in `{name}`"))
                    .at(*span, format!("`{name}` holds {min} to {max}"))
                    .help(format!("cast it to keep its low {bits} bits: `({name}){n}`"))
            }
            NotIntegerVariable { op, var, found, span } => {
                error(format!("`{op}` needs an integer variable")).at(*span, format!("`{var}` is {found}"))
            }
            NotUpdatable { op, span } => error(format!("`{op}` needs a variable or a map entry")).at(*span, "not a variable or map"),
            VarOutsideLoop { var, loop_var, span } => error(format!("variable `{var}` is used outside its `for` loop"))
                .at(*span, "not inside the loop")
                .also(*loop_var, "the loop's variable exists only inside the loop"),
            VarBeforeAssigned { var, suggestion, span } => suggest(
                error(format!("variable `{var}` is used before it is assigned")).at(*span, "never assigned before this use"),
                suggestion,
            ),
            VarOutOfScope { var, first, loop_var: true, span } => error(format!("undefined or undeclared variable: `{var}`"))
                .at(*span, "not inside the loop")
                .also(*first, "the loop's variable exists only inside the loop"),
            VarOutOfScope { var, first, loop_var: false, span } => error(format!("undefined or undeclared variable: `{var}`"))
                .at(*span, "not declared in this block or one around it")
                .also(*first, format!("`{var}` is declared here, in a block that has ended"))
                .help(format!("declare it before that block: `let {var};`"))
                .note("variables are block-scoped since bpftrace 0.22; `--compat=0.17` keeps 0.17's probe-wide variables"),
            LetShadows { var, first, span } => {
                error(format!("variable `{var}` was already declared; variable shadowing is not allowed"))
                    .at(*span, "declared again here")
                    .also(*first, format!("`{var}` is declared here"))
                    .help(format!("give it a name of its own, or drop `let` to assign `{var}`"))
            }
            InMapLoop { name, span } => error(format!("`{name}` cannot be used inside a `for` loop over a map"))
                .at(*span, "needs the probe's context, which the loop's body does not have")
                .help("read what you need into a variable before the loop"),
        }
    }
}
