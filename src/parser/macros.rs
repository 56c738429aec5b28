//! Macro expansion: every call of a `macro` (bpftrace 0.24+; stable since 0.25) is replaced by the
//! macro's body, before sema sees the program.
//!
//! A parameter's sigil says what a call passes: `$a` a variable and `@a` a map, both by
//! reference (the body reads and writes the caller's), and `a` an expression, evaluated
//! wherever the body names it. Macros are hygienic: any other variable in the body is the
//! body's own (renamed `$x@NAME#N` for the N-th expansion), and the body may not name a map it
//! was not passed. A call's value is the expression the body ends with; a body with statements
//! becomes an `ExprKind::Block`. A macro without parameters may be named without `()`.
//!
//! One name may have several definitions (bpftrace 0.25+): they differ in their number of
//! parameters or in their kinds, and a call expands the first one, in the order written, that
//! takes its arguments. A definition that an earlier one would always be chosen over is an
//! error, so a definition with `$`/`@` parameters comes before one taking expressions there.

use super::ast::*;
use crate::diag::{Diagnostic, Span};
use std::collections::HashMap;

/// The most expressions the expansion of a script may create: macros that use an expression
/// parameter several times, calling one another, grow exponentially.
pub const MAX_EXPANDED: u32 = 100_000;

/// Expands every macro call in `program`; the diagnostics say what could not be expanded.
pub fn expand(program: &mut Program) -> Vec<Diagnostic> {
    if program.macros.is_empty() {
        return Vec::new();
    }
    let mut diags = Vec::new();
    let mut macros: HashMap<&str, Vec<&Macro>> = HashMap::new();
    for m in &program.macros {
        let defs = macros.entry(m.name.name.as_str()).or_default();
        if let Some(earlier) = defs.iter().find(|d| takes_every_call_of(d, m)) {
            diags.push(redefinition(earlier, m));
            continue;
        }
        for (i, p) in m.params.iter().enumerate() {
            if let Some(first) = m.params[..i].iter().find(|q| q.name.name == p.name.name) {
                diags.push(
                    Diagnostic::error(format!("macro `{}` has two parameters named `{}`", m.name.name, p.name.name))
                        .at(p.name.span, "second parameter")
                        .also(first.name.span, "first parameter"),
                );
            }
        }
        defs.push(m);
    }
    let mut x = Expander { macros, next_id: program.expr_count, created: 0, expansions: 0, diags, too_large: false };
    let top = Context::top();
    let mut probes = std::mem::take(&mut program.probes);
    for probe in &mut probes {
        probe.predicate = probe.predicate.as_ref().map(|p| x.expr(p, &top));
        probe.body = x.stmts(&probe.body, &top);
    }
    program.probes = probes;
    program.expr_count = x.next_id;
    // A macro's own error (a map it was not passed) is met again at each of its calls.
    crate::diag::dedup(&mut x.diags);
    x.diags
}

/// Whether every call `later` takes would expand `earlier` (written first) instead: the
/// same number of parameters, each of `earlier`'s taking what `later`'s takes.
fn takes_every_call_of(earlier: &Macro, later: &Macro) -> bool {
    earlier.params.len() == later.params.len()
        && earlier.params.iter().zip(&later.params).all(|(e, l)| e.kind == MacroParamKind::Expr || e.kind == l.kind)
}

/// `name(p1, p2)`, as a definition's parameters are written.
fn signature(m: &Macro) -> String {
    let params: Vec<&str> = m.params.iter().map(|p| p.name.name.as_str()).collect();
    format!("{}({})", m.name.name, params.join(", "))
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// The error for a definition that `earlier` would always be chosen over.
fn redefinition(earlier: &Macro, later: &Macro) -> Diagnostic {
    let name = &later.name.name;
    let same = earlier.params.iter().zip(&later.params).all(|(e, l)| e.kind == l.kind);
    let help = "definitions of one macro differ in their number of parameters or in their kinds \
                (`$var`, `@map`, expression); a call expands the first that takes its arguments";
    if same {
        return Diagnostic::error(format!("macro `{name}` is defined twice with {}", plural(later.params.len(), "parameter")))
            .at(later.name.span, "defined again here")
            .also(earlier.name.span, "first defined here")
            .help(help);
    }
    Diagnostic::error(format!("macro `{name}` is defined after a definition that takes all its calls"))
        .at(later.name.span, format!("`{}` would never be used", signature(later)))
        .also(earlier.name.span, format!("`{}` takes every call `{}` takes", signature(earlier), signature(later)))
        .help(format!("define `{}` before `{}`", signature(later), signature(earlier)))
}

struct Expander<'m> {
    /// Every definition of each name, in the order written.
    macros: HashMap<&'m str, Vec<&'m Macro>>,
    next_id: ExprId,
    /// Expressions created so far.
    created: u32,
    /// Expansions so far: each one's local variables get its number.
    expansions: u32,
    diags: Vec<Diagnostic>,
    too_large: bool,
}

