//! The type checker: one `Checker` walks each program (one attach point of a probe) and gives
//! every expression its type and what it refers to (`ProgInfo`), learning the maps' types from
//! their assignments. Its families live in the submodules: statements (`stmt`), expressions
//! (`expr`), probe arguments (`args`, uprobes' DWARF ones in `uprobe_args`), kernel memory and casts (`memory`), maps (`maps`),
//! function calls (`call`), printf (`printf`) and tuples (`tuples`).

mod args;
mod call;
mod expr;
mod iter;
mod maps;
mod memory;
mod printf;
mod stmt;
mod tuples;
mod type_of;
mod uprobe_args;

pub use memory::named_int_type;
pub use printf::parse_format;
pub(crate) use call::pton_bytes;
pub(super) use tuples::TupleTypes;

// What every family of the checker uses (each submodule starts with `use super::*`).
use super::maps::{key_field, key_mismatch, merge_keys, merge_value, value_desc, value_type, Keys, MapInfo, MapTable};
use super::types::*;
use super::errors::{ArgError, ArgsOf, ArrayDesc, Before, CallError, CheckError, ExprError, FormatError, IntWanted, KernelError, MapError, StdlibError, StmtError, Unsupported};
use super::{is_positional, Instance, KernelTypesCache, Options};
use crate::builtins::{self, Builtin, Func};
use crate::diag::{did_you_mean, Span};
use crate::kernel::tracefs::FieldKind;
use crate::kernel::{btf, usdt};
use crate::parser::ast::*;
use crate::plan::{self, ArgField, Attach, FmtSegment, FmtSpec, PrintfDef, Scalar, TupleDef, ValueKind};
use memory::array_type_text;
use std::collections::HashMap;

/// The checker: what holds across the probes of a program (map and type tables), and what it
/// gathers for the probe it is checking.
pub(super) struct Checker<'p> {
    program: &'p Program,
    opts: &'p Options,
    /// Every user map, learnt from the assignments met so far.
    pub(super) maps: MapTable,
    /// While the probes are first checked, in order, a later probe may still assign a map that
    /// is read before any assignment: such a read is taken as an integer (as `@n = @n + 1`
    /// needs) and the probe is checked again once every probe has been (`maps::settle`). After
    /// that, a map that has no assignment is never assigned.
    pub(super) learning: bool,
    /// Kernel BTF, loaded the first time a kernel type is needed.
    kernel_types: KernelTypesCache,
    /// Every tuple type seen (map types refer to them).
    pub(super) tuples: TupleTypes,
    /// Formats of `strftime()` values, each once: a format's index is part of its type.
    pub(super) strftime_formats: Vec<String>,
    /// Kernel structs copied by value (`print(*p)`, a map value), each once by BTF id: a
    /// struct's index is its `Scalar::Struct` id.
    pub(super) structs: Vec<(u32, plan::StructDef)>,
    /// Kernel enums whose values are printed by name (`printf("%s")`, a map key or value,
    /// `print()`), each once by BTF id: an enum's index is its `Scalar::Enum` id.
    pub(super) enum_types: Vec<(u32, plan::EnumDef)>,
    /// The kernel symbols the programs name (`__ksym` externs), by name.
    pub(super) ksyms: std::collections::BTreeMap<String, super::ksyms::Ksym>,
    /// With `--co-re`: each tracepoint's BTF record struct, by `category:event`.
    tp_structs: HashMap<String, Option<u32>>,
    /// Each uprobe binary's DWARF (`None`: it has none), read the first time `args` needs it.
    debug_info: HashMap<String, Option<std::rc::Rc<crate::kernel::dwarf::Debug>>>,
    /// Each uprobe binary's DWARF types already added to the kernel's as BTF, with their ids.
    user_types: HashMap<String, crate::kernel::dwarf_types::Known>,
    /// What the probe being checked gathers (`ProbeCheck`).
    errors: Vec<CheckError>,
    needs: Vec<(ExprId, Need)>,
    lookups: Vec<(ExprId, Lookup)>,
    seen: Vec<(String, Option<(usize, MapInfo)>)>,
}

