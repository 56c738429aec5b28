//! Statements and blocks, as bpftrace 0.26's formatter lays them out: one statement a line,
//! the comments and blank lines before each kept on lines of their own, those at a block's
//! end after its last line; `if`, `while`, `for` and `unroll` bodies indented between ` {`
//! and `}`; `else if` chains joined.

use super::buffer::Buf;
use super::layout::Meta;
use super::{Formatter, INDENT};
use crate::parser::ast::{Expr, ExprKind, Stmt, StmtKind};

impl Formatter<'_> {
    /// The statements of a block whose `}` is at `close`, one a line; the comments left
    /// before `close` follow on the last line.
    pub(super) fn block(&mut self, stmts: &[Stmt], close: usize, width: usize) -> Buf {
        let buf = self.statements(stmts, width);
        let tail = self.meta.before(close);
        buf.meta_inline(tail)
    }

    fn statements(&mut self, stmts: &[Stmt], width: usize) -> Buf {
        let mut buf = Buf::new();
        for (i, s) in stmts.iter().enumerate() {
            let one = self.statement(s, width);
            if one.width() > 0 && i > 0 {
                buf = buf.line_break();
            }
            buf = buf.then(one);
        }
        buf
    }

    /// A block that ends with a value (a macro's body, a block expression): the statements,
    /// then the value on a line of its own.
    pub(super) fn block_with_value(&mut self, stmts: &[Stmt], value: Option<&Expr>, close: usize, width: usize) -> Buf {
        let mut buf = self.statements(stmts, width);
        if let Some(value) = value {
            let before = self.meta.before(value.span.start);
            let v = self.expr(value, width, true);
            let min = usize::from(buf.lines() > 0);
            buf = buf.meta_lines(before, min).then(v);
        }
        let tail = self.meta.before(close);
        buf.meta_inline(tail)
    }

    /// One statement, after the comments and blank lines before it. Comments inside a simple
    /// statement go before it too (bpftrace drops them).
    fn statement(&mut self, s: &Stmt, width: usize) -> Buf {
        let mut before = self.meta.before(s.span.start);
        let compound = matches!(
            s.kind,
            StmtKind::If { .. }
                | StmtKind::While { .. }
                | StmtKind::Unroll { .. }
                | StmtKind::ForRange { .. }
                | StmtKind::ForMap { .. }
                | StmtKind::Block(_)
        );
        if !compound {
            before.extend(self.meta.before(s.span.end).into_iter().filter(|m| *m != Meta::Vspace));
        }
        let body = self.statement_body(s, width);
        Buf::new().meta_lines(before, 0).then(body)
    }

    fn statement_body(&mut self, s: &Stmt, width: usize) -> Buf {
        match &s.kind {
            StmtKind::AssignMap { map, value } => {
                let target = self.map_ref(map, width);
                self.assignment(target, "=", value, width)
            }
            StmtKind::AssignVar { var, value } => self.assignment(Buf::new().text(var.name.clone()), "=", value, width),
            StmtKind::CompoundAssign { target, op, value } => {
                let target = self.expr(target, width, true);
                self.assignment(target, &format!("{}=", op.symbol()), value, width)
            }
            StmtKind::If { cond, then, els } if self.is_ternary_statement(s, cond) => {
                let (a, b) = (one_expr(then), els.as_deref().and_then(one_expr));
                match (a, b) {
                    (Some(a), Some(b)) => self.ternary(cond, a, b, width).text(";"),
                    _ => self.if_chain(s, width),
                }
            }
            StmtKind::If { .. } => self.if_chain(s, width),
            StmtKind::While { cond, body } => {
                let cond_buf = self.expr(cond, width.wrapping_sub(8), false);
                let block = self.body_after(cond.span.end, body, width);
                Buf::new().text("while ").then(cond_buf).text(" {").append(block, INDENT).text("}")
            }
            StmtKind::Unroll { count, body } => {
                let count_buf = self.expr(count, width.wrapping_sub(11), false);
                let block = self.body_after(count.span.end, body, width);
                Buf::new().text("unroll (").then(count_buf).text(") {").append(block, INDENT).text("}")
            }
            StmtKind::ForRange { var, start, end, body } => {
                let (a, b) = (self.range_end(start, width), self.range_end(end, width));
                let block = self.body_after(end.span.end, body, width);
                Buf::new()
                    .text(format!("for {} : ", var.name))
                    .then(a)
                    .text("..")
                    .then(b)
                    .text(" {")
                    .append(block, INDENT)
                    .text("}")
            }
            StmtKind::ForMap { var, map, body } => {
                let block = self.body_after(map.span.end, body, width);
                Buf::new().text(format!("for {} : {} {{", var.name, map.name)).append(block, INDENT).text("}")
            }
            StmtKind::Break => Buf::new().text("break;"),
            StmtKind::Continue => Buf::new().text("continue;"),
            StmtKind::Return(None) => Buf::new().text("return;"),
            StmtKind::Return(Some(e)) => {
                let value = self.expr(e, width.wrapping_sub(7), false);
                Buf::new().text("return ").then(value).text(";")
            }
            StmtKind::Let { var, ty, value } => {
                let mut buf = Buf::new().text(format!("let {}", var.name));
                if let Some(ty) = ty {
                    let ty = self.type_expr(ty, width);
                    buf = buf.text(" : ").then(ty);
                }
                match value {
                    Some(v) => self.assignment(buf, "=", v, width),
                    None => buf.text(";"),
                }
            }
            StmtKind::Block(stmts) => {
                let (_, close) = self.brace_after(s.span.start);
                let block = self.block(stmts, close, width.wrapping_sub(INDENT));
                braced(block, width)
            }
            StmtKind::Expr(e) if s.is_discard() => {
                let value = self.expr(e, width.wrapping_sub(4), true);
                Buf::new().text("_ = ").then(value).text(";")
            }
            StmtKind::Expr(e) => self.expr(e, width, true).text(";"),
        }
    }

    /// `TARGET OP VALUE;`.
    fn assignment(&mut self, target: Buf, op: &str, value: &Expr, width: usize) -> Buf {
        let w = width.wrapping_sub(target.width() + 2 + op.len());
        let value = self.expr(value, w, true);
        target.text(format!(" {op} ")).then(value).text(";")
    }

    /// The body of a loop whose header ends at `from`.
    fn body_after(&mut self, from: usize, body: &[Stmt], width: usize) -> Buf {
        let (_, close) = self.brace_after(from);
        self.block(body, close, width.wrapping_sub(INDENT))
    }

    /// A range's end: a literal as is, anything else in parentheses.
    fn range_end(&mut self, e: &Expr, width: usize) -> Buf {
        let literal = matches!(e.kind, ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Bool(_)) || is_negative_literal(e);
        match literal {
            true => self.expr(e, width, true),
            false => {
                let inner = self.expr(e, width.wrapping_sub(4), true);
                Buf::new().text("(").then(inner).text(")")
            }
        }
    }

    /// `c ? a : b;` as a statement, which the parser makes an `if` (its span starts at the
    /// condition, not at an `if` keyword).
    fn is_ternary_statement(&self, s: &Stmt, cond: &Expr) -> bool {
        let text = &self.src[s.span.start..];
        let keyword = text.starts_with("if") && !text[2..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        !keyword && s.span.start <= cond.span.start
    }

    /// `if C { … } else if C { … } else { … }`, always on several lines.
    fn if_chain(&mut self, s: &Stmt, width: usize) -> Buf {
        let mut buf = Buf::new();
        let mut at = s;
        let mut first = true;
        while let StmtKind::If { cond, then, els } = &at.kind {
            let (open, close) = self.brace_after(cond.span.end);
            let cond_buf = self.expr(cond, width.wrapping_sub(5), false);
            let before = self.meta.before(open);
            let block = self.block(then, close, width.wrapping_sub(INDENT));
            buf = buf
                .text(if first { "if " } else { " else if " })
                .then(cond_buf.meta_inline(before))
                .text(" {")
                .append(block, INDENT)
                .text("}");
            first = false;
            let Some(els) = els else { break };
            let (else_open, else_close) = self.brace_after(close + 1);
            match els.as_slice() {
                [inner @ Stmt { kind: StmtKind::If { .. }, .. }] if else_open > inner.span.start => at = inner,
                _ => {
                    let block = self.block(els, else_close, width.wrapping_sub(INDENT));
                    buf = buf.text(" else {").append(block, INDENT).text("}");
                    break;
                }
            }
        }
        buf
    }
}

/// A block statement or expression: `{ … }` on one line when it fits, else over several.
pub(super) fn braced(block: Buf, width: usize) -> Buf {
    if block.lines() > 1 || block.width() > width {
        Buf::new().text("{").append(block, INDENT).text("}")
    } else {
        Buf::new().text("{ ").then(block).text(" }")
    }
}

/// The expression of a branch holding one expression statement.
fn one_expr(stmts: &[Stmt]) -> Option<&Expr> {
    match stmts {
        [Stmt { kind: StmtKind::Expr(e), .. }] => Some(e),
        _ => None,
    }
}

/// `-N`, a negative literal.
pub(super) fn is_negative_literal(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Unary { op: crate::parser::ast::UnOp::Neg, operand } if matches!(operand.kind, ExprKind::Int(_)))
}
