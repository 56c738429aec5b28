//! Processes rtrace starts, and those it watches. `-c CMD`: the command runs as
//! `sh -c 'exec CMD'`, forked before the programs load (so `cpid` is known) but held at a pipe
//! until every probe is attached; pidfds, which tell the event loop when a watched process
//! (the `-c` child, or `-p PID`) has exited; `system()`; `cat()`'s read, which a signal
//! interrupts; and the child that detaches the probes after rtrace has gone
//! (`detach_in_background`).
//!
//! std's `Command::spawn` waits for the child to exec, which a held child never does before
//! `release`, so this forks by hand.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub struct HeldChild {
    pid: libc::pid_t,
    /// Writing to (or closing) this releases the child.
    release: Option<OwnedFd>,
    /// `dw_ustack`: the child is traced (`PTRACE_TRACEME`) and stopped at its command's entry
    /// point (`run_to_entry`), until `release` detaches it.
    traced: bool,
}

/// Checks that `cmd`'s program exists and is executable, as bpftrace does before it attaches
/// anything (the command runs through `sh -c 'exec CMD'`, so only its first word is checked,
/// and only when it is a plain word: a shell builtin or an assignment passes).
pub fn check_command(cmd: &str) -> Result<(), String> {
    let Some(program) = cmd.split_whitespace().next() else {
        return Err("the command is empty".into());
    };
    if program.contains(['=', '$', '`', '(', '\'', '"']) {
        return Ok(());
    }
    let executable = |path: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return match std::fs::metadata(program) {
            Err(_) => Err(format!("`{program}` does not exist")),
            Ok(_) if !executable(program.as_ref()) => Err(format!("`{program}` is not an executable file")),
            Ok(_) => Ok(()),
        };
    }
    const BUILTINS: &[&str] = &["exec", "exit", "true", "false", ":", ".", "eval", "cd", "echo", "test", "["];
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    if BUILTINS.contains(&program) || std::env::split_paths(&path).any(|dir| executable(&dir.join(program))) {
        Ok(())
    } else {
        Err(format!("`{program}` is not found in PATH"))
    }
}

