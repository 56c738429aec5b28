//! Probe expansion's errors: each variant holds what went wrong and where (spans, names, the
//! nearest known name), and this file alone words them, turning each into a `Diagnostic`.
//! What the kernel's facts say when they cannot be read (BTF, an ELF file) arrives as a
//! `reason` and is shown as it is.

use crate::diag::{Diagnostic, Severity, Span};

/// An attach point that does not name probes rtrace can attach, or a warning about one.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeError {
    /// A provider rtrace knows but does not run (`name` as written, `aw` spelled out).
    UnsupportedProvider { name: String, span: Span },
    UnknownProvider { name: String, span: Span, nearest: Option<String> },
    /// An attach point whose fields do not fit its provider; `form` is what was expected.
    Malformed { provider: String, text: String, form: Form, span: Span },
    /// `FUNCTION+OFFSET` with a bad offset, or on a return probe (`ret_kind`).
    InvalidOffset { text: String, ret_kind: &'static str, span: Span },
    /// tracefs is missing, or mounted (`unreadable_at`) where this user cannot read it.
    NoTracefs { unreadable_at: Option<String> },
    UnknownTracepointCategory { category: String, span: Span, nearest: Option<String> },
    UnknownTracepoint { category: String, event: String, span: Span, nearest: Option<String> },
    TracepointFormat { category: String, event: String, span: Span },
    /// A raw tracepoint (or fentry) probe, and the kernel's BTF cannot be read.
    NoRawTracepointBtf { reason: String, span: Span },
    RawTracepointModule { module: String, span: Span },
    RawTracepointModuleWildcard { name: String, span: Span },
    NoRawTracepoint { name: String, span: Span, nearest: Option<String> },
    KernelModuleFunctions { module: String, span: Span },
    /// A kernel function that does not exist: an error, or a warning (`missing`).
    NoKernelFunction { func: String, span: Span, nearest: Option<String>, missing: Missing },
    /// Every attach point of a probe was skipped (`NoKernelFunction` with `Missing::Skipped`).
    NoKernelFunctionLeft { span: Span },
    NoKprobes { provider: String, span: Span, tracepoint: Option<String> },
    SecondModule { other: String, span: Span },
    NoModuleBtf { reason: String, span: Span },
    NoKernelBtf { reason: String, span: Span },
    NoBtfFunction { module: Option<String>, func: String, span: Span },
    /// The kernel refuses fentry programs; `instead` is a probe that traces the same function.
    FentryRefused { provider: String, span: Span, instead: Option<Instead> },
    BinaryNotFound { target: String, span: Span },
    /// A binary's symbols or USDT notes (`what`) cannot be read.
    UnreadableBinary { what: &'static str, path: String, reason: String, span: Span },
    /// An error, or with `--no-attach` a warning (`checked_anyway`).
    NoUserFunction { func: String, path: String, span: Span, nearest: Option<String>, checked_anyway: bool },
    NoUsdtProbes { path: String, span: Span },
    NoUsdtProbe { wanted: String, path: String, span: Span, nearest: Option<String> },
    /// `usdt:*:NAME` with `-p PID`, and no file the process maps has such a probe.
    NoProcessUsdtProbe { wanted: String, pid: u32, span: Span },
    InvalidPerf { provider: String, text: String, span: Span, events: Option<Vec<&'static str>> },
    InvalidInterval { text: String, span: Span },
    Watchpoint { error: WatchpointError, span: Span },
    /// A uprobe at an address, an offset, a source line or a C++ name that cannot be placed.
    User { error: UserProbeError, span: Span },
    /// Two `test:` (or `bench:`) probes of one name.
    DuplicateName { provider: &'static str, name: String, first: Span, span: Span },
    /// `self:signal:NAME` of a signal other than SIGUSR1, or `self:TRIGGER:…`.
    SelfTrigger { trigger: String, signal: Option<String>, span: Span },
}

/// What the fields of an attach point should have been.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Tracepoint,
    RawTracepoint,
    KernelFunction,
    UserFunction,
    /// `uprobe:BINARY@FILE:LINE[:COL]`.
    UserLine,
    Usdt,
    /// `test:NAME`, `bench:NAME`.
    Named,
    /// `self:signal:SIGUSR1`.
    SelfSignal,
}

/// How a missing kernel function was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Error,
    /// Skipped: the probe has other attach points.
    Skipped,
    /// A wildcard matching nothing, under `--no-attach`: nothing to check.
    NothingToCheck,
    /// Under `--no-attach`: the program is still checked.
    CheckedAnyway,
}

/// A probe that traces the same code as one this kernel refuses.
#[derive(Debug, Clone, PartialEq)]
pub enum Instead {
    Kprobe { ret: bool, func: String },
    Tracepoint(String),
}

/// A uprobe's place that cannot be found in its binary (the wording follows bpftrace 0.26's).
#[derive(Debug, Clone, PartialEq)]
pub enum UserProbeError {
    /// An address inside no function of the binary.
    Address { path: String, address: u64 },
    /// `FUNCTION+OFFSET` (or an address) at or past the function's end.
    OutsideFunction { func: String, size: u64 },
    /// A uretprobe at an address inside a function.
    RetprobeOffset { func: String, offset: u64 },
    /// A uprobe inside a function without `--unsafe`: rtrace cannot check the instruction
    /// boundary.
    UncheckedOffset { place: String },
    /// `BINARY@FILE:LINE` of a binary without DWARF.
    NoLineInfo { path: String },
    /// `BINARY@FILE:LINE` that the line table does not place (the reader's words).
    Line { reason: String },
    /// `uretprobe:BINARY@FILE:LINE`.
    LineOnRetprobe,
    /// `uprobe:BINARY:LANG:FUNCTION` with a language other than `cpp`.
    Language { lang: String },
}

/// A watchpoint x86's debug registers cannot set (or one rtrace cannot yet).
#[derive(Debug, Clone, PartialEq)]
pub enum WatchpointError {
    Malformed { text: String },
    FunctionArg { provider: String },
    Address { address: String },
    Length { length: String },
    /// A mode letter that is not r, w or x, or that repeats.
    ModeLetter { mode: String, repeats: bool },
    Mode { mode: String },
    ExecutionLength { length: u64 },
    Unaligned { address: String, length: u64 },
    ZeroAddress,
}

const MODES_HELP: &str = "the modes are `w` (writes), `rw` (reads and writes) and `x` (execution)";

impl From<ProbeError> for Diagnostic {
    fn from(e: ProbeError) -> Diagnostic {
        use ProbeError::*;
        match e {
            UnsupportedProvider { name, span } => Diagnostic::error(format!("`{name}` probes are not supported by rtrace yet"))
                .at(span, "not supported yet")
                .help("rtrace runs BEGIN, END, test, bench, self, tracepoint, rawtracepoint, interval, profile, software, hardware, kprobe, kretprobe, fentry, fexit, uprobe, uretprobe, usdt and watchpoint probes so far"),
            UnknownProvider { name, span, nearest } => {
                suggest(Diagnostic::error(format!("unknown probe type `{name}`")).at(span, "unknown probe type"), nearest)
            }
            Malformed { provider, text, form, span } => malformed(&provider, &text, form, span),
            DuplicateName { provider, name, first, span } => {
                Diagnostic::error(format!("\"{name}\" was used as the name for more than one {provider} probe"))
                    .at(span, "a second probe of this name")
                    .also(first, "this is the other instance")
            }
            SelfTrigger { trigger, signal: Some(signal), span } if trigger == "signal" => {
                Diagnostic::error(format!("{signal} is not a supported signal")).at(span, "not a supported signal").help("the signal is `SIGUSR1`")
            }
            SelfTrigger { trigger, span, .. } => Diagnostic::error(format!("{trigger} is not a supported trigger"))
                .at(span, "not a supported trigger")
                .help("the trigger is `self:signal:SIGUSR1`"),
            InvalidOffset { text, ret_kind, span } => Diagnostic::error(format!("invalid offset in `{text}`"))
                .at(span, "expected FUNCTION+OFFSET with a number")
                .note(format!("{ret_kind}s take no offset")),
            NoTracefs { unreadable_at: Some(path) } => Diagnostic::error(format!(
                "tracefs is mounted at {path}, but this user cannot read it; run rtrace as root"
            )),
            NoTracefs { unreadable_at: None } => Diagnostic::error(format!(
                "tracefs is not mounted and rtrace could not mount it; run `mount -t tracefs tracefs {}` as root",
                crate::kernel::tracefs::MOUNT_POINT
            )),
            UnknownTracepointCategory { category, span, nearest } => {
                let d = Diagnostic::error(format!("unknown tracepoint category `{category}`")).at(span, "no such category");
                match nearest {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help("`rtrace -l 'tracepoint:*'` lists the tracepoints"),
                }
            }
            UnknownTracepoint { category, event, span, nearest } => suggest(
                Diagnostic::error(format!("unknown tracepoint `{category}:{event}`")).at(span, format!("no such event in `{category}`")),
                nearest,
            ),
            TracepointFormat { category, event, span } => {
                Diagnostic::error(format!("cannot read the format of tracepoint `{category}:{event}`")).at(span, "here")
            }
            NoRawTracepointBtf { reason, span } => Diagnostic::error(reason).at(span, "not a raw tracepoint of this kernel"),
            RawTracepointModule { module, span } => {
                Diagnostic::error(format!("no kernel module `{module}` is loaded")).at(span, "no such module")
            }
            RawTracepointModuleWildcard { name, span } => {
                Diagnostic::error(format!("rtrace cannot expand wildcards in a module's raw tracepoints (`{name}`)"))
                    .at(span, "not a raw tracepoint of this kernel")
            }
            NoRawTracepoint { name, span, nearest } => {
                let d = Diagnostic::error(format!("no raw tracepoint matches `{name}`")).at(span, "not a raw tracepoint of this kernel");
                match nearest {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help("`rtrace -l 'rawtracepoint:*'` lists them"),
                }
            }
            KernelModuleFunctions { module, span } => {
                Diagnostic::error(format!("module `{module}` is not loaded, or has no traceable functions"))
                    .at(span, "no such module")
                    .note("`lsmod` lists the loaded modules")
            }
            NoKernelFunction { func, span, nearest, missing } => no_kernel_function(&func, span, nearest, missing),
            NoKernelFunctionLeft { span } => Diagnostic::error("none of this probe's kernel functions exists")
                .at(span, "nothing to attach to")
                .note("each was skipped: see the warnings above"),
            NoKprobes { provider, span, tracepoint } => {
                let d = Diagnostic::error(format!("this kernel cannot attach {provider}s: it was built without CONFIG_KPROBES"))
                    .at(span, format!("needs a {provider}"));
                let d = match tracepoint {
                    Some(tp) => d.help(format!("`tracepoint:syscalls:{tp}` traces the same system calls")),
                    None => d,
                };
                d.note("`rtrace --info` lists what this kernel supports; `--dry-run --no-attach` still checks the program")
            }
            SecondModule { other, span } => Diagnostic::error(format!(
                "rtrace can trace the functions of one module per script, and this one also traces `{other}`"
            ))
            .at(span, "a second module")
            .help("run one rtrace per module"),
            NoModuleBtf { reason, span } => Diagnostic::error(reason).at(span, "no BTF for this module"),
            NoKernelBtf { reason, span } => Diagnostic::error(reason).at(span, "fentry needs the kernel's BTF"),
            NoBtfFunction { module, func, span } => {
                let what = match module {
                    Some(m) => format!("no function of module `{m}` matches `{func}` in BTF"),
                    None => format!("no kernel function matches `{func}` in BTF"),
                };
                Diagnostic::error(what).at(span, "not a kernel function with BTF")
            }
            FentryRefused { provider, span, instead } => fentry_refused(&provider, span, instead),
            BinaryNotFound { target, span } => Diagnostic::error(format!("cannot find the binary `{target}`"))
                .at(span, "no such file or library")
                .help("give a path (`/usr/bin/bash`) or a library name (`libc`)"),
            UnreadableBinary { what, path, reason, span } => {
                Diagnostic::error(format!("cannot read the {what} of `{path}`: {reason}")).at(span, "here")
            }
            NoUserFunction { func, path, span, nearest, checked_anyway } => {
                let mut d = suggest(
                    Diagnostic::error(format!("no function matches `{func}` in `{path}`")).at(span, "not a function of that binary"),
                    nearest,
                );
                if !checked_anyway {
                    return d;
                }
                d.severity = Severity::Warning;
                d.note("checked anyway, since nothing is attached")
            }
            NoUsdtProbes { path, span } => Diagnostic::error(format!("`{path}` has no USDT probes"))
                .at(span, "no such probe")
                .note("the binary has no `.note.stapsdt` section"),
            NoUsdtProbe { wanted, path, span, nearest } => {
                let d = Diagnostic::error(format!("no USDT probe matches `{wanted}` in `{path}`")).at(span, "no such probe");
                match nearest {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!("`rtrace -l 'usdt:{path}:*'` lists them")),
                }
            }
            NoProcessUsdtProbe { wanted, pid, span } => {
                Diagnostic::error(format!("no USDT probe matches `{wanted}` in the files process {pid} maps"))
                    .at(span, "no such probe")
            }
            InvalidPerf { provider, text, span, events } => {
                let help = match events {
                    None => "write `profile:hz:N`, `profile:s|ms|us:N` or `profile:DURATION`, e.g. `profile:hz:99`, `profile:10ms`".to_string(),
                    Some(names) => format!("the events are: {}", names.join(", ")),
                };
                Diagnostic::error(format!("invalid {provider} probe `{text}`")).at(span, "cannot read this").help(help)
            }
            InvalidInterval { text, span } => Diagnostic::error(format!("invalid interval `{text}`"))
                .at(span, "expected `interval:UNIT:N` or `interval:DURATION`")
                .help("UNIT is one of s, ms, us, hz; N is a positive integer; DURATION is a positive number of nanoseconds or has a unit (ns, us, ms, s, m, h, d), e.g. `interval:s:1`, `interval:100ms`"),
            Watchpoint { error, span } => watchpoint(error, span),
            User { error, span } => user_probe(error, span),
        }
    }
}

