//! The checked program's types and side tables: the type of every expression, what it refers
//! to (`Res`), how kernel memory is read (`Access`), and per program the tables codegen reads
//! (`ProgInfo`, `Checked`).

use crate::diag::{Diagnostic, Span};
use crate::kernel::{btf, tracefs};
use crate::parser::ast::{Expr, ExprId};
use crate::plan::{self, Plan, Scalar};
use crate::builtins::{Builtin, Func};
use std::collections::HashMap;
use tracefs::Format;

/// The most bytes of a kernel char array read as a string (`str()` reads config `max_strlen`).
pub const STR_LEN: u32 = 64;

/// Bytes of `comm`.
pub const COMM_LEN: u32 = 16;

/// The type of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Int { signed: bool },
    /// `true`/`false`: comparisons, `!`, `&&`, `||`, `has_key()`, … (0 or 1, 8 bytes like an
    /// integer; arithmetic takes it as one).
    Bool,
    /// A pointer, printed as an integer; `user` when it points into user memory, `to` what it
    /// points to when known: `*p` and `p[i]` read that, `p + 1` steps over it.
    Ptr { user: bool, to: Option<Pointee> },
    /// A kernel struct or union in memory (`*p`, or a member that is one), at an address.
    Record { id: u32, user: bool },
    /// A kernel array in memory, at an address.
    Array { elem: u32, len: u32, user: bool },
    Str { len: u32 },
    /// A kernel address printed as its symbol (`func`).
    Ksym,
    /// A number printed as its name (`strerror()`, `signal_name()`, `syscall_name()`).
    Named(crate::kernel::names::NameTable),
    /// A stack (`kstack`, `ustack`): a stack id, and for user stacks the process.
    Stack(plan::StackSpec),
    /// An IP address from `ntop()`: `{ u64 family; u8 addr[16]; }`, printed as text.
    Inet,
    /// The name of the probe that fired (`probe`), as an id into the plan's probe names.
    ProbeName,
    /// A user address and its process (`usym()`), printed as a symbol.
    Usym,
    /// Bytes from memory (`buf()`), printed hex-escaped by `%r`.
    Buffer,
    /// Nanoseconds since boot printed as a date (`strftime()`), with plan format `n`.
    Timestamp(u32),
    /// An array of integers held as a value (`(uint8[4])x`, `pton("::1")`, a kernel array
    /// used as a value): at most 8 bytes held as an integer, wider ones in memory.
    IntArray(plan::IntArray),
    /// A tuple: an index into the program's tuple types (`Checked::tuple_types`), whose
    /// layout is the plan's tuple of the same index.
    Tuple(u32),
    /// The tracepoint record (`args`), usable only through a field.
    Args,
    /// What statements such as `printf()` return.
    Void,
    /// The type of an expression that already has an error reported.
    Error,
}

/// What a typed pointer points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pointee {
    /// A kernel (BTF) type, and its size in bytes.
    Btf { id: u32, size: u32 },
    /// An integer type named in a cast (`(uint32 *)p`, `(int8 *)p`): its bytes and sign. A
    /// pointer to a pointer (`(uint32 **)p`) points to an 8-byte unsigned integer, the address.
    Int { bytes: u32, signed: bool },
}

impl Pointee {
    /// A kernel type `id` as a pointee.
    pub(super) fn btf(k: &btf::KernelTypes, id: u32) -> Pointee {
        Pointee::Btf { id, size: k.size(id) }
    }

    /// Bytes `p + 1` adds to `p`: the pointee's size (1 for `void` and other sizeless types,
    /// as in GNU C).
    pub fn stride(self) -> u64 {
        match self {
            Pointee::Btf { size, .. } => u64::from(size.max(1)),
            Pointee::Int { bytes, .. } => u64::from(bytes),
        }
    }
}

