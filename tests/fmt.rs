//! `rtrace --fmt`: exact layouts, and a round trip over every script the project has.
//!
//! The expected layouts are reasoned from bpftrace v0.26.0's src/ast/passes/printer.cpp (the
//! `Formatter`: 2-blank indents, 90 columns, an operand that is not primary in parentheses,
//! `@m[a,b]` keys packed, each attach point, the predicate and a probe's `{` on lines of
//! their own, `macro NAME(…)` then `{` on the next line, comments before a statement on
//! lines of their own and those at a block's end after its last line, blank lines kept) and
//! from its parser's layout rule (src/parser.cpp's consume_layout: a newline after `;`, `{`
//! or `}`, or ending a comment, is no blank line). bpftrace 0.17 has no formatter.
//!
//! The round trip: every `script` of tests/scripts/**/*.toml and tests/vm/cases/*.toml and
//! every /usr/sbin/*.bt that
//! parses is formatted; the result must parse to the same program (spans and expression
//! numbers aside) and format to itself.

use std::path::Path;

fn fmt(src: &str) -> String {
    rtrace::fmt::format(src).unwrap_or_else(|d| panic!("{src}\ndoes not format: {d:?}"))
}

fn check(src: &str, want: &str) {
    let got = fmt(src);
    assert_eq!(got, want, "\n--- got ---\n{got}--- want ---\n{want}");
}

#[test]
fn probes_predicates_and_operands() {
    check(
        "BEGIN { @x = 1 + 2 * 3; $y = -1; $z = !($a > 1); }\n\
         kprobe:a, kprobe:b /pid == 1 && comm != \"sh\"/ { @[comm, pid] = count(); @b[tid] += 1; $s = (uint64)($y + 1); }",
        "BEGIN\n{\n  @x = 1 + (2 * 3);\n  $y = -1;\n  $z = !($a > 1);\n}\n\
         kprobe:a,\nkprobe:b\n/pid == 1 && comm != \"sh\"/\n{\n  @[comm,pid] = count();\n  @b[tid] += 1;\n  $s = (uint64)($y + 1);\n}\n",
    );
}

#[test]
fn nested_blocks() {
    check(
        "BEGIN { if ($x > 1) { if $y { @a = 1; } } else if ($x == 0) { @b = 2 } else { while ($i < 3) { $i++; } }\n\
         for ($kv : @m) { print($kv.0); } for ($i : 0..$n) { continue; } unroll(3) { @c = 1; } { $d = 1; } }",
        "BEGIN\n{\n  if ($x > 1) {\n    if $y {\n      @a = 1;\n    }\n  } else if ($x == 0) {\n    @b = 2;\n  } else {\n\
         \x20   while ($i < 3) {\n      $i++;\n    }\n  }\n  for $kv : @m {\n    print($kv.0);\n  }\n\
         \x20 for $i : 0..($n) {\n    continue;\n  }\n  unroll (3) {\n    @c = 1;\n  }\n  { $d = 1; }\n}\n",
    );
}

#[test]
fn long_argument_lists_wrap() {
    // 12 arguments of 14 columns (`"aaaaaaaaaa", `): too wide for one line of 90 - 2 - 7;
    // the lines are filled from the end, aligned under the first argument.
    let args = ["\"aaaaaaaaaa\""; 12].join(", ");
    let src = format!("BEGIN {{ printf({args}); }}");
    let line = |n: usize| vec!["\"aaaaaaaaaa\""; n].join(", ");
    let want = format!(
        "BEGIN\n{{\n  printf({},\n         {},\n         {});\n}}\n",
        line(2),
        line(5),
        line(5)
    );
    check(&src, &want);
    // A condition too long for a line breaks after its operators.
    let cond = (0..8).map(|i| format!("$variable_{i} == {i}")).collect::<Vec<_>>().join(" && ");
    let got = fmt(&format!("BEGIN {{ if ({cond}) {{ exit(); }} }}"));
    assert!(got.lines().all(|l| l.len() <= 90), "{got}");
    assert!(got.contains("&&\n"), "{got}");
}

#[test]
fn comments_and_blank_lines() {
    check(
        "// top\n\nBEGIN // after the probe\n{\n  // before\n  @a = 1; // after\n\n\n  @b = 2;\n  /* last */\n}\n/* a\n * b\n */\nEND { }\n",
        "// top\n\nBEGIN\n/* after the probe */{\n  // before\n  @a = 1;\n  // after\n\n\n  @b = 2; // last\n}\n// a\n// b\nEND\n{}\n",
    );
}

#[test]
fn config_macros_imports_and_c_definitions() {
    check(
        "#!/usr/bin/env bpftrace\n#include <linux/sched.h>\n#define LIMIT 10\nconfig = { max_map_keys = 100; stack_mode = perf }\n\
         struct Foo { int a; char b[4]; }\nlet @h = lruhash(LIMIT);\nmacro twice(x) { x * 2 }\nmacro bump(@m, $v) { @m[$v]++; $v }\n\
         BEGIN { @h[1] = twice(LIMIT); $p = (struct Foo *)0; }",
        "#!/usr/bin/env bpftrace\n#include <linux/sched.h>\n#define LIMIT 10\nconfig = {\n  max_map_keys = 100;\n  stack_mode = perf;\n}\n\
         struct Foo { int a; char b[4]; };\nlet @h = lruhash(LIMIT);\nmacro twice(x)\n{\n  x * 2\n}\nmacro bump(@m, $v)\n{\n  @m[$v]++;\n  $v\n}\n\
         BEGIN\n{\n  @h[1] = twice(LIMIT);\n  $p = (struct Foo*)0;\n}\n",
    );
}

