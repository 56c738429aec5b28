//! Config variables (bpftrace 0.26's "Config Variables"): the `Config` values, their defaults,
//! and how they are set — by the script's `config = { … }` block, then by `BPFTRACE_*`
//! environment variables, which win. A name may be written `stack_mode`, `STACK_MODE` or
//! `BPFTRACE_STACK_MODE`. Every error (an unknown name, a bad value, a misplaced block) is a
//! diagnostic at the text that caused it. `Config` itself is plain data that later stages read.

use crate::diag::{did_you_mean, Diagnostic, Span};
use crate::parser::ast::{ConfigBlock, ConfigValue, Program};

/// `missing_probes`: what to do with a probe that does not exist or cannot be attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingProbes {
    Error,
    Warn,
    Ignore,
}

/// `unstable_*` feature flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unstable {
    Error,
    Warn,
    Enable,
}

/// Every config variable bpftrace 0.26 documents, with rtrace's default. Those rtrace does not
/// apply yet are kept (and checked) all the same; docs/differences.md lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `PER_PROGRAM`, `PER_PID` or `NONE`; `None`: bpftrace's default (by ASLR and `-c`).
    pub cache_user_symbols: Option<String>,
    pub cpp_demangle: bool,
    pub lazy_symbolication: bool,
    pub license: String,
    pub log_size: u64,
    pub max_bpf_progs: u64,
    pub max_cat_bytes: u64,
    /// Entries of a map with no declared size.
    pub max_map_keys: u64,
    pub max_probes: u64,
    /// Bytes of a string read by `str()` and of string fields, NUL included.
    pub max_strlen: u64,
    pub missing_probes: MissingProbes,
    pub on_stack_limit: u64,
    /// Pages of the event ring buffer; `None`: rtrace's default (`DEFAULT_RB_PAGES`).
    pub perf_rb_pages: Option<u64>,
    pub print_maps_on_exit: bool,
    pub show_debug_info: bool,
    /// `bpftrace`, `perf`, `raw` or `build_id`.
    pub stack_mode: String,
    pub str_trunc_trailer: String,
    pub unstable_tseries: Unstable,
    pub unstable_dw_ustack: Unstable,
    /// `typeinfo()` (bpftrace 0.26: unstable, `error` by default).
    pub unstable_typeinfo: Unstable,
}

/// rtrace's string size (bpftrace 0.26 defaults to 1024; rtrace keeps 0.17's 64 so that
/// strings stay small on the 512-byte BPF stack).
pub const DEFAULT_STRLEN: u64 = 64;
/// The largest `max_strlen` rtrace accepts.
pub const MAX_STRLEN: u64 = 1024;
/// The ring buffer's default size in pages (1 MiB of 4 KiB pages).
pub const DEFAULT_RB_PAGES: u64 = 256;

impl Default for Config {
    fn default() -> Config {
        Config {
            cache_user_symbols: None,
            cpp_demangle: true,
            lazy_symbolication: false,
            license: "GPL".into(),
            log_size: 1_000_000,
            max_bpf_progs: 1024,
            max_cat_bytes: 10240,
            max_map_keys: 4096,
            max_probes: 1024,
            max_strlen: DEFAULT_STRLEN,
            missing_probes: MissingProbes::Error,
            on_stack_limit: 32,
            perf_rb_pages: None,
            print_maps_on_exit: true,
            show_debug_info: true,
            stack_mode: "bpftrace".into(),
            str_trunc_trailer: "..".into(),
            unstable_tseries: Unstable::Warn,
            unstable_dw_ustack: Unstable::Warn,
            unstable_typeinfo: Unstable::Error,
        }
    }
}

/// A config variable's value as a script reads it (`config.max_strlen`): booleans are 1 or 0.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(u64),
    Str(String),
}

