//! Semantic analysis: probe expansion (attach points to concrete programs), the type of every
//! expression, map types unified across all probes, and the plan (maps, printf formats,
//! probes) that codegen and the runtime share. Sema emits no code.

pub mod errors;
mod probes;
mod share;

use probes::Instance;
pub use probes::{host_needs, HostFacts, HostNeeds};

use crate::builtins;
use crate::kernel::{btf, cgroup, elf, kallsyms, tracefs, usdt};

use crate::diag::{dedup, did_you_mean, Diagnostic, Span};
use crate::parser::ast::*;
use crate::plan::{
    self, ArgField, ArgKind, Attach, FmtSegment, FmtSpec, KeyField, MapDef, Plan, PrintfDef, ProbeDef, TupleDef, ValueKind,
};
use builtins::{Builtin, Func};
use std::collections::HashMap;
use tracefs::{FieldKind, Format};

/// Bytes `str()` reads, as bpftrace's default `max_strlen`.
pub const STR_LEN: u32 = 64;
/// Bytes of `comm`.
pub const COMM_LEN: u32 = 16;
/// The largest printf record (built in a per-CPU scratch map, not on the stack).
const MAX_PRINTF_RECORD: usize = 1024;
/// Entries per user map, as bpftrace's default `max_map_keys`.
const MAX_MAP_KEYS: u32 = 4096;

/// The type of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Int { signed: bool },
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
    /// An array of integers held as a value (`(uint8[4])x`), at most 8 bytes.
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
    fn btf(k: &btf::KernelTypes, id: u32) -> Pointee {
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
    fn is_int(self) -> bool {
        matches!(self, Type::Int { .. } | Type::Ptr { .. })
    }
    fn signed(self) -> bool {
        matches!(self, Type::Int { signed: true })
    }
    /// The type with its article, for messages: "an int64", "a string".
    fn describe(self) -> &'static str {
        match self {
            Type::Int { signed: true } => "an int64",
            Type::Int { signed: false } => "a uint64",
            Type::Ptr { .. } => "a pointer",
            Type::Record { .. } => "a struct",
            Type::Array { .. } => "an array",
            Type::Str { .. } => "a string",
            Type::Ksym => "a kernel symbol",
            Type::Stack(plan::StackSpec { user: false, .. }) => "a kernel stack",
            Type::Stack(plan::StackSpec { user: true, .. }) => "a user stack",
            Type::Inet => "an IP address",
            Type::ProbeName => "a probe name",
            Type::Usym => "a user symbol",
            Type::Buffer => "a buffer",
            Type::Timestamp(_) => "a timestamp",
            Type::Tuple(_) => "a tuple",
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

/// What an expression refers to, beyond its type.
#[derive(Debug, Clone, PartialEq)]
pub enum Res {
    Plain,
    Builtin(Builtin),
    /// A tracepoint field, read from the record.
    Field(tracefs::Field),
    /// A read of user map `n`.
    MapRead(usize),
    /// `printf` with plan format `n`.
    Printf(usize),
    /// `system()` with plan format `n`: the command.
    System(usize),
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
    /// `time()` with plan format `n`.
    Time(usize),
    /// An fentry/fexit context slot: `index`-th u64, holding an integer of `size` bytes.
    CtxSlot { index: u32, size: u32, signed: bool },
    /// A call that only sends an event of `kind` with `id` (its data lives in the plan).
    Event { kind: crate::plan::EventKind, id: u32 },
    /// `buf()`, reading user memory when `user`.
    Buf { user: bool },
    /// `join()` with plan separator `id`, reading user memory when `user`.
    Join { id: usize, user: bool },
    /// `signal()`: the signal's number when known at compile time, else the argument's value.
    Signal(Option<u32>),
    /// `bswap()` of an integer `n` bits wide.
    Bswap(u32),
    /// `str()` of an in-memory char array of `len` bytes.
    StrArray { len: u32, user: bool },
    /// A kernel value in memory at the base's address plus `offset` (a member, `*p`, `p[i]`).
    Memory(Access),
    /// `ppid`: two reads from the current task: its `real_parent`, then that task's `tgid`.
    Ppid { parent: Access, tgid: Access },
    /// `strncmp()` over at most `n` bytes.
    Strncmp(u64),
    /// A value in memory at `base + index * scale + access.offset`, where `base` and `index`
    /// are the context's u64 slots (`pt_regs` registers): a USDT argument.
    RegMemory { base: u32, index: Option<(u32, u8)>, access: Access },
    Call(Func),
    /// A cast to an integer type `bits` wide (`(uint8)x`, `(pid_t)x`).
    IntCast { bits: u32, signed: bool },
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
}

/// A `for ($kv : @map)` loop: the map, and the variable that holds each `(key, value)`.
#[derive(Debug, Clone, PartialEq)]
pub struct MapLoop {
    /// The map's index in the plan.
    pub map: usize,
    /// The loop variable's name in `ProgInfo::vars` (unique to the loop).
    pub var: String,
    /// How the key (its one part, or the tuple of its parts) and the value are laid out.
    pub key: ArgKind,
    pub value: ArgKind,
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
}

impl Checked {
    pub fn map_index(&self, name: &str) -> Option<usize> {
        self.plan.maps.iter().position(|m| m.name == name)
    }
}

/// How the program will be used, where it changes what is an error.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The programs will be loaded but not attached (`--dry-run --no-attach`): probes this
    /// kernel cannot attach are still checked.
    pub no_attach: bool,
    /// Positional parameters: `$1` is `params[0]`.
    pub params: Vec<String>,
    /// `-p PID`.
    pub pid: Option<u32>,
    /// Whether `-c CMD` was given (`cpid` needs it).
    pub has_command: bool,
    /// `--unsafe`: functions that act on the system (`signal()`, `system()`) are allowed.
    pub allow_unsafe: bool,
    /// What the caller learned about the host first (`host_needs`).
    pub host: HostFacts,
}

/// Checks a parsed program. Errors (with any warnings) come back as diagnostics.
pub fn check(program: &Program, opts: &Options) -> Result<Checked, Vec<Diagnostic>> {
    if program.probes.is_empty() {
        return Err(vec![Diagnostic::error("the program has no probes")
            .help("a probe looks like `tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }`")]);
    }
    let mut diags = Vec::new();
    // The kernel's BTF is loaded at most once, by probe expansion (fentry) or by the checks.
    let mut kernel_types = None;
    let instances = probes::expand(program, opts, &mut kernel_types, &mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    let share::Shared { instances, names: probe_names, slots, params } = share::share_programs(program, instances);
    // Pass 1 learns every map's type from its assignments; pass 2 checks everything against
    // them, so a map may be read in a probe that comes before the one that writes it.
    let mut first = Checker::new(program, MapTable::default(), false);
    first.kernel_types = kernel_types;
    first.params = opts.params.clone();
    first.has_command = opts.has_command;
    for inst in &instances {
        first.check_instance(inst);
    }
    let mut second = Checker::new(program, first.maps, true);
    second.tuples = std::mem::take(&mut first.tuples);
    second.no_attach = opts.no_attach;
    second.params = opts.params.clone();
    second.has_command = opts.has_command;
    second.allow_unsafe = opts.allow_unsafe;
    second.kernel_types = first.kernel_types.take();
    let mut progs = Vec::new();
    for (inst, slots) in instances.iter().zip(slots) {
        let mut info = second.check_instance(inst);
        info.params = slots;
        progs.push(info);
    }
    diags.extend(second.diags);
    let declared = declared_maps(program, &second.maps, &mut diags);
    dedup(&mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    let maps = second.maps.defs(&declared);
    let probes = instances
        .iter()
        .enumerate()
        .map(|(i, inst)| ProbeDef {
            prog_name: format!("p{i}"),
            display: inst.display.clone(),
            attach: inst.attach.clone(),
            cookie: inst.name_ids[0],
            also: inst.also.iter().cloned().zip(inst.name_ids[1..].iter().copied()).collect(),
            multi: probes::multi_link_candidate(inst),
        })
        .collect();
    let plan = Plan {
        probes,
        maps,
        printfs: second.printfs,
        uses_elapsed: second.uses_elapsed,
        time_formats: second.time_formats,
        strftime_formats: second.strftime_formats,
        stack_depths: second.stack_depths,
        filter_pid: opts.pid,
        probe_names,
        join_separators: second.join_separators,
        cat_paths: second.cat_paths,
        tuples: second.tuples.layouts(),
        enums: second.enums.into_iter().map(|(_, def)| def).collect(),
        params,
    };
    Ok(Checked { plan, progs, warnings: diags, tuple_types: second.tuples.types })
}

/// The kernel's types, loaded on first use (by probe expansion or the checker), or why not.
pub(super) type KernelTypesCache = Option<Result<std::rc::Rc<btf::KernelTypes>, String>>;

/// `$1`, `$2`, …, `$#`.
fn is_positional(name: &str) -> bool {
    name == "$#" || (name.len() > 1 && name[1..].bytes().all(|b| b.is_ascii_digit()))
}

/// The error for `argN` where `what` (a raw tracepoint, a USDT probe) has only `count`.
fn past_last_arg(what: &str, count: usize, span: Span, n: u8, display: &str) -> Diagnostic {
    let has = match count {
        0 => "no arguments".to_string(),
        1 => "one argument, `arg0`".to_string(),
        c => format!("{c} arguments, `arg0` … `arg{}`", c - 1),
    };
    Diagnostic::error(format!("{what} has {has}")).at(span, format!("no `arg{n}` in `{display}`"))
}

/// A user map as sema learns it.
#[derive(Debug, Clone)]
struct MapInfo {
    name: String,
    value: ValueKind,
    keys: Keys,
    /// Where the map first got its value type, and its key shape.
    first_assign: Span,
    first_keys: Span,
}

/// A map's key shape: its parts, and a record key's field names (one per part).
#[derive(Debug, Clone, Default, PartialEq)]
struct Keys {
    fields: Vec<KeyField>,
    names: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
struct MapTable {
    maps: Vec<MapInfo>,
}

impl MapTable {
    fn get(&self, name: &str) -> Option<(usize, &MapInfo)> {
        self.maps.iter().enumerate().find(|(_, m)| m.name == name)
    }
    fn defs(&self, declared: &HashMap<&str, Declared>) -> Vec<MapDef> {
        self.maps
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let decl = declared.get(m.name.as_str());
                MapDef {
                    name: m.name.clone(),
                    bpf_name: format!("m{i}"),
                    key: m.keys.fields.clone(),
                    key_names: m.keys.names.clone(),
                    value: m.value,
                    max_entries: decl.map_or(MAX_MAP_KEYS, |d| d.max_entries),
                    lru: decl.is_some_and(|d| d.lru),
                }
            })
            .collect()
    }
}

/// What a `let @m = KIND(N);` declaration says of a map.
struct Declared {
    lru: bool,
    max_entries: u32,
}

/// The map types a declaration may name: (name, LRU, per-CPU).
const MAP_KINDS: [(&str, bool, bool); 4] =
    [("hash", false, false), ("lruhash", true, false), ("percpuhash", false, true), ("percpulruhash", true, true)];

/// Checks the top-level map declarations against each other and against what the probes do
/// with the maps (aggregations need a per-CPU map, other values a plain one).
fn declared_maps<'p>(program: &'p Program, maps: &MapTable, diags: &mut Vec<Diagnostic>) -> HashMap<&'p str, Declared> {
    let mut declared = HashMap::new();
    let mut spans: HashMap<&str, Span> = HashMap::new();
    for d in &program.map_decls {
        let name = d.map.name.as_str();
        if let Some(first) = spans.get(name) {
            diags.push(
                Diagnostic::error(format!("map `{name}` is declared twice"))
                    .at(d.map.span, "declared again here")
                    .also(*first, "first declared here"),
            );
            continue;
        }
        spans.insert(name, d.map.span);
        let Some(&(kind, lru, per_cpu)) = MAP_KINDS.iter().find(|k| k.0 == d.kind.name) else {
            let mut e = Diagnostic::error(format!("unknown map type `{}`", d.kind.name)).at(d.kind.span, "not a map type");
            if let Some(s) = did_you_mean(&d.kind.name, MAP_KINDS.iter().map(|k| k.0)) {
                e = e.help(format!("did you mean `{s}`?"));
            }
            diags.push(e.note("map types: `hash`, `lruhash`, `percpuhash`, `percpulruhash`"));
            continue;
        };
        let max_entries = match d.args.as_slice() {
            [Expr { kind: ExprKind::Int(n), .. }] if (1..=u32::MAX as u64).contains(n) => *n as u32,
            [arg] => {
                diags.push(
                    Diagnostic::error(format!("`{kind}()` takes the map's maximum number of entries, an integer literal"))
                        .at(arg.span, format!("not an integer from 1 to {}", u32::MAX)),
                );
                continue;
            }
            args => {
                diags.push(
                    Diagnostic::error(format!("`{kind}()` takes one argument, the map's maximum number of entries"))
                        .at(d.kind.span.to(args.last().map_or(d.kind.span, |a| a.span)), format!("{} arguments", args.len()))
                        .help(format!("write `let {name} = {kind}(1000);`")),
                );
                continue;
            }
        };
        match maps.get(name) {
            None => diags.push(
                Diagnostic::warning(format!("map `{name}` is declared but never used")).at(d.map.span, "declared here"),
            ),
            Some((_, info)) if info.value.is_aggregation() != per_cpu => {
                let value = value_desc(info.value);
                let (needs, kinds) =
                    if per_cpu { ("a per-CPU map is for aggregations", "`hash` or `lruhash`") } else { ("an aggregation needs a per-CPU map", "`percpuhash` or `percpulruhash`") };
                diags.push(
                    Diagnostic::error(format!("map `{name}` is declared `{kind}`, but its value is {value}"))
                        .at(info.first_assign, format!("{value} assigned here"))
                        .also(d.kind.span, format!("declared `{kind}` here"))
                        .help(format!("{needs}: declare it {kinds}")),
                );
            }
            Some(_) => {}
        }
        declared.insert(name, Declared { lru, max_entries });
    }
    declared
}

struct Checker<'p> {
    program: &'p Program,
    maps: MapTable,
    /// Pass 2 reports errors and builds the plan; pass 1 only learns map types.
    final_pass: bool,
    diags: Vec<Diagnostic>,
    printfs: Vec<PrintfDef>,
    /// Kernel enums printed by name, with their BTF ids; the plan's `enums`.
    enums: Vec<(u32, plan::EnumDef)>,
    time_formats: Vec<String>,
    /// Formats of `strftime()` values. Both passes fill it in the same order, so a format's
    /// index (part of its type, and so of map types) is the same in both.
    strftime_formats: Vec<String>,
    join_separators: Vec<String>,
    cat_paths: Vec<String>,
    uses_elapsed: bool,
    /// Depths of the stacks recorded, each once.
    stack_depths: Vec<u32>,
    /// `--dry-run --no-attach`: what only matters when running is a warning.
    no_attach: bool,
    /// Positional parameters.
    params: Vec<String>,
    has_command: bool,
    /// `--unsafe`.
    allow_unsafe: bool,
    /// Kernel BTF, loaded the first time a kernel type is needed.
    kernel_types: KernelTypesCache,
    /// Every tuple type seen, learnt in pass 1 and kept for pass 2 (map types refer to it).
    tuples: TupleTypes,
}

/// Tuple types, each stored once: `Type::Tuple(i)` is `types[i]`.
#[derive(Debug, Clone, Default)]
struct TupleTypes {
    types: Vec<Vec<Type>>,
    /// Records' field names, in element order (`None`: a tuple).
    names: Vec<Option<Vec<String>>>,
}

impl TupleTypes {
    fn intern(&mut self, elems: Vec<Type>) -> Type {
        self.intern_named(elems, None)
    }

    fn intern_named(&mut self, elems: Vec<Type>, names: Option<Vec<String>>) -> Type {
        let id = match (0..self.types.len()).find(|&i| self.types[i] == elems && self.names[i] == names) {
            Some(i) => i,
            None => {
                self.types.push(elems);
                self.names.push(names);
                self.types.len() - 1
            }
        };
        Type::Tuple(id as u32)
    }

    /// The field order of records with these names: the order the first of them had, so that
    /// `(a = 1, b = 2)` and `(b = 3, a = 4)` are one type (as in bpftrace).
    fn record_order(&self, names: &[&str]) -> Vec<String> {
        let same = |known: &Vec<String>| known.len() == names.len() && names.iter().all(|n| known.iter().any(|k| k == n));
        match self.names.iter().flatten().find(|known| same(known)) {
            Some(known) => known.clone(),
            None => names.iter().map(|n| n.to_string()).collect(),
        }
    }

    /// How a value of type `t` is laid out in a tuple, a record or a map value; `None` for
    /// types that cannot be stored.
    fn arg_kind(&self, t: Type) -> Option<ArgKind> {
        Some(match t {
            Type::Int { signed } => ArgKind::Int { signed },
            Type::Ptr { .. } => ArgKind::Int { signed: false },
            Type::Str { len } => ArgKind::Str { len },
            Type::Ksym => ArgKind::Ksym,
            Type::Stack(spec) => ArgKind::Stack(spec),
            Type::Timestamp(id) => ArgKind::Timestamp(id),
            Type::Inet => ArgKind::Inet,
            Type::ProbeName => ArgKind::ProbeName,
            Type::Usym => ArgKind::Usym,
            Type::IntArray(a) => ArgKind::IntArray(a),
            Type::Tuple(id) => ArgKind::Tuple { id, size: self.layout(id).size as u32 },
            _ => return None,
        })
    }

    /// Tuple `id`'s layout: every element 8-byte aligned, as a map key's parts are.
    fn layout(&self, id: u32) -> TupleDef {
        let mut fields = Vec::new();
        let mut offset = 0;
        for &t in &self.types[id as usize] {
            let kind = match self.arg_kind(t) {
                Some(ArgKind::Str { len }) => ArgKind::Str { len: len.next_multiple_of(8) },
                Some(k) => k,
                None => continue,
            };
            fields.push(ArgField { offset, kind });
            offset += kind.size().next_multiple_of(8);
        }
        TupleDef { fields, size: offset.max(8), names: self.names[id as usize].clone() }
    }