/// One probe's checked program: its side tables, and what the passes after the checker need.
pub(super) struct ProbeCheck {
    pub(super) info: ProgInfo,
    pub(super) errors: Vec<CheckError>,
    /// What it needs in the plan, in the order met (`resources::write` gives each its index).
    pub(super) needs: Vec<(ExprId, Need)>,
    /// Values the running system decides (`lookups::resolve`).
    pub(super) lookups: Vec<(ExprId, Lookup)>,
    /// Each map it read, with what the map table said then (`None`: nothing yet).
    pub(super) seen: Vec<(String, Option<(usize, MapInfo)>)>,
}

/// An entry a probe needs in the plan. The checker leaves the expression's id in `Res` at 0;
/// the plan pass writes the entry and puts its index there.
#[derive(Debug)]
pub(super) enum Need {
    /// `printf()` or `system()` (`Res::Printf`, `Res::System`): its format and arguments.
    Printf(PrintfDef),
    /// `print(value)` (`Res::PrintValue`): how the value is laid out.
    PrintValue(Scalar),
    /// `time(format)` (`Res::Time`).
    Time(String),
    /// `cat(path)` (`Res::Event`).
    Cat(String),
    /// `join(array, separator)` (`Res::Join`).
    Join(String),
    /// `skboutput()` (`Res::SkbOutput`): its file and offset.
    SkbOutput(crate::plan::SkbOutputDef),
    /// A stack of this kind and depth is recorded.
    Stack(crate::plan::StackSpec),
    /// `elapsed` is read.
    Elapsed,
}

/// A value of an expression that the running system decides (the checker leaves
/// `Res::Const(0)`): looked up once, after the checks.
#[derive(Debug)]
pub(super) enum Lookup {
    /// `kaddr(symbol)`: the kernel symbol's address, from /proc/kallsyms.
    Kaddr { symbol: String, span: Span },
    /// `uaddr(symbol)`: the symbol's address in the uprobe's binary.
    Uaddr { path: String, symbol: String, span: Span },
    /// `cgroupid(path)`: the cgroup's id.
    Cgroupid { path: String, span: Span },
    /// `ncpus`: the number of possible CPUs.
    Ncpus,
}

