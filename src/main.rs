//! The `rtrace` command: flags and exit codes only; the pipeline lives in `rtrace::driver`
//! (and `rtrace build`'s in `rtrace::build`).

use clap::Parser;

fn main() {
    // `rtrace build …` makes a tool; any other first argument is rtrace's own (a script named
    // `build` runs as `rtrace ./build`).
    let mut args = std::env::args_os();
    if args.nth(1).is_some_and(|a| a == "build") {
        let cli = rtrace::build::BuildCli::parse_from(std::env::args_os().skip(1));
        std::process::exit(rtrace::build::main(cli));
    }
    let cli = rtrace::driver::Cli::parse();
    std::process::exit(rtrace::driver::main(cli));
}
