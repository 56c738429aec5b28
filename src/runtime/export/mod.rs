//! `--prometheus ADDR`: the script's maps served as Prometheus metrics at `GET /metrics`.
//! The listening socket is bound before anything loads (a port in use is a one-line error);
//! once the probes are attached, a few HTTP threads (tiny_http) answer scrapes, each with its
//! own handles on the maps and its own `Decoder`, so a scrape reads the kernel's maps at its
//! own pace and never holds up the event loop on the main thread. What a map becomes is in
//! `metrics`; what one scrape reads, in `scrape`. The format is written by
//! `prometheus-client`: the Prometheus text format, or OpenMetrics when the scraper asks.

mod metrics;
mod scrape;

use super::{Result, RuntimeError};
use crate::plan::Plan;
use libbpf_rs::Object;
use scrape::{Handles, Scraper, Shared};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Scrapes served at the same time: one slow scrape (a huge map) leaves another thread free.
const WORKERS: usize = 2;

/// What `--prometheus` and its companion flags ask for.
#[derive(Debug, Clone)]
pub struct Config {
    /// `HOST:PORT` to listen on.
    pub addr: String,
    /// Put before every metric's name (`rtrace_`).
    pub prefix: String,
    /// Series exported per map at most; the rest are counted as dropped.
    pub max_series: usize,
}

/// The bound socket, before the exporter serves on it.
pub struct Listener {
    server: Arc<tiny_http::Server>,
    config: Config,
}

/// Binds `config.addr`; the HTTP threads start later, in `Exporter::start`.
pub fn listen(config: &Config) -> Result<Listener> {
    let server = tiny_http::Server::http(config.addr.as_str())
        .map_err(|e| RuntimeError::new(format!("cannot listen on {} (--prometheus): {e}", config.addr)))?;
    Ok(Listener { server: Arc::new(server), config: config.clone() })
}

/// The serving exporter: its threads stop when it is dropped.
pub struct Exporter {
    server: Arc<tiny_http::Server>,
    threads: Vec<JoinHandle<()>>,
}

impl Exporter {
    /// Starts serving the maps of the loaded `object`, whose probes are attached. Maps that
    /// cannot be metrics are named in a warning on stderr (when `warn`).
    pub fn start(listener: Listener, plan: &Plan, object: &Object, warn: bool) -> Exporter {
        let probes = plan.probes.iter().map(|p| 1 + p.also.len()).sum();
        for warning in metrics::warnings(plan).into_iter().filter(|_| warn) {
            eprintln!("warning: {warning}");
        }
        let plan = Arc::new(plan.clone());
        let shared = Arc::new(Shared::new(&plan, listener.config, probes));
        let mut threads = Vec::new();
        for i in 0..WORKERS {
            let handles = Handles::open(object, &plan);
            let (server, plan, shared) = (listener.server.clone(), plan.clone(), shared.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("rtrace-http-{i}"))
                .spawn(move || serve(&server, &plan, &shared, handles));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) if warn => eprintln!("warning: cannot start an exporter thread: {e}"),
                Err(_) => {}
            }
        }
        Exporter { server: listener.server, threads }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        for _ in &self.threads {
            self.server.unblock();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// One HTTP thread: answers requests until the server is unblocked.
fn serve(server: &tiny_http::Server, plan: &Plan, shared: &Shared, handles: Handles) {
    let mut scraper = Scraper::new(plan, shared, handles);
    while let Ok(request) = server.recv() {
        let response = respond(&request, &mut scraper);
        // A scraper that went away is not our concern.
        let _ = request.respond(response);
    }
}

/// The answer to one request: the metrics at `/metrics`, a pointer to them at `/`.
fn respond(request: &tiny_http::Request, scraper: &mut Scraper) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    use tiny_http::{Method, Response};
    let path = request.url().split('?').next().unwrap_or("");
    if !matches!(request.method(), Method::Get | Method::Head) {
        return Response::from_string("only GET\n").with_status_code(405);
    }
    match path {
        "/metrics" => {
            let open_metrics = request
                .headers()
                .iter()
                .any(|h| h.field.equiv("Accept") && h.value.as_str().contains("application/openmetrics-text"));
            match scraper.scrape(open_metrics) {
                Ok((body, content_type)) => Response::from_string(body).with_header(header("Content-Type", content_type)),
                Err(e) => Response::from_string(format!("cannot encode the metrics: {e}\n")).with_status_code(500),
            }
        }
        "/" => Response::from_string("rtrace exporter: metrics at /metrics\n"),
        _ => Response::from_string("not found: metrics are at /metrics\n").with_status_code(404),
    }
}

fn header(field: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(field.as_bytes(), value.as_bytes()).expect("a valid header")
}
