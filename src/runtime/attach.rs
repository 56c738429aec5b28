//! Attaching every probe: tracepoints, raw tracepoints, kprobes, uprobes, USDT, fentry, perf
//! events (`profile`, `interval`, `software`, `hardware`) and watchpoints, one link each (or one
//! multi-attach link for a shared program's points). Watchpoints' links are kept by address,
//! for `unwatch()` to release.

use super::{Failure, Result, RuntimeError};
use crate::plan::{self, Attach, Plan};
use crate::kernel::zip;
use libbpf_rs::libbpf_sys::{self as sys, perf_event_attr};
use libbpf_rs::{Link, Object};
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};

/// Where watchpoints watch their addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// In the `-p` or `-c` process: a breakpoint on each of its threads, inherited by those
    /// it starts later.
    Process(u32),
    /// Without `-p`/`-c`: a breakpoint on every online CPU, for whatever runs there (a kernel
    /// address, or a user address in any process), as bpftrace does.
    Cpus,
    /// `--dry-run -c`, which starts no command: watchpoints are left unattached.
    Nothing,
}

/// The links of the attached probes, released when dropped.
#[derive(Default)]
pub struct Links {
    /// Every link but watchpoints'.
    pub probes: Vec<Link>,
    /// Whether each of `probes` links a perf event (`child::is_perf_link`), asked by
    /// `classify` once they are attached: asking is a bpf() call, which a script tracing bpf()
    /// (capable.bt) would print as rtrace's own if it came when tracing stops.
    perf: Vec<bool>,
    /// Watchpoints' links, each with the address it watches (perf events' links).
    pub watchpoints: Vec<(u64, Link)>,
}

impl Links {
    /// Asks the kernel which of the probes' links made since the last call link perf events.
    pub fn classify(&mut self) {
        let known = self.perf.len();
        self.perf.extend(self.probes[known..].iter().map(super::child::is_perf_link));
    }

    /// Takes every link out, leaving none, each with whether it links a perf event.
    pub fn take(&mut self) -> Vec<(Link, bool)> {
        let perf = std::mem::take(&mut self.perf);
        let mut all: Vec<(Link, bool)> = std::mem::take(&mut self.probes)
            .into_iter()
            .enumerate()
            .map(|(i, link)| {
                let is_perf = perf.get(i).copied().unwrap_or_else(|| super::child::is_perf_link(&link));
                (link, is_perf)
            })
            .collect();
        all.extend(std::mem::take(&mut self.watchpoints).into_iter().map(|(_, link)| (link, true)));
        all
    }

    /// Takes out the links of the watchpoints on `addr` (`unwatch()`; none if nothing watches
    /// it, which is not an error, as in bpftrace).
    pub fn unwatch(&mut self, addr: u64) -> Vec<Link> {
        let (gone, kept) = std::mem::take(&mut self.watchpoints).into_iter().partition(|(a, _)| *a == addr);
        self.watchpoints = kept;
        gone.into_iter().map(|(_, link): (u64, Link)| link).collect()
    }
}

/// Attaches every probe of the plan, pushing each link to `links` as it is made (so that the
/// caller holds, and detaches, those made before a failure). `watched`: where watchpoints
/// watch.
pub fn attach_all(obj: &Object, plan: &Plan, watched: Watched, links: &mut Links) -> Result<()> {
    for (index, def) in plan.probes.iter().enumerate() {
        let prog = program(obj, &def.prog_name)?;
        // (attaching: not under --no-attach)
        if multi_link(def, false) {
            attach_multi(&prog, plan, def, &mut links.probes).map_err(|e| {
                RuntimeError::at_probe(format!("cannot attach probe `{}`: {e}", def.display), index, None, Failure::Attach)
            })?;
            continue;
        }
        for (attach, cookie) in def.points() {
            attach_one(&prog, plan, attach, cookie, watched, links).map_err(|e| {
                // A shared program's points: name the one that failed.
                let point = plan.probe_names.get(cookie as usize).filter(|_| !def.also.is_empty());
                let message = format!("cannot attach probe `{}`: {e}", point.unwrap_or(&def.display));
                RuntimeError::at_probe(message, index, point.cloned(), Failure::Attach)
            })?;
        }
    }
    Ok(())
}