impl Config {
    /// Variable `name` (as written in a config block, any spelling), or `None` if there is none.
    pub fn value(&self, name: &str) -> Option<Value> {
        let level = |u: Unstable| Value::Str(format!("{u:?}").to_ascii_lowercase());
        Some(match normalise(name).as_str() {
            "cache_user_symbols" => Value::Str(self.cache_user_symbols.clone().unwrap_or_else(|| "PER_PID".into())),
            "cpp_demangle" => Value::Int(self.cpp_demangle.into()),
            "lazy_symbolication" => Value::Int(self.lazy_symbolication.into()),
            "license" => Value::Str(self.license.clone()),
            "log_size" => Value::Int(self.log_size),
            "max_bpf_progs" => Value::Int(self.max_bpf_progs),
            "max_cat_bytes" => Value::Int(self.max_cat_bytes),
            "max_map_keys" => Value::Int(self.max_map_keys),
            "max_probes" => Value::Int(self.max_probes),
            "max_strlen" => Value::Int(self.max_strlen),
            "missing_probes" => Value::Str(format!("{:?}", self.missing_probes).to_ascii_lowercase()),
            "on_stack_limit" => Value::Int(self.on_stack_limit),
            "perf_rb_pages" => Value::Int(self.perf_rb_pages.unwrap_or(DEFAULT_RB_PAGES)),
            "print_maps_on_exit" => Value::Int(self.print_maps_on_exit.into()),
            "show_debug_info" => Value::Int(self.show_debug_info.into()),
            "stack_mode" => Value::Str(self.stack_mode.clone()),
            "str_trunc_trailer" => Value::Str(self.str_trunc_trailer.clone()),
            "unstable_tseries" => level(self.unstable_tseries),
            "unstable_dw_ustack" => level(self.unstable_dw_ustack),
            "unstable_typeinfo" => level(self.unstable_typeinfo),
            _ => return None,
        })
    }

    /// Every variable's name, lowercase.
    pub fn names() -> impl Iterator<Item = &'static str> {
        VARIABLES.iter().map(|(n, _)| *n)
    }

    /// The ring buffer's size in bytes.
    pub fn ringbuf_bytes(&self) -> u32 {
        (self.perf_rb_pages.unwrap_or(DEFAULT_RB_PAGES) * 4096) as u32
    }
}

/// What values a variable takes.
#[derive(Clone, Copy)]
enum Kind {
    Bool,
    /// An integer in `min..=max`.
    Int { min: u64, max: u64 },
    Str,
    /// One of these words (written bare or quoted).
    Choice(&'static [&'static str]),
}

const LEVELS: &[&str] = &["error", "warn", "enable"];

/// Every variable, by its lowercase name.
const VARIABLES: &[(&str, Kind)] = &[
    ("cache_user_symbols", Kind::Choice(&["PER_PROGRAM", "PER_PID", "NONE"])),
    ("cpp_demangle", Kind::Bool),
    ("lazy_symbolication", Kind::Bool),
    ("license", Kind::Choice(LICENSES)),
    ("log_size", Kind::Int { min: 1, max: u32::MAX as u64 }),
    ("max_bpf_progs", Kind::Int { min: 1, max: u32::MAX as u64 }),
    ("max_cat_bytes", Kind::Int { min: 1, max: u32::MAX as u64 }),
    ("max_map_keys", Kind::Int { min: 1, max: u32::MAX as u64 }),
    ("max_probes", Kind::Int { min: 1, max: u32::MAX as u64 }),
    ("max_strlen", Kind::Int { min: 1, max: MAX_STRLEN }),
    ("missing_probes", Kind::Choice(&["error", "warn", "ignore"])),
    ("on_stack_limit", Kind::Int { min: 0, max: 512 }),
    ("perf_rb_pages", Kind::Int { min: 1, max: 1 << 20 }),
    ("print_maps_on_exit", Kind::Bool),
    ("show_debug_info", Kind::Bool),
    ("stack_mode", Kind::Choice(&["bpftrace", "perf", "raw", "build_id"])),
    ("str_trunc_trailer", Kind::Str),
    ("unstable_tseries", Kind::Choice(LEVELS)),
    ("unstable_dw_ustack", Kind::Choice(LEVELS)),
    ("unstable_typeinfo", Kind::Choice(LEVELS)),
];

/// Flags of features that were unstable before 0.26 and are stable now: accepted, no effect.
const STABILIZED: &[&str] = &["unstable_map_decl", "unstable_macro", "unstable_import", "unstable_addr"];

/// The licenses the kernel takes as GPL-compatible, as bpftrace lists them.
const LICENSES: &[&str] = &["GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL"];

/// A value as given: from the script (with its span) or from the environment.
enum Given<'a> {
    Script(&'a ConfigValue),
    Env(&'a str),
}

/// The config of `program`: the block's values, then the environment's (`env` looks a
/// variable up, e.g. `|k| std::env::var(k).ok()`). Warnings come back with the config.
pub fn resolve(program: &Program, env: &dyn Fn(&str) -> Option<String>) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut config = Config::default();
    let mut diags = Vec::new();
    for (i, block) in program.config.iter().enumerate() {
        if i > 0 {
            diags.push(
                Diagnostic::error("only one config block is allowed")
                    .at(block.span, "a second config block")
                    .also(program.config[0].span, "the first one"),
            );
        } else if block.misplaced {
            diags.push(
                Diagnostic::error("the config block must come before any probe, macro or map declaration")
                    .at(block.span, "too late here")
                    .help("move `config = { … }` to the top of the script"),
            );
        }
        apply_block(&mut config, block, &mut diags);
    }
    for (name, kind) in VARIABLES {
        let var = format!("BPFTRACE_{}", name.to_ascii_uppercase());
        if let Some(value) = env(&var) {
            if let Err(expected) = set(&mut config, name, *kind, &Given::Env(&value)) {
                diags.push(Diagnostic::error(format!("invalid value `{value}` for the environment variable `{var}`")).help(format!("expected {expected}")));
            }
        }
    }
    if diags.iter().any(Diagnostic::is_error) {
        Err(diags)
    } else {
        Ok((config, diags))
    }
}

