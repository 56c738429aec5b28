//! Named parameters (0.26 docs "Named Parameters", stdlib `getopt`): every
//! `getopt("name"[, default[, "description"]])` call becomes a literal before sema — the value
//! of `--name=VALUE` given after `--` on the command line, or the default. The default's type
//! is the option's: an integer, a string, or a boolean (`true`/`false`, and no default at all:
//! `--name` alone is true). Booleans are `ExprKind::Bool`, an integer 1 or 0 until rtrace has a
//! bool type. Options given on the command line that no `getopt` names are an error.
//!
//! For `rtrace build` (`Mode::RunTime`) the calls stay in the program: sema reads each from
//! the globals map (`plan::GLOBAL_NAMED`; a string from `plan::STR_GLOBALS_MAP`), which the
//! built tool fills from its own `--name=VALUE` flags when it starts.

use crate::diag::{Diagnostic, Span};
use crate::parser::ast::{walk_stmts_mut, Expr, ExprKind, Program, UnOp};

/// `--name[=VALUE]` arguments, in order (`None`: no `=`).
pub type Named = Vec<(String, Option<String>)>;

/// A named parameter a script declares, for `-- --help`.
#[derive(Debug, Clone, PartialEq)]
pub struct Opt {
    pub name: String,
    /// `int`, `string` or `bool`.
    pub kind: &'static str,
    /// The default as the user would write it.
    pub default: String,
    /// The default as the program sees it (a string without its quotes).
    pub value: String,
    pub description: Option<String>,
}

#[derive(Clone, PartialEq)]
enum Value {
    Int(i64),
    Str(String),
    Bool(bool),
}

/// When the options' values are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Now: from the command line (`named`) or the defaults.
    Now,
    /// When a built tool starts (`rtrace build`).
    RunTime,
}

/// Replaces every `getopt()` call of `program` by its value (in `Mode::RunTime`, only checks
/// the calls); returns the options declared.
pub fn resolve(program: &mut Program, named: &Named, mode: Mode) -> Result<Vec<Opt>, Vec<Diagnostic>> {
    let mut opts: Vec<(Opt, Span)> = Vec::new();
    let mut diags = Vec::new();
    let mut visit = |e: &mut Expr| {
        let ExprKind::Call { name, args } = &e.kind else { return };
        if name.name != "getopt" {
            return;
        }
        match call(args, name.span, e.span, named, &mut opts) {
            Ok(_) if mode == Mode::RunTime => {}
            Ok(v) => {
                e.kind = match v {
                    Value::Int(n) if n < 0 => ExprKind::Unary {
                        op: UnOp::Neg,
                        operand: Box::new(Expr { id: e.id, kind: ExprKind::Int(n.unsigned_abs()), span: e.span }),
                    },
                    Value::Int(n) => ExprKind::Int(n as u64),
                    Value::Str(s) => ExprKind::Str(s),
                    Value::Bool(b) => ExprKind::Bool(b),
                }
            }
            Err(d) => diags.push(d),
        }
    };
    for probe in &mut program.probes {
        if let Some(p) = &mut probe.predicate {
            crate::parser::ast::walk_expr_mut(p, &mut visit);
        }
        walk_stmts_mut(&mut probe.body, &mut visit);
    }
    for (given, _) in named {
        if given != "help" && !opts.iter().any(|(o, _)| o.name == *given) {
            let mut d = Diagnostic::error(format!("unknown named parameter `--{given}`"));
            d = match opts.is_empty() {
                true => d.note("the script reads no named parameters (`getopt()`)"),
                false => d.note(format!(
                    "the script's named parameters are {}",
                    opts.iter().map(|(o, _)| format!("`--{}`", o.name)).collect::<Vec<_>>().join(", ")
                )),
            };
            diags.push(d);
        }
    }
    let max = crate::plan::MAX_RUNTIME_NAMED as usize;
    if let Some((o, at)) = opts.get(max).filter(|_| mode == Mode::RunTime) {
        diags.push(
            Diagnostic::error(format!("a built tool takes at most {max} named parameters"))
                .at(*at, format!("`--{}` is one more", o.name)),
        );
    }
    match diags.is_empty() {
        true => Ok(opts.into_iter().map(|(o, _)| o).collect()),
        false => Err(diags),
    }
}

