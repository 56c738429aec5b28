//! `rtrace-run`: the runtime of a tool built by `rtrace build` (docs/build.md). It finds its
//! own payload (`rtrace::bundle`) in its executable, makes its command line from it (the
//! script's positional and named parameters, and rtrace's run flags: `-f`, `-o`, `-q`, `-p`,
//! `-c`, `-B`, …), checks that this kernel can run the object, and runs it as `rtrace
//! script.rt` would. It links no compiler (build it with `--no-default-features`:
//! `scripts/build-stub`).

use clap::{Arg, ArgAction, ArgMatches, Command};
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
    let matches = command(&manifest).get_matches();
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
    let name = leak(&manifest.name);
    let mut cmd = Command::new(name)
        .about(manifest.about.clone())
        .after_help("Built by `rtrace build`; it needs root (or CAP_BPF and CAP_PERFMON) and the kernel's BTF.")
        .disable_version_flag(true);
    for p in &manifest.params {
        let mut arg = Arg::new(arg_id(p)).help(p.help.clone());
        if let Some(default) = &p.default {
            arg = arg.default_value(leak(default));
        }
        arg = match (p.flag, &p.long) {
            // A boolean named parameter: `--NAME`, or `--NAME=true|false|1|0` as rtrace reads it.
            (_, Some(long)) if p.is_switch() => arg
                .long(leak(long))
                .value_name("BOOL")
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true")
                .value_parser(["true", "false", "1", "0"])
                .hide_possible_values(true),
            (_, Some(long)) => arg.long(leak(long)).value_name(leak(&p.name)).require_equals(true).allow_hyphen_values(true),
            (Some(f), None) if p.is_switch() => arg.short(f).action(ArgAction::SetTrue),
            (Some(f), None) => arg.short(f).value_name(leak(&p.name)),
            (None, None) => arg.value_name(leak(&p.name)).allow_hyphen_values(true),
        };
        cmd = cmd.arg(arg);
    }
    let flag = |id: &'static str, short: char, help: &'static str| Arg::new(id).short(short).action(ArgAction::SetTrue).help(help);
    let value = |id: &'static str, short: char, name: &'static str, help: &'static str| Arg::new(id).short(short).value_name(name).help(help);
    cmd.arg(value("format", 'f', "FORMAT", "Output format: `text` or `json` (one JSON object a line)").value_parser(["text", "json"]))
        .arg(value("output", 'o', "FILE", "Write the output to FILE instead of standard output"))
        .arg(flag("quiet", 'q', "Quiet: do not print `Attached N probes`"))
        .arg(value("pid", 'p', "PID", "Trace only process PID; end when it exits").value_parser(clap::value_parser!(u32)))
        .arg(value("command", 'c', "CMD", "Run CMD (with `sh -c`) once attached; end when it exits"))
        .arg(value("buffering", 'B', "MODE", "Output buffering: `line`, `full` or `none`").value_parser(["line", "full", "none"]))
        .arg(flag("verbose", 'v', "Verbose: show libbpf's log and the verifier's log on failure"))
        .arg(Arg::new("dry_run").long("dry-run").action(ArgAction::SetTrue).help("Load and attach every probe, then exit"))
        .arg(Arg::new("timings").long("timings").action(ArgAction::SetTrue).help("Print how long loading and attaching took"))
        .arg(
            Arg::new("hist_style")
                .long("hist-style")
                .value_name("STYLE")
                .value_parser(["bpftrace", "bcc"])
                .default_value(if manifest.bcc_hists { "bcc" } else { "bpftrace" })
                .help("How hist() maps print: bpftrace's layout or BCC's"),
        )
        .arg(
            Arg::new("compat")
                .long("compat")
                .value_name("VERSION")
                .value_parser(clap::builder::EnumValueParser::<runtime::Compat>::new())
                .hide_possible_values(true)
                .help("Print bpftrace 0.26's output (default) or 0.17's; also RTRACE_COMPAT"),
        )
        .arg(Arg::new("btf").long("btf").value_name("FILE").help("The kernel's BTF [default: /sys/kernel/btf/vmlinux]"))
        .arg(
            Arg::new("any_kernel")
                .long("any-kernel")
                .action(ArgAction::SetTrue)
                .help("Run on another kernel than the one the tool was built on, though it was built without CO-RE"),
        )
}

/// A parameter's id in clap's command.
fn arg_id(p: &bundle::Param) -> &'static str {
    match &p.long {
        Some(long) => leak(&format!("--{long}")),
        None => leak(&format!("param{}", p.number)),
    }
}

