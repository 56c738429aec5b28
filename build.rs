fn main() {
    // The grammar is the compiler's; the runtime alone (`--no-default-features`) has no parser.
    if std::env::var_os("CARGO_FEATURE_COMPILER").is_some() {
        lalrpop::Configuration::new()
            .emit_rerun_directives(true)
            .process_current_dir()
            .expect("lalrpop grammar");
    }
    link_order();
}

/// Lays out the functions a run uses next to each other (scripts/link-order.txt, written by
/// scripts/link-order): they are a few MB of LLVM spread over ~30 MB of .text, and the kernel
/// maps 64 KiB around every page fault, so scattered they put ~24 MB of the binary in peak RSS
/// for `BEGIN { exit(); }` (BENCHMARKS.md). Only where the linker is Rust's lld (x86-64 Linux).
fn link_order() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/link-order.txt");
    println!("cargo:rerun-if-changed={}", file.display());
    if std::env::var("TARGET").as_deref() == Ok("x86_64-unknown-linux-gnu") && file.exists() {
        println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={},--no-warn-symbol-ordering", file.display());
    }
}
