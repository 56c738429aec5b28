//! Values only the running system knows: a kernel symbol's address (`kaddr()`), a symbol's
//! address in a uprobe's binary (`uaddr()`), a cgroup's id (`cgroupid()`). The checker notes
//! each where it meets it; they are looked up once, after the checks, and put in the
//! expression's `Res::Const`.

use super::check::{Lookup, ProbeCheck};
use super::types::Res;
use crate::diag::{Diagnostic, Severity};
use crate::kernel::{elf, kallsyms};

/// Looks up the values `probe` needs; a value that cannot be had is an error at the probe's
/// other errors (a warning with `--no-attach`, for `kaddr()`: nothing runs).
pub(super) fn resolve(probe: &mut ProbeCheck, no_attach: bool) {
    for (expr, lookup) in std::mem::take(&mut probe.lookups) {
        let value = match lookup {
            Lookup::Kaddr { symbol, span } => match kallsyms::symbol_address(&symbol) {
                Some(a) => a,
                None => {
                    let d = Diagnostic::error(format!("no kernel symbol `{symbol}`")).at(span, "not in /proc/kallsyms");
                    if !no_attach {
                        probe.diags.push(d);
                        continue;
                    }
                    let mut d = d.note("checked with address 0, since nothing runs");
                    d.severity = Severity::Warning;
                    probe.diags.push(d);
                    0
                }
            },
            Lookup::Uaddr { path, symbol, span } => match elf::symbol_address(std::path::Path::new(&path), &symbol) {
                Some(a) => a,
                None => {
                    probe.diags.push(
                        Diagnostic::error(format!("no symbol `{symbol}` in `{path}`"))
                            .at(span, "not in the program's symbol tables"),
                    );
                    continue;
                }
            },
            Lookup::Cgroupid { path, span } => match kallsyms::cgroup_id(&path) {
                Ok(id) => id,
                Err(err) => {
                    probe.diags.push(
                        Diagnostic::error(format!("cannot get the cgroup id of `{path}`: {err}"))
                            .at(span, "not a cgroup v2 directory")
                            .help("cgroup v2 is mounted at /sys/fs/cgroup (or /sys/fs/cgroup/unified beside v1)"),
                    );
                    continue;
                }
            },
        };
        if let Some(info) = probe.info.exprs.get_mut(&expr) {
            info.res = Res::Const(value);
        }
    }
}
