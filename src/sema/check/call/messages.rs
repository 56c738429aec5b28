//! bpftrace 0.26's messages on standard error: `errorf()`, `warnf()` (formatted like
//! `printf()`, after the call's place in the script and `ERROR:` or `WARNING:`), and
//! `assert(cond, "message")`, which prints `assert failed: message` as `errorf()` does and
//! exits with status 1 when `cond` is 0.

use super::*;

impl Checker<'_> {
    /// `errorf(fmt, args…)`, `warnf(fmt, args…)`.
    pub(in crate::sema::check) fn message(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        if self.printf(e, def.name, args, scope) == Type::Error {
            return Type::Error;
        }
        let level = if def.func == Func::Errorf { "ERROR" } else { "WARNING" };
        let prefix = format!("{}: {level}: ", self.place(e.span));
        if let Some((_, Need::Printf(printf))) = self.needs.iter_mut().rev().find(|(id, _)| *id == e.id) {
            printf.segments.insert(0, FmtSegment::Lit(prefix));
            printf.segments.push(FmtSegment::Lit("\n".into()));
            printf.warning = def.func == Func::Warnf;
        }
        self.set(scope, e, Type::Void, Res::Message(0))
    }

    /// `assert(cond, "message")`.
    pub(in crate::sema::check) fn assert(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let cond = self.int_arg(&args[0], IntWanted::Condition("assert"), scope);
        let ExprKind::Str(msg) = &args[1].kind else {
            self.error(StdlibError::AssertMessage { span: args[1].span });
            return Type::Error;
        };
        if !cond {
            return Type::Error;
        }
        let text = format!("{}: ERROR: assert failed: {msg}\n", self.place(e.span));
        let printf = PrintfDef { segments: vec![FmtSegment::Lit(text)], args: vec![], size: plan::EVENT_HEADER, warning: false };
        self.need(e, Need::Printf(printf));
        self.set(scope, e, Type::Void, Res::Assert(0))
    }

    /// Where `span` is, as bpftrace prints it before a message: `NAME:LINE:COL-END`.
    fn place(&self, span: Span) -> String {
        let script = &self.opts.script;
        plan::source_place(&script.files, &script.text, span.start, span.end).0
    }
}