/// One call's value.
fn call(args: &[Expr], name_span: Span, span: Span, named: &Named, opts: &mut Vec<(Opt, Span)>) -> Result<Value, Diagnostic> {
    if args.is_empty() || args.len() > 3 {
        return Err(Diagnostic::error(format!("`getopt()` takes 1 to 3 arguments, but {} were given", args.len()))
            .at(span, "here")
            .help("write `getopt(\"name\")`, `getopt(\"name\", default)` or `getopt(\"name\", default, \"description\")`"));
    }
    let ExprKind::Str(name) = &args[0].kind else {
        return Err(Diagnostic::error("`getopt()`'s name must be a string literal").at(args[0].span, "not a string literal"));
    };
    let default = match args.get(1) {
        None => Value::Bool(false),
        Some(d) => literal(d).ok_or_else(|| {
            Diagnostic::error("`getopt()`'s default must be a literal")
                .at(d.span, "not a literal")
                .help("the default is an integer, a string, `true` or `false`; its type is the parameter's")
        })?,
    };
    let description = match args.get(2).map(|d| &d.kind) {
        None => None,
        Some(ExprKind::Str(s)) => Some(s.clone()),
        Some(_) => {
            return Err(Diagnostic::error("`getopt()`'s description must be a string literal").at(args[2].span, "not a string literal"))
        }
    };
    let kind = match default {
        Value::Int(_) => "int",
        Value::Str(_) => "string",
        Value::Bool(_) => "bool",
    };
    let value = match &default {
        Value::Str(s) => s.clone(),
        other => shown(other),
    };
    let opt = Opt { name: name.clone(), kind, default: shown(&default), value, description };
    match opts.iter().find(|(o, _)| o.name == *name) {
        Some((o, at)) if o.kind != kind || o.default != opt.default => {
            return Err(Diagnostic::error(format!("named parameter `{name}` is read with two different defaults"))
                .at(span, format!("{kind} {}", opt.default))
                .also(*at, format!("{} {}", o.kind, o.default)));
        }
        Some(_) => {}
        None => opts.push((opt, name_span)),
    }
    let Some((_, given)) = named.iter().rev().find(|(n, _)| n == name) else { return Ok(default) };
    let bad = |expected: &str| {
        Diagnostic::error(format!("invalid value for named parameter `--{name}`: expected {expected}"))
            .note(format!("given: `--{name}{}`", given.as_ref().map(|v| format!("={v}")).unwrap_or_default()))
    };
    match (default, given.as_deref()) {
        (Value::Bool(_), None | Some("true" | "1")) => Ok(Value::Bool(true)),
        (Value::Bool(_), Some("false" | "0")) => Ok(Value::Bool(false)),
        (Value::Bool(_), Some(_)) => Err(bad("`true`, `false`, `1` or `0`")),
        (Value::Int(_), Some(v)) => v.trim().parse().map(Value::Int).map_err(|_| bad("an integer")),
        (Value::Str(_), Some(v)) => Ok(Value::Str(v.to_string())),
        (_, None) => Err(bad("a value: `--NAME=VALUE`")),
    }
}

/// The value of a literal default: `5`, `-1`, `"x"`, `true`.
fn literal(e: &Expr) -> Option<Value> {
    Some(match &e.kind {
        ExprKind::Int(n) => Value::Int(i64::try_from(*n).ok()?),
        ExprKind::Unary { op: UnOp::Neg, operand } => match operand.kind {
            ExprKind::Int(n) => Value::Int(-i64::try_from(n).ok()?),
            _ => return None,
        },
        ExprKind::Str(s) => Value::Str(s.clone()),
        ExprKind::Bool(b) => Value::Bool(*b),
        _ => return None,
    })
}

fn shown(v: &Value) -> String {
    match v {
        Value::Int(n) => n.to_string(),
        Value::Str(s) => format!("{s:?}"),
        Value::Bool(b) => b.to_string(),
    }
}

