//! The `rtrace` command: flags and exit codes only; the pipeline lives in `rtrace::driver`
//! (and `rtrace build`'s in `rtrace::build`).

use clap::Parser;

fn main() {
    // `rtrace build …` makes a tool; any other first argument is rtrace's own (a script named
    // `build` runs as `rtrace ./build`).
    let mut args = std::env::args_os();
    if args.nth(1).is_some_and(|a| a == "build") {
        let cli = rtrace::build::BuildCli::try_parse_from(std::env::args_os().skip(1)).unwrap_or_else(|e| usage(e));
        std::process::exit(rtrace::build::main(cli));
    }
    let cli = rtrace::driver::Cli::try_parse().unwrap_or_else(|e| usage(e));
    std::process::exit(rtrace::driver::main(cli));
}

/// Prints clap's message and exits: 0 for `--help` and `--version`, 1 for a usage error (as
/// every bad input, and as bpftrace; clap's own default would be 2).
fn usage(e: clap::Error) -> ! {
    let _ = e.print();
    std::process::exit(if e.use_stderr() { 1 } else { 0 })
}
