//! The command line and the order of the stages: read the script, parse, check, compile, run.
//! Every user error leaves here as a rendered diagnostic or one `error:` line, exit status 1.

use crate::diag::{Diagnostic, Renderer};
use crate::limits::Limits;
use crate::parser::ast::Program;
use crate::{codegen, parser, runtime, sema};
use clap::{Parser, ValueEnum};
use std::io::{IsTerminal, Read, Write};

mod flags;

#[derive(Parser, Debug)]
#[command(name = "rtrace", version, about = "A dynamic tracer for Linux: bpftrace's language, compiled in process to eBPF", after_help = LIMITS_HELP)]
pub struct Cli {
    /// The program to run, as text.
    #[arg(short = 'e', value_name = "PROGRAM")]
    pub program: Option<String>,

    /// A script file to run (`-` reads the script from standard input).
    #[arg(value_name = "FILE")]
    pub file: Option<String>,

    /// Parameters for the script: positional ones are `$1`, `$2`, … (`$#` is their number);
    /// after `--`, `--name=VALUE` (or `--name` for a boolean) sets the named parameter that
    /// `getopt("name", default)` reads, and `-- --help` lists the script's named parameters.
    #[arg(value_name = "ARG", trailing_var_arg = true, allow_hyphen_values = true)]
    pub params: Vec<String>,

    /// Verbose: show libbpf's log and the verifier's log on failure.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// Print an intermediate form and exit: the AST, the plan, or the LLVM IR (`codegen`
    /// before LLVM's passes, `ir` after them); `libbpf` and `verifier` run as `-v` does.
    #[arg(short = 'd', long = "dump", visible_alias = "debug", value_name = "WHAT")]
    pub dump: Option<Dump>,

    /// Compile, load and attach every probe, then exit without running the program.
    #[arg(long)]
    pub dry_run: bool,

    /// With --dry-run: load every program into the kernel's verifier but attach nothing (checks
    /// probes this kernel cannot attach, such as kprobes without CONFIG_KPROBES).
    #[arg(long, requires = "dry_run")]
    pub no_attach: bool,

    /// Run CMD (with `sh -c`) once every probe is attached; its pid is `cpid`; rtrace ends
    /// when it exits.
    #[arg(short = 'c', long = "cmd", value_name = "CMD")]
    pub command: Option<String>,

    /// Trace only process PID (probes other than BEGIN, END and interval); rtrace ends when it
    /// exits. Not with `-c`.
    #[arg(short = 'p', long = "pid", value_name = "PID", conflicts_with = "command")]
    pub pid: Option<u32>,

    /// Another process whose unwind tables `dw_ustack()` loads (besides -p's and -c's); may
    /// be repeated.
    #[arg(long = "dwarf-pid", value_name = "PID")]
    pub dwarf_pid: Vec<u32>,

    /// Output format: `text` (bpftrace's) or `json` (one `{"type": …, "data": …}` object a
    /// line, as bpftrace's `-f json`).
    #[arg(short = 'f', value_name = "FORMAT", default_value = "text")]
    pub format: OutputFormat,

    /// Write the script's output to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// Quiet: do not print `Attached N probes`.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// Print how long each stage took (parse, check, codegen, load, attach) on stderr.
    #[arg(long)]
    pub timings: bool,

    /// Print which tracing features this kernel supports, and exit.
    #[arg(long)]
    pub info: bool,

    /// List the probes matching the pattern given in place of FILE (`*` wildcards; all
    /// tracepoints and perf events without one), and exit. With -v (`-lv`), tracepoints'
    /// fields too.
    #[arg(short = 'l', long = "list")]
    pub list: bool,

    /// Output buffering: `line` flushes at every newline, `full` only when the buffer fills and
    /// at exit, `none` after every write. Without -B, rtrace flushes once per batch of events
    /// read from the kernel, so a reader sees each event as soon as it is printed.
    #[arg(short = 'B', value_name = "MODE")]
    pub buffering: Option<Buffering>,

    /// Print a completion script for SHELL on standard output, and exit
    /// (e.g. `rtrace --completions bash > /etc/bash_completion.d/rtrace`).
    #[arg(long, value_name = "SHELL")]
    pub completions: Option<clap_complete::Shell>,

