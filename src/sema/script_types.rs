//! The script's own C definitions (`struct S { … };`, unions, enums, typedefs) added to the
//! kernel's types before the probes are checked (`kernel::script_types`), so that `(struct S
//! *)arg0`, `$s->name`, `sizeof(struct S)` and `offsetof(struct S, f)` work as they do for a
//! kernel type. The first definition that cannot be read or laid out is an error at it.

use super::KernelTypesCache;
use crate::diag::{Diagnostic, Span};
use crate::kernel::{btf, cdecl};
use crate::parser::ast::Program;
use std::rc::Rc;

/// Adds `program`'s definitions to the kernel's types (loading them first if no probe has).
pub(super) fn add(program: &Program, kernel_types: &mut KernelTypesCache) -> Result<(), Diagnostic> {
    let Some(first) = program.c_definitions.first() else { return Ok(()) };
    let mut defs = cdecl::Defs::default();
    for d in &program.c_definitions {
        // The span covers the definition's text from its start.
        cdecl::parse(&d.text, &mut defs).map_err(|e| {
            let at = Span::new(d.span.start + e.at, (d.span.start + e.at + 1).min(d.span.end));
            Diagnostic::error(format!("cannot read this C definition: {}", e.message)).at(at, "here")
        })?;
    }
    let base = kernel_types.get_or_insert_with(|| btf::KernelTypes::load().map(Rc::new)).clone();
    let with_script = base
        .and_then(|k| k.with_script_types(&defs))
        .map_err(|reason| Diagnostic::error(format!("cannot use the script's C definitions: {reason}")).at(first.span, "defined here"))?;
    *kernel_types = Some(Ok(Rc::new(with_script)));
    Ok(())
}