    fn layouts(&self) -> Vec<TupleDef> {
        (0..self.types.len() as u32).map(|i| self.layout(i)).collect()
    }

    /// The type two values agree on, as bpftrace unifies them: tuples of the same arity
    /// whose elements agree, strings of any lengths (the longer wins), integers of either
    /// sign; `None` if they do not.
    fn unify(&mut self, a: Type, b: Type) -> Option<Type> {
        match (a, b) {
            (Type::Tuple(x), Type::Tuple(y)) => {
                let (xs, ys) = (self.types[x as usize].clone(), self.types[y as usize].clone());
                if xs.len() != ys.len() {
                    return None;
                }
                let names = self.names[x as usize].clone();
                if names != self.names[y as usize] {
                    return None;
                }
                let elems = xs.iter().zip(&ys).map(|(&p, &q)| self.unify(p, q)).collect::<Option<Vec<_>>>()?;
                Some(self.intern_named(elems, names))
            }
            (Type::Str { len: x }, Type::Str { len: y }) => Some(Type::Str { len: x.max(y) }),
            (x, y) if x.is_int() && y.is_int() => Some(x),
            (x, y) if std::mem::discriminant(&x) == std::mem::discriminant(&y) => Some(x),
            _ => None,
        }
    }

    /// A type as bpftrace writes it in messages: `int64`, `string[2]`, `(int64,string[2])`.
    fn name(&self, t: Type) -> String {
        match t {
            Type::Int { signed: true } => "int64".into(),
            Type::Int { signed: false } => "uint64".into(),
            Type::Str { len } => format!("string[{len}]"),
            Type::IntArray(a) => array_name(a),
            Type::Tuple(id) => {
                let mut parts: Vec<String> = self.types[id as usize].iter().map(|&e| self.name(e)).collect();
                if let Some(names) = &self.names[id as usize] {
                    parts = names.iter().zip(parts).map(|(n, p)| format!("{n}={p}")).collect();
                }
                format!("({})", parts.join(","))
            }
            other => other.describe().trim_start_matches("an ").trim_start_matches("a ").to_string(),
        }
    }
}

/// State while checking one program.
struct Scope<'i> {
    inst: &'i Instance,
    exprs: HashMap<ExprId, ExprInfo>,
    vars: HashMap<String, (Type, Span)>,
    /// How many loops enclose the statement being checked.
    loops: u32,
    /// The width in bits of integer variables, from their declaration or first assignment
    /// (for `bswap` and array casts).
    var_bits: HashMap<String, u32>,
    /// The declared integer type of variables declared with one (`let $x: uint8`).
    declared: HashMap<String, (u32, bool)>,
    /// The type each variable declared with a type was declared with, as written.
    declared_as: HashMap<String, String>,
    /// The BTF enum type of each expression whose value is a kernel enum (printed by name by
    /// `%s`).
    enums: HashMap<ExprId, u32>,
    /// The enum type of each variable assigned an enum; `None` once assigned anything else.
    var_enums: HashMap<String, Option<u32>>,
    /// The variables of the `for` loops over maps being checked, innermost last: the name
    /// written and the program's own name for it (each loop has its own variable).
    loop_vars: Vec<(String, String)>,
    /// The ids of those loops (where their statements start), innermost last.
    loop_ids: Vec<usize>,
    map_loops: HashMap<usize, MapLoop>,
    /// For each variable, the loops enclosing each of its uses.
    var_uses: HashMap<String, Vec<Vec<usize>>>,
}

impl Scope<'_> {
    /// Whether a plain integer used as an address points into user memory: the probe's
    /// address space (user memory in uprobes and USDT probes, as in bpftrace).
    fn user_memory(&self) -> bool {
        matches!(self.inst.attach, Attach::Uprobe { .. } | Attach::Usdt { .. })
    }

    /// Whether integer or pointer `t`, used as an address, points into user memory: a pointer
    /// knows its address space, a plain integer takes the probe's.
    fn user_address(&self, t: Type) -> bool {
        match t {
            Type::Ptr { user, .. } => user,
            _ => self.user_memory(),
        }
    }

    /// Notes a use of variable `name` where the checker is.
    fn use_var(&mut self, name: &str) {
        let at = self.loop_ids.clone();
        self.var_uses.entry(name.to_string()).or_default().push(at);
    }
}