/// A string for clap's command, which lives as long as the process.
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// Whether this kernel can run the object: it has BTF, and it is the build's kernel unless
/// the object was compiled with CO-RE relocations.
fn check_kernel(manifest: &Manifest, matches: &ArgMatches) -> Result<(), String> {
    let btf = matches.get_one::<String>("btf").map_or(KERNEL_BTF, String::as_str);
    if !std::path::Path::new(btf).exists() {
        return Err(format!("this kernel has no BTF ({btf} is missing; it needs CONFIG_DEBUG_INFO_BTF=y)"));
    }
    let running = KernelId::running();
    if !manifest.co_re && running != manifest.kernel && !matches.get_flag("any_kernel") {
        return Err(format!(
            "built without CO-RE for kernel {} ({}), this is {} ({}): rebuild it here with `rtrace build`, or pass --any-kernel",
            manifest.kernel.release, manifest.kernel.version, running.release, running.version
        ));
    }
    Ok(())
}

/// The runtime's options from the command line; the parameters and `-p` go to the globals
/// the programs read.
fn options(manifest: &Manifest, matches: &ArgMatches, plan: &mut plan::Plan) -> Result<runtime::Options, String> {
    let mut globals = param_values(manifest, matches)?;
    // `$#`: the last positional parameter given (a default counts).
    let given = globals.iter().filter(|(slot, _)| (plan::GLOBAL_ARGC + 1..plan::GLOBAL_NAMED).contains(slot)).map(|(slot, _)| slot - plan::GLOBAL_ARGC);
    globals.push((plan::GLOBAL_ARGC, given.max().unwrap_or(0) as u64));
    let pid = matches.get_one::<u32>("pid").copied();
    if let Some(pid) = pid {
        globals.push((plan::GLOBAL_FILTER_PID, pid as u64));
        plan.filter_pid = Some(pid);
    }
    let buffering = matches.get_one::<String>("buffering").map(|b| match b.as_str() {
        "line" => runtime::Buffering::Line,
        "full" => runtime::Buffering::Full,
        _ => runtime::Buffering::None,
    });
    Ok(runtime::Options {
        verbose: matches.get_flag("verbose"),
        dry_run: matches.get_flag("dry_run"),
        no_attach: false,
        command: matches.get_one::<String>("command").cloned(),
        pid,
        output: matches.get_one::<String>("output").map(Into::into),
        quiet: matches.get_flag("quiet"),
        timings: matches.get_flag("timings"),
        json: matches.get_one::<String>("format").is_some_and(|f| f == "json"),
        buffering,
        // bpftrace's default `max_cat_bytes` (a built tool reads no environment for it).
        max_cat_bytes: 10240,
        globals,
        // A built tool serves no metrics (yet): its plan was compiled without histogram sums.
        #[cfg(feature = "exporter")]
        prometheus: None,
        live: None,
        bcc_hists: matches.get_one::<String>("hist_style").is_some_and(|s| s == "bcc"),
        compat: match matches.get_one::<runtime::Compat>("compat") {
            Some(&c) => c,
            None => runtime::Compat::from_env()?.unwrap_or_default(),
        },
    })
}

/// The parameters' values, each with its entry in the globals map (`Param::slot`): those
/// given or with a default (the map holds 0 for the others, and for a switch not given).
fn param_values(manifest: &Manifest, matches: &ArgMatches) -> Result<Vec<(u32, u64)>, String> {
    let mut globals = Vec::new();
    for p in &manifest.params {
        let id = arg_id(p);
        if p.is_switch() && p.long.is_none() {
            let on = matches.get_flag(id);
            if on {
                globals.push((p.slot(), 1));
            }
            continue;
        }
        let Some(text) = matches.get_one::<String>(id) else { continue };
        let value = match &p.long {
            Some(_) if p.is_switch() => matches!(text.as_str(), "true" | "1") as u64,
            Some(long) => parse_int(text).ok_or_else(|| format!("--{long} must be an integer, not `{text}`"))?,
            None => parse_int(text).ok_or_else(|| format!("{} must be an integer, not `{text}`", p.name))?,
        };
        globals.push((p.slot(), value));
    }
    Ok(globals)
}

/// An integer as a script's parameter reads: decimal, or `0x` hexadecimal; negative ones as
/// their two's complement.
fn parse_int(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse::<i64>().ok().map(|n| n as u64),
    }
}
