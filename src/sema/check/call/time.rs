//! Time: `strftime()` (a timestamp value) and `time()` (an event).

use super::*;

impl Checker<'_> {
    /// `strftime(format, nsecs)`: a timestamp printed as a date.
    pub(in crate::sema::check) fn strftime(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let Some(fmt) = self.literal_arg(args.first(), None, "strftime", "format") else {
            return Type::Error;
        };
        if !self.int_arg(&args[1], IntWanted::StrftimeNsecs, scope) {
            return Type::Error;
        }
        let id = match self.strftime_formats.iter().position(|f| *f == fmt) {
            Some(i) => i,
            None => {
                self.strftime_formats.push(fmt);
                self.strftime_formats.len() - 1
            }
        };
        self.set(scope, e, Type::Timestamp(id as u32), Res::Call(Func::Strftime))
    }

    /// `time([format])`: the time of day, printed.
    pub(in crate::sema::check) fn time(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        let Some(fmt) = self.literal_arg(args.first(), Some("%H:%M:%S\n"), "time", "format") else {
            return Type::Error;
        };
        self.need(e, Need::Time(fmt));
        self.set(scope, e, Type::Void, Res::Time(0))
    }
}