impl Type {
    /// Bytes `p + 1` adds to a pointer of this type: the pointee's size, 1 when it is not
    /// known; `None` for what is not a pointer.
    pub fn stride(self) -> Option<u64> {
        match self {
            Type::Ptr { to, .. } => Some(to.map_or(1, Pointee::stride)),
            _ => None,
        }
    }
    /// How a value of this type is stored (in a record, a tuple, a map), if it can be:
    /// `None` for what cannot, and for a tuple, whose layout `TupleTypes::scalar` knows.
    pub(super) fn plain_scalar(self) -> Option<Scalar> {
        Some(match self {
            Type::Int { signed } => Scalar::Int { signed },
            Type::Bool => Scalar::Bool,
            Type::Ptr { .. } => Scalar::Ptr,
            Type::Str { len } => Scalar::Str { len },
            Type::Ksym => Scalar::Ksym,
            Type::Named(t) => Scalar::Named(t),
            Type::Stack(spec) => Scalar::Stack(spec),
            Type::Timestamp(id) => Scalar::Timestamp(id),
            Type::Inet => Scalar::Inet,
            Type::ProbeName => Scalar::ProbeName,
            Type::Usym => Scalar::Usym,
            Type::IntArray(a) => Scalar::IntArray(a),
            Type::Buffer => Scalar::Buf,
            _ => return None,
        })
    }
    /// The type of a value read back from where a `s` is stored (a map key part or value,
    /// a tuple element); an enum's value is its integer.
    pub(super) fn of_scalar(s: Scalar) -> Type {
        match s {
            Scalar::Int { signed } => Type::Int { signed },
            Scalar::Bool => Type::Bool,
            Scalar::Ptr => Type::Ptr { user: false, to: None },
            Scalar::Str { len } => Type::Str { len },
            Scalar::Ksym => Type::Ksym,
            Scalar::Named(t) => Type::Named(t),
            Scalar::Stack(spec) => Type::Stack(spec),
            Scalar::Inet => Type::Inet,
            Scalar::ProbeName => Type::ProbeName,
            Scalar::Usym => Type::Usym,
            Scalar::Buf => Type::Buffer,
            Scalar::Timestamp(id) => Type::Timestamp(id),
            Scalar::Tuple { id, .. } => Type::Tuple(id),
            Scalar::Enum { .. } => Type::Int { signed: false },
            Scalar::IntArray(a) => Type::IntArray(a),
            // A map of struct values is printed, never read back (`StructMapRead`).
            Scalar::Struct { .. } => Type::Void,
        }
    }
    pub(super) fn is_int(self) -> bool {
        matches!(self, Type::Int { .. } | Type::Bool | Type::Ptr { .. })
    }
    pub(super) fn signed(self) -> bool {
        matches!(self, Type::Int { signed: true })
    }
    /// The type with its article, for messages: "an int64", "a string".
    pub(super) fn describe(self) -> &'static str {
        match self {
            Type::Int { signed: true } => "an int64",
            Type::Int { signed: false } => "a uint64",
            Type::Bool => "a bool",
            Type::Ptr { .. } => "a pointer",
            Type::Record { .. } => "a struct",
            Type::Array { .. } => "an array",
            Type::Str { .. } => "a string",
            Type::Ksym => "a kernel symbol",
            Type::Named(crate::kernel::names::NameTable::Errno) => "an error message",
            Type::Named(crate::kernel::names::NameTable::Signal) => "a signal name",
            Type::Named(crate::kernel::names::NameTable::Syscall) => "a system call name",
            Type::Named(crate::kernel::names::NameTable::User) => "a user name",
            Type::Named(crate::kernel::names::NameTable::CgroupPath { .. }) => "a cgroup path",
            Type::Named(crate::kernel::names::NameTable::Gfp) => "GFP flags",
            Type::Stack(plan::StackSpec { user: false, .. }) => "a kernel stack",
            Type::Stack(plan::StackSpec { user: true, .. }) => "a user stack",
            Type::Inet => "an IP address",
            Type::ProbeName => "a probe name",
            Type::Usym => "a user symbol",
            Type::Buffer => "a buffer",
            Type::Timestamp(_) => "a timestamp",
            Type::Tuple(_) => "a tuple",
            Type::IntArray(a) if a.mac => "a MAC address",
            Type::IntArray(_) => "an integer array",
            Type::Args => "the tracepoint's args",
            Type::Void => "no value",
            Type::Error => "an error",
        }
    }
}

