//! The lexer's unit tests: token streams of small scripts.

use super::*;

fn toks(src: &str) -> Vec<Tok<'_>> {
    let t: Vec<Tok> = Lexer::new(src).map(|(_, t, _)| t).collect();
    assert!(!t.iter().any(|t| matches!(t, Tok::Error(_))), "{t:?}");
    t
}

#[test]
fn attach_points_and_brace_body() {
    assert_eq!(
        toks("tracepoint:syscalls:sys_enter_openat, BEGIN { @[comm] = count(); }"),
        vec![
            Tok::AttachPoint("tracepoint:syscalls:sys_enter_openat"),
            Tok::Comma,
            Tok::AttachPoint("BEGIN"),
            Tok::BodyOpen,
            Tok::Map("@"),
            Tok::LBracket,
            Tok::Ident("comm"),
            Tok::RBracket,
            Tok::Assign,
            Tok::Ident("count"),
            Tok::LParen,
            Tok::RParen,
            Tok::Semi,
            Tok::BodyClose,
        ]
    );
}

#[test]
fn angle_body_closes_only_where_a_statement_begins() {
    let t = toks("BEGIN < if ($a > 1) { @x = 2; } >");
    assert!(t.contains(&Tok::Gt));
    assert_eq!(t.last(), Some(&Tok::AngleClose));
    assert_eq!(t[1], Tok::AngleOpen);
    assert_eq!(toks("BEGIN <>"), vec![Tok::AttachPoint("BEGIN"), Tok::AngleOpen, Tok::AngleClose]);
    // Without the `;` the `>` is a comparison.
    let t = toks("BEGIN < @x = 1 >");
    assert_eq!(t.last(), Some(&Tok::Gt));
}

#[test]
fn predicate_ends_at_slash_before_body() {
    let t = toks("tracepoint:a:b /pid / 2 == 1/ { }");
    assert_eq!(
        t,
        vec![
            Tok::AttachPoint("tracepoint:a:b"),
            Tok::PredOpen,
            Tok::Ident("pid"),
            Tok::Slash,
            Tok::Int(2),
            Tok::Eq,
            Tok::Int(1),
            Tok::PredClose,
            Tok::BodyOpen,
            Tok::BodyClose,
        ]
    );
}

#[test]
fn paths_comments_and_shebang() {
    let t = toks("#!/usr/bin/rtrace\n// c\nuprobe:/bin/bash:readline /* x */ { }");
    assert_eq!(t[0], Tok::AttachPoint("uprobe:/bin/bash:readline"));
    assert_eq!(t.len(), 3);
}

#[test]
fn relative_paths_and_predicates() {
    let t = toks("uprobe:bin/app:main /pid/ { }");
    assert_eq!(t[0], Tok::AttachPoint("uprobe:bin/app:main"));
    let t = toks("uprobe:bin/app:main/pid/ { }");
    assert_eq!(t[0], Tok::AttachPoint("uprobe:bin/app:main"));
    assert_eq!(t[1], Tok::PredOpen);
    let t = toks("kprobe:f/arg0 == 1/ { }");
    assert_eq!(t[0], Tok::AttachPoint("kprobe:f"));
}

#[test]
fn quoted_attach_point_parts() {
    let t = toks("uprobe:\"/opt/a b:c{d}\":main /pid/ { }");
    assert_eq!(t[0], Tok::AttachPoint("uprobe:\"/opt/a b:c{d}\":main"));
    assert_eq!(t[1], Tok::PredOpen);
}

