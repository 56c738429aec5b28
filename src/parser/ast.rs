//! The abstract syntax tree. Every node carries the span of the text it came from; every
//! expression carries an `ExprId`, the index sema uses for its side tables.

use crate::diag::Span;

#[derive(Debug, Clone)]
pub struct Program {
    pub probes: Vec<Probe>,
    /// Top-level C `struct`/`union` definitions, as written.
    pub c_definitions: Vec<CDefinition>,
    /// `macro` definitions. `parse()` has already expanded every call to them; they stay for
    /// diagnostics (an unknown function's did-you-mean).
    pub macros: Vec<Macro>,
    /// Top-level map declarations, `let @name = hash(1000);`.
    pub map_decls: Vec<MapDecl>,
    /// `config = { … }` blocks, in order (a valid script has at most one, first).
    pub config: Vec<ConfigBlock>,
    /// `import "PATH";` statements, as written (`parser::imports` reads them; the imported
    /// files' probes, macros and map declarations are then part of this program).
    pub imports: Vec<Import>,
    /// Imported BPF C files (`import "x.bpf.c";`), compiled by `cimport` and linked in.
    pub c_sources: Vec<CSource>,
    /// How many expressions the parser numbered (ids are `0..expr_count`).
    pub expr_count: u32,
}

/// An imported `.bpf.c` file: its path as diagnostics show it, and the `import` naming it.
#[derive(Debug, Clone)]
pub struct CSource {
    pub path: String,
    pub span: Span,
}

/// `import "PATH";`.
#[derive(Debug, Clone)]
pub struct Import {
    pub path: String,
    pub span: Span,
    /// Whether a probe, macro or map declaration came before it (an error).
    pub misplaced: bool,
}

/// `config = { name = value; … }`: config variables (`crate::config` checks and applies them).
#[derive(Debug, Clone)]
pub struct ConfigBlock {
    pub items: Vec<ConfigItem>,
    pub span: Span,
    /// Whether a probe, macro or map declaration came before it (an error).
    pub misplaced: bool,
}

#[derive(Debug, Clone)]
pub struct ConfigItem {
    pub name: Name,
    pub value: ConfigValue,
    pub value_span: Span,
}

/// A config variable's value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    Int(u64),
    Str(String),
    Ident(String),
    Bool(bool),
}

#[derive(Debug, Clone)]
pub struct Probe {
    pub attach_points: Vec<AttachPoint>,
    pub predicate: Option<Expr>,
    pub body: Vec<Stmt>,
    pub span: Span,
}

/// `let @NAME = KIND(ARGS);` at the top level: a map's BPF type and size. Sema checks the kind
/// (`hash`, `lruhash`, `percpuhash`, `percpulruhash`) and the arguments.
#[derive(Debug, Clone)]
pub struct MapDecl {
    pub map: Name,
    pub kind: Name,
    pub args: Vec<Expr>,
    pub span: Span,
}

/// `macro NAME(PARAMS) { STATEMENTS [VALUE] }`.
#[derive(Debug, Clone)]
pub struct Macro {
    pub name: Name,
    pub params: Vec<MacroParam>,
    pub body: Vec<Stmt>,
    /// The expression the body ends with (no `;` after it): the value of a call.
    pub value: Option<Expr>,
    pub span: Span,
}

