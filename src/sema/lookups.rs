//! Values only the running system knows: a kernel symbol's address (`kaddr()`), a symbol's
//! address in a uprobe's binary (`uaddr()`), a cgroup's id (`cgroupid()`), the number of CPUs
//! (`ncpus`). The checker notes
//! each where it meets it; they are looked up once, after the checks, and put in the
//! expression's `Res::Const`.

use super::check::{Lookup, ProbeCheck};
use super::errors::CallError;
use super::types::Res;
use crate::kernel::{cgroup, elf, kallsyms};

/// Looks up the values `probe` needs; a value that cannot be had is an error after the
/// probe's other errors (with `--no-attach`, a missing kernel symbol is a warning, and 0:
/// nothing runs).
pub(super) fn resolve(probe: &mut ProbeCheck, no_attach: bool, portable: bool) {
    for (expr, lookup) in std::mem::take(&mut probe.lookups) {
        if portable {
            // A built tool runs on another machine: these are the build machine's values.
            let (construct, span) = match &lookup {
                Lookup::Kaddr { span, .. } => ("kaddr()", Some(*span)),
                Lookup::Uaddr { span, .. } => ("uaddr()", Some(*span)),
                Lookup::Cgroupid { span, .. } => ("cgroupid()", Some(*span)),
                Lookup::Ncpus => ("ncpus", probe.info.exprs.get(&expr).map(|i| i.span)),
            };
            if let Some(span) = span {
                probe.errors.push(CallError::NotPortable { construct, span }.into());
            }
            continue;
        }
        let value = match lookup {
            Lookup::Kaddr { symbol, span } => match kallsyms::symbol_address(&symbol) {
                Some(a) => a,
                None => {
                    probe.errors.push(CallError::NoKernelSymbol { symbol, no_attach, span }.into());
                    0
                }
            },
            Lookup::Uaddr { path, symbol, span } => match elf::symbol_address(std::path::Path::new(&path), &symbol) {
                Some(a) => a,
                None => {
                    probe.errors.push(CallError::NoUserSymbol { symbol, path, span }.into());
                    continue;
                }
            },
            Lookup::Cgroupid { path, span } => match cgroup::id(&path) {
                Ok(id) => id,
                Err(e) => {
                    probe.errors.push(CallError::CgroupId { path, error: e.to_string(), span }.into());
                    continue;
                }
            },
            Lookup::Ncpus => libbpf_rs::num_possible_cpus().unwrap_or(1) as u64,
        };
        if let Some(info) = probe.info.exprs.get_mut(&expr) {
            info.res = Res::Const(value);
        }
    }
}
