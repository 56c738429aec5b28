//! bpftrace 0.26's command-line flags that rtrace takes only to say what they do here: those
//! it does anyway (`--verify-llvm-ir`, `--usdt-file-activation`), those without effect
//! (`-I`, `--include`: a warning), and those it lacks, each an error that names the flag
//! (docs/differences.md, "Command line").

use crate::diag::Diagnostic;

/// bpftrace's flags that rtrace does not have, accepted by the parser so that using one
/// gets an error naming it rather than clap's "unexpected argument". Hidden from `--help`.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct Unsupported {
    #[arg(long, hide = true, value_name = "DIRS")]
    pub debuginfo: Vec<String>,
    #[arg(long, hide = true, value_name = "FILE")]
    pub fmt: Option<String>,
    #[arg(long, hide = true, value_name = "MODE")]
    pub mode: Option<String>,
    #[arg(long, hide = true, value_name = "FILE")]
    pub aot: Option<String>,
}

impl Unsupported {
    /// The error for the first of these flags given, if any.
    pub fn error(&self) -> Option<String> {
        let (flag, why) = if !self.debuginfo.is_empty() {
            ("--debuginfo", "no DWARF is read")
        } else if self.fmt.is_some() {
            ("--fmt", "there is no script formatter")
        } else if self.mode.is_some() {
            ("--mode", "use --test or --bench")
        } else if self.aot.is_some() {
            ("--aot", "use `rtrace build` to make a standalone tool (docs/build.md)")
        } else {
            return None;
        };
        Some(format!("`{flag}` (a bpftrace flag) is not supported by rtrace: {why}"))
    }
}

/// `--probe-filter`'s value: a regular expression (`regex-lite`'s syntax, which has ECMAScript's
/// common forms; bpftrace takes C++'s ECMAScript ones).
pub fn probe_filter(text: &str) -> Result<regex_lite::Regex, String> {
    regex_lite::Regex::new(text).map_err(|e| format!("not a regular expression: {e}"))
}

/// A flag's value that names a file to read (`--traceable-functions`): one that cannot be read
/// is a usage error at once.
pub fn readable_file(text: &str) -> Result<std::path::PathBuf, String> {
    std::fs::File::open(text).map_err(|e| format!("cannot read `{text}`: {e}"))?;
    Ok(text.into())
}

/// The warnings for `-I` and `--include`, which have no effect: rtrace takes kernel types
/// from BTF and ignores `#include` lines.
pub fn include_warnings(dirs: &[String], files: &[String]) -> Vec<Diagnostic> {
    let flags = [(!dirs.is_empty(), "-I"), (!files.is_empty(), "--include")];
    flags
        .iter()
        .filter(|(given, _)| *given)
        .map(|(_, flag)| {
            Diagnostic::warning(format!("`{flag}` has no effect: rtrace takes kernel types from BTF and ignores `#include`"))
        })
        .collect()
}

/// `--emit-llvm FILE`: the IR before LLVM's passes in `FILE.original.ll`, after them in
/// `FILE.optimized.ll` (bpftrace's names).
pub fn write_llvm(file: &std::path::Path, ir: &crate::codegen::Ir) -> Result<(), String> {
    for (suffix, text) in [("original.ll", &ir.original), ("optimized.ll", &ir.optimized)] {
        let mut path = file.as_os_str().to_owned();
        path.push(".");
        path.push(suffix);
        std::fs::write(&path, text).map_err(|e| format!("cannot write `{}`: {e}", std::path::Path::new(&path).display()))?;
    }
    Ok(())
}