    /// Print every builtin and function, what it does and an example (Markdown tables), and
    /// exit.
    #[arg(long)]
    pub builtins: bool,

    /// Print rtrace's manual page (roff) on standard output, and exit
    /// (e.g. `rtrace --man > /usr/local/share/man/man1/rtrace.1`).
    #[arg(long)]
    pub man: bool,

    /// Run the script's `test:` probes (and begin/end around them), print a report of which
    /// passed, and exit (1 when one failed). Nothing is attached.
    #[arg(long, conflicts_with = "bench")]
    pub test: bool,

    /// Run the script's `bench:` probes in timed loops (and begin/end around them), print how
    /// long one run of each takes, and exit. Nothing is attached.
    #[arg(long)]
    pub bench: bool,

    /// Allow functions that act on the system: `signal()` and `system()`.
    #[arg(long = "unsafe")]
    pub allow_unsafe: bool,

    /// How text output prints `hist()` maps: `bpftrace` (its layout) or `bcc` (BCC's and
    /// libbpf-tools' `usecs : count distribution` layout; docs/build.md).
    #[arg(long, value_name = "STYLE", default_value = "bpftrace")]
    pub hist_style: HistStyle,

    /// Which bpftrace's output to print: `0.26` (the default: what bpftrace's documentation
    /// and tools expect) or `0.17` (`Attaching N probes...`, bools as 1/0, `stats()` as
    /// `count …, average …, total …`), and whose meaning where they differ (0.17: variables
    /// live for the whole probe, 64-bit literals, unsigned subtraction). Without it,
    /// `RTRACE_COMPAT` decides.
    #[arg(long, value_name = "VERSION")]
    pub compat: Option<runtime::Compat>,

    /// Serve the script's maps as Prometheus metrics at http://ADDR/metrics while it runs
    /// (e.g. `127.0.0.1:9435`; docs/exporter.md).
    #[arg(long, value_name = "ADDR")]
    pub prometheus: Option<String>,

    /// With --prometheus: put PREFIX before every metric's name.
    #[arg(long, value_name = "PREFIX", default_value = "rtrace_", requires = "prometheus")]
    pub prometheus_prefix: String,

    /// With --prometheus: export at most N series (keys) of each map; the rest are counted in
    /// `rtrace_series_dropped_total`.
    #[arg(long, value_name = "N", default_value_t = 10_000, requires = "prometheus")]
    pub prometheus_max_series: usize,

    /// A full-screen view of the maps, redrawn every --interval, like `top` (keys: q quits, p
    /// pauses, c clears, s sorts, j/k scroll, / filters, ? help). On quitting, END runs and the
    /// maps print as without --live.
    #[arg(long, conflicts_with_all = ["dry_run", "dump"])]
    pub live: bool,

    /// With --live: seconds between redraws (default 1; fractions allowed).
    #[arg(long, value_name = "SECONDS", requires = "live", value_parser = parse_interval)]
    pub interval: Option<std::time::Duration>,

    /// Skip LLVM's optimisation passes (for debugging rtrace).
    #[arg(long, hide = true)]
    pub no_opt: bool,

    /// Compile kernel type accesses (struct members, array elements, sizeof, offsetof,
    /// tracepoint fields) as BPF CO-RE relocations, which libbpf moves to the loading
    /// kernel's layout; the object then runs on other kernels with BTF. Costs libbpf's
    /// reading of the kernel's BTF at load (docs/co-re.md).
    #[arg(long = "co-re", conflicts_with = "no_opt")]
    pub co_re: bool,

    /// Print no warnings: neither the compiler's nor those of the run (a full map, `warnf()`).
    #[arg(long, conflicts_with = "read_warnings")]
    pub no_warnings: bool,

    /// Warn, where it happened in the script, when a read of kernel or user memory fails
    /// (`str()`, struct members, `*p`; bpftrace's `-k`); a failed read gives 0 either way.
    #[arg(short = 'k', long = "warnings")]
    pub read_warnings: bool,

