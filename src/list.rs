//! `rtrace -l [PATTERN]`: the probes (and with `-v`, their fields and arguments) and kernel
//! types this machine offers, read from the kernel's facts (`crate::kernel`).

use crate::kernel::perf::{HARDWARE_EVENTS, SOFTWARE_EVENTS};
use crate::kernel::{btf, cpp, elf, kallsyms, tracefs, usdt};
use crate::glob::glob;
use crate::plan;

/// `rtrace -l [PATTERN]`: the probes this kernel offers whose full name (or last part)
/// matches PATTERN (`*` wildcards), one a line; with `verbose`, tracepoints' fields,
/// fentry functions' arguments and iterators' objects follow, indented.
pub fn list(pattern: &str, verbose: bool) -> String {
    if !pattern.contains(':') && ["struct", "union", "enum"].iter().any(|tag| pattern.starts_with(tag)) {
        return list_types(pattern, verbose);
    }
    let matches = |full: &str| glob(pattern, full) || full.rsplit(':').next().is_some_and(|last| glob(pattern, last));
    let wants = |provider: &str| !pattern.contains(':') || pattern.starts_with(provider) || pattern.starts_with('*');
    let mut out = String::new();
    // `enum NAME`: a kernel enum's values, as C declares them.
    if let Some(name) = pattern.strip_prefix("enum ") {
        let types = btf::KernelTypes::load().ok();
        if let Some(def) = types.as_ref().and_then(|k| k.enum_def(k.find_tagged("enum", name.trim())?)) {
            out.push_str(&format!("enum {} {{\n", def.name));
            for (value, n) in &def.values {
                out.push_str(&format!("    {n} = {},\n", plan::EnumDef { values: vec![], ..def.clone() }.text(*value)));
            }
            out.push_str("};\n");
        }
        return out;
    }
    tracefs::mount_if_missing();
    let root = tracefs::find();
    if wants("tracepoint:") {
        if let Some(root) = &root {
            for cat in tracefs::categories(root) {
                for ev in tracefs::events(root, &cat) {
                    let full = format!("tracepoint:{cat}:{ev}");
                    if !matches(&full) {
                        continue;
                    }
                    out.push_str(&full);
                    out.push('\n');
                    if verbose {
                        if let Some(f) = tracefs::format(root, &cat, &ev) {
                            for field in &f.fields {
                                out.push_str(&format!("    {}\n", field.decl));
                            }
                        }
                    }
                }
            }
        }
    }
    for (provider, table) in [("software:", SOFTWARE_EVENTS), ("hardware:", HARDWARE_EVENTS)] {
        if wants(provider) {
            for (names, _, _) in table {
                let full = format!("{provider}{}:", names[0]);
                if matches(&full) || matches(&full[..full.len() - 1]) {
                    out.push_str(&full);
                    out.push('\n');
                }
            }
        }
    }
    if let Some(rest) = pattern.strip_prefix("usdt:").or_else(|| pattern.strip_prefix("U:")) {
        // usdt:BINARY[:…]: the binary's probes, as usdt:PATH:PROVIDER:NAME.
        let target = rest.split(':').next().unwrap_or("");
        if let Some(path) = elf::resolve(target) {
            let pattern = format!("usdt:{}{}", path.display(), &rest[target.len()..]);
            let pattern = if pattern.matches(':').count() < 3 { format!("{pattern}*") } else { pattern };
            let notes = usdt::notes(&path).unwrap_or_default();
            let mut names: Vec<String> =
                notes.iter().map(|n| format!("usdt:{}:{}:{}", path.display(), n.provider, n.name)).collect();
            names.sort();
            names.dedup();
            for full in names.into_iter().filter(|full| glob(&pattern, full)) {
                out.push_str(&full);
                out.push('\n');
            }
        }
    }
    if let Some(rest) = pattern.strip_prefix("uprobe:").or_else(|| pattern.strip_prefix("u:")) {
        // uprobe:BINARY[:FUNC]: the binary's functions, as uprobe:PATH:FUNC.
        let target = rest.split(':').next().unwrap_or("");
        if let Some(path) = elf::resolve(target) {
            let func = rest[target.len()..].strip_prefix(':').filter(|f| !f.is_empty()).unwrap_or("*");
            // With -v, each function's parameters from the binary's DWARF, as bpftrace 0.26
            // writes them (`const char* name`); none for a binary without DWARF.
            let debug = verbose.then(|| crate::kernel::dwarf::Debug::load(&path).ok().flatten()).flatten();
            // `cpp:PATTERN`: C++ functions by demangled name, listed quoted as `cpp:"NAME"`.
            let cpp_pattern = func.strip_prefix("cpp:").map(|p| p.replace('"', ""));
            let wanted = |name: &String| match &cpp_pattern {
                Some(p) => glob(p, name) || cpp::matches(p, name),
                None => glob(func, name),
            };
            for name in elf::functions(&path).unwrap_or_default().keys().filter(|name| wanted(name)) {
                match cpp_pattern.as_ref().and(cpp::demangle(name)) {
                    Some(demangled) => out.push_str(&format!("uprobe:{}:cpp:\"{demangled}\"\n", path.display())),
                    None => out.push_str(&format!("uprobe:{}:{name}\n", path.display())),
                }
                for param in debug.as_ref().and_then(|d| d.params(name)).unwrap_or_default() {
                    let sep = if param.name.is_empty() { "" } else { " " };
                    out.push_str(&format!("    {}{sep}{}\n", param.type_name, param.name));
                }
            }
        }
    }
    if pattern.starts_with("rawtracepoint:") {
        if let Ok(types) = btf::KernelTypes::load() {
            let mut decls = None;
            for name in types.raw_tracepoints_matching(|_| true) {
                let full = format!("rawtracepoint:{name}");
                if matches(&full) {
                    out.push_str(&full);
                    out.push('\n');
                    let params = types.raw_tracepoint_params(&name).filter(|_| verbose).map(|p| p.0).unwrap_or_default();
                    if let Some(decls) = decls.get_or_insert_with(|| types.c_decls()).as_mut() {
                        for (param, ty) in params {
                            out.push_str(&format!("    {} {param}\n", decls.decl(ty)));
                        }
                    }
                }
            }
        }
    }
    if wants("iter:") {
        list_iterators(&mut out, &matches, verbose);
    }
    let kind = ["kprobe", "kretprobe", "fentry", "fexit"].into_iter().find(|k| pattern.starts_with(&format!("{k}:")));
    if kind.is_some() || !pattern.contains(':') && pattern != "*" {
        list_functions(&mut out, kind.unwrap_or("kprobe"), root.as_deref(), &matches, verbose);
    }
    out
}

