//! What the parser counts as it builds the tree: expression ids, how deeply each expression
//! nests, how many brackets are open, how many statements there are. The first input limit
//! met (`crate::limits`) is kept with its place, and the token stream ends there: the tree is
//! never built deeper or larger than the limits (recursing over a deeper one, or dropping it,
//! would overflow the stack), and the parse fails with the limit's diagnostic.

use super::ast::{Expr, ExprKind, Stmt};
use crate::diag::{Diagnostic, Span};
use crate::lexer::Tok;
use crate::limits::Limits;
use std::cell::{Cell, RefCell};

/// A limit the script went past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exceeded {
    Nesting,
    Statements,
}

/// Shared by the grammar's actions (a parameter of the grammar) and the token stream.
pub(crate) struct Tally {
    next_id: Cell<u32>,
    /// Each expression's depth (a leaf is 1), by id.
    depths: RefCell<Vec<u32>>,
    /// Brackets open at the current token.
    open: Cell<usize>,
    /// Operator tokens in a row up to the current one: all but the first are prefix
    /// operators (`!`, `-`, `~`, `*`, `&`), each nesting in the next, so N in a row is
    /// N levels. Counted here, before the parser holds them all (it can reduce none of them
    /// until their operand comes: 2.5 million `!` took 1.2 GB and 7 s to refuse).
    run: Cell<usize>,
    statements: Cell<usize>,
    max_nesting: usize,
    max_statements: usize,
    exceeded: Cell<Option<(Exceeded, Span)>>,
}

impl Tally {
    /// A tally whose first expression id is `first_id` (an imported file's ids follow those
    /// of the files before it).
    pub(crate) fn new(limits: &Limits, first_id: u32) -> Tally {
        Tally {
            next_id: Cell::new(first_id),
            depths: RefCell::new(Vec::new()),
            open: Cell::new(0),
            run: Cell::new(0),
            statements: Cell::new(0),
            max_nesting: limits.max_nesting,
            max_statements: limits.max_statements,
            exceeded: Cell::new(None),
        }
    }

    /// How many expression ids were handed out.
    pub(crate) fn expr_count(&self) -> u32 {
        self.next_id.get()
    }

    /// A new expression: its id, and its depth noted.
    pub(crate) fn expr(&self, kind: ExprKind, span: Span) -> Expr {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let mut depths = self.depths.borrow_mut();
        let mut deepest = 0;
        kind.for_each_child(&mut |c: &Expr| deepest = deepest.max(depths.get(c.id as usize).copied().unwrap_or(1)));
        let depth = deepest + 1;
        depths.push(depth);
        if depth as usize > self.max_nesting {
            self.exceed(Exceeded::Nesting, Span::new(span.start, span.start + 1));
        }
        Expr { id, kind, span }
    }

    /// A statement added to a block.
    pub(crate) fn statement(&self, s: Stmt) -> Stmt {
        self.statements.set(self.statements.get() + 1);
        if self.statements.get() > self.max_statements {
            self.exceed(Exceeded::Statements, s.span);
        }
        s
    }

    /// A token read: brackets are counted.
    pub(crate) fn token(&self, l: usize, tok: &Tok, r: usize) {
        if matches!(tok, Tok::Not | Tok::Minus | Tok::Tilde | Tok::Star | Tok::Amp) {
            self.run.set(self.run.get() + 1);
            if self.run.get() > self.max_nesting {
                self.exceed(Exceeded::Nesting, Span::new(l, r));
            }
        } else {
            self.run.set(0);
        }
        match tok {
            Tok::LBrace | Tok::LParen | Tok::LBracket | Tok::BodyOpen | Tok::AngleOpen => {
                self.open.set(self.open.get() + 1);
                if self.open.get() > self.max_nesting {
                    self.exceed(Exceeded::Nesting, Span::new(l, r));
                }
            }
            Tok::RBrace | Tok::RParen | Tok::RBracket | Tok::BodyClose | Tok::AngleClose => {
                self.open.set(self.open.get().saturating_sub(1));
            }
            _ => {}
        }
    }

    fn exceed(&self, what: Exceeded, span: Span) {
        if self.exceeded.get().is_none() {
            self.exceeded.set(Some((what, span)));
        }
    }

    /// Whether a limit was met (the token stream ends then).
    pub(crate) fn stopped(&self) -> bool {
        self.exceeded.get().is_some()
    }

    /// The diagnostic of the limit met, if one was.
    pub(crate) fn diagnostic(&self) -> Option<Diagnostic> {
        let (what, span) = self.exceeded.get()?;
        Some(match what {
            Exceeded::Nesting => Diagnostic::error(format!("nesting deeper than {} levels", self.max_nesting))
                .at(span, "too deep here")
                .note(format!(
                    "rtrace takes at most {} levels of brackets (`{{`, `(`, `[`) open at once, and of operators applied to one operand (`!!x`, `1 + 1 + 1`)",
                    self.max_nesting
                )),
            Exceeded::Statements => Diagnostic::error(format!("more than {} statements", self.max_statements))
                .at(span, "one too many")
                .note(format!("rtrace takes at most {} statements in a script", self.max_statements)),
        })
    }
}
