//! `rtrace-run`: the runtime of a tool built by `rtrace build` (docs/build.md). It finds its
//! own payload (`rtrace::bundle`) in its executable, makes its command line from it (the
//! script's positional and named parameters, and rtrace's run flags: `-f`, `-o`, `-q`, `-p`,
//! `-c`, `-B`, …), checks that this kernel can run the object, and runs it as `rtrace
//! script.rt` would. It links no compiler (build it with `--no-default-features`:
//! `scripts/build-stub`).

mod cli;

use cli::{Command, Matches, Opt, Positional, Stop, Takes};
use rtrace::bundle::{self, KernelId, Manifest};
use rtrace::{plan, runtime};

/// The kernel's own BTF, which the tool's CO-RE relocations are resolved against.
const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

fn main() {
    // Until the runtime takes over, SIGINT and SIGTERM end the tool at once; then they stop
    // it in order (`runtime::signals`).
    if let Err(e) = runtime::signals::install() {
        fail(&format!("cannot set up signal handling: {e}"));
    }
    let (manifest, object) = match payload() {
        Ok(found) => found,
        Err(e) => fail(&e),
    };
    let matches = match command(&manifest).parse(std::env::args_os().skip(1)) {
        Ok(m) => m,
        Err(Stop::Help(text)) => {
            print!("{text}");
            std::process::exit(0)
        }
        Err(Stop::Usage(e)) => fail(&format!("{}: {e}", manifest.name)),
    };
    if let Err(e) = check_kernel(&manifest, &matches) {
        fail(&format!("{}: {e}", manifest.name));
    }
    let mut plan = manifest.plan.clone();
    let opts = match options(&manifest, &matches, &mut plan) {
        Ok(o) => o,
        Err(e) => fail(&format!("{}: {e}", manifest.name)),
    };
    let status = runtime::run(&object, &plan, &opts);
    rtrace::kernel::tracefs::unmount_if_mounted_by_rtrace();
    match status {
        Ok(code) => std::process::exit(code),
        Err(e) => fail(&format!("{}: {}", manifest.name, e.message)),
    }
}

/// Prints `error: MESSAGE` and exits with status 1.
fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}

/// The manifest and BPF object kept in this executable.
fn payload() -> Result<(Manifest, Vec<u8>), String> {
    let data = std::fs::read("/proc/self/exe").map_err(|e| format!("cannot read this program's file: {e}"))?;
    match bundle::find(&data)? {
        Some(section) => bundle::decode(section),
        None => Err(format!(
            "this is rtrace's runtime without a script (no {} section): make a tool with `rtrace build SCRIPT -o TOOL`",
            bundle::SECTION
        )),
    }
}