    /// Write the compiled BPF object (an ELF file) to FILE, and exit without loading it.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["dump", "live"])]
    pub emit_elf: Option<std::path::PathBuf>,

    /// Write the LLVM IR to FILE.original.ll (before LLVM's passes) and FILE.optimized.ll,
    /// then run as usual.
    #[arg(long, value_name = "FILE")]
    pub emit_llvm: Option<std::path::PathBuf>,

    /// Check that the generated LLVM IR is valid: rtrace always does (bpftrace's flag).
    #[arg(long)]
    pub verify_llvm_ir: bool,

    /// Activate USDT semaphores by file, in every process that maps it: rtrace always does,
    /// through the kernel's uprobe reference counters (bpftrace's flag).
    #[arg(long)]
    pub usdt_file_activation: bool,

    /// bpftrace's search path for C headers: no effect, with a warning (rtrace takes kernel
    /// types from BTF and ignores `#include`).
    #[arg(short = 'I', value_name = "DIR")]
    pub include_dirs: Vec<String>,

    /// bpftrace's header included before the script: no effect, with a warning (as `-I`).
    #[arg(long = "include", value_name = "FILE")]
    pub include_files: Vec<String>,

    /// Attach only the probes whose name (as `probe` gives it: `tracepoint:syscalls:sys_enter_read`)
    /// matches REGEX, anywhere in it; BEGIN and END always run. Probes left out are not compiled.
    #[arg(long, value_name = "REGEX", value_parser = flags::probe_filter)]
    pub probe_filter: Option<regex_lite::Regex>,

    /// Do without features the kernel has: `uprobe_multi` and `kprobe_multi` (one link for
    /// many points: then one link per point), `kprobe_session` (accepted; rtrace makes none).
    #[arg(long, value_name = "FEATURE[,FEATURE]", value_parser = crate::kernel::features::NoFeature::parse)]
    pub no_feature: Option<crate::kernel::features::NoFeature>,

    /// Read the kernel functions kprobes may attach to from FILE (`symbol` or `symbol [module]`
    /// per line) instead of tracefs's `available_filter_functions`.
    #[arg(long, value_name = "FILE", value_parser = flags::readable_file)]
    pub traceable_functions: Option<std::path::PathBuf>,

    /// bpftrace's flags rtrace does not have: each is an error naming it.
    #[command(flatten)]
    pub unsupported: flags::Unsupported,

    /// Compile for `rtrace build` (`sema::Options::portable`); not a flag.
    #[arg(skip)]
    pub portable: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HistStyle {
    Bpftrace,
    Bcc,
}

/// The input limits, for `--help` (their values are `Limits::default()`'s; a unit test keeps
/// the two together).
const LIMITS_HELP: &str = "Limits (docs/differences.md):
  script size 10485760 bytes; nesting 1000 levels; 100000 statements;
  1024 attach points (BPFTRACE_MAX_PROBES); 1024 BPF programs (BPFTRACE_MAX_BPF_PROGS);
  cat() prints at most 10240 bytes of a file (BPFTRACE_MAX_CAT_BYTES)";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

pub use runtime::Buffering;

/// `--interval`: a number of seconds, at least 0.05.
fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.05..=86400.0).contains(&s) => Ok(std::time::Duration::from_secs_f64(s)),
        _ => Err(format!("`{text}` is not a number of seconds between 0.05 and 86400")),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Dump {
    Ast,
    /// The type sema inferred for every expression, per probe.
    Types,
    Plan,
    /// The LLVM IR before LLVM's optimisation passes.
    Codegen,
    /// The LLVM IR the BPF object is made from (after LLVM's passes).
    #[value(alias = "codegen-opt")]
    Ir,
    /// Run, showing libbpf's log (like `-v`).
    Libbpf,
    /// Run, showing the verifier's log when it refuses a program (like `-v`).
    Verifier,
}

/// Stack for the compiler's thread: checking and generating code recurse once per level of
/// nesting, and deeply nested scripts must get a diagnostic, not a stack overflow. Only the
/// pages used are ever touched.
pub const COMPILER_STACK: usize = 512 << 20;

