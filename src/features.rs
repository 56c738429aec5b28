//! What the running kernel supports, for `rtrace --info` and for the diagnostics that say what
//! to do instead. Each check is cheap and independent; nothing here depends on the rest of
//! rtrace.

use std::path::Path;

/// Whether kprobes can be attached: the kernel registers the `kprobe` perf PMU (or the legacy
/// tracefs interface) only when it was built with kprobes.
pub fn has_kprobes() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe").exists()
        || ["/sys/kernel/tracing/kprobe_events", "/sys/kernel/debug/tracing/kprobe_events"]
            .iter()
            .any(|p| Path::new(p).exists())
}

pub fn has_uprobes() -> bool {
    Path::new("/sys/bus/event_source/devices/uprobe").exists()
}

/// Whether one link can attach a program to many uprobes (`BPF_TRACE_UPROBE_MULTI`, Linux 6.6,
/// present whenever uprobes are).
pub fn has_uprobe_multi() -> bool {
    has_uprobes() && kernel_version() >= (6, 6)
}

/// The running kernel's major and minor version, from /proc/sys/kernel/osrelease.
pub fn kernel_version() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit()).map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Whether fentry/fexit programs load (libbpf's probe loads a trivial tracing program).
pub fn has_fentry() -> bool {
    prog_type(libbpf_rs::libbpf_sys::BPF_PROG_TYPE_TRACING)
}

pub fn has_btf() -> bool {
    Path::new("/sys/kernel/btf/vmlinux").exists()
}

/// A kernel config option from /proc/config.gz, when the kernel exposes it.
fn config(option: &str) -> Option<bool> {
    let out = std::process::Command::new("zcat").arg("/proc/config.gz").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.lines().any(|l| l == format!("{option}=y")))
}

/// Asks libbpf whether the kernel loads programs of this type (it loads a trivial one).
fn prog_type(t: libbpf_rs::libbpf_sys::bpf_prog_type) -> bool {
    // SAFETY: a plain FFI call with a null options pointer, which libbpf allows.
    unsafe { libbpf_rs::libbpf_sys::libbpf_probe_bpf_prog_type(t, std::ptr::null()) == 1 }
}

fn map_type(t: libbpf_rs::libbpf_sys::bpf_map_type) -> bool {
    // SAFETY: as above.
    unsafe { libbpf_rs::libbpf_sys::libbpf_probe_bpf_map_type(t, std::ptr::null()) == 1 }
}

/// The `--info` report: one `name: yes|no|unknown` line per feature.
pub fn report() -> String {
    use libbpf_rs::libbpf_sys as sys;
    let yn = |b: bool| if b { "yes" } else { "no" };
    let maybe = |b: Option<bool>| b.map_or("unknown", yn);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let root = unsafe { libc::geteuid() } == 0; // SAFETY: geteuid has no preconditions.
    let probe = |f: &dyn Fn() -> bool| if root { yn(f()) } else { "unknown (needs root)" };
    let lines = [
        ("kernel", release.trim().to_string()),
        ("BTF (/sys/kernel/btf/vmlinux)", yn(has_btf()).into()),
        ("tracefs", yn(Path::new("/sys/kernel/tracing/events").exists()).into()),
        ("kprobe", yn(has_kprobes()).into()),
        ("kprobe_multi (CONFIG_FPROBE)", maybe(config("CONFIG_FPROBE")).into()),
        ("uprobe", yn(has_uprobes()).into()),
        ("uprobe_multi (Linux 6.6)", yn(has_uprobe_multi()).into()),
        ("tracepoint programs", probe(&|| prog_type(sys::BPF_PROG_TYPE_TRACEPOINT)).into()),
        ("raw tracepoint programs", probe(&|| prog_type(sys::BPF_PROG_TYPE_RAW_TRACEPOINT)).into()),
        ("perf event programs", probe(&|| prog_type(sys::BPF_PROG_TYPE_PERF_EVENT)).into()),
        ("fentry/fexit (tracing programs)", probe(&|| prog_type(sys::BPF_PROG_TYPE_TRACING)).into()),
        ("ring buffer", probe(&|| map_type(sys::BPF_MAP_TYPE_RINGBUF)).into()),
        ("per-CPU hash maps", probe(&|| map_type(sys::BPF_MAP_TYPE_PERCPU_HASH)).into()),
    ];
    lines.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
}

/// The CPUs that are online, from /sys/devices/system/cpu/online (`0-3,5`).
pub fn online_cpus() -> Vec<i32> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_else(|_| "0".into());
    let mut cpus = Vec::new();
    for range in text.trim().split(',') {
        let (a, b) = range.split_once('-').unwrap_or((range, range));
        if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
            cpus.extend(a..=b);
        }
    }
    cpus
}