/// State while checking one program.
struct Scope<'i> {
    inst: &'i Instance,
    exprs: HashMap<ExprId, ExprInfo>,
    vars: HashMap<String, (Type, Span)>,
    /// How many loops enclose the statement being checked.
    loops: u32,
    /// How many of them are `for` loops (a range's or a map's), where `exit()` is refused.
    for_loops: u32,
    /// How many enclosing branches are known, when compiling, not to run (`if` over a
    /// constant): `fail()` and `static_assert()` there are not errors.
    dead: u32,
    /// The width in bits of integer variables, from their declaration or first assignment
    /// (for `bswap` and array casts).
    var_bits: HashMap<String, u32>,
    /// The declared integer type of variables declared with one (`let $x: uint8`).
    declared: HashMap<String, (u32, bool)>,
    /// The type each variable declared with a type was declared with, as written.
    declared_as: HashMap<String, String>,
    /// Variables declared without a type or a value (`let $a;`), not yet assigned.
    untyped: std::collections::HashSet<String>,
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
    /// With `--co-re`: the kernel type accesses to relocate.
    core: HashMap<ExprId, CoreRef>,
    /// Kernel arrays of integers used as values, read whole (`ProgInfo::array_reads`).
    array_reads: HashMap<ExprId, plan::IntArray>,
    /// Bpftrace 0.26's block scoping (not with `--compat=0.17`, where a variable lives for
    /// the whole probe): the variables declared in each block being checked, the probe's
    /// outermost. A variable is visible in the block that declared it and the blocks inside.
    blocks: Option<Vec<std::collections::HashSet<String>>>,
    /// Where the `for` loops over ranges name their variables (they end with their loop).
    range_vars: Vec<Span>,
    /// Bpftrace 0.26's integer typing (not with `--compat=0.17`): a literal is as wide as
    /// the smallest signed type that holds it (`literal_bits`), and subtracting gives a
    /// signed integer.
    typing_026: bool,
    /// With 0.26's typing: the variables assigned only non-negative literals so far, whose
    /// sign follows what they meet ("Positive integer literals are flexible").
    flexible: std::collections::HashSet<String>,
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

    /// Whether variable `name` may be used here: declared in this block or one around it
    /// (always, with 0.17's probe-wide variables).
    fn visible(&self, name: &str) -> bool {
        self.blocks.as_ref().is_none_or(|b| b.iter().any(|declared| declared.contains(name)))
    }

    /// A block begins (with block scoping): what it declares is visible until `leave`.
    fn enter(&mut self) {
        if let Some(b) = self.blocks.as_mut() {
            b.push(Default::default());
        }
    }

    /// The innermost block ends: its variables are no longer visible.
    fn leave(&mut self) {
        if let Some(b) = self.blocks.as_mut() {
            b.pop();
        }
    }

    /// Declares variable `name` in the innermost block.
    fn declare(&mut self, name: &str) {
        if let Some(innermost) = self.blocks.as_mut().and_then(|b| b.last_mut()) {
            innermost.insert(name.to_string());
        }
    }

    /// Notes a use of variable `name` where the checker is.
    fn use_var(&mut self, name: &str) {
        let at = self.loop_ids.clone();
        self.var_uses.entry(name.to_string()).or_default().push(at);
    }
}