/// Runs the command; returns the process exit status.
pub fn main(cli: Cli) -> i32 {
    // Until the runtime takes over, SIGINT and SIGTERM end rtrace at once (reading the
    // script, compiling); then they stop it in order (`runtime::signals`). This thread only
    // waits, so it blocks them: they reach the worker, whose blocking calls they interrupt.
    if let Err(e) = runtime::signals::install() {
        return fail(&format!("cannot set up signal handling: {e}"));
    }
    let worker = std::thread::Builder::new().stack_size(COMPILER_STACK).spawn(move || run(cli));
    runtime::signals::mask_in_this_thread(true);
    let status = worker.map(|w| w.join());
    crate::kernel::tracefs::unmount_if_mounted_by_rtrace();
    match status {
        Ok(Ok(code)) => code,
        Ok(Err(_)) => fail("internal error: rtrace panicked (please report this with the script)"),
        Err(e) => fail(&format!("cannot start: {e}")),
    }
}

fn run(cli: Cli) -> i32 {
    if let Some(message) = cli.unsupported.error() {
        return fail(&message);
    }
    if let Some(off) = cli.no_feature {
        crate::kernel::features::turn_off(off);
    }
    if let Some(file) = &cli.traceable_functions {
        crate::kernel::kallsyms::use_functions_file(file);
    }
    if let Some(shell) = cli.completions {
        clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "rtrace", &mut std::io::stdout());
        return 0;
    }
    if cli.man {
        let page = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command());
        return match page.render(&mut std::io::stdout()) {
            Ok(()) => 0,
            Err(e) => fail(&format!("cannot write the manual page: {e}")),
        };
    }
    if cli.builtins {
        print!("{}", crate::builtins::reference());
        return 0;
    }
    if cli.info {
        print!("{}", crate::kernel::features::report());
        return 0;
    }
    // A pattern given beside `-e` wins (bpftrace 0.17 lists the pattern; so do the cases).
    let script_file = cli.file.as_deref().is_some_and(|f| f != "*" && std::path::Path::new(f).is_file());
    if cli.list && (cli.program.is_some() && cli.file.is_none() || cli.program.is_none() && script_file) {
        return list_program(&cli);
    }
    if cli.list {
        let listing = crate::list::list(cli.file.as_deref().unwrap_or("*"), cli.verbose);
        // An empty listing because tracefs cannot be read (not root) says so, as a failure.
        if listing.is_empty() && crate::kernel::tracefs::find().is_none() {
            if let Some(at) = crate::kernel::tracefs::mounted_at() {
                return fail(&format!("tracefs is mounted at {at}, but this user cannot read it; run rtrace as root"));
            }
        }
        print!("{listing}");
        return 0;
    }
    let compat = match cli.compat.map_or_else(runtime::Compat::from_env, |c| Ok(Some(c))) {
        Ok(c) => c.unwrap_or_default(),
        Err(e) => return fail(&e),
    };
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let FrontEnd { script, program, mut checked, mut timings, limits, .. } =
        match front_end(&cli, color, &mut std::io::stdout(), &mut std::io::stderr()) {
            Ok(front) => front,
            Err(code) => return code,
        };
    if cli.dump == Some(Dump::Types) {
        print!("{}", dump_types(&script.text, &checked));
        return 0;
    }
    if cli.dump == Some(Dump::Plan) {
        println!("{:#?}", checked.plan);
        return 0;
    }
    // An exported histogram keeps the sum of its values too (its `_sum`).
    checked.plan.hist_sums = cli.prometheus.is_some();
    let mut ir = codegen::Ir::default();
    let opts = codegen::Options { no_opt: cli.no_opt, timings: cli.timings, co_re: cli.co_re };
    let dump_ir = matches!(cli.dump, Some(Dump::Ir | Dump::Codegen));
    let want_ir = dump_ir || cli.emit_llvm.is_some();
    let compiled = codegen::compile(&program, &checked, &opts, want_ir.then_some(&mut ir));
    timings.lap("codegen");
    // (the llvm-* lines above are parts of codegen)
    if dump_ir {
        // The IR is shown even when emitting it failed: that is when it is most wanted.
        print!("{}", if cli.dump == Some(Dump::Codegen) { &ir.original } else { &ir.optimized });
    }
    if let Some(file) = &cli.emit_llvm {
        if let Err(e) = flags::write_llvm(file, &ir) {
            return fail(&e);
        }
    }
    let object = match compiled {
        Ok(o) => o,
        Err(e) => return fail(&e.to_string()),
    };
    if dump_ir {
        return 0;
    }
    if let Some(file) = &cli.emit_elf {
        return match std::fs::write(file, &object) {
            Ok(()) => 0,
            Err(e) => fail(&format!("cannot write `{}`: {e}", file.display())),
        };
    }
    let run_opts = runtime::Options {
        verbose: cli.verbose || matches!(cli.dump, Some(Dump::Libbpf | Dump::Verifier)),
        no_warnings: cli.no_warnings,
        dry_run: cli.dry_run,
        no_attach: cli.no_attach,
        command: cli.command.clone(),
        pid: cli.pid,
        dwarf_pids: cli.dwarf_pid.clone(),
        output: cli.output.clone(),
        quiet: cli.quiet,
        timings: cli.timings,
        json: cli.format == OutputFormat::Json,
        buffering: cli.buffering,
        max_cat_bytes: limits.max_cat_bytes,
        globals: Vec::new(),
        str_globals: Vec::new(),
        btf: None,
        bcc_hists: cli.hist_style == HistStyle::Bcc,
        mode: if cli.test {
            runtime::Mode::Test
        } else if cli.bench {
            runtime::Mode::Bench
        } else {
            runtime::Mode::Trace
        },
        prometheus: cli.prometheus.as_ref().map(|addr| runtime::export::Config {
            addr: addr.clone(),
            prefix: cli.prometheus_prefix.clone(),
            max_series: cli.prometheus_max_series,
        }),
        live: cli.live.then(|| cli.interval.unwrap_or(std::time::Duration::from_secs(1))),
        compat,
    };
    match runtime::run(&object, &checked.plan, &run_opts) {
        Ok(code) => code,
        Err(e) => match probe_diagnostic(&program, &checked, &e) {
            Some(diag) => {
                eprint!("{}", script.renderer(color).render(&diag));
                1
            }
            None => fail(&e.message),
        },
    }
}

