//! cgroups (v2): a cgroup's id from its path, which `cgroupid(PATH)` gives a script to compare
//! with the `cgroup` builtin.

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
