//! The live view's model: what the screen shows, built from the maps as the text output decodes
//! them (`Decoder::entries`), with no terminal in sight. It keeps the previous snapshot's
//! totals to give each row a rate per second, the sort order, the filter, the scroll offset
//! and the printf pane's lines; `body_lines` writes the maps as the lines the view draws.

use crate::runtime::layout::{hist_total, number_value, MapKind};
use crate::runtime::output::hist::{write_hist, write_lhist};
use crate::runtime::value::{average, scalar_value_text, Entry, KeyPart, Value};
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// Lines the printf pane keeps.
const EVENT_LINES: usize = 1000;
/// The widest a key column gets; longer keys are cut.
const KEY_WIDTH: usize = 48;

/// The order rows are shown in; `s` goes round them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    /// The largest total first.
    Value,
    /// The largest rate first.
    Rate,
    /// Keys in text order.
    Key,
}

impl SortBy {
    pub fn next(self) -> SortBy {
        match self {
            SortBy::Value => SortBy::Rate,
            SortBy::Rate => SortBy::Key,
            SortBy::Key => SortBy::Value,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SortBy::Value => "value",
            SortBy::Rate => "rate",
            SortBy::Key => "key",
        }
    }
}

/// One map as read at one instant: its name, layout and decoded entries.
pub struct MapSnapshot {
    pub name: String,
    pub kind: MapKind,
    pub entries: Vec<Entry>,
}

/// What a row shows besides its key.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// count/sum/min/max and integers: the total.
    Number(i128),
    /// avg() and stats(): the count, the average, the total.
    Avg { count: u64, avg: i64, total: i64 },
    /// hist()/lhist(): the number of values, and bpftrace's bar rows.
    Hist { total: u64, bars: Vec<String> },
    /// Anything else (strings, tuples, stacks), as the text output writes it.
    Text(String),
}

impl Shown {
    /// The figure rates are taken of and the value sort uses.
    fn figure(&self) -> Option<f64> {
        match self {
            Shown::Number(n) => Some(*n as f64),
            Shown::Avg { count, .. } => Some(*count as f64),
            Shown::Hist { total, .. } => Some(*total as f64),
            Shown::Text(_) => None,
        }
    }
}

/// One row of a map's table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The key as `@m[…]` writes it between the brackets (empty for a map without keys).
    pub key: String,
    pub shown: Shown,
    /// Per second since the previous snapshot; `None` before there is one.
    pub rate: Option<f64>,
}

/// One map's table.
#[derive(Debug, Clone, PartialEq)]
pub struct MapTable {
    pub name: String,
    pub kind: MapKind,
    pub rows: Vec<Row>,
}

/// The whole view's state.
pub struct Model {
    pub maps: Vec<MapTable>,
    pub sort: SortBy,
    /// Rows whose key holds this text (any case) are shown; empty: all.
    pub filter: String,
    /// The first body line shown.
    pub scroll: usize,
    pub paused: bool,
    /// The printf pane's complete lines, the oldest first.
    pub events: VecDeque<String>,
    /// A line printed in parts, not yet ended.
    partial: String,
    /// The previous snapshot's figures by map and key, and when it was read.
    previous: Option<(Instant, HashMap<(String, String), f64>)>,
    /// Events counted at the previous snapshot, for events per second.
    events_seen: u64,
    pub events_per_sec: Option<f64>,
}

impl Default for Model {
    fn default() -> Model {
        Model {
            maps: Vec::new(),
            sort: SortBy::Value,
            filter: String::new(),
            scroll: 0,
            paused: false,
            events: VecDeque::new(),
            partial: String::new(),
            previous: None,
            events_seen: 0,
            events_per_sec: None,
        }
    }
}

impl Model {
    /// Takes in the maps read at `now`; `events` is the number of events handled so far.
    pub fn update(&mut self, snapshot: Vec<MapSnapshot>, now: Instant, events: u64) {
        let seconds = self.previous.as_ref().map(|(at, _)| now.saturating_duration_since(*at).as_secs_f64());
        let mut figures = HashMap::new();
        self.maps = snapshot
            .into_iter()
            .map(|map| {
                let rows = map
                    .entries
                    .into_iter()
                    .map(|entry| {
                        let key = key_text(&entry.key);
                        let shown = shown(&entry.value);
                        let figure = shown.figure();
                        let id = (map.name.clone(), key.clone());
                        let rate = match (figure, seconds, &self.previous) {
                            (Some(now_fig), Some(s), Some((_, before))) if s > 0.0 => {
                                Some((now_fig - before.get(&id).copied().unwrap_or(0.0)) / s)
                            }
                            _ => None,
                        };
                        if let Some(f) = figure {
                            figures.insert(id, f);
                        }
                        Row { key, shown, rate }
                    })
                    .collect();
                MapTable { name: map.name, kind: map.kind, rows }
            })
            .collect();
        if let Some(s) = seconds.filter(|s| *s > 0.0) {
            self.events_per_sec = Some(events.saturating_sub(self.events_seen) as f64 / s);
        }
        self.events_seen = events;
        self.previous = Some((now, figures));
        self.sort_rows();
    }

    /// The maps were cleared at `now`: rates count from zero again.
    pub fn cleared(&mut self, now: Instant) {
        self.previous = Some((now, HashMap::new()));
    }

