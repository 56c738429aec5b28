//! Sharing BPF programs between attach points. LLVM costs ~2.5 ms per program and the
//! verifier ~0.1 ms, so a script with hundreds of probes whose code would be the same is
//! compiled and loaded once, and the program is attached at every point with a cookie that
//! tells the points apart (`probe` reads it).
//!
//! Two levels:
//! - a wildcard's matches, where the body does not depend on what differs between them;
//! - separate probes whose bodies are the same but for integer literals in value positions
//!   (`/pid > 10/ { @c[10] = count(); }` and `/pid > 20/ { @c[20] = count(); }`, as generated
//!   scripts have). The literals that differ become slots of the parameters map: the program
//!   looks up its attach cookie's row once, and reads each such literal from it.

use super::probes::{probe_name, Instance};
use crate::parser::ast::*;
use crate::plan::Attach;
use std::collections::HashMap;
use std::fmt::Write;

/// The instances after sharing, and what the shared programs read.
pub(super) struct Shared {
    pub instances: Vec<Instance>,
    /// Every attach point's name; cookies index this.
    pub names: Vec<String>,
    /// Parallel to `instances`: the literals read from the parameters map, by expression,
    /// with their slot in the row.
    pub slots: Vec<HashMap<ExprId, u32>>,
    /// The parameters map's rows: an attach cookie, and the values of its program's slots.
    pub params: Vec<(u64, Vec<u64>)>,
}

/// `args` and `arg0` … `arg11`.
const ARG_NAMES: [&str; 13] =
    ["args", "arg0", "arg1", "arg2", "arg3", "arg4", "arg5", "arg6", "arg7", "arg8", "arg9", "arg10", "arg11"];

/// Shares programs (see the module's comment) and gives every attach point its cookie.
pub(super) fn share_programs(program: &Program, instances: Vec<Instance>) -> Shared {
    let groups = share_probes(program, share_wildcards(program, instances));
    let mut shared = Shared { instances: Vec::new(), names: Vec::new(), slots: Vec::new(), params: Vec::new() };
    for group in groups {
        let mut members = group.members.into_iter();
        let Some((mut inst, first_literals)) = members.next() else { continue };
        let rest: Vec<(Instance, Vec<(ExprId, u64)>)> = members.collect();
        // A slot for each literal whose value differs between the members; literals with the
        // same values in every member (`/pid > 7/ { @[7] … }`) share one.
        let columns: Vec<Vec<u64>> = (0..first_literals.len())
            .map(|k| std::iter::once(first_literals[k].1).chain(rest.iter().map(|(_, lits)| lits[k].1)).collect())
            .collect();
        let mut differs: Vec<usize> = Vec::new();
        let mut slot_of: HashMap<ExprId, u32> = HashMap::new();
        for (k, values) in columns.iter().enumerate() {
            if values.iter().all(|&v| v == values[0]) {
                continue;
            }
            let slot = match differs.iter().position(|&d| columns[d] == *values) {
                Some(slot) => slot,
                None => {
                    differs.push(k);
                    differs.len() - 1
                }
            };
            slot_of.insert(first_literals[k].0, slot as u32);
        }
        let row = |lits: &[(ExprId, u64)]| differs.iter().map(|&k| lits[k].1).collect::<Vec<u64>>();
        let mut rows = vec![row(&first_literals); 1 + inst.also.len()];
        for (other, lits) in rest {
            rows.extend(std::iter::repeat_n(row(&lits), 1 + other.also.len()));
            inst.also.push(other.attach);
            inst.also.extend(other.also);
        }
        for (attach, row) in std::iter::once(&inst.attach).chain(&inst.also).zip(rows) {
            let cookie = shared.names.len() as u64;
            inst.name_ids.push(cookie);
            shared.names.push(probe_name(attach, &inst.display));
            if !differs.is_empty() {
                shared.params.push((cookie, row));
            }
        }
        shared.slots.push(slot_of);
        shared.instances.push(inst);
    }
    shared
}

/// One program for all the matches of a wildcard, where its code would be the same for each.
/// That holds for tracepoints and kprobes whose body does not use `args` (tracepoints' layouts
/// differ), for uprobes whose body does not use `func` either (a per-function constant), and
/// for USDT probes whose body reads no argument (each location has its own argument specs).
fn share_wildcards(program: &Program, instances: Vec<Instance>) -> Vec<Instance> {
    let mut out: Vec<Instance> = Vec::new();
    for inst in instances {
        if let Some(last) = out.last_mut() {
            let same_kind = std::mem::discriminant(&last.attach) == std::mem::discriminant(&inst.attach);
            if last.point == inst.point && same_kind && shareable(&program.probes[inst.probe], &inst.attach) {
                last.also.push(inst.attach);
                continue;
            }
        }
        out.push(inst);
    }
    out
}