/// How to get a value that lives in kernel (or user) memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Bytes to add to the base address; for an index, the element size to scale it by.
    pub offset: u64,
    pub scale: u64,
    pub read: Read,
    /// Read with the user-memory helper.
    pub user: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// An integer of `size` bytes (a pointer is 8 unsigned), or a bitfield of `bits` at `shift`.
    Int { size: u32, signed: bool, bitfield: Option<(u8, u8)> },
    /// Nothing is read: the value is the address itself (an embedded struct or array).
    Address,
    /// A char array, read as a string of at most `len` bytes.
    Chars { len: u32 },
}

/// A kernel type access that CO-RE relocates (`--co-re`), by kernel BTF ids and member
/// names; `Checked::core` holds the local types codegen describes for it.
#[derive(Debug, Clone, PartialEq)]
pub enum CoreRef {
    /// The members named in `path` (each but the last an embedded struct or union) from a
    /// record of kernel type `record`: a member read, a tracepoint field, `offsetof`.
    Member { record: u32, path: Vec<String> },
    /// `p[i]` of a pointer to records: the stride is the record's size in the loading kernel.
    Stride { record: u32 },
    /// `sizeof(struct X)`.
    Size { record: u32 },
    /// `ppid`, `pcomm`, `leader_tid`, `leader_comm`: `task_struct`'s `link` (`real_parent`,
    /// `group_leader`), then that task's `field` (`tgid`, `pid`, `comm`).
    TaskField { task: u32, link: &'static str, field: &'static str },
}

