//! The BPF objects a tracer holds, and whether they are still in the kernel: shared by
//! tests/cleanup.rs and tests/robustness.rs (each includes it with `#[path]`).

use std::process::{Command, Stdio};

/// The BPF objects a process holds, as `(kind, id)`: `prog`, `link`, `map`, found in
/// /proc/PID/fdinfo.
pub fn held_objects(pid: u32) -> Vec<(&'static str, u64)> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else { return found };
    for entry in dir.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path()) else { continue };
        for line in text.lines() {
            for (key, kind) in [("prog_id:", "prog"), ("link_id:", "link"), ("map_id:", "map")] {
                if let Some(id) = line.strip_prefix(key).and_then(|v| v.trim().parse().ok()) {
                    found.push((kind, id));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Whether bpftool still finds object `id` of `kind`.
pub fn exists(kind: &str, id: u64) -> bool {
    Command::new("bpftool")
        .args([kind, "show", "id", &id.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