/// `stack_mode`, `STACK_MODE` and `BPFTRACE_STACK_MODE` all name `stack_mode`.
fn normalise(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    lower.strip_prefix("bpftrace_").map(str::to_string).unwrap_or(lower)
}

fn apply_block(config: &mut Config, block: &ConfigBlock, diags: &mut Vec<Diagnostic>) {
    let mut seen: Vec<(String, Span)> = Vec::new();
    for item in &block.items {
        let name = normalise(&item.name.name);
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            diags.push(
                Diagnostic::error(format!("config variable `{name}` is set twice"))
                    .at(item.name.span, "set again here")
                    .also(*first, "first set here"),
            );
            continue;
        }
        seen.push((name.clone(), item.name.span));
        if STABILIZED.contains(&name.as_str()) {
            diags.push(
                Diagnostic::warning(format!("`{name}` has no effect: the feature is stable"))
                    .at(item.name.span, "no longer needed"),
            );
            continue;
        }
        let Some((_, kind)) = VARIABLES.iter().find(|(n, _)| *n == name) else {
            let mut d = Diagnostic::error(format!("unknown config variable `{}`", item.name.name))
                .at(item.name.span, "not a config variable");
            d = match did_you_mean(&name, VARIABLES.iter().map(|(n, _)| *n)) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.note(format!(
                    "the config variables are {}",
                    VARIABLES.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                )),
            };
            diags.push(d);
            continue;
        };
        if let Err(expected) = set(config, &name, *kind, &Given::Script(&item.value)) {
            diags.push(
                Diagnostic::error(format!("invalid value for config variable `{name}`"))
                    .at(item.value_span, format!("expected {expected}")),
            );
        }
    }
}

/// Sets variable `name` from `given`; `Err` says what was expected.
fn set(config: &mut Config, name: &str, kind: Kind, given: &Given) -> Result<(), String> {
    match kind {
        Kind::Bool => {
            let b = match given {
                Given::Script(ConfigValue::Bool(b)) => Some(*b),
                Given::Script(ConfigValue::Int(n @ (0 | 1))) => Some(*n == 1),
                Given::Env("true" | "1") => Some(true),
                Given::Env("false" | "0") => Some(false),
                _ => None,
            };
            set_bool(config, name, b.ok_or("`true` or `false`")?);
        }
        Kind::Int { min, max } => {
            let n = match given {
                Given::Script(ConfigValue::Int(n)) => Some(*n),
                Given::Env(s) => s.trim().parse().ok(),
                _ => None,
            };
            let n = n.filter(|n| (min..=max).contains(n)).ok_or(format!("an integer from {min} to {max}"))?;
            if name == "perf_rb_pages" && !n.is_power_of_two() {
                return Err("a power of two (the ring buffer's size)".into());
            }
            set_int(config, name, n);
        }
        Kind::Str => {
            let s = match given {
                Given::Script(ConfigValue::Str(s)) => s.clone(),
                Given::Env(s) => s.to_string(),
                _ => return Err("a string".into()),
            };
            config.str_trunc_trailer = s;
        }
        Kind::Choice(words) => {
            let word = match given {
                Given::Script(ConfigValue::Str(s) | ConfigValue::Ident(s)) => s.as_str(),
                Given::Env(s) => s,
                _ => "",
            };
            if !words.contains(&word) {
                let list = words.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ");
                return Err(format!("one of {list}"));
            }
            set_choice(config, name, word);
        }
    }
    Ok(())
}

fn set_bool(config: &mut Config, name: &str, b: bool) {
    match name {
        "cpp_demangle" => config.cpp_demangle = b,
        "lazy_symbolication" => config.lazy_symbolication = b,
        "print_maps_on_exit" => config.print_maps_on_exit = b,
        _ => config.show_debug_info = b,
    }
}