impl<'p> Checker<'p> {
    pub(super) fn new(program: &'p Program, opts: &'p Options, kernel_types: KernelTypesCache) -> Checker<'p> {
        Checker {
            program,
            opts,
            maps: MapTable::default(),
            learning: true,
            kernel_types,
            tuples: TupleTypes::default(),
            strftime_formats: Vec::new(),
            structs: Vec::new(),
            enum_types: Vec::new(),
            ksyms: Default::default(),
            tp_structs: HashMap::new(),
            debug_info: HashMap::new(),
            user_types: HashMap::new(),
            errors: Vec::new(),
            needs: Vec::new(),
            lookups: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// The kernel's types, or `None` after an error at `span` (where `needed_by` needs them)
    /// saying why they cannot be had.
    fn kernel_types_at(&mut self, span: Span, needed_by: Option<&'static str>) -> Option<std::rc::Rc<btf::KernelTypes>> {
        match self.kernel_types() {
            Ok(k) => Some(k),
            Err(reason) => {
                self.error(KernelError::NoKernelTypes { reason, needed_by, span });
                None
            }
        }
    }

    /// How a value of kernel enum `btf_id` is laid out where it prints by name; `None` when
    /// the type is no enum.
    fn enum_scalar(&mut self, btf_id: u32) -> Option<Scalar> {
        let index = match self.enum_types.iter().position(|(known, _)| *known == btf_id) {
            Some(i) => i,
            None => {
                let def = self.kernel_types().ok()?.enum_def(btf_id)?;
                self.enum_types.push((btf_id, def));
                self.enum_types.len() - 1
            }
        };
        Some(Scalar::Enum { id: index as u32 })
    }

    /// The layout `kind` of expression `e` stored as a map key or value or printed by
    /// `print()`: an integer of a kernel enum's type prints by its enumerator's name.
    fn with_enum(&mut self, kind: Scalar, e: &Expr, scope: &Scope) -> Scalar {
        match (kind, scope.enums.get(&e.id)) {
            (Scalar::Int { .. }, Some(&id)) => self.enum_scalar(id).unwrap_or(kind),
            _ => kind,
        }
    }

    pub(super) fn kernel_types(&mut self) -> Result<std::rc::Rc<btf::KernelTypes>, String> {
        self.kernel_types.get_or_insert_with(|| btf::KernelTypes::load().map(std::rc::Rc::new)).clone()
    }

    fn error(&mut self, e: impl Into<CheckError>) {
        self.errors.push(e.into());
    }

    /// Map `name`'s index and entry in the table.
    pub(super) fn map_entry(&self, name: &str) -> Option<(usize, MapInfo)> {
        self.maps.get(name).map(|(i, m)| (i, m.clone()))
    }

    /// Notes that the probe needs `need` in the plan, for expression `e`.
    fn need(&mut self, e: &Expr, need: Need) {
        self.needs.push((e.id, need));
    }

    /// Map `name` as the table has it now (noted, so that the probe is checked again if a later
    /// probe changes it).
    fn map_info(&mut self, name: &str) -> Option<(usize, MapInfo)> {
        let info = self.map_entry(name);
        if info.is_some() || self.learning {
            self.seen.push((name.to_string(), info.clone()));
        }
        info
    }

    /// Checks the program of one attach point.
    pub(super) fn check_instance(&mut self, inst: &Instance) -> ProbeCheck {
        let probe = &self.program.probes[inst.probe];
        let mut scope = Scope {
            inst,
            exprs: HashMap::new(),
            vars: HashMap::new(),
            loops: 0,
            for_loops: 0,
            dead: 0,
            var_bits: HashMap::new(),
            declared: HashMap::new(),
            declared_as: HashMap::new(),
            untyped: Default::default(),
            enums: HashMap::new(),
            var_enums: HashMap::new(),
            core: HashMap::new(),
            array_reads: HashMap::new(),
            loop_vars: Vec::new(),
            loop_ids: Vec::new(),
            map_loops: HashMap::new(),
            var_uses: HashMap::new(),
            blocks: (!self.opts.compat.old()).then(|| vec![Default::default()]),
            range_vars: Vec::new(),
            typing_026: !self.opts.compat.old(),
            flexible: Default::default(),
        };
        if let Some(pred) = &probe.predicate {
            let t = self.expr(pred, &mut scope);
            if !t.is_int() && t != Type::Error {
                self.error(ExprError::NotInteger { wanted: IntWanted::Predicate, found: t.describe(), span: pred.span });
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
        let info = ProgInfo {
            probe: inst.probe,
            format: inst.format.clone(),
            exprs: scope.exprs,
            vars: scope.vars.into_iter().map(|(k, (t, _))| (k, t)).collect(),
            widths: scope.declared.into_iter().filter(|(_, (bits, _))| *bits < 64).collect(),
            map_loops: scope.map_loops,
            params: HashMap::new(),
            core: scope.core,
            array_reads: scope.array_reads,
        };
        ProbeCheck {
            info,
            errors: std::mem::take(&mut self.errors),
            needs: std::mem::take(&mut self.needs),
            lookups: std::mem::take(&mut self.lookups),
            seen: std::mem::take(&mut self.seen),
        }
    }

    fn set(&self, scope: &mut Scope, e: &Expr, ty: Type, res: Res) -> Type {
        scope.exprs.insert(e.id, ExprInfo { ty, res, span: e.span });
        ty
    }

    /// Checks that `e` is an integer, as `wanted` wants; `false` (after an error) if it is not.
    fn int_arg(&mut self, e: &Expr, wanted: IntWanted, scope: &mut Scope) -> bool {
        match self.expr(e, scope) {
            Type::Error => false,
            t if t.is_int() => true,
            t => {
                self.error(ExprError::NotInteger { wanted, found: t.describe(), span: e.span });
                false
            }
        }
    }

    /// The text of argument `name` of `func()`, which must be a string literal, or `default`
    /// when the argument is absent.
    fn literal_arg(&mut self, arg: Option<&Expr>, default: Option<&str>, func: &'static str, name: &'static str) -> Option<String> {
        match (arg.map(|a| &a.kind), default) {
            (Some(ExprKind::Str(s)), _) => Some(s.clone()),
            (None, Some(d)) => Some(d.to_string()),
            _ => {
                self.error(ExprError::NotStringLiteral { func, arg: name, span: arg.map(|a| a.span) });
                None
            }
        }
    }

    fn arity(&mut self, def: &builtins::FuncDef, n: usize, span: Span) -> bool {
        if n < def.min_args || n > def.max_args {
            let (min, max) = (def.min_args, def.max_args);
            self.error(ExprError::Arity { func: def.name, signature: def.signature, min, max, given: n, span });
            return false;
        }
        true
    }

    /// Whether unsafe function `func()` (`--unsafe` only) may be called here; an error if not.
    fn unsafe_allowed(&mut self, e: &Expr, func: &'static str) -> bool {
        if !self.opts.allow_unsafe {
            self.error(ExprError::Unsafe { func, span: e.span });
        }
        self.opts.allow_unsafe
    }

    /// Reports `name`, which reads the probe's context, when it is inside a `for` loop over a
    /// map: the loop's body is a callback without that context.
    fn refused_in_map_loop(&mut self, name: &str, span: Span, scope: &Scope) -> bool {
        if scope.loop_vars.is_empty() {
            return false;
        }
        self.error(StmtError::InMapLoop { name: name.to_string(), span });
        true
    }
}


fn int_bits(e: &Expr, scope: &Scope) -> u32 {
    let info = scope.exprs.get(&e.id);
    match (&e.kind, info.map(|i| &i.res)) {
        (_, Some(Res::Memory(Access { read: Read::Int { size, .. }, .. }))) => 8 * size,
        (_, Some(Res::Field(f))) => 8 * f.size as u32,
        (_, Some(Res::IntCast { bits, .. })) => *bits,
        (ExprKind::Var(name), _) => scope.var_bits.get(name).copied().unwrap_or(64),
        (ExprKind::Block { value, .. }, _) => int_bits(value, scope),
        // A string's byte is an int8; an integer array's element, its element's width.
        (ExprKind::Index { base, .. }, _) => match scope.exprs.get(&base.id).map(|i| i.ty) {
            Some(Type::Str { .. }) => 8,
            Some(Type::IntArray(a)) => 8 * u32::from(a.elem_bytes),
            _ => 64,
        },
        _ if scope.typing_026 => literal_value(e).map_or(64, literal_bits),
        _ => 64,
    }
}

/// The width of an integer literal in bpftrace 0.26 ("Data Types": "the smallest possible
/// signed type, e.g. `0`, `1`, and `-1` are all `int8`"); one past `int64` is a `uint64`.
fn literal_bits(n: i128) -> u32 {
    [8, 16, 32].into_iter().find(|&bits| (-(1i128 << (bits - 1))..1i128 << (bits - 1)).contains(&n)).unwrap_or(64)
}

fn literal_int(e: &Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Int(n) => i64::try_from(*n).ok(),
        ExprKind::Unary { op: UnOp::Neg, operand } => literal_int(operand).map(|n| -n),
        _ => None,
    }
}

/// Whether integer `e`'s sign is flexible in 0.26: a non-negative literal, or a variable
/// assigned only such literals; it takes the sign of what it is combined with.
fn sign_flexible(e: &Expr, scope: &Scope) -> bool {
    match &e.kind {
        ExprKind::Var(name) => scope.flexible.contains(name),
        _ => literal_value(e).is_some_and(|n| (0..=i128::from(i64::MAX)).contains(&n)),
    }
}

/// An integer literal's value, `N` or `-N` (bpftrace's negative literal).
fn literal_value(e: &Expr) -> Option<i128> {
    match &e.kind {
        ExprKind::Int(n) => Some(i128::from(*n)),
        ExprKind::Unary { op: UnOp::Neg, operand } => match operand.kind {
            ExprKind::Int(n) => Some(-i128::from(n)),
            _ => None,
        },
        _ => None,
    }
}
