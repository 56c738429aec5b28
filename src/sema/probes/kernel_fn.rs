//! Probes on kernel functions: `kprobe`/`kretprobe` (the functions ftrace can hook, from
//! tracefs or kallsyms) and `fentry`/`fexit` (the functions BTF describes, with their
//! parameters), each also as `PROVIDER:MODULE:FUNCTION`.

use super::{function_offset, Expander, Flow, Point};
use crate::diag::{did_you_mean, Diagnostic, Severity, Span};
use crate::glob::glob;
use crate::kernel::{btf, features, kallsyms};
use crate::plan::Attach;
use std::rc::Rc;

impl Expander<'_> {
    /// kprobe:FUNC, kprobe:FUNC+OFFSET, kprobe:MODULE:FUNC
    pub(super) fn kprobe(&mut self, p: &Point) -> Flow {
        let (parts, span, no_attach) = (&p.parts, p.span, self.opts.no_attach);
        let ret = p.provider.starts_with("kr");
        let target_field = match kernel_function_field(parts, p.text, span) {
            Ok(i) => i,
            Err(d) => {
                self.diags.push(d);
                return Flow::Next;
            }
        };
        let (func, offset) = match function_offset(parts[target_field], ret, "kretprobe", p.text, p.field_span(target_field)) {
            Ok(found) => found,
            Err(d) => {
                self.diags.push(d);
                return Flow::Next;
            }
        };
        let root = self.tracefs_root().as_ref().ok().cloned();
        let all;
        let known = match target_field {
            // kprobe:MODULE:FUNC: only that module's functions.
            2 if parts[1] != "vmlinux" => {
                all = kallsyms::module_functions(root.as_deref(), parts[1]);
                if all.is_empty() && !no_attach {
                    self.diags.push(
                        Diagnostic::error(format!("module `{}` is not loaded, or has no traceable functions", parts[1]))
                            .at(p.field_span(1), "no such module")
                            .note("`lsmod` lists the loaded modules"),
                    );
                    return Flow::Next;
                }
                &all
            }
            _ => self.functions.get_or_insert_with(|| kallsyms::traceable_functions(root.as_deref())),
        };
        let mut matches: Vec<String> = if func.contains('*') {
            known.iter().filter(|f| glob(func, f)).cloned().collect()
        } else if known.contains(func) {
            vec![func.to_string()]
        } else {
            vec![]
        };
        if matches.is_empty() {
            let mut d = Diagnostic::error(format!("no kernel function matches `{func}`"))
                .at(p.field_span(target_field), "not a traceable kernel function");
            if !func.contains('*') {
                if let Some(s) = did_you_mean(func, known.iter().map(String::as_str)) {
                    d = d.help(format!("did you mean `{s}`?"));
                }
            }
            // In a probe of several attach points (biolatency.bt's `kprobe:blk_account_io_start,
            // kprobe:__blk_account_io_start`, one name per kernel version) a missing function
            // is skipped, as bpftrace does; the probe is an error only if it is left with none.
            if !no_attach && p.attach_points > 1 {
                d.severity = Severity::Warning;
                self.diags.push(d.note("skipped, since the probe has other attach points (as in bpftrace)"));
                return Flow::Skipped;
            }
            if !no_attach {
                self.diags.push(d);
                return Flow::Next;
            }
            // Without attaching, the program can still be checked by the verifier (a wildcard
            // that matches nothing leaves nothing to check).
            d.severity = Severity::Warning;
            if func.contains('*') {
                self.diags.push(d.note("skipped, since nothing is attached"));
                return Flow::Next;
            }
            self.diags.push(d.note("checked anyway, since nothing is attached"));
            matches.push(func.to_string());
        }
        if !no_attach && !features::has_kprobes() {
            self.diags.push(no_kprobes(parts[0], func, span));
            return Flow::Next;
        }
        for f in matches {
            self.out.push(p.instance(Attach::Kprobe { func: f, offset, ret }, None));
        }
        Flow::Next
    }

    /// fentry:FUNC, fentry:MODULE:FUNC (and fexit, kfunc, kretfunc).
    pub(super) fn fentry(&mut self, p: &Point) {
        let (parts, span) = (&p.parts, p.span);
        let ret = matches!(p.provider.as_str(), "fexit" | "fr" | "kretfunc");
        let target_field = match kernel_function_field(parts, p.text, span) {
            Ok(i) => i,
            Err(d) => return self.diags.push(d),
        };
        let func = parts[target_field];
        // fentry:MODULE:FUNC: the module's functions, typed by vmlinux's BTF and the module's
        // (one module per script: see `KernelTypes::load_module`).
        let module = Some(parts[1]).filter(|m| target_field == 2 && *m != "vmlinux");
        let Some(types) = self.fentry_types(p, module) else { return };
        // Functions of the module only (ids past vmlinux's), or of vmlinux only.
        let in_scope = |n: &str| types.function_is_in_module(n) == module.is_some();
        let names = if func.contains('*') {
            types.functions_matching(|n| glob(func, n) && in_scope(n))
        } else if types.function(func).is_some() && in_scope(func) {
            vec![func.to_string()]
        } else {
            vec![]
        };
        if names.is_empty() {
            let what = match module {
                Some(m) => format!("no function of module `{m}` matches `{func}` in BTF"),
                None => format!("no kernel function matches `{func}` in BTF"),
            };
            return self.diags.push(Diagnostic::error(what).at(p.field_span(target_field), "not a kernel function with BTF"));
        }
        if !self.opts.no_attach && !features::has_fentry() {
            let mut d = Diagnostic::error(format!("this kernel refuses {} programs", parts[0])).at(span, "cannot load here");
            if features::has_kprobes() {
                let k = if ret { "kretprobe" } else { "kprobe" };
                d = d.help(format!("`{k}:{func}` traces the same function (with `arg0`…, not `args.NAME`)"));
            } else if let Some(tp) = kallsyms::syscall_tracepoint_for(func) {
                d = d.help(format!("`tracepoint:syscalls:{tp}` traces the same system calls"));
            }
            return self.diags.push(d.note("`rtrace --info` lists what this kernel supports"));
        }
        for name in names {
            // libbpf finds `MODULE:FUNC` in the module's BTF.
            let attach = Attach::Fentry { func: module.map_or(name.clone(), |m| format!("{m}:{name}")), ret };
            let mut inst = p.instance(attach, None);
            inst.params = types.function(&name);
            self.out.push(inst);
        }
    }

    /// The kernel's types for an fentry probe: vmlinux's, with `module`'s added when it names
    /// one (the first module named; a second is an error).
    fn fentry_types(&mut self, p: &Point, module: Option<&str>) -> Option<Rc<btf::KernelTypes>> {
        if let Some(m) = module {
            let loaded = self.kernel_types.as_ref().and_then(|t| t.as_ref().ok()).and_then(|t| t.module.clone());
            match loaded {
                Some(other) if other != m => {
                    self.diags.push(
                        Diagnostic::error(format!("rtrace can trace the functions of one module per script, and this one also traces `{other}`"))
                            .at(p.field_span(1), "a second module")
                            .help("run one rtrace per module"),
                    );
                    return None;
                }
                Some(_) => {}
                None => *self.kernel_types = Some(btf::KernelTypes::load_module(m).map(Rc::new)),
            }
        }
        match self.kernel_types.get_or_insert_with(|| btf::KernelTypes::load().map(Rc::new)).clone() {
            Ok(t) => Some(t),
            // A module that is not loaded: vmlinux's types still serve other probes.
            Err(msg) if module.is_some() => {
                *self.kernel_types = None;
                self.diags.push(Diagnostic::error(msg).at(p.field_span(1), "no BTF for this module"));
                None
            }
            Err(msg) => {
                self.diags.push(Diagnostic::error(msg).at(p.span, "fentry needs the kernel's BTF"));
                None
            }
        }
    }
}

/// Which `:`-separated field of a kernel-function probe (`kprobe:FUNC`,
/// `kprobe:MODULE:FUNC`, `fentry:…`) names the function.
fn kernel_function_field(parts: &[&str], text: &str, span: Span) -> Result<usize, Diagnostic> {
    let field = parts.len() - 1;
    if !(2..=3).contains(&parts.len()) || parts[field].is_empty() {
        return Err(Diagnostic::error(format!("invalid {} `{text}`", parts[0]))
            .at(span, format!("expected `{}:FUNCTION`", parts[0])));
    }
    Ok(field)
}

/// The error for a kprobe on a kernel without kprobes, with what works instead.
fn no_kprobes(provider: &str, func: &str, span: Span) -> Diagnostic {
    let mut d = Diagnostic::error(format!("this kernel cannot attach {provider}s: it was built without CONFIG_KPROBES"))
        .at(span, format!("needs a {provider}"));
    if let Some(tp) = kallsyms::syscall_tracepoint_for(func) {
        d = d.help(format!("`tracepoint:syscalls:{tp}` traces the same system calls"));
    }
    d.note("`rtrace --info` lists what this kernel supports; `--dry-run --no-attach` still checks the program")
}