impl HeldChild {
    /// `trace`: the child asks to be traced before its exec, for `run_to_entry`.
    pub fn spawn(cmd: &str, trace: bool) -> std::io::Result<HeldChild> {
        let invalid = |_| std::io::Error::from(std::io::ErrorKind::InvalidInput);
        let (sh, dash_c, cmd) = (
            CString::new("/bin/sh").map_err(invalid)?,
            CString::new("-c").map_err(invalid)?,
            // `exec` makes the command itself the child, so `cpid` is its pid (as in bpftrace,
            // which runs the command without a shell), while shell syntax still works.
            CString::new(format!("exec {cmd}")).map_err(invalid)?,
        );
        let argv = [sh.as_ptr(), dash_c.as_ptr(), cmd.as_ptr(), std::ptr::null()];
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two new descriptors into `fds`, which we then own.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fork has no preconditions; rtrace has no other threads at this point.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: in the child, only async-signal-safe calls on values prepared before the
            // fork: wait for the release byte, unblock the signals rtrace blocks for its event
            // loop, and exec (or exit if rtrace ended without releasing us).
            unsafe {
                libc::close(fds[1]);
                let mut byte = 0u8;
                let mut n = libc::read(fds[0], (&mut byte as *mut u8).cast(), 1);
                while n < 0 {
                    n = libc::read(fds[0], (&mut byte as *mut u8).cast(), 1);
                }
                if n == 0 {
                    libc::_exit(127);
                }
                unblock_signals();
                if trace {
                    libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
                }
                libc::execv(argv[0], argv.as_ptr());
                libc::_exit(127);
            }
        }
        // SAFETY: the descriptors were created above and are owned by nothing else here.
        let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(read_end);
        Ok(HeldChild { pid, release: Some(write_end), traced: false })
    }

    /// Lets a child spawned with `trace` run to its command's entry point, where it stays
    /// stopped until `release`: its program, dynamic loader and libraries are mapped then
    /// (`dw_ustack` reads their unwind tables), as bpftrace runs its child to its entry point.
    /// The shell's exec is the first stop, `exec CMD`'s the second; from there a breakpoint
    /// at the program's entry (`entry_point`) stops it again. If the breakpoint cannot be set,
    /// it stays at the exec (the libraries are not unwound). False when it exited first.
    ///
    /// Interruptible: until the runtime arms its signals a signal ends rtrace at once, and
    /// `PTRACE_O_EXITKILL` then ends the child too (it never runs on with the breakpoint).
    pub fn run_to_entry(&mut self) -> bool {
        self.release();
        for exec in 0..2 {
            if self.wait_stop() != Some(libc::SIGTRAP) {
                return false;
            }
            if exec == 0 {
                // SAFETY: sets options on, then continues, our own traced child, stopped at an exec.
                unsafe {
                    libc::ptrace(libc::PTRACE_SETOPTIONS, self.pid, 0, libc::PTRACE_O_EXITKILL as libc::c_long);
                    libc::ptrace(libc::PTRACE_CONT, self.pid, 0, 0);
                }
            }
        }
        self.traced = true;
        match entry_point(self.pid) {
            Some(entry) => self.run_to(entry),
            None => true,
        }
    }

    /// Waits for the traced child's next stop: its signal, or `None` when it has exited.
    fn wait_stop(&self) -> Option<i32> {
        let mut status = 0;
        // SAFETY: waitpid on our own child only writes `status`.
        let pid = unsafe { libc::waitpid(self.pid, &mut status, 0) };
        (pid == self.pid && libc::WIFSTOPPED(status)).then(|| libc::WSTOPSIG(status))
    }

    /// Runs the traced child, stopped at its exec, to `addr` (its entry point): an `int3` over
    /// the first byte there, continued until it traps on it (other signals are passed on),
    /// then the byte is put back and rip moved back onto it. True when it stopped there, or
    /// when the breakpoint could not be set (it is still at its exec); false when it exited.
    fn run_to(&mut self, addr: u64) -> bool {
        // SAFETY: PEEKTEXT reads a word of our stopped tracee; errno tells a failure from a
        // word that is -1.
        let word = unsafe {
            *libc::__errno_location() = 0;
            libc::ptrace(libc::PTRACE_PEEKTEXT, self.pid, addr, 0)
        };
        // SAFETY: reading errno just after the call.
        if word == -1 && unsafe { *libc::__errno_location() } != 0 {
            return true;
        }
        let trap = (word & !0xff) | 0xcc;
        // SAFETY: writes the word back with int3 in its first byte, in our stopped tracee.
        if unsafe { libc::ptrace(libc::PTRACE_POKETEXT, self.pid, addr, trap) } != 0 {
            return true;
        }
        let mut signal = 0;
        loop {
            // SAFETY: continues our own stopped tracee, passing on the signal it stopped with.
            unsafe { libc::ptrace(libc::PTRACE_CONT, self.pid, 0, signal as libc::c_long) };
            let Some(sig) = self.wait_stop() else {
                self.traced = false;
                return false;
            };
            signal = sig;
            if sig != libc::SIGTRAP {
                continue;
            }
            // SAFETY: user_regs_struct is plain data that GETREGS fills.
            let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
            // SAFETY: GETREGS writes the stopped tracee's registers into `regs`.
            if unsafe { libc::ptrace(libc::PTRACE_GETREGS, self.pid, 0, &mut regs as *mut libc::user_regs_struct) } != 0 {
                continue;
            }
            if regs.rip != addr + 1 {
                continue;
            }
            regs.rip = addr;
            // SAFETY: puts the original word back and rewinds rip onto it, in our stopped
            // tracee; `regs` lives across the call.
            unsafe {
                libc::ptrace(libc::PTRACE_POKETEXT, self.pid, addr, word);
                libc::ptrace(libc::PTRACE_SETREGS, self.pid, 0, &regs as *const libc::user_regs_struct);
            }
            return true;
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Lets the command run.
    pub fn release(&mut self) {
        if std::mem::take(&mut self.traced) {
            // SAFETY: detaches our own traced child, stopped in `run_to_entry`, without a signal.
            unsafe { libc::ptrace(libc::PTRACE_DETACH, self.pid, 0, 0) };
        }
        if let Some(fd) = self.release.take() {
            // SAFETY: writing one byte from a local to a descriptor we own.
            unsafe { libc::write(fd.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        }
    }

    /// Reaps the command if it has exited; if it still runs (rtrace was stopped first), ends
    /// it as bpftrace does: SIGTERM, then SIGKILL if it has not gone within half a second.
    pub fn end(&mut self) {
        if self.traced {
            self.release();
        }
        let mut status = 0;
        if let Some(fd) = self.release.take() {
            // Never released: it exits when its pipe closes.
            drop(fd);
            // SAFETY: waitpid on our own child only writes `status`.
            unsafe { libc::waitpid(self.pid, &mut status, 0) };
            return;
        }
        // SAFETY: waitpid on our own child with WNOHANG only writes `status`; kill signals it.
        unsafe {
            if libc::waitpid(self.pid, &mut status, libc::WNOHANG) != 0 {
                return;
            }
            libc::kill(self.pid, libc::SIGTERM);
            for _ in 0..50 {
                if libc::waitpid(self.pid, &mut status, libc::WNOHANG) != 0 {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, &mut status, 0);
        }
    }
}

/// The entry point of process `pid`'s program (`AT_ENTRY` of `/proc/PID/auxv`).
fn entry_point(pid: libc::pid_t) -> Option<u64> {
    let auxv = std::fs::read(format!("/proc/{pid}/auxv")).ok()?;
    let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or_default());
    auxv.chunks_exact(16).find(|pair| word(&pair[..8]) == libc::AT_ENTRY).map(|pair| word(&pair[8..]))
}

/// `cat()`: the first `max` bytes of a file (bpftrace's `max_cat_bytes`, so `cat("/dev/zero")`
/// ends). Opened without blocking, so a FIFO with no writer reads as
/// empty instead of hanging; a FIFO whose writer stalls is waited for until a signal comes.
pub fn read_file(path: &str, max: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 64 << 10];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return Ok(bytes),
            Ok(n) => {
                bytes.extend_from_slice(&chunk[..n.min(max - bytes.len())]);
                if bytes.len() == max {
                    return Ok(bytes);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let mut fds = [
                    libc::pollfd { fd: file.as_raw_fd(), events: libc::POLLIN, revents: 0 },
                    libc::pollfd { fd: super::signals::wake_fd(), events: libc::POLLIN, revents: 0 },
                ];
                // SAFETY: `fds` is a valid array of pollfd for the duration of the call.
                unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
                if super::signals::stop_requested() {
                    return Ok(bytes);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A descriptor that becomes readable when process `pid` exits.
pub fn pidfd(pid: u32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Unblocks the signals rtrace blocks for its event loop, in a child about to exec (a blocked
/// signal mask survives exec). Only async-signal-safe calls.
fn unblock_signals() {
    // SAFETY: sigset_t is plain data initialised by sigemptyset; sigprocmask reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

/// `system()`: runs `command` with `sh -c`, waits for it, and returns its standard output (its
/// standard error is rtrace's).
pub fn system(command: &str) -> std::io::Result<Vec<u8>> {
    use std::os::unix::process::CommandExt;
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c").arg(command).stderr(std::process::Stdio::inherit());
    // SAFETY: the closure runs in the forked child before exec and only calls
    // async-signal-safe functions.
    unsafe {
        sh.pre_exec(|| {
            unblock_signals();
            Ok(())
        });
    }
    Ok(sh.output()?.stdout)
}

/// Whether `link` is a BPF link to a perf event (a tracepoint, kprobe, uprobe, perf event or
/// watchpoint): releasing the link takes the program off the event at once, while the slow
/// part, closing the event, can be left to a child. (Disabling the event is not enough: a
/// tracepoint's or kprobe's program runs whether the event is enabled or not.) Other links (raw
/// tracepoints, kprobe_multi, uprobe_multi) are detached at once by closing them.
pub fn is_perf_link(link: &libbpf_rs::Link) -> bool {
    use std::os::fd::AsFd;
    // bpf_attr for BPF_OBJ_GET_INFO_BY_FD: bpf_fd, info_len, info (a pointer).
    #[repr(C)]
    struct InfoAttr {
        bpf_fd: u32,
        info_len: u32,
        info: u64,
    }
    let mut info = [0u32; 16];
    let mut attr = InfoAttr {
        bpf_fd: link.as_fd().as_raw_fd() as u32,
        info_len: std::mem::size_of_val(&info) as u32,
        info: info.as_mut_ptr() as u64,
    };
    const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
    const BPF_LINK_TYPE_PERF_EVENT: u32 = 7;
    // SAFETY: the attribute and the buffer it points to live across the call, with their sizes.
    let rc = unsafe {
        libc::syscall(libc::SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &mut attr as *mut InfoAttr, std::mem::size_of::<InfoAttr>())
    };
    rc == 0 && info[0] == BPF_LINK_TYPE_PERF_EVENT
}

/// Detaches every probe at once, and leaves the slow part off the user's critical path.
/// Closing a perf-event tracepoint waits for RCU grace periods in the kernel (~80 ms each, one
/// after another), and that wait happens in whichever process closes the last reference. So a
/// forked child keeps a copy of every perf event's descriptor until rtrace has exited, and the
/// slow release happens when the child exits, not when rtrace does. The child closes its copies
/// of the BPF links, so that rtrace's own close, the last one, takes the programs off the
/// events now: no event comes after this returns. The child closes stdin, stdout and stderr (and `output`, the `-o` file or
/// rtrace's copy of standard output) at once, so whoever reads rtrace's output sees it end with
/// rtrace, and it ignores SIGINT and SIGTERM (Ctrl-C reaches the whole process group). When the
/// fork fails, rtrace detaches itself. Each link comes with whether it is a perf event's
/// (`is_perf_link`); the others are detached here, by closing them.
pub fn detach_in_background(links: Vec<(libbpf_rs::Link, bool)>, output: Option<std::os::fd::RawFd>) {
    let links: Vec<libbpf_rs::Link> = links.into_iter().filter_map(|(link, perf)| perf.then_some(link)).collect();
    if links.is_empty() {
        return;
    }
    let link_fds: Vec<i32> = links.iter().map(|l| std::os::fd::AsFd::as_fd(l).as_raw_fd()).collect();
    // `fds`: reaches end-of-file in the child when rtrace has exited. `ready`: reaches
    // end-of-file in rtrace once the child has closed its copies of stdin, stdout and stderr,
    // so that rtrace's output never outlives rtrace, however late the child is scheduled.
    let (mut fds, mut ready) = ([0; 2], [0; 2]);
    // SAFETY: pipe2 writes two new descriptors into its array; close takes back the first
    // pair when the second pipe cannot be made.
    let piped = unsafe {
        libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) == 0
            && (libc::pipe2(ready.as_mut_ptr(), libc::O_CLOEXEC) == 0 || {
                libc::close(fds[0]);
                libc::close(fds[1]);
                false
            })
    };
    if !piped {
        drop(links);
        return;
    }
    // SAFETY: fork has no preconditions. The child only closes descriptors, waits for the
    // pipe to reach end-of-file (rtrace has exited), and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: plain descriptor calls on the child's own descriptors.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            libc::signal(libc::SIGTERM, libc::SIG_IGN);
            libc::close(0);
            libc::close(1);
            libc::close(2);
            if let Some(fd) = output {
                libc::close(fd);
            }
            for &fd in &link_fds {
                libc::close(fd);
            }
            libc::close(ready[0]);
            libc::close(ready[1]);
            libc::close(fds[1]);
            let mut byte = 0u8;
            while libc::read(fds[0], (&mut byte as *mut u8).cast(), 1) != 0 {}
            libc::_exit(0);
        }
    }
    // SAFETY: descriptors the parent owns; the read returns 0 when the child has closed its
    // copy of `ready[1]` (or at once, if the fork failed).
    unsafe {
        libc::close(fds[0]);
        libc::close(ready[1]);
        let mut byte = 0u8;
        while libc::read(ready[0], (&mut byte as *mut u8).cast(), 1) < 0
            && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {}
        libc::close(ready[0]);
    }
    // Releases the links (the last copies: the programs leave their events now) and closes
    // rtrace's copies of the events, cheap while the child holds its own. (Without a child,
    // this is where the slow release happens.)
    release_in_parallel(links);
}

/// Threads that release links at once: at most this many.
const RELEASE_THREADS: usize = 128;

/// Drops `links` from several threads at once. Releasing a perf event's link waits for an RCU
/// grace period (15–40 ms here); waits that overlap share one, so N links released by N
/// threads take about one grace period instead of N.
fn release_in_parallel(mut links: Vec<libbpf_rs::Link>) {
    if links.len() <= 1 {
        return;
    }
    let per_thread = links.len().div_ceil(RELEASE_THREADS);
    std::thread::scope(|scope| {
        while !links.is_empty() {
            let chunk: Vec<libbpf_rs::Link> = links.drain(..per_thread.min(links.len())).collect();
            if std::thread::Builder::new().spawn_scoped(scope, move || drop(chunk)).is_err() {
                // No thread: the rest is released here, one after another.
                break;
            }
        }
    });
}
