//! Processes rtrace starts, and those it watches. `-c CMD`: the command runs as
//! `sh -c 'exec CMD'`, forked before the programs load (so `cpid` is known) but held at a pipe
//! until every probe is attached; pidfds, which tell the event loop when a watched process
//! (the `-c` child, or `-p PID`) has exited; `system()`; and the child that detaches the probes
//! after rtrace has gone (`detach_in_background`).
//!
//! std's `Command::spawn` waits for the child to exec, which a held child never does before
//! `release`, so this forks by hand.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub struct HeldChild {
    pid: libc::pid_t,
    /// Writing to (or closing) this releases the child.
    release: Option<OwnedFd>,
}

impl HeldChild {
    pub fn spawn(cmd: &str) -> std::io::Result<HeldChild> {
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
                libc::execv(argv[0], argv.as_ptr());
                libc::_exit(127);
            }
        }
        // SAFETY: the descriptors were created above and are owned by nothing else here.
        let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(read_end);
        Ok(HeldChild { pid, release: Some(write_end) })
    }

    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Lets the command run.
    pub fn release(&mut self) {
        if let Some(fd) = self.release.take() {
            // SAFETY: writing one byte from a local to a descriptor we own.
            unsafe { libc::write(fd.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        }
    }

    /// Reaps the command if it has exited.
    pub fn reap(&self) {
        let mut status = 0;
        // SAFETY: waitpid on our own child with WNOHANG only writes `status`.
        unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
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

/// Detaches every probe off the user's critical path. Closing a perf-event tracepoint waits
/// for RCU grace periods in the kernel (~80 ms each, one after another), and that wait happens
/// in whichever process closes the last reference. So a forked child keeps a copy of every
/// descriptor until rtrace has exited, and the slow release happens when the child exits, not
/// when rtrace does. The child closes stdin, stdout and stderr at once, so whoever reads
/// rtrace's output sees it end with rtrace. When the fork fails, rtrace detaches itself.
pub fn detach_in_background(links: Vec<libbpf_rs::Link>) {
    if links.is_empty() {
        return;
    }
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
            libc::close(0);
            libc::close(1);
            libc::close(2);
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
    // Disables the probes and closes rtrace's copies: cheap while the child holds its own.
    // (Without a child, this is where the slow release happens.)
    drop(links);
}
