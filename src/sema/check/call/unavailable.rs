//! bpftrace 0.26's helpers that need what this kernel, or rtrace, may lack: `override()`
//! (kprobes with CONFIG_BPF_KPROBE_OVERRIDE), `path()`, `skboutput()` and `socket_cookie()`
//! (helpers of fentry/fexit programs, BPF_PROG_TYPE_TRACING). Their arguments are checked; then an error says what is missing, except
//! for `path()`, `skboutput()` and `socket_cookie()` in fentry/fexit probes, which rtrace
//! generates.

use super::*;
use crate::kernel::features;

impl Checker<'_> {
    /// `override(rc)`: a kprobe returns `rc` instead of running the function.
    pub(in crate::sema::check) fn override_return(&mut self, e: &Expr, args: &[Expr], scope: &mut Scope) -> Type {
        if !self.unsafe_allowed(e, "override") || !self.int_arg(&args[0], IntWanted::Number("override"), scope) {
            return Type::Error;
        }
        if !self.opts.no_attach && !features::has_kprobes() {
            let needs = "kprobes (CONFIG_KPROBES) and CONFIG_BPF_KPROBE_OVERRIDE";
            self.error(StdlibError::KernelLacks { func: "override", needs, lacker: "this kernel", span: e.span });
            return Type::Error;
        }
        if !matches!(scope.inst.attach, Attach::Kprobe { ret: false, .. }) {
            self.error(StdlibError::OnlyIn { func: "override", probes: "kprobes", span: e.span });
            return Type::Error;
        }
        self.set(scope, e, Type::Void, Res::Call(Func::Override))
    }

    /// `path(p[, size])`, `skboutput(file, skb, length, offset)`, `socket_cookie(sk)`: helpers
    /// of tracing programs.
    pub(in crate::sema::check) fn tracing_only(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        let (pointer, rest) = match def.func {
            Func::Skboutput => {
                if self.literal_arg(args.first(), None, "skboutput", "path").is_none() {
                    return Type::Error;
                }
                (&args[1], &args[2..])
            }
            _ => (&args[0], &args[1..]),
        };
        // `path(file->f_path)`: a struct in memory stands for its address, as in bpftrace.
        let mut ok = match self.expr(pointer, scope) {
            Type::Error => false,
            Type::Record { .. } if def.func == Func::Path => true,
            t if def.func == Func::Skboutput => self.skb_arg(t, pointer.span),
            t if t.is_int() => true,
            t => {
                self.error(ExprError::NotInteger { wanted: IntWanted::Pointer(def.name), found: t.describe(), span: pointer.span });
                false
            }
        };
        // skboutput's offset is a literal (its last argument), checked by `skb_offset`.
        let numbers = if def.func == Func::Skboutput { &rest[..1] } else { rest };
        for a in numbers {
            ok &= self.int_arg(a, IntWanted::Number(def.name), scope);
        }
        if def.func == Func::Skboutput {
            ok &= skb_offset(&args[3]).is_some() || {
                self.error(StdlibError::SkbOffset { span: args[3].span });
                false
            };
        }
        if !ok {
            return Type::Error;
        }
        let helper = match def.func {
            Func::Path => "fentry/fexit programs (BPF_PROG_TYPE_TRACING, for the bpf_d_path helper)",
            Func::Skboutput => "fentry/fexit programs (BPF_PROG_TYPE_TRACING, for the bpf_skb_output helper)",
            _ => "fentry/fexit programs (BPF_PROG_TYPE_TRACING, for bpf_get_socket_cookie of a socket)",
        };
        // The kernel allows `bpf_d_path` in iterator programs too (expansion has checked
        // that this kernel loads them).
        if def.func == Func::Path && matches!(scope.inst.attach, Attach::Iter { .. }) {
            return self.tracing_helper(e, def, args, scope);
        }
        if !self.opts.no_attach && !features::has_fentry() {
            self.error(StdlibError::KernelLacks { func: def.name, needs: helper, lacker: "this kernel", span: e.span });
        } else if !matches!(scope.inst.attach, Attach::Fentry { .. }) {
            let probes = if def.func == Func::Path { "fentry/fexit and iter probes" } else { "fentry/fexit probes" };
            self.error(StdlibError::OnlyIn { func: def.name, probes, span: e.span });
        } else {
            return self.tracing_helper(e, def, args, scope);
        }
        Type::Error
    }

    /// `skboutput()`'s skb, of type `t`: a `struct sk_buff *` (`bpf_skb_output` takes only
    /// one the kernel knows is one, such as an fentry argument); an error if not.
    fn skb_arg(&mut self, t: Type, span: Span) -> bool {
        let found = match t {
            Type::Error => return false,
            Type::Ptr { user: true, .. } => "a user pointer".to_string(),
            Type::Ptr { user: false, to: Some(Pointee::Btf { id, .. }) } => {
                let Some(k) = self.kernel_types_at(span, None) else { return false };
                match k.name(id) {
                    name if name == "struct sk_buff" => return true,
                    name => format!("a `{name} *`"),
                }
            }
            t => t.describe().to_string(),
        };
        self.error(StdlibError::SkbArg { found, span });
        false
    }

    /// In an fentry/fexit probe: `path(p[, size])` (`bpf_d_path` into a string of `size`
    /// bytes, a literal, or config `max_strlen`; the kernel allows it only in the functions of
    /// its `btf_allowlist_d_path`: elsewhere the program does not load), `socket_cookie(sk)`,
    /// and `skboutput(path, skb, length, offset)` (`bpf_skb_output` to the plan's perf event
    /// array: a uint32, 0 or a negative error, as bpftrace 0.26 types it).
    fn tracing_helper(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        match def.func {
            Func::Path => {
                let max = self.opts.config.max_strlen as u32;
                // (a size known only at run time is bounded by the string's, as in `str()`)
                let len = args.get(1).and_then(literal_int).map_or(max, |n| (n.max(1) as u64).min(u64::from(max)) as u32);
                self.set(scope, e, Type::Str { len }, Res::Call(Func::Path))
            }
            Func::Skboutput => {
                let path = self.literal_arg(args.first(), None, "skboutput", "path").unwrap_or_default();
                let offset = skb_offset(&args[3]).unwrap_or(0);
                self.need(e, Need::SkbOutput(plan::SkbOutputDef { path, offset }));
                self.set(scope, e, Type::Int { signed: false }, Res::SkbOutput(0))
            }
            _ => self.set(scope, e, Type::Int { signed: false }, Res::Call(Func::SocketCookie)),
        }
    }
}

/// `skboutput()`'s offset: a non-negative integer literal, as bpftrace 0.26 takes it (its
/// runtime skips that many bytes of each packet).
fn skb_offset(e: &Expr) -> Option<u64> {
    literal_int(e).and_then(|n| u64::try_from(n).ok())
}