fn set_int(config: &mut Config, name: &str, n: u64) {
    match name {
        "log_size" => config.log_size = n,
        "max_bpf_progs" => config.max_bpf_progs = n,
        "max_cat_bytes" => config.max_cat_bytes = n,
        "max_map_keys" => config.max_map_keys = n,
        "max_probes" => config.max_probes = n,
        "max_strlen" => config.max_strlen = n,
        "on_stack_limit" => config.on_stack_limit = n,
        _ => config.perf_rb_pages = Some(n),
    }
}

fn set_choice(config: &mut Config, name: &str, word: &str) {
    let level = |w: &str| match w {
        "error" => Unstable::Error,
        "warn" => Unstable::Warn,
        _ => Unstable::Enable,
    };
    match name {
        "cache_user_symbols" => config.cache_user_symbols = Some(word.into()),
        "license" => config.license = word.into(),
        "missing_probes" => {
            config.missing_probes = match word {
                "error" => MissingProbes::Error,
                "warn" => MissingProbes::Warn,
                _ => MissingProbes::Ignore,
            }
        }
        "stack_mode" => config.stack_mode = word.into(),
        "unstable_tseries" => config.unstable_tseries = level(word),
        "unstable_typeinfo" => config.unstable_typeinfo = level(word),
        _ => config.unstable_dw_ustack = level(word),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_src(src: &str, env: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        let program = crate::parser::parse(src).map_err(|d| d.into_iter().map(|d| d.message).collect::<Vec<_>>())?;
        let lookup = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
        resolve(&program, &lookup).map(|(c, _)| c).map_err(|d| d.into_iter().map(|d| d.message).collect())
    }

    #[test]
    fn block_values_and_names() {
        let c = resolve_src(
            "config = { stack_mode=perf; MAX_MAP_KEYS=2; BPFTRACE_MISSING_PROBES = warn; license = \"GPL v2\"; print_maps_on_exit = false; }\nbegin {}",
            &[],
        )
        .unwrap();
        assert_eq!(c.stack_mode, "perf");
        assert_eq!(c.max_map_keys, 2);
        assert_eq!(c.missing_probes, MissingProbes::Warn);
        assert_eq!(c.license, "GPL v2");
        assert!(!c.print_maps_on_exit);
        // No trailing `;`, an empty block.
        assert_eq!(resolve_src("config = { max_strlen = 16 } begin {}", &[]).unwrap().max_strlen, 16);
        assert_eq!(resolve_src("config = {} begin {}", &[]).unwrap(), Config::default());
    }

    #[test]
    fn values_read_back() {
        let c = resolve_src("config = { stack_mode=perf; max_map_keys=2; missing_probes=warn } begin {}", &[]).unwrap();
        assert_eq!(c.value("STACK_MODE"), Some(Value::Str("perf".into())));
        assert_eq!(c.value("max_map_keys"), Some(Value::Int(2)));
        assert_eq!(c.value("missing_probes"), Some(Value::Str("warn".into())));
        assert_eq!(c.value("unstable_tseries"), Some(Value::Str("warn".into())));
        assert_eq!(c.value("print_maps_on_exit"), Some(Value::Int(1)));
        assert_eq!(c.value("nope"), None);
        // Every variable can be read.
        assert!(Config::names().all(|n| c.value(n).is_some()));
    }

    #[test]
    fn environment_wins() {
        let c = resolve_src("config = { max_map_keys = 2 } begin {}", &[("BPFTRACE_MAX_MAP_KEYS", "7")]).unwrap();
        assert_eq!(c.max_map_keys, 7);
        let e = resolve_src("begin {}", &[("BPFTRACE_CPP_DEMANGLE", "maybe")]).unwrap_err();
        assert_eq!(e, ["invalid value `maybe` for the environment variable `BPFTRACE_CPP_DEMANGLE`"]);
    }

    #[test]
    fn errors() {
        assert_eq!(resolve_src("config = { max_map_key = 2 } begin {}", &[]).unwrap_err(), ["unknown config variable `max_map_key`"]);
        assert_eq!(
            resolve_src("config = { missing_probes = maybe } begin {}", &[]).unwrap_err(),
            ["invalid value for config variable `missing_probes`"]
        );
        assert_eq!(
            resolve_src("begin {} config = { max_strlen = 8 }", &[]).unwrap_err(),
            ["the config block must come before any probe, macro or map declaration"]
        );
        assert_eq!(
            resolve_src("config = { max_strlen = 8; max_strlen = 9 } begin {}", &[]).unwrap_err(),
            ["config variable `max_strlen` is set twice"]
        );
        assert_eq!(resolve_src("config = { perf_rb_pages = 100 } begin {}", &[]).unwrap_err().len(), 1);
    }
}