/// Whether a program for `probe` at `attach` would be the same at any other attach point of
/// its kind.
fn shareable(probe: &Probe, attach: &Attach) -> bool {
    match attach {
        Attach::Tracepoint { .. } | Attach::Kprobe { .. } | Attach::RawTracepoint { .. } => !uses(probe, &["args"]),
        Attach::Uprobe { .. } => !uses(probe, &["args", "func"]),
        Attach::Usdt { .. } => !uses(probe, &ARG_NAMES),
        _ => false,
    }
}

/// Probes that share one program, each with its literals in value positions.
struct Group {
    members: Vec<(Instance, Vec<(ExprId, u64)>)>,
}

/// Groups instances of different probes whose programs would differ only in literals in value
/// positions. Each instance joins the first group of its kind and shape. Only attach points no
/// other probe of the script also attaches are grouped: the kernel runs the programs at one
/// point in the order they were attached, which must stay the order of the probes.
fn share_probes(program: &Program, instances: Vec<Instance>) -> Vec<Group> {
    let mut attached: HashMap<String, usize> = HashMap::new();
    for inst in &instances {
        for attach in std::iter::once(&inst.attach).chain(&inst.also) {
            *attached.entry(probe_name(attach, &inst.display)).or_default() += 1;
        }
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut by_shape: HashMap<(&'static str, String), usize> = HashMap::new();
    for inst in instances {
        let probe = &program.probes[inst.probe];
        let alone = std::iter::once(&inst.attach).chain(&inst.also).all(|a| attached[&probe_name(a, &inst.display)] == 1);
        let kind = kind(&inst.attach).filter(|_| alone && shareable(probe, &inst.attach));
        let Some(kind) = kind else {
            groups.push(Group { members: vec![(inst, Vec::new())] });
            continue;
        };
        let mut shape = Shape::default();
        shape.probe(probe);
        match by_shape.entry((kind, shape.text)) {
            std::collections::hash_map::Entry::Occupied(e) => groups[*e.get()].members.push((inst, shape.literals)),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(groups.len());
                groups.push(Group { members: vec![(inst, shape.literals)] });
            }
        }
    }
    groups
}

/// The kinds of attach point whose programs may be shared between probes: those that take an
/// attach cookie on every kernel rtrace supports (raw tracepoints only from Linux 6.10), each
/// with what must be the same for one program to serve them.
fn kind(attach: &Attach) -> Option<&'static str> {
    match attach {
        Attach::Tracepoint { .. } => Some("tracepoint"),
        Attach::Kprobe { offset: 0, ret: false, .. } => Some("kprobe"),
        Attach::Kprobe { offset: 0, ret: true, .. } => Some("kretprobe"),
        Attach::Uprobe { ret: false, .. } => Some("uprobe"),
        Attach::Uprobe { ret: true, .. } => Some("uretprobe"),
        _ => None,
    }
}

/// A probe's code written out without spans or ids, with the integer literals in value
/// positions left out of the text and collected instead: two probes with the same text
/// compile to the same program but for those literals.
#[derive(Default)]
struct Shape {
    text: String,
    literals: Vec<(ExprId, u64)>,
    /// Inside a loop's condition or bounds (the verifier must see their constants) or a
    /// `for` loop over a map (a callback function, which cannot reach the parameters).
    fixed: u32,
}

impl Shape {
    fn probe(&mut self, probe: &Probe) {
        if let Some(p) = &probe.predicate {
            self.text.push_str("pred ");
            self.expr(p, false);
        }
        self.stmts(&probe.body);
    }

    fn stmts(&mut self, list: &[Stmt]) {
        self.text.push('{');
        for s in list {
            self.stmt(s);
            self.text.push(';');
        }
        self.text.push('}');
    }

