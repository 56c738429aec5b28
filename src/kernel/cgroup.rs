//! cgroups: a cgroup's id from its path, which `cgroupid(PATH)` gives a script to compare
//! with the `cgroup` builtin, and the paths of an id (`cgroup_path()`), found by walking each
//! hierarchy mounted (cgroup v2's, named `unified` wherever it is mounted, and v1's).

/// The id of the cgroup (v2) at `path`, as `cgroup` reads it in a program: the 8 bytes of the
/// file handle cgroupfs gives for the directory. Other file systems' handles are larger
/// (EOVERFLOW), as bpftrace reports too.
pub fn id(path: &str) -> std::io::Result<u64> {
    let cpath = std::ffi::CString::new(path).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // struct file_handle with room for 8 bytes of handle, aligned for the u64 read below.
    let mut handle = [0u64; 2];
    handle[0] = 8; // handle_bytes (the low u32), handle_type 0
    let mut mount_id: libc::c_int = 0;
    // SAFETY: `handle` is a file_handle header followed by the 8 bytes handle_bytes promises;
    // the kernel writes at most that much, and mount_id is an int we own.
    let rc = unsafe {
        libc::name_to_handle_at(libc::AT_FDCWD, cpath.as_ptr(), handle.as_mut_ptr().cast(), &mut mount_id, 0)
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(handle[1])
}

/// The mounted cgroup hierarchies, as `(name, mount point)`: v2's first, named `unified`, then
/// v1's, named by their mount point's last component, sorted (as bpftrace orders them).
pub fn hierarchies() -> Vec<(String, std::path::PathBuf)> {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let (mut v2, mut v1) = (Vec::new(), Vec::new());
    for line in mounts.lines() {
        let mut fields = line.split_whitespace();
        let (Some(kind), Some(at)) = (fields.next(), fields.next()) else { continue };
        let path = std::path::PathBuf::from(at);
        match kind {
            "cgroup2" => v2.push(("unified".to_string(), path)),
            "cgroup" => {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                v1.push((name, path));
            }
            _ => {}
        }
    }
    v1.sort();
    v2.extend(v1);
    v2
}

/// Cgroup `id`'s path in each hierarchy that has it (or only in v2's), as bpftrace prints a
/// `cgroup_path()`: `NAME:/PATH` joined by commas; empty where none has it.
pub fn paths(id: u64, v2_only: bool) -> String {
    let found = hierarchies()
        .into_iter()
        .filter(|(name, _)| !v2_only || name == "unified")
        .filter_map(|(name, root)| path_in(&root, id).map(|p| format!("{name}:{p}")));
    found.collect::<Vec<_>>().join(",")
}

/// The path, from `root`, of the directory under it whose inode number is `id`.
fn path_in(root: &std::path::Path, id: u64) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        if std::fs::metadata(&dir).is_ok_and(|m| m.ino() == id) {
            let rel = dir.strip_prefix(root).ok()?.to_string_lossy().into_owned();
            return Some(format!("/{rel}"));
        }
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        pending.extend(entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()));
    }
    None
}
