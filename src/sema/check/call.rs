//! Function calls: the one entry (`call`) that checks the name and the number of arguments,
//! then each family in its own file.

use super::*;

mod events;
mod stacks;
mod strings;
mod time;

impl Checker<'_> {
    pub(super) fn call(&mut self, e: &Expr, name: &Name, args: &[Expr], scope: &mut Scope) -> Type {
        let Some(def) = builtins::function(&name.name) else {
            // Macro calls are expanded by now: a script with macros may have meant one.
            let macros = &self.program.macros;
            let what = if macros.is_empty() { "function" } else { "function or macro" };
            let mut d = Diagnostic::error(format!("unknown {what} `{}`", name.name)).at(name.span, format!("not a {}", what.replace(" or ", " or a ")));
            let candidates = builtins::FUNCTIONS.iter().map(|f| f.name).chain(macros.iter().map(|m| m.name.name.as_str()));
            if let Some(s) = did_you_mean(&name.name, candidates) {
                let kind = if macros.iter().any(|m| m.name.name == s) { "the macro " } else { "" };
                d = d.help(format!("did you mean {kind}`{s}`?"));
            }
            self.error(d);
            return Type::Error;
        };
        if def.aggregation {
            self.error(
                Diagnostic::error(format!("`{}()` must be assigned to a map", def.name))
                    .at(e.span, "an aggregation has no value here")
                    .help(format!("write `@name = {}(…);`", def.name)),
            );
            return Type::Error;
        }
        if !self.arity(def, args.len(), e.span) {
            return Type::Error;
        }
        match def.func {
            Func::Printf => self.printf(e, def.name, args, scope),
            Func::System => {
                if !self.unsafe_allowed(e, "system", "it runs a shell command for each event") {
                    return Type::Error;
                }
                match self.printf(e, def.name, args, scope) {
                    Type::Error => Type::Error,
                    _ => {
                        let Res::Printf(id) = scope.exprs[&e.id].res else { return Type::Error };
                        self.set(scope, e, Type::Void, Res::System(id))
                    }
                }
            }
            Func::Kstack | Func::Ustack if self.refused_in_map_loop(def.name, e.span, scope) => Type::Error,
            Func::Kstack | Func::Ustack => self.stack_call(e, def, args, scope),
            Func::Signal => self.signal(e, &args[0], scope),
            Func::Strftime => {
                let Some(fmt) = self.literal_arg(args.first(), None, "`strftime()`'s format") else {
                    return Type::Error;
                };
                if !self.int_arg(&args[1], "`strftime()` takes nanoseconds since boot, such as `nsecs`", scope) {
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
            Func::Exit => {
                if let Some(a) = args.first() {
                    if literal_int(a).is_none() {
                        self.error(Diagnostic::error("exit() takes an integer literal").at(a.span, "not a literal"));
                    }
                }
                self.set(scope, e, Type::Void, Res::Call(Func::Exit))
            }
            Func::Len | Func::HasKey => self.map_query(e, def, args, scope),
            Func::Delete | Func::Clear | Func::Zero => {
                let arg = &args[0];
                let ExprKind::Map(map) = &arg.kind else {
                    self.error(
                        Diagnostic::error(format!("`{}()` takes a map", def.name))
                            .at(arg.span, "not a map")
                            .help(format!("the signature is `{}`", def.signature)),
                    );
                    return Type::Error;
                };
                if def.func != Func::Delete && !map.keys.is_empty() {
                    self.error(
                        Diagnostic::error(format!("`{}()` takes a whole map", def.name))
                            .at(arg.span, "this is one entry")
                            .help(format!("write `{}({})`, or `delete({})` for one entry", def.name, map.name, map.name.clone() + "[…]")),
                    );
                    return Type::Error;
                }
                let keys = if def.func == Func::Delete { self.keys(map, scope) } else { Some(Keys::default()) };
                let Some((index, info)) = self.maps.get(&map.name).map(|(i, m)| (i, m.clone())) else {
                    self.error(
                        Diagnostic::error(format!("map `{}` is never assigned", map.name)).at(map.span, "never assigned"),
                    );
                    return Type::Error;
                };
                if let Some(keys) = keys {
                    if def.func == Func::Delete && merge_keys(&info.keys, &keys).is_none() {
                        self.error(key_mismatch(&info, map.span, &keys));
                    }
                }
                scope.exprs.insert(arg.id, ExprInfo { ty: Type::Void, res: Res::MapRead(index), span: arg.span });
                self.set(scope, e, Type::Void, Res::Call(def.func))
            }
            Func::Time => {
                let Some(fmt) = self.literal_arg(args.first(), Some("%H:%M:%S\n"), "`time()`'s format") else {
                    return Type::Error;
                };
                let mut id = 0;
                if self.final_pass {
                    id = self.time_formats.len();
                    self.time_formats.push(fmt);
                }
                self.set(scope, e, Type::Void, Res::Time(id))
            }
            Func::Kaddr => {
                let ExprKind::Str(sym) = &args[0].kind else {
                    self.error(Diagnostic::error("`kaddr()` takes a string literal").at(args[0].span, "not a string literal"));
                    return Type::Error;
                };
                let addr = if self.final_pass { kallsyms::symbol_address(sym) } else { Some(0) };
                match addr {
                    Some(a) => self.set(scope, e, Type::Int { signed: false }, Res::Const(a)),
                    None => {
                        let d = Diagnostic::error(format!("no kernel symbol `{sym}`")).at(args[0].span, "not in /proc/kallsyms");
                        if !self.no_attach {
                            self.error(d);
                            return Type::Error;
                        }
                        let mut d = d.note("checked with address 0, since nothing runs");
                        d.severity = crate::diag::Severity::Warning;
                        self.error(d);
                        self.set(scope, e, Type::Int { signed: false }, Res::Const(0))
                    }
                }
            }
            Func::Print => {
                let arg = &args[0];
                for extra in &args[1..] {
                    let t = self.expr(extra, scope);
                    if t != Type::Error && !t.is_int() {
                        self.error(
                            Diagnostic::error("`print()`'s top and div are integers").at(extra.span, format!("this is {}", t.describe())),
                        );
                    }
                }
                if args.len() > 1 && !matches!(&arg.kind, ExprKind::Map(m) if m.keys.is_empty()) {
                    self.error(
                        Diagnostic::error("`print()` takes top and div only with a whole map")
                            .at(args[1].span, "not with a single value"),
                    );
                    return Type::Error;
                }
                if let ExprKind::Map(map) = &arg.kind {
                    if map.keys.is_empty() {
                        let Some((index, _)) = self.maps.get(&map.name) else {
                            self.error(
                                Diagnostic::error(format!("map `{}` is never assigned", map.name)).at(map.span, "never assigned"),
                            );
                            return Type::Error;
                        };
                        scope.exprs.insert(arg.id, ExprInfo { ty: Type::Void, res: Res::MapRead(index), span: arg.span });
                        return self.set(scope, e, Type::Void, Res::Call(Func::Print));
                    }
                }
                // print(value): the value and a newline, as a printf.
                let t = self.expr(arg, scope);
                let kind = match t {
                    Type::Str { len } => ArgKind::Str { len },
                    Type::Ksym => ArgKind::Ksym,
                    Type::Timestamp(id) => ArgKind::Timestamp(id),
                    Type::Stack(spec) => ArgKind::Stack(spec),
                    Type::Inet => ArgKind::Inet,
                    Type::ProbeName => ArgKind::ProbeName,
                    Type::Usym => ArgKind::Usym,
                    Type::IntArray(a) => ArgKind::IntArray(a),
                    t if t.is_int() => ArgKind::Int { signed: t.signed() },
                    Type::Tuple(_) => self.tuples.arg_kind(t).unwrap_or(ArgKind::Int { signed: true }),
                    Type::Error => return Type::Error,
                    other => {
                        self.error(Diagnostic::error(format!("cannot print {}", other.describe())).at(arg.span, "no value"));
                        return Type::Error;
                    }
                };
                // `%s` prints an integer by its own signedness: a uint64 prints unsigned, as
                // it does as a map value.
                let spec = FmtSpec { conv: 's', int_bits: 64, ..FmtSpec::default() };
                let size = plan::EVENT_HEADER + kind.size().next_multiple_of(8);
                let mut id = 0;
                if self.final_pass {
                    id = self.printfs.len();
                    self.printfs.push(PrintfDef {
                        segments: vec![FmtSegment::Conv { spec, arg: 0 }, FmtSegment::Lit("\n".into())],
                        args: vec![ArgField { offset: plan::EVENT_HEADER, kind }],
                        size,
                    });
                }
                self.set(scope, e, Type::Void, Res::PrintValue(id))
            }
            Func::Buf => {
                let types: Vec<Type> = args.iter().map(|a| self.expr(a, scope)).collect();
                if types.contains(&Type::Error) {
                    return Type::Error;
                }
                let data_ok = types[0].is_int() || matches!(types[0], Type::Str { .. } | Type::Array { .. });
                if !data_ok || types.get(1).is_some_and(|t| !t.is_int()) {
                    self.error(
                        Diagnostic::error("`buf()` takes a pointer (or array) and an integer length")
                            .at(e.span, "wrong arguments")
                            .help("the signature is `buf(void *data[, int length])`"),
                    );
                    return Type::Error;
                }
                let user = matches!(types[0], Type::Ptr { user: true, .. } | Type::Array { user: true, .. })
                    || (types[0].is_int() && scope.user_memory());
                self.set(scope, e, Type::Buffer, Res::Buf { user })
            }
            Func::Uaddr => {
                let Some(sym) = self.literal_arg(args.first(), None, "`uaddr()`'s symbol") else {
                    return Type::Error;
                };
                let Attach::Uprobe { path, .. } = &scope.inst.attach else {
                    self.error(
                        Diagnostic::error("`uaddr()` is only available in uprobe probes")
                            .at(e.span, format!("not available in `{}`", scope.inst.display))
                            .note("it looks the symbol up in the probed program"),
                    );
                    return Type::Error;
                };
                let path = path.clone();
                let addr = if self.final_pass { elf::symbol_address(std::path::Path::new(&path), &sym) } else { Some(0) };
                let Some(addr) = addr else {
                    self.error(
                        Diagnostic::error(format!("no symbol `{sym}` in `{path}`"))
                            .at(args[0].span, "not in the program's symbol tables"),
                    );
                    return Type::Error;
                };
                self.set(scope, e, Type::Ptr { user: true, to: None }, Res::Const(addr))
            }
            Func::Strcontains => {
                let haystack = self.expr(&args[0], scope);
                if !matches!(args[1].kind, ExprKind::Str(_)) {
                    self.error(
                        Diagnostic::error("`strcontains()`'s needle must be a string literal")
                            .at(args[1].span, "not a string literal")
                            .note("rtrace compares against a literal's bytes only, so far"),
                    );
                    return Type::Error;
                }
                match haystack {
                    Type::Str { .. } => {}
                    Type::Error => return Type::Error,
                    t => {
                        self.error(
                            Diagnostic::error(format!("`strcontains()` searches a string, not {}", t.describe()))
                                .at(args[0].span, format!("this is {}", t.describe())),
                        );
                        return Type::Error;
                    }
                }
                self.set(scope, e, Type::Int { signed: false }, Res::Call(Func::Strcontains))
            }
            Func::Cgroupid => {
                let Some(path) = self.literal_arg(args.first(), None, "`cgroupid()`'s path") else {
                    return Type::Error;
                };
                match kallsyms::cgroup_id(&path) {
                    Ok(id) => self.set(scope, e, Type::Int { signed: false }, Res::Const(id)),
                    Err(err) => {
                        self.error(
                            Diagnostic::error(format!("cannot get the cgroup id of `{path}`: {err}"))
                                .at(args[0].span, "not a cgroup v2 directory")
                                .help("cgroup v2 is mounted at /sys/fs/cgroup (or /sys/fs/cgroup/unified beside v1)"),
                        );
                        Type::Error
                    }
                }
            }
            Func::Kptr | Func::Uptr => {
                if !self.int_arg(&args[0], &format!("`{}()` takes a pointer", def.name), scope) {
                    return Type::Error;
                }
                let to = match scope.exprs.get(&args[0].id).map(|i| i.ty) {
                    Some(Type::Ptr { to, .. }) => to,
                    _ => None,
                };
                self.set(scope, e, Type::Ptr { user: def.func == Func::Uptr, to }, Res::Plain)
            }
            Func::Ksym => {
                if !self.int_arg(&args[0], "`ksym()` takes an address", scope) {
                    return Type::Error;
                }
                self.set(scope, e, Type::Ksym, Res::Plain)
            }
            Func::Usym => {
                if !self.int_arg(&args[0], "`usym()` takes an address", scope) {
                    return Type::Error;
                }
                self.set(scope, e, Type::Usym, Res::Call(Func::Usym))
            }
            Func::Cat => {
                let Some(path) = self.literal_arg(args.first(), None, "`cat()`'s path") else {
                    return Type::Error;
                };
                let mut id = 0;
                if self.final_pass {
                    id = self.cat_paths.len();
                    self.cat_paths.push(path);
                }
                self.set(scope, e, Type::Void, Res::Event { kind: crate::plan::EventKind::Cat, id: id as u32 })
            }
            Func::Join => {
                let t = self.expr(&args[0], scope);
                if t == Type::Error {
                    return t;
                }
                let user = match t {
                    Type::Ptr { user, .. } => user,
                    t if t.is_int() => scope.user_memory(),
                    other => {
                        self.error(
                            Diagnostic::error(format!("`join()` takes an array of string pointers, not {}", other.describe()))
                                .at(args[0].span, "not a pointer"),
                        );
                        return Type::Error;
                    }
                };
                let Some(sep) = self.literal_arg(args.get(1), Some(" "), "`join()`'s separator") else {
                    return Type::Error;
                };
                let mut id = 0;
                if self.final_pass {
                    id = self.join_separators.len();
                    self.join_separators.push(sep);
                }
                self.set(scope, e, Type::Void, Res::Join { id, user })
            }
            Func::Strncmp => {
                let types: Vec<Type> = args[..2].iter().map(|a| self.expr(a, scope)).collect();
                let n = self.expr(&args[2], scope);
                if types.contains(&Type::Error) || n == Type::Error {
                    return Type::Error;
                }
                for (arg, t) in args.iter().zip(&types) {
                    if !matches!(t, Type::Str { .. }) {
                        self.error(
                            Diagnostic::error("`strncmp()` compares strings")
                                .at(arg.span, format!("this is {}", t.describe()))
                                .help("the signature is `strncmp(string a, string b, int n)`; `str()` reads a string from a pointer"),
                        );
                        return Type::Error;
                    }
                }
                let ExprKind::Int(len) = args[2].kind else {
                    self.error(
                        Diagnostic::error("`strncmp()` needs its length as an integer literal")
                            .at(args[2].span, "not a literal")
                            .help("the number of bytes compared is fixed when the program is compiled"),
                    );
                    return Type::Error;
                };
                self.set(scope, e, Type::Int { signed: false }, Res::Strncmp(len))
            }
            Func::Bswap => {
                if !self.int_arg(&args[0], "`bswap()` takes an integer", scope) {
                    return Type::Error;
                }
                let bits = int_bits(&args[0], scope);
                self.set(scope, e, Type::Int { signed: false }, Res::Bswap(bits))
            }
            Func::Ntop => {
                let types: Vec<Type> = args.iter().map(|a| self.expr(a, scope)).collect();
                if types.contains(&Type::Error) {
                    return Type::Error;
                }
                let addr = types[types.len() - 1];
                let ok_family = types.len() == 1 || types[0].is_int();
                let ok_addr = addr.is_int() || matches!(addr, Type::Array { len: 4 | 16, .. });
                if !ok_family || !ok_addr {
                    self.error(
                        Diagnostic::error("`ntop()` takes an IPv4 address as an integer or an IPv6 address as a 16-byte array")
                            .at(args[args.len() - 1].span, format!("this is {}", addr.describe()))
                            .help("the signature is `ntop([int af, ] int|char[4]|char[16] addr)`"),
                    );
                    return Type::Error;
                }
                self.set(scope, e, Type::Inet, Res::Call(Func::Ntop))
            }
            Func::Str => {
                let t = self.expr(&args[0], scope);
                // Pointers know their address space; plain integers take the probe's
                // (user memory in uprobes, as in bpftrace).
                let res = match t {
                    Type::Ptr { user, .. } => Res::Str { user },
                    Type::Array { elem, len, user } => {
                        let Some(k) = self.kernel_types().ok() else { return Type::Error };
                        if !matches!(k.shape(elem), btf::Shape::Int { size: 1, .. }) {
                            self.error(
                                Diagnostic::error(format!("`str()` takes a char array, not {}[{len}]", k.name(elem)))
                                    .at(args[0].span, "not a string"),
                            );
                            return Type::Error;
                        }
                        let len = len.min(STR_LEN);
                        return self.set(scope, e, Type::Str { len }, Res::StrArray { len, user });
                    }
                    Type::Int { .. } => Res::Str { user: scope.user_memory() },
                    Type::Str { len } => return self.set(scope, e, Type::Str { len }, Res::Plain),
                    Type::Error => return Type::Error,
                    other => {
                        self.error(
                            Diagnostic::error(format!("`str()` takes a pointer, not {}", other.describe()))
                                .at(args[0].span, "not a pointer"),
                        );
                        return Type::Error;
                    }
                };
                self.set(scope, e, Type::Str { len: STR_LEN }, res)
            }
            _ => Type::Error,
        }
    }

    /// `signal(SIG)`: a name (`"SIGKILL"`, `"KILL"`) or a number, sent to the current process.
    pub(super) fn signal(&mut self, e: &Expr, arg: &Expr, scope: &mut Scope) -> Type {
        if !self.unsafe_allowed(e, "signal", "it sends a signal to the traced process") {
            return Type::Error;
        }
        if let Some(kind) = match scope.inst.attach {
            Attach::Begin => Some("BEGIN"),
            Attach::End => Some("END"),
            Attach::Interval { .. } => Some("interval"),
            _ => None,
        } {
            self.error(
                Diagnostic::error(format!("`signal()` cannot be used in {kind} probes"))
                    .at(e.span, "no traced process here")
                    .note("`signal()` signals the process the probe fired in"),
            );
            return Type::Error;
        }
        let number = match &arg.kind {
            ExprKind::Str(name) => match builtins::signal_number(name) {
                Some(n) => Some(n),
                None => {
                    self.error(
                        Diagnostic::error(format!("unknown signal `{name}`"))
                            .at(arg.span, "not a signal name")
                            .help("use a name such as \"SIGKILL\" (or \"KILL\"), or a number from 1 to 64"),
                    );
                    return Type::Error;
                }
            },
            _ => match literal_int(arg) {
                Some(n) if (1..=64).contains(&n) => Some(n as u32),
                Some(n) => {
                    self.error(
                        Diagnostic::error(format!("{n} is not a signal number"))
                            .at(arg.span, "not from 1 to 64"),
                    );
                    return Type::Error;
                }
                None if !self.int_arg(arg, "`signal()` takes a signal name or number", scope) => return Type::Error,
                None => None,
            },
        };
        self.set(scope, e, Type::Void, Res::Signal(number))
    }

    /// Notes that a stack of `spec`'s depth is recorded (its map must exist); its type.
    pub(super) fn record_stack(&mut self, spec: plan::StackSpec) -> Type {
        if !self.stack_depths.contains(&spec.depth) {
            self.stack_depths.push(spec.depth);
        }
        Type::Stack(spec)
    }

    /// `kstack(…)` and `ustack(…)`: `(N)`, `(mode)` or `(mode, N)`, mode `bpftrace` or `perf`.
    pub(super) fn stack_call(&mut self, e: &Expr, def: &builtins::FuncDef, args: &[Expr], scope: &mut Scope) -> Type {
        let mut spec = plan::StackSpec { user: def.func == Func::Ustack, perf: false, depth: plan::STACK_DEPTH };
        let (mode, depth) = match args {
            [m @ Expr { kind: ExprKind::Ident(_), .. }] => (Some(m), None),
            [n] => (None, Some(n)),
            [m, n] => (Some(m), Some(n)),
            _ => (None, None),
        };
        if let Some(m) = mode {
            match &m.kind {
                ExprKind::Ident(name) if name == "bpftrace" => {}
                ExprKind::Ident(name) if name == "perf" => spec.perf = true,
                _ => {
                    self.error(
                        Diagnostic::error(format!("`{}()`'s mode must be `bpftrace` or `perf`", def.name))
                            .at(m.span, "not a stack mode")
                            .help(format!("the signature is `{}`", def.signature)),
                    );
                    return Type::Error;
                }
            }
        }
        if let Some(n) = depth {
            match literal_int(n) {
                Some(d) if (1..=plan::STACK_DEPTH as i64).contains(&d) => spec.depth = d as u32,
                _ => {
                    self.error(
                        Diagnostic::error(format!(
                            "`{}()`'s depth must be an integer literal from 1 to {}",
                            def.name,
                            plan::STACK_DEPTH
                        ))
                        .at(n.span, "not a depth from 1 to 127"),
                    );
                    return Type::Error;
                }
            }
        }
        let ty = self.record_stack(spec);
        self.set(scope, e, ty, Res::Call(def.func))
    }
}