    fn fixed(&mut self, f: impl FnOnce(&mut Shape)) {
        self.fixed += 1;
        f(self);
        self.fixed -= 1;
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::AssignMap { map, value } => {
                self.map(map);
                self.text.push('=');
                self.expr(value, true);
            }
            StmtKind::AssignVar { var, value } => {
                let _ = write!(self.text, "{}=", var.name);
                self.expr(value, false);
            }
            StmtKind::CompoundAssign { target, op, value } => {
                self.expr(target, false);
                let _ = write!(self.text, "{}=", op.symbol());
                self.expr(value, matches!(target.kind, ExprKind::Map(_)));
            }
            StmtKind::If { cond, then, els } => {
                self.text.push_str("if");
                self.expr(cond, false);
                self.stmts(then);
                if let Some(els) = els {
                    self.text.push_str("else");
                    self.stmts(els);
                }
            }
            StmtKind::While { cond, body } => {
                self.text.push_str("while");
                self.fixed(|s| s.expr(cond, false));
                self.stmts(body);
            }
            StmtKind::Unroll { count, body } => {
                self.text.push_str("unroll");
                self.fixed(|s| s.expr(count, false));
                self.stmts(body);
            }
            StmtKind::ForRange { var, start, end, body } => {
                let _ = write!(self.text, "for {}:", var.name);
                self.fixed(|s| {
                    s.expr(start, false);
                    s.text.push_str("..");
                    s.expr(end, false);
                });
                self.stmts(body);
            }
            StmtKind::ForMap { var, map, body } => {
                let _ = write!(self.text, "for {}:", var.name);
                self.fixed(|s| {
                    s.map(map);
                    s.stmts(body);
                });
            }
            StmtKind::Break => self.text.push_str("break"),
            StmtKind::Continue => self.text.push_str("continue"),
            StmtKind::Return(value) => {
                self.text.push_str("return ");
                if let Some(v) = value {
                    self.expr(v, false);
                }
            }
            StmtKind::Let { var, ty, value } => {
                let _ = write!(self.text, "let {}", var.name);
                if let Some(ty) = ty {
                    self.text.push(':');
                    self.ty(ty);
                }
                if let Some(v) = value {
                    self.text.push('=');
                    self.expr(v, false);
                }
            }
            StmtKind::Block(body) => self.stmts(body),
            StmtKind::Expr(e) => self.expr(e, false),
        }
    }

    fn map(&mut self, m: &MapRef) {
        let _ = write!(self.text, "{}[", m.name);
        for k in &m.keys {
            self.expr(k, true);
            self.text.push(',');
        }
        self.text.push(']');
    }

    fn ty(&mut self, t: &TypeExpr) {
        match &t.kind {
            TypeExprKind::Named(n) => self.text.push_str(n),
            TypeExprKind::Tagged { tag, name } => {
                let _ = write!(self.text, "{tag} {name}");
            }
            TypeExprKind::Pointer(to) => {
                self.ty(to);
                self.text.push('*');
            }
            TypeExprKind::Array(of, n) => {
                self.ty(of);
                let _ = write!(self.text, "[{n:?}]");
            }
            TypeExprKind::Typeof(e) => {
                self.text.push_str("typeof");
                self.expr(e, false);
            }
        }
    }

    /// Writes `e` out; `value` says whether a literal right here is in a value position: a
    /// map key or value, an operand of a comparison with a non-literal, a printf argument.
    fn expr(&mut self, e: &Expr, value: bool) {
        let literal = |x: &Expr| matches!(x.kind, ExprKind::Int(_));
        self.text.push('(');
        match &e.kind {
            ExprKind::Int(n) if value && self.fixed == 0 => {
                // The literal's type (signed unless it needs the 64th bit) is part of the shape.
                let _ = write!(self.text, "lit{}", *n <= i64::MAX as u64);
                self.literals.push((e.id, *n));
            }
            ExprKind::Int(n) => {
                let _ = write!(self.text, "{n}");
            }
            ExprKind::Str(s) => {
                let _ = write!(self.text, "{s:?}");
            }
            ExprKind::Ident(n) => self.text.push_str(n),
            ExprKind::Var(n) => self.text.push_str(n),
            ExprKind::Bool(b) => {
                let _ = write!(self.text, "{b}");
            }
            ExprKind::Map(m) => self.map(m),
            ExprKind::Call { name, args } => {
                let _ = write!(self.text, "call {}", name.name);
                for (i, a) in args.iter().enumerate() {
                    self.expr(a, name.name == "printf" && i > 0);
                }
            }
            ExprKind::Field { base, field, arrow } => {
                self.expr(base, false);
                let _ = write!(self.text, "{}{}", if *arrow { "->" } else { "." }, field.name);
            }
            ExprKind::Unary { op, operand } => {
                let _ = write!(self.text, "{op:?}");
                self.expr(operand, false);
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let compare = op.is_comparison();
                self.expr(lhs, compare && !literal(rhs));
                self.text.push_str(op.symbol());
                self.expr(rhs, compare && !literal(lhs));
            }
            ExprKind::Ternary { cond, then, els } => {
                self.expr(cond, false);
                self.text.push('?');
                self.expr(then, false);
                self.text.push(':');
                self.expr(els, false);
            }
            ExprKind::Tuple(items) => {
                self.text.push_str("tuple");
                for x in items {
                    self.expr(x, false);
                }
            }
            ExprKind::Record(fields) => {
                self.text.push_str("record");
                for (name, x) in fields {
                    let _ = write!(self.text, "{}=", name.name);
                    self.expr(x, false);
                }
            }
            ExprKind::Index { base, index } => {
                self.expr(base, false);
                self.text.push('[');
                self.expr(index, false);
            }
            ExprKind::TupleIndex { base, index } => {
                self.expr(base, false);
                let _ = write!(self.text, ".{index}");
            }
            ExprKind::Deref(x) => {
                self.text.push('*');
                self.expr(x, false);
            }
            ExprKind::AddrOf(x) => {
                self.text.push('&');
                self.expr(x, false);
            }
            ExprKind::Cast { ty, expr } => {
                self.text.push_str("cast");
                self.ty(ty);
                self.expr(expr, false);
            }
            ExprKind::IncDec { target, increment, prefix } => {
                let _ = write!(self.text, "incdec{increment}{prefix}");
                self.expr(target, false);
            }
            ExprKind::SizeofType(ty) | ExprKind::TypeArg(ty) => {
                self.text.push_str("sizeof");
                self.ty(ty);
            }
            ExprKind::SizeofExpr(x) => {
                self.text.push_str("sizeof");
                self.expr(x, false);
            }
            ExprKind::Offsetof { ty, fields } => {
                self.text.push_str("offsetof");
                self.ty(ty);
                for f in fields {
                    let _ = write!(self.text, ".{}", f.name);
                }
            }
            ExprKind::Block { stmts, value } => {
                self.stmts(stmts);
                self.expr(value, false);
            }
        }
        self.text.push(')');
    }
}

