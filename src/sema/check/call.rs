//! Function calls: the one entry (`call`) that checks the name and the number of arguments,
//! then each family in its own file.

use super::*;

mod events;
mod messages;
mod meta;
pub(crate) use meta::pton_bytes;
mod stacks;
mod strings;
mod strscan;
mod task;
mod time;
mod unavailable;

impl Checker<'_> {
    pub(super) fn call(&mut self, e: &Expr, name: &Name, args: &[Expr], scope: &mut Scope) -> Type {
        // Only a script being built keeps its `getopt()` calls (`parser::getopt::Mode`).
        if name.name == "getopt" && self.opts.portable {
            return self.runtime_getopt(e, args, scope);
        }
        let Some(def) = builtins::function(&name.name) else {
            if let Some(b) = builtins::builtin(&name.name) {
                return self.builtin_call(e, b, name, args, scope);
            }
            // Macro calls are expanded by now: a script with macros may have meant one.
            let macros = &self.program.macros;
            let candidates = builtins::FUNCTIONS.iter().map(|f| f.name).chain(macros.iter().map(|m| m.name.name.as_str()));
            let suggestion = did_you_mean(&name.name, candidates).map(|s| (s.to_string(), macros.iter().any(|m| m.name.name == s)));
            let (name, span, macros) = (name.name.clone(), name.span, !macros.is_empty());
            self.error(CallError::UnknownFunction { name, macros, suggestion, span });
            return Type::Error;
        };
        if def.aggregation {
            self.error(StmtError::AggregationNotAssigned { func: def.name.to_string(), statement: false, span: e.span });
            return Type::Error;
        }
        if !self.arity(def, args.len(), e.span) {
            return Type::Error;
        }
        match def.func {
            Func::Printf => self.printf(e, def.name, args, scope),
            Func::System => self.system(e, args, scope),
            Func::Errorf | Func::Warnf => self.message(e, def, args, scope),
            Func::Assert => self.assert(e, args, scope),
            Func::IsErr | Func::IsInteger | Func::IsUnsignedInteger | Func::IsPtr | Func::IsStr | Func::IsArray | Func::IsLiteral => {
                self.type_predicate(e, def, args, scope)
            }
            Func::Kstack | Func::Ustack | Func::DwUstack if self.refused_in_map_loop(def.name, e.span, scope) => Type::Error,
            Func::Kstack | Func::Ustack => self.stack_call(e, def, args, scope),
            Func::DwUstack => self.dw_ustack(e, def, args, scope),
            Func::Signal | Func::SignalThread => self.signal(e, def, &args[0], scope),
            Func::Strftime => self.strftime(e, args, scope),
            Func::Time => self.time(e, args, scope),
            Func::Exit => self.exit(e, args, scope),
            Func::Unwatch => self.unwatch(e, args, scope),
            Func::Len | Func::HasKey => self.map_query(e, def, args, scope),
            Func::Find => self.find(e, def, args, scope),
            Func::Delete | Func::Clear | Func::Zero => self.map_edit(e, def, args, scope),
            Func::Print => self.print(e, args, scope),
            Func::Cat => self.cat(e, args, scope),
            Func::Join => self.join(e, args, scope),
            Func::Kaddr => self.kaddr(e, args, scope),
            Func::PercpuKaddr => self.percpu_kaddr(e, args, scope),
            Func::Uaddr => self.uaddr(e, args, scope),
            Func::Cgroupid => self.cgroupid(e, args, scope),
            Func::CgroupPath => self.cgroup_path(e, args, scope),
            Func::Kptr | Func::Uptr => self.kptr(e, def, args, scope),
            Func::Ksym => self.ksym(e, args, scope),
            Func::Usym => self.usym(e, args, scope),
            Func::Str => self.str(e, args, scope),
            Func::Strncmp => self.strncmp(e, args, scope),
            Func::Strcontains => self.strcontains(e, args, scope),
            Func::Strlen | Func::Strstr | Func::StrConcat => self.string_helper(e, def, args, scope),
            Func::Memcmp => self.memcmp(e, def, args, scope),
            Func::Strerror | Func::SignalName | Func::SyscallName => self.named_number(e, def, args, scope),
            Func::Buf => self.buf(e, args, scope),
            Func::Fail => self.fail(e, args, scope),
            Func::WriteUser => self.write_user(e, def, args, scope),
            Func::StaticAssert => self.static_assert(e, args, scope),
            Func::Pton => self.pton(e, args, scope),
            Func::Strcap => self.strcap(e, args, scope),
            Func::Reg => self.reg(e, args, scope),
            Func::AssertStr => self.assert_str(e, args, scope),
            Func::DefaultStrLength => self.default_str_length(e, scope),
            Func::Typeinfo => self.typeinfo(e, &args[0], scope),
            Func::KfuncExist | Func::KfuncAllowed => self.kfunc_query(e, def, args, scope),
            Func::Override => self.override_return(e, args, scope),
            Func::Path | Func::Skboutput | Func::SocketCookie => self.tracing_only(e, def, args, scope),
            Func::Ntop => self.ntop(e, args, scope),
            Func::Macaddr => self.macaddr(e, args, scope),
            Func::Bswap => self.bswap(e, args, scope),
            _ => Type::Error,
        }
    }
}