/// Whether `def`'s points get one multi-attach link (kprobe_multi; uprobe_multi, one per
/// binary) instead of one link each: where sema compiled the program for one
/// (`ProbeDef::multi`, a `.multi` section) and this kernel has them. Under `--no-attach`
/// the kernel is not asked about kprobe_multi (asking links a probe for an instant).
pub(super) fn multi_link(def: &plan::ProbeDef, no_attach: bool) -> bool {
    def.multi
        && match def.attach {
            Attach::Uprobe { .. } | Attach::Usdt { .. } => crate::kernel::features::has_uprobe_multi(),
            Attach::Kprobe { .. } => !no_attach && crate::kernel::features::has_kprobe_multi(),
            _ => false,
        }
}

/// The program `name` of the object.
pub fn program<'o>(obj: &'o Object, name: &str) -> Result<libbpf_rs::ProgramMut<'o>> {
    obj.progs_mut()
        .find(|p| p.name() == name)
        .ok_or_else(|| RuntimeError::new(format!("internal error: program {name} missing from the object")))
}

/// Attaches a program at all its uprobe or USDT points with one uprobe_multi link per binary
/// (one kernel call, and one RCU grace period when detached, for any number of functions).
fn attach_multi(prog: &libbpf_rs::ProgramMut, plan: &Plan, def: &plan::ProbeDef, links: &mut Vec<Link>) -> std::result::Result<(), String> {
    if let Attach::Kprobe { ret, .. } = def.attach {
        let mut opts = libbpf_rs::KprobeMultiOpts { retprobe: ret, ..Default::default() };
        for (attach, cookie) in def.points() {
            let Attach::Kprobe { func, .. } = attach else { return Err("not a kprobe".into()) };
            opts.symbols.push(func.clone());
            opts.cookies.push(cookie);
        }
        links.push(prog.attach_kprobe_multi_with_opts(opts).map_err(|e| e.to_string())?);
        return Ok(());
    }
    // Per binary: file offsets, semaphore offsets and cookies.
    let mut by_path: Vec<(&str, bool, libbpf_rs::UprobeMultiOpts)> = Vec::new();
    for (attach, cookie) in def.points() {
        let (path, offset, semaphore, ret) = match attach {
            // A library inside a ZIP archive (`ARCHIVE!/ENTRY`): its offsets are the archive's.
            Attach::Uprobe { path, offset, ret, .. } => (zip::attach_file(path), *offset, 0, *ret),
            Attach::Usdt { path, offset, semaphore, .. } => (path.as_str(), *offset, *semaphore, false),
            _ => return Err("not a uprobe".into()),
        };
        let at = match by_path.iter().position(|(p, r, _)| *p == path && *r == ret) {
            Some(i) => i,
            None => {
                let opts = libbpf_rs::UprobeMultiOpts { retprobe: ret, ..Default::default() };
                by_path.push((path, ret, opts));
                by_path.len() - 1
            }
        };
        let opts = &mut by_path[at].2;
        opts.offsets.push(offset as usize);
        opts.ref_ctr_offsets.push(semaphore as usize);
        opts.cookies.push(cookie);
    }
    let pid = plan.filter_pid.map_or(-1, |p| p as i32);
    for (path, _, mut opts) in by_path {
        if opts.ref_ctr_offsets.iter().all(|&o| o == 0) {
            opts.ref_ctr_offsets.clear();
        }
        links.push(prog.attach_uprobe_multi_with_opts(pid, path, "", opts).map_err(|e| e.to_string())?);
    }
    Ok(())
}

