//! `rtrace --fmt`: a script printed back in bpftrace 0.26's standard layout (its
//! `src/ast/passes/printer.cpp`, the `Formatter`): two-blank indents, lines of at most 90
//! columns (long argument lists and conditions wrap), each attach point, the predicate and
//! the `{` of a probe on lines of their own, parentheses around every operand that is not a
//! primary expression, the script's comments and blank lines kept, preprocessor lines and C
//! definitions as written. The script is parsed (without expanding macros or `#define`s) and
//! printed from the tree; the layout between tokens comes from `layout`. `statements` prints
//! statements and blocks, `exprs` expressions.

mod buffer;
mod exprs;
mod layout;
mod statements;

use crate::diag::Diagnostic;
use crate::lexer::{Lexer, Tok};
use crate::parser::ast::Program;
use buffer::Buf;
use layout::{Metadata, RawLine};

/// The widest line the layout aims for (bpftrace's `Printer::kDefaultWidth`).
const MAX_WIDTH: usize = 90;
/// One level of indentation.
const INDENT: usize = 2;

/// `src` formatted, or the parser's diagnostics.
pub fn format(src: &str) -> Result<String, Vec<Diagnostic>> {
    let limits = crate::limits::Limits::default();
    let pre = crate::lexer::preprocess::preprocess(src).map_err(|d| vec![d])?;
    let program = crate::parser::parse_unexpanded(src, &limits)?;
    let tokens: Vec<(usize, Tok, usize)> = Lexer::new(&pre.text).collect();
    let raw = layout::raw_lines(src, &pre.text);
    let mut gaps = Vec::new();
    let mut at = 0;
    for (l, _, r) in &tokens {
        gaps.push((at, *l));
        at = *r;
    }
    gaps.push((at, src.len()));
    let meta = layout::scan(src, &gaps, &raw);
    let mut f = Formatter { src, meta, braces: braces(&tokens) };
    Ok(f.program(&program, &raw).render())
}

/// Each opening brace's position (`{` of a body, a block or a block expression, `<` of a
/// body) and its closing brace's.
fn braces(tokens: &[(usize, Tok, usize)]) -> Vec<(usize, usize)> {
    let mut open = Vec::new();
    let mut pairs = Vec::new();
    for (l, t, _) in tokens {
        match t {
            Tok::BodyOpen | Tok::AngleOpen | Tok::LBrace | Tok::ExprBlockOpen => open.push(*l),
            Tok::BodyClose | Tok::AngleClose | Tok::RBrace => {
                if let Some(o) = open.pop() {
                    pairs.push((o, *l));
                }
            }
            _ => {}
        }
    }
    pairs.sort();
    pairs
}