fn no_kernel_function(func: &str, span: Span, nearest: Option<String>, missing: Missing) -> Diagnostic {
    let mut d = suggest(
        Diagnostic::error(format!("no kernel function matches `{func}`")).at(span, "not a traceable kernel function"),
        nearest,
    );
    let note = match missing {
        Missing::Error => return d,
        Missing::Skipped => "skipped, since the probe has other attach points (as in bpftrace)",
        Missing::NothingToCheck => "skipped, since nothing is attached",
        Missing::CheckedAnyway => "checked anyway, since nothing is attached",
    };
    d.severity = Severity::Warning;
    d.note(note)
}

fn fentry_refused(provider: &str, span: Span, instead: Option<Instead>) -> Diagnostic {
    let d = Diagnostic::error(format!("this kernel refuses {provider} programs")).at(span, "cannot load here");
    let d = match instead {
        Some(Instead::Kprobe { ret, func }) => {
            let k = if ret { "kretprobe" } else { "kprobe" };
            d.help(format!("`{k}:{func}` traces the same function (with `arg0`…, not `args.NAME`)"))
        }
        Some(Instead::Tracepoint(tp)) => d.help(format!("`tracepoint:syscalls:{tp}` traces the same system calls")),
        None => d,
    };
    d.note("`rtrace --info` lists what this kernel supports")
}

