//! The parser: tokens to the AST (`ast`), by the lalrpop grammar in `grammar.lalrpop`.
//! One entry point, [`parse`]; lexer and parser errors come back as diagnostics. The parser
//! knows nothing of probes' meaning, of the kernel, or of LLVM.

pub mod ast;
pub mod getopt;
pub mod imports;
mod macros;
mod tally;

use crate::diag::{Diagnostic, Span};
use crate::lexer::preprocess::preprocess;
use crate::lexer::{Lexer, Tok};
use ast::Program;
use lalrpop_util::{lalrpop_mod, ParseError};
use std::cell::{Cell, RefCell};
pub(crate) use tally::Tally;

lalrpop_mod!(
    #[allow(clippy::all, unused_parens, unused_imports, dead_code)]
    grammar,
    "/parser/grammar.rs"
);

/// Errors the grammar's actions hand to lalrpop. (The lexer's errors are tokens,
/// `Tok::Error`, which no rule accepts.)
#[derive(Debug, Clone)]
pub enum SyntaxError {
    /// The left side of `=` is not a map or a variable.
    BadAssignTarget(Span),
    /// `for ($x : …)` over something that is neither a range nor a whole map.
    BadForSource(Span),
    /// `e[a, b]` where `e` is not a map.
    MultiIndex(Span),
    /// A block expression whose last statement is not an expression (or ends with `;`).
    BlockWithoutValue(Span),
}

/// Syntax errors the grammar recovered from, in the order met, and how many there were so
/// far (which the token stream reads, to stop at `MAX_ERRORS`).
pub(crate) struct Errors<'a> {
    list: Vec<LalrError<'a>>,
    count: std::rc::Rc<Cell<usize>>,
}

impl<'a> Errors<'a> {
    pub(crate) fn push(&mut self, e: LalrError<'a>) {
        self.count.set(self.count.get() + 1);
        self.list.push(e);
    }
}

/// Errors after which parsing stops (clang's default limit): recovery costs a lalrpop table
/// walk per error, and a `#define` that expands to thousands of stray tokens would otherwise
/// take seconds and print an error for each (found by fuzzing).
const MAX_ERRORS: usize = 20;

/// Parses a whole script. Every lexer error and every syntax error the parser could recover
/// from is reported, in order, followed by the one that ended parsing, if any.
pub fn parse(src: &str) -> Result<Program, Vec<Diagnostic>> {
    parse_within(src, &crate::limits::Limits::default())
}

/// As [`parse`], within `limits`' nesting depth and number of statements: past either, the
/// parse stops and fails with that limit's diagnostic alone.
pub fn parse_within(src: &str, limits: &crate::limits::Limits) -> Result<Program, Vec<Diagnostic>> {
    let mut p = parse_file(src, 0, limits)?;
    expand_macros(&mut p)?;
    Ok(p)
}

/// Expands the macro calls of a parsed program (`parse_file`'s, with its imports).
pub(crate) fn expand_macros(p: &mut Program) -> Result<(), Vec<Diagnostic>> {
    let diags = macros::expand(p);
    bare_stdlib_calls(p);
    match diags.is_empty() {
        true => Ok(()),
        false => Err(diags),
    }
}

/// Functions that bpftrace 0.26 defines as standard-library macros with a form without
/// parameters, which a bare name calls (language.md "Macros": "bare identifier works if the
/// macro accepts 0 args"): `dw_ustack` is `dw_ustack()`. A script's own macro of that name was
/// expanded first, as a user macro overrides the standard library's.
const BARE_CALLS: &[&str] = &["dw_ustack"];

fn bare_stdlib_calls(p: &mut Program) {
    let mut rewrite = |e: &mut ast::Expr| {
        if let ast::ExprKind::Ident(name) = &e.kind {
            if BARE_CALLS.contains(&name.as_str()) {
                let name = ast::Name { name: name.clone(), span: e.span };
                e.kind = ast::ExprKind::Call { name, args: Vec::new() };
            }
        }
    };
    for probe in &mut p.probes {
        if let Some(pred) = &mut probe.predicate {
            ast::walk_expr_mut(pred, &mut rewrite);
        }
        ast::walk_stmts_mut(&mut probe.body, &mut rewrite);
    }
}