impl<'p> Checker<'p> {
    fn new(program: &'p Program, maps: MapTable, final_pass: bool) -> Checker<'p> {
        Checker { program, maps, final_pass, diags: Vec::new(), printfs: Vec::new(), enums: Vec::new(), time_formats: Vec::new(), strftime_formats: Vec::new(), join_separators: Vec::new(), cat_paths: Vec::new(), uses_elapsed: false, stack_depths: Vec::new(), no_attach: false, params: Vec::new(), has_command: false, allow_unsafe: false, kernel_types: None, tuples: TupleTypes::default() }
    }

    /// The kernel's types, or `None` after an error at `span` (labelled `label`) saying why
    /// they cannot be had.
    fn kernel_types_at(&mut self, span: Span, label: &str) -> Option<std::rc::Rc<btf::KernelTypes>> {
        match self.kernel_types() {
            Ok(k) => Some(k),
            Err(msg) => {
                self.error(Diagnostic::error(msg).at(span, label));
                None
            }
        }
    }

    fn kernel_types(&mut self) -> Result<std::rc::Rc<btf::KernelTypes>, String> {
        self.kernel_types.get_or_insert_with(|| btf::KernelTypes::load().map(std::rc::Rc::new)).clone()
    }

    /// The sema type of a value of BTF type `id` found in memory, and how to read it.
    fn memory_type(k: &btf::KernelTypes, id: u32, user: bool, bitfield: Option<(u8, u8)>) -> Option<(Type, Read)> {
        Some(match k.shape(id) {
            btf::Shape::Int { size, signed, .. } if matches!(size, 1 | 2 | 4 | 8) => {
                (Type::Int { signed }, Read::Int { size, signed, bitfield })
            }
            btf::Shape::Ptr { to } => {
                (Type::Ptr { user, to: to.map(|to| Pointee::btf(k, to)) }, Read::Int { size: 8, signed: false, bitfield: None })
            }
            btf::Shape::Record { id, .. } => (Type::Record { id, user }, Read::Address),
            // char arrays are strings, as in bpftrace (read up to their first NUL).
            btf::Shape::Array { elem, len } if matches!(k.shape(elem), btf::Shape::Int { is_char: true, .. }) => {
                let len = len.min(STR_LEN);
                (Type::Str { len }, Read::Chars { len })
            }
            btf::Shape::Array { elem, len } => (Type::Array { elem, len, user }, Read::Address),
            _ => return None,
        })
    }

    /// `(enum NAME)v`: `v` unchanged, printed by `%s` as one of the kernel enum's names. A
    /// literal must be one of its values, as in bpftrace.
    fn enum_cast(&mut self, e: &Expr, ty_span: Span, name: &str, v: &Expr, t: Type, scope: &mut Scope) -> Type {
        if t == Type::Error {
            return Type::Error;
        }
        if !t.is_int() {
            self.error(
                Diagnostic::error(format!("cannot cast {} to an enum", t.describe()))
                    .at(v.span, format!("this is {}", t.describe())),
            );
            return Type::Error;
        }
        let Some(k) = self.kernel_types_at(ty_span, "needs the kernel's types") else { return Type::Error };
        let Some(def) = k.find_tagged("enum", name).and_then(|id| Some((id, k.enum_def(id)?))) else {
            self.error(Diagnostic::error(format!("unknown type `enum {name}`")).at(ty_span, "not in the kernel's BTF"));
            return Type::Error;
        };
        let (id, def) = def;
        if let ExprKind::Int(n) = v.kind {
            let shift = 64 - 8 * def.size.clamp(1, 8);
            if !def.values.iter().any(|(value, _)| *value == (n << shift) >> shift) {
                self.error(
                    Diagnostic::error(format!("`enum {name}` has no value {n}"))
                        .at(v.span, "not one of its values")
                        .help(format!("`rtrace -lv 'enum {name}'` lists them")),
                );
                return Type::Error;
            }
        }
        scope.enums.insert(e.id, id);
        self.set(scope, e, Type::Int { signed: def.signed }, Res::Plain)
    }

    /// Notes that a cast `e` to a typedef of an enum has that enum's type, for `%s`.
    fn note_typedef_enum(&mut self, ty: &TypeExpr, e: &Expr, scope: &mut Scope) {
        let TypeExprKind::Named(name) = &ty.kind else { return };
        if named_int_type(name).is_some() {
            return;
        }
        if let (Ok(k), Some(id)) = (self.kernel_types(), self.typedef(name, ty.span)) {
            Self::note_enum(&k, id, e, scope);
        }
    }

    /// Notes that `e`'s value has BTF type `id`, if that is an enum.
    fn note_enum(k: &btf::KernelTypes, id: u32, e: &Expr, scope: &mut Scope) {
        if k.enum_def(id).is_some() {
            scope.enums.insert(e.id, id);
        }
    }

    /// The plan index of BTF enum `id` (added on first use, in the final pass).
    fn plan_enum(&mut self, id: u32) -> u32 {
        if let Some(i) = self.enums.iter().position(|(b, _)| *b == id) {
            return i as u32;
        }
        let def = self.kernel_types().ok().and_then(|k| k.enum_def(id));
        match def {
            Some(def) if self.final_pass => {
                self.enums.push((id, def));
                (self.enums.len() - 1) as u32
            }
            _ => 0,
        }
    }

    /// An fentry/fexit argument (or fexit's return value): the `index`-th u64 of the context,
    /// typed by BTF type `ty`.
    fn fentry_slot(&mut self, e: &Expr, index: usize, ty: u32, scope: &mut Scope) -> Type {
        let Ok(k) = self.kernel_types() else { return Type::Error };
        Self::note_enum(&k, ty, e, scope);
        let (t, size, signed) = match k.shape(ty) {
            btf::Shape::Int { size, signed, .. } => (Type::Int { signed }, size, signed),
            btf::Shape::Ptr { to } => (Type::Ptr { user: false, to: to.map(|to| Pointee::btf(&k, to)) }, 8, false),
            _ => {
                self.error(
                    Diagnostic::error(format!("rtrace cannot read an argument of type `{}` yet", k.name(ty)))
                        .at(e.span, "unsupported argument type"),
                );
                return Type::Error;
            }
        };
        self.set(scope, e, t, Res::CtxSlot { index: index as u32, size, signed })
    }

    /// `argN` of a raw tracepoint: the N-th u64 of the context, if every tracepoint the
    /// program serves passes that many (BTF knows how many; a module's are not checked).
    fn raw_tracepoint_arg(&mut self, e: &Expr, n: u8, scope: &mut Scope) -> Type {
        let Some(k) = self.kernel_types_at(e.span, "needs the kernel's types") else { return Type::Error };
        for attach in std::iter::once(&scope.inst.attach).chain(&scope.inst.also) {
            let Attach::RawTracepoint { name } = attach else { continue };
            match k.raw_tracepoint_args(name) {
                Some(count) if n as usize >= count => {
                    self.error(past_last_arg(&format!("raw tracepoint `{name}`"), count, e.span, n, &scope.inst.display));
                    return Type::Error;
                }
                _ => {}
            }
        }
        self.set(scope, e, Type::Int { signed: false }, Res::CtxSlot { index: n as u32, size: 8, signed: false })
    }

    /// `argN` of a USDT probe, from where the location's spec says it is: a constant, a
    /// register (a slot of `pt_regs`) or user memory addressed by registers.
    fn usdt_arg(&mut self, e: &Expr, n: u8, scope: &mut Scope) -> Type {
        let Attach::Usdt { provider, name, .. } = &scope.inst.attach else { return Type::Error };
        let Some(spec) = scope.inst.usdt_args.get(n as usize) else {
            let what = format!("USDT probe `{provider}:{name}`");
            self.error(past_last_arg(&what, scope.inst.usdt_args.len(), e.span, n, &scope.inst.display));
            return Type::Error;
        };
        let Some(arg) = usdt::parse_arg(spec) else {
            self.error(
                Diagnostic::error(format!("rtrace cannot read argument {n} of USDT probe `{provider}:{name}`: `{spec}`"))
                    .at(e.span, "unsupported argument location")
                    .note("rtrace reads registers, constants and memory addressed by registers, not symbols' addresses"),
            );
            return Type::Error;
        };
        let ty = Type::Int { signed: arg.signed };
        let res = match arg.loc {
            usdt::Loc::Const(v) => Res::Const(extend(v as u64, arg.size, arg.signed)),
            usdt::Loc::Reg(offset) => Res::CtxSlot { index: offset / 8, size: arg.size, signed: arg.signed },
            usdt::Loc::Mem { base, index, disp } => {
                let read = Read::Int { size: arg.size, signed: arg.signed, bitfield: None };
                let access = Access { offset: disp as u64, scale: 1, read, user: true };
                Res::RegMemory { base: base / 8, index: index.map(|(i, scale)| (i / 8, scale)), access }
            }
        };
        self.set(scope, e, ty, res)
    }

    /// `p[i]` or `*p`: an element of a typed pointer or an array.
    fn element(&mut self, e: &Expr, base_ty: Type, base_span: Span, scope: &mut Scope) -> Type {
        // An integer type named in a cast needs no kernel types.
        if let Type::Ptr { to: Some(Pointee::Int { bytes, signed }), user } = base_ty {
            let read = Read::Int { size: bytes, signed, bitfield: None };
            let access = Access { offset: 0, scale: u64::from(bytes), read, user };
            return self.set(scope, e, Type::Int { signed }, Res::Memory(access));
        }
        let Ok(k) = self.kernel_types() else { return Type::Error };
        let (elem, user) = match base_ty {
            Type::Ptr { to: Some(Pointee::Btf { id, .. }), user } => (id, user),
            Type::Array { elem, user, .. } => (elem, user),
            other => {
                self.error(
                    Diagnostic::error(format!("cannot index {}", other.describe()))
                        .at(base_span, "not an array or a typed pointer"),
                );
                return Type::Error;
            }
        };
        let Some((ty, read)) = Self::memory_type(&k, elem, user, None) else {
            self.error(Diagnostic::error(format!("rtrace cannot read `{}` yet", k.name(elem))).at(e.span, "unsupported type"));
            return Type::Error;
        };
        let access = Access { offset: 0, scale: k.size(elem) as u64, read, user };
        Self::note_enum(&k, elem, e, scope);
        self.set(scope, e, ty, Res::Memory(access))
    }

    /// A member of a kernel struct reached through `base_ty` (`p->m` or `s.m`).
    fn kernel_member(&mut self, e: &Expr, base_ty: Type, field: &Name, scope: &mut Scope) -> Type {
        let Some(k) = self.kernel_types_at(field.span, "needs the kernel's types") else { return Type::Error };
        let (record, user) = match base_ty {
            Type::Ptr { to: Some(Pointee::Btf { id: to, .. }), user } => match k.shape(to) {
                btf::Shape::Record { id, .. } => (id, user),
                _ => {
                    self.error(
                        Diagnostic::error(format!("`{}` has no members", k.name(to)))
                            .at(field.span, "not a struct or union"),
                    );
                    return Type::Error;
                }
            },
            Type::Record { id, user } => (id, user),
            _ => {
                self.error(
                    Diagnostic::error(format!("`{}` needs a struct, but this is {}", field.name, base_ty.describe()))
                        .at(field.span, "not a member of anything")
                        .help("cast the pointer to its type first, e.g. `((struct sock *)arg0)->sk_state`"),
                );
                return Type::Error;
            }
        };
        let Some(m) = k.member(record, &field.name) else {
            self.error(no_member(&k, record, field));
            return Type::Error;
        };
        let bitfield = m.bitfield.map(|bits| ((m.offset_bits % 8) as u8, bits));
        let Some((ty, read)) = Self::memory_type(&k, m.ty, user, bitfield) else {
            self.error(
                Diagnostic::error(format!("rtrace cannot read `{}` of type `{}` yet", field.name, k.name(m.ty)))
                    .at(field.span, "unsupported member type"),
            );
            return Type::Error;
        };
        let access = Access { offset: (m.offset_bits / 8) as u64, scale: 0, read, user };
        Self::note_enum(&k, m.ty, e, scope);
        self.set(scope, e, ty, Res::Memory(access))
    }

    /// Reports `name`, which reads the probe's context, when it is inside a `for` loop over a
    /// map: the loop's body is a callback without that context.
    fn refused_in_map_loop(&mut self, name: &str, span: Span, scope: &Scope) -> bool {
        if scope.loop_vars.is_empty() {
            return false;
        }
        self.error(
            Diagnostic::error(format!("`{name}` cannot be used inside a `for` loop over a map"))
                .at(span, "needs the probe's context, which the loop's body does not have")
                .help("read what you need into a variable before the loop"),
        );
        true
    }

    /// Warns, as bpftrace does, when a comparison or arithmetic mixes a signed and an
    /// unsigned integer, neither of them a constant: the result may not be what it reads as
    /// (`-1 < (uint64)1` is false).
    /// `known` says which side sema resolved to a constant (a kernel constant, `$1`).
    fn sign_mismatch(&mut self, op: BinOp, (l, lt): (&Expr, Type), (r, rt): (&Expr, Type), known: (bool, bool), span: Span) {
        let what = match op {
            _ if op.is_comparison() => "comparison of",
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => "arithmetic on",
            _ => return,
        };
        let constant = |x: &Expr| match &x.kind {
            ExprKind::Int(_) | ExprKind::Bool(_) | ExprKind::SizeofType(_) | ExprKind::Offsetof { .. } => true,
            ExprKind::Unary { operand, .. } => matches!(operand.kind, ExprKind::Int(_)),
            _ => false,
        };
        let (Type::Int { signed: ls }, Type::Int { signed: rs }) = (lt, rt) else { return };
        if ls == rs || constant(l) || constant(r) || known.0 || known.1 {
            return;
        }
        self.error(
            Diagnostic::warning(format!("{what} integers of different signs: {} and {}", lt.describe(), rt.describe()))
                .at(span, "may not be what it reads as")
                .help("cast one side, e.g. `(int64)x`, to say which is meant"),
        );
    }

    /// `ppid`'s two reads, with offsets from the kernel's `struct task_struct`.
    fn ppid(&mut self, span: Span) -> Option<Res> {
        let Some(k) = self.kernel_types_at(span, "`ppid` needs the kernel's types") else { return None };
        let task = k.find_tagged("struct", "task_struct")?;
        let (parent, tgid) = (k.member(task, "real_parent")?, k.member(task, "tgid")?);
        let read = |m: btf::Member, size| Access {
            offset: (m.offset_bits / 8) as u64,
            scale: 0,
            read: Read::Int { size, signed: false, bitfield: None },
            user: false,
        };
        Some(Res::Ppid { parent: read(parent, 8), tgid: read(tgid, 4) })
    }

    /// The size in bytes of a type as written in `sizeof`: an integer type, a pointer, an
    /// array, or a kernel struct, union or enum from BTF.
    fn type_size(&mut self, t: &TypeExpr) -> Option<u64> {
        match &t.kind {
            TypeExprKind::Named(name) if named_int_type(name).is_none() => {
                let id = self.typedef(name, t.span)?;
                self.kernel_types().ok().map(|k| k.size(id) as u64)
            }
            TypeExprKind::Named(_) => self.int_type(t).map(|(bits, _)| bits as u64 / 8),
            TypeExprKind::Pointer(_) => Some(8),
            TypeExprKind::Array(inner, Some(n)) => self.type_size(inner).map(|s| s * n),
            TypeExprKind::Array(_, None) => {
                self.error(Diagnostic::error("`sizeof` of an array needs its length").at(t.span, "no length"));
                None
            }
            TypeExprKind::Tagged { .. } => {
                let id = self.kernel_type(t)?;
                self.kernel_types().ok().map(|k| k.size(id) as u64)
            }
        }
    }

    /// The type a pointer cast names, for `(struct task_struct *)x`; `None` if `ty` is not a
    /// pointer type.
    fn cast_pointer(&mut self, ty: &TypeExpr) -> Option<Type> {
        let inner = match &ty.kind {
            TypeExprKind::Pointer(inner) => inner,
            // A typedef of a pointer: `(pgtable_t)x`.
            TypeExprKind::Named(name) if named_int_type(name).is_none() => {
                let Some(id) = self.typedef(name, ty.span) else { return Some(Type::Error) };
                let k = self.kernel_types().ok()?;
                return match k.shape(id) {
                    btf::Shape::Ptr { to } => Some(Type::Ptr { user: false, to: to.map(|to| Pointee::btf(&k, to)) }),
                    _ => None,
                };
            }
            _ => return None,
        };
        let to = match &inner.kind {
            TypeExprKind::Tagged { .. } => self.kernel_type(inner),
            TypeExprKind::Named(name) => match named_int_type(name) {
                Some((bits, signed)) => return Some(Type::Ptr { user: false, to: Some(Pointee::Int { bytes: bits / 8, signed }) }),
                None => self.typedef(name, inner.span),
            },
            TypeExprKind::Pointer(_) => {
                return Some(Type::Ptr { user: false, to: Some(Pointee::Int { bytes: 8, signed: false }) });
            }
            TypeExprKind::Array(..) => return Some(Type::Ptr { user: false, to: None }),
        };
        let Some(to) = to else { return Some(Type::Error) };
        let k = self.kernel_types().ok()?;
        Some(Type::Ptr { user: false, to: Some(Pointee::btf(&k, to)) })
    }

    /// `(uint8[8])x`, `(int16[])x`: an integer's bytes as an array of integers of the same
    /// size in all (the length worked out from the integer's when not written).
    #[allow(clippy::too_many_arguments)]
    fn array_cast(
        &mut self,
        e: &Expr,
        ty: &TypeExpr,
        elem: &TypeExpr,
        len: Option<u64>,
        operand: &Expr,
        t: Type,
        scope: &mut Scope,
    ) -> Type {
        let Some((elem_bits, signed)) = (match &elem.kind {
            TypeExprKind::Named(name) => named_int_type(name),
            _ => None,
        }) else {
            self.error(
                Diagnostic::error("an array cast needs an integer element type")
                    .at(elem.span, "not an integer type")
                    .help("write an integer type such as `uint8[4]`"),
            );
            return Type::Error;
        };
        if t == Type::Error {
            return Type::Error;
        }
        if !t.is_int() {
            self.error(
                Diagnostic::error(format!("cannot cast {} to an integer array", t.describe()))
                    .at(operand.span, format!("this is {}", t.describe()))
                    .note("only an integer can be cast to an array of integers"),
            );
            return Type::Error;
        }
        let elem_bytes = elem_bits / 8;
        let size = int_bits(operand, scope) / 8;
        let len = len.unwrap_or(u64::from(size / elem_bytes));
        let wanted = len.saturating_mul(u64::from(elem_bytes));
        if len == 0 || wanted != u64::from(size) {
            let mut d = Diagnostic::error(format!("cannot cast an integer of {size} bytes to `{}`", array_type_text(ty)))
                .at(ty.span, if len == 0 { format!("{elem_bytes}-byte elements") } else { format!("{wanted} bytes") })
                .also(operand.span, format!("{size} bytes"))
                .note("an array cast keeps the bytes, so both sides must have the same size");
            if [1, 2, 4, 8].contains(&wanted) {
                d = d.help(format!("cast the integer to that size first: `({})(uint{})…`", array_type_text(ty), wanted * 8));
            }
            self.error(d);
            return Type::Error;
        }
        let a = plan::IntArray { elem_bytes: elem_bytes as u8, signed, len: len as u8 };
        self.set(scope, e, Type::IntArray(a), Res::Plain)
    }

    /// `(uint32)args.saddr`: an integer array in memory (a kernel struct's member, a
    /// tracepoint field) read whole as an integer of the same size.
    fn memory_array_cast(
        &mut self,
        e: &Expr,
        ty: &TypeExpr,
        (bits, signed): (u32, bool),
        operand: Span,
        (elem, len, user): (u32, u32, bool),
        scope: &mut Scope,
    ) -> Type {
        let Ok(k) = self.kernel_types() else { return Type::Error };
        let elem_size = match k.shape(elem) {
            btf::Shape::Int { size, .. } => Some(size),
            _ => None,
        };
        let size = elem_size.map(|s| s * len);
        if size != Some(bits / 8) {
            let what = match size {
                Some(n) => format!("an array of {n} bytes"),
                None => format!("an array of `{}`", k.name(elem)),
            };
            self.error(
                Diagnostic::error(format!("cannot cast {what} to `{}` ({} bytes)", array_type_text(ty), bits / 8))
                    .at(ty.span, format!("{} bytes", bits / 8))
                    .also(operand, what)
                    .note("an array is cast to an integer of the same size, its elements' bytes in order"),
            );
            return Type::Error;
        }
        let access = Access { offset: 0, scale: 0, read: Read::Int { size: bits / 8, signed, bitfield: None }, user };
        self.set(scope, e, Type::Int { signed }, Res::Memory(access))
    }

    /// The BTF id of a `struct NAME` or `union NAME` type, or an error at it.
    fn kernel_type(&mut self, ty: &TypeExpr) -> Option<u32> {
        let TypeExprKind::Tagged { tag, name } = &ty.kind else {
            self.error(Diagnostic::error("expected a struct or union type").at(ty.span, "not a struct or union"));
            return None;
        };
        let Some(k) = self.kernel_types_at(ty.span, "needs the kernel's types") else { return None };
        let id = k.find_tagged(tag, name);
        if id.is_none() {
            self.error(Diagnostic::error(format!("unknown type `{tag} {name}`")).at(ty.span, "not in the kernel's BTF"));
        }
        id
    }

    /// `offsetof(struct X, a.b)`: the byte offset of a (nested) member, from BTF.
    fn offsetof(&mut self, e: &Expr, ty: &TypeExpr, fields: &[Name], scope: &mut Scope) -> Type {
        let Some(mut record) = self.kernel_type(ty) else { return Type::Error };
        let Ok(k) = self.kernel_types() else { return Type::Error };
        let mut offset = 0u64;
        for (i, field) in fields.iter().enumerate() {
            let Some(m) = k.member(record, &field.name) else {
                self.error(no_member(&k, record, field));
                return Type::Error;
            };
            offset += (m.offset_bits / 8) as u64;
            match k.shape(m.ty) {
                btf::Shape::Record { id, .. } => record = id,
                _ if i + 1 < fields.len() => {
                    self.error(
                        Diagnostic::error(format!("`{}` is not a struct or union", field.name))
                            .at(fields[i + 1].span, "has no members"),
                    );
                    return Type::Error;
                }
                _ => {}
            }
        }
        self.set(scope, e, Type::Int { signed: false }, Res::Const(offset))
    }

    fn error(&mut self, d: Diagnostic) {
        if self.final_pass {
            self.diags.push(d);
        }
    }

    fn check_instance(&mut self, inst: &Instance) -> ProgInfo {
        let probe = &self.program.probes[inst.probe];
        let mut scope = Scope {
            inst,
            exprs: HashMap::new(),
            vars: HashMap::new(),
            loops: 0,
            var_bits: HashMap::new(),
            declared: HashMap::new(),
            declared_as: HashMap::new(),
            enums: HashMap::new(),
            var_enums: HashMap::new(),
            loop_vars: Vec::new(),
            loop_ids: Vec::new(),
            map_loops: HashMap::new(),
            var_uses: HashMap::new(),
        };
        if let Some(pred) = &probe.predicate {
            let t = self.expr(pred, &mut scope);
            if !t.is_int() && t != Type::Error {
                self.error(
                    Diagnostic::error("a predicate must be an integer condition")
                        .at(pred.span, format!("this is {}", t.describe())),
                );
            }
        }
        self.stmts(&probe.body, &mut scope);
        // An integer variable used inside a loop and outside it lives outside (on the stack
        // of the function all its uses share); the loop's callback reaches it by pointer.
        for (name, uses) in &scope.var_uses {
            if !scope.vars.get(name).is_some_and(|(t, _)| t.is_int()) {
                continue;
            }
            let shared = |u: &Vec<usize>| u.iter().zip(&uses[0]).take_while(|(a, b)| a == b).count();
            let home = uses.iter().map(shared).min().unwrap_or(0);
            for id in uses.iter().flat_map(|u| u.iter().skip(home)) {
                if let Some(l) = scope.map_loops.get_mut(id) {
                    if !l.captured.contains(name) {
                        l.captured.push(name.clone());
                        l.captured.sort();
                    }
                }
            }
        }
        ProgInfo {
            probe: inst.probe,
            format: inst.format.clone(),
            exprs: scope.exprs,
            vars: scope.vars.into_iter().map(|(k, (t, _))| (k, t)).collect(),
            widths: scope.declared.into_iter().filter(|(_, (bits, _))| *bits < 64).collect(),
            map_loops: scope.map_loops,
            params: HashMap::new(),
        }
    }

    fn stmts(&mut self, stmts: &[Stmt], scope: &mut Scope) {
        for s in stmts {
            self.stmt(s, scope);
        }
    }

    fn stmt(&mut self, s: &Stmt, scope: &mut Scope) {
        match &s.kind {
            StmtKind::Expr(e) => {
                if let ExprKind::Call { name, .. } = &e.kind {
                    if builtins::function(&name.name).is_some_and(|f| f.aggregation) {
                        self.error(
                            Diagnostic::error(format!("`{}()` must be assigned to a map", name.name))
                                .at(e.span, "its value is not stored anywhere")
                                .help(format!("write `@name = {}(…);`", name.name)),
                        );
                        return;
                    }
                }
                self.expr(e, scope);
            }
            StmtKind::AssignVar { var, value } => {
                let t = self.expr(value, scope);
                if let Some(&declared) = scope.declared.get(&var.name) {
                    self.check_literal_fits(var, declared, value);
                }
                self.assign_var(var, t, value.span, scope);
                let en = scope.enums.get(&value.id).copied();
                let known = scope.var_enums.entry(var.name.clone()).or_insert(en);
                if *known != en {
                    *known = None;
                }
                if t.is_int() && !scope.var_bits.contains_key(&var.name) {
                    let bits = int_bits(value, scope);
                    scope.var_bits.insert(var.name.clone(), bits);
                }
            }
            StmtKind::AssignMap { map, value } => self.assign_map(map, value, s.span, scope),
            StmtKind::If { cond, then, els } => {
                let t = self.expr(cond, scope);
                if !t.is_int() && t != Type::Error {
                    self.error(
                        Diagnostic::error("an `if` condition must be an integer")
                            .at(cond.span, format!("this is {}", t.describe())),
                    );
                }
                self.stmts(then, scope);
                if let Some(els) = els {
                    self.stmts(els, scope);
                }
            }
            StmtKind::CompoundAssign { target, op, value } => {
                let t = self.expr(value, scope);
                if t != Type::Error && !t.is_int() {
                    self.error(
                        Diagnostic::error(format!("`{}=` needs an integer", op.symbol()))
                            .at(value.span, format!("this is {}", t.describe())),
                    );
                    return;
                }
                self.update_target(target, &format!("{}=", op.symbol()), s.span, scope);
            }
            StmtKind::While { cond, body } => {
                self.condition(cond, "a `while` condition", scope);
                scope.loops += 1;
                self.stmts(body, scope);
                scope.loops -= 1;
            }
            StmtKind::Unroll { count, body } => {
                match literal_int(count) {
                    Some(n) if (1..=100).contains(&n) => {}
                    _ => self.error(
                        Diagnostic::error("`unroll` takes an integer literal from 1 to 100")
                            .at(count.span, "not a count from 1 to 100"),
                    ),
                }
                self.stmts(body, scope);
            }
            StmtKind::ForRange { var, start, end, body } => {
                for bound in [start, end] {
                    let t = self.expr(bound, scope);
                    if t != Type::Error && !t.is_int() {
                        self.error(
                            Diagnostic::error("a `for` range needs integer bounds")
                                .at(bound.span, format!("this is {}", t.describe())),
                        );
                    }
                }
                self.assign_var(var, Type::Int { signed: true }, var.span, scope);
                scope.loops += 1;
                self.stmts(body, scope);
                scope.loops -= 1;
            }
            StmtKind::ForMap { var, map, body } => self.for_map(s, var, map, body, scope),
            StmtKind::Break | StmtKind::Continue => {
                if scope.loops == 0 {
                    let word = if matches!(s.kind, StmtKind::Break) { "break" } else { "continue" };
                    self.error(Diagnostic::error(format!("`{word}` outside a loop")).at(s.span, "not inside `while` or `for`"));
                }
            }
            StmtKind::Return => {
                if !scope.loop_vars.is_empty() {
                    self.error(
                        Diagnostic::error("`return` cannot be used inside a `for` loop over a map")
                            .at(s.span, "inside a `for` loop over a map")
                            .help("use `break` to leave the loop"),
                    );
                }
            }
            StmtKind::Let { var, ty: Some(ty), value } => {
                // The declared type first, then the value as an assignment: an integer is cut to
                // the declared width, anything else must be of the declared type.
                let declared = match &ty.kind {
                    TypeExprKind::Array(elem, Some(len)) => match &elem.kind {
                        TypeExprKind::Named(name) => named_int_type(name)
                            .filter(|&(bits, _)| *len > 0 && u64::from(bits / 8) * len <= 8)
                            .map(|(bits, signed)| Type::IntArray(plan::IntArray { elem_bytes: (bits / 8) as u8, signed, len: *len as u8 })),
                        _ => None,
                    },
                    _ => None,
                };
                let declared = match declared {
                    Some(t) => t,
                    None => match self.int_type(ty) {
                        Some((bits, signed)) => {
                            scope.declared.insert(var.name.clone(), (bits, signed));
                            scope.var_bits.insert(var.name.clone(), bits);
                            Type::Int { signed }
                        }
                        None => return,
                    },
                };
                self.assign_var(var, declared, var.span, scope);
                scope.declared_as.insert(var.name.clone(), array_type_text(ty));
                if let Some(v) = value {
                    let assign = Stmt { kind: StmtKind::AssignVar { var: var.clone(), value: v.clone() }, span: s.span };
                    self.stmt(&assign, scope);
                }
            }
            StmtKind::Let { var, ty: None, value } => {
                let t = match value {
                    Some(v) => self.expr(v, scope),
                    None => Type::Int { signed: true },
                };
                self.assign_var(var, t, value.as_ref().map_or(var.span, |v| v.span), scope);
            }
            StmtKind::Block(body) => self.stmts(body, scope),
        }
    }

    /// Checks that `e` is an integer condition.
    fn condition(&mut self, e: &Expr, what: &str, scope: &mut Scope) {
        let t = self.expr(e, scope);
        if !t.is_int() && t != Type::Error {
            self.error(Diagnostic::error(format!("{what} must be an integer")).at(e.span, format!("this is {}", t.describe())));
        }
    }

    /// Checks an argument that must be an integer; `message` is the error if it is not.
    fn int_arg(&mut self, arg: &Expr, message: &str, scope: &mut Scope) -> bool {
        match self.expr(arg, scope) {
            Type::Error => false,
            t if t.is_int() => true,
            t => {
                self.error(Diagnostic::error(message).at(arg.span, format!("this is {}", t.describe())));
                false
            }
        }
    }

    /// The text of an argument that must be a string literal (`what` names it in the error),
    /// or `default` when the argument is absent.
    fn literal_arg(&mut self, arg: Option<&Expr>, default: Option<&str>, what: &str) -> Option<String> {
        match (arg.map(|a| &a.kind), default) {
            (Some(ExprKind::Str(s)), _) => Some(s.clone()),
            (None, Some(d)) => Some(d.to_string()),
            (found, _) => {
                let d = Diagnostic::error(format!("{what} must be a string literal"));
                self.error(match (found, arg) {
                    (Some(_), Some(a)) => d.at(a.span, "not a string literal"),
                    _ => d,
                });
                None
            }
        }
    }

    /// An error for a construct the parser accepts and rtrace cannot run yet.
    fn unsupported(&mut self, span: Span, what: &str) {
        self.error(Diagnostic::error(format!("{what} are not supported by rtrace yet")).at(span, "not supported yet"));
    }

    /// The width in bits and signedness of a builtin integer type, or an error for other types.
    fn int_type(&mut self, t: &TypeExpr) -> Option<(u32, bool)> {
        let TypeExprKind::Named(name) = &t.kind else {
            self.unsupported(t.span, "struct, pointer and array types");
            return None;
        };
        if let Some(found) = named_int_type(name) {
            return Some(found);
        }
        let id = self.typedef(name, t.span)?;
        let k = self.kernel_types().ok()?;
        match k.shape(id) {
            btf::Shape::Int { size, signed, .. } if matches!(size, 1 | 2 | 4 | 8) => Some((size * 8, signed)),
            _ => {
                self.error(
                    Diagnostic::error(format!("`{name}` is not an integer type"))
                        .at(t.span, format!("a typedef of `{}`", k.name(id))),
                );
                None
            }
        }
    }

    /// The BTF id of the kernel typedef `name` (`pid_t`, `size_t`, `__u8`): a type written
    /// as a bare name that is not a builtin integer type. Only a script that names one loads
    /// the kernel's BTF for it.
    fn typedef(&mut self, name: &str, span: Span) -> Option<u32> {
        let k = self.kernel_types_at(span, "needs the kernel's types")?;
        let id = k.find_typedef(name);
        if id.is_none() {
            let mut d = Diagnostic::error(format!("unknown type `{name}`"))
                .at(span, "neither a builtin type nor a typedef in the kernel's BTF");
            if let Some(s) = did_you_mean(name, k.typedef_names().iter().map(String::as_str)) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            if k.enum_value(name).is_some() {
                d = d.note(format!(
                    "`{name}` is a kernel enum value, but `({name})` before an operand is a cast, as in bpftrace; drop the parentheses"
                ));
            }
            self.error(d);
        }
        id
    }

    /// `for ($kv : @map) { … }`: `$kv` is `(key, value)`, a key of several parts a tuple.
    fn for_map(&mut self, s: &Stmt, var: &Name, map: &MapRef, body: &[Stmt], scope: &mut Scope) {
        if scope.loop_vars.iter().any(|(n, _)| *n == var.name) {
            self.error(
                Diagnostic::error(format!("the loop variable `{}` is already the variable of an enclosing loop", var.name))
                    .at(var.span, "already a loop's variable")
                    .help("give each loop's variable a name of its own"),
            );
            return;
        }
        if scope.vars.contains_key(&var.name) {
            self.error(
                Diagnostic::error(format!("the loop variable `{}` has the name of a variable assigned before", var.name))
                    .at(var.span, "already a variable")
                    .help("give the loop's variable a name of its own"),
            );
            return;
        }
        let Some((index, info)) = self.maps.get(&map.name).map(|(i, m)| (i, m.clone())) else {
            let d = Diagnostic::error(format!("map `{}` is never assigned", map.name)).at(map.span, "never assigned");
            self.error(d);
            return;
        };
        // count(), sum(), min() and max() values are combined over the CPUs in the loop, as in
        // bpftrace; the other aggregations have no one value to give.
        let value = match (value_type(info.value), info.value) {
            (Some(t), _) => t,
            (None, ValueKind::Count) => Type::Int { signed: false },
            (None, ValueKind::Sum { signed }) => Type::Int { signed },
            (None, ValueKind::Min | ValueKind::Max) => Type::Int { signed: true },
            (None, agg) => {
                self.error(
                    Diagnostic::error(format!("a `for` loop cannot go over `{}`, which holds {} values", map.name, agg.name()))
                        .at(map.span, format!("`{}` holds {}", map.name, value_desc(agg)))
                        .also(info.first_assign, "assigned here")
                        .note("a loop's value is one integer: count(), sum(), min() and max() maps have one, avg(), stats(), hist() and lhist() maps do not"),
                );
                return;
            }
        };
        if info.keys.fields.is_empty() {
            self.error(
                Diagnostic::error(format!("a `for` loop needs a map with keys, but `{}` has none", map.name))
                    .at(map.span, "a map without keys")
                    .also(info.first_keys, "assigned without keys here"),
            );
            return;
        }
        let parts: Vec<Type> = info.keys.fields.iter().map(|k| key_type(*k)).collect();
        let key = match &info.keys.names {
            Some(names) => self.tuples.intern_named(parts, Some(names.clone())),
            None if parts.len() == 1 => parts[0],
            None => self.tuples.intern(parts),
        };
        let kv = self.tuples.intern(vec![key, value]);
        let own = format!("{}@{}", var.name, s.span.start);
        scope.vars.insert(own.clone(), (kv, var.span));
        let layout = |t| self.tuples.arg_kind(t).unwrap_or(ArgKind::Int { signed: true });
        let (key, value) = (layout(key), layout(value));
        scope.map_loops.insert(s.span.start, MapLoop { map: index, var: own.clone(), key, value, captured: Vec::new() });
        scope.loop_vars.push((var.name.clone(), own));
        scope.loop_ids.push(s.span.start);
        scope.loops += 1;
        self.stmts(body, scope);
        scope.loops -= 1;
        scope.loop_ids.pop();
        scope.loop_vars.pop();
    }

    /// Gives a variable its type at its first assignment; later ones must agree.
    fn assign_var(&mut self, var: &Name, t: Type, value_span: Span, scope: &mut Scope) {
        if t == Type::Error {
            return;
        }
        if scope.loop_vars.iter().any(|(n, _)| *n == var.name) {
            self.error(
                Diagnostic::error(format!("cannot assign to `{}`, the variable of a `for` loop", var.name))
                    .at(var.span, "the loop's variable")
                    .help("copy it to a variable of your own"),
            );
            return;
        }
        scope.use_var(&var.name);
        if !t.is_int()
            && !matches!(t, Type::Str { .. } | Type::Inet | Type::Timestamp(_) | Type::Stack(_) | Type::Tuple(_) | Type::IntArray(_))
        {
            self.error(
                Diagnostic::error(format!("cannot assign {} to a variable", t.describe())).at(value_span, "no value"),
            );
            return;
        }
        match scope.vars.get(&var.name) {
            Some(&(old, span)) if matches!(old, Type::Tuple(_)) || matches!(t, Type::Tuple(_)) => {
                match self.tuples.unify(old, t) {
                    Some(u) => {
                        scope.vars.insert(var.name.clone(), (u, span));
                    }
                    None => self.error(
                        Diagnostic::error(format!("type mismatch for `{}`", var.name))
                            .at(value_span, format!("this is {}", self.tuples.name(t)))
                            .also(span, format!("`{}` was first assigned {} here", var.name, self.tuples.name(old))),
                    ),
                }
            }
            Some(&(old, span))
                if std::mem::discriminant(&old) != std::mem::discriminant(&t)
                    || (matches!(old, Type::Stack(_) | Type::Timestamp(_) | Type::IntArray(_)) && old != t) =>
            {
                let first = match scope.declared_as.get(&var.name) {
                    Some(ty) => format!("`{}` was declared `{ty}` here", var.name),
                    None => format!("`{}` was first assigned {} here", var.name, type_text(old)),
                };
                let mut d = Diagnostic::error(format!("type mismatch for `{}`", var.name))
                    .at(value_span, format!("this is {}", type_text(t)))
                    .also(span, first);
                if matches!((old, t), (Type::Stack(_), Type::Stack(_)) | (Type::Timestamp(_), Type::Timestamp(_))) {
                    d = d.note("stacks of other depths or modes, and timestamps of other formats, are other types");
                }
                self.error(d);
            }
            Some(&(Type::Str { len: old }, span)) => {
                let len = old.max(match t {
                    Type::Str { len } => len,
                    _ => 0,
                });
                scope.vars.insert(var.name.clone(), (Type::Str { len }, span));
            }
            Some(_) => {}
            None => {
                scope.vars.insert(var.name.clone(), (t, var.span));
            }
        }
    }

    /// An integer literal assigned to a variable declared `(bits, signed)` must fit, as in
    /// bpftrace (other values are cut to the declared width).
    fn check_literal_fits(&mut self, var: &Name, (bits, signed): (u32, bool), value: &Expr) {
        let n: i128 = match &value.kind {
            ExprKind::Int(n) => i128::from(*n),
            ExprKind::Unary { op: UnOp::Neg, operand } => match operand.kind {
                ExprKind::Int(n) => -i128::from(n),
                _ => return,
            },
            _ => return,
        };
        let (min, max) = if signed { (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1) } else { (0, (1i128 << bits) - 1) };
        if n < min || n > max {
            let name = format!("{}int{bits}", if signed { "" } else { "u" });
            self.error(
                Diagnostic::error(format!("type mismatch for `{}`: {n} does not fit in `{name}`", var.name))
                    .at(value.span, format!("`{name}` holds {min} to {max}"))
                    .help(format!("cast it to keep its low {bits} bits: `({name}){}`", n)),
            );
        }
    }

    /// Checks the target of `++`, `--` or `op=`: an integer variable or map entry.
    fn update_target(&mut self, target: &Expr, op: &str, span: Span, scope: &mut Scope) -> Type {
        match &target.kind {
            ExprKind::Var(name) => {
                let t = self.expr(target, scope);
                if t != Type::Error && !t.is_int() {
                    self.error(
                        Diagnostic::error(format!("`{op}` needs an integer variable"))
                            .at(target.span, format!("`{name}` is {}", t.describe())),
                    );
                    return Type::Error;
                }
                t
            }
            ExprKind::Map(map) => {
                let Some(keys) = self.keys(map, scope) else { return Type::Error };
                self.record_map(map, ValueKind::Int { signed: true }, keys, target.span, span);
                match self.maps.get(&map.name) {
                    Some((index, info)) if matches!(info.value, ValueKind::Int { .. }) => {
                        let ty = Type::Int { signed: true };
                        self.set(scope, target, ty, Res::MapRead(index))
                    }
                    _ => Type::Error,
                }
            }
            _ => {
                self.error(
                    Diagnostic::error(format!("`{op}` needs a variable or a map entry"))
                        .at(target.span, "not a variable or map"),
                );
                Type::Error
            }
        }
    }

    /// The key shape of a map reference, checking each key expression. A tuple key
    /// (`@m[(a, b)]`, `@m[$t]`) is the same key as its elements (`@m[a, b]`); a record key
    /// has the same parts, and its field names.
    fn keys(&mut self, map: &MapRef, scope: &mut Scope) -> Option<Keys> {
        self.key_fields(&map.keys, scope)
    }

    /// The key shape of key expressions, checking each.
    fn key_fields(&mut self, keys: &[Expr], scope: &mut Scope) -> Option<Keys> {
        let mut out = Vec::new();
        let mut names = None;
        let mut ok = true;
        for k in keys {
            let t = self.expr(k, scope);
            let parts = match t {
                Type::Tuple(id) if keys.len() == 1 => {
                    names = self.tuples.names[id as usize].clone();
                    self.tuples.types[id as usize].clone()
                }
                Type::Tuple(id) => {
                    let what = if self.tuples.names[id as usize].is_some() { "record" } else { "tuple" };
                    self.error(
                        Diagnostic::error(format!("a {what} key must be the map's only key"))
                            .at(k.span, format!("a {what} among other keys"))
                            .help(match what {
                                "tuple" => "write its elements as keys: `@m[a, b, c]`",
                                _ => "put the other keys in the record: `@m[(a = x, b = y)]`",
                            }),
                    );
                    ok = false;
                    continue;
                }
                t => vec![t],
            };
            for part in parts {
                match key_field(part) {
                    Some(field) => out.push(field),
                    None if part == Type::Error => ok = false,
                    None => {
                        ok = false;
                        let what = if names.is_some() { "record" } else { "tuple" };
                        let d = match (t, part) {
                            (Type::Tuple(_), Type::Tuple(_)) if names.is_none() => {
                                Diagnostic::error("a tuple key cannot hold another tuple").at(k.span, "a tuple inside a tuple")
                            }
                            (Type::Tuple(_), Type::Tuple(_)) => Diagnostic::error("a record key cannot hold a tuple or a record")
                                .at(k.span, "a tuple or record inside a record"),
                            (Type::Tuple(_), _) => Diagnostic::error(format!("a {what} key cannot hold {}", part.describe()))
                                .at(k.span, "not a valid key"),
                            _ => Diagnostic::error(format!("a map key cannot be {}", part.describe())).at(k.span, "not a valid key"),
                        };
                        self.error(d);
                    }
                }
            }
        }
        ok.then_some(Keys { fields: out, names })
    }

    fn assign_map(&mut self, map: &MapRef, value: &Expr, span: Span, scope: &mut Scope) {
        let keys = self.keys(map, scope);
        let kind = self.map_value(value, scope);
        if let (Some(keys), Some(kind)) = (keys, kind) {
            self.record_map(map, kind, keys, value.span, span);
        }
    }

    /// Records that `map` is assigned a `kind` value with `keys`, checking earlier uses agree.
    fn record_map(&mut self, map: &MapRef, kind: ValueKind, keys: Keys, value_span: Span, span: Span) {
        let keys_span = map.span;
        match self.maps.get(&map.name).map(|(i, m)| (i, m.clone())) {
            None => self.maps.maps.push(MapInfo {
                name: map.name.clone(),
                value: kind,
                keys,
                first_assign: span,
                first_keys: keys_span,
            }),
            Some((i, info)) => {
                match self.merge_value(info.value, kind) {
                    Some(v) => self.maps.maps[i].value = v,
                    None => self.error(
                        Diagnostic::error(format!("type mismatch for map `{}`", map.name))
                            .at(value_span, format!("this is {}", self.value_desc(kind)))
                            .also(
                                info.first_assign,
                                format!("`{}` was first assigned {} here", map.name, self.value_desc(info.value)),
                            ),
                    ),
                }
                match merge_keys(&info.keys, &keys) {
                    Some(k) => self.maps.maps[i].keys = k,
                    None => self.error(key_mismatch(&info, keys_span, &keys)),
                }
            }
        }
    }

    /// A map value kind with its article, for messages; a tuple as its type.
    fn value_desc(&self, kind: ValueKind) -> String {
        match kind {
            ValueKind::Tuple { id, .. } => self.tuples.name(Type::Tuple(id)),
            kind => value_desc(kind),
        }
    }

    /// The value kind two assignments to one map agree on, if they do.
    fn merge_value(&mut self, a: ValueKind, b: ValueKind) -> Option<ValueKind> {
        match (a, b) {
            (ValueKind::Tuple { id: x, .. }, ValueKind::Tuple { id: y, .. }) => {
                match self.tuples.unify(Type::Tuple(x), Type::Tuple(y))? {
                    Type::Tuple(id) => Some(ValueKind::Tuple { id, size: self.tuples.layout(id).size as u32 }),
                    _ => None,
                }
            }
            (a, b) => merge_value(a, b),
        }
    }

    /// The value kind an assignment stores: an aggregation, or a plain value.
    fn map_value(&mut self, value: &Expr, scope: &mut Scope) -> Option<ValueKind> {
        if let ExprKind::Call { name, args } = &value.kind {
            if let Some(def) = builtins::function(&name.name).filter(|f| f.aggregation) {
                if !self.arity(def, args.len(), value.span) {
                    return None;
                }
                let mut first_signed = true;
                for (i, a) in args.iter().enumerate() {
                    let t = self.expr(a, scope);
                    if i == 0 {
                        first_signed = t.signed();
                    }
                    if !t.is_int() && t != Type::Error {
                        self.error(
                            Diagnostic::error(format!("`{}()` takes integers", def.name))
                                .at(a.span, format!("this is {}", t.describe())),
                        );
                        return None;
                    }
                }
                let kind = match def.func {
                    Func::Count => ValueKind::Count,
                    Func::Sum => ValueKind::Sum { signed: first_signed },
                    Func::Avg => ValueKind::Avg,
                    Func::Stats => ValueKind::Stats,
                    Func::Min => ValueKind::Min,
                    Func::Max => ValueKind::Max,
                    Func::Hist => self.hist_k(args)?,
                    Func::Lhist => self.lhist_params(args)?,
                    _ => return None,
                };
                scope.exprs.insert(value.id, ExprInfo { ty: Type::Void, res: Res::Call(def.func), span: value.span });
                return Some(kind);
            }
        }
        match self.expr(value, scope) {
            Type::Int { signed } => Some(ValueKind::Int { signed }),
            Type::Ptr { .. } => Some(ValueKind::Int { signed: false }),
            Type::Str { len } => Some(ValueKind::Str { len }),
            Type::Ksym => Some(ValueKind::Ksym),
            Type::Stack(spec) => Some(ValueKind::Stack(spec)),
            Type::Inet => Some(ValueKind::Inet),
            Type::Timestamp(id) => Some(ValueKind::Timestamp(id)),
            Type::IntArray(a) => Some(ValueKind::IntArray(a)),
            Type::Tuple(id) => Some(ValueKind::Tuple { id, size: self.tuples.layout(id).size as u32 }),
            Type::Error => None,
            t => {
                self.error(
                    Diagnostic::error(format!("cannot store {} in a map", t.describe())).at(value.span, "no value to store"),
                );
                None
            }
        }
    }

    /// `hist(n[, k])`: k, a literal from 0 to 5, is how many bits below the highest set bit
    /// pick a bucket (2^k buckets per power of two), as in bpftrace 0.20+.
    fn hist_k(&mut self, args: &[Expr]) -> Option<ValueKind> {
        let Some(a) = args.get(1) else { return Some(ValueKind::Hist { k: 0 }) };
        let help = "hist(n, k) makes 2^k buckets per power of two, k from 0 to 5: e.g. `hist($x, 2)`";
        match literal_int(a) {
            Some(k) if (0..=plan::HIST_MAX_K as i64).contains(&k) => Some(ValueKind::Hist { k: k as u8 }),
            Some(k) => {
                self.error(
                    Diagnostic::error(format!("hist() k must be from 0 to {}", plan::HIST_MAX_K))
                        .at(a.span, format!("k is {k}"))
                        .help(help),
                );
                None
            }
            None => {
                self.error(
                    Diagnostic::error("hist() k must be an integer literal").at(a.span, "not a literal").help(help),
                );
                None
            }
        }
    }

    fn lhist_params(&mut self, args: &[Expr]) -> Option<ValueKind> {
        let mut nums = [0i64; 3];
        for (i, a) in args[1..].iter().enumerate() {
            match literal_int(a) {
                Some(n) => nums[i] = n,
                None => {
                    self.error(
                        Diagnostic::error("lhist() bounds must be integer literals")
                            .at(a.span, "not a literal")
                            .help("write e.g. `lhist($x, 0, 100, 10)`"),
                    );
                    return None;
                }
            }
        }
        let [min, max, step] = nums;
        let span = args[1].span.to(args[3].span);
        if min < 0 || max <= min || step <= 0 || (max - min) / step > 1000 {
            self.error(
                Diagnostic::error("invalid lhist() bounds")
                    .at(span, format!("min {min}, max {max}, step {step}"))
                    .help("lhist(n, min, max, step) needs 0 <= min < max, step > 0, and at most 1000 buckets"),
            );
            return None;
        }
        Some(ValueKind::Lhist { min, max, step })
    }

    fn arity(&mut self, def: &builtins::FuncDef, n: usize, span: Span) -> bool {
        if n < def.min_args || n > def.max_args {
            let want = if def.min_args == def.max_args {
                format!("{} argument{}", def.min_args, if def.min_args == 1 { "" } else { "s" })
            } else if def.max_args == usize::MAX {
                format!("at least {} argument{}", def.min_args, if def.min_args == 1 { "" } else { "s" })
            } else {
                format!("{} to {} arguments", def.min_args, def.max_args)
            };
            self.error(
                Diagnostic::error(format!("`{}()` takes {want}, but {n} were given", def.name))
                    .at(span, "wrong number of arguments")
                    .help(format!("the signature is `{}`", def.signature)),
            );
            return false;
        }
        true
    }

    /// `len(@m)`, the number of entries, and `has_key(@m, key)`, whether `key` is in it.
    fn map_query(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        let arg = &args[0];
        let map = match &arg.kind {
            ExprKind::Map(map) if map.keys.is_empty() => map,
            _ => {
                self.error(
                    Diagnostic::error(format!("`{}()` takes a whole map", def.name))
                        .at(arg.span, "not a whole map")
                        .help(format!("the signature is `{}`", def.signature)),
                );
                return Type::Error;
            }
        };
        let keys = if def.func == Func::HasKey { self.key_fields(&args[1..], scope) } else { Some(Keys::default()) };
        let Some((index, info)) = self.maps.get(&map.name).map(|(i, m)| (i, m.clone())) else {
            if !self.final_pass {
                return Type::Int { signed: true };
            }
            self.error(Diagnostic::error(format!("map `{}` is never assigned", map.name)).at(map.span, "never assigned"));
            return Type::Error;
        };
        let Some(keys) = keys else { return Type::Error };
        if info.value.is_histogram() {
            self.error(
                Diagnostic::error(format!("`{}()` of a histogram is not supported yet", def.name))
                    .at(map.span, format!("`{}` holds {}", map.name, value_desc(info.value))),
            );
            return Type::Error;
        }
        if def.func == Func::HasKey && merge_keys(&info.keys, &keys).is_none() {
            self.error(key_mismatch(&info, args[1].span, &keys));
            return Type::Error;
        }
        scope.exprs.insert(arg.id, ExprInfo { ty: Type::Void, res: Res::MapRead(index), span: arg.span });
        let ty = Type::Int { signed: def.func == Func::Len };
        self.set(scope, e, ty, Res::Call(def.func))
    }

    /// Whether an unsafe function (`--unsafe` only) may be called here; an error if not.
    fn unsafe_allowed(&mut self, e: &Expr, name: &str, what: &str) -> bool {
        if !self.allow_unsafe {
            self.error(
                Diagnostic::error(format!("`{name}()` is unsafe: {what}"))
                    .at(e.span, "needs `--unsafe`")
                    .help("run `rtrace --unsafe …` to allow it"),
            );
        }
        self.allow_unsafe
    }

    /// `signal(SIG)`: a name (`"SIGKILL"`, `"KILL"`) or a number, sent to the current process.
    fn signal(&mut self, e: &Expr, arg: &Expr, scope: &mut Scope) -> Type {
        if !self.unsafe_allowed(e, "signal", "it sends a signal to the traced process") {
            return Type::Error;
        }
        if let Some(kind) = match scope.inst.attach {
            Attach::Begin => Some("BEGIN"),
            Attach::End => Some("END"),
            Attach::Interval { .. } => Some("interval"),
            _ => None,
        } {
            self.error(
                Diagnostic::error(format!("`signal()` cannot be used in {kind} probes"))
                    .at(e.span, "no traced process here")
                    .note("`signal()` signals the process the probe fired in"),
            );
            return Type::Error;
        }
        let number = match &arg.kind {
            ExprKind::Str(name) => match builtins::signal_number(name) {
                Some(n) => Some(n),
                None => {
                    self.error(
                        Diagnostic::error(format!("unknown signal `{name}`"))
                            .at(arg.span, "not a signal name")
                            .help("use a name such as \"SIGKILL\" (or \"KILL\"), or a number from 1 to 64"),
                    );
                    return Type::Error;
                }
            },
            _ => match literal_int(arg) {
                Some(n) if (1..=64).contains(&n) => Some(n as u32),
                Some(n) => {
                    self.error(
                        Diagnostic::error(format!("{n} is not a signal number"))
                            .at(arg.span, "not from 1 to 64"),
                    );
                    return Type::Error;
                }
                None if !self.int_arg(arg, "`signal()` takes a signal name or number", scope) => return Type::Error,
                None => None,
            },
        };
        self.set(scope, e, Type::Void, Res::Signal(number))
    }

    /// Notes that a stack of `spec`'s depth is recorded (its map must exist); its type.
    fn record_stack(&mut self, spec: plan::StackSpec) -> Type {
        if !self.stack_depths.contains(&spec.depth) {
            self.stack_depths.push(spec.depth);
        }
        Type::Stack(spec)
    }

    /// `kstack(…)` and `ustack(…)`: `(N)`, `(mode)` or `(mode, N)`, mode `bpftrace` or `perf`.
    fn stack_call(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        let mut spec = plan::StackSpec { user: def.func == Func::Ustack, perf: false, depth: plan::STACK_DEPTH };
        let (mode, depth) = match args {
            [m @ Expr { kind: ExprKind::Ident(_), .. }] => (Some(m), None),
            [n] => (None, Some(n)),
            [m, n] => (Some(m), Some(n)),
            _ => (None, None),
        };
        if let Some(m) = mode {
            match &m.kind {
                ExprKind::Ident(name) if name == "bpftrace" => {}
                ExprKind::Ident(name) if name == "perf" => spec.perf = true,
                _ => {
                    self.error(
                        Diagnostic::error(format!("`{}()`'s mode must be `bpftrace` or `perf`", def.name))
                            .at(m.span, "not a stack mode")
                            .help(format!("the signature is `{}`", def.signature)),
                    );
                    return Type::Error;
                }
            }
        }
        if let Some(n) = depth {
            match literal_int(n) {
                Some(d) if (1..=plan::STACK_DEPTH as i64).contains(&d) => spec.depth = d as u32,
                _ => {
                    self.error(
                        Diagnostic::error(format!(
                            "`{}()`'s depth must be an integer literal from 1 to {}",
                            def.name,
                            plan::STACK_DEPTH
                        ))
                        .at(n.span, "not a depth from 1 to 127"),
                    );
                    return Type::Error;
                }
            }
        }
        let ty = self.record_stack(spec);
        self.set(scope, e, ty, Res::Call(def.func))
    }

    fn set(&self, scope: &mut Scope, e: &Expr, ty: Type, res: Res) -> Type {
        scope.exprs.insert(e.id, ExprInfo { ty, res, span: e.span });
        ty
    }

    fn expr(&mut self, e: &Expr, scope: &mut Scope) -> Type {
        match &e.kind {
            ExprKind::Int(n) => {
                let signed = *n <= i64::MAX as u64;
                self.set(scope, e, Type::Int { signed }, Res::Plain)
            }
            ExprKind::Str(s) => self.set(scope, e, Type::Str { len: s.len() as u32 + 1 }, Res::Plain),
            ExprKind::Ident(name) => self.ident(e, name, scope),
            ExprKind::Var(name) if is_positional(name) => {
                let value = match &name[1..] {
                    "#" => Some(self.params.len().to_string()),
                    n => n.parse::<usize>().ok().and_then(|i| i.checked_sub(1)).and_then(|i| self.params.get(i).cloned()),
                };
                let value = value.unwrap_or_default();
                // A parameter that reads as a number is an integer; any other is a string
                // (a missing one is 0, as in bpftrace).
                if value.is_empty() {
                    return self.set(scope, e, Type::Int { signed: true }, Res::Const(0));
                }
                match value.parse::<i64>() {
                    Ok(n) => self.set(scope, e, Type::Int { signed: true }, Res::Const(n as u64)),
                    Err(_) => self.set(scope, e, Type::Str { len: value.len() as u32 + 1 }, Res::ConstStr(value)),
                }
            }
            ExprKind::Var(name) if scope.loop_vars.iter().any(|(n, _)| n == name) => {
                let (_, own) = scope.loop_vars.iter().rev().find(|(n, _)| n == name).cloned().unwrap_or_default();
                let t = scope.vars.get(&own).map_or(Type::Error, |&(t, _)| t);
                self.set(scope, e, t, Res::LoopVar(own))
            }
            ExprKind::Var(name) => match scope.vars.get(name) {
                Some(&(t, _)) => {
                    scope.use_var(name);
                    if let Some(&Some(id)) = scope.var_enums.get(name) {
                        scope.enums.insert(e.id, id);
                    }
                    self.set(scope, e, t, Res::Plain)
                }
                None => {
                    // A loop's variable, after its loop: it was stored under the loop's own name.
                    let loop_var = scope.vars.iter().find(|(n, _)| n.strip_prefix(name.as_str()).is_some_and(|r| r.starts_with('@')));
                    if let Some((_, &(_, span))) = loop_var {
                        self.error(
                            Diagnostic::error(format!("variable `{name}` is used outside its `for` loop"))
                                .at(e.span, "not inside the loop")
                                .also(span, "the loop's variable exists only inside the loop"),
                        );
                        return Type::Error;
                    }
                    let d = Diagnostic::error(format!("variable `{name}` is used before it is assigned"))
                        .at(e.span, "never assigned before this use");
                    let names = scope.vars.keys().map(String::as_str).filter(|n| !n.contains('@'));
                    let d = match did_you_mean(name, names) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d,
                    };
                    self.error(d);
                    Type::Error
                }
            },
            ExprKind::Map(map) => self.map_read(e, map, scope),
            ExprKind::Call { name, args } => self.call(e, name, args, scope),
            ExprKind::Field { base, field, arrow } => self.field(e, base, field, *arrow, scope),
            ExprKind::Unary { op, operand } => {
                let t = self.expr(operand, scope);
                if t == Type::Error {
                    return Type::Error;
                }
                if !t.is_int() {
                    self.error(
                        Diagnostic::error(format!("cannot apply `{}` to {}", unop_symbol(*op), t.describe()))
                            .at(operand.span, format!("this is {}", t.describe())),
                    );
                    return Type::Error;
                }
                let ty = match op {
                    UnOp::Not => Type::Int { signed: false },
                    UnOp::Neg => Type::Int { signed: true },
                    UnOp::BitNot => Type::Int { signed: t.signed() },
                };
                self.set(scope, e, ty, Res::Plain)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (l, r) = (self.expr(lhs, scope), self.expr(rhs, scope));
                if l == Type::Error || r == Type::Error {
                    return Type::Error;
                }
                let ty = match (l, r) {
                    (Type::Str { .. }, Type::Str { .. }) if matches!(op, BinOp::Eq | BinOp::Ne) => {
                        Type::Int { signed: false }
                    }
                    // Integer arrays compare as the integers holding their bytes.
                    (Type::IntArray(a), Type::IntArray(b)) if a == b && matches!(op, BinOp::Eq | BinOp::Ne) => {
                        Type::Int { signed: false }
                    }
                    (Type::IntArray(a), Type::IntArray(b)) if matches!(op, BinOp::Eq | BinOp::Ne) => {
                        self.error(
                            Diagnostic::error(format!("cannot compare `{}` with `{}`", array_name(a), array_name(b)))
                                .at(rhs.span, format!("this is `{}`", array_name(b)))
                                .also(lhs.span, format!("this is `{}`", array_name(a)))
                                .note("arrays compare equal when they have the same type and elements"),
                        );
                        return Type::Error;
                    }
                    // Pointer arithmetic, as in C: `p + n`, `n + p` and `p - n` are pointers of
                    // `p`'s type, `n` counted in elements (codegen scales it by the stride).
                    (Type::Ptr { .. }, Type::Int { .. }) if matches!(op, BinOp::Add | BinOp::Sub) => l,
                    (Type::Int { .. }, Type::Ptr { .. }) if *op == BinOp::Add => r,
                    (a, b) if a.is_int() && b.is_int() => {
                        let known = |x: &Expr| matches!(scope.exprs.get(&x.id).map(|i| &i.res), Some(Res::Const(_)));
                        let known = (known(lhs), known(rhs));
                        self.sign_mismatch(*op, (lhs, a), (rhs, b), known, e.span);
                        if op.is_comparison() || matches!(op, BinOp::And | BinOp::Or) {
                            Type::Int { signed: false }
                        } else {
                            Type::Int { signed: a.signed() && b.signed() }
                        }
                    }
                    (a, b) => {
                        let (bad, span) = if a.is_int() { (b, rhs.span) } else { (a, lhs.span) };
                        let mut d = Diagnostic::error(format!(
                            "cannot apply `{}` to {} and {}",
                            op.symbol(),
                            a.describe(),
                            b.describe()
                        ))
                        .at(span, format!("this is {}", bad.describe()));
                        if matches!((a, b), (Type::Str { .. }, Type::Str { .. })) {
                            d = d.note("strings can only be compared with `==` and `!=`");
                        }
                        self.error(d);
                        return Type::Error;
                    }
                };
                self.set(scope, e, ty, Res::Plain)
            }
            ExprKind::Bool(_) => self.set(scope, e, Type::Int { signed: false }, Res::Plain),
            ExprKind::IncDec { target, increment, .. } => {
                let op = if *increment { "++" } else { "--" };
                let t = self.update_target(target, op, e.span, scope);
                if t == Type::Error {
                    return t;
                }
                self.set(scope, e, t, Res::Plain)
            }
            ExprKind::Cast { ty, expr } => {
                let t = self.expr(expr, scope);
                if let Some(ptr) = self.cast_pointer(ty) {
                    if t != Type::Error && !t.is_int() {
                        self.error(
                            Diagnostic::error(format!("cannot cast {} to a pointer", t.describe()))
                                .at(expr.span, format!("this is {}", t.describe())),
                        );
                        return Type::Error;
                    }
                    if ptr == Type::Error || t == Type::Error {
                        return Type::Error;
                    }
                    let user = scope.user_address(t);
                    let ptr = match ptr {
                        Type::Ptr { to, .. } => Type::Ptr { user, to },
                        other => other,
                    };
                    return self.set(scope, e, ptr, Res::Plain);
                }
                if let TypeExprKind::Tagged { tag: "enum", name } = &ty.kind {
                    return self.enum_cast(e, ty.span, name, expr, t, scope);
                }
                if let TypeExprKind::Array(elem, len) = &ty.kind {
                    return self.array_cast(e, ty, elem, *len, expr, t, scope);
                }
                let Some((bits, signed)) = self.int_type(ty) else { return Type::Error };
                if let Type::IntArray(a) = t {
                    let size = a.elem_bytes as u32 * a.len as u32;
                    if 8 * size != bits {
                        self.error(
                            Diagnostic::error(format!(
                                "cannot cast `{}` ({size} bytes) to `{}` ({} bytes)",
                                array_name(a),
                                array_type_text(ty),
                                bits / 8
                            ))
                            .at(ty.span, format!("{} bytes", bits / 8))
                            .also(expr.span, format!("{size} bytes"))
                            .note("an array cast keeps the bytes, so both sides must have the same size"),
                        );
                        return Type::Error;
                    }
                    return self.set(scope, e, Type::Int { signed }, Res::IntCast { bits, signed });
                }
                if let Type::Array { elem, len, user } = t {
                    return self.memory_array_cast(e, ty, (bits, signed), expr.span, (elem, len, user), scope);
                }
                if t != Type::Error && !t.is_int() {
                    self.error(
                        Diagnostic::error(format!("cannot cast {} to an integer", t.describe()))
                            .at(expr.span, format!("this is {}", t.describe())),
                    );
                    return Type::Error;
                }
                self.note_typedef_enum(ty, e, scope);
                self.set(scope, e, Type::Int { signed }, Res::IntCast { bits, signed })
            }
            ExprKind::SizeofType(ty) => match self.type_size(ty) {
                Some(size) => self.set(scope, e, Type::Int { signed: false }, Res::Const(size)),
                None => Type::Error,
            },
            ExprKind::SizeofExpr(inner) => match self.expr(inner, scope) {
                Type::Error => Type::Error,
                _ => self.set(scope, e, Type::Int { signed: false }, Res::Plain),
            },
            ExprKind::Tuple(items) => {
                let mut elems = Vec::new();
                for item in items {
                    match self.expr(item, scope) {
                        Type::Error => return Type::Error,
                        t if self.tuples.arg_kind(t).is_some() => elems.push(t),
                        t => {
                            self.error(
                                Diagnostic::error(format!("a tuple cannot hold {}", t.describe()))
                                    .at(item.span, format!("this is {}", t.describe())),
                            );
                            return Type::Error;
                        }
                    }
                }
                let ty = self.tuples.intern(elems);
                self.set(scope, e, ty, Res::Plain)
            }
            ExprKind::Record(fields) => {
                let mut typed = Vec::new();
                for (i, (name, value)) in fields.iter().enumerate() {
                    if let Some((first, _)) = fields[..i].iter().find(|(n, _)| n.name == name.name) {
                        self.error(
                            Diagnostic::error(format!("a record has two fields named `{}`", name.name))
                                .at(name.span, "second field")
                                .also(first.span, "first field"),
                        );
                        return Type::Error;
                    }
                    match self.expr(value, scope) {
                        Type::Error => return Type::Error,
                        t if self.tuples.arg_kind(t).is_some() => typed.push((name.name.as_str(), t)),
                        t => {
                            self.error(
                                Diagnostic::error(format!("a record cannot hold {}", t.describe()))
                                    .at(value.span, format!("this is {}", t.describe())),
                            );
                            return Type::Error;
                        }
                    }
                }
                let names: Vec<&str> = typed.iter().map(|(n, _)| *n).collect();
                let order = self.tuples.record_order(&names);
                let elems = order.iter().filter_map(|n| typed.iter().find(|(m, _)| m == n).map(|(_, t)| *t)).collect();
                let ty = self.tuples.intern_named(elems, Some(order));
                self.set(scope, e, ty, Res::Plain)
            }
            ExprKind::Index { base, index } => {
                let bt = self.expr(base, scope);
                let it = self.expr(index, scope);
                if bt == Type::Error || it == Type::Error {
                    return Type::Error;
                }
                if !it.is_int() {
                    self.error(Diagnostic::error("an index must be an integer").at(index.span, format!("this is {}", it.describe())));
                    return Type::Error;
                }
                if let Type::IntArray(a) = bt {
                    if let Some(i) = literal_int(index).filter(|&i| i < 0 || i >= i64::from(a.len)) {
                        self.error(
                            Diagnostic::error(format!("index {i} is out of range for `{}`", array_name(a)))
                                .at(index.span, format!("the array has {} elements: 0 to {}", a.len, a.len - 1)),
                        );
                        return Type::Error;
                    }
                    return self.set(scope, e, Type::Int { signed: a.signed }, Res::Plain);
                }
                self.element(e, bt, base.span, scope)
            }
            ExprKind::Deref(inner) => {
                let t = self.expr(inner, scope);
                match t {
                    Type::Error => Type::Error,
                    Type::Ptr { to: Some(_), .. } => self.element(e, t, inner.span, scope),
                    // An untyped pointer or an integer reads 8 bytes, as in bpftrace.
                    t if t.is_int() => {
                        let user = scope.user_address(t);
                        let read = Read::Int { size: 8, signed: false, bitfield: None };
                        self.set(scope, e, Type::Int { signed: false }, Res::Memory(Access { offset: 0, scale: 0, read, user }))
                    }
                    other => {
                        self.error(Diagnostic::error(format!("cannot dereference {}", other.describe())).at(inner.span, "not a pointer"));
                        Type::Error
                    }
                }
            }
            ExprKind::TupleIndex { base, index } => {
                let id = match self.expr(base, scope) {
                    Type::Error => return Type::Error,
                    Type::Tuple(id) => id,
                    t => {
                        self.error(
                            Diagnostic::error(format!("`.{index}` needs a tuple, but this is {}", t.describe()))
                                .at(base.span, format!("this is {}", t.describe())),
                        );
                        return Type::Error;
                    }
                };
                let elems = &self.tuples.types[id as usize];
                let Some(&ty) = usize::try_from(*index).ok().and_then(|i| elems.get(i)) else {
                    let n = elems.len();
                    self.error(
                        Diagnostic::error(format!("tuple index {index} is out of range"))
                            .at(e.span, format!("this tuple has {n} elements: `.0` to `.{}`", n.saturating_sub(1))),
                    );
                    return Type::Error;
                };
                self.set(scope, e, ty, Res::Plain)
            }
            ExprKind::AddrOf(_) => {
                self.unsupported(e.span, "`&` addresses");
                Type::Error
            }
            ExprKind::Offsetof { ty, fields } => self.offsetof(e, ty, fields, scope),
            ExprKind::Block { stmts, value } => {
                self.stmts(stmts, scope);
                let t = self.expr(value, scope);
                self.set(scope, e, t, Res::Plain)
            }
            ExprKind::Ternary { cond, then, els } => {
                let c = self.expr(cond, scope);
                let (t, f) = (self.expr(then, scope), self.expr(els, scope));
                if c == Type::Error || t == Type::Error || f == Type::Error {
                    return Type::Error;
                }
                if !c.is_int() {
                    self.error(
                        Diagnostic::error("a condition must be an integer")
                            .at(cond.span, format!("this is {}", c.describe())),
                    );
                    return Type::Error;
                }
                let both_tuples = matches!((t, f), (Type::Tuple(_), Type::Tuple(_)));
                let tuple = if both_tuples { self.tuples.unify(t, f) } else { None };
                let ty = match (t, f) {
                    (Type::Tuple(_), Type::Tuple(_)) if tuple.is_some() => tuple.unwrap_or(t),
                    (Type::Str { len: a }, Type::Str { len: b }) => Type::Str { len: a.max(b) },
                    (a, b) if a.is_int() && b.is_int() => Type::Int { signed: a.signed() && b.signed() },
                    (a, b) => {
                        self.error(
                            Diagnostic::error(format!(
                                "the branches of `?:` have different types: {} and {}",
                                self.tuples.name(a),
                                self.tuples.name(b)
                            ))
                            .at(els.span, format!("this is {}", self.tuples.name(b)))
                            .also(then.span, format!("this is {}", self.tuples.name(a))),
                        );
                        return Type::Error;
                    }
                };
                self.set(scope, e, ty, Res::Plain)
            }
        }
    }

