//! `rtrace build SCRIPT -o TOOL` (docs/build.md): compiles the script once and writes a
//! standalone executable: rtrace's runtime without the compiler (`rtrace-run`, `src/stub/main.rs`)
//! with the BPF object and the plan in an ELF section (`bundle::SECTION`). The script's
//! positional parameters, named ones (`getopt()`) and `-p` become run-time
//! values (`sema::Options::portable`); what only the build machine knows is an error here,
//! naming the construct.

use crate::bundle::{self, KernelId, Manifest, Param};
use crate::driver::{self, Cli};
use crate::plan::{Attach, Plan};
use clap::Parser;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// `rtrace build`'s command line.
#[derive(Parser, Debug)]
#[command(
    name = "rtrace build",
    bin_name = "rtrace build",
    about = "Compile a script once into a standalone tool that runs without rtrace, LLVM or headers, on any kernel with BTF (its kernel type accesses are CO-RE relocations)",
    after_help = "Building needs no root where the script's probes and types resolve from the kernel's \
BTF and tracefs (readable by root only on most systems: tracepoint formats, kprobe functions from \
available_filter_functions). The built tool needs root (or CAP_BPF and CAP_PERFMON) and BTF."
)]
pub struct BuildCli {
    /// The script to compile.
    #[arg(value_name = "SCRIPT")]
    pub script: String,

    /// Where to write the tool [default: the script's name without `.rt`/`.bt`, here].
    #[arg(short = 'o', value_name = "TOOL")]
    pub output: Option<PathBuf>,

    /// The runtime to embed the script in [default: `../stub/rtrace-run` from rtrace's
    /// directory (what scripts/build-stub makes), else `rtrace-run` beside rtrace].
    #[arg(long, value_name = "FILE")]
    pub stub: Option<PathBuf>,

    /// Allow functions that act on the system: `signal()` and `system()`.
    #[arg(long = "unsafe")]
    pub allow_unsafe: bool,

    /// How the tool prints `hist()` maps by default: `bpftrace` or `bcc` (its own
    /// `--hist-style` overrides).
    #[arg(long, value_name = "STYLE", default_value = "bpftrace")]
    pub hist_style: driver::HistStyle,
}

/// Runs `rtrace build`; returns the process exit status.
pub fn main(cli: BuildCli) -> i32 {
    // The compiler recurses once per level of nesting: it runs on a thread with room.
    let worker = std::thread::Builder::new().stack_size(driver::COMPILER_STACK).spawn(move || build(&cli));
    let result = match worker.map(|w| w.join()) {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(BuildError::Message("internal error: rtrace panicked (please report this with the script)".into())),
        Err(e) => Err(BuildError::Message(format!("cannot start: {e}"))),
    };
    match result {
        Ok(()) => 0,
        Err(BuildError::Reported) => 1,
        Err(BuildError::Message(m)) => {
            eprintln!("error: {m}");
            1
        }
    }
}

enum BuildError {
    /// The front end printed its diagnostics.
    Reported,
    Message(String),
}

impl From<String> for BuildError {
    fn from(m: String) -> BuildError {
        BuildError::Message(m)
    }
}