/// One file of a script, parsed, its macro calls not yet expanded (an imported file's macros
/// may be called). Expression ids start at `first_id`. `src` is the file's text, after as
/// many blanks as there are bytes before it in the script's combined text (`imports`), so
/// that spans point there.
pub(crate) fn parse_file(src: &str, first_id: u32, limits: &crate::limits::Limits) -> Result<Program, Vec<Diagnostic>> {
    parse_text(src, first_id, limits, true)
}

/// A script as written, for `--fmt`: macro calls not expanded, `#define`d names not replaced
/// (they stay names), imports not read. A script whose `#define`s must be replaced to parse
/// is parsed with them replaced.
pub(crate) fn parse_unexpanded(src: &str, limits: &crate::limits::Limits) -> Result<Program, Vec<Diagnostic>> {
    parse_text(src, 0, limits, false).or_else(|_| parse_text(src, 0, limits, true))
}

fn parse_text(src: &str, first_id: u32, limits: &crate::limits::Limits, defines: bool) -> Result<Program, Vec<Diagnostic>> {
    let pre = preprocess(src).map_err(|d| vec![d])?;
    let no_defines = std::collections::HashMap::new();
    let defines = if defines { &pre.defines } else { &no_defines };
    let ids = Tally::new(limits, first_id);
    // Where the probe body still open began: the script ending inside a body that already
    // had an error is that error's echo (a skipped `{` or `}`), not news.
    let open_body = Cell::new(usize::MAX);
    // Every lexer error. The parser meets most of them as the token it did not expect; those
    // it skipped while recovering from an earlier error are added from here.
    let lex_errors = RefCell::new(Vec::new());
    let count = std::rc::Rc::new(Cell::new(0));
    let stopped = Cell::new(false);
    let tokens = Lexer::with_defines(&pre.text, defines)
        .inspect(|t| {
            ids.token(t.0, &t.1, t.2);
            match t {
                (l, Tok::BodyOpen | Tok::AngleOpen, _) => open_body.set(*l),
                (_, Tok::BodyClose | Tok::AngleClose, _) => open_body.set(usize::MAX),
                (_, Tok::Error(e), _) => lex_errors.borrow_mut().push(e.clone()),
                _ => {}
            }
        })
        // Past MAX_ERRORS errors, or past an input limit, the script ends here, for the parser.
        .take_while(|_| {
            let more = count.get().max(lex_errors.borrow().len()) < MAX_ERRORS && !ids.stopped();
            stopped.set(!more);
            more
        })
        .map(Ok::<_, SyntaxError>);
    let mut errors = Errors { list: Vec::new(), count: count.clone() };
    let result = grammar::ProgramParser::new().parse(&ids, &mut errors, tokens);
    if let Some(limit) = ids.diagnostic() {
        return Err(vec![limit]);
    }
    let program = match result {
        Ok(p) => Some(p),
        Err(ParseError::UnrecognizedEof { .. }) if stopped.get() => None,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let mut diags = Vec::new();
    let mut lex_errors = lex_errors.into_inner().into_iter().peekable();
    for (i, e) in errors.list.into_iter().enumerate() {
        // The lexer errors before this one that the parser skipped.
        let at = error_start(&e);
        while let Some(skipped) = lex_errors.next_if(|l| at.is_none_or(|at| l.span.start < at)) {
            diags.push(skipped.to_diagnostic());
        }
        if let ParseError::UnrecognizedToken { token: (_, Tok::Error(_), _), .. } = e {
            lex_errors.next();
        }
        let echo = i > 0
            && matches!(e, ParseError::UnrecognizedEof { .. })
            && diags.last().is_some_and(|d: &Diagnostic| d.primary.as_ref().is_some_and(|(s, _)| s.start >= open_body.get()));
        if !echo {
            diags.push(to_diagnostic(&pre.text, e));
        }
    }
    diags.extend(lex_errors.map(|l| l.to_diagnostic()));
    crate::diag::dedup(&mut diags);
    if stopped.get() {
        diags.push(Diagnostic::error("too many errors; stopping here").note(format!(
            "parsing stops after {MAX_ERRORS} errors; the same error at the same place is shown once"
        )));
    }
    match program {
        Some(p) if diags.is_empty() => Ok(p),
        _ => Err(diags),
    }
}

type LalrError<'a> = ParseError<usize, Tok<'a>, SyntaxError>;

/// Where a parser error is, if it is at a token (`None`: at the end of the script).
fn error_start(e: &LalrError) -> Option<usize> {
    match e {
        ParseError::UnrecognizedToken { token: (l, ..), .. } | ParseError::ExtraToken { token: (l, ..) } => Some(*l),
        ParseError::InvalidToken { location } => Some(*location),
        ParseError::UnrecognizedEof { .. } => None,
        ParseError::User { error } => Some(match error {
            SyntaxError::BadAssignTarget(s)
            | SyntaxError::BadForSource(s)
            | SyntaxError::MultiIndex(s)
            | SyntaxError::BlockWithoutValue(s) => s.start,
        }),
    }
}

fn friendly(terminal: &str) -> String {
    let t = terminal.trim_matches('"');
    match t {
        "body}" => "`}`".into(),
        "body>" => "`>`".into(),
        "pred/" | "/pred" => "`/`".into(),
        "body{" | "expr{" => "`{`".into(),
        "body<" => "`<`".into(),
        "attach point" | "identifier" | "map" | "variable" | "integer" | "string" | "type name" | "field name" => t.to_string(),
        "op=" => "an assignment operator".into(),
        "C definition" => "a struct definition".into(),
        other => format!("`{}`", other.replace("\\\"", "\"")),
    }
}

fn expected_help(expected: &[String]) -> Option<String> {
    let mut names: Vec<String> = expected.iter().map(|e| friendly(e)).collect();
    names.dedup();
    let exprish = ["identifier", "integer", "string", "variable", "map"];
    if exprish.iter().all(|x| names.iter().any(|n| n == x)) {
        let starters = ["`(`", "`{`", "`!`", "`-`", "`~`", "`*`", "`&`", "`++`", "`--`", "`true`", "`false`", "`sizeof`", "`offsetof`", "`container_of`", "`typeof`"];
        names.retain(|n| !exprish.contains(&n.as_str()) && !starters.contains(&n.as_str()));
        names.insert(0, "an expression".into());
    }
    match names.len() {
        0 => None,
        1 => Some(format!("expected {}", names[0])),
        n if n <= 6 => Some(format!("expected one of {}", names.join(", "))),
        _ => None,
    }
}

fn to_diagnostic(src: &str, err: LalrError) -> Diagnostic {
    match err {
        ParseError::UnrecognizedToken { token: (_, Tok::Error(e), _), .. } | ParseError::ExtraToken { token: (_, Tok::Error(e), _) } => {
            e.to_diagnostic()
        }
        ParseError::User { error: SyntaxError::BadAssignTarget(span) } => {
            Diagnostic::error("cannot assign to this expression")
                .at(span, "not a map or a variable")
                .help("assign to a map (`@name = …`, `@name[key] = …`) or a variable (`$name = …`)")
        }
        ParseError::User { error: SyntaxError::BadForSource(span) } => Diagnostic::error("`for` loops over a range or a map")
            .at(span, "neither a range nor a map")
            .help("write `for ($i : 0..10) { … }` or `for ($kv : @map) { … }`"),
        ParseError::User { error: SyntaxError::MultiIndex(span) } => Diagnostic::error("only maps take several keys")
            .at(span, "several indexes")
            .help("index arrays and pointers with one expression: `e[i]`"),
        ParseError::User { error: SyntaxError::BlockWithoutValue(span) } => {
            Diagnostic::error("a block used as a value must end with an expression")
                .at(span, "this block has no value")
                .help("end the block with an expression and no `;` after it: `{ let $b = 1; $b }`")
        }
        ParseError::InvalidToken { location } => {
            Diagnostic::error("syntax error: invalid token").at(Span::new(location, location + 1), "here")
        }
        ParseError::UnrecognizedEof { location, expected } => {
            let mut d = Diagnostic::error("syntax error: unexpected end of script")
                .at(Span::new(location, location), "the script ends here");
            if let Some(h) = expected_help(&expected) {
                d = d.help(h);
            }
            if unclosed_angle_body(src) {
                d = d.help("in a `< … >` body, `>` closes the body only where a statement can begin: end the last statement with `;`");
            }
            d
        }
        ParseError::UnrecognizedToken { token: (l, tok, r), expected } => {
            let what = tok.describe();
            let mut d =
                Diagnostic::error(format!("syntax error: unexpected {what}")).at(Span::new(l, r), "unexpected here");
            if let Some(h) = expected_help(&expected) {
                d = d.help(h);
            }
            d
        }
        ParseError::ExtraToken { token: (l, tok, r) } => {
            Diagnostic::error(format!("syntax error: unexpected {}", tok.describe())).at(Span::new(l, r), "unexpected here")
        }
    }
}

/// Whether the script opens a `< … >` body that the lexer never saw close.
fn unclosed_angle_body(src: &str) -> bool {
    let mut open = 0i32;
    for t in Lexer::new(src) {
        match t.1 {
            Tok::AngleOpen => open += 1,
            Tok::AngleClose => open -= 1,
            _ => {}
        }
    }
    open > 0
}

/// Helpers the grammar's actions call.
pub(crate) mod mk {
    use super::{Errors, SyntaxError, Tally};
    use crate::diag::Span;
    use crate::parser::ast::*;
    use lalrpop_util::ParseError;

    /// A top-level item, before the program sorts them.
    pub enum Item {
        Probe(Probe),
        CDef(CDefinition),
        Macro(Macro),
        MapDecl(MapDecl),
        Config(ConfigBlock),
        Import(Import),
        /// What error recovery skipped.
        Error,
    }

    /// The statement left where a syntax error was: never checked, as `parse()` fails.
    pub fn placeholder(span: Span) -> Stmt {
        Stmt { kind: StmtKind::Block(vec![]), span }
    }

    pub fn program(items: Vec<Item>, expr_count: u32) -> Program {
        let mut probes = Vec::new();
        let mut c_definitions = Vec::new();
        let mut macros = Vec::new();
        let mut map_decls = Vec::new();
        let mut config = Vec::new();
        let mut imports = Vec::new();
        for item in items {
            match item {
                Item::Probe(p) => probes.push(p),
                Item::CDef(d) => c_definitions.push(d),
                Item::Macro(m) => macros.push(m),
                Item::MapDecl(d) => map_decls.push(d),
                Item::Config(mut c) => {
                    c.misplaced = !(probes.is_empty() && macros.is_empty() && map_decls.is_empty());
                    config.push(c);
                }
                Item::Import(mut i) => {
                    i.misplaced = !(probes.is_empty() && macros.is_empty() && map_decls.is_empty());
                    imports.push(i);
                }
                Item::Error => {}
            }
        }
        Program { probes, c_definitions, macros, map_decls, config, imports, c_sources: Vec::new(), expr_count }
    }

    /// An attach point, `NAME=` split off its front.
    pub fn attach_point(text: &str, l: usize, r: usize) -> AttachPoint {
        let name_end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(0);
        let named = name_end > 0 && text[name_end..].starts_with('=') && !text.starts_with(|c: char| c.is_ascii_digit());
        match named {
            true => AttachPoint {
                text: text[name_end + 1..].to_string(),
                span: Span::new(l + name_end + 1, r),
                name: Some(text[..name_end].to_string()),
            },
            false => AttachPoint { text: text.to_string(), span: Span::new(l, r), name: None },
        }
    }

    pub fn binop(op: &str) -> BinOp {
        match op {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            "%" => BinOp::Mod,
            "&" => BinOp::BitAnd,
            "|" => BinOp::BitOr,
            "^" => BinOp::BitXor,
            "<<" => BinOp::Shl,
            _ => BinOp::Shr,
        }
    }

    /// A block statement, before checks the grammar cannot express.
    pub enum Compound {
        Done(StmtKind),
        /// `for ($v : EXPR)`: EXPR must be a map.
        ForMap { var: Name, map: Expr, body: Vec<Stmt> },
    }

    /// Records an error found by an action; parsing goes on.
    fn error(errors: &mut Errors, error: SyntaxError) {
        errors.push(ParseError::User { error });
    }

    pub fn compound(errors: &mut Errors, c: Compound, span: Span) -> Stmt {
        let kind = match c {
            Compound::Done(k) => k,
            Compound::ForMap { var, map, body } => match map.kind {
                ExprKind::Map(map) if map.keys.is_empty() => StmtKind::ForMap { var, map, body },
                _ => {
                    error(errors, SyntaxError::BadForSource(map.span));
                    return placeholder(span);
                }
            },
        };
        Stmt { kind, span }
    }

    /// `base[i, …]`: the keys of a map, or an index into an array or pointer.
    pub fn index(ids: &Tally, errors: &mut Errors, base: Expr, mut index: Vec<Expr>, l: usize, r: usize) -> Expr {
        let kind = match base.kind {
            ExprKind::Map(mut map) if map.keys.is_empty() => {
                map.keys = index;
                map.span = Span::new(l, r);
                ExprKind::Map(map)
            }
            kind if index.len() == 1 => {
                let base = Expr { kind, ..base };
                ExprKind::Index { base: Box::new(base), index: Box::new(index.remove(0)) }
            }
            _ => {
                error(errors, SyntaxError::MultiIndex(Span::new(l, r)));
                ExprKind::Bool(false)
            }
        };
        expr(ids, kind, l, r)
    }

    /// `{ stmts; value }` as an expression.
    pub fn block(ids: &Tally, errors: &mut Errors, body: (Vec<Stmt>, Option<Expr>), l: usize, r: usize) -> Expr {
        let value = match body.1 {
            Some(v) => v,
            None => {
                error(errors, SyntaxError::BlockWithoutValue(Span::new(l, r)));
                expr(ids, ExprKind::Int(0), l, r)
            }
        };
        expr(ids, ExprKind::Block { stmts: body.0, value: Box::new(value) }, l, r)
    }

    /// An expression statement. `c ? a : b;` is `if c { a; } else { b; }`: its value is not
    /// used, so its branches may have none (`$a == 1 ? print("t") : print("f");`, 0.26).
    pub fn expr_stmt(e: Expr, span: Span) -> Stmt {
        let kind = match e.kind {
            ExprKind::Ternary { cond, then, els } => {
                let branch = |x: Box<Expr>| vec![Stmt { span: x.span, kind: StmtKind::Expr(*x) }];
                StmtKind::If { cond: *cond, then: branch(then), els: Some(branch(els)) }
            }
            kind => StmtKind::Expr(Expr { kind, ..e }),
        };
        Stmt { kind, span }
    }

    /// `c ?: f`: `{ let $v = c; $v ? $v : f }`, `$v` a variable of its own (`@` in its name:
    /// no script can write it).
    pub fn elvis(ids: &Tally, c: Expr, f: Expr, l: usize, r: usize) -> Expr {
        let (name, span) = (format!("$elvis@{l}"), c.span);
        let var = || Box::new(ids.expr(ExprKind::Var(name.clone()), span));
        let value = expr(ids, ExprKind::Ternary { cond: var(), then: var(), els: Box::new(f) }, l, r);
        let var_name = Name { name: name.clone(), span };
        let stmt = Stmt { kind: StmtKind::Let { var: var_name, ty: None, value: Some(c) }, span };
        expr(ids, ExprKind::Block { stmts: vec![stmt], value: Box::new(value) }, l, r)
    }

    pub fn expr(ids: &Tally, kind: ExprKind, l: usize, r: usize) -> Expr {
        ids.expr(kind, Span::new(l, r))
    }

    /// `container_of(ptr, type, member)`, written out as bpftrace's macro is:
    /// `(type *)((uint64)ptr - offsetof(type, member))`.
    pub fn container_of(ids: &Tally, ptr: Expr, ty: TypeExpr, fields: Vec<Name>, l: usize, r: usize) -> Expr {
        let span = ptr.span;
        let uint64 = TypeExpr { kind: TypeExprKind::Named("uint64".into()), span };
        let address = ids.expr(ExprKind::Cast { ty: uint64, expr: Box::new(ptr) }, span);
        let offset = expr(ids, ExprKind::Offsetof { ty: ty.clone(), fields }, l, r);
        let member_at = expr(ids, ExprKind::Binary { op: BinOp::Sub, lhs: Box::new(address), rhs: Box::new(offset) }, l, r);
        let to = TypeExpr { span: ty.span, kind: TypeExprKind::Pointer(Box::new(ty)) };
        expr(ids, ExprKind::Cast { ty: to, expr: Box::new(member_at) }, l, r)
    }

    pub fn assign(errors: &mut Errors, target: Expr, value: Expr, span: Span) -> Stmt {
        let kind = match target.kind {
            ExprKind::Map(map) => StmtKind::AssignMap { map, value },
            ExprKind::Var(name) => StmtKind::AssignVar { var: Name { name, span: target.span }, value },
            // `_ = e`: the value is discarded (0.25's discard expression; `Stmt::is_discard`).
            ExprKind::Ident(name) if name == "_" => StmtKind::Expr(value),
            _ => {
                error(errors, SyntaxError::BadAssignTarget(target.span));
                return placeholder(span);
            }
        };
        Stmt { kind, span }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ast::*;

    #[test]
    fn precedence() {
        let p = parse("BEGIN { $x = 1 + 2 * 3 == 7 && !0; }").unwrap();
        let StmtKind::AssignVar { value, .. } = &p.probes[0].body[0].kind else { panic!() };
        let ExprKind::Binary { op: BinOp::And, lhs, .. } = &value.kind else { panic!("{value:?}") };
        let ExprKind::Binary { op: BinOp::Eq, lhs, .. } = &lhs.kind else { panic!() };
        assert!(matches!(lhs.kind, ExprKind::Binary { op: BinOp::Add, .. }));
    }

    #[test]
    fn angle_bodies_and_if_else() {
        let p = parse("BEGIN < if ($a > 1) { @x = count(); } else { @y = 1; } > END { exit() }").unwrap();
        assert_eq!(p.probes.len(), 2);
        assert!(matches!(p.probes[0].body[0].kind, StmtKind::If { els: Some(_), .. }));
    }

    #[test]
    fn several_attach_points_and_predicate() {
        let p = parse("tracepoint:a:b, tracepoint:a:c /pid == 1/ { @[comm, pid] = count(); }").unwrap();
        assert_eq!(p.probes[0].attach_points.len(), 2);
        assert!(p.probes[0].predicate.is_some());
    }

    #[test]
    fn expression_ids_are_distinct() {
        let p = parse("BEGIN { printf(\"%d %d\\n\", 1, 2); }").unwrap();
        assert_eq!(p.expr_count, 4);
    }

    #[test]
    fn errors() {
        let e = &parse("BEGIN { 1 = 2; }").unwrap_err()[0];
        assert_eq!(e.message, "cannot assign to this expression");
        let e = &parse("BEGIN < @x = 1 >").unwrap_err()[0];
        assert!(e.notes.iter().any(|n| n.contains("end the last statement with `;`")));
    }

    #[test]
    fn macros_expand_hygienically() {
        let p = parse("macro f($v, x) { let $t = x; $v = $t; $t } BEGIN { $t = 1; $y = f($t, 2); }").unwrap();
        let StmtKind::AssignVar { value, .. } = &p.probes[0].body[1].kind else { panic!() };
        let ExprKind::Block { stmts, value } = &value.kind else { panic!("{value:?}") };
        let StmtKind::Let { var, .. } = &stmts[0].kind else { panic!() };
        assert_eq!(var.name, "$t@f#1");
        let StmtKind::AssignVar { var, .. } = &stmts[1].kind else { panic!() };
        assert_eq!(var.name, "$t");
        assert!(matches!(&value.kind, ExprKind::Var(v) if v == "$t@f#1"));
        // Expression ids stay distinct.
        assert!(p.expr_count > 8);
        // `;` after the last expression: no value.
        assert!(parse("macro g() { 1; } BEGIN { $x = g(); }").is_err());
        assert!(parse("macro g() { 1 } BEGIN { $x = g; }").is_ok());
    }

    fn error_count(src: &str) -> usize {
        parse(src).unwrap_err().len()
    }

    #[test]
    fn recovery_reports_each_error_once() {
        // Statements, in a body and in a nested block; a predicate; an attach-point list.
        assert_eq!(error_count("BEGIN { $a = 1 +; $b = (2; if (1) { $c = ); } $d = 3 }"), 3);
        assert_eq!(error_count("t:a:b /pid == / { $a = 1 +; }"), 2);
        assert_eq!(error_count("BEGIN, { $a = 1; } END { $b = ; }"), 2);
        assert_eq!(error_count("BEGIN { @x = 1 + ; } END"), 2);
        // One typo, one error: a skipped `{ … }` group, a body that is never closed, a
        // missing `;`, a predicate that is never closed, a lexer error after a parser error.
        assert_eq!(error_count("BEGIN { if ($x > 1 { @a = 1; } else { @b = 2; } @c = 3; }"), 1);
        assert_eq!(error_count("BEGIN { @x = 1; END { @y = 1; }"), 1);
        assert_eq!(error_count("BEGIN { @x = 1 @y = 2; @z = 3; }"), 1);
        assert_eq!(error_count("t:a:b /pid == 1 { @x = 1; }"), 1);
        assert_eq!(error_count("BEGIN { @x = 1 +; @y = \"abc; }"), 2);
    }

    #[test]
    fn lexer_errors_do_not_stop_parsing() {
        // Lexer errors, each reported once, in order with the parser's.
        let messages = |src| parse(src).unwrap_err().into_iter().map(|d| d.message).collect::<Vec<_>>();
        assert_eq!(
            messages("BEGIN { $a = `1; @b = 1 +; @c = \"x\\q\"; $ = 2; @d = 3 }"),
            [
                "unexpected character `` ` ``",
                "syntax error: unexpected `;`",
                "unknown escape `\\q`",
                "unexpected character `$`"
            ]
        );
        // A lexer error in what recovery skips is still reported, and does not unbalance the
        // skipped `{ … }` group (which would report its `}` as unexpected).
        assert_eq!(messages("BEGIN { @x = 1 +; @y = \"abc; }\nEND { @z = 99999999999999999999999; }").len(), 3);
        assert_eq!(error_count("BEGIN { if (`) { @a = 1; } else { @b = $; } @c = 3; }"), 2);
        // In a predicate, in a `< … >` body, at the top level, after a macro's header.
        assert_eq!(error_count("t:a:b /pid == `/ { @a = 1 # 2; }"), 2);
        assert_eq!(error_count("BEGIN < @a = ` ; > END < @b = $ >"), 2);
        assert_eq!(error_count("BEGIN { @a = 1; } } END { @b = $; }"), 2);
        assert_eq!(error_count("macro f(`) { 1 } BEGIN { @x = f(1) ` }"), 2);
        // An unterminated comment ends the script; the body it leaves open is not news.
        assert_eq!(error_count("BEGIN { @a = ` + 1; /* x"), 2);
    }
}
