//! The command line and the order of the stages: read the script, parse, check, compile, run.
//! Every user error leaves here as a rendered diagnostic or one `error:` line, exit status 1.

use crate::diag::{Diagnostic, Renderer};
use crate::parser::ast::Program;
use crate::{codegen, parser, runtime, sema};
use clap::{Parser, ValueEnum};
use std::io::{IsTerminal, Read, Write};

#[derive(Parser, Debug)]
#[command(name = "rtrace", version, about = "A dynamic tracer for Linux: bpftrace's language, compiled in process to eBPF")]
pub struct Cli {
    /// The program to run, as text.
    #[arg(short = 'e', value_name = "PROGRAM")]
    pub program: Option<String>,

    /// A script file to run (`-` reads the script from standard input).
    #[arg(value_name = "FILE")]
    pub file: Option<String>,

    /// Positional parameters for the script: `$1`, `$2`, … (`$#` is their number).
    #[arg(value_name = "ARG", trailing_var_arg = true, allow_hyphen_values = true)]
    pub params: Vec<String>,

    /// Verbose: show libbpf's log and the verifier's log on failure.
    #[arg(short = 'v')]
    pub verbose: bool,

    /// Print an intermediate form and exit: the AST, the plan, or the LLVM IR.
    #[arg(short = 'd', long = "dump", value_name = "WHAT")]
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
    #[arg(short = 'c', value_name = "CMD")]
    pub command: Option<String>,

    /// Trace only process PID (probes other than BEGIN, END and interval); rtrace ends when it
    /// exits.
    #[arg(short = 'p', value_name = "PID")]
    pub pid: Option<u32>,

    /// Output format: `text` (bpftrace's) or `json` (one `{"type": …, "data": …}` object a
    /// line, as bpftrace's `-f json`).
    #[arg(short = 'f', value_name = "FORMAT", default_value = "text")]
    pub format: OutputFormat,

    /// Write the script's output to FILE instead of standard output.
    #[arg(short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// Quiet: do not print `Attaching N probes...`.
    #[arg(short = 'q')]
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
    #[arg(short = 'l')]
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

    /// Allow functions that act on the system: `signal()` and `system()`.
    #[arg(long = "unsafe")]
    pub allow_unsafe: bool,

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
}

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
    Ir,
}

/// Stack for the compiler's thread: checking and generating code recurse once per level of
/// nesting, and deeply nested scripts must get a diagnostic, not a stack overflow. Only the
/// pages used are ever touched.
pub const COMPILER_STACK: usize = 512 << 20;

/// Runs the command; returns the process exit status.
pub fn main(cli: Cli) -> i32 {
    // Signals are blocked before anything else (and before any thread, which inherits the
    // mask), so Ctrl-C during start-up still ends in an orderly exit once the event loop sees it.
    let signals = match runtime::block_signals() {
        Ok(fd) => fd,
        Err(e) => return fail(&format!("cannot set up signal handling: {e}")),
    };
    let worker = std::thread::Builder::new().stack_size(COMPILER_STACK).spawn(move || run(cli, signals));
    match worker.map(|w| w.join()) {
        Ok(Ok(code)) => code,
        Ok(Err(_)) => fail("internal error: rtrace panicked (please report this with the script)"),
        Err(e) => fail(&format!("cannot start: {e}")),
    }
}

