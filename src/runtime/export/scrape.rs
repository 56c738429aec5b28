//! One scrape: every exported map read through this thread's own handles, decoded as the text
//! output decodes it, cut to the series limit, turned into families (`metrics`), plus the
//! built-in metrics: lost events, probes attached, series dropped, entries full maps refused,
//! and per-program runs and run time while the kernel counts them (`kernel.bpf_stats_enabled`).

use super::super::decode::{read_u64, Decoder};
use super::super::{layout, maps};
use super::metrics::{self, Family, Number, Snapshot};
use super::Config;
use crate::plan::{self, MapDef, Plan, ValueKind};
use libbpf_rs::{MapCore, MapHandle, Object};
use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

/// What every HTTP thread shares: the flags, and the series each map dropped so far.
pub struct Shared {
    config: Config,
    probes: usize,
    dropped: Vec<AtomicU64>,
}

impl Shared {
    pub fn new(plan: &Plan, config: Config, probes: usize) -> Shared {
        Shared { config, probes, dropped: plan.maps.iter().map(|_| AtomicU64::new(0)).collect() }
    }
}

/// One thread's own descriptors of the maps and programs (duplicates of the session's).
pub struct Handles {
    maps: Vec<Option<MapHandle>>,
    /// The map of the lost-events counter's section (`plan::LOST_SECTION`).
    lost: Option<MapHandle>,
    /// The counters of new entries full maps refused (`plan::MAP_FULL_MAP`).
    map_full: Option<MapHandle>,
    stacks: HashMap<String, MapHandle>,
    /// Each program's probe (its `display`) and descriptor.
    progs: Vec<(String, OwnedFd)>,
}

impl Handles {
    pub fn open(object: &Object, plan: &Plan) -> Handles {
        let mut by_name: HashMap<String, libbpf_rs::Map> =
            object.maps().map(|m| (m.name().to_string_lossy().into_owned(), m)).collect();
        let mut handle = |name: &str| by_name.remove(name).and_then(|m| MapHandle::try_from(&m).ok());
        let maps = plan.maps.iter().map(|def| if metrics::exported(def) { handle(&def.bpf_name) } else { None }).collect();
        let lost = object
            .maps()
            .find(|m| m.name().to_string_lossy().ends_with(plan::LOST_SECTION))
            .and_then(|m| MapHandle::try_from(&m).ok());
        let map_full = handle(plan::MAP_FULL_MAP);
        let stacks = plan.stack_maps().into_iter().filter_map(|name| Some((name.clone(), handle(&name)?))).collect();
        let display: HashMap<&str, &str> = plan.probes.iter().map(|p| (p.prog_name.as_str(), p.display.as_str())).collect();
        let progs = object
            .progs()
            .filter_map(|p| {
                let name = p.name().to_string_lossy();
                let probe = display.get(name.as_ref())?.to_string();
                Some((probe, p.as_fd().try_clone_to_owned().ok()?))
            })
            .collect();
        Handles { maps, lost, map_full, stacks, progs }
    }
}

/// A thread's scraper: its handles and its decoder.
pub struct Scraper<'a> {
    plan: &'a Plan,
    shared: &'a Shared,
    maps: Vec<Option<MapHandle>>,
    lost: Option<MapHandle>,
    map_full: Option<MapHandle>,
    progs: Vec<(String, OwnedFd)>,
    decoder: Decoder<'a>,
}