#[test]
fn expressions() {
    check(
        "BEGIN { $t = (1, \"a\"); $r = (a = 1, b = $x + 1); $u = (1,); $c = $x > 1 ? \"y\" : \"n\"; $e = $x ?: 5;\n\
         $l = sizeof(struct task_struct) + offsetof(struct task_struct, pid); let $v: uint8 = 3; _ = $t.0; $s = \"q\\\"\\n\"; }",
        "BEGIN\n{\n  $t = (1,\"a\");\n  $r = (a=1,b=($x + 1));\n  $u = (1,);\n  $c = ($x > 1) ? \"y\" : \"n\";\n  $e = $x ?: 5;\n\
         \x20 $l = sizeof(struct task_struct) + offsetof(struct task_struct, pid);\n  let $v : uint8 = 3;\n  _ = $t.0;\n  $s = \"q\\\"\\n\";\n}\n",
    );
}

#[test]
fn bad_input_is_the_parse_diagnostic() {
    let errs = rtrace::fmt::format("BEGIN { $a = ; }").unwrap_err();
    assert!(errs[0].message.starts_with("syntax error"), "{errs:?}");
}

/// The program's tree without spans, expression numbers, generated names' offsets and a C
/// definition's last `;`.
fn shape(src: &str) -> Option<String> {
    let p = rtrace::parser::parse(src).ok()?;
    let text = format!("{p:?}");
    let spans = regex::Regex::new(r"(value_)?span: Span \{ start: \d+, end: \d+ \}").unwrap();
    let ids = regex::Regex::new(r"id: \d+|expr_count: \d+|@\d+").unwrap();
    // A C definition is printed with its `;` (bpftrace adds one), which the text keeps.
    let cdef = regex::Regex::new(r#"text: "((?:[^"\\]|\\.)*?);?""#).unwrap();
    let text = cdef.replace_all(&text, r#"text: "$1""#);
    Some(ids.replace_all(&spans.replace_all(&text, ""), "").into_owned())
}

fn round_trip(name: &str, src: &str, failures: &mut Vec<String>) -> bool {
    let Some(before) = shape(src) else { return false };
    let once = match rtrace::fmt::format(src) {
        Ok(t) => t,
        Err(d) => {
            failures.push(format!("{name}: does not format: {}", d[0].message));
            return true;
        }
    };
    match shape(&once) {
        None => failures.push(format!("{name}: the formatted script does not parse:\n{once}")),
        Some(after) if after != before => {
            let at = before.bytes().zip(after.bytes()).take_while(|(a, b)| a == b).count().saturating_sub(80);
            let (a, b) = (&before[at..(at + 240).min(before.len())], &after[at..(at + 240).min(after.len())]);
            failures.push(format!("{name}: the formatted script means something else:\n{once}\nwas: {a}\nnow: {b}"))
        }
        Some(_) => {}
    }
    match rtrace::fmt::format(&once) {
        Ok(twice) if twice == once => {}
        Ok(twice) => failures.push(format!("{name}: formatting twice differs:\n{once}---\n{twice}")),
        Err(_) => {}
    }
    true
}

fn toml_scripts(dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            toml_scripts(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let Ok(table) = text.parse::<toml::Table>() else { continue };
            if let Some(script) = table.get("script").and_then(|s| s.as_str()) {
                out.push((path.display().to_string(), script.to_string()));
            }
        }
    }
}

#[test]
fn formatting_keeps_meaning_and_is_idempotent() {
    let mut scripts = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    toml_scripts(&root.join("tests/scripts"), &mut scripts);
    toml_scripts(&root.join("tests/vm/cases"), &mut scripts);
    let tools: Vec<_> = std::fs::read_dir("/usr/sbin")
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "bt")).collect())
        .unwrap_or_default();
    for tool in &tools {
        if let Ok(text) = std::fs::read_to_string(tool) {
            scripts.push((tool.display().to_string(), text));
        }
    }
    let mut failures = Vec::new();
    let checked = scripts.iter().filter(|(name, src)| round_trip(name, src, &mut failures)).count();
    // The same with a comment at the end of each line but preprocessor lines: wherever a
    // comment is, the meaning stays and a second formatting changes nothing.
    for (name, src) in &scripts {
        let commented: String = src
            .lines()
            .map(|l| if l.trim_start().starts_with('#') { format!("{l}\n") } else { format!("{l} /* c */\n") })
            .collect();
        round_trip(&format!("{name} (commented)"), &commented, &mut failures);
    }
    if tools.is_empty() {
        println!("skipped /usr/sbin/*.bt: none on this machine");
    }
    println!("{checked} scripts formatted ({} tools)", tools.len());
    assert!(checked > 300, "only {checked} scripts parsed");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n\n"));
}