/// What an expression refers to, beyond its type.
#[derive(Debug, Clone, PartialEq)]
pub enum Res {
    Plain,
    /// A call of a function an imported `.bpf.c` file defines: its name, and whether its
    /// integer result is signed (widened to 64 bits by sign).
    CCall { name: String, signed: bool },
    Builtin(Builtin),
    /// A tracepoint field, read from the record.
    Field(tracefs::Field),
    /// A read of user map `n`.
    MapRead(usize),
    /// `printf` with plan format `n`.
    Printf(usize),
    /// `system()` with plan format `n`: the command.
    System(usize),
    /// `cat(fmt, args…)` with plan format `n`: the file's path.
    Cat(usize),
    /// `nsecs(boot)`, `nsecs(tai)`: the value of BPF helper `n` (a ktime helper).
    Ktime(u32),
    /// `errorf()`, `warnf()` with plan format `n`: printed on standard error.
    Message(usize),
    /// `assert(cond, "message")`: when `cond` is 0, plan format `n` on standard error, then
    /// `exit(1)`.
    Assert(usize),
    /// `print(value)`, as plan format `n` (the value and a newline).
    PrintValue(usize),
    /// A `for` loop's variable, by its name in `ProgInfo::vars`.
    LoopVar(String),
    /// `str()`, reading from user memory when `user`.
    Str { user: bool },
    /// A constant known at compile time (a kernel constant, `kaddr()`).
    Const(u64),
    /// A string known at compile time (`func` in a uprobe).
    ConstStr(String),
    /// `typeinfo(x)`: the record of x's type's names, `btf_id` 0.
    TypeInfo { base: String, full: String },
    /// A uprobe's, raw tracepoint's or fentry/fexit's `args` as a record value (`print(args)`):
    /// each argument's context slot (`pt_regs` or the u64 array), size and sign, in the
    /// record's order.
    ArgsRecord(Vec<(u32, u32, bool)>),
    /// A tracepoint's `args` as a record value (`print(args)`): each field of its record (the
    /// `common_` ones first), read as `args.NAME` reads it.
    TracepointArgs(Vec<tracefs::Field>),
    /// A built tool's value read at run time from the globals map's entry `n` (a positional
    /// parameter, `$#`).
    Global(u32),
    /// A built tool's string read at run time from the string globals map's entry `n`
    /// (`str($N)`, a string `getopt()`), `Plan::str_len` bytes.
    GlobalStr(u32),
    /// `time()` with plan format `n`.
    Time(usize),
    /// An fentry/fexit context slot: `index`-th u64, holding an integer of `size` bytes.
    CtxSlot { index: u32, size: u32, signed: bool },
    /// A call that only sends an event of `kind` with `id` (its data lives in the plan).
    Event { kind: crate::plan::EventKind, id: u32 },
    /// `buf()`, reading user memory when `user`.
    Buf { user: bool },
    /// `macaddr()` of an array or pointer, reading its 6 bytes from user memory when `user`
    /// (of an integer array value, the value's first 6 bytes).
    Macaddr { user: bool },
    /// `join()` with plan separator `id`, reading user memory when `user`.
    Join { id: usize, user: bool },
    /// `skboutput()`: plan entry `n` (`Plan::skb_outputs`).
    SkbOutput(usize),
    /// `signal()`: the signal's number when known at compile time, else the argument's value.
    /// `signal_thread()` when `thread`.
    Signal { number: Option<u32>, thread: bool },
    /// `bswap()` of an integer `n` bits wide.
    Bswap(u32),
    /// `str()` of an in-memory char array of `len` bytes.
    StrArray { len: u32, user: bool },
    /// A kernel value in memory at the base's address plus `offset` (a member, `*p`, `p[i]`).
    Memory(Access),
    /// `ppid`, `pcomm`, `leader_tid`, `leader_comm`: two reads from a task (the current one,
    /// or a call's argument): its `link` member, a task pointer, then that task's `field`.
    TaskField { link: Access, field: Access },
    /// `strncmp()` over at most `n` bytes.
    Strncmp(u64),
    /// A value in memory at `base + index * scale + access.offset`, where `base` and `index`
    /// are the context's u64 slots (`pt_regs` registers): a USDT argument.
    RegMemory { base: u32, index: Option<(u32, u8)>, access: Access },
    Call(Func),
    /// `percpu_kaddr(name[, cpu])`: the address of per-CPU kernel variable `name` (a `__ksym`
    /// extern) on this CPU (`bpf_this_cpu_ptr`), or on the CPU of the second argument
    /// (`bpf_per_cpu_ptr`, NULL past the last CPU).
    PercpuKaddr(String),
    /// `comm(pid)`: the name of process `pid` (kfuncs `bpf_task_from_pid` and
    /// `bpf_task_release`), its task's `comm` member at `comm`; "N/A" when there is none.
    CommOfPid { comm: Access },
    /// A cast to an integer type `bits` wide (`(uint8)x`, `(pid_t)x`).
    IntCast { bits: u32, signed: bool },
    /// An iter probe's `ctx.NAME`: `size` bytes loaded from the context at `offset`; when
    /// `null_ends`, a NULL (the iterator's last call) ends the program.
    IterField { offset: u32, size: u32, signed: bool, null_ends: bool },
    /// `printf()` in an iter probe: `bpf_seq_printf` with the kernel's format `fmt`.
    SeqPrintf { fmt: String, args: Vec<SeqArg> },
}

/// An argument of `bpf_seq_printf`, one u64 each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqArg {
    /// An integer, cut to its C type's `bits` and widened again (signed for `%d`/`%i`).
    Int { bits: u8, signed: bool },
    /// A string, passed by its address.
    Str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExprInfo {
    pub ty: Type,
    pub res: Res,
    /// Where the expression is, for `--dump types`.
    pub span: Span,
}