    fn ident(&mut self, e: &Expr, name: &str, scope: &mut Scope) -> Type {
        if let Some(v) = builtins::constant(name) {
            return self.set(scope, e, Type::Int { signed: false }, Res::Const(v));
        }
        if builtins::builtin(name).is_none() && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
            if let Some(v) = self.kernel_types().ok().and_then(|k| k.enum_value(name)) {
                return self.set(scope, e, Type::Int { signed: true }, Res::Const(v as u64));
            }
        }
        let Some(b) = builtins::builtin(name) else {
            let mut d = Diagnostic::error(format!("unknown identifier `{name}`")).at(e.span, "not a builtin");
            let names = builtins::BUILTINS.iter().map(|b| b.name);
            if let Some(s) = did_you_mean(name, names) {
                d = d.help(format!("did you mean `{s}`?"));
            } else if builtins::function(name).is_some() {
                d = d.help(format!("`{name}` is a function: call it as `{name}(…)`"));
            }
            self.error(d);
            return Type::Error;
        };
        // A loop's callback has no probe context: what reads it is out of reach there.
        let reads_context = match b {
            Builtin::Args | Builtin::Arg(_) | Builtin::Retval | Builtin::Kstack | Builtin::Ustack => true,
            Builtin::FuncName => !matches!(scope.inst.attach, Attach::Uprobe { .. }),
            Builtin::Probe => !scope.inst.also.is_empty(),
            _ => false,
        };
        if reads_context && self.refused_in_map_loop(name, e.span, scope) {
            return Type::Error;
        }
        let ty = match b {
            Builtin::Comm => Type::Str { len: COMM_LEN },
            Builtin::Args => {
                if scope.inst.format.is_none() && scope.inst.params.is_none() {
                    let kind = match scope.inst.attach {
                        Attach::Begin => "BEGIN",
                        Attach::End => "END",
                        Attach::Kprobe { ret: false, .. } => "kprobe",
                        Attach::Kprobe { ret: true, .. } => "kretprobe",
                        Attach::RawTracepoint { .. } => "rawtracepoint",
                        Attach::Uprobe { ret: false, .. } => "uprobe",
                        Attach::Uprobe { ret: true, .. } => "uretprobe",
                        Attach::Usdt { .. } => "usdt",
                        Attach::Watchpoint { .. } => "watchpoint",
                        _ => "interval",
                    };
                    self.error(
                        Diagnostic::error(format!("`args` is not available in {kind} probes"))
                            .at(e.span, "no arguments here")
                            .help("`args` holds the fields of a tracepoint's record"),
                    );
                    return Type::Error;
                }
                Type::Args
            }
            Builtin::Probe => {
                // An id into the plan's probe names: a constant, or the attach cookie when one
                // program serves several attach points.
                if scope.inst.also.is_empty() {
                    return self.set(scope, e, Type::ProbeName, Res::Const(scope.inst.name_ids[0]));
                }
                Type::ProbeName
            }
            Builtin::Kstack | Builtin::Ustack => {
                let spec = plan::StackSpec { user: b == Builtin::Ustack, perf: false, depth: plan::STACK_DEPTH };
                self.record_stack(spec)
            }
            Builtin::Cpid => {
                if !self.has_command {
                    self.error(
                        Diagnostic::error("`cpid` needs a command started with `-c`")
                            .at(e.span, "no command")
                            .help("run `rtrace -c 'CMD' …`"),
                    );
                    return Type::Error;
                }
                Type::Int { signed: false }
            }
            Builtin::Curtask => {
                let k = self.kernel_types().ok();
                let to = k.as_ref().and_then(|k| Some(Pointee::btf(k, k.find_tagged("struct", "task_struct")?)));
                Type::Ptr { user: false, to }
            }
            Builtin::Pid
            | Builtin::Tid
            | Builtin::Uid
            | Builtin::Gid
            | Builtin::Nsecs
            | Builtin::Cpu
            | Builtin::Cgroup
            | Builtin::Jiffies
            | Builtin::Rand
            | Builtin::NumaId => Type::Int { signed: false },
            Builtin::Ncpus => {
                let n = libbpf_rs::num_possible_cpus().unwrap_or(1) as u64;
                return self.set(scope, e, Type::Int { signed: false }, Res::Const(n));
            }
            Builtin::Ppid => {
                let Some(res) = self.ppid(e.span) else { return Type::Error };
                return self.set(scope, e, Type::Int { signed: false }, res);
            }
            Builtin::Elapsed => {
                self.uses_elapsed = true;
                Type::Int { signed: false }
            }
            Builtin::Arg(n) if matches!(scope.inst.attach, Attach::RawTracepoint { .. }) => {
                return self.raw_tracepoint_arg(e, n, scope);
            }
            Builtin::Arg(n) if matches!(scope.inst.attach, Attach::Usdt { .. }) => return self.usdt_arg(e, n, scope),
            Builtin::Arg(n) if n >= 6 && matches!(scope.inst.attach, Attach::Kprobe { .. } | Attach::Uprobe { .. }) => {
                self.error(
                    Diagnostic::error(format!("`{name}` is past the arguments rtrace reads from registers"))
                        .at(e.span, "not available here")
                        .help("kprobes and uprobes have `arg0` … `arg5`"),
                );
                return Type::Error;
            }
            Builtin::Arg(_) | Builtin::Retval | Builtin::FuncName => {
                let kprobe = match &scope.inst.attach {
                    Attach::Kprobe { ret, .. } | Attach::Uprobe { ret, .. } => Some(*ret),
                    _ => None,
                };
                let fexit = matches!(scope.inst.attach, Attach::Fentry { ret: true, .. });
                let fentry = matches!(scope.inst.attach, Attach::Fentry { .. });
                let (ok, needs) = match b {
                    Builtin::Arg(_) => (kprobe == Some(false), "kprobe, uprobe, rawtracepoint and usdt"),
                    Builtin::Retval => (kprobe == Some(true) || fexit, "kretprobe, uretprobe and fexit"),
                    _ => (kprobe.is_some() || fentry, "kprobe, uprobe and fentry"),
                };
                if let (Builtin::Retval, true) = (b, fexit) {
                    // fexit's return value is the slot after the arguments.
                    let (params, ret) = scope.inst.params.clone().unwrap_or_default();
                    return self.fentry_slot(e, params.len(), ret, scope);
                }
                if !ok {
                    let mut d = Diagnostic::error(format!("`{name}` is only available in {needs} probes"))
                        .at(e.span, format!("not available in `{}`", scope.inst.display));
                    if let (Builtin::Arg(_), Some(format)) = (b, &scope.inst.format) {
                        let names: Vec<&str> = format.fields.iter().map(|f| f.name.as_str()).collect();
                        d = d.help(format!(
                            "tracepoints name their arguments: use `args.NAME` (this one has {})",
                            names.join(", ")
                        ));
                    }
                    self.error(d);
                    return Type::Error;
                }
                match (b, &scope.inst.attach) {
                    (Builtin::Retval, _) => Type::Int { signed: true },
                    // A uprobe's program serves one function: its name is a constant.
                    (Builtin::FuncName, Attach::Uprobe { func, .. }) => {
                        return self.set(scope, e, Type::Str { len: func.len() as u32 + 1 }, Res::ConstStr(func.clone()));
                    }
                    (Builtin::FuncName, _) => Type::Ksym,
                    _ => Type::Int { signed: false },
                }
            }
        };
        self.set(scope, e, ty, Res::Builtin(b))
    }

    fn map_read(&mut self, e: &Expr, map: &MapRef, scope: &mut Scope) -> Type {
        let keys = self.keys(map, scope);
        let Some((index, info)) = self.maps.get(&map.name).map(|(i, m)| (i, m.clone())) else {
            if !self.final_pass {
                // Pass 1 may not have seen the assignment yet (`@n = @n + 1`); guess an integer
                // so the assignment still teaches the map's type.
                return Type::Int { signed: true };
            }
            let mut d = Diagnostic::error(format!("map `{}` is read but never assigned", map.name)).at(map.span, "never assigned");
            if let Some(s) = did_you_mean(&map.name, self.maps.maps.iter().map(|m| m.name.as_str())) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            self.error(d);
            return Type::Error;
        };
        let Some(keys) = keys else { return Type::Error };
        if merge_keys(&info.keys, &keys).is_none() {
            self.error(key_mismatch(&info, map.span, &keys));
            return Type::Error;
        }
        let ty = match value_type(info.value) {
            Some(t) => t,
            None => {
                let agg = info.value;
                self.error(
                    Diagnostic::error(format!("reading a {} map inside a probe is not supported yet", agg.name()))
                        .at(map.span, format!("`{}` holds {}", map.name, value_desc(agg)))
                        .also(info.first_assign, "assigned here")
                        .note("aggregations are per-CPU and summed only when printed"),
                );
                return Type::Error;
            }
        };
        self.set(scope, e, ty, Res::MapRead(index))
    }

    fn call(&mut self, e: &Expr, name: &Name, args: &[Expr], scope: &mut Scope) -> Type {
        let Some(def) = builtins::function(&name.name) else {
            // Macro calls are expanded by now: a script with macros may have meant one.
            let macros = &self.program.macros;
            let what = if macros.is_empty() { "function" } else { "function or macro" };
            let mut d = Diagnostic::error(format!("unknown {what} `{}`", name.name)).at(name.span, format!("not a {}", what.replace(" or ", " or a ")));
            let candidates = builtins::FUNCTIONS.iter().map(|f| f.name).chain(macros.iter().map(|m| m.name.name.as_str()));
            if let Some(s) = did_you_mean(&name.name, candidates) {
                let kind = if macros.iter().any(|m| m.name.name == s) { "the macro " } else { "" };
                d = d.help(format!("did you mean {kind}`{s}`?"));
            }
            self.error(d);
            return Type::Error;
        };
        if def.aggregation {
            self.error(
                Diagnostic::error(format!("`{}()` must be assigned to a map", def.name))
                    .at(e.span, "an aggregation has no value here")
                    .help(format!("write `@name = {}(…);`", def.name)),
            );
            return Type::Error;
        }
        if !self.arity(def, args.len(), e.span) {
            return Type::Error;
        }
        match def.func {
            Func::Printf => self.printf(e, def.name, args, scope),
            Func::System => {
                if !self.unsafe_allowed(e, "system", "it runs a shell command for each event") {
                    return Type::Error;
                }
                match self.printf(e, def.name, args, scope) {
                    Type::Error => Type::Error,
                    _ => {
                        let Res::Printf(id) = scope.exprs[&e.id].res else { return Type::Error };
                        self.set(scope, e, Type::Void, Res::System(id))
                    }
                }
            }
            Func::Kstack | Func::Ustack if self.refused_in_map_loop(def.name, e.span, scope) => Type::Error,
            Func::Kstack | Func::Ustack => self.stack_call(e, def, args, scope),
            Func::Signal => self.signal(e, &args[0], scope),
            Func::Strftime => {
                let Some(fmt) = self.literal_arg(args.first(), None, "`strftime()`'s format") else {
                    return Type::Error;
                };
                if !self.int_arg(&args[1], "`strftime()` takes nanoseconds since boot, such as `nsecs`", scope) {
                    return Type::Error;
                }
                let id = match self.strftime_formats.iter().position(|f| *f == fmt) {
                    Some(i) => i,
                    None => {
                        self.strftime_formats.push(fmt);
                        self.strftime_formats.len() - 1
                    }
                };
                self.set(scope, e, Type::Timestamp(id as u32), Res::Call(Func::Strftime))
            }
            Func::Exit => {
                if let Some(a) = args.first() {
                    if literal_int(a).is_none() {
                        self.error(Diagnostic::error("exit() takes an integer literal").at(a.span, "not a literal"));
                    }
                }
                self.set(scope, e, Type::Void, Res::Call(Func::Exit))
            }
            Func::Len | Func::HasKey => self.map_query(e, def, args, scope),
            Func::Delete | Func::Clear | Func::Zero => {
                let arg = &args[0];
                let ExprKind::Map(map) = &arg.kind else {
                    self.error(
                        Diagnostic::error(format!("`{}()` takes a map", def.name))
                            .at(arg.span, "not a map")
                            .help(format!("the signature is `{}`", def.signature)),
                    );
                    return Type::Error;
                };
                if def.func != Func::Delete && !map.keys.is_empty() {
                    self.error(
                        Diagnostic::error(format!("`{}()` takes a whole map", def.name))
                            .at(arg.span, "this is one entry")
                            .help(format!("write `{}({})`, or `delete({})` for one entry", def.name, map.name, map.name.clone() + "[…]")),
                    );
                    return Type::Error;
                }
                let keys = if def.func == Func::Delete { self.keys(map, scope) } else { Some(Keys::default()) };
                let Some((index, info)) = self.maps.get(&map.name).map(|(i, m)| (i, m.clone())) else {
                    self.error(
                        Diagnostic::error(format!("map `{}` is never assigned", map.name)).at(map.span, "never assigned"),
                    );
                    return Type::Error;
                };
                if let Some(keys) = keys {
                    if def.func == Func::Delete && merge_keys(&info.keys, &keys).is_none() {
                        self.error(key_mismatch(&info, map.span, &keys));
                    }
                }
                scope.exprs.insert(arg.id, ExprInfo { ty: Type::Void, res: Res::MapRead(index), span: arg.span });
                self.set(scope, e, Type::Void, Res::Call(def.func))
            }
            Func::Time => {
                let Some(fmt) = self.literal_arg(args.first(), Some("%H:%M:%S\n"), "`time()`'s format") else {
                    return Type::Error;
                };
                let mut id = 0;
                if self.final_pass {
                    id = self.time_formats.len();
                    self.time_formats.push(fmt);
                }
                self.set(scope, e, Type::Void, Res::Time(id))
            }
            Func::Kaddr => {
                let ExprKind::Str(sym) = &args[0].kind else {
                    self.error(Diagnostic::error("`kaddr()` takes a string literal").at(args[0].span, "not a string literal"));
                    return Type::Error;
                };
                let addr = if self.final_pass { kallsyms::symbol_address(sym) } else { Some(0) };
                match addr {
                    Some(a) => self.set(scope, e, Type::Int { signed: false }, Res::Const(a)),
                    None => {
                        let d = Diagnostic::error(format!("no kernel symbol `{sym}`")).at(args[0].span, "not in /proc/kallsyms");
                        if !self.no_attach {
                            self.error(d);
                            return Type::Error;
                        }
                        let mut d = d.note("checked with address 0, since nothing runs");
                        d.severity = crate::diag::Severity::Warning;
                        self.error(d);
                        self.set(scope, e, Type::Int { signed: false }, Res::Const(0))
                    }
                }
            }
            Func::Print => {
                let arg = &args[0];
                for extra in &args[1..] {
                    let t = self.expr(extra, scope);
                    if t != Type::Error && !t.is_int() {
                        self.error(
                            Diagnostic::error("`print()`'s top and div are integers").at(extra.span, format!("this is {}", t.describe())),
                        );
                    }
                }
                if args.len() > 1 && !matches!(&arg.kind, ExprKind::Map(m) if m.keys.is_empty()) {
                    self.error(
                        Diagnostic::error("`print()` takes top and div only with a whole map")
                            .at(args[1].span, "not with a single value"),
                    );
                    return Type::Error;
                }
                if let ExprKind::Map(map) = &arg.kind {
                    if map.keys.is_empty() {
                        let Some((index, _)) = self.maps.get(&map.name) else {
                            self.error(
                                Diagnostic::error(format!("map `{}` is never assigned", map.name)).at(map.span, "never assigned"),
                            );
                            return Type::Error;
                        };
                        scope.exprs.insert(arg.id, ExprInfo { ty: Type::Void, res: Res::MapRead(index), span: arg.span });
                        return self.set(scope, e, Type::Void, Res::Call(Func::Print));
                    }
                }
                // print(value): the value and a newline, as a printf.
                let t = self.expr(arg, scope);
                let kind = match t {
                    Type::Str { len } => ArgKind::Str { len },
                    Type::Ksym => ArgKind::Ksym,
                    Type::Timestamp(id) => ArgKind::Timestamp(id),
                    Type::Stack(spec) => ArgKind::Stack(spec),
                    Type::Inet => ArgKind::Inet,
                    Type::ProbeName => ArgKind::ProbeName,
                    Type::Usym => ArgKind::Usym,
                    Type::IntArray(a) => ArgKind::IntArray(a),
                    t if t.is_int() => ArgKind::Int { signed: t.signed() },
                    Type::Tuple(_) => self.tuples.arg_kind(t).unwrap_or(ArgKind::Int { signed: true }),
                    Type::Error => return Type::Error,
                    other => {
                        self.error(Diagnostic::error(format!("cannot print {}", other.describe())).at(arg.span, "no value"));
                        return Type::Error;
                    }
                };
                // `%s` prints an integer by its own signedness: a uint64 prints unsigned, as
                // it does as a map value.
                let spec = FmtSpec { conv: 's', int_bits: 64, ..FmtSpec::default() };
                let size = plan::EVENT_HEADER + kind.size().next_multiple_of(8);
                let mut id = 0;
                if self.final_pass {
                    id = self.printfs.len();
                    self.printfs.push(PrintfDef {
                        segments: vec![FmtSegment::Conv { spec, arg: 0 }, FmtSegment::Lit("\n".into())],
                        args: vec![ArgField { offset: plan::EVENT_HEADER, kind }],
                        size,
                    });
                }
                self.set(scope, e, Type::Void, Res::PrintValue(id))
            }
            Func::Buf => {
                let types: Vec<Type> = args.iter().map(|a| self.expr(a, scope)).collect();
                if types.contains(&Type::Error) {
                    return Type::Error;
                }
                let data_ok = types[0].is_int() || matches!(types[0], Type::Str { .. } | Type::Array { .. });
                if !data_ok || types.get(1).is_some_and(|t| !t.is_int()) {
                    self.error(
                        Diagnostic::error("`buf()` takes a pointer (or array) and an integer length")
                            .at(e.span, "wrong arguments")
                            .help("the signature is `buf(void *data[, int length])`"),
                    );
                    return Type::Error;
                }
                let user = matches!(types[0], Type::Ptr { user: true, .. } | Type::Array { user: true, .. })
                    || (types[0].is_int() && scope.user_memory());
                self.set(scope, e, Type::Buffer, Res::Buf { user })
            }
            Func::Uaddr => {
                let Some(sym) = self.literal_arg(args.first(), None, "`uaddr()`'s symbol") else {
                    return Type::Error;
                };
                let Attach::Uprobe { path, .. } = &scope.inst.attach else {
                    self.error(
                        Diagnostic::error("`uaddr()` is only available in uprobe probes")
                            .at(e.span, format!("not available in `{}`", scope.inst.display))
                            .note("it looks the symbol up in the probed program"),
                    );
                    return Type::Error;
                };
                let path = path.clone();
                let addr = if self.final_pass { elf::symbol_address(std::path::Path::new(&path), &sym) } else { Some(0) };
                let Some(addr) = addr else {
                    self.error(
                        Diagnostic::error(format!("no symbol `{sym}` in `{path}`"))
                            .at(args[0].span, "not in the program's symbol tables"),
                    );
                    return Type::Error;
                };
                self.set(scope, e, Type::Ptr { user: true, to: None }, Res::Const(addr))
            }
            Func::Strcontains => {
                let haystack = self.expr(&args[0], scope);
                if !matches!(args[1].kind, ExprKind::Str(_)) {
                    self.error(
                        Diagnostic::error("`strcontains()`'s needle must be a string literal")
                            .at(args[1].span, "not a string literal")
                            .note("rtrace compares against a literal's bytes only, so far"),
                    );
                    return Type::Error;
                }
                match haystack {
                    Type::Str { .. } => {}
                    Type::Error => return Type::Error,
                    t => {
                        self.error(
                            Diagnostic::error(format!("`strcontains()` searches a string, not {}", t.describe()))
                                .at(args[0].span, format!("this is {}", t.describe())),
                        );
                        return Type::Error;
                    }
                }
                self.set(scope, e, Type::Int { signed: false }, Res::Call(Func::Strcontains))
            }
            Func::Cgroupid => {
                let Some(path) = self.literal_arg(args.first(), None, "`cgroupid()`'s path") else {
                    return Type::Error;
                };
                match cgroup::id(&path) {
                    Ok(id) => self.set(scope, e, Type::Int { signed: false }, Res::Const(id)),
                    Err(err) => {
                        self.error(
                            Diagnostic::error(format!("cannot get the cgroup id of `{path}`: {err}"))
                                .at(args[0].span, "not a cgroup v2 directory")
                                .help("cgroup v2 is mounted at /sys/fs/cgroup (or /sys/fs/cgroup/unified beside v1)"),
                        );
                        Type::Error
                    }
                }
            }
            Func::Kptr | Func::Uptr => {
                if !self.int_arg(&args[0], &format!("`{}()` takes a pointer", def.name), scope) {
                    return Type::Error;
                }
                let to = match scope.exprs.get(&args[0].id).map(|i| i.ty) {
                    Some(Type::Ptr { to, .. }) => to,
                    _ => None,
                };
                self.set(scope, e, Type::Ptr { user: def.func == Func::Uptr, to }, Res::Plain)
            }
            Func::Ksym => {
                if !self.int_arg(&args[0], "`ksym()` takes an address", scope) {
                    return Type::Error;
                }
                self.set(scope, e, Type::Ksym, Res::Plain)
            }
            Func::Usym => {
                if !self.int_arg(&args[0], "`usym()` takes an address", scope) {
                    return Type::Error;
                }
                self.set(scope, e, Type::Usym, Res::Call(Func::Usym))
            }
            Func::Cat => {
                let Some(path) = self.literal_arg(args.first(), None, "`cat()`'s path") else {
                    return Type::Error;
                };
                let mut id = 0;
                if self.final_pass {
                    id = self.cat_paths.len();
                    self.cat_paths.push(path);
                }
                self.set(scope, e, Type::Void, Res::Event { kind: crate::plan::EventKind::Cat, id: id as u32 })
            }
            Func::Join => {
                let t = self.expr(&args[0], scope);
                if t == Type::Error {
                    return t;
                }
                let user = match t {
                    Type::Ptr { user, .. } => user,
                    t if t.is_int() => scope.user_memory(),
                    other => {
                        self.error(
                            Diagnostic::error(format!("`join()` takes an array of string pointers, not {}", other.describe()))
                                .at(args[0].span, "not a pointer"),
                        );
                        return Type::Error;
                    }
                };
                let Some(sep) = self.literal_arg(args.get(1), Some(" "), "`join()`'s separator") else {
                    return Type::Error;
                };
                let mut id = 0;
                if self.final_pass {
                    id = self.join_separators.len();
                    self.join_separators.push(sep);
                }
                self.set(scope, e, Type::Void, Res::Join { id, user })
            }
            Func::Strncmp => {
                let types: Vec<Type> = args[..2].iter().map(|a| self.expr(a, scope)).collect();
                let n = self.expr(&args[2], scope);
                if types.contains(&Type::Error) || n == Type::Error {
                    return Type::Error;
                }
                for (arg, t) in args.iter().zip(&types) {
                    if !matches!(t, Type::Str { .. }) {
                        self.error(
                            Diagnostic::error("`strncmp()` compares strings")
                                .at(arg.span, format!("this is {}", t.describe()))
                                .help("the signature is `strncmp(string a, string b, int n)`; `str()` reads a string from a pointer"),
                        );
                        return Type::Error;
                    }
                }
                let ExprKind::Int(len) = args[2].kind else {
                    self.error(
                        Diagnostic::error("`strncmp()` needs its length as an integer literal")
                            .at(args[2].span, "not a literal")
                            .help("the number of bytes compared is fixed when the program is compiled"),
                    );
                    return Type::Error;
                };
                self.set(scope, e, Type::Int { signed: false }, Res::Strncmp(len))
            }
            Func::Bswap => {
                if !self.int_arg(&args[0], "`bswap()` takes an integer", scope) {
                    return Type::Error;
                }
                let bits = int_bits(&args[0], scope);
                self.set(scope, e, Type::Int { signed: false }, Res::Bswap(bits))
            }
            Func::Ntop => {
                let types: Vec<Type> = args.iter().map(|a| self.expr(a, scope)).collect();
                if types.contains(&Type::Error) {
                    return Type::Error;
                }
                let addr = types[types.len() - 1];
                let ok_family = types.len() == 1 || types[0].is_int();
                let ok_addr = addr.is_int() || matches!(addr, Type::Array { len: 4 | 16, .. });
                if !ok_family || !ok_addr {
                    self.error(
                        Diagnostic::error("`ntop()` takes an IPv4 address as an integer or an IPv6 address as a 16-byte array")
                            .at(args[args.len() - 1].span, format!("this is {}", addr.describe()))
                            .help("the signature is `ntop([int af, ] int|char[4]|char[16] addr)`"),
                    );
                    return Type::Error;
                }
                self.set(scope, e, Type::Inet, Res::Call(Func::Ntop))
            }
            Func::Str => {
                let t = self.expr(&args[0], scope);
                // Pointers know their address space; plain integers take the probe's
                // (user memory in uprobes, as in bpftrace).
                let res = match t {
                    Type::Ptr { user, .. } => Res::Str { user },
                    Type::Array { elem, len, user } => {
                        let Some(k) = self.kernel_types().ok() else { return Type::Error };
                        if !matches!(k.shape(elem), btf::Shape::Int { size: 1, .. }) {
                            self.error(
                                Diagnostic::error(format!("`str()` takes a char array, not {}[{len}]", k.name(elem)))
                                    .at(args[0].span, "not a string"),
                            );
                            return Type::Error;
                        }
                        let len = len.min(STR_LEN);
                        return self.set(scope, e, Type::Str { len }, Res::StrArray { len, user });
                    }
                    Type::Int { .. } => Res::Str { user: scope.user_memory() },
                    Type::Str { len } => return self.set(scope, e, Type::Str { len }, Res::Plain),
                    Type::Error => return Type::Error,
                    other => {
                        self.error(
                            Diagnostic::error(format!("`str()` takes a pointer, not {}", other.describe()))
                                .at(args[0].span, "not a pointer"),
                        );
                        return Type::Error;
                    }
                };
                self.set(scope, e, Type::Str { len: STR_LEN }, res)
            }
            _ => Type::Error,
        }
    }

    /// `printf(fmt, args…)`, or a function `name` that formats like it (`system()`).
    fn printf(&mut self, e: &Expr, name: &str, args: &[Expr], scope: &mut Scope) -> Type {
        let fmt_expr = &args[0];
        let ExprKind::Str(fmt) = &fmt_expr.kind else {
            self.error(
                Diagnostic::error(format!("the first argument of `{name}()` must be a string literal"))
                    .at(fmt_expr.span, "not a string literal"),
            );
            return Type::Error;
        };
        let segments = match parse_format(fmt) {
            Ok(s) => s,
            Err(msg) => {
                self.error(Diagnostic::error(msg).at(fmt_expr.span, "in this format"));
                return Type::Error;
            }
        };
        let convs: Vec<&FmtSpec> = segments
            .iter()
            .filter_map(|s| match s {
                FmtSegment::Conv { spec, .. } => Some(spec),
                _ => None,
            })
            .collect();
        let values = &args[1..];
        let types: Vec<Type> = values.iter().map(|a| self.expr(a, scope)).collect();
        if convs.len() != values.len() {
            let span = values.first().map_or(fmt_expr.span, |f| f.span.to(values[values.len() - 1].span));
            self.error(
                Diagnostic::error(format!(
                    "`{name}()` format has {} conversion{}, but {} argument{} given",
                    convs.len(),
                    if convs.len() == 1 { "" } else { "s" },
                    values.len(),
                    if values.len() == 1 { " was" } else { "s were" },
                ))
                .at(span, "arguments")
                .also(fmt_expr.span, "format"),
            );
            return Type::Error;
        }
        let mut fields = Vec::new();
        let mut offset = plan::EVENT_HEADER;
        let mut ok = true;
        for ((spec, value), ty) in convs.iter().zip(values).zip(&types) {
            let kind = match (spec.conv, ty) {
                (_, Type::Error) => {
                    ok = false;
                    continue;
                }
                ('s', Type::Str { len }) => ArgKind::Str { len: *len },
                ('s', Type::Ksym) => ArgKind::Ksym,
                ('s', Type::Stack(spec)) => ArgKind::Stack(*spec),
                ('s', Type::Inet) => ArgKind::Inet,
                ('s', Type::ProbeName) => ArgKind::ProbeName,
                ('s', Type::Usym) => ArgKind::Usym,
                ('s', Type::Timestamp(id)) => ArgKind::Timestamp(*id),
                ('r', Type::Buffer) => ArgKind::Buf,
                (_, Type::IntArray(a)) => {
                    ok = false;
                    self.error(
                        Diagnostic::error("`printf()` cannot format an integer array")
                            .at(value.span, format!("this is `{}`", array_name(*a)))
                            .help("format its elements (`$a[0]`, `$a[1]`, …), or print it whole with `print()`"),
                    );
                    continue;
                }
                (_, Type::Tuple(_)) => {
                    ok = false;
                    self.error(
                        Diagnostic::error("`printf()` cannot format a tuple")
                            .at(value.span, "this is a tuple")
                            .help("format its elements (`$t.0`, `$t.1`, …), or print it whole with `print()`"),
                    );
                    continue;
                }
                ('r', t) => {
                    ok = false;
                    self.error(
                        Diagnostic::error(format!("`%r` needs a buffer, but this is {}", t.describe()))
                            .at(value.span, format!("this is {}", t.describe()))
                            .help("make one with `buf(pointer, length)`"),
                    );
                    continue;
                }
                (_, Type::Ksym) => ArgKind::Int { signed: false },
                ('s', t) if t.is_int() => match scope.enums.get(&value.id) {
                    Some(&id) => ArgKind::Enum { id: self.plan_enum(id) },
                    None => ArgKind::Int { signed: t.signed() },
                },
                (c, t) if c != 's' && t.is_int() => ArgKind::Int { signed: t.signed() },
                (c, t) => {
                    ok = false;
                    self.error(
                        Diagnostic::error(format!("`%{c}` needs an integer, but this is {}", t.describe()))
                            .at(value.span, format!("this is {}", t.describe()))
                            .help("use `%s` for strings"),
                    );
                    continue;
                }
            };
            let size = kind.size().next_multiple_of(8);
            fields.push(ArgField { offset, kind });
            offset += size;
        }
        if !ok {
            return Type::Error;
        }
        if offset > MAX_PRINTF_RECORD {
            self.error(
                Diagnostic::error(format!("`{name}()` arguments take {offset} bytes, more than the {MAX_PRINTF_RECORD} rtrace supports"))
                    .at(e.span, "too much data for one event"),
            );
            return Type::Error;
        }
        let mut id = 0;
        if self.final_pass {
            id = self.printfs.len();
            self.printfs.push(PrintfDef { segments, args: fields, size: offset });
        }
        self.set(scope, e, Type::Void, Res::Printf(id))
    }

    fn field(&mut self, e: &Expr, base: &Expr, field: &Name, arrow: bool, scope: &mut Scope) -> Type {
        let bt = self.expr(base, scope);
        if bt == Type::Error {
            return Type::Error;
        }
        if let (Type::Tuple(id), false) = (bt, arrow) {
            if let Some(names) = self.tuples.names[id as usize].clone() {
                let Some(i) = names.iter().position(|n| *n == field.name) else {
                    let record = self.tuples.name(bt);
                    let mut d = Diagnostic::error(format!("record `{record}` has no field `{}`", field.name))
                        .at(field.span, "unknown field");
                    if let Some(s) = did_you_mean(&field.name, names.iter().map(String::as_str)) {
                        d = d.help(format!("did you mean `{s}`?"));
                    }
                    self.error(d);
                    return Type::Error;
                };
                let t = self.tuples.types[id as usize][i];
                return self.set(scope, e, t, Res::Plain);
            }
        }
        if matches!(bt, Type::Ptr { .. } | Type::Record { .. }) {
            return self.kernel_member(e, bt, field, scope);
        }
        if bt != Type::Args {
            let op = if arrow { "->" } else { "." };
            self.error(
                Diagnostic::error(format!("`{op}` needs a record, but this is {}", bt.describe()))
                    .at(base.span, format!("this is {}", bt.describe())),
            );
            return Type::Error;
        }
        if let Some((params, _)) = scope.inst.params.clone() {
            let Some(index) = params.iter().position(|(n, _)| *n == field.name) else {
                let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
                let mut d = Diagnostic::error(format!("`{}` has no argument `{}`", scope.inst.display, field.name))
                    .at(field.span, "unknown argument");
                d = match did_you_mean(&field.name, names.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.note(format!("its arguments are: {}", names.join(", "))),
                };
                self.error(d);
                return Type::Error;
            };
            return self.fentry_slot(e, index, params[index].1, scope);
        }
        let Some(format) = scope.inst.format.as_ref() else { return Type::Error };
        let Some(f) = format.field(&field.name).cloned() else {
            let mut d = Diagnostic::error(format!(
                "tracepoint `{}:{}` has no field `{}`",
                format.category, format.event, field.name
            ))
            .at(field.span, "unknown field");
            match did_you_mean(&field.name, format.fields.iter().map(|f| f.name.as_str())) {
                Some(s) => d = d.help(format!("did you mean `{s}`?")),
                None => {
                    let names: Vec<&str> = format.fields.iter().map(|f| f.name.as_str()).collect();
                    d = d.note(format!("its fields are: {}", names.join(", ")));
                }
            }
            self.error(d);
            return Type::Error;
        };
        let ty = match f.kind {
            FieldKind::Int => {
                // `enum skb_drop_reason reason`: printed by name, with the enum from BTF.
                if let ["enum", name, _] = f.decl.split_whitespace().collect::<Vec<_>>().as_slice() {
                    if let Some(id) = self.kernel_types().ok().and_then(|k| k.find_tagged("enum", name)) {
                        scope.enums.insert(e.id, id);
                    }
                }
                Type::Int { signed: f.signed }
            }
            FieldKind::Ptr { user, .. } => {
                // `struct __kernel_timespec * rqtp`: the pointee from BTF, when it is a struct.
                let tagged = f.decl.split_whitespace().collect::<Vec<_>>();
                let to = match tagged.as_slice() {
                    [.., tag @ ("struct" | "union"), name, _, _] if tagged.contains(&"*") => self.kernel_types().ok().and_then(|k| {
                        let id = k.find_tagged(tag, name.trim_end_matches('*'))?;
                        Some(Pointee::btf(&k, id))
                    }),
                    _ => None,
                };
                Type::Ptr { user, to }
            }
            FieldKind::CharArray => Type::Str { len: f.size as u32 },
            FieldKind::IntArray { elem_size, len } => {
                let elem = self.kernel_types().ok().and_then(|k| k.int_type(elem_size as u32, f.signed));
                let Some(elem) = elem else {
                    self.error(
                        Diagnostic::error(format!("rtrace cannot read field `{}` without the kernel's BTF", f.name))
                            .at(field.span, format!("declared as `{}`", f.decl)),
                    );
                    return Type::Error;
                };
                Type::Array { elem, len: len as u32, user: false }
            }
            FieldKind::DataLocString => Type::Str { len: STR_LEN },
            FieldKind::Other => {
                self.error(
                    Diagnostic::error(format!("rtrace cannot read field `{}` yet", f.name))
                        .at(field.span, format!("declared as `{}`", f.decl)),
                );
                return Type::Error;
            }
        };
        self.set(scope, e, ty, Res::Field(f))
    }
}

