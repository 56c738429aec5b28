//! `rtrace --prometheus ADDR`: the maps as Prometheus metrics.
//!
//! - `scraped_by_prometheus`: a real Prometheus (Debian's package, `scripts/setup`) scrapes an
//!   exporter every second, on loopback with its own config and data directory; a thread of
//!   this test named `rtpromload` makes a known number of `getppid()` calls and ten 20 ms
//!   sleeps. Prometheus's HTTP API must give the exact count, labelled with the comm and the
//!   probe, a median sleep in the histogram's right bucket, and `up == 1`; `promtool check
//!   metrics` must accept a scraped page.
//! - `each_kind_exposition`: one map of each kind filled in BEGIN, the page compared with the
//!   text the mapping rules (docs/exporter.md) give, worked out by hand below.
//! - `full_maps`: maps declared too small for the keys a script gives them; the updates with a
//!   new key they could not take counted per map in `rtrace_map_updates_dropped_total`, and
//!   warned of at exit.
//! - `port_in_use`: a one-line error and exit status 1.
//!
//! Every process started here is stopped when the test ends, passed or failed (guards).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RTRACE: &str = env!("CARGO_BIN_EXE_rtrace");
const MARKER: &str = "__BPFTRACE_NOTIFY_PROBES_ATTACHED";
const CALLS: usize = 1000;

/// A started process, stopped (SIGINT, then SIGKILL) and reaped when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        stop(&mut self.0);
    }
}

fn stop(child: &mut Child) -> Option<std::process::ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait().ok()
}

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        println!("skipped: needs root");
    }
    root
}

/// Held from choosing a port with `free_port` until the server has bound it, and by
/// `port_in_use` while it binds: otherwise `port_in_use`'s own `bind(0)` can be given the
/// port another test chose and released a moment before, and that test's server fails.
static PORTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn ports() -> std::sync::MutexGuard<'static, ()> {
    PORTS.lock().unwrap_or_else(|e| e.into_inner())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().unwrap().port()
}

/// Starts `rtrace --prometheus 127.0.0.1:PORT -e SCRIPT` and waits until its probes are
/// attached; its stderr is kept in `stderr` (a file, read at the end).
fn exporter(script: &str, port: u16, stderr: &std::path::Path) -> Guard {
    let mut child = Command::new(RTRACE)
        .args(["--prometheus", &format!("127.0.0.1:{port}"), "-e", script])
        .env(MARKER, "1")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(stderr).expect("stderr file"))
        .spawn()
        .expect("rtrace starts");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains(MARKER) {
                let _ = tx.send(());
            }
        }
    });
    let guard = Guard(child);
    rx.recv_timeout(Duration::from_secs(30)).expect("rtrace attached its probes");
    guard
}

/// An exporter of `script` on a free port (`exporter`): its guard, its `/metrics` URL, and the
/// file of its stderr (`rt-prom-NAME-PID.err` in the temporary directory).
fn on_free_port(script: &str, name: &str) -> (Guard, String, std::path::PathBuf) {
    let held = ports();
    let port = free_port();
    let err = std::env::temp_dir().join(format!("rt-prom-{name}-{}.err", std::process::id()));
    let rtrace = exporter(script, port, &err);
    drop(held);
    (rtrace, format!("http://127.0.0.1:{port}/metrics"), err)
}

/// Stops an exporter, which must exit with status 0; its stderr (the file is removed).
fn stopped(rtrace: &mut Guard, err: &std::path::Path) -> String {
    let status = stop(&mut rtrace.0);
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let stderr = std::fs::read_to_string(err).unwrap_or_default();
    let _ = std::fs::remove_file(err);
    stderr
}

