//! What records and values look like in bytes, for codegen to write them and the runtime to
//! read them: the ring buffer's event kinds and their layouts, printf's formats, and the
//! scalars that make up keys, values and event arguments. Part of the plan (re-exported by
//! `plan`).

use super::*;

/// The event header every ring-buffer record starts with: `{ u32 kind; u32 id; }`.
pub const EVENT_HEADER: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u32)]
pub enum EventKind {
    /// `id` is a `PrintfDef` index; the arguments follow.
    Printf = 1,
    /// `exit()`; `id` unused.
    Exit = 2,
    /// `clear(@m)`; `id` is the map's index.
    Clear = 3,
    /// `time(fmt)`; `id` indexes `Plan::time_formats`.
    Time = 4,
    /// `print(@m[, top[, div]])`; `id` is the map's index; two u64 follow: top and div
    /// (0 when not given).
    PrintMap = 5,
    /// `join(argv[, sep])`; `id` indexes `Plan::join_separators`; `JOIN_ARGS` strings of
    /// `JOIN_ARG_LEN` bytes follow.
    Join = 6,
    /// `cat(path)`; `id` indexes `Plan::cat_paths`.
    Cat = 7,
    /// `system(fmt, args…)`: like `Printf`; the text is a shell command to run.
    System = 8,
    /// `zero(@m)`; `id` is the map's index.
    Zero = 9,
    /// `print(value)`: like `Printf` (`id` is a `PrintfDef` index: the value and a newline),
    /// and with `-f json` a `value` line.
    PrintValue = 10,
    /// `errorf()`, `warnf()`, a failed `assert()`: like `Printf`, written on standard error.
    Message = 11,
    /// `cat(fmt, args…)`: like `Printf`; the text is the path of the file to print.
    CatFormat = 12,
    /// `unwatch(addr)`; `id` unused; a u64 follows: the address.
    Unwatch = 13,
    /// `-k`: a read of memory failed (`READ_ERROR_RECORD`).
    ReadError = 14,
}

/// A script's text and the files in it (`(name, offset)`, the main script first, at 0), to
/// say where a span is as bpftrace does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceText {
    pub files: Vec<(String, usize)>,
    pub text: String,
}

impl SourceText {
    pub fn place(&self, start: usize, end: usize) -> (String, [String; 2]) {
        source_place(&self.files, &self.text, start, end)
    }
}

/// Where the span `start..end` of `all` (the text of `files`) is, as bpftrace prints it
/// before a message: `NAME:LINE:COL-END` (END the column after it, on its first line; a `-e`
/// program is `stdin`), reckoned in the file it starts in; then that line, and `~` under the
/// span (bpftrace's source context, src/ast/location.cpp).
pub fn source_place(files: &[(String, usize)], all: &str, start: usize, end: usize) -> (String, [String; 2]) {
    let file = files.iter().rposition(|(_, base)| *base <= start).unwrap_or(0);
    let (name, base) = files.get(file).map_or(("-e", 0), |(n, b)| (n.as_str(), *b));
    let stop = files.get(file + 1).map_or(all.len(), |next| next.1).min(all.len());
    let text = all.get(base.min(stop)..stop).unwrap_or("");
    let name = if name == "-e" { "stdin" } else { name };
    let start = start.saturating_sub(base).min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..start].matches('\n').count() + 1;
    let col = text[line_start..start].chars().count() + 1;
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let end = end.saturating_sub(base).clamp(start, line_end);
    let width = text[start..end].chars().count();
    let marker = format!("{}{}", " ".repeat(col - 1), "~".repeat(width));
    (format!("{name}:{line}:{col}-{}", col + width), [text[line_start..line_end].to_string(), marker])
}

/// A read error record (`EventKind::ReadError`): the header (`id` the BPF helper's number),
/// the span's start and end in `Plan::source`'s text (u32 each), the helper's return (i64).
pub const READ_ERROR_RECORD: usize = EVENT_HEADER + 16;

/// How many strings `join()` reads from its array, and the bytes of each.
pub const JOIN_ARGS: usize = 16;
pub const JOIN_ARG_LEN: usize = 64;
/// Bytes of a `join()` record.
pub const JOIN_RECORD: usize = EVENT_HEADER + JOIN_ARGS * JOIN_ARG_LEN;

impl EventKind {
    pub fn from_u32(v: u32) -> Option<EventKind> {
        match v {
            1 => Some(EventKind::Printf),
            2 => Some(EventKind::Exit),
            3 => Some(EventKind::Clear),
            4 => Some(EventKind::Time),
            5 => Some(EventKind::PrintMap),
            6 => Some(EventKind::Join),
            7 => Some(EventKind::Cat),
            8 => Some(EventKind::System),
            11 => Some(EventKind::Message),
            9 => Some(EventKind::Zero),
            10 => Some(EventKind::PrintValue),
            12 => Some(EventKind::CatFormat),
            13 => Some(EventKind::Unwatch),
            14 => Some(EventKind::ReadError),
            _ => None,
        }
    }
}