/// The tool's command line: its parameters, then rtrace's run flags.
fn command(manifest: &Manifest) -> Command {
    let mut opts = Vec::new();
    let mut positionals = Vec::new();
    for p in &manifest.params {
        let (id, help, default) = (arg_id(p), p.help.clone(), p.default.clone());
        let value = |equals| Takes::Value { name: p.name.clone(), equals };
        let (short, long, takes) = match (p.flag, &p.long) {
            // A boolean named parameter: `--NAME`, or `--NAME=true|false|1|0` as rtrace reads it.
            (_, Some(long)) if p.is_switch() => (None, Some(long.clone()), Takes::OptionalBool),
            (_, Some(long)) => (None, Some(long.clone()), value(true)),
            (Some(f), None) if p.is_switch() => (Some(f), None, Takes::Nothing),
            (Some(f), None) => (Some(f), None, value(false)),
            (None, None) => {
                positionals.push(Positional { id, name: p.name.clone(), help, default });
                continue;
            }
        };
        opts.push(Opt { id, short, long, takes, help, default, choices: &[] });
    }
    let hist_style = if manifest.bcc_hists { "bcc" } else { "bpftrace" };
    opts.extend([
        Opt::value("format", 'f', "FORMAT", "Output format: `text` or `json` (one JSON object a line)").choices(&["text", "json"]),
        Opt::value("output", 'o', "FILE", "Write the output to FILE instead of standard output"),
        Opt::switch("quiet", 'q', "Quiet: do not print `Attached N probes`"),
        Opt::value("pid", 'p', "PID", "Trace only process PID; end when it exits"),
        Opt::value("command", 'c', "CMD", "Run CMD (with `sh -c`) once attached; end when it exits"),
        Opt::value("buffering", 'B', "MODE", "Output buffering: `line`, `full` or `none`").choices(&["line", "full", "none"]),
        Opt::switch("verbose", 'v', "Verbose: show libbpf's log and the verifier's log on failure"),
        Opt::long_switch("dry_run", "dry-run", "Load and attach every probe, then exit"),
        Opt::long_switch("timings", "timings", "Print how long loading and attaching took"),
        Opt::long_value("hist_style", "hist-style", "STYLE", "How hist() maps print: bpftrace's layout or BCC's")
            .default(hist_style)
            .choices(&["bpftrace", "bcc"]),
        Opt::long_value("compat", "compat", "VERSION", "Print bpftrace 0.26's output (default) or 0.17's; also RTRACE_COMPAT")
            .choices(&["0.26", "0.17"]),
        Opt::long_value("btf", "btf", "FILE", "Resolve the tool's CO-RE relocations against this BTF file (for a kernel without /sys/kernel/btf/vmlinux) [default: the kernel's own]"),
        Opt::long_switch("any_kernel", "any-kernel", "Run on another kernel than the one the tool was built on, though it was built without CO-RE"),
    ]);
    Command {
        name: manifest.name.clone(),
        about: manifest.about.clone(),
        after_help: "Built by `rtrace build`; it needs root (or CAP_BPF and CAP_PERFMON) and the kernel's BTF.".into(),
        opts,
        positionals,
    }
}

/// A parameter's id among the matches.
fn arg_id(p: &bundle::Param) -> String {
    match &p.long {
        Some(long) => format!("--{long}"),
        None => format!("param{}", p.number),
    }
}

/// Whether this kernel can run the object: it has BTF, or `--btf` names a BTF file for it;
/// and it is the build's kernel unless the object was compiled with CO-RE relocations.
fn check_kernel(manifest: &Manifest, matches: &Matches) -> Result<(), String> {
    match matches.get("btf") {
        // libbpf parses it when loading: here only its first bytes are checked.
        Some(file) => {
            let mut magic = [0u8; 4];
            let read = std::fs::File::open(file).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic));
            read.map_err(|e| format!("cannot read BTF file {file}: {}", io_reason(&e)))?;
            // Raw BTF (`bpftool btf dump … format raw`, /sys/kernel/btf/vmlinux) or an ELF
            // file with a .BTF section (a vmlinux).
            if magic[..2] != [0x9f, 0xeb] && magic != *b"\x7fELF" {
                return Err(format!("{file} is not a BTF file (neither raw BTF nor an ELF file)"));
            }
        }
        None if !std::path::Path::new(KERNEL_BTF).exists() => {
            return Err(format!(
                "this kernel has no BTF ({KERNEL_BTF} is missing; it needs CONFIG_DEBUG_INFO_BTF=y, or a BTF file for it given with --btf FILE)"
            ))
        }
        None => {}
    }
    let running = KernelId::running();
    if !manifest.co_re && running != manifest.kernel && !matches.flag("any_kernel") {
        return Err(format!(
            "built without CO-RE for kernel {} ({}), this is {} ({}): rebuild it here with `rtrace build`, or pass --any-kernel",
            manifest.kernel.release, manifest.kernel.version, running.release, running.version
        ));
    }
    Ok(())
}