/// Width in bits and signedness of a builtin integer type name (`uint32`, `unsigned long`).
pub fn named_int_type(name: &str) -> Option<(u32, bool)> {
    Some(match name {
        "int8" | "s8" | "char" | "signed char" => (8, true),
        "uint8" | "u8" | "unsigned char" | "bool" => (8, false),
        "int16" | "s16" | "short" | "signed short" => (16, true),
        "uint16" | "u16" | "unsigned short" => (16, false),
        "int32" | "s32" | "int" | "signed" | "signed int" => (32, true),
        "uint32" | "u32" | "unsigned" | "unsigned int" => (32, false),
        "int64" | "s64" | "long" | "long long" | "signed long" | "long int" | "long long int" => (64, true),
        "uint64" | "u64" | "unsigned long" | "unsigned long long" | "unsigned long int" => (64, false),
        _ => return None,
    })
}

/// A type with its article, for messages; an integer array by its type, "`uint8[4]`".
fn type_text(t: Type) -> String {
    match t {
        Type::IntArray(a) => format!("`{}`", array_name(a)),
        other => other.describe().to_string(),
    }
}

/// An array type as written: `uint8[4]`, `int16[]`.
fn array_type_text(t: &TypeExpr) -> String {
    match &t.kind {
        TypeExprKind::Named(name) => name.clone(),
        TypeExprKind::Tagged { tag, name } => format!("{tag} {name}"),
        TypeExprKind::Pointer(inner) => format!("{} *", array_type_text(inner)),
        TypeExprKind::Array(inner, Some(n)) => format!("{}[{n}]", array_type_text(inner)),
        TypeExprKind::Array(inner, None) => format!("{}[]", array_type_text(inner)),
    }
}