/// `-- --help`: the script's named parameters, one a line.
pub fn help(opts: &[Opt]) -> String {
    let mut out = String::from("NAMED PARAMETERS:\n");
    if opts.is_empty() {
        out.push_str("    (none)\n");
    }
    for o in opts {
        let value = if o.kind == "bool" { String::new() } else { format!("={}", o.kind.to_uppercase()) };
        let left = format!("--{}{value}", o.name);
        let desc = o.description.as_deref().map(|d| format!("{d} ")).unwrap_or_default();
        out.push_str(&format!("    {left:<24} {desc}(default: {})\n", o.default));
    }
    out
}

/// Splits script arguments into positional and named (`--name`, `--name=value`) ones.
pub fn split_params(params: &[String]) -> (Vec<String>, Named) {
    let mut positional = Vec::new();
    let mut named = Vec::new();
    for p in params {
        // A `--` between parameters separates nothing (bpftrace's docs: parameters go before
        // or after it).
        if p == "--" {
            continue;
        }
        match p.strip_prefix("--").filter(|rest| rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')) {
            Some(rest) => match rest.split_once('=') {
                Some((n, v)) => named.push((n.to_string(), Some(v.to_string()))),
                None => named.push((rest.to_string(), None)),
            },
            None => positional.push(p.clone()),
        }
    }
    (positional, named)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, args: &[&str]) -> Result<Vec<Opt>, Vec<String>> {
        let mut p = crate::parser::parse(src).unwrap();
        let (_, named) = split_params(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        resolve(&mut p, &named, Mode::Now).map_err(|d| d.into_iter().map(|d| d.message).collect())
    }

    #[test]
    fn values_and_errors() {
        let opts = run(r#"begin { print((getopt("aa", 1), getopt("bb"), getopt("cc", "x", "the cc"))); }"#, &["--aa=20", "--bb"]).unwrap();
        assert_eq!(opts.len(), 3);
        assert_eq!(opts[2].description.as_deref(), Some("the cc"));
        assert_eq!(run(r#"begin { print(getopt("aa", 1)); }"#, &["--aa=x"]).unwrap_err(), ["invalid value for named parameter `--aa`: expected an integer"]);
        assert_eq!(run(r#"begin { print(getopt("aa", 1)); }"#, &["--zz"]).unwrap_err(), ["unknown named parameter `--zz`"]);
        assert_eq!(run(r#"begin { print(getopt($1)); }"#, &[]).unwrap_err(), ["`getopt()`'s name must be a string literal"]);
        let (pos, named) = split_params(&["p1".into(), "--aa=20".into(), "--bb".into(), "-5".into(), "--".into()]);
        // bpftrace's docs: parameters go before or after a `--`, which is none of them.
        assert_eq!(pos, ["p1", "-5"]);
        assert_eq!(named, [("aa".to_string(), Some("20".to_string())), ("bb".to_string(), None)]);
    }

    #[test]
    fn run_time_options_stay_calls() {
        let mut p = crate::parser::parse(r#"begin { print((getopt("aa", 1), getopt("bb"))); }"#).unwrap();
        let opts = resolve(&mut p, &Vec::new(), Mode::RunTime).unwrap();
        assert_eq!(opts.iter().map(|o| (o.name.as_str(), o.kind, o.default.as_str())).collect::<Vec<_>>(), [("aa", "int", "1"), ("bb", "bool", "false")]);
        let calls = format!("{:?}", p.probes[0].body).matches("getopt").count();
        assert_eq!(calls, 2, "both calls kept for sema");
        let mut p = crate::parser::parse(r#"begin { print(getopt("ss", "x")); }"#).unwrap();
        let opts = resolve(&mut p, &Vec::new(), Mode::RunTime).unwrap();
        assert_eq!((opts[0].kind, opts[0].default.as_str(), opts[0].value.as_str()), ("string", "\"x\"", "x"));
        let many = (0..=crate::plan::MAX_RUNTIME_NAMED).map(|i| format!("getopt(\"o{i}\", 1)")).collect::<Vec<_>>().join(" + ");
        let mut p = crate::parser::parse(&format!("begin {{ print({many}); }}")).unwrap();
        let err = resolve(&mut p, &Vec::new(), Mode::RunTime).unwrap_err();
        assert_eq!(err[0].message, "a built tool takes at most 16 named parameters");
    }
}
