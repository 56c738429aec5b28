//! Errors of bpftrace 0.26's standard library helpers (docs/stdlib.md) that rtrace added:
//! builtins called as functions, task reads, string helpers, messages and assertions.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub enum StdlibError {
    /// A builtin called with arguments it does not take (`pid(1)`).
    /// `task`: a task read, which takes at most one argument.
    BuiltinArgs { name: String, task: bool, span: Span },
    /// `pcomm(x)` and the other task reads of something not a `struct task_struct *`.
    TaskArg { name: String, found: &'static str, span: Span },
    /// `nsecs(x)`, `pid(x)`, `tid(x)` with a mode they do not have.
    BuiltinMode { name: &'static str, modes: &'static str, span: Span },
    /// `find()`'s third argument not a variable.
    FindVariable { span: Span },
    /// `assert()`'s message not a string literal.
    AssertMessage { span: Span },
    /// A string helper given something not a string.
    StringArg { func: &'static str, signature: &'static str, found: &'static str, span: Span },
}

impl StdlibError {
    pub(super) fn diagnostic(&self) -> Diagnostic {
        use StdlibError::*;
        match self {
            BuiltinArgs { name, task: false, span } => error(format!("`{name}()` takes no arguments"))
                .at(*span, "arguments given")
                .help(format!("write `{name}` or `{name}()`")),
            BuiltinArgs { name, task: true, span } => error(format!("`{name}()` takes at most one argument, a task"))
                .at(*span, "too many arguments")
                .help(format!("write `{name}`, `{name}()` or `{name}(task)`")),
            TaskArg { name, found, span } => error(format!("`{name}()` takes a `struct task_struct *`, not {found}"))
                .at(*span, "not a task")
                .help(format!("write `{name}` for the current task, or pass one such as `curtask->real_parent`")),
            BuiltinMode { name, modes, span } => error(format!("`{name}()` takes {modes}"))
                .at(*span, "not a mode")
                .help(format!("write `{name}` for the default")),
            FindVariable { span } => error("`find()` stores the value in a variable")
                .at(*span, "not a variable")
                .help("the signature is `find(@map, key, $var)`"),
            AssertMessage { span } => error("`assert()`'s message must be a string literal")
                .at(*span, "not a string literal")
                .help("for a message with values, write `if (!cond) { errorf(\"…\", …); exit(1); }`"),
            StringArg { func, signature, found, span } => {
                let what = if signature.contains(',') { "strings" } else { "a string" };
                error(format!("`{func}()` takes {what}, not {found}"))
                .at(*span, this_is(found))
                    .help(format!("the signature is `{signature}`; `str()` reads a string from a pointer"))
            }
        }
    }
}