/// Where code being copied is: in a probe (as written), or in the body of a macro call.
struct Context<'c> {
    /// The macros being expanded, outermost first (empty in a probe).
    stack: Vec<&'c str>,
    /// `$param` → the caller's variable.
    vars: HashMap<&'c str, String>,
    /// `@param` → the caller's map.
    maps: HashMap<&'c str, String>,
    /// `param` → the caller's expression.
    exprs: HashMap<&'c str, Expr>,
    /// The suffix of this expansion's own variables.
    suffix: String,
    /// Whether copies get expression ids of their own (everything but a probe's own code).
    fresh_ids: bool,
}

impl<'c> Context<'c> {
    fn top() -> Context<'c> {
        Context {
            stack: Vec::new(),
            vars: HashMap::new(),
            maps: HashMap::new(),
            exprs: HashMap::new(),
            suffix: String::new(),
            fresh_ids: false,
        }
    }
    fn in_macro(&self) -> bool {
        !self.stack.is_empty()
    }
    fn var(&self, name: &str) -> String {
        // Positional parameters (`$1`, `$#`) are the script's, in a macro too.
        let positional = name[1..].starts_with(|c: char| c.is_ascii_digit() || c == '#');
        if !self.in_macro() || positional {
            return name.to_string();
        }
        match self.vars.get(name) {
            Some(v) => v.clone(),
            None => format!("{name}{}", self.suffix),
        }
    }
}

impl<'m> Expander<'m> {
    fn id(&mut self, e: &Expr, cx: &Context) -> ExprId {
        if !cx.fresh_ids {
            return e.id;
        }
        self.created += 1;
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn name(&self, n: &Name, cx: &Context) -> Name {
        Name { name: cx.var(&n.name), span: n.span }
    }

    fn map(&mut self, m: &MapRef, cx: &Context) -> MapRef {
        let keys = m.keys.iter().map(|k| self.expr(k, cx)).collect();
        let name = match cx.maps.get(m.name.as_str()) {
            Some(name) => name.clone(),
            None => {
                if let Some(mac) = cx.stack.last() {
                    self.diags.push(
                        Diagnostic::error(format!("macro `{mac}` uses map `{}`, which it was not passed", m.name))
                            .at(m.span, "not a parameter of the macro")
                            .help(format!("pass the map to the macro: add a parameter `{}` and pass the map in the call", m.name)),
                    );
                }
                m.name.clone()
            }
        };
        MapRef { name, keys, span: m.span }
    }

    fn stmts(&mut self, stmts: &[Stmt], cx: &Context) -> Vec<Stmt> {
        stmts.iter().map(|s| self.stmt(s, cx)).collect()
    }

    fn stmt(&mut self, s: &Stmt, cx: &Context) -> Stmt {
        let kind = match &s.kind {
            StmtKind::Expr(e) => match self.macro_call(e) {
                // A call as a statement: the body's statements, then its value if any.
                Some((defs, args)) => match self.call(&defs, args, e.span, cx) {
                    Some((_, mut stmts, value)) => {
                        if let Some(v) = value {
                            let span = v.span;
                            stmts.push(Stmt { kind: StmtKind::Expr(v), span });
                        }
                        StmtKind::Block(stmts)
                    }
                    None => StmtKind::Block(Vec::new()),
                },
                None => StmtKind::Expr(self.expr(e, cx)),
            },
            StmtKind::AssignMap { map, value } => {
                StmtKind::AssignMap { map: self.map(map, cx), value: self.expr(value, cx) }
            }
            StmtKind::AssignVar { var, value } => StmtKind::AssignVar { var: self.name(var, cx), value: self.expr(value, cx) },
            StmtKind::CompoundAssign { target, op, value } => {
                StmtKind::CompoundAssign { target: self.expr(target, cx), op: *op, value: self.expr(value, cx) }
            }
            StmtKind::If { cond, then, els } => StmtKind::If {
                cond: self.expr(cond, cx),
                then: self.stmts(then, cx),
                els: els.as_ref().map(|e| self.stmts(e, cx)),
            },
            StmtKind::While { cond, body } => StmtKind::While { cond: self.expr(cond, cx), body: self.stmts(body, cx) },
            StmtKind::Unroll { count, body } => StmtKind::Unroll { count: self.expr(count, cx), body: self.stmts(body, cx) },
            StmtKind::ForRange { var, start, end, body } => StmtKind::ForRange {
                var: self.name(var, cx),
                start: self.expr(start, cx),
                end: self.expr(end, cx),
                body: self.stmts(body, cx),
            },
            StmtKind::ForMap { var, map, body } => {
                StmtKind::ForMap { var: self.name(var, cx), map: self.map(map, cx), body: self.stmts(body, cx) }
            }
            StmtKind::Let { var, ty, value } => {
                if let Some(p) = cx.vars.keys().find(|p| **p == var.name) {
                    self.diags.push(
                        Diagnostic::error(format!("`let {p}` in macro `{}` declares its parameter again", cx.stack.last().unwrap_or(&"")))
                            .at(var.span, "a parameter of the macro")
                            .help(format!("assign the parameter (`{p} = …`) or declare a variable of another name")),
                    );
                }
                let ty = ty.as_ref().map(|t| self.ty(t, cx));
                StmtKind::Let { var: self.name(var, cx), ty, value: value.as_ref().map(|v| self.expr(v, cx)) }
            }
            StmtKind::Block(body) => StmtKind::Block(self.stmts(body, cx)),
            StmtKind::Break => StmtKind::Break,
            StmtKind::Continue => StmtKind::Continue,
            StmtKind::Return(value) => StmtKind::Return(value.as_ref().map(|v| self.expr(v, cx))),
        };
        Stmt { kind, span: s.span }
    }

    /// The definitions of the macro `e` calls, and its arguments, if it calls one. A bare name
    /// calls a macro that has a definition without parameters.
    fn macro_call<'e>(&self, e: &'e Expr) -> Option<(Vec<&'m Macro>, &'e [Expr])> {
        match &e.kind {
            ExprKind::Call { name, args } => self.macros.get(name.name.as_str()).map(|d| (d.clone(), args.as_slice())),
            ExprKind::Ident(name) => self
                .macros
                .get(name.as_str())
                .filter(|d| d.iter().any(|m| m.params.is_empty()))
                .map(|d| (d.clone(), &[][..])),
            _ => None,
        }
    }