/// Whether a probe's predicate or body names any of these identifiers.
fn uses(probe: &Probe, names: &[&str]) -> bool {
    any_expr(probe, &mut |e| matches!(&e.kind, ExprKind::Ident(n) if names.contains(&n.as_str())))
}

/// Whether `f` holds for any expression of a probe's predicate or body (each visited before
/// its operands, until `f` holds).
pub(super) fn any_expr(probe: &Probe, f: &mut dyn FnMut(&Expr) -> bool) -> bool {
    fn expr(e: &Expr, f: &mut dyn FnMut(&Expr) -> bool) -> bool {
        if f(e) {
            return true;
        }
        let mut sub = |x: &Expr| expr(x, f);
        match &e.kind {
            ExprKind::Ident(_) => false,
            ExprKind::Map(m) => m.keys.iter().any(sub),
            ExprKind::Call { args, .. } | ExprKind::Tuple(args) => args.iter().any(sub),
            ExprKind::Record(fields) => fields.iter().any(|(_, x)| sub(x)),
            ExprKind::Field { base, .. } | ExprKind::TupleIndex { base, .. } => sub(base),
            ExprKind::Unary { operand, .. } => sub(operand),
            ExprKind::Binary { lhs, rhs, .. } => sub(lhs) || sub(rhs),
            ExprKind::Ternary { cond, then, els } => sub(cond) || sub(then) || sub(els),
            ExprKind::Index { base, index } => sub(base) || sub(index),
            ExprKind::Deref(x) | ExprKind::AddrOf(x) | ExprKind::SizeofExpr(x) => sub(x),
            ExprKind::Cast { expr: x, .. } => sub(x),
            ExprKind::IncDec { target, .. } => sub(target),
            ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Var(_) | ExprKind::Bool(_) => false,
            ExprKind::SizeofType(_) | ExprKind::Offsetof { .. } | ExprKind::TypeArg(_) => false,
            ExprKind::Block { stmts: body, value } => stmts(body, f) || expr(value, f),
        }
    }
    fn stmts(list: &[Stmt], f: &mut dyn FnMut(&Expr) -> bool) -> bool {
        list.iter().any(|s| match &s.kind {
            StmtKind::AssignMap { map, value } => map.keys.iter().any(|k| expr(k, f)) || expr(value, f),
            StmtKind::AssignVar { value, .. } => expr(value, f),
            StmtKind::CompoundAssign { target, value, .. } => expr(target, f) || expr(value, f),
            StmtKind::If { cond, then, els } => {
                expr(cond, f) || stmts(then, f) || els.as_ref().is_some_and(|e| stmts(e, f))
            }
            StmtKind::While { cond, body } => expr(cond, f) || stmts(body, f),
            StmtKind::Unroll { count, body } => expr(count, f) || stmts(body, f),
            StmtKind::ForRange { start, end, body, .. } => expr(start, f) || expr(end, f) || stmts(body, f),
            StmtKind::ForMap { map, body, .. } => map.keys.iter().any(|k| expr(k, f)) || stmts(body, f),
            StmtKind::Let { value, .. } => value.as_ref().is_some_and(|v| expr(v, f)),
            StmtKind::Block(body) => stmts(body, f),
            StmtKind::Expr(e) | StmtKind::Return(Some(e)) => expr(e, f),
            StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => false,
        })
    }
    probe.predicate.as_ref().is_some_and(|p| expr(p, f)) || stmts(&probe.body, f)
}