/// `curl -s URL` with extra arguments; the body.
fn curl(url: &str, extra: &[&str]) -> String {
    let out = Command::new("curl").args(["-s", "--max-time", "10"]).args(extra).arg(url).output().expect("curl runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Makes CALLS getppid() calls and ten 20 ms sleeps in a thread whose comm is `rtpromload`.
fn workload() {
    std::thread::Builder::new()
        .name("rtpromload".into())
        .spawn(|| {
            for _ in 0..CALLS {
                // SAFETY: getppid has no preconditions.
                unsafe { libc::syscall(libc::SYS_getppid) };
            }
            for _ in 0..10 {
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

/// One instant query's result vector from Prometheus's HTTP API.
fn query(port: u16, q: &str) -> Vec<serde_json::Value> {
    let body = curl(&format!("http://127.0.0.1:{port}/api/v1/query"), &["--data-urlencode", &format!("query={q}")]);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

fn sample_value(s: &serde_json::Value) -> f64 {
    s["value"][1].as_str().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

#[test]
fn scraped_by_prometheus() {
    if !root() {
        return;
    }
    if Command::new("prometheus").arg("--version").output().is_err() {
        println!("skipped: no prometheus (scripts/setup installs it)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("rt-prom-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    // Held for the whole test: Prometheus binds its port some time after it starts.
    let _ports = ports();
    let (rport, pport) = (free_port(), free_port());
    let script = r#"
        tracepoint:syscalls:sys_enter_getppid /comm == "rtpromload"/ { @calls[comm, probe] = count(); }
        tracepoint:syscalls:sys_enter_clock_nanosleep /comm == "rtpromload"/ { @start[tid] = nsecs; }
        tracepoint:syscalls:sys_exit_clock_nanosleep /@start[tid]/ {
            @sleep_latency = hist((nsecs - @start[tid]) / 1000); delete(@start[tid]);
        }"#;
    let rtrace = exporter(script, rport, &dir.join("rtrace.err"));
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: rtrace\n    static_configs:\n      - targets: ['127.0.0.1:{rport}']\n"
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let prometheus = Guard(
        Command::new("prometheus")
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{pport}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("prometheus starts"),
    );
    workload();
    let counter = format!(r#"rtrace_calls_total{{comm="rtpromload",probe="tracepoint:syscalls:sys_enter_getppid"}}"#);
    let until = Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while Instant::now() < until {
        got = query(pport, &counter);
        let sleeps = query(pport, "rtrace_sleep_latency_count");
        if got.first().map(sample_value) == Some(CALLS as f64) && sleeps.first().map(sample_value) == Some(10.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = || std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
    assert_eq!(got.len(), 1, "{counter}: {got:?}\nprometheus log:\n{}", log());
    assert_eq!(sample_value(&got[0]), CALLS as f64, "{got:?}");
    assert_eq!(got[0]["metric"]["job"], "rtrace");

    let up = query(pport, r#"up{job="rtrace"}"#);
    assert_eq!(up.first().map(sample_value), Some(1.0), "{up:?}");
    // Ten sleeps of 20 ms (20,000 µs and a little): all in [16384, 32768), `le = 32767`.
    let median = query(pport, "histogram_quantile(0.5, rtrace_sleep_latency_bucket)");
    let m = median.first().map(sample_value).unwrap_or(f64::NAN);
    assert!((16383.0..=32767.0).contains(&m), "median {m}: {median:?}");
    let count = query(pport, "rtrace_sleep_latency_count");
    assert_eq!(count.first().map(sample_value), Some(10.0), "{count:?}");
    let sum = query(pport, "rtrace_sleep_latency_sum");
    let s = sum.first().map(sample_value).unwrap_or(f64::NAN);
    assert!((200_000.0..320_000.0).contains(&s), "sum {s}");

    // promtool lints a page as scraped (the Prometheus text format).
    let page = curl(&format!("http://127.0.0.1:{rport}/metrics"), &[]);
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    std::io::Write::write_all(&mut promtool.stdin.take().unwrap(), page.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}\npage:\n{page}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    drop(prometheus);
    let mut rtrace = rtrace;
    let status = stop(&mut rtrace.0);
    assert!(status.is_some_and(|s| s.success()), "rtrace: {status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One map of each kind, filled in BEGIN; `interval:s:1000` keeps rtrace running.
const KINDS: &str = r#"
BEGIN {
    @count[1] = count(); @count[1] = count(); @count[2] = count();
    @usum = sum((uint64)5); @usum = sum((uint64)7);
    @ssum = sum(-3);
    @least = min(4); @least = min(2);
    @most["a"] = max(4); @most["a"] = max(9);
    @mean = avg(2); @mean = avg(5);
    @st = stats(10); @st = stats(20);
    @h = hist(0); @h = hist(1); @h = hist(5); @h = hist(5); @h = hist(100);
    @lh = lhist(15, 0, 50, 10); @lh = lhist(-1, 0, 50, 10); @lh = lhist(75, 0, 50, 10);
    @ = 42;
    @rec[(name = "x", n = 2)] = count();
    @text = "not a number";
}
interval:s:1000 { exit(); }
"#;

/// What the mapping rules give for KINDS, map by map in name order (`@` first). Counters get
/// `_total`; avg() truncates (7 / 2 = 3); hist(): 0 is `le=0`, 1 is [1, 2) `le=1`, 5 is [4, 8)
/// `le=7`, 100 is [64, 128) `le=127`, from the bucket below the lowest used (negatives, `le=-1`)
/// to the highest used, cumulative; lhist(0, 50, 10): -1 is below min (`le=-1`), 15 is [10, 20)
/// `le=19`, 75 is at or above max, only in `+Inf`.
const KINDS_EXPECTED: &str = r#"# HELP rtrace_map rtrace map @: an integer
# TYPE rtrace_map gauge
rtrace_map 42
# HELP rtrace_count_total rtrace map @count[key]: count()
# TYPE rtrace_count_total counter
rtrace_count_total{key="1"} 2
rtrace_count_total{key="2"} 1
# HELP rtrace_h rtrace map @h: hist()
# TYPE rtrace_h histogram
rtrace_h_bucket{le="-1"} 0
rtrace_h_bucket{le="0"} 1
rtrace_h_bucket{le="1"} 2
rtrace_h_bucket{le="3"} 2
rtrace_h_bucket{le="7"} 4
rtrace_h_bucket{le="15"} 4
rtrace_h_bucket{le="31"} 4
rtrace_h_bucket{le="63"} 4
rtrace_h_bucket{le="127"} 5
rtrace_h_bucket{le="+Inf"} 5
rtrace_h_sum 111.0
rtrace_h_count 5
# HELP rtrace_least rtrace map @least: min()
# TYPE rtrace_least gauge
rtrace_least 2
# HELP rtrace_lh rtrace map @lh: lhist(n, 0, 50, 10)
# TYPE rtrace_lh histogram
rtrace_lh_bucket{le="-1"} 1
rtrace_lh_bucket{le="9"} 1
rtrace_lh_bucket{le="19"} 2
rtrace_lh_bucket{le="+Inf"} 3
rtrace_lh_sum 89.0
rtrace_lh_count 3
# HELP rtrace_mean rtrace map @mean: avg()
# TYPE rtrace_mean gauge
rtrace_mean 3
# HELP rtrace_most rtrace map @most[key]: max()
# TYPE rtrace_most gauge
rtrace_most{key="a"} 9
# HELP rtrace_rec_total rtrace map @rec[name, n]: count()
# TYPE rtrace_rec_total counter
rtrace_rec_total{name="x",n="2"} 1
# HELP rtrace_ssum rtrace map @ssum: sum()
# TYPE rtrace_ssum gauge
rtrace_ssum -3
# HELP rtrace_st rtrace map @st: stats()
# TYPE rtrace_st histogram
rtrace_st_bucket{le="+Inf"} 2
rtrace_st_sum 30.0
rtrace_st_count 2
# HELP rtrace_st_avg rtrace map @st: stats()
# TYPE rtrace_st_avg gauge
rtrace_st_avg 15
# HELP rtrace_usum_total rtrace map @usum: sum()
# TYPE rtrace_usum_total counter
rtrace_usum_total 12
"#;

#[test]
fn each_kind_exposition() {
    if !root() {
        return;
    }
    let (mut rtrace, url, err) = on_free_port(KINDS, "kinds");
    // Two scrapes at once: both are served.
    let pages: Vec<String> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || curl(&url, &[]))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let page = &pages[0];
    let maps = &page[..page.find("# HELP rtrace_events_lost").expect("the built-in metrics")];
    assert_eq!(maps, KINDS_EXPECTED);
    assert_eq!(pages[1], pages[0]);
    assert!(page.contains("rtrace_probes_attached 2\n"), "{page}");
    // OpenMetrics when asked: the same samples, `# EOF` at the end.
    let om = curl(&url, &["-H", "Accept: application/openmetrics-text; version=1.0.0"]);
    assert!(om.ends_with("# EOF\n") && om.contains("# TYPE rtrace_count counter\nrtrace_count_total{key=\"1\"} 2\n"), "{om}");
    assert_eq!(
        stopped(&mut rtrace, &err),
        "Attached 2 probes\nwarning: map @text holds a string, not a number: it is not exported as a metric (--prometheus)\n"
    );
}

/// Two passes over 10 distinct keys into `@small` (4 entries, a plain value) and `@agg` (3
/// entries, an aggregation), and over 7 into `@fits` (the default 4,096). First pass: 10 - 4 =
/// 6 and 10 - 3 = 7 updates refused, none for `@fits`. Second pass: updates of keys the full
/// map holds succeed, the others are refused again: 6 + 6 = 12 and 7 + 7 = 14.
const FULL: &str = r#"
let @small = hash(4);
let @agg = percpuhash(3);
BEGIN {
    $i = 0;
    while ($i < 20) { @small[$i % 10] = $i; @agg[$i % 10] = count(); @fits[$i % 7] = count(); $i++; }
}
interval:s:1000 { exit(); }
"#;

#[test]
fn full_maps() {
    if !root() {
        return;
    }
    let (mut rtrace, url, err) = on_free_port(FULL, "full");
    let page = curl(&url, &[]);
    let expected = "# TYPE rtrace_map_updates_dropped_total counter\n\
                    rtrace_map_updates_dropped_total{map=\"@agg\"} 14\n\
                    rtrace_map_updates_dropped_total{map=\"@fits\"} 0\n\
                    rtrace_map_updates_dropped_total{map=\"@small\"} 12\n";
    assert!(page.contains(expected), "{page}");
    assert_eq!(
        stopped(&mut rtrace, &err),
        "Attached 2 probes\n\
         warning: map @agg was full (3 entries): 14 updates with a new key dropped; declare it bigger (`let @agg = percpuhash(N);`) or raise max_map_keys\n\
         warning: map @small was full (4 entries): 12 updates with a new key dropped; declare it bigger (`let @small = hash(N);`) or raise max_map_keys\n"
    );
}

#[test]
fn port_in_use() {
    if !root() {
        return;
    }
    let held = ports();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    drop(held);
    let addr = taken.local_addr().unwrap();
    let out = Command::new(RTRACE)
        .args(["--prometheus", &addr.to_string(), "-e", "BEGIN { @x = count(); }"])
        .output()
        .expect("rtrace runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: cannot listen on {addr} (--prometheus): Address already in use (os error 98)\n")
    );
    assert!(out.stdout.is_empty());
}