    fn expr(&mut self, e: &Expr, cx: &Context) -> Expr {
        if let ExprKind::Ident(name) = &e.kind {
            if let Some(arg) = cx.exprs.get(name.as_str()) {
                // A copy of the caller's expression, already expanded, with ids of its own.
                return self.expr(arg, &Context { fresh_ids: true, ..Context::top() });
            }
        }
        if let Some((defs, args)) = self.macro_call(e) {
            return match self.call(&defs, args, e.span, cx) {
                Some((_, stmts, Some(value))) if stmts.is_empty() => value,
                Some((_, stmts, Some(value))) => {
                    let id = self.id(e, cx);
                    Expr { id, kind: ExprKind::Block { stmts, value: Box::new(value) }, span: e.span }
                }
                Some((m, _, None)) => {
                    self.diags.push(
                        Diagnostic::error(format!("macro `{}` has no value", m.name.name))
                            .at(e.span, "used as a value here")
                            .also(m.name.span, "its body does not end with an expression")
                            .help("end the macro's body with an expression, without `;` after it"),
                    );
                    self.placeholder(e, cx)
                }
                None => self.placeholder(e, cx),
            };
        }
        if self.too_large {
            return self.placeholder(e, cx);
        }
        let b = |x: &mut Self, e: &Expr| Box::new(x.expr(e, cx));
        let kind = match &e.kind {
            ExprKind::Var(v) => ExprKind::Var(cx.var(v)),
            ExprKind::Map(m) => ExprKind::Map(self.map(m, cx)),
            ExprKind::Call { name, args } => {
                ExprKind::Call { name: name.clone(), args: args.iter().map(|a| self.expr(a, cx)).collect() }
            }
            ExprKind::Tuple(items) => ExprKind::Tuple(items.iter().map(|a| self.expr(a, cx)).collect()),
            ExprKind::Record(fields) => ExprKind::Record(fields.iter().map(|(n, a)| (n.clone(), self.expr(a, cx))).collect()),
            ExprKind::Field { base, field, arrow } => ExprKind::Field { base: b(self, base), field: field.clone(), arrow: *arrow },
            ExprKind::Unary { op, operand } => ExprKind::Unary { op: *op, operand: b(self, operand) },
            ExprKind::Binary { op, lhs, rhs } => ExprKind::Binary { op: *op, lhs: b(self, lhs), rhs: b(self, rhs) },
            ExprKind::Ternary { cond, then, els } => {
                ExprKind::Ternary { cond: b(self, cond), then: b(self, then), els: b(self, els) }
            }
            ExprKind::Index { base, index } => ExprKind::Index { base: b(self, base), index: b(self, index) },
            ExprKind::TupleIndex { base, index } => ExprKind::TupleIndex { base: b(self, base), index: *index },
            ExprKind::Deref(x) => ExprKind::Deref(b(self, x)),
            ExprKind::AddrOf(x) => ExprKind::AddrOf(b(self, x)),
            ExprKind::Cast { ty, expr } => ExprKind::Cast { ty: self.ty(ty, cx), expr: b(self, expr) },
            ExprKind::SizeofType(ty) => ExprKind::SizeofType(self.ty(ty, cx)),
            ExprKind::TypeArg(ty) => ExprKind::TypeArg(self.ty(ty, cx)),
            ExprKind::Offsetof { ty, fields } => ExprKind::Offsetof { ty: self.ty(ty, cx), fields: fields.clone() },
            ExprKind::IncDec { target, increment, prefix } => {
                ExprKind::IncDec { target: b(self, target), increment: *increment, prefix: *prefix }
            }
            ExprKind::SizeofExpr(x) => ExprKind::SizeofExpr(b(self, x)),
            ExprKind::Block { stmts, value } => ExprKind::Block { stmts: self.stmts(stmts, cx), value: b(self, value) },
            ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::Ident(_)
            | ExprKind::Bool(_) => e.kind.clone(),
        };
        let id = self.id(e, cx);
        if self.created > MAX_EXPANDED && !self.too_large {
            self.too_large = true;
            self.diags.push(
                Diagnostic::error("macro expansion too large")
                    .at(e.span, format!("the script's macros expand to more than {MAX_EXPANDED} expressions"))
                    .note("macros that use an expression parameter several times and call one another grow exponentially"),
            );
        }
        Expr { id, kind, span: e.span }
    }

