//! Expressions, as bpftrace 0.26's formatter lays them out: an operand that is not a primary
//! expression (a literal, name, map, call, field, index…) is put in parentheses unless it
//! stands alone (a statement, an assignment's value, an argument, a predicate, a map key);
//! lists (arguments, `&&`/`||` chains, operators' operands, tuples) stay on one line when
//! they fit and otherwise break where the lines fit, continuation lines aligned under the
//! first; a call whose arguments still do not fit puts them on lines of their own.

use super::buffer::Buf;
use super::statements::{braced, is_negative_literal};
use super::{Formatter, INDENT};
use crate::parser::ast::{BinOp, Expr, ExprKind, MapRef, TypeExpr, TypeExprKind, UnOp};

impl Formatter<'_> {
    /// `e` within `width` columns; in parentheses unless `bare` or primary.
    pub(super) fn expr(&mut self, e: &Expr, width: usize, bare: bool) -> Buf {
        let bare = (bare && !matches!(e.kind, ExprKind::Tuple(_))) || is_primary(e);
        let local = if bare { width } else { width.wrapping_sub(2) };
        let inner = match &e.kind {
            ExprKind::Block { stmts, value } if elvis(stmts).is_none() => {
                let (_, close) = self.brace_after(e.span.start);
                let block = self.block_with_value(stmts, Some(value), close, width.wrapping_sub(INDENT));
                braced(block, local)
            }
            _ => self.value(e, local),
        };
        match bare {
            true => inner,
            false => Buf::new().text("(").then(inner).text(")"),
        }
    }

    fn value(&mut self, e: &Expr, width: usize) -> Buf {
        match &e.kind {
            ExprKind::Int(_) => Buf::new().text(&self.src[e.span.start..e.span.end]),
            ExprKind::Str(s) => Buf::new().text(format!("\"{}\"", escape(s))),
            ExprKind::Ident(n) | ExprKind::Var(n) => Buf::new().text(n.clone()),
            ExprKind::Bool(b) => Buf::new().text(b.to_string()),
            ExprKind::Map(m) => self.map_ref(m, width),
            ExprKind::Call { name, args } => self.call(&name.name, args, width),
            ExprKind::Field { base, field, arrow } => {
                let base = self.expr(base, width.wrapping_sub(field.name.len() + 1), false);
                base.text(if *arrow { "->" } else { "." }).text(field.name.clone())
            }
            ExprKind::Unary { op, operand } => {
                let sym = match op {
                    UnOp::Not => "!",
                    UnOp::Neg => "-",
                    UnOp::BitNot => "~",
                };
                self.prefixed(sym, operand, width)
            }
            ExprKind::Deref(operand) => self.prefixed("*", operand, width),
            ExprKind::AddrOf(operand) => self.prefixed("&", operand, width),
            ExprKind::IncDec { target, increment, prefix } => {
                let sym = if *increment { "++" } else { "--" };
                match prefix {
                    true => self.prefixed(sym, target, width),
                    false => self.expr(target, width.wrapping_sub(2), false).text(sym),
                }
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, width),
            ExprKind::Ternary { cond, then, els } => self.ternary(cond, then, els, width),
            ExprKind::Tuple(items) if items.len() == 1 => self.expr(&items[0], width.wrapping_sub(3), false).text(","),
            ExprKind::Tuple(items) => self.list(items, ",", width.wrapping_sub(INDENT + 1), |f, e, w| f.expr(e, w, false)),
            ExprKind::Record(fields) => {
                let elems = self.list(fields, ",", width.wrapping_sub(INDENT + 1), |f, (name, e), w| {
                    let v = f.expr(e, w.wrapping_sub(name.name.len() + 1), false);
                    Buf::new().text(format!("{}=", name.name)).then(v)
                });
                parenthesized(elems)
            }
            ExprKind::Index { base, index } => {
                let base = self.expr(base, width.wrapping_sub(1), false);
                let index = self.expr(index, width.wrapping_sub(INDENT), false);
                bracketed(base, index, width)
            }
            ExprKind::TupleIndex { base, index } => {
                let n = index.to_string();
                self.expr(base, width.wrapping_sub(n.len() + 1), false).text(format!(".{n}"))
            }
            ExprKind::Cast { ty, expr } => match container_of(ty, expr) {
                Some((ptr, ty, fields)) => {
                    let ptr = self.expr(ptr, width, true);
                    let ty = self.type_expr(ty, width);
                    Buf::new().text("container_of(").then(ptr).text(", ").then(ty).text(format!(", {fields})"))
                }
                None => {
                    let ty = self.type_expr(ty, width);
                    let head = Buf::new().text("(").then(ty).text(")");
                    let rest = width.wrapping_sub(head.width());
                    let value = self.expr(expr, rest, false);
                    head.then(value)
                }
            },
            ExprKind::SizeofType(ty) => {
                let ty = self.type_expr(ty, width);
                Buf::new().text("sizeof(").then(ty).text(")")
            }
            ExprKind::SizeofExpr(inner) => {
                // `sizeof(NAME)` and `sizeof(NAME[N])` would read as types.
                let typelike = match &inner.kind {
                    ExprKind::Ident(_) => true,
                    ExprKind::Index { base, .. } => matches!(base.kind, ExprKind::Ident(_)),
                    _ => false,
                };
                let inner = match typelike {
                    true => Buf::new().text("(").then(self.expr(inner, width.wrapping_sub(10), true)).text(")"),
                    false => self.expr(inner, width.wrapping_sub(8), true),
                };
                Buf::new().text("sizeof(").then(inner).text(")")
            }
            ExprKind::Offsetof { ty, fields } => {
                let ty = self.type_expr(ty, width);
                let path: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                Buf::new().text("offsetof(").then(ty).text(format!(", {})", path.join(".")))
            }
            ExprKind::TypeArg(ty) => {
                let ty = self.type_expr(ty, width);
                Buf::new().text("typeof(").then(ty).text(")")
            }
            ExprKind::Block { stmts, value } => match (elvis(stmts), &value.kind) {
                (Some(c), ExprKind::Ternary { els, .. }) => {
                    let c = self.expr(c, width, false);
                    let f = self.expr(els, width.wrapping_sub(4), false);
                    c.text(" ?: ").then(f)
                }
                // Not reached: `expr` lays out the other blocks.
                _ => self.expr(e, width, true),
            },
        }
    }

    /// `SYM OPERAND`.
    fn prefixed(&mut self, sym: &str, operand: &Expr, width: usize) -> Buf {
        let operand = self.expr(operand, width.wrapping_sub(sym.len()), false);
        Buf::new().text(sym).then(operand)
    }

    /// `@name` or `@name[KEYS]` (several keys separated by `,`, as bpftrace prints a tuple).
    pub(super) fn map_ref(&mut self, m: &MapRef, width: usize) -> Buf {
        let key = match m.keys.as_slice() {
            [] => return Buf::new().text(m.name.clone()),
            [one] => self.expr(one, width.wrapping_sub(INDENT), true),
            keys => self.list(keys, ",", width.wrapping_sub(INDENT).wrapping_sub(INDENT + 1), |f, e, w| f.expr(e, w, false)),
        };
        bracketed(Buf::new().text(m.name.clone()), key, width)
    }

    fn call(&mut self, name: &str, args: &[Expr], width: usize) -> Buf {
        let args = self.list(args, ", ", width.wrapping_sub(name.len() + 2), |f, e, w| f.expr(e, w, true));
        let head = Buf::new().text(format!("{name}("));
        match args.width() > width {
            true => head.append(args, INDENT).text(")"),
            false => head.then(args).text(")"),
        }
    }

    /// `a OP b`, a chain of one `&&` or `||` as one list. A comparison needs no parentheses
    /// as an operand of a logical or bitwise operator, nor a `<`-like one of `==`/`!=` (where
    /// C's precedence keeps its meaning); any other compound operand has them.
    fn binary(&mut self, op: BinOp, lhs: &Expr, rhs: &Expr, width: usize) -> Buf {
        let mut entries = Vec::new();
        let logical = matches!(op, BinOp::And | BinOp::Or);
        flatten(lhs, op, logical, &mut entries);
        flatten(rhs, op, logical, &mut entries);
        let sep = format!(" {} ", op.symbol());
        self.list(&entries, &sep, width, |f, e, w| {
            let bare = match &e.kind {
                ExprKind::Binary { op: inner, .. } if inner.is_comparison() => {
                    logical || matches!(op, BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor)
                        || (matches!(op, BinOp::Eq | BinOp::Ne) && !matches!(inner, BinOp::Eq | BinOp::Ne))
                }
                _ => false,
            };
            f.expr(e, w, bare)
        })
    }

    /// `c ? a : b`, over three lines when it does not fit on one.
    pub(super) fn ternary(&mut self, cond: &Expr, then: &Expr, els: &Expr, width: usize) -> Buf {
        let c = self.expr(cond, width, false);
        let a = self.expr(then, width.wrapping_sub(2), false);
        let b = self.expr(els, width.wrapping_sub(2), false);
        match c.width() + a.width() + b.width() + 8 > width {
            true => c.line_break().text("? ").then(a).line_break().text(": ").then(b),
            false => c.text(" ? ").then(a).text(" : ").then(b),
        }
    }

    /// Items separated by `sep` (after each but the last): on one line if they fit in
    /// `width`; else broken into lines that fit, the last lines as full as they can be (the
    /// arrangement bpftrace's search settles on); if some item is too wide alone, one line.
    pub(super) fn list<T>(&mut self, items: &[T], sep: &str, width: usize, mut f: impl FnMut(&mut Self, &T, usize) -> Buf) -> Buf {
        let n = items.len();
        let mut bufs = Vec::with_capacity(n);
        for (i, item) in items.iter().enumerate() {
            let last = i + 1 == n;
            let b = f(self, item, if last { width } else { width.wrapping_sub(1) });
            bufs.push(if last { b } else { b.text(sep) });
        }
        let widths: Vec<usize> = bufs.iter().map(Buf::width).collect();
        let total: usize = widths.iter().sum();
        let mut breaks = vec![false; n];
        if total >= width && widths.iter().all(|w| *w <= width) {
            // Fill lines from the end: each line as long as fits.
            let mut end = n;
            while end > 0 {
                let mut start = end - 1;
                let mut line = widths[start];
                while start > 0 && line + widths[start - 1] <= width {
                    start -= 1;
                    line += widths[start];
                }
                breaks[start] = start > 0;
                end = start;
            }
        }
        let mut out = Buf::new();
        for (i, b) in bufs.into_iter().enumerate() {
            if breaks[i] {
                out = out.line_break();
            }
            out = out.then(b);
        }
        out
    }

    pub(super) fn type_expr(&mut self, t: &TypeExpr, width: usize) -> Buf {
        match &t.kind {
            TypeExprKind::Named(n) => Buf::new().text(n.clone()),
            TypeExprKind::Tagged { tag, name } => Buf::new().text(format!("{tag} {name}")),
            TypeExprKind::Pointer(inner) => self.type_expr(inner, width).text("*"),
            TypeExprKind::Array(inner, n) => {
                let len = n.map(|n| n.to_string()).unwrap_or_default();
                self.type_expr(inner, width).text(format!("[{len}]"))
            }
            TypeExprKind::Typeof(e) => {
                let e = self.expr(e, width.wrapping_sub(8), true);
                Buf::new().text("typeof(").then(e).text(")")
            }
        }
    }
}