/// `d` with `did you mean` the nearest name, if there is one.
fn suggest(d: Diagnostic, nearest: Option<String>) -> Diagnostic {
    match nearest {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d,
    }
}

fn malformed(provider: &str, text: &str, form: Form, span: Span) -> Diagnostic {
    let (what, expected) = match form {
        Form::Tracepoint => ("tracepoint".to_string(), "expected `tracepoint:CATEGORY:EVENT`".to_string()),
        Form::RawTracepoint => (provider.to_string(), format!("expected `{provider}:NAME` or `{provider}:MODULE:NAME`")),
        Form::KernelFunction => (provider.to_string(), format!("expected `{provider}:FUNCTION`")),
        Form::UserFunction => (provider.to_string(), format!("expected `{provider}:BINARY:FUNCTION`")),
        Form::UserLine => (provider.to_string(), format!("expected `{provider}:BINARY@FILE:LINE[:COL]`")),
        Form::Usdt => (provider.to_string(), format!("expected `{provider}:BINARY:NAME` or `{provider}:BINARY:PROVIDER:NAME`")),
        Form::Named => (format!("{provider} probe"), format!("expected `{provider}:NAME`")),
        Form::SelfSignal => (format!("{provider} probe"), "expected `self:signal:SIGUSR1`".to_string()),
    };
    Diagnostic::error(format!("invalid {what} `{text}`")).at(span, expected)
}