/// An integer array type as written in a cast: `uint8[4]`.
fn array_name(a: plan::IntArray) -> String {
    format!("{}int{}[{}]", if a.signed { "" } else { "u" }, 8 * a.elem_bytes as u32, a.len)
}

/// A map value kind with its article, for messages.
fn value_desc(kind: ValueKind) -> String {
    match kind {
        ValueKind::Int { .. } => "an integer".into(),
        ValueKind::Str { .. } => "a string".into(),
        ValueKind::IntArray(a) => type_text(Type::IntArray(a)),
        ValueKind::Hist { k } if k > 0 => format!("hist(n, {k})"),
        agg => agg.name().to_string(),
    }
}

/// How wide an integer expression is, where its source says (a kernel member, a tracepoint
/// field, a cast, a variable assigned one of those); 64 bits otherwise.
/// `v` cut to `size` bytes, then extended back to 64 bits by sign or with zeros.
fn extend(v: u64, size: u32, signed: bool) -> u64 {
    let shift = 64 - 8 * size.min(8);
    match signed {
        true => (((v << shift) as i64) >> shift) as u64,
        false => (v << shift) >> shift,
    }
}

fn int_bits(e: &Expr, scope: &Scope) -> u32 {
    let info = scope.exprs.get(&e.id);
    match (&e.kind, info.map(|i| &i.res)) {
        (_, Some(Res::Memory(Access { read: Read::Int { size, .. }, .. }))) => 8 * size,
        (_, Some(Res::Field(f))) => 8 * f.size as u32,
        (_, Some(Res::IntCast { bits, .. })) => *bits,
        (ExprKind::Var(name), _) => scope.var_bits.get(name).copied().unwrap_or(64),
        _ => 64,
    }
}

