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