    /// Goes to the next sort order.
    pub fn next_sort(&mut self) {
        self.sort = self.sort.next();
        self.sort_rows();
    }

    fn sort_rows(&mut self) {
        let sort = self.sort;
        for map in &mut self.maps {
            map.rows.sort_by(|a, b| {
                let desc = |x: Option<f64>, y: Option<f64>| {
                    y.unwrap_or(f64::NEG_INFINITY).total_cmp(&x.unwrap_or(f64::NEG_INFINITY))
                };
                let by = match sort {
                    SortBy::Value => desc(a.shown.figure(), b.shown.figure()),
                    SortBy::Rate => desc(a.rate, b.rate),
                    SortBy::Key => std::cmp::Ordering::Equal,
                };
                by.then_with(|| a.key.cmp(&b.key))
            });
        }
    }

    /// Appends printf output to the pane, a line at a time.
    pub fn push_text(&mut self, text: &str) {
        self.partial.push_str(text);
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            self.events.push_back(line.trim_end_matches('\n').to_string());
            if self.events.len() > EVENT_LINES {
                self.events.pop_front();
            }
        }
    }

    /// Whether a row passes the filter.
    pub fn shows(&self, row: &Row) -> bool {
        self.filter.is_empty() || row.key.to_lowercase().contains(&self.filter.to_lowercase())
    }

    /// The maps as lines of text: for each map a title, a column header and its rows (those
    /// the filter lets through) in the sort order; a histogram's bars under its row.
    pub fn body_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for map in &self.maps {
            let rows: Vec<&Row> = map.rows.iter().filter(|r| self.shows(r)).collect();
            let hidden = map.rows.len() - rows.len();
            let mut title = format!("{}  {} key{}", map.name, map.rows.len(), if map.rows.len() == 1 { "" } else { "s" });
            if hidden > 0 {
                title.push_str(&format!(", {hidden} filtered out"));
            }
            lines.push(title);
            let width = rows.iter().map(|r| r.key.chars().count()).max().unwrap_or(0).clamp(3, KEY_WIDTH);
            lines.push(column_header(map.kind, width));
            for row in rows {
                write_row(&mut lines, row, width);
            }
            lines.push(String::new());
        }
        if self.maps.is_empty() {
            lines.push("(the script has no maps)".to_string());
        }
        lines
    }
}

/// A key as `@m[…]` writes it between the brackets.
pub fn key_text(key: &[KeyPart]) -> String {
    key.iter().map(KeyPart::text).collect::<Vec<_>>().join(", ")
}

/// What a row shows for a value.
fn shown(value: &Value) -> Shown {
    match value {
        Value::Avg { count, sum } | Value::Stats { count, sum } => {
            Shown::Avg { count: *count, avg: average(value), total: *sum }
        }
        Value::Hist { buckets, k } => {
            let mut text = String::new();
            write_hist(&mut text, buckets, *k, true);
            Shown::Hist { total: hist_total(value), bars: text.lines().map(str::to_string).collect() }
        }
        Value::Lhist { buckets, min, max, step } => {
            let mut text = String::new();
            write_lhist(&mut text, buckets, *min, *max, *step, true);
            Shown::Hist { total: hist_total(value), bars: text.lines().map(str::to_string).collect() }
        }
        Value::TSeries(series) => {
            let mut text = String::new();
            crate::runtime::tseries::graph(&mut text, series);
            Shown::Hist { total: series.points.len() as u64, bars: text.lines().map(str::to_string).collect() }
        }
        other => match number_value(other) {
            Some(n) => Shown::Number(n),
            None => Shown::Text(scalar_value_text(other)),
        },
    }
}

fn column_header(kind: MapKind, width: usize) -> String {
    match kind {
        MapKind::Avg => format!("  {:<width$} {:>12} {:>12} {:>14} {:>10}", "KEY", "COUNT", "AVERAGE", "TOTAL", "COUNT/s"),
        MapKind::Hist | MapKind::TSeries => format!("  {:<width$} {:>12} {:>10}", "KEY", "VALUES", "VALUES/s"),
        MapKind::Plain => format!("  {:<width$} {:>14} {:>10}", "KEY", "VALUE", "RATE/s"),
    }
}

fn write_row(lines: &mut Vec<String>, row: &Row, width: usize) {
    let key: String = if row.key.chars().count() > width {
        row.key.chars().take(width.saturating_sub(1)).chain(std::iter::once('…')).collect()
    } else {
        row.key.clone()
    };
    let rate = rate_text(row.rate);
    match &row.shown {
        Shown::Number(n) => lines.push(format!("  {key:<width$} {n:>14} {rate:>10}")),
        Shown::Avg { count, avg, total } => {
            lines.push(format!("  {key:<width$} {count:>12} {avg:>12} {total:>14} {rate:>10}"))
        }
        Shown::Hist { total, bars } => {
            lines.push(format!("  {key:<width$} {total:>12} {rate:>10}"));
            lines.extend(bars.iter().map(|bar| format!("    {bar}")));
        }
        Shown::Text(text) => lines.push(format!("  {key:<width$} {text}")),
    }
}

/// A rate as the table shows it: one decimal below 100, whole above; `-` when not known yet.
pub fn rate_text(rate: Option<f64>) -> String {
    match rate {
        None => "-".to_string(),
        Some(r) if r.abs() < 100.0 => format!("{r:.1}"),
        Some(r) => format!("{r:.0}"),
    }
}