fn build(cli: &BuildCli) -> Result<(), BuildError> {
    let output = cli.output.clone().unwrap_or_else(|| PathBuf::from(tool_name(&cli.script)));

    params_in_attach_points(&cli.script)?;
    let front_cli = Cli::parse_from(["rtrace", cli.script.as_str()]);
    // Kernel type accesses become CO-RE relocations: the tool runs on other kernels with BTF.
    let front_cli = Cli { portable: true, co_re: true, allow_unsafe: cli.allow_unsafe, ..front_cli };
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let front = driver::front_end(&front_cli, color, &mut std::io::stdout(), &mut std::io::stderr())
        .map_err(|_| BuildError::Reported)?;
    let opts = crate::codegen::Options { co_re: true, ..crate::codegen::Options::default() };
    let object = crate::codegen::compile(&front.program, &front.checked, &opts, None)
        .map_err(|e| e.to_string())?;
    let mut plan = front.checked.plan.clone();
    portable_plan(&mut plan)?;
    let stub_path = cli.stub.clone().map_or_else(|| default_stub(needs_symbols(&plan)), Ok)?;
    let stub = std::fs::read(&stub_path).map_err(|e| format!("cannot read the runtime `{}`: {e}", stub_path.display()))?;
    if bundle::find(&stub).map_err(|e| format!("`{}`: {e}", stub_path.display()))?.is_some() {
        return Err(format!("`{}` is already a built tool, not rtrace's runtime", stub_path.display()).into());
    }

    let name = output.file_name().map_or_else(|| "tool".to_string(), |n| n.to_string_lossy().into_owned());
    let manifest = Manifest {
        name,
        about: about(&front.script.text),
        params: [params(&front.script.text, &front.checked)?, named_params(&front.options)?].concat(),
        kernel: KernelId::running(),
        co_re: true,
        bcc_hists: cli.hist_style == driver::HistStyle::Bcc,
        plan,
    };
    let tool = add_section(&stub, bundle::SECTION, &bundle::encode(&manifest, &object))?;
    write_executable(&output, &tool).map_err(|e| format!("cannot write `{}`: {e}", output.display()))?;
    Ok(())
}

/// A built tool's parameters are known only when it starts, after its probes are chosen: an
/// attach point that names one (`kprobe:$1`) cannot be built.
fn params_in_attach_points(script: &str) -> Result<(), String> {
    let Ok(source) = std::fs::read_to_string(script) else { return Ok(()) };
    let Ok(program) = crate::parser::parse(&source) else { return Ok(()) };
    let named = |text: &str| text.match_indices('$').any(|(i, _)| text[i + 1..].starts_with(|c: char| c.is_ascii_digit() || c == '#'));
    match program.probes.iter().flat_map(|p| &p.attach_points).find(|ap| named(&ap.text)) {
        Some(ap) => Err(format!(
            "`rtrace build` cannot carry `{}`: a built tool's parameters are read when it starts, after its probes are chosen",
            ap.text
        )),
        None => Ok(()),
    }
}

/// The small runtime `scripts/build-stub` makes (`../stub/rtrace-run` from a cargo build of
/// rtrace), else `rtrace-run` beside rtrace (an installed pair, or cargo's own build of it).
/// A plan that prints no symbol takes `rtrace-run-lean` where there is one: the same runtime
/// without blazesym, ~90 KB smaller.
fn default_stub(symbols: bool) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find rtrace's own file: {e}"))?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let full = [dir.join("../stub/rtrace-run"), dir.join("rtrace-run")];
    let lean = [dir.join("../stub/rtrace-run-lean"), dir.join("rtrace-run-lean")];
    let candidates = if symbols { full.iter().collect::<Vec<_>>() } else { lean.iter().chain(&full).collect() };
    match candidates.into_iter().find(|c| c.exists()) {
        Some(stub) => Ok(stub.clone()),
        None => Err(format!("no runtime at `{}`: build it with `scripts/build-stub` (or name one with --stub)", full[1].display())),
    }
}

/// Whether a plan prints a symbol (`ksym()`, `usym()`, a stack): a value of one of those kinds
/// anywhere in it. Read from the plan's serde form so that no place a value can be is missed;
/// a string that happens to spell a kind's name only costs the smaller stub.
fn needs_symbols(plan: &Plan) -> bool {
    fn any_symbol(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s == "Ksym" || s == "Usym",
            serde_json::Value::Array(items) => items.iter().any(any_symbol),
            serde_json::Value::Object(fields) => fields.iter().any(|(k, v)| k == "Stack" || any_symbol(v)),
            _ => false,
        }
    }
    !plan.stack_depths.is_empty() || serde_json::to_value(plan).map_or(true, |v| any_symbol(&v))
}

/// The tool's default name: the script's, without its extension.
fn tool_name(script: &str) -> String {
    let path = Path::new(script);
    path.file_stem().unwrap_or(path.as_os_str()).to_string_lossy().into_owned()
}