/// Attaches `prog` at one attach point, with `cookie` for `probe` to read.
fn attach_one(
    prog: &libbpf_rs::ProgramMut,
    plan: &Plan,
    attach: &Attach,
    cookie: u64,
    watched: Watched,
    all: &mut Links,
) -> std::result::Result<(), String> {
    let err = |e: libbpf_rs::Error| e.to_string();
    if let Attach::Watchpoint { addr, len, bp_type } = attach {
        return attach_watchpoint(prog, (*addr, *len, *bp_type), watched, &mut all.watchpoints);
    }
    let links = &mut all.probes;
    match attach {
        // Run by the runtime itself, through BPF_PROG_TEST_RUN.
        Attach::Begin | Attach::End | Attach::Test { .. } | Attach::Bench { .. } | Attach::Signal { .. } => {}
        Attach::Tracepoint { id, .. } if *id != 0 => {
            // As libbpf attaches a tracepoint, with the id sema read already (libbpf would
            // read it from tracefs again: five system calls per tracepoint).
            let fd = tracepoint_event(*id).map_err(|e| e.to_string())?;
            let opts = libbpf_rs::PerfEventOpts { cookie, ..Default::default() };
            links.push(prog.attach_perf_event_with_opts(fd.into_raw_fd(), opts).map_err(err)?);
        }
        Attach::Tracepoint { category, event, .. } => {
            let opts = libbpf_rs::TracepointOpts { cookie, ..Default::default() };
            let category = libbpf_rs::TracepointCategory::Custom(category.clone());
            links.push(prog.attach_tracepoint_with_opts(category, event, opts).map_err(err)?);
        }
        Attach::RawTracepoint { name } => {
            let opts = libbpf_rs::RawTracepointOpts { cookie, ..Default::default() };
            links.push(prog.attach_raw_tracepoint_with_opts(name, opts).map_err(err)?);
        }
        Attach::Kprobe { func, offset: 0, ret } => {
            let opts = libbpf_rs::KprobeOpts { cookie, ..Default::default() };
            links.push(prog.attach_kprobe_with_opts(*ret, func, opts).map_err(err)?);
        }
        // libbpf attaches kprobes at an offset, and fentry, by the program's section
        // (`kprobe/FUNC+OFFSET`, `fentry/FUNC`); such programs serve one attach point.
        Attach::Kprobe { func, offset, .. } => links.push(prog.attach().map_err(|e| {
            // The kernel checks the offset against its instruction decoder: EILSEQ.
            if io_errno(&e) == Some(libc::EILSEQ) {
                format!("offset {offset} is not at the start of an instruction of `{func}`; try another offset")
            } else {
                e.to_string()
            }
        })?),
        Attach::Fentry { .. } => links.push(prog.attach().map_err(err)?),
        // `-p PID`: a task iterator over that process only (as bpftrace: Linux 6.1's
        // `bpf_iter_link_info.task`). The session reads or pins the link (`session/iter.rs`).
        Attach::Iter { name, .. } => match plan.filter_pid {
            Some(pid) if name.starts_with("task") => links.push(attach_task_iter(prog, pid)?),
            _ => links.push(prog.attach().map_err(err)?),
        },
        Attach::Uprobe { path, offset, ret, .. } => {
            let pid = plan.filter_pid.map_or(-1, |p| p as i32);
            let opts = libbpf_rs::UprobeOpts { cookie, retprobe: *ret, ..Default::default() };
            let file = zip::attach_file(path);
            links.push(prog.attach_uprobe_with_opts(pid, file, *offset as usize, opts).map_err(err)?);
        }
        Attach::Usdt { path, offset, semaphore, .. } => {
            let pid = plan.filter_pid.map_or(-1, |p| p as i32);
            let opts = libbpf_rs::UprobeOpts { cookie, ref_ctr_offset: *semaphore as usize, ..Default::default() };
            links.push(prog.attach_uprobe_with_opts(pid, path, *offset as usize, opts).map_err(err)?);
        }
        Attach::Interval { period_ns } => {
            let fd = perf_event(plan::PerfEvent::CPU_CLOCK, *period_ns, false, 0).map_err(|e| e.to_string())?;
            // libbpf's link takes the descriptor and closes it on detach.
            links.push(prog.attach_perf_event(fd.into_raw_fd()).map_err(err)?);
        }
        Attach::Perf { event, period, frequency } => {
            for cpu in crate::kernel::features::online_cpus() {
                let fd = perf_event(*event, *period, *frequency, cpu).map_err(|e| {
                    if e.raw_os_error() == Some(libc::ENOENT) && event.type_ == plan::PerfEvent::HARDWARE {
                        "this machine has no hardware performance counters (no PMU); use a `software:` or `profile:` probe"
                            .to_string()
                    } else {
                        e.to_string()
                    }
                })?;
                links.push(prog.attach_perf_event(fd.into_raw_fd()).map_err(err)?);
            }
        }
        // Attached above, by attach_watchpoint.
        Attach::Watchpoint { .. } => {}
    }
    Ok(())
}

