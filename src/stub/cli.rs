//! A built tool's command line: the options its payload declares and rtrace's run flags,
//! read with lexopt, and its `--help` in the layout of rtrace's own (clap's). The stub does
//! not link clap: clap was a tenth of the stub's file, and the stub's command line is a flat
//! list of flags made at run time, which needs none of clap's derive, subcommands or
//! completions (docs/build.md, "File size").

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;

/// What an option takes after its name.
pub enum Takes {
    /// Nothing: a switch.
    Nothing,
    /// A value named `name` in `--help`; `equals`: shown as `--NAME=<V>` (a script's named
    /// parameter), else `--NAME <V>`. Both spellings are read either way.
    Value { name: String, equals: bool },
    /// `--NAME` or `--NAME=true|false|1|0`: a boolean named parameter.
    OptionalBool,
}

/// One option.
pub struct Opt {
    /// How `Matches` names it.
    pub id: String,
    pub short: Option<char>,
    pub long: Option<String>,
    pub takes: Takes,
    pub help: String,
    /// Its value when not given (shown in `--help`).
    pub default: Option<String>,
    /// The values it accepts, when they are a short list (shown in `--help`).
    pub choices: &'static [&'static str],
}

impl Opt {
    /// An option `-S` that takes nothing.
    pub fn switch(id: &str, short: char, help: &str) -> Opt {
        Opt { id: id.into(), short: Some(short), long: None, takes: Takes::Nothing, help: help.into(), default: None, choices: &[] }
    }

    /// An option `-S VALUE`.
    pub fn value(id: &str, short: char, name: &str, help: &str) -> Opt {
        let takes = Takes::Value { name: name.into(), equals: false };
        Opt { id: id.into(), short: Some(short), long: None, takes, help: help.into(), default: None, choices: &[] }
    }

    /// An option `--LONG` that takes nothing.
    pub fn long_switch(id: &str, long: &str, help: &str) -> Opt {
        Opt { id: id.into(), short: None, long: Some(long.into()), takes: Takes::Nothing, help: help.into(), default: None, choices: &[] }
    }

    /// An option `--LONG VALUE`.
    pub fn long_value(id: &str, long: &str, name: &str, help: &str) -> Opt {
        let takes = Takes::Value { name: name.into(), equals: false };
        Opt { id: id.into(), short: None, long: Some(long.into()), takes, help: help.into(), default: None, choices: &[] }
    }

    pub fn choices(mut self, choices: &'static [&'static str]) -> Opt {
        self.choices = choices;
        self
    }

    pub fn default(mut self, default: &str) -> Opt {
        self.default = Some(default.into());
        self
    }

    /// How the option is spelled in messages: `-p`, `--count`.
    fn spelling(&self) -> String {
        match (&self.long, self.short) {
            (Some(long), _) => format!("--{long}"),
            (None, Some(short)) => format!("-{short}"),
            (None, None) => self.id.clone(),
        }
    }

    /// Its left column in `--help`.
    fn spec(&self) -> String {
        let mut spec = match (self.short, &self.long) {
            (Some(s), Some(l)) => format!("  -{s}, --{l}"),
            (Some(s), None) => format!("  -{s}"),
            (None, Some(l)) => format!("      --{l}"),
            (None, None) => String::new(),
        };
        match &self.takes {
            Takes::Nothing => {}
            Takes::Value { name, equals: true } => spec.push_str(&format!("=<{name}>")),
            Takes::Value { name, equals: false } => spec.push_str(&format!(" <{name}>")),
            Takes::OptionalBool => spec.push_str("[=<BOOL>]"),
        }
        spec
    }
}

/// One positional argument (all are optional).
pub struct Positional {
    pub id: String,
    pub name: String,
    pub help: String,
    pub default: Option<String>,
}

/// A tool's command line.
pub struct Command {
    pub name: String,
    pub about: String,
    pub after_help: String,
    pub opts: Vec<Opt>,
    pub positionals: Vec<Positional>,
}

/// What the command line gave, defaults filled in.
#[derive(Default)]
pub struct Matches {
    values: HashMap<String, String>,
    flags: HashSet<String>,
}

impl Matches {
    /// The value of option or positional `id`, given or by default.
    pub fn get(&self, id: &str) -> Option<&str> {
        self.values.get(id).map(String::as_str)
    }

    /// Whether switch `id` was given.
    pub fn flag(&self, id: &str) -> bool {
        self.flags.contains(id)
    }
}

/// Why parsing stopped without matches.
pub enum Stop {
    /// `-h`/`--help`: this text goes to stdout, and the tool exits 0.
    Help(String),
    /// A usage error, one line.
    Usage(String),
}

