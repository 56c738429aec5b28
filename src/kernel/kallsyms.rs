//! The kernel's functions and symbols (kallsyms, and ftrace's list of the functions kprobes can
//! hook), and which syscall tracepoint covers a function. Read lazily, only for scripts that
//! need them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `--traceable-functions FILE`: the list of functions to read instead of tracefs's
/// `available_filter_functions` (same format: `symbol` or `symbol [module]` per line).
static FUNCTIONS_FILE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Reads the traceable functions from `file` for the rest of the run (`--traceable-functions`;
/// the command line checked that it can be read); a second call changes nothing.
pub fn use_functions_file(file: &Path) {
    let _ = FUNCTIONS_FILE.set(file.to_path_buf());
}

/// The text of `available_filter_functions`: the `--traceable-functions` file if one was
/// given, else tracefs's.
fn functions_text(tracefs: Option<&Path>) -> Option<String> {
    match FUNCTIONS_FILE.get() {
        Some(file) => std::fs::read_to_string(file).ok(),
        None => std::fs::read_to_string(tracefs?.join("available_filter_functions")).ok(),
    }
}

/// The kernel functions a kprobe may attach to: tracefs's `available_filter_functions` when
/// present (what ftrace can hook; or the `--traceable-functions` file), else every text symbol
/// in `/proc/kallsyms`.
pub fn traceable_functions(tracefs: Option<&Path>) -> BTreeSet<String> {
    if let Some(functions) = filter_functions(tracefs) {
        return functions;
    }
    let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (_addr, kind, name) = (parts.next()?, parts.next()?, parts.next()?);
            matches!(kind, "t" | "T").then(|| name.to_string())
        })
        .collect()
}

/// The functions ftrace can hook (tracefs's `available_filter_functions`, or the
/// `--traceable-functions` file), if that file can be read: it exists but is refused (EPERM)
/// on some hosts.
pub fn filter_functions(tracefs: Option<&Path>) -> Option<BTreeSet<String>> {
    let text = functions_text(tracefs)?;
    Some(text.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect())
}

/// The traceable functions of kernel module `module`, as `traceable_functions` finds them
/// (`available_filter_functions` and kallsyms tag a module's functions `[MODULE]`).
pub fn module_functions(tracefs: Option<&Path>, module: &str) -> BTreeSet<String> {
    let tag = format!("[{module}]");
    let of_module = |text: String, name_at: usize| -> BTreeSet<String> {
        text.lines()
            .filter(|l| l.split_whitespace().any(|w| w == tag))
            .filter_map(|l| l.split_whitespace().nth(name_at).map(str::to_string))
            .collect()
    };
    if let Some(text) = functions_text(tracefs) {
        return of_module(text, 0);
    }
    of_module(std::fs::read_to_string("/proc/kallsyms").unwrap_or_default(), 2)
}

/// The address of a kernel symbol, from /proc/kallsyms (as root, real addresses).
pub fn symbol_address(name: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/kallsyms").ok()?;
    text.lines().find_map(|l| {
        let mut parts = l.split_whitespace();
        let (addr, _kind, sym) = (parts.next()?, parts.next()?, parts.next()?);
        (sym == name).then(|| u64::from_str_radix(addr, 16).ok()).flatten()
    })
}

/// The syscall tracepoint that covers a kernel function on a syscall path, if there is one:
/// `do_sys_open` → `sys_enter_open*`, `__x64_sys_read` → `sys_enter_read`.
pub fn syscall_tracepoint_for(func: &str) -> Option<String> {
    let name = ["__x64_sys_", "__ia32_sys_", "__se_sys_", "__do_sys_", "ksys_", "do_sys_", "sys_"]
        .iter()
        .find_map(|p| func.strip_prefix(p))?;
    let base = name.trim_end_matches(char::is_numeric);
    if base.is_empty() {
        return None;
    }
    // do_sys_open and do_sys_openat2 serve open, openat and openat2.
    if base.starts_with("open") {
        return Some("sys_enter_open*".into());
    }
    Some(format!("sys_enter_{base}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_paths_map_to_tracepoints() {
        assert_eq!(syscall_tracepoint_for("do_sys_open").as_deref(), Some("sys_enter_open*"));
        assert_eq!(syscall_tracepoint_for("do_sys_openat2").as_deref(), Some("sys_enter_open*"));
        assert_eq!(syscall_tracepoint_for("__x64_sys_read").as_deref(), Some("sys_enter_read"));
        assert_eq!(syscall_tracepoint_for("vfs_read"), None);
    }
}
