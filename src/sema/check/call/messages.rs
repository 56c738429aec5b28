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

    /// Where `span` is, as bpftrace prints it before a message: `NAME:LINE:COL-END` (END the
    /// column after the call, on its first line; a `-e` program is `stdin`, as bpftrace names
    /// it). An imported file's span is reckoned in that file, under its name.
    fn place(&self, span: Span) -> String {
        let script = &self.opts.script;
        let file = script.files.iter().rposition(|(_, base)| *base <= span.start).unwrap_or(0);
        let (name, base) = script.files.get(file).map_or(("-e", 0), |(n, b)| (n.as_str(), *b));
        let end = script.files.get(file + 1).map_or(script.text.len(), |next| next.1).min(script.text.len());
        let text = script.text.get(base.min(end)..end).unwrap_or("");
        let name = if name == "-e" { "stdin" } else { name };
        let span = Span { start: span.start.saturating_sub(base), end: span.end.saturating_sub(base) };
        let start = span.start.min(text.len());
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line = text[..start].matches('\n').count() + 1;
        let col = text[line_start..start].chars().count() + 1;
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let end = span.end.clamp(start, line_end);
        let end_col = col + text[start..end].chars().count();
        format!("{name}:{line}:{col}-{end_col}")
    }
}