fn unop_symbol(op: UnOp) -> &'static str {
    match op {
        UnOp::Not => "!",
        UnOp::Neg => "-",
        UnOp::BitNot => "~",
    }
}

fn literal_int(e: &Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Int(n) => i64::try_from(*n).ok(),
        ExprKind::Unary { op: UnOp::Neg, operand } => literal_int(operand).map(|n| -n),
        _ => None,
    }
}

/// The value kind two assignments to one map agree on, if they do.
fn merge_value(a: ValueKind, b: ValueKind) -> Option<ValueKind> {
    match (a, b) {
        (ValueKind::Sum { signed: x }, ValueKind::Sum { signed: y }) => Some(ValueKind::Sum { signed: x && y }),
        (ValueKind::Int { signed: x }, ValueKind::Int { signed: y }) => Some(ValueKind::Int { signed: x || y }),
        (ValueKind::Str { len: x }, ValueKind::Str { len: y }) => Some(ValueKind::Str { len: x.max(y) }),
        (a, b) if a == b => Some(a),
        _ => None,
    }
}

/// The key part a value of type `t` makes, if it can be one.
fn key_field(t: Type) -> Option<KeyField> {
    Some(match t {
        Type::Int { signed } => KeyField::Int { signed },
        Type::Ptr { .. } => KeyField::Int { signed: false },
        Type::Str { len } => KeyField::Str { len: len.next_multiple_of(8) },
        Type::Ksym => KeyField::Ksym,
        Type::Stack(spec) => KeyField::Stack(spec),
        Type::Timestamp(id) => KeyField::Timestamp(id),
        Type::Inet => KeyField::Inet,
        Type::ProbeName => KeyField::ProbeName,
        Type::Usym => KeyField::Usym,
        Type::IntArray(a) => KeyField::IntArray(a),
        _ => return None,
    })
}