impl<'a> Scraper<'a> {
    pub fn new(plan: &'a Plan, shared: &'a Shared, handles: Handles) -> Scraper<'a> {
        let Handles { maps, lost, map_full, stacks, progs } = handles;
        Scraper { plan, shared, maps, lost, map_full, progs, decoder: Decoder::new(plan, stacks, crate::runtime::Compat::V017) }
    }

    /// The page of one scrape and its content type: OpenMetrics when `open_metrics`, else
    /// the Prometheus text format.
    pub fn scrape(&mut self, open_metrics: bool) -> Result<(String, &'static str), std::fmt::Error> {
        let mut families = Vec::new();
        for index in layout::map_order(self.plan.maps.iter().map(|m| m.name.as_str())) {
            families.extend(self.map(index));
        }
        families.extend(self.builtins());
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Snapshot(families)));
        let mut page = String::new();
        if open_metrics {
            text::encode(&mut page, &registry)?;
            Ok((page, "application/openmetrics-text; version=1.0.0; charset=utf-8"))
        } else {
            prometheus_text::encode(&mut page, &registry)?;
            Ok((page, prometheus_text::CONTENT_TYPE))
        }
    }

    /// Map `index`'s families, its series cut to the limit (the rest counted as dropped).
    fn map(&mut self, index: usize) -> Vec<Family> {
        let (Some(def), Some(Some(handle))) = (self.plan.maps.get(index), self.maps.get(index)) else { return Vec::new() };
        let mut raw = maps::read_raw(handle, def);
        let sums = if def.value.is_histogram() { self.hist_sums(def, &mut raw) } else { HashMap::new() };
        let mut entries = self.decoder.entries(def, raw);
        let limit = self.shared.config.max_series;
        if entries.len() > limit {
            self.shared.dropped[index].fetch_add((entries.len() - limit) as u64, Ordering::Relaxed);
            entries.truncate(limit);
        }
        metrics::map_families(&self.shared.config.prefix, def, &entries, &sums)
    }

    /// Takes a histogram's sum entries (`plan::HIST_SUM_BUCKET`) out of `raw`, and returns
    /// each key's sum, decoded as a `sum()` map with the same keys would be.
    fn hist_sums(&mut self, def: &MapDef, raw: &mut Vec<maps::RawEntry>) -> HashMap<String, i64> {
        let user = def.user_key_size();
        let is_sum = |e: &maps::RawEntry| e.key.get(user..).is_some_and(|b| read_u64(b) == plan::HIST_SUM_BUCKET);
        let (sums, buckets): (Vec<_>, Vec<_>) = std::mem::take(raw).into_iter().partition(is_sum);
        *raw = buckets;
        let sums: Vec<maps::RawEntry> =
            sums.into_iter().map(|mut e| { e.key.truncate(user); e }).collect();
        let as_sum = MapDef { value: ValueKind::Sum { signed: true }, ..def.clone() };
        self.decoder
            .entries(&as_sum, sums)
            .into_iter()
            .filter_map(|e| match e.value {
                super::super::value::Value::Int(s) => Some((metrics::key_id(&e.key), s)),
                _ => None,
            })
            .collect()
    }

    /// rtrace's own metrics.
    fn builtins(&self) -> Vec<Family> {
        let p = &self.shared.config.prefix;
        let lost = self.lost.as_ref().map_or(0, maps::lost_events);
        let mut out = vec![
            Family::single(format!("{p}events_lost"), "Events the ring buffer had no room for", MetricType::Counter, Number::U(lost)),
            Family::single(format!("{p}probes_attached"), "Probes attached", MetricType::Gauge, Number::U(self.shared.probes as u64)),
        ];
        let mut dropped = Family::new(
            format!("{p}series_dropped"),
            "Series left out of scrapes by the per-map limit (--prometheus-max-series), summed over scrapes".into(),
            MetricType::Counter,
        );
        for (def, n) in self.plan.maps.iter().zip(&self.shared.dropped).filter(|(d, _)| metrics::exported(d)) {
            let labels = vec![("map".to_string(), def.name.clone())];
            dropped.samples.push(metrics::Sample { labels, value: Number::U(n.load(Ordering::Relaxed)) });
        }
        out.push(dropped);
        out.extend(self.map_full_drops());
        if bpf_stats_enabled() {
            out.extend(self.program_stats());
        }
        out
    }

    /// Per user map (exported as a metric or not), the new entries it was too full to take.
    fn map_full_drops(&self) -> Option<Family> {
        let counters = self.map_full.as_ref()?;
        let p = &self.shared.config.prefix;
        let mut family = Family::new(
            format!("{p}map_updates_dropped"),
            "Updates with a new key that a full map could not take (declare it bigger or raise max_map_keys)".into(),
            MetricType::Counter,
        );
        for index in layout::map_order(self.plan.maps.iter().map(|m| m.name.as_str())) {
            let labels = vec![("map".to_string(), self.plan.maps[index].name.clone())];
            family.samples.push(metrics::Sample { labels, value: Number::U(maps::map_full_drops(counters, index)) });
        }
        Some(family)
    }

    /// Each program's runs and run time, as the kernel counts them while
    /// `kernel.bpf_stats_enabled` is 1.
    fn program_stats(&self) -> Vec<Family> {
        let p = &self.shared.config.prefix;
        let mut runs = Family::new(format!("{p}probe_runs"), "Times the probe's program ran (kernel.bpf_stats_enabled)".into(), MetricType::Counter);
        let mut secs = Family::new(
            format!("{p}probe_run_seconds"),
            "Time the probe's program ran (kernel.bpf_stats_enabled)".into(),
            MetricType::Counter,
        );
        for (probe, fd) in &self.progs {
            let Some((count, ns)) = prog_run_stats(fd) else { continue };
            let labels = vec![("probe".to_string(), probe.clone())];
            runs.samples.push(metrics::Sample { labels: labels.clone(), value: Number::U(count) });
            secs.samples.push(metrics::Sample { labels, value: Number::F(ns as f64 / 1e9) });
        }
        vec![runs, secs]
    }
}

/// Whether the kernel counts programs' runs (`sysctl kernel.bpf_stats_enabled`).
fn bpf_stats_enabled() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled").is_ok_and(|s| s.trim() == "1")
}

/// A program's run count and run time in nanoseconds.
fn prog_run_stats(fd: &OwnedFd) -> Option<(u64, u64)> {
    use libbpf_rs::libbpf_sys as sys;
    // SAFETY: bpf_prog_info is plain data (zero is a valid value); the call writes at most
    // `len` bytes into it.
    let mut info: sys::bpf_prog_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<sys::bpf_prog_info>() as u32;
    // SAFETY: `info` and `len` live across the call, and `fd` is an open program descriptor.
    let rc = unsafe { sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut info, &mut len) };
    (rc == 0).then_some((info.run_cnt, info.run_time_ns))
}