/// Makes the plan fit another machine: tracepoint ids are looked up there; probes at file
/// offsets of the build machine's binaries cannot be carried.
fn portable_plan(plan: &mut Plan) -> Result<(), String> {
    for def in &mut plan.probes {
        for attach in std::iter::once(&mut def.attach).chain(def.also.iter_mut().map(|(a, _)| a)) {
            match attach {
                Attach::Tracepoint { id, .. } => *id = 0,
                Attach::Uprobe { .. } | Attach::Usdt { .. } => {
                    return Err(format!(
                        "`rtrace build` cannot carry `{}` to another machine: uprobes and USDT probes are placed at file offsets of this machine's binaries",
                        def.display
                    ))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The tool's description: the script's first comment line that is not a parameter's.
fn about(source: &str) -> String {
    bundle::comments(source).find(|c| !c.is_empty() && bundle::param_line(c).is_none()).unwrap_or_default().to_string()
}

/// The tool's own flags, which a script's parameters cannot take (`src/stub/main.rs`).
const TOOL_FLAGS: &str = "foqpcBvh";

/// The parameters the tool takes: those the script declares (`// $N …` lines), and any
/// other `$N` the programs read, up to the last one, so that each keeps its place; those read
/// with `str($N)` take text.
fn params(source: &str, checked: &crate::sema::Checked) -> Result<Vec<Param>, String> {
    let base = crate::plan::GLOBAL_ARGC;
    let declared = bundle::declared_params(source);
    if let Some(p) = declared.iter().find(|p| p.flag.is_some_and(|f| TOOL_FLAGS.contains(f))) {
        return Err(format!("parameter ${} cannot be flag -{}: a built tool's own flags are -{}", p.number, p.flag.unwrap_or('?'), TOOL_FLAGS));
    }
    let positional = |slot: u32| (slot > base && slot <= base + crate::plan::MAX_RUNTIME_PARAMS).then(|| slot - base);
    let mut used = Vec::new();
    let mut strings = Vec::new();
    for info in checked.progs.iter().flat_map(|p| p.exprs.values()) {
        match info.res {
            crate::sema::Res::Global(slot) => used.extend(positional(slot)),
            crate::sema::Res::GlobalStr(slot) => strings.extend(positional(slot)),
            _ => {}
        }
    }
    let last = used.iter().chain(&strings).copied().chain(declared.iter().map(|p| p.number)).max().unwrap_or(0);
    Ok((1..=last)
        .map(|number| {
            let mut p = match declared.iter().find(|p| p.number == number) {
                Some(p) => p.clone(),
                None => Param { number, name: format!("ARG{number}"), help: String::new(), flag: None, default: None, long: None, string: false },
            };
            p.string = strings.contains(&number);
            p
        })
        .collect())
}

/// The tool's own long flags, which a script's named parameters cannot be (`src/stub/main.rs`).
const TOOL_LONG_FLAGS: [&str; 7] = ["help", "dry-run", "timings", "hist-style", "compat", "btf", "any-kernel"];

/// The named parameters (`getopt()`) the tool takes, in the order sema gave them their
/// globals (`sema::Options::named`): `--NAME=VALUE`, a boolean `--NAME`.
fn named_params(options: &[crate::parser::getopt::Opt]) -> Result<Vec<Param>, String> {
    if let Some(o) = options.iter().find(|o| TOOL_LONG_FLAGS.contains(&o.name.as_str())) {
        let own = TOOL_LONG_FLAGS.map(|f| format!("--{f}")).join(" ");
        return Err(format!("named parameter `--{}` cannot be a built tool's: its own long flags are {own}", o.name));
    }
    Ok(options
        .iter()
        .zip(1..)
        .map(|(o, number)| Param {
            number,
            name: if o.kind == "bool" { String::new() } else { o.kind.to_uppercase() },
            help: o.description.clone().unwrap_or_default(),
            flag: None,
            default: Some(o.value.clone()),
            long: Some(o.name.clone()),
            string: o.kind == "string",
        })
        .collect())
}

/// Writes `data` to `path` with mode 0755 (replacing any file there).
fn write_executable(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_file(path);
    std::fs::write(path, data)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

/// ELF64 little-endian header fields this needs (offsets in the file header).
const E_SHOFF: usize = 0x28;
const E_SHENTSIZE: usize = 0x3A;
const E_SHNUM: usize = 0x3C;
const E_SHSTRNDX: usize = 0x3E;
const SHDR_SIZE: usize = 64;

/// `elf` with one more section, `name`, holding `data` (not loaded at run time): the section
/// names and the section header table are written anew at the end of the file, pointing at
/// the new section; everything else stays where it was, so the program runs as before.
pub fn add_section(elf: &[u8], name: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    let bad = || "the runtime is not a 64-bit little-endian ELF file".to_string();
    if elf.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return Err(bad());
    }
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize).ok_or_else(bad);
    let u64_at = |o: usize| elf.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize).ok_or_else(bad);
    let (shoff, shnum, shstrndx) = (u64_at(E_SHOFF)?, u16_at(E_SHNUM)?, u16_at(E_SHSTRNDX)?);
    if u16_at(E_SHENTSIZE)? != SHDR_SIZE || shstrndx >= shnum {
        return Err(bad());
    }
    let mut headers = elf.get(shoff..shoff + shnum * SHDR_SIZE).ok_or_else(bad)?.to_vec();
    let strtab = shstrndx * SHDR_SIZE;
    let (str_off, str_size) = (u64_at(shoff + strtab + 0x18)?, u64_at(shoff + strtab + 0x20)?);
    let mut names = elf.get(str_off..str_off + str_size).ok_or_else(bad)?.to_vec();
    let name_index = names.len();
    names.extend_from_slice(name.as_bytes());
    names.push(0);

    let mut out = elf.to_vec();
    let names_at = out.len();
    out.extend_from_slice(&names);
    let data_at = align(&mut out, 8);
    out.extend_from_slice(data);
    let headers_at = align(&mut out, 8);
    headers[strtab + 0x18..strtab + 0x20].copy_from_slice(&(names_at as u64).to_le_bytes());
    headers[strtab + 0x20..strtab + 0x28].copy_from_slice(&(names.len() as u64).to_le_bytes());
    let mut header = [0u8; SHDR_SIZE];
    header[0..4].copy_from_slice(&(name_index as u32).to_le_bytes());
    header[4..8].copy_from_slice(&1u32.to_le_bytes()); // SHT_PROGBITS, no flags: not loaded
    header[0x18..0x20].copy_from_slice(&(data_at as u64).to_le_bytes());
    header[0x20..0x28].copy_from_slice(&(data.len() as u64).to_le_bytes());
    header[0x30..0x38].copy_from_slice(&1u64.to_le_bytes()); // sh_addralign
    headers.extend_from_slice(&header);
    out.extend_from_slice(&headers);
    out[E_SHOFF..E_SHOFF + 8].copy_from_slice(&(headers_at as u64).to_le_bytes());
    out[E_SHNUM..E_SHNUM + 2].copy_from_slice(&((shnum + 1) as u16).to_le_bytes());
    Ok(out)
}

/// Pads `out` with zeros to a multiple of `to`; returns its new length.
fn align(out: &mut Vec<u8>, to: usize) -> usize {
    out.resize(out.len().next_multiple_of(to), 0);
    out.len()
}

#[cfg(test)]
mod tests {
    use super::needs_symbols;
    use crate::driver::{front_end, Cli};
    use clap::Parser;

    /// Whether `script`'s plan, as `rtrace build` makes it, needs the stub with blazesym.
    fn symbols_of(script: &str) -> bool {
        let cli = Cli::try_parse_from(["rtrace", "-e", script]).expect("arguments parse");
        let cli = Cli { portable: true, ..cli };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        match front_end(&cli, false, &mut out, &mut err) {
            Ok(front) => needs_symbols(&front.checked.plan),
            Err(status) => panic!("front end failed ({status}): {}", String::from_utf8_lossy(&err)),
        }
    }

    #[test]
    fn the_lean_stub_serves_plans_without_symbols() {
        assert!(!symbols_of(r#"BEGIN { @[comm, pid] = count(); printf("%s %d\n", comm, 1); @h = hist(5); }"#));
        assert!(symbols_of("BEGIN { @[kstack] = count(); }"));
        assert!(symbols_of("BEGIN { @s = ustack(perf, 3); }"));
        assert!(symbols_of(r#"BEGIN { printf("%s\n", ksym(0)); }"#));
        assert!(symbols_of(r#"BEGIN { @t = (1, usym(0)); }"#));
    }
}
