//! The `rtrace` command: flags and exit codes only; the pipeline lives in `rtrace::driver`.

use clap::Parser;

fn main() {
    let cli = rtrace::driver::Cli::parse();
    std::process::exit(rtrace::driver::main(cli));
}
