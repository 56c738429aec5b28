//! `iter:NAME[:PIN]` probes (bpftrace's iterator probes): once the iterator program is
//! attached, its link is either read to the end — each read runs the program over the next
//! kernel objects, and what it wrote with `bpf_seq_printf` is printed as it is — or pinned
//! under /sys/fs/bpf, where any later `cat` of the file runs it. Then the run ends, as
//! bpftrace's does: END runs and the maps are printed.

use super::super::{signals, Result, RuntimeError};
use super::Session;
use crate::plan::Attach;
use std::io::Read;

/// Where bpftrace pins an iterator whose pin path is relative.
const BPF_FS: &str = "/sys/fs/bpf";

impl Session<'_> {
    /// The `iter:` probe's name and pin, if the program has one (sema allows only one, with
    /// BEGIN and END beside it).
    pub(super) fn iter_probe(&self) -> Option<(&str, Option<&str>)> {
        self.plan.probes.iter().find_map(|p| match &p.attach {
            Attach::Iter { name, pin } => Some((name.as_str(), pin.as_deref())),
            _ => None,
        })
    }

    /// Reads the iterator to its end, printing what it wrote, or pins it.
    pub(super) fn run_iter(&mut self, name: &str, pin: Option<&str>) -> Result<()> {
        // The iterator's program is the only attached one: BEGIN and END are not attached.
        let Some(link) = self.links.probes.first() else { return Ok(()) };
        if let Some(pin) = pin {
            let path = pinned_path(pin);
            pin_link(link, &path).map_err(|e| RuntimeError::new(pin_error(name, &path, &e)))?;
            let line = format!("Program pinned to {path}\n");
            self.emit(|out| out.sink().write(&line));
            return Ok(());
        }
        let mut iter = libbpf_rs::Iter::new(link).map_err(|e| RuntimeError::new(format!("cannot open iterator `{name}`: {e}")))?;
        let mut buf = vec![0u8; 64 << 10];
        while !signals::stop_requested() {
            let n = match iter.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(RuntimeError::new(format!("cannot read iterator `{name}`: {e}"))),
            };
            self.emit(|out| out.sink().write_bytes(&buf[..n]));
        }
        // Events the program sent another way (`print()`, `exit()`, …) come after its text.
        self.drain();
        Ok(())
    }
}

/// Pins `link` at `path` (`BPF_OBJ_PIN`, as bpftrace: unlike libbpf's `bpf_link__pin`, no
/// missing folder is made).
fn pin_link(link: &libbpf_rs::Link, path: &str) -> std::io::Result<()> {
    use std::os::fd::{AsFd, AsRawFd};
    let c = std::ffi::CString::new(path).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: the link's open descriptor and a NUL-terminated path, for the duration of the call.
    match unsafe { libbpf_rs::libbpf_sys::bpf_obj_pin(link.as_fd().as_raw_fd(), c.as_ptr()) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Why pinning at `path` failed: most often, its folder is not a BPF file system.
fn pin_error(name: &str, path: &str, e: &std::io::Error) -> String {
    let dir = std::path::Path::new(path).parent().unwrap_or(std::path::Path::new("/"));
    match on_bpf_fs(dir) {
        Some(false) => format!(
            "cannot pin iterator `{name}` at {path}: {} is not a BPF file system (mount one with `mount -t bpf bpf {}`)",
            dir.display(),
            dir.display()
        ),
        _ => format!("cannot pin iterator `{name}` at {path}: {e}"),
    }
}

/// Whether `dir` is on a BPF file system (`None`: it cannot be looked at, e.g. missing).
fn on_bpf_fs(dir: &std::path::Path) -> Option<bool> {
    const BPF_FS_MAGIC: i64 = 0xcafe4a11;
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: a NUL-terminated path and a statfs buffer the call fills.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above; both live for the duration of the call.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_type as i64 == BPF_FS_MAGIC)
}

/// A pin path as bpftrace takes it: absolute, or relative to /sys/fs/bpf.
fn pinned_path(pin: &str) -> String {
    match pin.starts_with('/') {
        true => pin.to_string(),
        false => format!("{BPF_FS}/{pin}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pin_paths() {
        assert_eq!(super::pinned_path("list"), "/sys/fs/bpf/list");
        assert_eq!(super::pinned_path("/sys/fs/bpf/files"), "/sys/fs/bpf/files");
    }
}