fn user_probe(error: UserProbeError, span: Span) -> Diagnostic {
    use UserProbeError::*;
    match error {
        Address { path, address } => {
            Diagnostic::error(format!("Could not resolve address: {path}:0x{address:x}")).at(span, "inside no function")
        }
        OutsideFunction { func, size } => Diagnostic::error(format!("Offset outside the function bounds ('{func}' size is {size})"))
            .at(span, "past the function's end"),
        RetprobeOffset { func, offset } => Diagnostic::error(format!(
            "uretprobes cannot be attached at function offset. (address resolved to: {func}+{offset})"
        ))
        .at(span, "not a function's first instruction"),
        UncheckedOffset { place } => Diagnostic::error(format!(
            "cannot check that `{place}` is the start of an instruction"
        ))
        .at(span, "inside the function")
        .help("a uprobe in the middle of an instruction corrupts the traced process; rtrace does not disassemble binaries, so it attaches there only with --unsafe"),
        NoLineInfo { path } => {
            Diagnostic::error(format!("No DWARF debug info found for '{path}', cannot attach by source code location."))
                .at(span, "no line table")
                .help("build the binary with `-g`")
        }
        Line { reason } => Diagnostic::error(reason).at(span, "not in the binary's line table"),
        LineOnRetprobe => Diagnostic::error("Source code location not allowed").at(span, "uretprobes take a function"),
        Language { lang } => {
            Diagnostic::error(format!("unsupported language type: {lang}")).at(span, "expected `cpp`")
        }
    }
}