/// Attaches `prog` to a hardware breakpoint (`addr`, `len`, `bp_type`) wherever `watched`
/// says, pushing each link with its address.
fn attach_watchpoint(
    prog: &libbpf_rs::ProgramMut,
    (addr, len, bp_type): (u64, u64, u32),
    watched: Watched,
    links: &mut Vec<(u64, Link)>,
) -> std::result::Result<(), String> {
    // (thread, CPU) pairs, -1 for any.
    let targets: Vec<(i32, i32)> = match watched {
        Watched::Nothing => return Ok(()),
        // One breakpoint per thread the process has now, each inherited by the threads (and
        // processes) that thread starts later.
        Watched::Process(pid) => {
            let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
                .map_err(|e| format!("cannot list the threads of process {pid}: {e}"))?;
            let mut tids: Vec<i32> = tasks.filter_map(|t| t.ok()?.file_name().to_str()?.parse().ok()).collect();
            tids.sort_unstable();
            tids.into_iter().map(|tid| (tid, -1)).collect()
        }
        Watched::Cpus => crate::kernel::features::online_cpus().into_iter().map(|cpu| (-1, cpu)).collect(),
    };
    for (tid, cpu) in targets {
        match breakpoint(addr, len, bp_type, tid, cpu) {
            Ok(fd) => links.push((addr, prog.attach_perf_event(fd.into_raw_fd()).map_err(|e| e.to_string())?)),
            // A thread that has exited since it was listed.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            Err(e) => return Err(breakpoint_error(&e, addr, watched)),
        }
    }
    Ok(())
}

/// A task iterator (`task`, `task_file`, `task_vma`) over process `pid`'s threads only.
fn attach_task_iter(prog: &libbpf_rs::ProgramMut, pid: u32) -> std::result::Result<Link, String> {
    use libbpf_rs::libbpf_sys as sys;
    use libbpf_rs::AsRawLibbpf;
    let mut info = sys::bpf_iter_link_info::default();
    info.task.pid = pid;
    let opts = sys::bpf_iter_attach_opts {
        sz: std::mem::size_of::<sys::bpf_iter_attach_opts>() as _,
        link_info: &mut info,
        link_info_len: std::mem::size_of::<sys::bpf_iter_link_info>() as u32,
        ..Default::default()
    };
    // SAFETY: the loaded program's libbpf object, and options that live through the call.
    let link = unsafe { sys::bpf_program__attach_iter(prog.as_libbpf_object().as_ptr(), &opts) };
    match std::ptr::NonNull::new(link) {
        // SAFETY: a link libbpf just made (libbpf 1.x returns NULL, with errno, on failure).
        Some(link) => Ok(unsafe { Link::from_ptr(link) }),
        None => Err(format!("cannot attach a task iterator to process {pid}: {}", std::io::Error::last_os_error())),
    }
}

/// What a failed `perf_event_open` of a hardware breakpoint means.
fn breakpoint_error(e: &std::io::Error, addr: u64, watched: Watched) -> String {
    let cpus = watched == Watched::Cpus;
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::EOPNOTSUPP) => {
            "this kernel has no hardware breakpoints (no `breakpoint` perf PMU: built without CONFIG_HAVE_HW_BREAKPOINT)".into()
        }
        Some(libc::ENOSPC) if cpus => {
            "no hardware breakpoint is free: x86 has 4 debug registers per CPU, shared with debuggers and other tracers".into()
        }
        Some(libc::ENOSPC) => "no hardware breakpoint is free: x86 has 4 debug registers per thread, shared with debuggers".into(),
        // The kernel refuses the CPU entry area, and execution breakpoints in kernel code
        // where kprobes may not go (everywhere, without kprobes).
        Some(libc::EINVAL) if cpus => format!(
            "the kernel refused a breakpoint at 0x{addr:x} (not an address it lets breakpoints watch; an execution breakpoint in kernel code needs kprobes)"
        ),
        Some(libc::EINVAL) => format!("the kernel refused a breakpoint at 0x{addr:x} (not an address this process can watch?)"),
        _ => e.to_string(),
    }
}

