//! The live view's model without a terminal: sorting, rates, the filter, the printf pane.

use super::model::{rate_text, MapSnapshot, Model, Shown, SortBy};
use crate::runtime::layout::MapKind;
use crate::runtime::value::{Entry, KeyPart, Value};
use std::time::{Duration, Instant};

fn counts(pairs: &[(&str, u64)]) -> MapSnapshot {
    MapSnapshot {
        name: "@syscalls".to_string(),
        kind: MapKind::Plain,
        entries: pairs
            .iter()
            .map(|(k, v)| Entry { key: vec![KeyPart::Str(k.to_string())], value: Value::UInt(*v) })
            .collect(),
    }
}

fn keys(model: &Model) -> Vec<&str> {
    model.maps[0].rows.iter().map(|r| r.key.as_str()).collect()
}

#[test]
fn rows_sort_by_value_largest_first_and_rates_come_from_the_previous_snapshot() {
    let t0 = Instant::now();
    let mut model = Model::default();
    model.update(vec![counts(&[("bash", 10), ("sshd", 50), ("cron", 1)])], t0, 0);
    assert_eq!(keys(&model), ["sshd", "bash", "cron"]);
    assert!(model.maps[0].rows.iter().all(|r| r.rate.is_none()), "no rate before a second snapshot");
    assert_eq!(model.events_per_sec, None);

    // Two seconds later: bash +40, sshd +2, cron unchanged, a new key at 6; 30 events.
    model.update(vec![counts(&[("bash", 50), ("sshd", 52), ("cron", 1), ("new", 6)])], t0 + Duration::from_secs(2), 30);
    assert_eq!(keys(&model), ["sshd", "bash", "new", "cron"]);
    let rate = |key: &str| model.maps[0].rows.iter().find(|r| r.key == key).unwrap().rate;
    assert_eq!(rate("bash"), Some(20.0));
    assert_eq!(rate("sshd"), Some(1.0));
    assert_eq!(rate("cron"), Some(0.0));
    assert_eq!(rate("new"), Some(3.0), "a key first seen counts from zero");
    assert_eq!(model.events_per_sec, Some(15.0));

    model.next_sort();
    assert_eq!(model.sort, SortBy::Rate);
    assert_eq!(keys(&model), ["bash", "new", "sshd", "cron"]);
    model.next_sort();
    assert_eq!(model.sort, SortBy::Key);
    assert_eq!(keys(&model), ["bash", "cron", "new", "sshd"]);
    model.next_sort();
    assert_eq!(model.sort, SortBy::Value);
}

#[test]
fn a_clear_starts_the_rates_from_zero() {
    let t0 = Instant::now();
    let mut model = Model::default();
    model.update(vec![counts(&[("bash", 100)])], t0, 0);
    model.cleared(t0 + Duration::from_secs(1));
    model.update(vec![counts(&[("bash", 4)])], t0 + Duration::from_secs(3), 0);
    assert_eq!(model.maps[0].rows[0].rate, Some(2.0));
}

#[test]
fn the_filter_keeps_rows_whose_key_holds_the_text_in_any_case() {
    let mut model = Model::default();
    model.update(vec![counts(&[("bash", 10), ("sshd", 50), ("Bashful", 3)])], Instant::now(), 0);
    model.filter = "BASH".to_string();
    let lines = model.body_lines();
    assert_eq!(lines[0], "@syscalls  3 keys, 1 filtered out");
    let rows: Vec<&str> = lines[2..4].iter().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(rows, ["bash", "Bashful"]);
    assert!(!lines.iter().any(|l| l.contains("sshd")));
}

#[test]
fn lines_show_columns_for_counts_averages_and_histograms() {
    let t0 = Instant::now();
    let avg = MapSnapshot {
        name: "@lat".to_string(),
        kind: MapKind::Avg,
        entries: vec![Entry { key: vec![KeyPart::Int(7)], value: Value::Avg { sum: 300, count: 4 } }],
    };
    let hist = MapSnapshot {
        name: "@h".to_string(),
        kind: MapKind::Hist,
        entries: vec![Entry { key: vec![], value: Value::Hist { buckets: vec![0, 0, 2, 1], k: 0 } }],
    };
    let mut model = Model::default();
    model.update(vec![counts(&[("bash", 5)]), avg, hist], t0, 0);
    let lines = model.body_lines();
    let text = lines.join("\n");
    assert!(text.contains("  KEY           VALUE     RATE/s\n  bash              5          -"), "{text}");
    assert!(text.contains("  7              4           75            300          -"), "{text}");
    assert_eq!(model.maps[2].rows[0].shown, Shown::Hist {
        total: 3,
        bars: vec![
            "[1]                    2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|".to_string(),
            "[2, 4)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |".to_string(),
        ],
    });
    assert!(text.contains("    [1]                    2 |@@@"), "{text}");
}

#[test]
fn the_pane_takes_printf_text_a_line_at_a_time() {
    let mut model = Model::default();
    model.push_text("one\ntw");
    assert_eq!(model.events, ["one"]);
    model.push_text("o\nthree\n");
    assert_eq!(model.events, ["one", "two", "three"]);
    for i in 0..2000 {
        model.push_text(&format!("{i}\n"));
    }
    assert_eq!(model.events.len(), 1000);
    assert_eq!(model.events.back().map(String::as_str), Some("1999"));
}

#[test]
fn rates_print_with_one_decimal_below_a_hundred() {
    assert_eq!(rate_text(None), "-");
    assert_eq!(rate_text(Some(2.25)), "2.2");
    assert_eq!(rate_text(Some(1234.6)), "1235");
}