/// The operands of a chain of `op` (only `&&`/`||` chain).
fn flatten<'e>(e: &'e Expr, op: BinOp, logical: bool, out: &mut Vec<&'e Expr>) {
    match &e.kind {
        ExprKind::Binary { op: inner, lhs, rhs } if logical && *inner == op => {
            flatten(lhs, op, logical, out);
            flatten(rhs, op, logical, out);
        }
        _ => out.push(e),
    }
}

/// `BASE[INDEX]`, the index on lines of its own when it does not fit.
fn bracketed(base: Buf, index: Buf, width: usize) -> Buf {
    match base.width() + index.width() + 2 > width {
        true => base.text("[").append(index, INDENT).text("]"),
        false => base.text("[").then(index).text("]"),
    }
}

fn parenthesized(elems: Buf) -> Buf {
    match elems.lines() > 1 {
        true => Buf::new().text("(").append(elems, INDENT).text(")"),
        false => Buf::new().text("(").then(elems).text(")"),
    }
}

/// Whether `e` needs no parentheses as an operand: a literal, a name, a map, a call, a
/// field, an index, `sizeof`/`offsetof` (bpftrace's "primitive" expressions).
fn is_primary(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Int(_)
        | ExprKind::Str(_)
        | ExprKind::Bool(_)
        | ExprKind::Ident(_)
        | ExprKind::Var(_)
        | ExprKind::Map(_)
        | ExprKind::Call { .. }
        | ExprKind::Field { .. }
        | ExprKind::Index { .. }
        | ExprKind::TupleIndex { .. }
        | ExprKind::SizeofType(_)
        | ExprKind::SizeofExpr(_)
        | ExprKind::Offsetof { .. }
        | ExprKind::TypeArg(_) => true,
        ExprKind::Cast { ty, expr } => container_of(ty, expr).is_some(),
        _ => is_negative_literal(e),
    }
}