impl Command {
    /// Reads `args` (without the program's name).
    pub fn parse(&self, args: impl IntoIterator<Item = OsString>) -> Result<Matches, Stop> {
        let mut parser = lexopt::Parser::from_args(args);
        let mut m = Matches::default();
        let mut positionals = self.positionals.iter();
        loop {
            // A negative number is a positional value (`$1` may be -5), not an option.
            let negative = parser.try_raw_args().and_then(|mut raw| raw.next_if(|a| is_negative_number(a)));
            let arg = match negative {
                Some(word) => lexopt::Arg::Value(word),
                None => match parser.next().map_err(usage)? {
                    Some(arg) => arg,
                    None => break,
                },
            };
            let opt = match &arg {
                lexopt::Arg::Short('h') | lexopt::Arg::Long("help") => return Err(Stop::Help(self.help())),
                lexopt::Arg::Short(c) => self.opts.iter().find(|o| o.short == Some(*c)),
                lexopt::Arg::Long(l) => self.opts.iter().find(|o| o.long.as_deref() == Some(*l)),
                lexopt::Arg::Value(word) => {
                    let word = text(word.clone())?;
                    let Some(p) = positionals.next() else {
                        return Err(Stop::Usage(format!("unexpected argument `{word}`")));
                    };
                    m.values.insert(p.id.clone(), word);
                    continue;
                }
            };
            let Some(opt) = opt else {
                let spelling = match arg {
                    lexopt::Arg::Short(c) => format!("-{c}"),
                    lexopt::Arg::Long(l) => format!("--{l}"),
                    lexopt::Arg::Value(_) => unreachable!("values are handled above"),
                };
                return Err(Stop::Usage(format!("unknown option `{spelling}` (see --help)")));
            };
            match &opt.takes {
                Takes::Nothing => {
                    m.flags.insert(opt.id.clone());
                }
                Takes::Value { .. } => {
                    let value = text(parser.value().map_err(usage)?)?;
                    if !opt.choices.is_empty() && !opt.choices.contains(&value.as_str()) {
                        let spelling = opt.spelling();
                        return Err(Stop::Usage(format!("{spelling} must be one of {}, not `{value}`", opt.choices.join(", "))));
                    }
                    m.values.insert(opt.id.clone(), value);
                }
                Takes::OptionalBool => {
                    let value = match parser.optional_value() {
                        Some(v) => text(v)?,
                        None => "true".to_string(),
                    };
                    if !["true", "false", "1", "0"].contains(&value.as_str()) {
                        return Err(Stop::Usage(format!("{} must be true, false, 1 or 0, not `{value}`", opt.spelling())));
                    }
                    m.values.insert(opt.id.clone(), value);
                }
            }
        }
        let defaults = self.opts.iter().map(|o| (&o.id, &o.default)).chain(self.positionals.iter().map(|p| (&p.id, &p.default)));
        for (id, default) in defaults {
            if let Some(d) = default {
                m.values.entry(id.clone()).or_insert_with(|| d.clone());
            }
        }
        Ok(m)
    }

    /// The `--help` text: about, usage, arguments, options (each section's help column
    /// aligned), then `after_help`.
    pub fn help(&self) -> String {
        let mut out = String::new();
        if !self.about.is_empty() {
            out.push_str(&format!("{}\n\n", self.about));
        }
        out.push_str(&format!("Usage: {} [OPTIONS]", self.name));
        for p in &self.positionals {
            out.push_str(&format!(" [{}]", p.name));
        }
        out.push_str("\n\n");
        if !self.positionals.is_empty() {
            let rows = self.positionals.iter().map(|p| (format!("  [{}]", p.name), described(&p.help, &p.default, &[])));
            out.push_str(&section("Arguments", rows.collect()));
        }
        let mut rows: Vec<(String, String)> = self.opts.iter().map(|o| (o.spec(), described(&o.help, &o.default, o.choices))).collect();
        rows.push(("  -h, --help".into(), "Print help".into()));
        out.push_str(&section("Options", rows));
        if !self.after_help.is_empty() {
            out.push_str(&format!("{}\n", self.after_help));
        }
        out
    }
}

/// A section of `--help`: its title, then one row per entry with the help column two spaces
/// after the longest left column, then a blank line.
fn section(title: &str, rows: Vec<(String, String)>) -> String {
    let width = rows.iter().map(|(spec, _)| spec.len()).max().unwrap_or(0) + 2;
    let mut out = format!("{title}:\n");
    for (spec, help) in rows {
        out.push_str(&format!("{spec:width$}{help}\n"));
    }
    out.push('\n');
    out
}

/// An entry's help with its default and choices, as clap writes them.
fn described(help: &str, default: &Option<String>, choices: &[&str]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !help.is_empty() {
        parts.push(help.to_string());
    }
    if let Some(d) = default {
        parts.push(format!("[default: {d}]"));
    }
    if !choices.is_empty() {
        parts.push(format!("[possible values: {}]", choices.join(", ")));
    }
    parts.join(" ")
}

/// Whether a command-line word is a negative number (`-5`, `-0x10`).
fn is_negative_number(word: &std::ffi::OsStr) -> bool {
    word.to_str().and_then(|w| w.strip_prefix('-')).is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
}

/// A word of the command line as text.
fn text(word: OsString) -> Result<String, Stop> {
    word.into_string().map_err(|w| Stop::Usage(format!("`{}` is not valid UTF-8", w.to_string_lossy())))
}

/// lexopt's error as a usage error.
fn usage(e: lexopt::Error) -> Stop {
    Stop::Usage(e.to_string())
}
