//! Code generation: the checked program to one BPF ELF object, in memory, through LLVM's BPF
//! back end (inkwell, in process). One program per attach point; user maps, the event ring
//! buffer and rtrace's own small maps as BTF-defined maps in `.maps`; a GPL license. The
//! layout of every map and event comes from the plan; codegen neither attaches nor prints.

mod aggregate;
mod btf;
mod builtins;
mod call;
mod casts;
mod core;
mod diagnostics;
mod dwunwind;
mod events;
mod expr;
mod for_map;
mod helpers;
mod hist_query;
mod iter;
mod ksyms;
mod layout;
mod maps;
mod memory;
mod percpu;
mod stmt;
mod strings;
mod strscan;

use crate::parser::ast::Program;
use crate::plan::{self, Attach};
use crate::sema::Checked;
use inkwell::attributes::AttributeLoc;
use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple};
use inkwell::types::IntType;
use inkwell::values::{FunctionValue, GlobalValue, PointerValue};
use inkwell::OptimizationLevel;
use libbpf_rs::libbpf_sys as sys;
use std::sync::Once;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Skip LLVM's optimisation pipeline (for debugging the generated code).
    pub no_opt: bool,
    /// Print how long LLVM's stages took.
    pub timings: bool,
    /// Kernel type accesses as CO-RE relocations (`core.rs`); needs the optimiser, which
    /// lowers LLVM's relocation intrinsics.
    pub co_re: bool,
}

/// An error inside the compiler (a bug in rtrace), or a limit of BPF the script ran into.
#[derive(Debug)]
pub struct CodegenError(pub String);

impl std::fmt::Display for CodegenError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        if let Some(limit) = self.0.strip_prefix(LIMIT_PREFIX) {
            return write!(f, "{limit}");
        }
        write!(f, "internal compiler error: {}", self.0)
    }
}

/// Marks a `CodegenError` that is the script's limit, not rtrace's bug.
const LIMIT_PREFIX: &str = "limit: ";

