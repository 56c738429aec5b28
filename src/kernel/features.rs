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

/// Whether watchpoints can be set: the kernel registers the `breakpoint` perf PMU when it has
/// hardware breakpoints (CONFIG_HAVE_HW_BREAKPOINT).
pub fn has_hw_breakpoints() -> bool {
    Path::new("/sys/bus/event_source/devices/breakpoint").exists()
}

pub fn has_uprobes() -> bool {
    Path::new("/sys/bus/event_source/devices/uprobe").exists()
}

/// Whether uprobes take a reference counter (Linux 4.20): the kernel then counts a USDT
/// probe's semaphore in every process that maps the file, those started later too.
pub fn has_uprobe_refcount() -> bool {
    Path::new("/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset").exists()
}

/// Features the user turned off with `--no-feature` (bpftrace's flag): rtrace then does
/// without them as on a kernel that lacks them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoFeature {
    pub uprobe_multi: bool,
    pub kprobe_multi: bool,
    /// Accepted for bpftrace's sake: rtrace never joins a kprobe and a kretprobe into one
    /// kprobe session, so there is nothing to turn off.
    pub kprobe_session: bool,
}

impl NoFeature {
    /// `--no-feature`'s value: names separated by commas.
    pub fn parse(text: &str) -> Result<NoFeature, String> {
        let mut off = NoFeature::default();
        for name in text.split(',') {
            match name {
                "uprobe_multi" => off.uprobe_multi = true,
                "kprobe_multi" => off.kprobe_multi = true,
                "kprobe_session" => off.kprobe_session = true,
                _ => {
                    return Err(format!(
                        "`--no-feature` takes `kprobe_multi`, `kprobe_session` and `uprobe_multi`, separated by commas, not `{name}`"
                    ))
                }
            }
        }
        Ok(off)
    }
}

static TURNED_OFF: std::sync::OnceLock<NoFeature> = std::sync::OnceLock::new();

/// Turns features off for the rest of the run (`--no-feature`), before anything asks about
/// them; a second call changes nothing.
pub fn turn_off(features: NoFeature) {
    let _ = TURNED_OFF.set(features);
}

fn turned_off() -> NoFeature {
    TURNED_OFF.get().copied().unwrap_or_default()
}

/// Whether one link can attach a program to many uprobes (`BPF_TRACE_UPROBE_MULTI`, Linux 6.6,
/// present whenever uprobes are), unless `--no-feature uprobe_multi`.
pub fn has_uprobe_multi() -> bool {
    !turned_off().uprobe_multi && has_uprobes() && kernel_version() >= (6, 6)
}

/// Whether one link can attach a program to many kernel functions (`BPF_TRACE_KPROBE_MULTI`,
/// which needs CONFIG_FPROBE: Debian's 6.12 has it, 6.1 does not). Asked of the kernel the
/// way libbpf does: a do-nothing program loaded for kprobe_multi and linked to `vfs_read` for
/// an instant. Needs root; the answer is kept for the rest of the run. False under
/// `--no-feature kprobe_multi`.
pub fn has_kprobe_multi() -> bool {
    static ANSWER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ANSWER.get_or_init(|| !turned_off().kprobe_multi && has_kprobes() && kprobe_multi_links())
}

