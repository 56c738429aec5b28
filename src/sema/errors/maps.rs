//! Maps: keys, values, reads, the functions that take a map, and map declarations.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub enum MapError {
    KeyTupleAmongKeys { record: bool, span: Span },
    TupleInTupleKey { span: Span },
    TupleInRecordKey { span: Span },
    KeyCannotHold { record: bool, found: &'static str, span: Span },
    InvalidKey { found: &'static str, span: Span },
    MapTypeMismatch { map: String, found: String, first_was: String, first: Span, span: Span },
    KeyMismatch { map: String, keys: String, first_keys: String, first: Span, span: Span },
    CannotStore { found: &'static str, span: Span },
    HistK { k: i64, span: Span },
    HistKLiteral { span: Span },
    LhistLiteral { span: Span },
    LhistBounds { min: i64, max: i64, step: i64, span: Span },
    TSeriesLiteral { what: &'static str, span: Span },
    TSeriesBound { what: &'static str, value: i64, span: Span },
    TSeriesAgg { found: Option<String>, span: Span },
    /// Config `unstable_tseries`: `error` forbids `tseries()`, `warn` (the default) warns once.
    TSeriesUnstable { error: bool, span: Span },
    MapNeverAssigned { map: String, span: Span },
    MapReadNeverAssigned { map: String, suggestion: Option<String>, span: Span },
    AggregationRead { map: String, agg: &'static str, holds: String, assigned: Span, span: Span },
    ForMapAggregation { map: String, agg: &'static str, holds: String, assigned: Span, span: Span },
    ForMapNoKeys { map: String, assigned: Span, span: Span },
    WholeMapNeeded { func: &'static str, signature: &'static str, span: Span },
    OneEntry { func: &'static str, map: String, span: Span },
    MapNeeded { func: &'static str, signature: &'static str, span: Span },
    HistogramQuery { func: &'static str, map: String, holds: String, span: Span },
    MapDeclaredTwice { map: String, first: Span, span: Span },
    UnknownMapType { kind: String, suggestion: Option<&'static str>, span: Span },
    MapDeclEntries { kind: &'static str, span: Span },
    MapDeclArgs { kind: &'static str, map: String, count: usize, span: Span },
    MapDeclaredUnused { map: String, span: Span },
    MapDeclaredKind { map: String, kind: &'static str, value: String, per_cpu: bool, decl: Span, span: Span },
}

impl MapError {
    pub(super) fn diagnostic(&self) -> Diagnostic {
        use MapError::*;
        match self {
            KeyTupleAmongKeys { record, span } => {
                let (what, help) = match record {
                    false => ("tuple", "write its elements as keys: `@m[a, b, c]`"),
                    true => ("record", "put the other keys in the record: `@m[(a = x, b = y)]`"),
                };
                error(format!("a {what} key must be the map's only key")).at(*span, format!("a {what} among other keys")).help(help)
            }
            TupleInTupleKey { span } => error("a tuple key cannot hold another tuple").at(*span, "a tuple inside a tuple"),
            TupleInRecordKey { span } => {
                error("a record key cannot hold a tuple or a record").at(*span, "a tuple or record inside a record")
            }
            KeyCannotHold { record, found, span } => {
                let what = if *record { "record" } else { "tuple" };
                error(format!("a {what} key cannot hold {found}")).at(*span, "not a valid key")
            }
            InvalidKey { found, span } => error(format!("a map key cannot be {found}")).at(*span, "not a valid key"),
            MapTypeMismatch { map, found, first_was, first, span } => error(format!("type mismatch for map `{map}`"))
                .at(*span, this_is(found))
                .also(*first, format!("`{map}` was first assigned {first_was} here")),
            KeyMismatch { map, keys, first_keys, first, span } => error(format!("key mismatch for map `{map}`"))
                .at(*span, format!("used with key {keys}"))
                .also(*first, format!("first used with key {first_keys}")),
            CannotStore { found, span } => error(format!("cannot store {found} in a map")).at(*span, "no value to store"),
            HistK { k, span } => error(format!("hist() k must be from 0 to {}", crate::plan::HIST_MAX_K))
                .at(*span, format!("k is {k}"))
                .help(HIST_K_HELP),
            HistKLiteral { span } => error("hist() k must be an integer literal").at(*span, "not a literal").help(HIST_K_HELP),
            LhistLiteral { span } => error("lhist() bounds must be integer literals")
                .at(*span, "not a literal")
                .help("write e.g. `lhist($x, 0, 100, 10)`"),
            LhistBounds { min, max, step, span } => error("invalid lhist() bounds")
                .at(*span, format!("min {min}, max {max}, step {step}"))
                .help("lhist(n, min, max, step) needs 0 <= min < max, step > 0, and at most 1000 buckets"),
            TSeriesLiteral { what, span } => error(format!("tseries() {what} must be an integer literal"))
                .at(*span, "not a literal")
                .help("write e.g. `tseries($x, 100ms, 20)`"),
            TSeriesBound { what, value, span } => {
                let limit = match *what {
                    "interval_ns" => "at least 1".to_string(),
                    _ => format!("from 1 to {}", crate::plan::TSERIES_MAX_INTERVALS),
                };
                error(format!("tseries() {what} must be {limit}")).at(*span, format!("{value} provided"))
            }
            TSeriesAgg { found, span } => {
                let found = found.as_deref().map_or("not a string literal".to_string(), |f| format!("\"{f}\" provided"));
                error("tseries() expects one of the following aggregation functions: avg, max, min, sum").at(*span, found)
            }
            TSeriesUnstable { error: true, span } => error("tseries feature is not enabled by default")
                .at(*span, "an unstable feature")
                .help("to enable this unstable feature, set the config flag: `config = { unstable_tseries = enable }`"),
            TSeriesUnstable { error: false, span } => crate::diag::Diagnostic::warning(
                "Script is using an unstable feature: tseries. To prevent this warning you must explicitly enable it in the config e.g. unstable_tseries=enable",
            )
            .at(*span, "tseries() is unstable in bpftrace 0.26"),
            MapNeverAssigned { map, span } => error(format!("map `{map}` is never assigned")).at(*span, "never assigned"),
            MapReadNeverAssigned { map, suggestion, span } => {
                suggest(error(format!("map `{map}` is read but never assigned")).at(*span, "never assigned"), suggestion)
            }
            AggregationRead { map, agg, holds, assigned, span } => {
                error(format!("reading a {agg} map inside a probe is not supported yet"))
                    .at(*span, format!("`{map}` holds {holds}"))
                    .also(*assigned, "assigned here")
                    .note("aggregations are per-CPU and summed only when printed")
            }
            ForMapAggregation { map, agg, holds, assigned, span } => {
                error(format!("a `for` loop cannot go over `{map}`, which holds {agg} values"))
                    .at(*span, format!("`{map}` holds {holds}"))
                    .also(*assigned, "assigned here")
                    .note("a loop's value is one integer: count(), sum(), min() and max() maps have one, avg(), stats(), hist() and lhist() maps do not")
            }
            ForMapNoKeys { map, assigned, span } => error(format!("a `for` loop needs a map with keys, but `{map}` has none"))
                .at(*span, "a map without keys")
                .also(*assigned, "assigned without keys here"),
            WholeMapNeeded { func, signature, span } => error(format!("`{func}()` takes a whole map"))
                .at(*span, "not a whole map")
                .help(format!("the signature is `{signature}`")),
            OneEntry { func, map, span } => error(format!("`{func}()` takes a whole map"))
                .at(*span, "this is one entry")
                .help(format!("write `{func}({map})`, or `delete({map}[…])` for one entry")),
            MapNeeded { func, signature, span } => {
                error(format!("`{func}()` takes a map")).at(*span, "not a map").help(format!("the signature is `{signature}`"))
            }
            HistogramQuery { func, map, holds, span } => {
                let what = if holds.contains("tseries") { "a tseries() map" } else { "a histogram" };
                error(format!("`{func}()` of {what} is not supported yet")).at(*span, format!("`{map}` holds {holds}"))
            }
            MapDeclaredTwice { map, first, span } => error(format!("map `{map}` is declared twice"))
                .at(*span, "declared again here")
                .also(*first, "first declared here"),
            UnknownMapType { kind, suggestion, span } => {
                let d = error(format!("unknown map type `{kind}`")).at(*span, "not a map type");
                let d = match suggestion {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d,
                };
                d.note("map types: `hash`, `lruhash`, `percpuhash`, `percpulruhash`")
            }
            MapDeclEntries { kind, span } => error(format!("`{kind}()` takes the map's maximum number of entries, an integer literal"))
                .at(*span, format!("not an integer from 1 to {}", u32::MAX)),
            MapDeclArgs { kind, map, count, span } => {
                error(format!("`{kind}()` takes one argument, the map's maximum number of entries"))
                    .at(*span, format!("{count} arguments"))
                    .help(format!("write `let {map} = {kind}(1000);`"))
            }
            MapDeclaredUnused { map, span } => {
                Diagnostic::warning(format!("map `{map}` is declared but never used")).at(*span, "declared here")
            }
            MapDeclaredKind { map, kind, value, per_cpu, decl, span } => {
                let (needs, kinds) = match per_cpu {
                    true => ("a per-CPU map is for aggregations", "`hash` or `lruhash`"),
                    false => ("an aggregation needs a per-CPU map", "`percpuhash` or `percpulruhash`"),
                };
                error(format!("map `{map}` is declared `{kind}`, but its value is {value}"))
                    .at(*span, format!("{value} assigned here"))
                    .also(*decl, format!("declared `{kind}` here"))
                    .help(format!("{needs}: declare it {kinds}"))
            }
        }
    }
}