/// Sema's facts about one BPF program (one attach point of a probe).
#[derive(Debug, Clone)]
pub struct ProgInfo {
    /// Index of the probe in `Program::probes`.
    pub probe: usize,
    pub format: Option<Format>,
    /// Indexed by `ExprId`.
    pub exprs: HashMap<ExprId, ExprInfo>,
    pub vars: HashMap<String, Type>,
    /// Variables declared with an integer type narrower than 64 bits (`let $x: uint8`): the
    /// width in bits and signedness every value stored in them is cut to.
    pub widths: HashMap<String, (u32, bool)>,
    /// The `for` loops over maps, by where their statement starts.
    pub map_loops: HashMap<usize, MapLoop>,
    /// Integer literals read from the attach cookie's row of the parameters map (one program
    /// shared by probes that differ in them), with their slot in the row.
    pub params: HashMap<ExprId, u32>,
    /// With `--co-re`: the kernel type accesses to relocate, by expression.
    pub core: HashMap<ExprId, CoreRef>,
    /// Kernel arrays of integers (`args.saddr_v6`, a struct's `u8[16]` member) used as
    /// values — assigned, stored in a map or a tuple, a map key, printed — by expression:
    /// codegen reads each whole into the integer array value of this type.
    pub array_reads: HashMap<ExprId, plan::IntArray>,
}

/// A `for ($kv : @map)` loop: the map, and the variable that holds each `(key, value)`.
#[derive(Debug, Clone, PartialEq)]
pub struct MapLoop {
    /// The map's index in the plan.
    pub map: usize,
    /// The loop variable's name in `ProgInfo::vars` (unique to the loop).
    pub var: String,
    /// How the key (its one part, or the tuple of its parts) and the value are laid out.
    pub key: Scalar,
    pub value: Scalar,
    /// The integer variables the body shares with code outside the loop, sorted: the
    /// callback gets pointers to them.
    pub captured: Vec<String>,
}

impl ProgInfo {
    pub fn info(&self, e: &Expr) -> &ExprInfo {
        const ERROR: ExprInfo = ExprInfo { ty: Type::Error, res: Res::Plain, span: Span { start: 0, end: 0 } };
        self.exprs.get(&e.id).unwrap_or(&ERROR)
    }
}

/// The checked program: the plan, and per program the side tables codegen reads.
#[derive(Debug)]
pub struct Checked {
    pub plan: Plan,
    /// Parallel to `plan.probes`.
    pub progs: Vec<ProgInfo>,
    pub warnings: Vec<Diagnostic>,
    /// The element types of every tuple type; `Type::Tuple` indexes this.
    pub tuple_types: Vec<Vec<Type>>,
    /// With `--co-re`: the local types of the relocated accesses.
    pub core: super::core::CoreTypes,
    /// The kernel symbols the programs name (`__ksym` externs), each once.
    pub ksyms: Vec<super::ksyms::Ksym>,
    /// The imported `.bpf.c` files as LLVM bitcode, which codegen links in (`cimport`).
    pub c_bitcode: Vec<Vec<u8>>,
}

impl Checked {
    pub fn map_index(&self, name: &str) -> Option<usize> {
        self.plan.maps.iter().position(|m| m.name == name)
    }
}

/// A type with its article, for messages; an integer array by its type, "`uint8[4]`".
pub(super) fn type_text(t: Type) -> String {
    match t {
        Type::IntArray(a) => format!("`{}`", array_name(a)),
        other => other.describe().to_string(),
    }
}

/// An integer array type as written in a cast: `uint8[4]`.
pub(super) fn array_name(a: plan::IntArray) -> String {
    if a.mac {
        return "macaddr_t".to_string();
    }
    if a.bools {
        return format!("bool[{}]", a.len);
    }
    format!("{}int{}[{}]", if a.signed { "" } else { "u" }, 8 * a.elem_bytes as u32, a.len)
}
