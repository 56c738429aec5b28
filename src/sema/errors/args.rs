//! Identifiers, builtins and a probe's arguments (`args`, `argN`, tracepoint fields).

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub enum ArgError {
    UnknownIdent { name: String, suggestion: Option<String>, is_function: bool, span: Span },
    ArgsUnavailable { kind: &'static str, span: Span },
    /// A uprobe's `args`, and its binary has no DWARF.
    NoDebugInfo { path: String, span: Span },
    /// A uprobe's `args`, and its function takes more arguments than registers pass.
    StackPassedArgs { probe: String, span: Span },
    CpidWithoutCommand { span: Span },
    ArgPastRegisters { name: String, span: Span },
    /// A builtin only some probes have; `fields`: a tracepoint's field names, for `argN`.
    BuiltinUnavailable { name: String, needs: &'static str, probe: String, fields: Option<String>, span: Span },
    UnreadableArgType { ty: String, span: Span },
    /// A uprobe's `args.NAME` of a struct or union passed by value (or another type no
    /// register holds whole).
    ByValueArg { ty: String, span: Span },
    /// A uprobe's `args.NAME` that follows one passed by value (`before`, `TYPE NAME`).
    AfterByValueArg { name: String, before: String, span: Span },
    /// A uprobe argument's DWARF types could not be made into BTF.
    DwarfTypes { ty: String, reason: String, span: Span },
    PastLastArg { of: ArgsOf, count: usize, n: u8, probe: String, span: Span },
    UsdtArgSpec { n: u8, probe: String, spec: String, span: Span },
    NoProbeArgument { probe: String, field: String, suggestion: Option<String>, names: String, span: Span },
    NoTracepointField { tracepoint: String, field: String, suggestion: Option<String>, names: String, span: Span },
    FieldWithoutBtf { field: String, decl: String, span: Span },
    UnreadableField { field: String, decl: String, span: Span },
    /// `print(args)` of a tracepoint whose record's layout `--co-re` would relocate field by
    /// field (all but syscalls' events).
    ArgsRecordCoRe { tracepoint: String, span: Span },
}

impl ArgError {
    pub(super) fn diagnostic(&self) -> Diagnostic {
        use ArgError::*;
        match self {
            UnknownIdent { name, suggestion, is_function, span } => {
                let d = error(format!("unknown identifier `{name}`")).at(*span, "not a builtin");
                match (suggestion, is_function) {
                    (Some(_), _) => suggest(d, suggestion),
                    (None, true) => d.help(format!("`{name}` is a function: call it as `{name}(…)`")),
                    (None, false) => d,
                }
            }
            ArgsUnavailable { kind, span } => error(format!("`args` is not available in {kind} probes"))
                .at(*span, "no arguments here")
                .help("`args` holds the fields of a tracepoint's record"),
            NoDebugInfo { path, span } => error(format!("no debuginfo found for {path}"))
                .at(*span, "`args` needs the binary's DWARF")
                .help("build it with `-g`, or read the registers with `arg0` … `arg5`"),
            StackPassedArgs { probe, span } => {
                error(format!("'args' builtin is not supported for probes with stack-passed arguments ({probe})"))
                    .at(*span, "more arguments than registers")
            }
            CpidWithoutCommand { span } => {
                error("`cpid` needs a command started with `-c`").at(*span, "no command").help("run `rtrace -c 'CMD' …`")
            }
            ArgPastRegisters { name, span } => error(format!("`{name}` is past the arguments rtrace reads from registers"))
                .at(*span, "not available here")
                .help("kprobes and uprobes have `arg0` … `arg5`"),
            BuiltinUnavailable { name, needs, probe, fields, span } => {
                let d = error(format!("`{name}` is only available in {needs} probes")).at(*span, format!("not available in `{probe}`"));
                match fields {
                    Some(names) => d.help(format!("tracepoints name their arguments: use `args.NAME` (this one has {names})")),
                    None => d,
                }
            }
            UnreadableArgType { ty, span } => {
                error(format!("rtrace cannot read an argument of type `{ty}` yet")).at(*span, "unsupported argument type")
            }
            ByValueArg { ty, span } => error(format!("rtrace cannot read `{ty}`, an argument passed by value"))
                .at(*span, "passed by value")
                .help("`args` reads integers and pointers (a struct through a pointer to it); `arg0` … `arg5` read the registers"),
            AfterByValueArg { name, before, span } => {
                error(format!("rtrace cannot tell which register holds `{name}`: it follows `{before}`, passed by value"))
                    .at(*span, "after an argument passed by value")
                    .help("`arg0` … `arg5` read the registers")
            }
            DwarfTypes { ty, reason, span } => {
                error(format!("cannot read the binary's DWARF type `{ty}`: {reason}")).at(*span, "unreadable argument type")
            }
            PastLastArg { of, count, n, probe, span } => {
                let what = match of {
                    ArgsOf::RawTracepoint(name) => format!("raw tracepoint `{name}`"),
                    ArgsOf::Usdt(name) => format!("USDT probe `{name}`"),
                };
                let has = match count {
                    0 => "no arguments".to_string(),
                    1 => "one argument, `arg0`".to_string(),
                    c => format!("{c} arguments, `arg0` … `arg{}`", c - 1),
                };
                error(format!("{what} has {has}")).at(*span, format!("no `arg{n}` in `{probe}`"))
            }
            UsdtArgSpec { n, probe, spec, span } => {
                error(format!("rtrace cannot read argument {n} of USDT probe `{probe}`: `{spec}`"))
                    .at(*span, "unsupported argument location")
                    .note("rtrace reads registers, constants and memory addressed by registers, not symbols' addresses")
            }
            NoProbeArgument { probe, field, suggestion, names, span } => {
                let d = error(format!("`{probe}` has no argument `{field}`")).at(*span, "unknown argument");
                match suggestion {
                    Some(_) => suggest(d, suggestion),
                    None => d.note(format!("its arguments are: {names}")),
                }
            }
            NoTracepointField { tracepoint, field, suggestion, names, span } => {
                let d = error(format!("tracepoint `{tracepoint}` has no field `{field}`")).at(*span, "unknown field");
                match suggestion {
                    Some(_) => suggest(d, suggestion),
                    None => d.note(format!("its fields are: {names}")),
                }
            }
            FieldWithoutBtf { field, decl, span } => error(format!("rtrace cannot read field `{field}` without the kernel's BTF"))
                .at(*span, format!("declared as `{decl}`")),
            UnreadableField { field, decl, span } => {
                error(format!("rtrace cannot read field `{field}` yet")).at(*span, format!("declared as `{decl}`"))
            }
            ArgsRecordCoRe { tracepoint, span } => {
                error(format!("`print(args)` of tracepoint {tracepoint} is not relocated with --co-re"))
                    .at(*span, "the whole record")
                    .help("print the fields the program needs (`args.NAME`): each is relocated for the kernel it runs on")
            }
        }
    }
}