/// A top-level item, in script order.
enum Item<'p> {
    Raw(&'p RawLine),
    Probe(&'p crate::parser::ast::Probe),
    CDef(&'p crate::parser::ast::CDefinition),
    Macro(&'p crate::parser::ast::Macro),
    MapDecl(&'p crate::parser::ast::MapDecl),
    Config(&'p crate::parser::ast::ConfigBlock),
    Import(&'p crate::parser::ast::Import),
}

pub(crate) struct Formatter<'s> {
    src: &'s str,
    meta: Metadata,
    /// `braces()`.
    braces: Vec<(usize, usize)>,
}

impl Formatter<'_> {
    /// The first opening brace at or after `pos`, and its closing brace.
    fn brace_after(&self, pos: usize) -> (usize, usize) {
        let i = self.braces.partition_point(|(o, _)| *o < pos);
        self.braces.get(i).copied().unwrap_or((pos, pos))
    }

    fn program(&mut self, p: &Program, raw: &[RawLine]) -> Buf {
        let mut items: Vec<(usize, Item)> = Vec::new();
        items.extend(raw.iter().map(|r| (r.start, Item::Raw(r))));
        items.extend(p.probes.iter().map(|x| (x.span.start, Item::Probe(x))));
        items.extend(p.c_definitions.iter().map(|x| (x.span.start, Item::CDef(x))));
        items.extend(p.macros.iter().map(|x| (x.span.start, Item::Macro(x))));
        items.extend(p.map_decls.iter().map(|x| (x.span.start, Item::MapDecl(x))));
        items.extend(p.config.iter().map(|x| (x.span.start, Item::Config(x))));
        items.extend(p.imports.iter().map(|x| (x.span.start, Item::Import(x))));
        items.sort_by_key(|(at, _)| *at);
        let mut buf = Buf::new();
        for (at, item) in items {
            let before = self.meta.before(at);
            let body = self.item(&item);
            buf = buf.meta_lines(before, 0).then(body).line_break();
        }
        let rest = self.meta.rest();
        buf.meta_lines(rest, 0)
    }

    fn item(&mut self, item: &Item) -> Buf {
        match item {
            Item::Raw(r) => Buf::new().text(r.text.clone()),
            Item::Probe(p) => self.probe(p),
            Item::CDef(d) => {
                let text = d.text.trim_end();
                let semi = if text.ends_with(';') { "" } else { ";" };
                Buf::new().text(format!("{text}{semi}"))
            }
            Item::Macro(m) => self.macro_def(m),
            Item::MapDecl(d) => {
                let args = self.list(&d.args, ", ", MAX_WIDTH, |f, e, w| f.expr(e, w, true));
                Buf::new().text(format!("let {} = {}(", d.map.name, d.kind.name)).then(args).text(");")
            }
            Item::Config(c) => self.config(c),
            Item::Import(i) => Buf::new().text(format!("import {};", &self.src[quoted(self.src, i.span)])),
        }
    }

    fn config(&mut self, c: &crate::parser::ast::ConfigBlock) -> Buf {
        use crate::parser::ast::ConfigValue;
        if c.items.is_empty() {
            return Buf::new().text("config = {}");
        }
        let mut block = Buf::new();
        for item in &c.items {
            if block.lines() > 0 {
                block = block.line_break();
            }
            let value = match &item.value {
                ConfigValue::Int(_) | ConfigValue::Str(_) => self.src[item.value_span.start..item.value_span.end].to_string(),
                ConfigValue::Ident(s) => s.clone(),
                ConfigValue::Bool(b) => b.to_string(),
            };
            let before = self.meta.before(item.name.span.start);
            block = block.meta_lines(before, 0).text(format!("{} = {value};", item.name.name));
        }
        let (_, close) = self.brace_after(c.span.start);
        let tail = self.meta.before(close);
        Buf::new().text("config = {").append(block.meta_inline(tail), INDENT).text("}")
    }

    fn probe(&mut self, p: &crate::parser::ast::Probe) -> Buf {
        let mut buf = Buf::new();
        let n = p.attach_points.len();
        for (i, ap) in p.attach_points.iter().enumerate() {
            let text = match &ap.name {
                Some(name) => format!("{name}={}", ap.text),
                None => ap.text.clone(),
            };
            let sep = if i + 1 < n { "," } else { "" };
            buf = buf.text(format!("{text}{sep}")).line_break();
        }
        let body_from = p.predicate.as_ref().map_or(p.attach_points.last().map_or(p.span.start, |a| a.span.end), |e| e.span.end);
        if let Some(pred) = &p.predicate {
            let before = self.meta.before(pred.span.start);
            let pred = self.expr(pred, MAX_WIDTH, true);
            buf = buf.meta_inline(before).text("/").then(pred).text("/").line_break();
        }
        let (open, close) = self.brace_after(body_from);
        let before = self.meta.before(open);
        let block = self.block(&p.body, close, MAX_WIDTH - INDENT);
        buf.meta_inline(before).text("{").append(block, INDENT).text("}")
    }

    fn macro_def(&mut self, m: &crate::parser::ast::Macro) -> Buf {
        let params = self.list(&m.params, ", ", MAX_WIDTH - 10, |_, p, _| Buf::new().text(p.name.name.clone()));
        let (open, close) = self.brace_after(m.name.span.end);
        let before = self.meta.before(open);
        let block = self.block_with_value(&m.body, m.value.as_ref(), close, MAX_WIDTH - INDENT);
        Buf::new()
            .text(format!("macro {}(", m.name.name))
            .then(params)
            .text(")")
            .meta_lines(before, 1)
            .text("{")
            .append(block, INDENT)
            .text("}")
    }
}

/// The `"…"` of an import statement's span.
fn quoted(src: &str, span: crate::diag::Span) -> std::ops::Range<usize> {
    let text = &src[span.start..span.end];
    match (text.find('"'), text.rfind('"')) {
        (Some(a), Some(b)) if b > a => span.start + a..span.start + b + 1,
        _ => span.start..span.end,
    }
}

/// `rtrace --fmt`: prints the formatted script on standard output, or writes it to `-o
/// FILE` (through a temporary file beside it, renamed when complete), as bpftrace 0.26 does.
/// A script that does not parse gets the parser's diagnostics and status 1.
pub fn run(name: &str, src: &str, output: Option<&std::path::Path>, color: bool) -> i32 {
    let text = match format(src) {
        Ok(text) => text,
        Err(diags) => {
            let renderer = crate::diag::Renderer::new(name, src, color);
            for d in &diags {
                eprint!("{}", renderer.render(d));
            }
            return 1;
        }
    };
    let Some(path) = output else {
        print!("{text}");
        return 0;
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".rtrace-fmt.{}", std::process::id()));
    let written = std::fs::write(&tmp, &text).and_then(|()| std::fs::rename(&tmp, path));
    match written {
        Ok(()) => 0,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            eprintln!("error: cannot write `{}`: {e}", path.display());
            1
        }
    }
}