impl From<inkwell::builder::BuilderError> for CodegenError {
    fn from(e: inkwell::builder::BuilderError) -> Self {
        CodegenError(format!("LLVM builder: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, CodegenError>;

static INIT: Once = Once::new();

fn target_machine() -> Result<TargetMachine> {
    INIT.call_once(|| Target::initialize_bpf(&InitializationConfig::default()));
    let triple = TargetTriple::create("bpfel");
    let target = Target::from_triple(&triple).map_err(|e| CodegenError(format!("BPF target: {e}")))?;
    target
        .create_target_machine(&triple, "v3", "", OptimizationLevel::Default, RelocMode::Default, CodeModel::Default)
        .ok_or_else(|| CodegenError("cannot create the BPF target machine".into()))
}

/// The textual LLVM IR of a compilation, before and after LLVM's optimisation passes
/// (`-d codegen`, `-d ir`, `--emit-llvm`).
#[derive(Debug, Default)]
pub struct Ir {
    pub original: String,
    pub optimized: String,
}

/// Compiles the program to a BPF ELF object. `dump_ir` receives the textual IR if given.
pub fn compile(program: &Program, checked: &Checked, opts: &Options, mut dump_ir: Option<&mut Ir>) -> Result<Vec<u8>> {
    let mut t = std::time::Instant::now();
    let tm = target_machine()?;
    let ctx = Context::create();
    let llvm_errors = diagnostics::capture(&ctx);
    let module = ctx.create_module("rtrace");
    module.set_triple(&tm.get_triple());
    module.set_data_layout(&tm.get_target_data().get_data_layout());
    let mut gen = Gen::new(&ctx, &module, checked)?;
    if opts.co_re {
        gen.core = Some(core::Core::new(gen.btf.core_types(&checked.core)));
    }
    for (i, def) in checked.plan.probes.iter().enumerate() {
        gen.program(program, i, def)?;
    }
    gen.finish();
    let mut lap = |stage: &str| {
        if opts.timings {
            eprintln!("timing: {stage:<8} {:>8.3} ms", t.elapsed().as_secs_f64() * 1000.0);
        }
        t = std::time::Instant::now();
    };
    lap("llvm-ir");
    if let Some(ir) = dump_ir.as_deref_mut() {
        ir.original = module.print_to_string().to_string();
    }
    module.verify().map_err(|e| CodegenError(format!("invalid IR: {}", e.to_string())))?;
    // Without the passes LLVM's BPF back end cannot select the CO-RE intrinsics and ends
    // the process: the optimiser always runs when they may be there.
    if !opts.no_opt || opts.co_re {
        module
            .run_passes("default<O2>", &tm, PassBuilderOptions::create())
            .map_err(|e| CodegenError(format!("optimiser: {}", e.to_string())))?;
    }
    if let Some(ir) = dump_ir {
        ir.optimized = module.print_to_string().to_string();
    }
    lap("llvm-opt");
    let buf = tm
        .write_to_memory_buffer(&module, FileType::Object)
        .map_err(|e| CodegenError(format!("emitting the object: {}", e.to_string())))?;
    lap("llvm-emit");
    if let Some(e) = llvm_errors.first_error() {
        if let Some(func) = diagnostics::stack_limit_function(&e) {
            let probe = checked.plan.probes.iter().find(|p| p.prog_name == func).map_or(func, |p| p.display.as_str());
            return Err(CodegenError(format!(
                "{LIMIT_PREFIX}probe `{probe}` needs more than the 512 bytes of stack a BPF program may use (strings and map keys live on the stack); use fewer or shorter strings in it"
            )));
        }
        return Err(CodegenError(format!("LLVM: {e}")));
    }
    Ok(buf.as_slice().to_vec())
}

/// Code generation state for the whole object.
pub(crate) struct Gen<'ctx, 'm> {
    pub ctx: &'ctx Context,
    pub module: &'m Module<'ctx>,
    pub builder: Builder<'ctx>,
    pub checked: &'m Checked,
    pub btf: btf::Btf<'ctx, 'm>,
    /// User maps, by their index in the plan.
    pub maps: maps::MapTable<'ctx, 'm>,
    pub events: GlobalValue<'ctx>,
    /// The count of records the ring buffer had no room for (`plan::LOST_GLOBAL`).
    pub lost: GlobalValue<'ctx>,
    /// Per user map, the new entries it had no room for (`plan::MAP_FULL_MAP`), when there
    /// are user maps.
    pub map_full: Option<GlobalValue<'ctx>>,
    pub globals: GlobalValue<'ctx>,
    /// A built tool's string parameters (`plan::STR_GLOBALS_MAP`).
    pub str_globals: Option<GlobalValue<'ctx>>,
    /// The stack-trace maps, one per depth of stack recorded.
    pub stacks: std::collections::HashMap<u32, GlobalValue<'ctx>>,
    /// Per-CPU space for building printf records, when there are printfs.
    pub scratch: Option<GlobalValue<'ctx>>,
    /// Per-CPU space for string and address variables, when a program has some.
    pub vars: Option<GlobalValue<'ctx>>,
    /// The `bpf_for_each_map_elem` callback `len()` counts with, made on first use.
    pub count_callback: Option<FunctionValue<'ctx>>,
    /// The number of possible CPUs, a `.rodata` global the runtime sets before loading
    /// (`plan::NCPUS_GLOBAL`), made on first use.
    pub ncpus: Option<GlobalValue<'ctx>>,
    /// The per-CPU buffer `len(kstack)` counts frames in (`plan::STACK_BUF_MAP`), made on
    /// first use.
    pub stack_buf: Option<GlobalValue<'ctx>>,
    /// `dw_ustack`'s maps and walk (`dwunwind.rs`), made on first use.
    dwunwind: Option<dwunwind::DwMaps<'ctx>>,
    /// `skboutput()`'s perf event array (`plan::SKB_OUTPUT_MAP`), made on first use.
    pub skb_output: Option<GlobalValue<'ctx>>,
    /// The parameters map, when programs read literals from it.
    pub params: Option<GlobalValue<'ctx>>,
    /// With `--co-re`: the local types of relocated accesses (`core.rs`).
    pub core: Option<core::Core<'ctx>>,
    /// The `__ksym` externs the programs name (`ksyms.rs`).
    pub ksyms: ksyms::Ksyms<'ctx>,
    /// The span of the expression being compiled: where `-k`'s read warnings point.
    pub site: Option<crate::diag::Span>,
}

/// A temporary stack buffer (see `Gen::buffer`): where, how long, and how many statements
/// have used it.
#[derive(Clone, Copy)]
pub(crate) struct Temp<'ctx> {
    pub p: PointerValue<'ctx>,
    pub len: u32,
    pub uses: u32,
}

/// State while generating one program.
pub(crate) struct Func<'ctx> {
    pub function: FunctionValue<'ctx>,
    pub ctx_ptr: PointerValue<'ctx>,
    /// Builds allocas at the end of the entry block, which jumps to the body when done.
    pub allocas: Builder<'ctx>,
    pub entry: BasicBlock<'ctx>,
    pub vars: std::collections::HashMap<String, PointerValue<'ctx>>,
    /// Index into `checked.progs`.
    pub prog: usize,
    /// Enclosing loops, innermost last: where `continue` and `break` jump.
    pub loops: Vec<(BasicBlock<'ctx>, BasicBlock<'ctx>)>,
    /// Temporary buffers made during the current statement (see `Gen::buffer`).
    pub temps: Vec<Temp<'ctx>>,
    /// Temporary buffers whose lifetime has ended, by length, for reuse (see `Gen::buffer`).
    pub free: std::collections::HashMap<u32, Vec<Temp<'ctx>>>,
    /// Slots for values used at once (see `Gen::short_slot`), by name.
    pub short_slots: std::collections::HashMap<&'static str, PointerValue<'ctx>>,
    /// Where string and address variables live: their offsets in this CPU's `rt_vars` value.
    pub var_offsets: std::collections::HashMap<String, u64>,
    /// Whether this is the callback of a `for` loop over a map (it returns 0 to go on, 1 to
    /// stop, as an i64) rather than a program.
    pub callback: bool,
    /// This attach point's row of the parameters map, in a program that reads literals there.
    pub params: Option<PointerValue<'ctx>>,
    /// With `--co-re`: the relocation chain behind each embedded record or array's address.
    pub core_chains: std::collections::HashMap<inkwell::values::IntValue<'ctx>, core::Chain<'ctx>>,
}

/// Offsets of a program's string, address, tuple and wide integer array variables in the
/// per-CPU variables map, and the bytes they take.
fn buffer_vars(prog: &crate::sema::ProgInfo, tuples: &[plan::TupleDef]) -> (std::collections::HashMap<String, u64>, u64) {
    let mut names: Vec<(&String, u32)> = prog
        .vars
        .iter()
        .filter_map(|(n, t)| match t {
            crate::sema::Type::Str { len } => Some((n, *len)),
            crate::sema::Type::Inet => Some((n, plan::INET_SIZE as u32)),
            crate::sema::Type::IntArray(a) if a.in_memory() => Some((n, a.bytes())),
            crate::sema::Type::Stack(spec) if spec.user => Some((n, spec.size() as u32)),
            crate::sema::Type::Tuple(id) => Some((n, tuples[*id as usize].size as u32)),
            _ => None,
        })
        .collect();
    names.sort();
    let mut offsets = std::collections::HashMap::new();
    let mut size = 0u64;
    for (name, len) in names {
        offsets.insert(name.clone(), size);
        size += (len as u64).next_multiple_of(8);
    }
    (offsets, size)
}

impl<'ctx, 'm> Gen<'ctx, 'm> {
    fn new(ctx: &'ctx Context, module: &'m Module<'ctx>, checked: &'m Checked) -> Result<Gen<'ctx, 'm>> {
        let mut btf = btf::Btf::new(ctx, module);
        let maps = maps::MapTable::new(&mut btf, &checked.plan.maps);
        let events = btf.ringbuf(plan::EVENTS_MAP, checked.plan.ringbuf_bytes);
        let lost = btf.section_u64(plan::LOST_GLOBAL, plan::LOST_SECTION);
        let user_maps = checked.plan.maps.len() as u32;
        let map_full = (user_maps > 0).then(|| btf.map(plan::MAP_FULL_MAP, sys::BPF_MAP_TYPE_PERCPU_ARRAY, user_maps, 4, 8));
        let globals = btf.map(plan::GLOBALS_MAP, sys::BPF_MAP_TYPE_ARRAY, plan::GLOBALS, 4, 8);
        let str_len = (checked.plan.str_len as u64).next_multiple_of(8);
        let str_globals =
            checked.plan.runtime_params.then(|| btf.map(plan::STR_GLOBALS_MAP, sys::BPF_MAP_TYPE_ARRAY, plan::GLOBALS, 4, str_len));
        let joins = (!checked.plan.join_separators.is_empty()).then_some(plan::JOIN_RECORD);
        let record = checked.plan.printfs.iter().map(|p| p.size).chain(joins).max();
        let scratch = record.map(|size| btf.map(plan::SCRATCH_MAP, sys::BPF_MAP_TYPE_PERCPU_ARRAY, 1, 4, size.next_multiple_of(8) as u64));
        let vars_size = checked.progs.iter().map(|p| buffer_vars(p, &checked.plan.tuples).1).max().unwrap_or(0);
        let vars = (vars_size > 0).then(|| btf.map(plan::VARS_MAP, sys::BPF_MAP_TYPE_PERCPU_ARRAY, 1, 4, vars_size));
        let stacks = checked
            .plan
            .stack_depths
            .iter()
            .map(|&depth| (depth, btf.map(&plan::stack_map(depth), sys::BPF_MAP_TYPE_STACK_TRACE, 4096, 4, 8 * depth as u64)))
            .collect();
        let slots = checked.plan.param_slots() as u64;
        let params = (slots > 0)
            .then(|| btf.map(plan::PARAMS_MAP, sys::BPF_MAP_TYPE_ARRAY, checked.plan.probe_names.len() as u32, 4, 8 * slots));
        let license = module.add_global(ctx.i8_type().array_type(4), None, "LICENSE");
        license.set_initializer(&ctx.const_string(b"GPL", true));
        license.set_section(Some("license"));
        let ksyms = ksyms::Ksyms::declare(module, &btf, &checked.ksyms);
        let builder = ctx.create_builder();
        Ok(Gen { ctx, module, builder, checked, btf, maps, events, lost, map_full, globals, str_globals, stacks, scratch, vars, count_callback: None, ncpus: None, stack_buf: None, dwunwind: None, skb_output: None, params, core: None, ksyms, site: None })
    }

    pub fn i64(&self) -> IntType<'ctx> {
        self.ctx.i64_type()
    }

    fn program(&mut self, program: &Program, index: usize, def: &plan::ProbeDef) -> Result<()> {
        let ret = self.ctx.i32_type();
        let ptr = self.ctx.ptr_type(Default::default());
        let fn_type = ret.fn_type(&[ptr.into()], false);
        let function = self.module.add_function(&def.prog_name, fn_type, Some(Linkage::External));
        let section = match (&def.attach, def.multi) {
            (Attach::Uprobe { ret: true, .. }, true) => "uretprobe.multi".to_string(),
            (Attach::Kprobe { ret: true, .. }, true) => "kretprobe.multi".to_string(),
            (Attach::Kprobe { ret: false, .. }, true) => "kprobe.multi".to_string(),
            (_, true) => "uprobe.multi".to_string(),
            (attach, false) => section(attach),
        };
        function.set_section(Some(&section));
        let nounwind = self.ctx.create_enum_attribute(inkwell::attributes::Attribute::get_named_enum_kind_id("nounwind"), 0);
        function.add_attribute(AttributeLoc::Function, nounwind);
        self.btf.function(function, &def.prog_name);
        let entry = self.ctx.append_basic_block(function, "entry");
        let start = self.ctx.append_basic_block(function, "start");
        let allocas = self.ctx.create_builder();
        allocas.position_at_end(entry);
        self.builder.position_at_end(start);
        let ctx_ptr = function.get_first_param().map(|p| p.into_pointer_value()).ok_or_else(|| CodegenError("no ctx".into()))?;
        let (var_offsets, vars_size) = buffer_vars(&self.checked.progs[index], &self.checked.plan.tuples);
        let mut f = Func {
            function,
            ctx_ptr,
            allocas,
            entry,
            vars: Default::default(),
            prog: index,
            loops: Vec::new(),
            temps: Vec::new(),
            free: Default::default(),
            short_slots: Default::default(),
            var_offsets,
            callback: false,
            params: None,
            core_chains: Default::default(),
        };
        // This CPU's variables start zeroed, as every variable does in each run.
        self.bind_vars(&mut f, Some(vars_size))?;
        if let (false, Some(map)) = (self.checked.progs[index].params.is_empty(), self.params) {
            // A program shared by probes that differ in some literals: they are in the
            // parameters map's row for this attach point.
            let cookie = self.call_helper(sys::BPF_FUNC_get_attach_cookie, &[ctx_ptr.into()])?;
            let cookie = self.builder.build_int_truncate(cookie, self.ctx.i32_type(), "cookie")?;
            f.params = Some(self.row_or_return(&mut f, map, cookie)?);
        }
        let probe = &program.probes[self.checked.progs[index].probe];
        // (An iterator runs in the reading process: `-p` picks its tasks when attaching.)
        let own_process = matches!(def.attach, Attach::Iter { .. });
        if !own_process && !matches!(def.attach, Attach::Begin | Attach::End | Attach::Interval { .. } | Attach::Test { .. } | Attach::Bench { .. } | Attach::Signal { .. }) {
            self.pid_filter(&mut f, function)?;
        }
        if let Some(pred) = &probe.predicate {
            let cond = self.expr(&mut f, pred)?.int()?;
            let truth = self.truthy(cond)?;
            self.end_temps(&mut f)?;
            self.return_unless(function, truth)?;
        }
        self.stmts(&mut f, &probe.body)?;
        if self.builder.get_insert_block().and_then(|b| b.get_terminator()).is_none() {
            self.builder.build_return(Some(&ret.const_zero()))?;
        }
        f.allocas.position_at_end(f.entry);
        f.allocas.build_unconditional_branch(start)?;
        Ok(())
    }

    /// Finds this CPU's variables in the variables map and gives each variable its address
    /// there (computed at the start, where it dominates every use); zeroes them first when
    /// `zero` gives their size. Without the map's value, the function returns at once.
    fn bind_vars(&self, f: &mut Func<'ctx>, zero: Option<u64>) -> Result<()> {
        let Some(map) = self.vars.filter(|_| !f.var_offsets.is_empty()) else { return Ok(()) };
        let base = self.row_or_return(f, map, self.ctx.i32_type().const_zero())?;
        if let Some(size) = zero {
            self.zero(base, size as u32)?;
        }
        for (name, offset) in f.var_offsets.clone() {
            let p = self.offset(base, offset)?;
            f.vars.insert(name, p);
        }
        Ok(())
    }

    /// The value at u32 `key` in array map `map`; the function ends (returning 0) where the
    /// lookup finds none.
    fn row_or_return(&self, f: &mut Func<'ctx>, map: GlobalValue<'ctx>, key: inkwell::values::IntValue<'ctx>) -> Result<PointerValue<'ctx>> {
        let slot = self.short_slot(f, self.ctx.i32_type().into(), "key")?;
        self.builder.build_store(slot, key)?;
        let row = self.lookup(map, slot)?;
        let found = self.builder.build_is_not_null(row, "found")?;
        self.return_unless(f.function, found)?;
        Ok(row)
    }

    /// Ends the function (returning 0) unless `cond` holds; code continues where it does.
    /// `-p PID`: the probe does nothing in other processes. A built tool reads PID from the
    /// globals map (0: no `-p`); rtrace compiles it in.
    fn pid_filter(&mut self, f: &mut Func<'ctx>, function: FunctionValue<'ctx>) -> Result<()> {
        let eq = inkwell::IntPredicate::EQ;
        let want = match (self.checked.plan.runtime_params, self.checked.plan.filter_pid) {
            (true, _) => self.global(f, plan::GLOBAL_FILTER_PID)?,
            (false, Some(pid)) => self.i64().const_int(pid as u64, false),
            (false, None) => return Ok(()),
        };
        let tgid = self.call_helper(sys::BPF_FUNC_get_current_pid_tgid, &[])?;
        let current = self.builder.build_right_shift(tgid, self.i64().const_int(32, false), false, "pid")?;
        let mut ours = self.builder.build_int_compare(eq, current, want, "ours")?;
        if self.checked.plan.runtime_params {
            let any = self.builder.build_int_compare(eq, want, self.i64().const_zero(), "any")?;
            ours = self.builder.build_or(ours, any, "ours")?;
        }
        self.return_unless(function, ours)
    }

    fn return_unless(&self, function: FunctionValue<'ctx>, cond: inkwell::values::IntValue<'ctx>) -> Result<()> {
        let go = self.ctx.append_basic_block(function, "go");
        let stop = self.ctx.append_basic_block(function, "stop");
        self.builder.build_conditional_branch(cond, go, stop)?;
        self.builder.position_at_end(stop);
        let ret = function.get_type().get_return_type().map(|t| t.into_int_type()).unwrap_or(self.ctx.i32_type());
        self.builder.build_return(Some(&ret.const_zero()))?;
        self.builder.position_at_end(go);
        Ok(())
    }

    fn finish(&mut self) {
        self.btf.finish();
    }
}

/// The ELF section that tells libbpf the program type.
fn section(attach: &Attach) -> String {
    match attach {
        // BEGIN and END run on demand through BPF_PROG_TEST_RUN as raw tracepoint programs.
        Attach::Begin | Attach::End | Attach::Test { .. } | Attach::Signal { .. } => "raw_tp".into(),
        // Timed test runs that repeat: BPF_PROG_TEST_RUN refuses `repeat` for raw tracepoints.
        Attach::Bench { .. } => "xdp".into(),
        Attach::Tracepoint { category, event, .. } => format!("tracepoint/{category}/{event}"),
        // Attached by name at run time (one program may serve several).
        Attach::RawTracepoint { .. } => "raw_tp".into(),
        Attach::Interval { .. } => "perf_event".into(),
        Attach::Kprobe { func, ret: true, .. } => format!("kretprobe/{func}"),
        Attach::Kprobe { func, offset: 0, .. } => format!("kprobe/{func}"),
        Attach::Kprobe { func, offset, .. } => format!("kprobe/{func}+0x{offset:x}"),
        // Attached by file offset at run time.
        Attach::Uprobe { ret: false, .. } | Attach::Usdt { .. } => "uprobe".into(),
        Attach::Uprobe { ret: true, .. } => "uretprobe".into(),
        Attach::Perf { .. } | Attach::Watchpoint { .. } => "perf_event".into(),
        // libbpf finds the function's BTF id from the section at load time.
        Attach::Fentry { func, ret: false } => format!("fentry/{func}"),
        Attach::Fentry { func, ret: true } => format!("fexit/{func}"),
        // libbpf finds `bpf_iter_NAME`'s BTF id from the section, and attaches it as an
        // iterator (`bpf_program__attach_iter`).
        Attach::Iter { name, .. } => format!("iter/{name}"),
    }
}
