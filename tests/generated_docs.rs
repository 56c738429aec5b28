//! The shell completions and the manual page that rtrace prints from its own command-line
//! definition: each is put to use (bash completes with it, man renders it) and checked.

use std::process::Command;

const RTRACE: &str = env!("CARGO_BIN_EXE_rtrace");

fn rtrace(args: &[&str]) -> String {
    let out = Command::new(RTRACE).args(args).output().expect("rtrace runs");
    assert!(out.status.success(), "rtrace {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Sources the bash completion script and asks it to complete `words`, the last one being
/// completed; returns the candidates.
fn bash_complete(words: &[&str]) -> String {
    let script = rtrace(&["--completions", "bash"]);
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let prev = if cword > 0 { words[cword - 1] } else { "" };
    let program = format!(
        "{script}\nCOMP_WORDS=({}); COMP_CWORD={cword}; _rtrace rtrace '{}' '{prev}'; echo \"${{COMPREPLY[@]}}\"",
        quoted.join(" "),
        words[cword]
    );
    let out = Command::new("bash").arg("-c").arg(program).output().expect("bash runs");
    assert!(out.status.success(), "bash failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output").trim().to_string()
}

#[test]
fn bash_completes_flags_and_their_values() {
    assert_eq!(bash_complete(&["rtrace", "--dr"]), "--dry-run");
    assert_eq!(bash_complete(&["rtrace", "-B", ""]), "line full none");
    assert_eq!(bash_complete(&["rtrace", "-f", ""]), "text json");
}

#[test]
fn other_shells_get_a_script() {
    for (shell, marker) in [("zsh", "#compdef rtrace"), ("fish", "complete -c rtrace"), ("elvish", "rtrace")] {
        assert!(rtrace(&["--completions", shell]).contains(marker), "{shell}: no `{marker}`");
    }
}

#[test]
fn man_page_renders_with_every_flag() {
    let roff = rtrace(&["--man"]);
    assert!(roff.contains(".TH rtrace 1"), "no title line:\n{roff}");
    let path = std::env::temp_dir().join(format!("rtrace-man-{}.1", std::process::id()));
    std::fs::write(&path, roff).expect("write the page");
    let out = Command::new("man").arg("-l").arg(&path).env("MANWIDTH", "100").env("MANPAGER", "cat").output();
    let _ = std::fs::remove_file(&path);
    let out = match out {
        Ok(out) if out.status.success() => out,
        _ => {
            println!("skipped rendering: `man -l` is not available here");
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--dry-run", "--no-attach", "--completions", "--man", "-B", "-f", "-o"] {
        assert!(text.contains(flag), "the rendered page lacks {flag}:\n{text}");
    }
}

/// README.md's builtins and functions tables are `rtrace --builtins` verbatim: the one table
/// sema checks calls against is the one the docs show.
#[test]
fn readme_builtins_match_the_table() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md");
    let (start, end) = ("<!-- builtins:start -->\n", "<!-- builtins:end -->");
    let from = readme.find(start).expect("README has the builtins:start marker") + start.len();
    let to = readme.find(end).expect("README has the builtins:end marker");
    assert_eq!(
        readme[from..to],
        rtrace(&["--builtins"]),
        "README.md's tables differ from `rtrace --builtins`; paste its output between the markers"
    );
}

/// Every option of the command line has a row in README.md's options table.
#[test]
fn readme_lists_every_option() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md");
    let table = readme.split("### Options").nth(1).expect("README has an Options section");
    let table = table.split("\n### ").next().unwrap_or(table);
    let help = rtrace(&["--help"]);
    // Every `-x` and `--name` that --help shows at the start of an option's line.
    for line in help.lines().map(str::trim_start).filter(|l| l.starts_with('-')) {
        for flag in line.split([',', ' ', '=', '<', '[']).filter(|w| w.starts_with('-') && w.len() > 1) {
            assert!(table.contains(&format!("`{flag}")) || table.contains(&format!(" {flag}")) || table.contains(&format!("`{flag} ")),
                "README's options table has no `{flag}`");
        }
    }
}
