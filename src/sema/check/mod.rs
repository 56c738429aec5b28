//! The type checker: one `Checker` walks each program (one attach point of a probe) and gives
//! every expression its type and what it refers to (`ProgInfo`), learning the maps' types from
//! their assignments. Its families live in the submodules: statements (`stmt`), expressions
//! (`expr`), probe arguments (`args`), kernel memory and casts (`memory`), maps (`maps`),
//! function calls (`call`), printf (`printf`) and tuples (`tuples`).

mod args;
mod call;
mod expr;
mod maps;
mod memory;
mod printf;
mod stmt;
mod tuples;

pub use memory::named_int_type;
pub use printf::parse_format;
pub(super) use tuples::TupleTypes;

// What every family of the checker uses (each submodule starts with `use super::*`).
use super::maps::{key_field, key_mismatch, key_type, merge_keys, merge_value, value_desc, value_type, Keys, MapInfo, MapTable};
use super::types::*;
use super::{is_positional, past_last_arg, Instance, KernelTypesCache};
use crate::builtins::{self, Builtin, Func};
use crate::diag::{did_you_mean, Diagnostic, Span};
use crate::kernel::tracefs::FieldKind;
use crate::kernel::{btf, elf, kallsyms, usdt};
use crate::parser::ast::*;
use crate::plan::{self, ArgField, ArgKind, Attach, FmtSegment, FmtSpec, PrintfDef, TupleDef, ValueKind};
use memory::array_type_text;
use std::collections::HashMap;

pub(super) struct Checker<'p> {
    pub(super) program: &'p Program,
    pub(super) maps: MapTable,
    /// Pass 2 reports errors and builds the plan; pass 1 only learns map types.
    pub(super) final_pass: bool,
    pub(super) diags: Vec<Diagnostic>,
    pub(super) printfs: Vec<PrintfDef>,
    /// Kernel enums printed by name, with their BTF ids; the plan's `enums`.
    pub(super) enums: Vec<(u32, plan::EnumDef)>,
    pub(super) time_formats: Vec<String>,
    /// Formats of `strftime()` values. Both passes fill it in the same order, so a format's
    /// index (part of its type, and so of map types) is the same in both.
    pub(super) strftime_formats: Vec<String>,
    pub(super) join_separators: Vec<String>,
    pub(super) cat_paths: Vec<String>,
    pub(super) uses_elapsed: bool,
    /// Depths of the stacks recorded, each once.
    pub(super) stack_depths: Vec<u32>,
    /// `--dry-run --no-attach`: what only matters when running is a warning.
    pub(super) no_attach: bool,
    /// Positional parameters.
    pub(super) params: Vec<String>,
    pub(super) has_command: bool,
    /// `--unsafe`.
    pub(super) allow_unsafe: bool,
    /// Kernel BTF, loaded the first time a kernel type is needed.
    pub(super) kernel_types: KernelTypesCache,
    /// Every tuple type seen, learnt in pass 1 and kept for pass 2 (map types refer to it).
    pub(super) tuples: TupleTypes,
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
    pub(super) fn new(program: &'p Program, maps: MapTable, final_pass: bool) -> Checker<'p> {
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

    fn error(&mut self, d: Diagnostic) {
        if self.final_pass {
            self.diags.push(d);
        }
    }

    pub(super) fn check_instance(&mut self, inst: &Instance) -> ProgInfo {
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

    fn set(&self, scope: &mut Scope, e: &Expr, ty: Type, res: Res) -> Type {
        scope.exprs.insert(e.id, ExprInfo { ty, res, span: e.span });
        ty
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

fn literal_int(e: &Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Int(n) => i64::try_from(*n).ok(),
        ExprKind::Unary { op: UnOp::Neg, operand } => literal_int(operand).map(|n| -n),
        _ => None,
    }
}