/// The errno behind a libbpf error, if it has one: libbpf-rs keeps the `io::Error` in a
/// private type, so it is read from the error chain's text (`… (os error 84)`).
fn io_errno(e: &libbpf_rs::Error) -> Option<i32> {
    let text = format!("{e:#}");
    let at = text.rfind("(os error ")? + "(os error ".len();
    text[at..].split(')').next()?.parse().ok()
}

/// The perf event of tracepoint `id`, which runs an attached program at every hit on any CPU.
fn tracepoint_event(id: u64) -> std::io::Result<OwnedFd> {
    let attr = perf_event_attr { type_: sys::PERF_TYPE_TRACEPOINT, config: id, ..Default::default() };
    perf_event_open(attr, -1, 0)
}

/// A perf event on `cpu` that runs the attached program every `period` events (or
/// `period` times a second, with `frequency`).
fn perf_event(event: plan::PerfEvent, period: u64, frequency: bool, cpu: i32) -> std::io::Result<OwnedFd> {
    let mut attr = perf_event_attr { type_: event.type_, config: event.config, ..Default::default() };
    attr.__bindgen_anon_1.sample_period = period;
    attr.set_freq(frequency.into());
    perf_event_open(attr, -1, cpu)
}

/// A hardware breakpoint on `len` bytes at `addr` (`bp_type`: read, write, execute bits),
/// running the attached program at every access: in thread `tid` (on any CPU), inherited by
/// the threads and processes it starts later, or with `tid` -1, on `cpu` for every task.
fn breakpoint(addr: u64, len: u64, bp_type: u32, tid: i32, cpu: i32) -> std::io::Result<OwnedFd> {
    let mut attr = perf_event_attr { type_: sys::PERF_TYPE_BREAKPOINT, bp_type, ..Default::default() };
    attr.__bindgen_anon_1.sample_period = 1;
    attr.__bindgen_anon_3.bp_addr = addr;
    attr.__bindgen_anon_4.bp_len = len;
    attr.set_inherit((tid != -1).into());
    perf_event_open(attr, tid, cpu)
}

/// Opens the perf event `attr` describes, for thread `pid` (-1: every process) on `cpu` (-1:
/// any CPU).
fn perf_event_open(mut attr: perf_event_attr, pid: i32, cpu: i32) -> std::io::Result<OwnedFd> {
    attr.size = std::mem::size_of::<perf_event_attr>() as u32;
    // SAFETY: perf_event_open reads `attr` (valid, sized by its `size` field) and returns a new
    // descriptor that we take ownership of.
    let fd = unsafe {
        libc::syscall(libc::SYS_perf_event_open, &attr as *const perf_event_attr, pid, cpu, -1i32, sys::PERF_FLAG_FD_CLOEXEC as libc::c_ulong)
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kernel without hardware breakpoints (no `breakpoint` PMU: perf_event_open says
    /// ENOENT) is one line naming the cause; this host has them, so the mapping is tested here.
    #[test]
    fn breakpoint_errors() {
        let e = |errno| breakpoint_error(&std::io::Error::from_raw_os_error(errno), 0x1000, Watched::Process(1));
        assert_eq!(
            e(libc::ENOENT),
            "this kernel has no hardware breakpoints (no `breakpoint` perf PMU: built without CONFIG_HAVE_HW_BREAKPOINT)"
        );
        assert_eq!(e(libc::ENOSPC), "no hardware breakpoint is free: x86 has 4 debug registers per thread, shared with debuggers");
        assert_eq!(e(libc::EINVAL), "the kernel refused a breakpoint at 0x1000 (not an address this process can watch?)");
        let cpus = |errno| breakpoint_error(&std::io::Error::from_raw_os_error(errno), 0x1000, Watched::Cpus);
        assert_eq!(
            cpus(libc::ENOSPC),
            "no hardware breakpoint is free: x86 has 4 debug registers per CPU, shared with debuggers and other tracers"
        );
    }
}