fn kprobe_multi_links() -> bool {
    use libbpf_rs::libbpf_sys as sys;
    // `r0 = 0; exit`.
    let insns: [u64; 2] = [0x0000_0000_0000_00b7, 0x0000_0000_0000_0095];
    let mut load = sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<sys::bpf_prog_load_opts>() as _,
        expected_attach_type: sys::BPF_TRACE_KPROBE_MULTI,
        ..Default::default()
    };
    // SAFETY: valid instructions, license and options for the duration of the call.
    let prog = unsafe {
        sys::bpf_prog_load(sys::BPF_PROG_TYPE_KPROBE, std::ptr::null(), c"GPL".as_ptr(), insns.as_ptr().cast(), 2, &mut load)
    };
    if prog < 0 {
        return false;
    }
    let mut syms = [c"vfs_read".as_ptr()];
    let mut link = sys::bpf_link_create_opts { sz: std::mem::size_of::<sys::bpf_link_create_opts>() as _, ..Default::default() };
    link.__bindgen_anon_1.kprobe_multi = sys::bpf_link_create_opts__bindgen_ty_1__bindgen_ty_2 {
        cnt: 1,
        syms: syms.as_mut_ptr(),
        ..Default::default()
    };
    // SAFETY: `prog` is our descriptor; the options and the symbol outlive the call.
    let fd = unsafe { sys::bpf_link_create(prog, 0, sys::BPF_TRACE_KPROBE_MULTI, &link) };
    // SAFETY: closing descriptors this function opened.
    unsafe {
        if fd >= 0 {
            libc::close(fd);
        }
        libc::close(prog);
    }
    fd >= 0
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

/// Whether iterator programs load: `r0 = 0; exit` as a tracing program attached to
/// `bpf_iter_task` (`BPF_TRACE_ITER`). A kernel may refuse tracing programs as a whole (this
/// one's fentry/fexit refusal is EPERM) or lack iterators. Needs root: without it, no.
pub fn has_iter() -> bool {
    use libbpf_rs::libbpf_sys as sys;
    // SAFETY: a NUL-terminated name; libbpf reads vmlinux's BTF and returns an id or an error.
    let btf_id = unsafe { sys::libbpf_find_vmlinux_btf_id(c"task".as_ptr(), sys::BPF_TRACE_ITER) };
    if btf_id <= 0 {
        return false;
    }
    let insns: [u64; 2] = [0xb7, 0x95];
    let mut load = sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<sys::bpf_prog_load_opts>() as _,
        expected_attach_type: sys::BPF_TRACE_ITER,
        attach_btf_id: btf_id as u32,
        ..Default::default()
    };
    // SAFETY: valid instructions, license and options for the duration of the call.
    let fd = unsafe {
        sys::bpf_prog_load(sys::BPF_PROG_TYPE_TRACING, std::ptr::null(), c"GPL".as_ptr(), insns.as_ptr().cast(), insns.len() as u64, &mut load)
    };
    if fd < 0 {
        return false;
    }
    // SAFETY: fd is the program just loaded, owned here.
    unsafe { libc::close(fd) };
    true
}

/// Whether programs of type `prog_type` may call kfunc `btf_id` (a FUNC of vmlinux's BTF), as
/// bpftrace asks: a program that only calls it is loaded, and the kernel's refusal names the
/// kfunc as not allowed when it is not (any other refusal is about the program, not the call).
/// Needs root: without it, no.
pub fn kfunc_allowed(btf_id: u32, prog_type: libbpf_rs::libbpf_sys::bpf_prog_type) -> bool {
    use libbpf_rs::libbpf_sys as sys;
    // `call kfunc` (BPF_JMP|BPF_CALL, src_reg BPF_PSEUDO_KFUNC_CALL, imm the BTF id); `exit`.
    let insns = [0x85 | (u64::from(sys::BPF_PSEUDO_KFUNC_CALL) << 12) | (u64::from(btf_id) << 32), 0x95];
    match load_log(prog_type, &insns) {
        None => true,
        Some(log) => !(log.contains("is not allowed") || log.trim_matches('\0').is_empty()),
    }
}

/// Whether programs of type `prog_type` may call BPF helper `helper`, as bpftrace and libbpf
/// ask: a program that only calls it is loaded; the kernel names a helper it does not give
/// this type (or any program, such as `bpf_probe_write_user` under lockdown) as one it
/// "cannot use". Needs root: without it, no.
pub fn helper_usable(prog_type: libbpf_rs::libbpf_sys::bpf_prog_type, helper: u32) -> bool {
    match load_log(prog_type, &[0x85 | (u64::from(helper) << 32), 0x95]) {
        None => true,
        Some(log) => !(log.contains("cannot use helper") || log.contains("unknown func") || log.trim_matches('\0').is_empty()),
    }
}