#[test]
fn strings_and_ints() {
    let t = toks(r#"BEGIN { printf("a\tb\n%d", 0x10, 1_000); }"#);
    assert!(t.contains(&Tok::Str("a\tb\n%d".into())));
    assert!(t.contains(&Tok::Int(16)));
    assert!(t.contains(&Tok::Int(1000)));
}

#[test]
fn cast_type_names() {
    let names = |src| {
        toks(src).into_iter().filter_map(|t| if let Tok::TypeName(n) = t { Some(n) } else { None }).collect::<Vec<_>>()
    };
    assert_eq!(names("BEGIN { (a)1; (b)$x; (c)(1); (d)-1; (e *)p; (f * *)p; (g)!x; (h)@m; (i)j; sizeof(k); }"), [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "k"
    ]);
    // Values in parentheses: before a binary operator, or a builtin, constant or macro
    // parameter before `-`, `*` or `&`.
    let values = "macro m(x) { (x) - 1 } BEGIN { (a) + 1; (b) == 1; (c) != 1; (d) && 1; (e) -> f; (g); f((h)); \
                  (pid) - 1; (tid) * 2; (uid) & 1; (TASK_RUNNING) - 1; sizeof(pid); (x)--; }";
    assert_eq!(names(values), Vec::<&str>::new());
}

#[test]
fn record_field_names() {
    let t = toks("BEGIN { $r = (a = 1, b=2); $c = (a == 1, b); f(x, y); }");
    assert_eq!(t.iter().filter(|t| matches!(t, Tok::FieldName(_))).count(), 2);
    assert!(t.contains(&Tok::FieldName("a")) && t.contains(&Tok::FieldName("b")));
    assert!(t.contains(&Tok::Ident("x")) && t.contains(&Tok::Ident("y")));
}

fn errors(src: &str) -> Vec<LexError> {
    Lexer::new(src)
        .filter_map(|(_, t, _)| match t {
            Tok::Error(e) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn errors_have_spans() {
    let e = &errors("BEGIN { \"abc }")[0];
    assert_eq!(e.kind, LexErrorKind::UnterminatedString);
    assert_eq!(e.span, Span::new(8, 14));
}

#[test]
fn lexing_goes_on_after_errors() {
    let src = "} BEGIN { $a = `1; $ = \"a\\qb\\\"c\" + 99999999999999999999; \"x\n @b = 1; } /* x";
    let kinds: Vec<LexErrorKind> = errors(src).into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            LexErrorKind::UnexpectedChar('}'),
            LexErrorKind::UnexpectedChar('`'),
            LexErrorKind::UnexpectedChar('$'),
            LexErrorKind::BadEscape('q'),
            LexErrorKind::IntTooLarge,
            LexErrorKind::UnterminatedString,
            LexErrorKind::UnterminatedComment,
        ]
    );
    // What follows each error is lexed as usual: the rest of a string with a bad escape
    // is skipped, an unterminated string ends at the end of its line.
    let toks: Vec<Tok> = Lexer::new(src).map(|(_, t, _)| t).collect();
    assert!(toks.contains(&Tok::Int(1)) && toks.contains(&Tok::Map("@b")) && toks.contains(&Tok::BodyClose));
    assert!(!toks.iter().any(|t| matches!(t, Tok::Ident("c") | Tok::Ident("b"))));
}

#[test]
fn literals_of_0_26() {
    let ints: Vec<Tok> = Lexer::new("BEGIN { 123UL 123u 7LL 0x10ul 1e6 }").map(|(_, t, _)| t).filter(|t| matches!(t, Tok::Int(_))).collect();
    assert_eq!(ints, [Tok::Int(123), Tok::Int(123), Tok::Int(7), Tok::Int(16), Tok::Int(1_000_000)]);
    let strs: Vec<Tok> = Lexer::new(r#"BEGIN { "\033[" "\101\0" }"#).map(|(_, t, _)| t).filter(|t| matches!(t, Tok::Str(_))).collect();
    assert_eq!(strs, [Tok::Str("\u{1b}[".into()), Tok::Str("A\0".into())]);
}

#[test]
fn config_block_and_block_expressions() {
    let toks: Vec<Tok> = Lexer::new("config = { a = 1 } BEGIN { $x = { 1 }; { 2 } }").map(|(_, t, _)| t).collect();
    assert_eq!(&toks[..3], [Tok::Config, Tok::Assign, Tok::LBrace]);
    assert_eq!(toks[6], Tok::RBrace);
    assert!(matches!(toks[7], Tok::AttachPoint("BEGIN")));
    // `{` after `=` opens a block expression; at a statement's start, a block statement.
    assert_eq!(toks[11], Tok::ExprBlockOpen);
    assert_eq!(toks[15], Tok::LBrace);
}