/// The condition of `c ?: f`, which the parser makes `{ let $elvis@N = c; … }`.
fn elvis(stmts: &[crate::parser::ast::Stmt]) -> Option<&Expr> {
    use crate::parser::ast::StmtKind;
    match stmts {
        [s] => match &s.kind {
            StmtKind::Let { var, value: Some(c), .. } if var.name.starts_with("$elvis@") => Some(c),
            _ => None,
        },
        _ => None,
    }
}

/// `container_of(ptr, type, member)`, which the parser writes out as
/// `(type *)((uint64)ptr - offsetof(type, member))` with the `uint64` cast spanning `ptr`.
fn container_of<'e>(ty: &'e TypeExpr, e: &'e Expr) -> Option<(&'e Expr, &'e TypeExpr, String)> {
    let TypeExprKind::Pointer(target) = &ty.kind else { return None };
    let ExprKind::Binary { op: BinOp::Sub, lhs, rhs } = &e.kind else { return None };
    let ExprKind::Cast { ty: to_u64, expr: ptr } = &lhs.kind else { return None };
    let ExprKind::Offsetof { fields, .. } = &rhs.kind else { return None };
    let generated = to_u64.span == ptr.span && matches!(&to_u64.kind, TypeExprKind::Named(n) if n == "uint64");
    let path: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    generated.then(|| (&**ptr, &**target, path.join(".")))
}

/// A string's text between its quotes: `\\`, `\"`, `\n`, `\t`, `\r`, and `\xNN` for other
/// control characters (bpftrace's escapes); other characters as they are.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}
