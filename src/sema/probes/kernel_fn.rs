//! Probes on kernel functions: `kprobe`/`kretprobe` (the functions ftrace can hook, from
//! tracefs or kallsyms) and `fentry`/`fexit` (the functions BTF describes, with their
//! parameters), each also as `PROVIDER:MODULE:FUNCTION`.

use super::{function_offset, malformed, Expander, Flow, Point};
use crate::diag::did_you_mean;
use crate::glob::glob;
use crate::kernel::{btf, features, kallsyms};
use crate::plan::Attach;
use crate::sema::errors::{Form, Instead, Missing, ProbeError};
use std::rc::Rc;

impl Expander<'_> {
    /// kprobe:FUNC, kprobe:FUNC+OFFSET, kprobe:MODULE:FUNC
    pub(super) fn kprobe(&mut self, p: &Point) -> Result<Flow, ProbeError> {
        let (parts, no_attach) = (&p.parts, self.opts.no_attach);
        let ret = p.provider.starts_with("kr");
        let target_field = kernel_function_field(p)?;
        let (func, offset) = function_offset(parts[target_field], ret, "kretprobe", p.text, p.field_span(target_field))?;
        let root = self.tracefs_root();
        let all;
        let known = match target_field {
            // kprobe:MODULE:FUNC: only that module's functions.
            2 if parts[1] != "vmlinux" => {
                all = kallsyms::module_functions(root.as_deref(), parts[1]);
                if all.is_empty() && !no_attach {
                    return Err(ProbeError::KernelModuleFunctions { module: parts[1].to_string(), span: p.field_span(1) });
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
            let nearest = match func.contains('*') {
                true => None,
                false => did_you_mean(func, known.iter().map(String::as_str)).map(str::to_string),
            };
            // In a probe of several attach points (biolatency.bt's `kprobe:blk_account_io_start,
            // kprobe:__blk_account_io_start`, one name per kernel version) a missing function
            // is skipped, as bpftrace does; the probe is an error only if it is left with none.
            // Without attaching, the program can still be checked by the verifier (a wildcard
            // that matches nothing leaves nothing to check).
            let missing = match () {
                _ if !no_attach && p.attach_points > 1 => Missing::Skipped,
                _ if !no_attach => Missing::Error,
                _ if func.contains('*') => Missing::NothingToCheck,
                _ => Missing::CheckedAnyway,
            };
            let span = p.field_span(target_field);
            self.error(ProbeError::NoKernelFunction { func: func.to_string(), span, nearest, missing });
            match missing {
                Missing::Skipped => return Ok(Flow::Skipped),
                Missing::Error | Missing::NothingToCheck => return Ok(Flow::Next),
                Missing::CheckedAnyway => matches.push(func.to_string()),
            }
        }
        if !no_attach && !features::has_kprobes() {
            let tracepoint = kallsyms::syscall_tracepoint_for(func);
            return Err(ProbeError::NoKprobes { provider: parts[0].to_string(), span: p.span, tracepoint });
        }
        for f in matches {
            self.out.push(p.instance(Attach::Kprobe { func: f, offset, ret }, None));
        }
        Ok(Flow::Next)
    }

    /// fentry:FUNC, fentry:MODULE:FUNC (and fexit, kfunc, kretfunc).
    pub(super) fn fentry(&mut self, p: &Point) -> Result<(), ProbeError> {
        let parts = &p.parts;
        let ret = matches!(p.provider.as_str(), "fexit" | "fr" | "kretfunc");
        let target_field = kernel_function_field(p)?;
        let func = parts[target_field];
        // fentry:MODULE:FUNC: the module's functions, typed by vmlinux's BTF and the module's
        // (one module per script: see `KernelTypes::load_module`).
        let module = Some(parts[1]).filter(|m| target_field == 2 && *m != "vmlinux");
        let types = self.fentry_types(p, module)?;
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
            let (module, func) = (module.map(str::to_string), func.to_string());
            return Err(ProbeError::NoBtfFunction { module, func, span: p.field_span(target_field) });
        }
        if !self.opts.no_attach && self.opts.host.fentry_refused {
            let instead = match features::has_kprobes() {
                true => Some(Instead::Kprobe { ret, func: func.to_string() }),
                false => kallsyms::syscall_tracepoint_for(func).map(Instead::Tracepoint),
            };
            return Err(ProbeError::FentryRefused { provider: parts[0].to_string(), span: p.span, instead });
        }
        for name in names {
            // libbpf finds `MODULE:FUNC` in the module's BTF.
            let attach = Attach::Fentry { func: module.map_or(name.clone(), |m| format!("{m}:{name}")), ret };
            let mut inst = p.instance(attach, None);
            inst.params = types.function(&name);
            self.out.push(inst);
        }
        Ok(())
    }

    /// The kernel's types for an fentry probe: vmlinux's, with `module`'s added when it names
    /// one (the first module named; a second is an error).
    fn fentry_types(&mut self, p: &Point, module: Option<&str>) -> Result<Rc<btf::KernelTypes>, ProbeError> {
        if let Some(m) = module {
            let loaded = self.kernel_types.as_ref().and_then(|t| t.as_ref().ok()).and_then(|t| t.module.clone());
            match loaded {
                Some(other) if other != m => return Err(ProbeError::SecondModule { other, span: p.field_span(1) }),
                Some(_) => {}
                None => *self.kernel_types = Some(btf::KernelTypes::load_module(m).map(Rc::new)),
            }
        }
        match self.kernel_types.get_or_insert_with(|| btf::KernelTypes::load().map(Rc::new)).clone() {
            Ok(t) => Ok(t),
            // A module that is not loaded: vmlinux's types still serve other probes.
            Err(reason) if module.is_some() => {
                *self.kernel_types = None;
                Err(ProbeError::NoModuleBtf { reason, span: p.field_span(1) })
            }
            Err(reason) => Err(ProbeError::NoKernelBtf { reason, span: p.span }),
        }
    }
}

/// Which `:`-separated field of a kernel-function probe (`kprobe:FUNC`,
/// `kprobe:MODULE:FUNC`, `fentry:…`) names the function.
fn kernel_function_field(p: &Point) -> Result<usize, ProbeError> {
    let field = p.parts.len() - 1;
    if !(2..=3).contains(&p.parts.len()) || p.parts[field].is_empty() {
        return Err(malformed(p, Form::KernelFunction));
    }
    Ok(field)
}