    /// A type in a macro's body: a parameter's name written as a type (`(a *)b`) is the type
    /// the call passed (`typeof(uint8)`), or the type of the expression it passed; the
    /// expressions of `typeof(…)` are copied as any other.
    fn ty(&mut self, t: &TypeExpr, cx: &Context) -> TypeExpr {
        let kind = match &t.kind {
            TypeExprKind::Named(name) => match cx.exprs.get(name.as_str()) {
                Some(Expr { kind: ExprKind::TypeArg(ty), .. }) => return ty.clone(),
                Some(arg) => {
                    let arg = self.expr(arg, &Context { fresh_ids: true, ..Context::top() });
                    TypeExprKind::Typeof(Box::new(arg))
                }
                None => t.kind.clone(),
            },
            TypeExprKind::Pointer(inner) => TypeExprKind::Pointer(Box::new(self.ty(inner, cx))),
            TypeExprKind::Array(inner, n) => TypeExprKind::Array(Box::new(self.ty(inner, cx)), *n),
            TypeExprKind::Typeof(e) => TypeExprKind::Typeof(Box::new(self.expr(e, cx))),
            TypeExprKind::Tagged { .. } => t.kind.clone(),
        };
        TypeExpr { kind, span: t.span }
    }

    fn placeholder(&mut self, e: &Expr, cx: &Context) -> Expr {
        Expr { id: self.id(e, cx), kind: ExprKind::Int(0), span: e.span }
    }