/// A script the front end has read, parsed and checked.
pub struct FrontEnd {
    /// The script's name as diagnostics show it (a path, or `stdin`/`-e`).
    pub name: String,
    /// The script's text, with the files it imports (`--dump types` and runtime diagnostics
    /// quote it).
    pub script: parser::imports::Script,
    pub program: Program,
    pub checked: sema::Checked,
    /// The stages' wall times so far (`--timings`).
    pub timings: Timings,
    /// The input limits in force (the runtime's `cat()` reads `max_cat_bytes`).
    pub limits: Limits,
    /// The named parameters the script reads (`getopt()`).
    pub options: Vec<parser::getopt::Opt>,
}

/// The front end, as `rtrace` runs it (and `tests/diagnostics.rs`, in process): reads the
/// script (`-e`, a file or stdin), parses it and checks it, writing every diagnostic (errors
/// and warnings) and `error:` line to `err` as the user sees them (`color`: with ANSI colors).
/// `Err(status)` ends the run: 1 after an error, 0 after `--dump ast` (printed on `out`).
pub fn front_end(cli: &Cli, color: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<FrontEnd, i32> {
    let mut limits = Limits::from_env().map_err(|msg| fail_to(err, &msg))?;
    let (name, source) = read_script(cli, &limits).map_err(|e| match e {
        ReadError::Message(msg) => fail_to(err, &msg),
        ReadError::Utf8 { name, text, at } => {
            let diag = Diagnostic::error("the script is not valid UTF-8")
                .at(crate::diag::Span::new(at, at + '\u{FFFD}'.len_utf8()), "not UTF-8");
            let _ = write!(err, "{}", Renderer::new(&name, &text, color).render(&diag));
            1
        }
    })?;
    let mut timings = Timings::new(cli.timings);
    let (script, parsed) = parser::imports::load(&name, &source, &limits);
    let renderer = script.renderer(color);
    let mut report = |diags: &[Diagnostic]| {
        for d in diags.iter().filter(|d| !(cli.no_warnings && d.severity == crate::diag::Severity::Warning)) {
            let _ = write!(err, "{}", renderer.render(d));
        }
    };
    let mut program = parsed.map_err(|diags| {
        report(&diags);
        1
    })?;
    timings.lap("parse");
    if cli.dump == Some(Dump::Ast) {
        let _ = writeln!(out, "{program:#?}");
        return Err(0);
    }
    report(&flags::include_warnings(&cli.include_dirs, &cli.include_files));
    let (config, warnings) = crate::config::resolve(&program, &|k| std::env::var(k).ok()).map_err(|diags| {
        report(&diags);
        1
    })?;
    report(&warnings);
    // The config block sets the limits bpftrace has as config variables; an environment
    // variable (0.17's names too, which only `Limits` knows) wins.
    for (name, value) in [("max_probes", config.max_probes), ("max_bpf_progs", config.max_bpf_progs), ("max_cat_bytes", config.max_cat_bytes)] {
        if !Limits::set_in_env(name, |var| std::env::var_os(var).is_some()) {
            limits.set(name, usize::try_from(value).unwrap_or(usize::MAX));
        }
    }
    // With -e, every positional argument is a parameter.
    let mut params = cli.params.clone();
    if cli.program.is_some() {
        if let Some(first) = &cli.file {
            params.insert(0, first.clone());
        }
    }
    // `--name[=value]` arguments are named parameters, which `getopt()` calls read.
    let (mut params, named) = parser::getopt::split_params(&params);
    // A built tool reads its integer and boolean ones when it starts.
    let mode = if cli.portable { parser::getopt::Mode::RunTime } else { parser::getopt::Mode::Now };
    let options = parser::getopt::resolve(&mut program, &named, mode).map_err(|diags| {
        report(&diags);
        1
    })?;
    if named.iter().any(|(n, _)| n == "help") && !options.iter().any(|o| o.name == "help") {
        let _ = write!(out, "{}", parser::getopt::help(&options));
        return Err(0);
    }
    // A script that declares its parameters (`// $N -F NAME: help`) takes them by flag too.
    let declared = crate::bundle::declared_params(&source);
    if !declared.is_empty() {
        params = crate::bundle::place_params(&declared, &params).map_err(|msg| {
            report(&[Diagnostic::error(msg)]);
            1
        })?;
    }
    let mut sema_opts = sema::Options {
        no_attach: cli.no_attach,
        params,
        pid: cli.pid,
        has_command: cli.command.is_some(),
        allow_unsafe: cli.allow_unsafe,
        host: sema::HostFacts::default(),
        config,
        co_re: cli.co_re,
        portable: cli.portable,
        named: if cli.portable { options.clone() } else { Vec::new() },
        script: script.clone(),
        compat: cli.compat.map_or_else(|| runtime::Compat::from_env().ok().flatten(), Some).unwrap_or_default(),
        read_warnings: cli.read_warnings,
        probe_filter: cli.probe_filter.clone(),
    };
    sema_opts.host = learn_host(sema::host_needs(&program, &sema_opts));
    let checked = sema::check(&program, &sema_opts).map_err(|diags| {
        report(&diags);
        1
    })?;
    timings.lap("check");
    if let Some(diag) = probe_limits(&program, &checked, &limits) {
        report(&[diag]);
        return Err(1);
    }
    report(&checked.warnings);
    drop(report);
    Ok(FrontEnd { name, script, program, checked, timings, limits, options })
}

/// What sema needs to know of the host that takes an effect to learn (sema itself neither
/// mounts tracefs nor loads programs).
fn learn_host(needs: sema::HostNeeds) -> sema::HostFacts {
    if needs.tracefs {
        crate::kernel::tracefs::mount_if_missing();
    }
    sema::HostFacts {
        fentry_refused: needs.fentry && !crate::kernel::features::has_fentry(),
        iter_refused: needs.iter && !crate::kernel::features::has_iter(),
    }
}

/// `max_probes` and `max_bpf_progs`: a diagnostic at the probe whose attach points or
/// program went past one, if any did.
fn probe_limits(program: &Program, checked: &sema::Checked, limits: &Limits) -> Option<Diagnostic> {
    let probes = &checked.plan.probes;
    let points: usize = probes.iter().map(|p| p.points().count()).sum();
    if points > limits.max_probes {
        let mut seen = 0;
        let index = probes.iter().position(|p| {
            seen += p.points().count();
            seen > limits.max_probes
        })?;
        let diag = Diagnostic::error(format!("{points} attach points, more than max_probes ({})", limits.max_probes));
        return Some(at_probe(diag, program, checked, index, None, "past the limit here").help(
            "BPFTRACE_MAX_PROBES=N raises the limit; with care: every attached probe slows down what it traces",
        ));
    }
    if probes.len() > limits.max_bpf_progs {
        let diag = Diagnostic::error(format!("{} BPF programs, more than max_bpf_progs ({})", probes.len(), limits.max_bpf_progs));
        return Some(at_probe(diag, program, checked, limits.max_bpf_progs, None, "past the limit here")
            .help("BPFTRACE_MAX_BPF_PROGS=N raises the limit"));
    }
    None
}

/// `diag` pointed at program `index`'s attach point named `name` (or its own name) if the
/// script writes it so, else at all of the probe's attach points; as it is if there is none.
fn at_probe(diag: Diagnostic, program: &Program, checked: &sema::Checked, index: usize, name: Option<&str>, label: &str) -> Diagnostic {
    let span = (|| {
        let probe = program.probes.get(checked.progs.get(index)?.probe)?;
        let name = name.unwrap_or(&checked.plan.probes.get(index)?.display);
        // A program shared by probes that differ only in literals serves other probes' points.
        let mut written = probe.attach_points.iter().chain(program.probes.iter().flat_map(|p| &p.attach_points));
        match written.find(|ap| ap.text == name) {
            Some(ap) => Some(ap.span),
            None => probe.attach_points.iter().map(|ap| ap.span).reduce(crate::diag::Span::to),
        }
    })();
    match span {
        Some(span) => diag.at(span, label),
        None => diag,
    }
}

/// A runtime error that belongs to a probe, as a diagnostic at the attach point that failed:
/// the one named as the failed point (or the probe's own name) if the script writes it so,
/// else all of the probe's attach points.
fn probe_diagnostic(program: &parser::ast::Program, checked: &sema::Checked, err: &runtime::RuntimeError) -> Option<Diagnostic> {
    let at = err.probe.as_ref()?;
    program.probes.get(checked.progs.get(at.index)?.probe)?;
    let label = match at.failure {
        runtime::Failure::Load => "cannot load here",
        runtime::Failure::Attach => "cannot attach here",
        runtime::Failure::Run => "failed when run",
    };
    Some(at_probe(Diagnostic::error(err.message.clone()), program, checked, at.index, at.point.as_deref(), label))
}

/// `--timings`: the wall time of each stage, printed as it ends.
pub struct Timings {
    on: bool,
    last: std::time::Instant,
}

impl Timings {
    fn new(on: bool) -> Timings {
        Timings { on, last: std::time::Instant::now() }
    }
    fn lap(&mut self, stage: &str) {
        if self.on {
            let now = std::time::Instant::now();
            eprintln!("timing: {stage:<8} {:>8.3} ms", (now - self.last).as_secs_f64() * 1000.0);
            self.last = now;
        }
    }
}

/// `--dump types`: every typed expression of every probe, in source order.
fn dump_types(source: &str, checked: &sema::Checked) -> String {
    let mut out = String::new();
    for (def, prog) in checked.plan.probes.iter().zip(&checked.progs) {
        out.push_str(&format!("{}:\n", def.display));
        let mut infos: Vec<&sema::ExprInfo> = prog.exprs.values().collect();
        infos.sort_by_key(|i| (i.span.start, std::cmp::Reverse(i.span.end)));
        for info in infos {
            let line = source[..info.span.start].matches('\n').count() + 1;
            let col = info.span.start - source[..info.span.start].rfind('\n').map_or(0, |i| i + 1) + 1;
            let text = source.get(info.span.start..info.span.end).unwrap_or("").replace('\n', " ");
            out.push_str(&format!("  {line}:{col} `{text}`: {:?}\n", info.ty));
        }
    }
    out
}

fn fail(message: &str) -> i32 {
    fail_to(&mut std::io::stderr(), message)
}

/// Writes `error: MESSAGE` to `err`; returns the exit status of a user error.
fn fail_to(err: &mut dyn Write, message: &str) -> i32 {
    let _ = writeln!(err, "error: {message}");
    1
}

/// Why the script could not be read.
enum ReadError {
    /// An `error:` line.
    Message(String),
    /// Not UTF-8 from byte `at` on; `text` is the script decoded lossily, to show where.
    Utf8 { name: String, text: String, at: usize },
}

/// The script's display name and text, at most `limits.max_script_bytes` of it.
/// `rtrace -l -e 'PROGRAM'` (or `-l FILE`): the probes the program would attach, one a line,
/// as `probe` names them, each once; BEGIN, END and the other probes of rtrace itself are left
/// out, as bpftrace 0.26 leaves its special probes out.
fn list_program(cli: &Cli) -> i32 {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let front = match front_end(cli, color, &mut std::io::stdout(), &mut std::io::stderr()) {
        Ok(front) => front,
        Err(code) => return code,
    };
    let special = |name: &str| matches!(name, "BEGIN" | "END") || ["self:", "test:", "bench:"].iter().any(|p| name.starts_with(p));
    let mut seen = std::collections::HashSet::new();
    for name in front.checked.plan.probe_names.iter().filter(|n| !special(n)) {
        if seen.insert(name) {
            println!("{name}");
        }
    }
    0
}

fn read_script(cli: &Cli, limits: &Limits) -> Result<(String, String), ReadError> {
    let max = limits.max_script_bytes;
    let too_big = |name: &str| ReadError::Message(format!("{name} is larger than {max} bytes, the most rtrace reads of a script"));
    let (name, bytes) = match (&cli.program, &cli.file) {
        (Some(p), _) if p.len() > max => return Err(too_big("the program")),
        (Some(p), _) => return Ok(("-e".into(), p.clone())),
        (None, Some(f)) if f == "-" => {
            let bytes = read_at_most(std::io::stdin().lock(), max)
                .map_err(|e| ReadError::Message(format!("cannot read the script from stdin: {e}")))?
                .ok_or_else(|| too_big("the script on stdin"))?;
            ("stdin".to_string(), bytes)
        }
        (None, Some(f)) => {
            let file = std::fs::File::open(f).map_err(|e| ReadError::Message(format!("cannot read `{f}`: {e}")))?;
            let bytes = read_at_most(file, max)
                .map_err(|e| ReadError::Message(format!("cannot read `{f}`: {e}")))?
                .ok_or_else(|| too_big(&format!("`{f}`")))?;
            (f.clone(), bytes)
        }
        (None, None) => {
            return Err(ReadError::Message("no program given: use `-e 'PROGRAM'` or a script file (see `rtrace --help`)".into()))
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok((name, text)),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            Err(ReadError::Utf8 { name, text: String::from_utf8_lossy(e.as_bytes()).into_owned(), at })
        }
    }
}

/// Everything `from` holds, or `None` if that is more than `max` bytes (an endless file such
/// as `/dev/zero` stops there).
fn read_at_most(from: impl Read, max: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    from.take(max as u64 + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() <= max).then_some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_shows_the_default_limits() {
        let l = Limits::default();
        for (n, unit) in [
            (l.max_script_bytes, " bytes"),
            (l.max_nesting, " levels"),
            (l.max_statements, " statements"),
            (l.max_probes, " attach points"),
            (l.max_bpf_progs, " BPF programs"),
            (l.max_cat_bytes, " bytes of a file"),
        ] {
            assert!(LIMITS_HELP.contains(&format!("{n}{unit}")), "--help lacks {n}{unit}");
        }
    }
}