/// A macro parameter; its sigil says what a call must pass.
#[derive(Debug, Clone)]
pub struct MacroParam {
    pub name: Name,
    pub kind: MacroParamKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroParamKind {
    /// `$a`: a variable, by reference (the body may assign it).
    Var,
    /// `@a`: a map, by reference.
    Map,
    /// `a`: an expression, evaluated where the body names it.
    Expr,
}

#[derive(Debug, Clone)]
pub struct CDefinition {
    pub text: String,
    pub span: Span,
}

/// An attach point as written (`tracepoint:syscalls:sys_enter_openat`); sema splits it.
#[derive(Debug, Clone)]
pub struct AttachPoint {
    /// The attach point without its name (`text` and `span` start after `NAME=`).
    pub text: String,
    pub span: Span,
    /// `NAME` of `NAME=PROVIDER:…` (0.26: "An optional name may precede the provider with
    /// an equals sign", reserved for future use: rtrace keeps it and does nothing with it).
    pub name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

impl Stmt {
    /// `_ = e` (0.25's discard expression), which the parser makes an expression statement
    /// that starts before its expression: its value is thrown away on purpose.
    pub fn is_discard(&self) -> bool {
        matches!(&self.kind, StmtKind::Expr(e) if e.span.start > self.span.start)
    }
}

#[derive(Debug, Clone)]
pub enum StmtKind {
    /// `@m = v`, `@m[k, …] = v`.
    AssignMap { map: MapRef, value: Expr },
    /// `$x = v`.
    AssignVar { var: Name, value: Expr },
    /// `target op= value`, e.g. `@bytes[comm] += args.count`.
    CompoundAssign { target: Expr, op: BinOp, value: Expr },
    If { cond: Expr, then: Vec<Stmt>, els: Option<Vec<Stmt>> },
    While { cond: Expr, body: Vec<Stmt> },
    Unroll { count: Expr, body: Vec<Stmt> },
    /// `for ($i : start..end) { … }`.
    ForRange { var: Name, start: Expr, end: Expr, body: Vec<Stmt> },
    /// `for ($kv : @map) { … }`.
    ForMap { var: Name, map: MapRef, body: Vec<Stmt> },
    Break,
    Continue,
    /// `return;` or `return N;` (the program's return value: a `test:` probe fails with one
    /// other than 0, a `bench:` probe is skipped).
    Return(Option<Expr>),
    /// `let $x;`, `let $x: type = value;`.
    Let { var: Name, ty: Option<TypeExpr>, value: Option<Expr> },
    Block(Vec<Stmt>),
    /// An expression evaluated for its effect, e.g. `printf(…)`.
    Expr(Expr),
}

/// A type as written in a cast, `let`, `sizeof` or `offsetof`.
#[derive(Debug, Clone)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum TypeExprKind {
    /// A builtin name, possibly several words: `uint32`, `unsigned long`.
    Named(String),
    /// `struct NAME`, `union NAME`, `enum NAME`.
    Tagged { tag: &'static str, name: String },
    Pointer(Box<TypeExpr>),
    /// `T[N]`; `T[]` (the length left to a cast to work out) has `None`.
    Array(Box<TypeExpr>, Option<u64>),
    /// `typeof(EXPR)`: the type of an expression that is never evaluated. (`typeof(TYPE)`
    /// is that type, as parsed.)
    Typeof(Box<Expr>),
}

/// A name with its span (`$x`, `args`, a field).
#[derive(Debug, Clone)]
pub struct Name {
    pub name: String,
    pub span: Span,
}

/// A map reference: `@` or `@name`, with keys when indexed.
#[derive(Debug, Clone)]
pub struct MapRef {
    pub name: String,
    pub keys: Vec<Expr>,
    pub span: Span,
}

pub type ExprId = u32;

#[derive(Debug, Clone)]
pub struct Expr {
    pub id: ExprId,
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Int(u64),
    Str(String),
    /// A bare identifier: a builtin such as `pid` or `args`.
    Ident(String),
    Var(String),
    Map(MapRef),
    Call { name: Name, args: Vec<Expr> },
    /// `e.field` or `e->field`.
    Field { base: Box<Expr>, field: Name, arrow: bool },
    Unary { op: UnOp, operand: Box<Expr> },
    Binary { op: BinOp, lhs: Box<Expr>, rhs: Box<Expr> },
    Ternary { cond: Box<Expr>, then: Box<Expr>, els: Box<Expr> },
    Bool(bool),
    /// `(a, b, …)`.
    Tuple(Vec<Expr>),
    /// `(name = a, other = b, …)`: a tuple whose elements have names (`e.name`).
    Record(Vec<(Name, Expr)>),
    /// `e[i]`.
    Index { base: Box<Expr>, index: Box<Expr> },
    /// `e.0`.
    TupleIndex { base: Box<Expr>, index: u64 },
    /// `*e`.
    Deref(Box<Expr>),
    /// `&e`.
    AddrOf(Box<Expr>),
    /// `(type) e`.
    Cast { ty: TypeExpr, expr: Box<Expr> },
    /// `++e`, `e++`, `--e`, `e--`.
    IncDec { target: Box<Expr>, increment: bool, prefix: bool },
    SizeofType(TypeExpr),
    SizeofExpr(Box<Expr>),
    /// `offsetof(type, a.b.c)`.
    Offsetof { ty: TypeExpr, fields: Vec<Name> },
    /// `typeof(TYPE)` passed to a macro (`p_cast(typeof(uint8), -1)`): the expansion puts the
    /// type where the body names the parameter in a type. Anywhere else it is an error.
    TypeArg(TypeExpr),
    /// Statements run for their effect, then an expression, the value: a macro's body where
    /// its call is expanded (the span is the call's).
    Block { stmts: Vec<Stmt>, value: Box<Expr> },
}

impl Expr {
    /// The value of an integer expression of literals (`1`, `-1`, `1 - 1`, `(2 * 3)`), if it
    /// is one: a tuple's index (`$t[1 - 1]`), a string's.
    pub fn const_int(&self) -> Option<i64> {
        match &self.kind {
            ExprKind::Int(n) => i64::try_from(*n).ok(),
            ExprKind::Unary { op: UnOp::Neg, operand } => operand.const_int()?.checked_neg(),
            ExprKind::Binary { op, lhs, rhs } => {
                let (a, b) = (lhs.const_int()?, rhs.const_int()?);
                match op {
                    BinOp::Add => a.checked_add(b),
                    BinOp::Sub => a.checked_sub(b),
                    BinOp::Mul => a.checked_mul(b),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

impl ExprKind {
    /// Calls `f` with each expression directly inside this one (not those inside a block's
    /// statements).
    pub fn for_each_child(&self, f: &mut dyn FnMut(&Expr)) {
        match self {
            ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::Ident(_)
            | ExprKind::Var(_)
            | ExprKind::Bool(_)
            | ExprKind::SizeofType(_)
            | ExprKind::TypeArg(_)
            | ExprKind::Offsetof { .. } => {}
            ExprKind::Map(m) => m.keys.iter().for_each(f),
            ExprKind::Call { args, .. } | ExprKind::Tuple(args) => args.iter().for_each(f),
            ExprKind::Record(items) => items.iter().for_each(|(_, e)| f(e)),
            ExprKind::Field { base: e, .. }
            | ExprKind::Unary { operand: e, .. }
            | ExprKind::TupleIndex { base: e, .. }
            | ExprKind::Deref(e)
            | ExprKind::AddrOf(e)
            | ExprKind::Cast { expr: e, .. }
            | ExprKind::IncDec { target: e, .. }
            | ExprKind::SizeofExpr(e)
            | ExprKind::Block { value: e, .. } => f(e),
            ExprKind::Binary { lhs, rhs, .. } | ExprKind::Index { base: lhs, index: rhs } => {
                f(lhs);
                f(rhs);
            }
            ExprKind::Ternary { cond, then, els } => {
                f(cond);
                f(then);
                f(els);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Not,
    Neg,
    BitNot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
        }
    }
    pub fn is_comparison(self) -> bool {
        matches!(self, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge)
    }
}

/// Calls `f` on every expression of `stmts`, outermost first, each before its operands (a
/// rewrite that replaces an expression sees the replacement's operands next).
pub fn walk_stmts_mut(stmts: &mut [Stmt], f: &mut dyn FnMut(&mut Expr)) {
    for s in stmts {
        match &mut s.kind {
            StmtKind::AssignMap { map, value } => {
                map.keys.iter_mut().for_each(|k| walk_expr_mut(k, f));
                walk_expr_mut(value, f);
            }
            StmtKind::AssignVar { value, .. } => walk_expr_mut(value, f),
            StmtKind::CompoundAssign { target, value, .. } => {
                walk_expr_mut(target, f);
                walk_expr_mut(value, f);
            }
            StmtKind::If { cond, then, els } => {
                walk_expr_mut(cond, f);
                walk_stmts_mut(then, f);
                if let Some(els) = els {
                    walk_stmts_mut(els, f);
                }
            }
            StmtKind::While { cond: e, body } | StmtKind::Unroll { count: e, body } => {
                walk_expr_mut(e, f);
                walk_stmts_mut(body, f);
            }
            StmtKind::ForRange { start, end, body, .. } => {
                walk_expr_mut(start, f);
                walk_expr_mut(end, f);
                walk_stmts_mut(body, f);
            }
            StmtKind::ForMap { body, .. } | StmtKind::Block(body) => walk_stmts_mut(body, f),
            StmtKind::Let { value: Some(e), .. } | StmtKind::Expr(e) | StmtKind::Return(Some(e)) => walk_expr_mut(e, f),
            StmtKind::Let { value: None, .. } | StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => {}
        }
    }
}

/// `walk_stmts_mut` for one expression.
pub fn walk_expr_mut(e: &mut Expr, f: &mut dyn FnMut(&mut Expr)) {
    f(e);
    match &mut e.kind {
        ExprKind::Map(m) => m.keys.iter_mut().for_each(|k| walk_expr_mut(k, f)),
        ExprKind::Call { args: items, .. } | ExprKind::Tuple(items) => items.iter_mut().for_each(|a| walk_expr_mut(a, f)),
        ExprKind::Record(fields) => fields.iter_mut().for_each(|(_, v)| walk_expr_mut(v, f)),
        ExprKind::Field { base: inner, .. }
        | ExprKind::Unary { operand: inner, .. }
        | ExprKind::TupleIndex { base: inner, .. }
        | ExprKind::Deref(inner)
        | ExprKind::AddrOf(inner)
        | ExprKind::Cast { expr: inner, .. }
        | ExprKind::IncDec { target: inner, .. }
        | ExprKind::SizeofExpr(inner) => walk_expr_mut(inner, f),
        ExprKind::Binary { lhs, rhs, .. } | ExprKind::Index { base: lhs, index: rhs } => {
            walk_expr_mut(lhs, f);
            walk_expr_mut(rhs, f);
        }
        ExprKind::Ternary { cond, then, els } => {
            walk_expr_mut(cond, f);
            walk_expr_mut(then, f);
            walk_expr_mut(els, f);
        }
        ExprKind::Block { stmts, value } => {
            walk_stmts_mut(stmts, f);
            walk_expr_mut(value, f);
        }
        ExprKind::Int(_)
        | ExprKind::Str(_)
        | ExprKind::Ident(_)
        | ExprKind::Var(_)
        | ExprKind::Bool(_)
        | ExprKind::SizeofType(_)
        | ExprKind::TypeArg(_)
        | ExprKind::Offsetof { .. } => {}
    }
}