/// Loads `insns` as a program of `prog_type`: `None` if it loaded, else the verifier's log.
fn load_log(prog_type: libbpf_rs::libbpf_sys::bpf_prog_type, insns: &[u64]) -> Option<String> {
    use libbpf_rs::libbpf_sys as sys;
    let mut log = vec![0u8; 4096];
    let mut load = sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<sys::bpf_prog_load_opts>() as _,
        log_buf: log.as_mut_ptr().cast(),
        log_size: log.len() as u32,
        log_level: 1,
        ..Default::default()
    };
    // SAFETY: valid instructions, license, options and log buffer for the duration of the call.
    let fd = unsafe { sys::bpf_prog_load(prog_type, std::ptr::null(), c"GPL".as_ptr(), insns.as_ptr().cast(), insns.len() as u64, &mut load) };
    if fd >= 0 {
        // SAFETY: fd is the program just loaded, owned here.
        unsafe { libc::close(fd) };
        return None;
    }
    Some(String::from_utf8_lossy(&log).into_owned())
}

pub fn has_btf() -> bool {
    Path::new("/sys/kernel/btf/vmlinux").exists()
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
    // Mounted but unreadable (a user who is not root) is not the same as missing.
    let tracefs_state = || match (crate::kernel::tracefs::find(), crate::kernel::tracefs::mounted_at()) {
        (Some(_), _) => "yes".to_string(),
        (None, Some(at)) => format!("mounted at {at}, not readable by this user"),
        (None, None) => "no".to_string(),
    };
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let root = unsafe { libc::geteuid() } == 0; // SAFETY: geteuid has no preconditions.
    let probe = |f: &dyn Fn() -> bool| if root { yn(f()) } else { "unknown (needs root)" };
    let lines = [
        ("kernel", release.trim().to_string()),
        ("BTF (/sys/kernel/btf/vmlinux)", yn(has_btf()).into()),
        ("tracefs", tracefs_state()),
        ("kprobe", yn(has_kprobes()).into()),
        ("kprobe_multi (CONFIG_FPROBE)", probe(&has_kprobe_multi).into()),
        ("uprobe", yn(has_uprobes()).into()),
        ("uprobe_multi (Linux 6.6)", yn(has_uprobe_multi()).into()),
        ("uprobe refcount (USDT semaphores)", yn(has_uprobe_refcount()).into()),
        ("hardware breakpoints (watchpoint)", yn(has_hw_breakpoints()).into()),
        ("tracepoint programs", probe(&|| prog_type(sys::BPF_PROG_TYPE_TRACEPOINT)).into()),
        ("raw tracepoint programs", probe(&|| prog_type(sys::BPF_PROG_TYPE_RAW_TRACEPOINT)).into()),
        ("perf event programs", probe(&|| prog_type(sys::BPF_PROG_TYPE_PERF_EVENT)).into()),
        ("fentry/fexit (tracing programs)", probe(&|| prog_type(sys::BPF_PROG_TYPE_TRACING)).into()),
        ("iter (iterator programs)", probe(&has_iter).into()),
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

#[cfg(test)]
mod tests {
    use libbpf_rs::libbpf_sys as sys;

    /// The helper probe tells what a program may call from what it may not (as root; a user's
    /// loads are refused, and the answer is no).
    #[test]
    fn helper_probe() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        assert!(super::helper_usable(sys::BPF_PROG_TYPE_TRACEPOINT, sys::BPF_FUNC_get_current_pid_tgid));
        assert!(!super::helper_usable(sys::BPF_PROG_TYPE_TRACEPOINT, sys::BPF_FUNC_skb_store_bytes));
    }
}