/// An I/O error's reason without Rust's `(os error N)`.
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The runtime's options from the command line; the parameters and `-p` go to the globals
/// the programs read.
fn options(manifest: &Manifest, matches: &Matches, plan: &mut plan::Plan) -> Result<runtime::Options, String> {
    let (mut globals, str_globals) = param_values(manifest, matches)?;
    // `$#`: the last positional parameter given (a default counts).
    let slots = globals.iter().map(|(slot, _)| *slot).chain(str_globals.iter().map(|(slot, _)| *slot));
    let given = slots.filter(|slot| (plan::GLOBAL_ARGC + 1..plan::GLOBAL_NAMED).contains(slot)).map(|slot| slot - plan::GLOBAL_ARGC);
    globals.push((plan::GLOBAL_ARGC, given.max().unwrap_or(0) as u64));
    let pid = match matches.get("pid") {
        Some(text) => Some(text.parse::<u32>().map_err(|_| format!("-p must be a process id, not `{text}`"))?),
        None => None,
    };
    if let Some(pid) = pid {
        globals.push((plan::GLOBAL_FILTER_PID, pid as u64));
        plan.filter_pid = Some(pid);
    }
    let buffering = matches.get("buffering").map(|b| match b {
        "line" => runtime::Buffering::Line,
        "full" => runtime::Buffering::Full,
        _ => runtime::Buffering::None,
    });
    Ok(runtime::Options {
        verbose: matches.flag("verbose"),
        no_warnings: false,
        dry_run: matches.flag("dry_run"),
        no_attach: false,
        command: matches.get("command").map(String::from),
        pid,
        dwarf_pids: Vec::new(),
        output: matches.get("output").map(Into::into),
        quiet: matches.flag("quiet"),
        timings: matches.flag("timings"),
        json: matches.get("format") == Some("json"),
        buffering,
        // bpftrace's default `max_cat_bytes` (a built tool reads no environment for it).
        max_cat_bytes: 10240,
        globals,
        str_globals,
        btf: matches.get("btf").map(Into::into),
        // A built tool serves no metrics (yet): its plan was compiled without histogram sums.
        #[cfg(feature = "exporter")]
        prometheus: None,
        live: None,
        bcc_hists: matches.get("hist_style") == Some("bcc"),
        compat: match matches.get("compat") {
            Some(v) => runtime::Compat::parse(v).ok_or_else(|| format!("--compat must be `0.17` or `0.26`, not `{v}`"))?,
            None => runtime::Compat::from_env()?.unwrap_or_default(),
        },
        mode: runtime::Mode::Trace,
    })
}

/// The parameters' values, each with its entry in the globals map (`Param::slot`): those
/// given or with a default (the map holds 0 for the others, and for a switch not given); and
/// the string ones' text, at the same entries of the string globals map.
fn param_values(manifest: &Manifest, matches: &Matches) -> Result<(Vec<(u32, u64)>, Vec<(u32, String)>), String> {
    let (mut globals, mut strings) = (Vec::new(), Vec::new());
    for p in &manifest.params {
        let id = arg_id(p);
        if p.is_switch() && p.long.is_none() {
            let on = matches.flag(&id);
            if on {
                globals.push((p.slot(), 1));
            }
            continue;
        }
        let Some(text) = matches.get(&id) else { continue };
        if p.string {
            strings.push((p.slot(), text.to_string()));
            // `$N` read as an integer too: its value when the text is one.
            globals.extend(parse_int(text).map(|n| (p.slot(), n)));
            continue;
        }
        let value = match &p.long {
            Some(_) if p.is_switch() => matches!(text, "true" | "1") as u64,
            Some(long) => parse_int(text).ok_or_else(|| format!("--{long} must be an integer, not `{text}`"))?,
            None => parse_int(text).ok_or_else(|| format!("{} must be an integer, not `{text}`", p.name))?,
        };
        globals.push((p.slot(), value));
    }
    Ok((globals, strings))
}

/// An integer as a script's parameter reads: decimal, or `0x` hexadecimal; negative ones as
/// their two's complement.
fn parse_int(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse::<i64>().ok().map(|n| n as u64),
    }
}