fn watchpoint(error: WatchpointError, span: Span) -> Diagnostic {
    use WatchpointError::*;
    match error {
        Malformed { text } => Diagnostic::error(format!("invalid watchpoint `{text}`"))
            .at(span, "expected `watchpoint:ADDRESS:LENGTH:MODE`")
            .help("e.g. `watchpoint:0x10000000:8:w`: an address of the `-p`/`-c` process, or without them a kernel address"),
        FunctionArg { provider } => {
            Diagnostic::error(format!("`{provider}:FUNCTION+argN` watchpoints are not supported by rtrace yet"))
                .at(span, "not supported yet")
                .help("watch a fixed address: `watchpoint:0xADDRESS:LENGTH:MODE`")
        }
        Address { address } => Diagnostic::error(format!("invalid watchpoint address `{address}`"))
            .at(span, "expected a number, e.g. 0x10000000"),
        Length { length } => Diagnostic::error(format!("invalid watchpoint length `{length}`")).at(span, "expected 1, 2, 4 or 8"),
        ModeLetter { mode, repeats } => {
            let label = if repeats { "a mode letter repeats" } else { "expected r, w or x, each at most once" };
            Diagnostic::error(format!("invalid watchpoint mode `{mode}`")).at(span, label).help(MODES_HELP)
        }
        Mode { mode } => {
            let label = if mode.is_empty() { "expected a mode" } else { "not a mode of x86's hardware breakpoints" };
            let d = Diagnostic::error(format!("invalid watchpoint mode `{mode}`")).at(span, label).help(MODES_HELP);
            if mode == "r" {
                d.note("x86 cannot watch reads alone: `rw` fires on reads and writes")
            } else {
                d
            }
        }
        ExecutionLength { length } => Diagnostic::error(format!("an execution watchpoint watches 8 bytes, not {length}"))
            .at(span, "expected 8")
            .note("x86's execution breakpoints have the length of a pointer"),
        Unaligned { address, length } => {
            Diagnostic::error(format!("watchpoint address {address} is not a multiple of its length, {length}"))
                .at(span, "not aligned")
                .note("hardware breakpoints watch aligned addresses")
        }
        ZeroAddress => Diagnostic::error("a watchpoint needs a non-zero address").at(span, "address 0"),
    }
}
