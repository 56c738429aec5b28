//! Fuzzes the front end: bytes → UTF-8 → preprocessor, lexer and parser → sema → every
//! diagnostic rendered. Any panic (including an arithmetic overflow under `-a`) is a bug;
//! diagnostics, whatever they say, are not. See `fuzz/README.md` for how to run it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rtrace::diag::{Diagnostic, Renderer};
use rtrace::{parser, sema};

fn render_all(src: &str, diags: &[Diagnostic]) {
    let renderer = Renderer::new("fuzz.bt", src, false);
    for d in diags {
        std::hint::black_box(renderer.render(d));
    }
    // The colored path too: it is what a terminal sees.
    let renderer = Renderer::new("fuzz.bt", src, true);
    for d in diags {
        std::hint::black_box(renderer.render(d));
    }
}

fuzz_target!(|data: &[u8]| {
    // Invalid UTF-8 cannot reach the front end (the driver reads scripts as `String`), so
    // lossy decoding only widens what the parser sees.
    let src = String::from_utf8_lossy(data);
    let program = match parser::parse(&src) {
        Ok(p) => p,
        Err(diags) => return render_all(&src, &diags),
    };
    // Twice: as `rtrace SCRIPT` runs it, then with `--no-attach` (which goes on to check
    // probes this kernel could not attach, on a kernel without kprobes, say), positional
    // parameters, `-p` and `-c`.
    let full = sema::Options {
        no_attach: true,
        params: vec!["1".into(), "two".into()],
        pid: Some(1),
        has_command: true,
        ..Default::default()
    };
    for opts in [sema::Options::default(), full] {
        match sema::check(&program, &opts) {
            Ok(checked) => render_all(&src, &checked.warnings),
            Err(diags) => render_all(&src, &diags),
        }
    }
});