/// A `printf`: its format, parsed, and where each argument sits in the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrintfDef {
    pub segments: Vec<FmtSegment>,
    pub args: Vec<ArgField>,
    /// Total record size, header included.
    pub size: usize,
    /// A `warnf()`'s message, which `--no-warnings` drops.
    #[serde(default)]
    pub warning: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FmtSegment {
    Lit(String),
    /// The n-th conversion; `arg` indexes `PrintfDef::args`.
    Conv { spec: FmtSpec, arg: usize },
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FmtSpec {
    pub left: bool,
    pub zero: bool,
    pub plus: bool,
    pub space: bool,
    pub alt: bool,
    pub width: Option<usize>,
    pub precision: Option<usize>,
    /// Bits of the C integer type the length modifier names: 32 without one (`%d` is an
    /// `int`, as in C and bpftrace), 64 for `l`/`ll`/`z`/`j`, 16 for `h`, 8 for `hh`.
    pub int_bits: u8,
    /// The conversion character: d i u x X o s c p r.
    pub conv: char,
    /// `%rx` (`x`: every byte `\xNN`) and `%rh` (`h`: every byte `NN`, spaced) of a buffer.
    #[serde(default)]
    pub hex: Option<char>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgField {
    pub offset: usize,
    pub kind: Scalar,
}

/// One value as it is laid out in a record, a tuple, a map key part or a map value: what
/// codegen stores and the runtime decodes. Not every scalar can be everything: sema makes
/// no key of a `Buf`, `Struct` or `Tuple` (a tuple key is its parts), and no map value of a
/// `ProbeName`, `Usym` or `Buf`; `Buf` is a printf argument only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scalar {
    /// 8 bytes, sign-extended or zero-extended by codegen.
    Int { signed: bool },
    /// A `bool`: 8 bytes holding 0 or 1, printed `true`/`false` (bpftrace 0.26) or 1/0
    /// (`--compat=0.17`).
    Bool,
    /// A pointer (8 bytes), printed in hex (bpftrace 0.26) or as a number (`--compat=0.17`).
    Ptr,
    /// A string of `len` bytes (a key part's rounded up to 8).
    Str { len: u32 },
    /// A kernel address (8 bytes), printed as its symbol.
    Ksym,
    /// A stack (`kstack`, `ustack`), printed as its frames.
    Stack(StackSpec),
    /// An IP address from `ntop()` (24 bytes: family, then 16 address bytes).
    Inet,
    /// A `probe` value: an index into `Plan::probe_names`.
    ProbeName,
    /// A user address with its process (`usym()`): `{ u64 pid; u64 addr; }`, printed as the
    /// function's name.
    Usym,
    /// A `buf()` value: a u64 length, then `BUF_LEN` bytes; printed by `%r`.
    Buf,
    /// A `strftime()` value: nanoseconds since boot, printed with format
    /// `Plan::strftime_formats[n]`.
    Timestamp(u32),
    /// A tuple: `id` indexes `Plan::tuples`; `size` is its bytes.
    Tuple { id: u32, size: u32 },
    /// A kernel enum's value (8 bytes) printed by `%s`, `print()` and as a map key or value
    /// as its enumerator's name; `id` indexes `Plan::enums`.
    Enum { id: u32 },
    /// An integer array value (8 bytes, or its bytes rounded up to 8 when wider).
    IntArray(IntArray),
    /// A copy of a kernel struct's `size` bytes, read from user memory when `user`; `id`
    /// indexes `Plan::structs`.
    Struct { id: u32, size: u32, user: bool },
    /// A number printed as its name (8 bytes): `strerror()`, `signal_name()`, `syscall_name()`.
    Named(crate::kernel::names::NameTable),
}

/// Bytes `buf()` keeps, and the size of its value.
pub const BUF_LEN: usize = 64;
pub const BUF_SIZE: usize = 8 + BUF_LEN;

impl Scalar {
    /// The scalar as a map key part or a tuple element holds it: every one 8-byte aligned,
    /// so a string's length is rounded up to 8.
    pub fn padded(self) -> Scalar {
        match self {
            Scalar::Str { len } => Scalar::Str { len: len.next_multiple_of(8) },
            s => s,
        }
    }
    /// Bytes of the value.
    pub fn size(&self) -> usize {
        match self {
            Scalar::Int { .. }
            | Scalar::Bool
            | Scalar::Ptr
            | Scalar::Ksym
            | Scalar::ProbeName
            | Scalar::Timestamp(_)
            | Scalar::Enum { .. }
            | Scalar::Named(_) => 8,
            Scalar::IntArray(a) => a.size(),
            Scalar::Stack(spec) => spec.size(),
            Scalar::Inet => INET_SIZE,
            Scalar::Usym => USYM_SIZE,
            Scalar::Buf => BUF_SIZE,
            Scalar::Str { len } => *len as usize,
            Scalar::Tuple { size, .. } | Scalar::Struct { size, .. } => *size as usize,
        }
    }
    /// What the value is, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Scalar::Int { .. } => "integer",
            Scalar::Bool => "bool",
            Scalar::Ptr => "pointer",
            Scalar::Str { .. } => "string",
            Scalar::Ksym => "kernel symbol",
            Scalar::Stack(StackSpec { user: false, .. }) => "kernel stack",
            Scalar::Stack(StackSpec { user: true, .. }) => "user stack",
            Scalar::Inet => "IP address",
            Scalar::ProbeName => "probe",
            Scalar::Usym => "user symbol",
            Scalar::Buf => "buffer",
            Scalar::Timestamp(_) => "timestamp",
            Scalar::Tuple { .. } => "tuple",
            Scalar::Struct { .. } => "struct",
            Scalar::Enum { .. } => "enum",
            Scalar::IntArray(_) => "integer array",
            Scalar::Named(crate::kernel::names::NameTable::Errno) => "error message",
            Scalar::Named(crate::kernel::names::NameTable::Signal) => "signal name",
            Scalar::Named(crate::kernel::names::NameTable::Syscall) => "system call name",
            Scalar::Named(crate::kernel::names::NameTable::User) => "user name",
            Scalar::Named(crate::kernel::names::NameTable::CgroupPath { .. }) => "cgroup path",
            Scalar::Named(crate::kernel::names::NameTable::Gfp) => "GFP flags",
        }
    }
}