    /// The definition a call of the macro defined by `defs` expands, and the statements and
    /// value it expands to; `None` (with a diagnostic) if no definition takes the arguments.
    fn call(&mut self, defs: &[&'m Macro], args: &[Expr], span: Span, cx: &Context) -> Option<Expansion<'m>> {
        let first = defs[0];
        let name = first.name.name.as_str();
        if cx.stack.contains(&name) {
            let mut chain: Vec<&str> = cx.stack[cx.stack.iter().position(|n| *n == name).unwrap_or(0)..].to_vec();
            chain.push(name);
            self.diags.push(
                Diagnostic::error(format!("macro `{name}` calls itself: {}", chain.join(" → ")))
                    .at(span, "recursive call")
                    .also(first.name.span, "the macro")
                    .note("macros are expanded where they are called, so they cannot recurse"),
            );
            return None;
        }
        let fitting: Vec<&'m Macro> = defs.iter().copied().filter(|m| m.params.len() == args.len()).collect();
        if fitting.is_empty() {
            self.diags.push(self.arity_error(defs, args.len(), span));
            return None;
        }
        let args: Vec<Expr> = args.iter().map(|a| self.expr(a, cx)).collect();
        let mismatches = |m: &Macro| m.params.iter().zip(&args).filter(|(p, a)| param_mismatch(p.kind, a).is_some()).count();
        // The first definition that takes the arguments, or else the one closest to them.
        let m = fitting.iter().copied().min_by_key(|m| mismatches(m)).unwrap_or(first);
        let mut ok = true;
        for (p, arg) in m.params.iter().zip(&args) {
            if let Some((wanted, label)) = param_mismatch(p.kind, arg) {
                ok = false;
                let mut d = Diagnostic::error(format!("macro `{name}` takes {wanted} for `{}`", p.name.name))
                    .at(arg.span, label)
                    .also(p.name.span, "the parameter");
                if fitting.len() > 1 {
                    for other in fitting.iter().filter(|o| !std::ptr::eq(**o, m)) {
                        d = d.also(other.name.span, format!("nor does `{}`", signature(other)));
                    }
                    d = d.note(format!(
                        "no definition of `{name}` with {} takes these arguments; the parameter is the closest one's",
                        plural(args.len(), "parameter")
                    ));
                }
                self.diags.push(d);
            }
        }
        if !ok {
            return None;
        }
        let name = m.name.name.as_str();
        self.expansions += 1;
        let mut stack = cx.stack.clone();
        stack.push(name);
        let mut inner = Context { stack, suffix: format!("@{name}#{}", self.expansions), fresh_ids: true, ..Context::top() };
        for (p, arg) in m.params.iter().zip(args) {
            match (p.kind, arg.kind) {
                (MacroParamKind::Var, ExprKind::Var(v)) => {
                    inner.vars.insert(&p.name.name, v);
                }
                (MacroParamKind::Map, ExprKind::Map(map)) => {
                    inner.maps.insert(&p.name.name, map.name);
                }
                (_, kind) => {
                    inner.exprs.insert(&p.name.name, Expr { kind, ..arg });
                }
            }
        }
        let stmts = self.stmts(&m.body, &inner);
        let value = m.value.as_ref().map(|v| self.expr(v, &inner));
        Some((m, stmts, value))
    }

    /// The error for a call with `n` arguments when no definition of the macro has as many
    /// parameters: the call, and every definition.
    fn arity_error(&self, defs: &[&Macro], n: usize, span: Span) -> Diagnostic {
        let mut counts: Vec<usize> = defs.iter().map(|m| m.params.len()).collect();
        counts.sort_unstable();
        counts.dedup();
        let last = counts.pop().unwrap_or(0);
        let takes = match counts.len() {
            0 => plural(last, "argument"),
            _ => {
                let rest: Vec<String> = counts.iter().map(|c| c.to_string()).collect();
                format!("{} or {}", rest.join(", "), plural(last, "argument"))
            }
        };
        let given = if n == 1 { "was" } else { "were" };
        let mut d = Diagnostic::error(format!("macro `{}` takes {takes}, but {n} {given} given", defs[0].name.name))
            .at(span, plural(n, "argument"));
        for m in defs {
            d = d.also(m.name.span, format!("`{}`", signature(m)));
        }
        d
    }
}

/// A call's expansion: the definition used, its statements and its value.
type Expansion<'m> = (&'m Macro, Vec<Stmt>, Option<Expr>);

/// What a parameter of `kind` wants and the argument is not, if the argument does not fit.
fn param_mismatch(kind: MacroParamKind, arg: &Expr) -> Option<(&'static str, &'static str)> {
    match (kind, &arg.kind) {
        (MacroParamKind::Var, ExprKind::Var(_)) | (MacroParamKind::Expr, _) => None,
        (MacroParamKind::Map, ExprKind::Map(map)) if map.keys.is_empty() => None,
        (MacroParamKind::Var, _) => Some(("a variable (`$name`)", "not a variable")),
        (MacroParamKind::Map, _) => Some(("a map without keys (`@name`)", "not a map without keys")),
    }
}