/// The type of a value read from a map, or `None` for an aggregation (per-CPU, summed only
/// when printed).
fn value_type(kind: ValueKind) -> Option<Type> {
    Some(match kind {
        ValueKind::Int { signed } => Type::Int { signed },
        ValueKind::Str { len } => Type::Str { len },
        ValueKind::Ksym => Type::Ksym,
        ValueKind::Stack(spec) => Type::Stack(spec),
        ValueKind::Timestamp(id) => Type::Timestamp(id),
        ValueKind::Inet => Type::Inet,
        ValueKind::IntArray(a) => Type::IntArray(a),
        ValueKind::Tuple { id, .. } => Type::Tuple(id),
        _ => return None,
    })
}

/// The type of a value read from a key part.
fn key_type(k: KeyField) -> Type {
    match k {
        KeyField::Int { signed } => Type::Int { signed },
        KeyField::Str { len } => Type::Str { len },
        KeyField::Ksym => Type::Ksym,
        KeyField::Stack(spec) => Type::Stack(spec),
        KeyField::Timestamp(id) => Type::Timestamp(id),
        KeyField::Inet => Type::Inet,
        KeyField::ProbeName => Type::ProbeName,
        KeyField::Usym => Type::Usym,
        KeyField::IntArray(a) => Type::IntArray(a),
    }
}

fn merge_keys(a: &Keys, b: &Keys) -> Option<Keys> {
    if a.fields.len() != b.fields.len() || a.names != b.names {
        return None;
    }
    let fields = a
        .fields
        .iter()
        .zip(&b.fields)
        .map(|(x, y)| match (x, y) {
            (KeyField::Int { signed: s }, KeyField::Int { signed: t }) => Some(KeyField::Int { signed: *s && *t }),
            (KeyField::Str { len: m }, KeyField::Str { len: n }) => Some(KeyField::Str { len: *m.max(n) }),
            (KeyField::Ksym, KeyField::Ksym) => Some(KeyField::Ksym),
            (KeyField::Stack(a), KeyField::Stack(b)) if a == b => Some(KeyField::Stack(*a)),
            (KeyField::Inet, KeyField::Inet) => Some(KeyField::Inet),
            (KeyField::ProbeName, KeyField::ProbeName) => Some(KeyField::ProbeName),
            (KeyField::Usym, KeyField::Usym) => Some(KeyField::Usym),
            (KeyField::Timestamp(a), KeyField::Timestamp(b)) if a == b => Some(KeyField::Timestamp(*a)),
            (KeyField::IntArray(a), KeyField::IntArray(b)) if a == b => Some(KeyField::IntArray(*a)),
            _ => None,
        })
        .collect::<Option<_>>()?;
    Some(Keys { fields, names: a.names.clone() })
}

/// `field` is not a member of kernel struct or union `record`.
fn no_member(k: &btf::KernelTypes, record: u32, field: &Name) -> Diagnostic {
    let d = Diagnostic::error(format!("`{}` has no member `{}`", k.name(record), field.name)).at(field.span, "unknown member");
    match did_you_mean(&field.name, k.member_names(record).iter().map(String::as_str)) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d,
    }
}

/// A map used (at `span`) with other keys than it was first used with.
fn key_mismatch(info: &MapInfo, span: Span, keys: &Keys) -> Diagnostic {
    Diagnostic::error(format!("key mismatch for map `{}`", info.name))
        .at(span, format!("used with key {}", describe_keys(keys)))
        .also(info.first_keys, format!("first used with key {}", describe_keys(&info.keys)))
}

fn describe_keys(keys: &Keys) -> String {
    if keys.fields.is_empty() {
        return "none (a scalar map)".into();
    }
    let parts: Vec<&str> = keys
        .fields
        .iter()
        .map(|k| match k {
            KeyField::Int { .. } => "int",
            KeyField::Str { .. } => "string",
            KeyField::Ksym => "ksym",
            KeyField::Stack(spec) => spec.name(),
            KeyField::Inet => "inet",
            KeyField::ProbeName => "probe",
            KeyField::Usym => "usym",
            KeyField::Timestamp(_) => "timestamp",
            KeyField::IntArray(_) => "array",
        })
        .collect();
    match &keys.names {
        Some(names) => {
            let fields: Vec<String> = names.iter().zip(parts).map(|(n, p)| format!("{n} = {p}")).collect();
            format!("[({})]", fields.join(", "))
        }
        None => format!("[{}]", parts.join(", ")),
    }
}

/// Splits a printf format into literal text and conversions.
pub fn parse_format(fmt: &str) -> Result<Vec<FmtSegment>, String> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = fmt.chars().peekable();
    let mut n = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            lit.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            lit.push('%');
            continue;
        }
        let mut spec = FmtSpec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.left = true,
                '0' => spec.zero = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alt = true,
                _ => break,
            }
            chars.next();
        }
        let digits = |chars: &mut std::iter::Peekable<std::str::Chars>| {
            let mut s = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                s.push(d);
                chars.next();
            }
            s.parse::<usize>().ok()
        };
        spec.width = digits(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(digits(&mut chars).unwrap_or(0));
        }
        let mut modifier = String::new();
        while let Some(&m) = chars.peek().filter(|c| matches!(c, 'l' | 'h' | 'z' | 'j' | 't')) {
            modifier.push(m);
            chars.next();
        }
        spec.int_bits = match modifier.as_str() {
            "" => 32,
            "h" => 16,
            "hh" => 8,
            _ => 64,
        };
        match chars.next() {
            Some(conv @ ('d' | 'i' | 'u' | 'x' | 'X' | 'o' | 's' | 'c' | 'p' | 'r')) => {
                spec.conv = conv;
                if !lit.is_empty() {
                    out.push(FmtSegment::Lit(std::mem::take(&mut lit)));
                }
                out.push(FmtSegment::Conv { spec, arg: n });
                n += 1;
            }
            Some(other) => return Err(format!("unknown printf conversion `%{other}`")),
            None => return Err("printf format ends in the middle of a conversion".into()),
        }
    }
    if !lit.is_empty() {
        out.push(FmtSegment::Lit(lit));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let s = parse_format("%-16s %5d%%\n").unwrap();
        assert_eq!(s.len(), 4);
        let FmtSegment::Conv { spec, .. } = &s[0] else { panic!() };
        assert!(spec.left);
        assert_eq!(spec.width, Some(16));
        assert_eq!(parse_format("%q").unwrap_err(), "unknown printf conversion `%q`");
    }
}
