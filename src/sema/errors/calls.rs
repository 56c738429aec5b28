//! Function calls: unknown functions, printf formats and their arguments, each function's own rules, and the values looked up after the checks (`kaddr()`, `uaddr()`, `cgroupid()`).

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    UnknownFunction { name: String, macros: bool, suggestion: Option<(String, bool)>, span: Span },
    /// A call of an imported C function with the wrong number of arguments.
    CArgCount { func: String, signature: String, want: usize, given: usize, span: Span },
    /// An argument of an imported C function that its parameter cannot take.
    CArgType { func: String, index: usize, param: String, want: String, found: &'static str, span: Span },
    /// An imported C function whose parameter or result a script cannot pass or take.
    CUnsupported { func: String, signature: String, what: String, span: Span },
    PrintfFormatLiteral { func: String, span: Span },
    Format { error: FormatError, span: Span },
    PrintfArgCount { func: String, convs: usize, args: usize, format: Span, span: Span },
    PrintfIntArray { array: String, span: Span },
    PrintfTuple { span: Span },
    PrintfBuffer { found: &'static str, span: Span },
    PrintfInteger { conv: char, found: &'static str, span: Span },
    PrintfTooLarge { func: String, size: usize, max: usize, span: Span },
    /// `printf()` in an iter probe (`bpf_seq_printf`): a conversion it cannot take.
    SeqPrintfConv { conv: char, found: &'static str, span: Span },
    /// `printf()` in an iter probe with more arguments than `bpf_seq_printf` takes.
    SeqPrintfArgs { args: usize, max: usize, span: Span },
    /// `printf()` in an iter probe with a `#` flag or a precision.
    SeqPrintfFlags { span: Span },
    ExitLiteral { span: Span },
    PrintTopDivWithValue { span: Span },
    CannotPrint { found: &'static str, span: Span },
    JoinArray { found: &'static str, span: Span },
    SignalInProbe { func: &'static str, kind: &'static str, span: Span },
    UnknownSignal { name: String, span: Span },
    SignalNumber { n: i64, span: Span },
    KaddrLiteral { span: Span },
    UaddrOutsideUprobe { probe: String, span: Span },
    StackMode { func: &'static str, signature: &'static str, span: Span },
    StackDepth { func: &'static str, max: u32, span: Span },
    StrCharArray { elem: String, len: u32, span: Span },
    StrPointer { found: &'static str, span: Span },
    StrncmpStrings { found: &'static str, span: Span },
    StrncmpLength { span: Span },
    StrcontainsHaystack { found: &'static str, span: Span },
    BufArgs { span: Span },
    NtopArgs { found: &'static str, span: Span },
    MacaddrArgs { found: &'static str, span: Span },
    MacaddrSize { array: String, bytes: u32, span: Span },
    /// No such kernel symbol; a warning with `--no-attach` (`no_attach`).
    NoKernelSymbol { symbol: String, no_attach: bool, span: Span },
    NoUserSymbol { symbol: String, path: String, span: Span },
    CgroupId { path: String, error: String, span: Span },
    /// A value only the build machine knows, in a program for `rtrace build`.
    NotPortable { construct: &'static str, span: Span },
}

impl CallError {
    pub(super) fn diagnostic(&self) -> Diagnostic {
        use CallError::*;
        match self {
            UnknownFunction { name, macros, suggestion, span } => {
                let what = if *macros { "function or macro" } else { "function" };
                let d = error(format!("unknown {what} `{name}`")).at(*span, format!("not a {}", what.replace(" or ", " or a ")));
                match suggestion {
                    Some((s, is_macro)) => d.help(format!("did you mean {}`{s}`?", if *is_macro { "the macro " } else { "" })),
                    None => d,
                }
            }
            PrintfFormatLiteral { func, span } => {
                error(format!("the first argument of `{func}()` must be a string literal")).at(*span, "not a string literal")
            }
            Format { error: e, span } => error(e.to_string()).at(*span, "in this format"),
            PrintfArgCount { func, convs, args, format, span } => error(format!(
                "`{func}()` format has {convs} conversion{}, but {args} argument{} given",
                plural(*convs),
                if *args == 1 { " was" } else { "s were" },
            ))
            .at(*span, "arguments")
            .also(*format, "format"),
            PrintfIntArray { array, span } => error("`printf()` cannot format an integer array")
                .at(*span, format!("this is `{array}`"))
                .help("format its elements (`$a[0]`, `$a[1]`, …), or print it whole with `print()`"),
            PrintfTuple { span } => error("`printf()` cannot format a tuple")
                .at(*span, "this is a tuple")
                .help("format its elements (`$t.0`, `$t.1`, …), or print it whole with `print()`"),
            PrintfBuffer { found, span } => error(format!("`%r` needs a buffer, but this is {found}"))
                .at(*span, this_is(found))
                .help("make one with `buf(pointer, length)`"),
            PrintfInteger { conv, found, span } => error(format!("`%{}` needs an integer, but this is {found}", if *conv == 'g' { "gr".to_string() } else { conv.to_string() }))
                .at(*span, this_is(found))
                .help("use `%s` for strings"),
            PrintfTooLarge { func, size, max, span } => {
                error(format!("`{func}()` arguments take {size} bytes, more than the {max} rtrace supports"))
                    .at(*span, "too much data for one event")
            }
            SeqPrintfConv { conv, found, span } => error(format!("`%{conv}` of {found} cannot be printed in an iter probe"))
                .at(*span, this_is(found))
                .note("an iter probe's printf writes through `bpf_seq_printf`: `%d %i %u %x %X %c` of integers and `%s` of strings"),
            SeqPrintfArgs { args, max, span } => {
                error(format!("printf in an iter probe takes at most {max} arguments, and this one has {args}"))
                    .at(*span, "too many arguments")
                    .note("an iter probe's printf writes through `bpf_seq_printf`")
            }
            SeqPrintfFlags { span } => error("printf in an iter probe takes no `#` flag and no precision")
                .at(*span, "in this format")
                .note("an iter probe's printf writes through `bpf_seq_printf`, which takes flags `-0+ ` and a width"),
            ExitLiteral { span } => error("exit() takes an integer literal").at(*span, "not a literal"),
            PrintTopDivWithValue { span } => {
                error("`print()` takes top and div only with a whole map").at(*span, "not with a single value")
            }
            CannotPrint { found, span } => error(format!("cannot print {found}")).at(*span, "no value"),
            JoinArray { found, span } => {
                error(format!("`join()` takes an array of string pointers, not {found}")).at(*span, "not a pointer")
            }
            SignalInProbe { func, kind, span } => error(format!("`{func}()` cannot be used in {kind} probes"))
                .at(*span, "no traced process here")
                .note(format!("`{func}()` signals the {} the probe fired in", if *func == "signal" { "process" } else { "thread" })),
            CArgCount { func, signature, want, given, span } => {
                error(format!("`{func}()` takes {want} argument{}, but {given} were given", plural(*want)))
                    .at(*span, "wrong number of arguments")
                    .help(format!("the signature is `{signature}`"))
            }
            CArgType { func, index, param, want, found, span } => {
                error(format!("argument {index} of `{func}()` is {found}, but parameter `{param}` is `{want}`"))
                    .at(*span, format!("not `{want}`"))
                    .help(if want.ends_with('*') { "cast it to the pointer type: `(TYPE *)value`" } else { "an integer is needed here" })
            }
            CUnsupported { func, signature, what, span } => error(format!("`{func}()` cannot be called from a script: its {what}"))
                .at(*span, "an imported C function")
                .note(format!("the signature is `{signature}`; scripts pass and take integers and pointers")),
            UnknownSignal { name, span } => error(format!("unknown signal `{name}`"))
                .at(*span, "not a signal name")
                .help("use a name such as \"SIGKILL\" (or \"KILL\"), or a number from 1 to 64"),
            SignalNumber { n, span } => error(format!("{n} is not a signal number")).at(*span, "not from 1 to 64"),
            KaddrLiteral { span } => error("`kaddr()` takes a string literal").at(*span, "not a string literal"),
            UaddrOutsideUprobe { probe, span } => error("`uaddr()` is only available in uprobe probes")
                .at(*span, format!("not available in `{probe}`"))
                .note("it looks the symbol up in the probed program"),
            StackMode { func, signature, span } => error(format!("`{func}()`'s mode must be `bpftrace`, `perf` or `raw`"))
                .at(*span, "not a stack mode")
                .help(format!("the signature is `{signature}`")),
            StackDepth { func, max, span } => {
                error(format!("`{func}()`'s depth must be an integer literal from 1 to {max}")).at(*span, "not a depth from 1 to 127")
            }
            StrCharArray { elem, len, span } => {
                error(format!("`str()` takes a char array, not {elem}[{len}]")).at(*span, "not a string")
            }
            StrPointer { found, span } => error(format!("`str()` takes a pointer, not {found}")).at(*span, "not a pointer"),
            StrncmpStrings { found, span } => error("`strncmp()` compares strings")
                .at(*span, this_is(found))
                .help("the signature is `strncmp(string a, string b, int n)`; `str()` reads a string from a pointer"),
            StrncmpLength { span } => error("`strncmp()` needs its length as an integer literal")
                .at(*span, "not a literal")
                .help("the number of bytes compared is fixed when the program is compiled"),
            StrcontainsHaystack { found, span } => error(format!("`strcontains()` takes strings, not {found}"))
                .at(*span, this_is(found))
                .help("`str()` reads a string from a pointer"),
            BufArgs { span } => error("`buf()` takes a pointer (or array) and an integer length")
                .at(*span, "wrong arguments")
                .help("the signature is `buf(void *data[, int length])`"),
            NtopArgs { found, span } => {
                error("`ntop()` takes an IPv4 address as an integer or an IPv6 address as a 16-byte array")
                    .at(*span, this_is(found))
                    .help("the signature is `ntop([int af, ] int|char[4]|char[16] addr)`")
            }
            MacaddrArgs { found, span } => error("`macaddr()` takes an array of at least 6 bytes or a pointer to them")
                .at(*span, this_is(found))
                .help("the signature is `macaddr(char[6] mac | uint8 *mac)`"),
            MacaddrSize { array, bytes, span } => error("`macaddr()` needs at least 6 bytes")
                .at(*span, format!("this is {array}, {bytes} bytes")),
            NoKernelSymbol { symbol, no_attach, span } => {
                let d = error(format!("no kernel symbol `{symbol}`")).at(*span, "not in /proc/kallsyms");
                match no_attach {
                    true => Diagnostic { severity: crate::diag::Severity::Warning, ..d.note("checked with address 0, since nothing runs") },
                    false => d,
                }
            }
            NoUserSymbol { symbol, path, span } => {
                error(format!("no symbol `{symbol}` in `{path}`")).at(*span, "not in the program's symbol tables")
            }
            CgroupId { path, error: e, span } => error(format!("cannot get the cgroup id of `{path}`: {e}"))
                .at(*span, "not a cgroup v2 directory")
                .help("cgroup v2 is mounted at /sys/fs/cgroup (or /sys/fs/cgroup/unified beside v1)"),
            NotPortable { construct, span } => error(format!("`rtrace build` cannot carry {construct} to another machine"))
                .at(*span, "resolved on the machine that compiles the script")
                .help("run the script with `rtrace SCRIPT` on the machine it traces instead (docs/build.md)"),
        }
    }
}