fn run(cli: Cli, signals: std::os::fd::OwnedFd) -> i32 {
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
    if cli.list {
        print!("{}", crate::list::list(cli.file.as_deref().unwrap_or("*"), cli.verbose));
        return 0;
    }
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let FrontEnd { name, source, program, checked, mut timings } =
        match front_end(&cli, color, &mut std::io::stdout(), &mut std::io::stderr()) {
            Ok(front) => front,
            Err(code) => return code,
        };
    if cli.dump == Some(Dump::Types) {
        print!("{}", dump_types(&source, &checked));
        return 0;
    }
    if cli.dump == Some(Dump::Plan) {
        println!("{:#?}", checked.plan);
        return 0;
    }
    let mut ir = String::new();
    let opts = codegen::Options { no_opt: cli.no_opt, timings: cli.timings };
    let want_ir = cli.dump == Some(Dump::Ir);
    let compiled = codegen::compile(&program, &checked, &opts, want_ir.then_some(&mut ir));
    timings.lap("codegen");
    // (the llvm-* lines above are parts of codegen)
    if want_ir {
        // The IR is shown even when emitting it failed: that is when it is most wanted.
        print!("{ir}");
    }
    let object = match compiled {
        Ok(o) => o,
        Err(e) => return fail(&e.to_string()),
    };
    if want_ir {
        return 0;
    }
    let run_opts = runtime::Options {
        verbose: cli.verbose,
        dry_run: cli.dry_run,
        no_attach: cli.no_attach,
        command: cli.command.clone(),
        pid: cli.pid,
        output: cli.output.clone(),
        quiet: cli.quiet,
        timings: cli.timings,
        json: cli.format == OutputFormat::Json,
        buffering: cli.buffering,
        live: cli.live.then(|| cli.interval.unwrap_or(std::time::Duration::from_secs(1))),
    };
    match runtime::run(&object, &checked.plan, &signals, &run_opts) {
        Ok(code) => code,
        Err(e) => match probe_diagnostic(&program, &checked, &e) {
            Some(diag) => {
                eprint!("{}", Renderer::new(&name, &source, color).render(&diag));
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
    /// The script's text (`--dump types` and runtime diagnostics quote it).
    pub source: String,
    pub program: Program,
    pub checked: sema::Checked,
    /// The stages' wall times so far (`--timings`).
    pub timings: Timings,
}

/// The front end, as `rtrace` runs it (and `tests/diagnostics.rs`, in process): reads the
/// script (`-e`, a file or stdin), parses it and checks it, writing every diagnostic (errors
/// and warnings) and `error:` line to `err` as the user sees them (`color`: with ANSI colors).
/// `Err(status)` ends the run: 1 after an error, 0 after `--dump ast` (printed on `out`).
pub fn front_end(cli: &Cli, color: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<FrontEnd, i32> {
    let (name, source) = read_script(cli).map_err(|msg| fail_to(err, &msg))?;
    let renderer = Renderer::new(&name, &source, color);
    let mut report = |diags: &[Diagnostic]| {
        for d in diags {
            let _ = write!(err, "{}", renderer.render(d));
        }
    };

    let mut timings = Timings::new(cli.timings);
    let program = parser::parse(&source).map_err(|diags| {
        report(&diags);
        1
    })?;
    timings.lap("parse");
    if cli.dump == Some(Dump::Ast) {
        let _ = writeln!(out, "{program:#?}");
        return Err(0);
    }
    // With -e, every positional argument is a parameter.
    let mut params = cli.params.clone();
    if cli.program.is_some() {
        if let Some(first) = &cli.file {
            params.insert(0, first.clone());
        }
    }
    let mut sema_opts = sema::Options {
        no_attach: cli.no_attach,
        params,
        pid: cli.pid,
        has_command: cli.command.is_some(),
        allow_unsafe: cli.allow_unsafe,
        host: sema::HostFacts::default(),
    };
    sema_opts.host = learn_host(sema::host_needs(&program, &sema_opts));
    let checked = sema::check(&program, &sema_opts).map_err(|diags| {
        report(&diags);
        1
    })?;
    timings.lap("check");
    report(&checked.warnings);
    Ok(FrontEnd { name, source, program, checked, timings })
}

/// What sema needs to know of the host that takes an effect to learn (sema itself neither
/// mounts tracefs nor loads programs).
fn learn_host(needs: sema::HostNeeds) -> sema::HostFacts {
    if needs.tracefs {
        crate::kernel::tracefs::mount_if_missing();
    }
    sema::HostFacts { fentry_refused: needs.fentry && !crate::kernel::features::has_fentry() }
}

/// A runtime error that belongs to a probe, as a diagnostic at the attach point that failed:
/// the one named as the failed point (or the probe's own name) if the script writes it so,
/// else all of the probe's attach points.
fn probe_diagnostic(program: &parser::ast::Program, checked: &sema::Checked, err: &runtime::RuntimeError) -> Option<Diagnostic> {
    let at = err.probe.as_ref()?;
    let probe = program.probes.get(checked.progs.get(at.index)?.probe)?;
    let name = at.point.as_deref().unwrap_or(&checked.plan.probes.get(at.index)?.display);
    // A program shared by probes that differ only in literals serves other probes' points.
    let mut written = probe.attach_points.iter().chain(program.probes.iter().flat_map(|p| &p.attach_points));
    let span = match written.find(|ap| ap.text == name) {
        Some(ap) => ap.span,
        None => probe.attach_points.iter().map(|ap| ap.span).reduce(crate::diag::Span::to)?,
    };
    let label = match at.failure {
        runtime::Failure::Load => "cannot load here",
        runtime::Failure::Attach => "cannot attach here",
        runtime::Failure::Run => "failed when run",
    };
    Some(Diagnostic::error(err.message.clone()).at(span, label))
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

/// The script's display name and text.
fn read_script(cli: &Cli) -> Result<(String, String), String> {
    match (&cli.program, &cli.file) {
        (Some(p), _) => Ok(("-e".into(), p.clone())),
        (None, Some(f)) if f == "-" => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| format!("cannot read the script from stdin: {e}"))?;
            Ok(("stdin".into(), s))
        }
        (None, Some(f)) => std::fs::read_to_string(f).map(|s| (f.clone(), s)).map_err(|e| format!("cannot read `{f}`: {e}")),
        (None, None) => Err("no program given: use `-e 'PROGRAM'` or a script file (see `rtrace --help`)".into()),
    }
}