/// `-l 'struct X'`, `union X`, `enum X` (wildcards allowed): the matching names, or with `-v`
/// their C definitions as libbpf's `btf_dump` writes them, each followed by an empty line;
/// sorted by text, as bpftrace sorts them.
fn list_types(pattern: &str, verbose: bool) -> String {
    let Ok(types) = btf::KernelTypes::load() else { return String::new() };
    let matching: Vec<(String, u32)> = types.tagged_types().into_iter().filter(|(name, _)| glob(pattern, name)).collect();
    let items: std::collections::BTreeSet<String> = match verbose {
        false => matching.into_iter().map(|(name, _)| format!("{name}\n")).collect(),
        true => {
            let ids: Vec<u32> = matching.iter().map(|(_, id)| *id).collect();
            types.c_definitions(&ids, |head| glob(pattern, head)).into_iter().map(|def| format!("{def}\n")).collect()
        }
    };
    items.into_iter().collect()
}

/// `-l 'iter:*'`: the iterators the kernel's BTF names, as `iter:` probes take them (sorted, as
/// bpftrace 0.26 lists them); with `-v`, the objects each one visits, as 0.26 lists them: the
/// parameters of the kernel's `bpf_iter_NAME` after its `struct bpf_iter_meta *meta`, as
/// `TYPE NAME` (`struct task_struct * task`), which are the `ctx` fields beside `meta`.
/// (0.26 also loads a test program per iterator and leaves out, with a warning, those the
/// kernel refuses; rtrace lists what BTF names.)
fn list_iterators(out: &mut String, matches: &dyn Fn(&str) -> bool, verbose: bool) {
    let Ok(types) = btf::KernelTypes::load() else { return };
    let ids = if verbose { types.function_ids() } else { Default::default() };
    let mut decls = None;
    for name in types.iterators() {
        let full = format!("iter:{name}");
        if !matches(&full) {
            continue;
        }
        out.push_str(&full);
        out.push('\n');
        let Some((params, _)) = ids.get(&format!("bpf_iter_{name}")).and_then(|id| types.function_at(*id)) else { continue };
        let Some(decls) = decls.get_or_insert_with(|| types.c_decls()).as_mut() else { continue };
        for (param, ty) in params.iter().skip(1) {
            out.push_str(&format!("    {} {param}\n", decls.decl(*ty)));
        }
    }
}

/// `-l` of kernel functions as `kind` probes (kprobe, kretprobe, fentry, fexit). kprobes list
/// tracefs's `available_filter_functions`, or the functions in the kernel's BTF where that file
/// cannot be read; fentry and fexit need BTF, so they list its functions (those ftrace can
/// hook, where the file can be read). With `-v`, each function's parameters from BTF, as newer
/// bpftrace writes them: `TYPE argN` for kprobes, `TYPE NAME` for fentry, and the return type
/// as `TYPE retval` for kretprobes (`void` if none) and fexit.
fn list_functions(out: &mut String, kind: &str, tracefs: Option<&std::path::Path>, matches: &dyn Fn(&str) -> bool, verbose: bool) {
    let types = btf::KernelTypes::load().ok();
    let filter = kallsyms::filter_functions(tracefs);
    let ids = types.as_ref().map(|t| t.function_ids()).unwrap_or_default();
    let functions: Vec<&String> = match (kind, &filter) {
        ("kprobe" | "kretprobe", Some(filter)) => filter.iter().collect(),
        (_, filter) => ids.keys().filter(|f| filter.as_ref().is_none_or(|set| set.contains(*f))).collect(),
    };
    let mut decls = None;
    for func in functions {
        let full = format!("{kind}:{func}");
        if !matches(&full) {
            continue;
        }
        out.push_str(&full);
        out.push('\n');
        let Some((types, (params, ret))) =
            types.as_ref().filter(|_| verbose).and_then(|t| Some((t, t.function_at(*ids.get(func)?)?)))
        else {
            continue;
        };
        let Some(decls) = decls.get_or_insert_with(|| types.c_decls()).as_mut() else { continue };
        let mut lines = Vec::new();
        if kind != "kretprobe" {
            let ints = params.iter().filter(|(_, ty)| !types.is_float(*ty));
            match kind {
                "kprobe" => lines.extend(ints.enumerate().map(|(i, (_, ty))| format!("{} arg{i}", decls.decl(*ty)))),
                _ => lines.extend(params.iter().map(|(name, ty)| format!("{} {name}", decls.decl(*ty)))),
            }
        }
        match (kind, ret) {
            ("kretprobe", 0) => lines.push("void".into()),
            ("kretprobe" | "fexit", ret) if ret != 0 => lines.push(format!("{} retval", decls.decl(ret))),
            _ => {}
        }
        for line in lines {
            out.push_str(&format!("    {line}\n"));
        }
    }
}
