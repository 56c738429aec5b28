//! The plan pass: writes the plan (probes, maps, printf formats, `time()` formats, stack
//! depths, `join()` separators, `cat()` paths, `skboutput()` files, tuples, enums) from the
//! checked program, once, and gives each expression that refers to an entry the entry's index
//! (`Res::Printf(id)`, …).

use super::check::{Need, ProbeCheck, TupleTypes};
use super::types::{ProgInfo, Res};
use super::{Instance, Options};
use crate::plan::{self, ArgField, Scalar, EnumDef, FmtSegment, FmtSpec, MapDef, Plan, PrintfDef, ProbeDef};

/// What the plan is written from: the programs (after sharing) and what checking them found.
pub(super) struct Input<'c> {
    pub instances: &'c [Instance],
    pub probes: Vec<ProbeCheck>,
    pub maps: Vec<MapDef>,
    pub tuples: &'c TupleTypes,
    pub strftime_formats: Vec<String>,
    pub structs: Vec<plan::StructDef>,
    pub enums: Vec<EnumDef>,
    /// Every attach point's name, and the parameters map's rows (`share`).
    pub probe_names: Vec<String>,
    pub params: Vec<(u64, Vec<u64>)>,
}

/// Writes the plan; the programs' side tables, with every plan index in place.
pub(super) fn write(checked: Input, opts: &Options) -> (Plan, Vec<ProgInfo>) {
    let mut plan = Plan {
        probes: checked.instances.iter().enumerate().map(|(i, inst)| probe_def(i, inst)).collect(),
        maps: checked.maps,
        printfs: Vec::new(),
        uses_elapsed: false,
        time_formats: Vec::new(),
        strftime_formats: checked.strftime_formats,
        stack_depths: Vec::new(),
        dw_stack_depths: Vec::new(),
        filter_pid: opts.pid,
        probe_names: checked.probe_names,
        join_separators: Vec::new(),
        cat_paths: Vec::new(),
        skb_outputs: Vec::new(),
        tuples: checked.tuples.layouts(),
        enums: checked.enums,
        structs: checked.structs,
        str_trunc_trailer: opts.config.str_trunc_trailer.clone(),
        params: checked.params,
        str_len: opts.config.max_strlen as u32,
        source: opts.read_warnings.then(|| plan::SourceText { files: opts.script.files.clone(), text: opts.script.text.clone() }),
        str_extra_byte: !opts.compat.old() && opts.config.max_strlen < 1024,
        ringbuf_bytes: opts.config.ringbuf_bytes(),
        print_maps_on_exit: opts.config.print_maps_on_exit,
        runtime_params: opts.portable,
        hist_sums: false,
    };
    let mut progs = Vec::new();
    for probe in checked.probes {
        let mut info = probe.info;
        for (expr, need) in probe.needs {
            let id = match need {
                Need::Printf(def) => push(&mut plan.printfs, def),
                Need::PrintValue(kind) => push(&mut plan.printfs, print_value(kind)),
                Need::Time(format) => push(&mut plan.time_formats, format),
                Need::Cat(path) => push(&mut plan.cat_paths, path),
                Need::Join(separator) => push(&mut plan.join_separators, separator),
                Need::SkbOutput(def) => push(&mut plan.skb_outputs, def),
                Need::Stack(spec) => {
                    let depths = if spec.dwarf { &mut plan.dw_stack_depths } else { &mut plan.stack_depths };
                    if !depths.contains(&spec.depth) {
                        depths.push(spec.depth);
                    }
                    continue;
                }
                Need::Elapsed => {
                    plan.uses_elapsed = true;
                    continue;
                }
            };
            if let Some(e) = info.exprs.get_mut(&expr) {
                set_id(&mut e.res, id);
            }
        }
        progs.push(info);
    }
    (plan, progs)
}

/// Program `i`'s definition: where it attaches, and whether it may use one multi link.
fn probe_def(i: usize, inst: &Instance) -> ProbeDef {
    ProbeDef {
        prog_name: format!("p{i}"),
        display: inst.display.clone(),
        attach: inst.attach.clone(),
        cookie: inst.name_ids[0],
        also: inst.also.iter().cloned().zip(inst.name_ids[1..].iter().copied()).collect(),
        multi: super::probes::multi_link_candidate(inst),
    }
}

/// Adds `item` to a table of the plan; its index.
fn push<T>(table: &mut Vec<T>, item: T) -> usize {
    table.push(item);
    table.len() - 1
}

/// `print(value)`'s format: the value and a newline. `%s` prints an integer by its own
/// signedness: a uint64 prints unsigned, as it does as a map value.
fn print_value(kind: Scalar) -> PrintfDef {
    let spec = FmtSpec { conv: 's', int_bits: 64, ..FmtSpec::default() };
    PrintfDef {
        segments: vec![FmtSegment::Conv { spec, arg: 0 }, FmtSegment::Lit("\n".into())],
        args: vec![ArgField { offset: plan::EVENT_HEADER, kind }],
        size: plan::EVENT_HEADER + kind.size().next_multiple_of(8),
        warning: false,
    }
}

/// Puts plan index `n` into what an expression refers to.
fn set_id(res: &mut Res, n: usize) {
    match res {
        Res::Printf(id) | Res::System(id) | Res::Cat(id) | Res::SkbOutput(id) | Res::Message(id) | Res::Assert(id) | Res::PrintValue(id) | Res::Time(id) | Res::Join { id, .. } => *id = n,
        Res::Event { id, .. } => *id = n as u32,
        _ => {}
    }
}
