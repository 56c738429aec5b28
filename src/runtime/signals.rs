//! SIGINT and SIGTERM: how rtrace stops when asked. Until the runtime takes over (`arm`),
//! a signal ends rtrace at once with the default action, as it would any command: reading the
//! script from a terminal or a FIFO, compiling, opening an `-o` FIFO that has no reader — there
//! is nothing to clean up yet (a held `-c` child exits when its pipe closes). Once armed, the
//! first signal asks for an orderly stop (the session stops the probes, drains the ring buffer,
//! runs END, prints the maps); a second one asks to hurry (stop printing and exit); a third, or a
//! second one not obeyed within a second, exits at once.
//!
//! The handler only counts and writes a byte to a pipe (`wake_fd`), which the event loop polls
//! with the ring buffer, so the signal is seen whichever thread takes it. It is installed
//! without `SA_RESTART`, so a blocking call in the runtime's thread (a write to a stalled pipe)
//! returns `EINTR`, and the callers that loop on `EINTR` look at `stop_requested` first. The
//! driver's main thread blocks both signals, so they reach the runtime's thread.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};

static COUNT: AtomicU32 = AtomicU32::new(0);
static ARMED: AtomicBool = AtomicBool::new(false);
static WAKE_READ: AtomicI32 = AtomicI32::new(-1);
static WAKE_WRITE: AtomicI32 = AtomicI32::new(-1);
/// Set by the session when a write found its reader gone: treated as a first signal.
static BROKEN_PIPE: AtomicBool = AtomicBool::new(false);
/// Set by the session when the output cannot be written for another reason.
static STOP: AtomicBool = AtomicBool::new(false);

/// The exit status when a second signal is not obeyed in time (or a third comes).
const FORCED_EXIT: i32 = 130;

extern "C" fn on_signal(sig: libc::c_int) {
    if sig == libc::SIGALRM {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(FORCED_EXIT) };
    }
    if !ARMED.load(Ordering::SeqCst) {
        // SAFETY: signal and raise are async-signal-safe: the default action ends rtrace as it
        // would have without a handler.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
        return;
    }
    let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    let fd = WAKE_WRITE.load(Ordering::SeqCst);
    // SAFETY: write, alarm and _exit are async-signal-safe; the buffer is a local.
    unsafe {
        if fd >= 0 {
            libc::write(fd, [1u8].as_ptr().cast(), 1);
        }
        match n {
            1 => {}
            2 => {
                libc::alarm(1);
            }
            _ => libc::_exit(FORCED_EXIT),
        }
    }
}

/// Installs the handler (for SIGINT, SIGTERM, and SIGALRM, the hurry's deadline) and makes the
/// wake-up pipe. Until `arm`, signals still end rtrace at once.
pub fn install() -> std::io::Result<()> {
    wake_pipe(&WAKE_READ, &WAKE_WRITE)?;
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGALRM] {
        // SAFETY: sigaction is plain data, zeroed then filled; the handler only makes
        // async-signal-safe calls. No SA_RESTART: blocking calls return EINTR.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(sig, &action, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// A non-blocking pipe a signal handler writes to, its ends stored in `read` and `write`.
fn wake_pipe(read: &AtomicI32, write: &AtomicI32) -> std::io::Result<()> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into `fds`; they live as long as the process.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    read.store(fds[0], Ordering::SeqCst);
    write.store(fds[1], Ordering::SeqCst);
    Ok(())
}

/// Blocks (`block`) or unblocks SIGINT and SIGTERM in the calling thread only.
pub fn mask_in_this_thread(block: bool) {
    // SAFETY: sigset_t is plain data initialised by sigemptyset; pthread_sigmask reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        let how = if block { libc::SIG_BLOCK } else { libc::SIG_UNBLOCK };
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// From now on a signal asks for an orderly stop instead of ending rtrace (a signal that came
/// just before is not lost: it already ended rtrace).
pub fn arm() {
    ARMED.store(true, Ordering::SeqCst);
}

/// The descriptor that becomes readable when a signal came (never emptied: level-triggered).
pub fn wake_fd() -> i32 {
    WAKE_READ.load(Ordering::SeqCst)
}

/// A first signal came, or the output's reader has gone: stop the probes and wind down.
pub fn stop_requested() -> bool {
    COUNT.load(Ordering::SeqCst) >= 1 || BROKEN_PIPE.load(Ordering::SeqCst) || STOP.load(Ordering::SeqCst)
}

/// A second signal came: stop printing and exit now.
pub fn hurry() -> bool {
    COUNT.load(Ordering::SeqCst) >= 2
}

/// Records that the output's reader has gone (EPIPE): the run ends as after a first signal.
pub fn output_closed() {
    BROKEN_PIPE.store(true, Ordering::SeqCst);
    wake();
}

/// Asks the run to end as after a first signal (the output cannot be written).
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
    wake();
}

fn wake() {
    let fd = WAKE_WRITE.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: writing one byte from a constant to our own pipe.
        unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
    }
}

static USR1_READ: AtomicI32 = AtomicI32::new(-1);
static USR1_WRITE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_usr1(_sig: libc::c_int) {
    let fd = USR1_WRITE.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write is async-signal-safe; the buffer is a constant.
        unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
    }
}

/// For `self:signal:SIGUSR1` probes: SIGUSR1 no longer ends rtrace but makes `usr1_fd`
/// readable (`SA_RESTART`: nothing else sees it). Stopping stays SIGINT's and SIGTERM's.
pub fn catch_usr1() -> std::io::Result<()> {
    wake_pipe(&USR1_READ, &USR1_WRITE)?;
    // SAFETY: sigaction is plain data, zeroed then filled; the handler only writes to a pipe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_usr1 as extern "C" fn(libc::c_int) as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The descriptor that becomes readable when SIGUSR1 came (-1 unless `catch_usr1`).
pub fn usr1_fd() -> i32 {
    USR1_READ.load(Ordering::SeqCst)
}

/// Empties `usr1_fd`: how many SIGUSR1 came since the last call (signals close together may
/// count once, as pending signals do).
pub fn take_usr1() -> usize {
    let fd = usr1_fd();
    let mut n = 0;
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reading into a buffer we own, at most its length.
        let got = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if got <= 0 {
            return n;
        }
        n += got as usize;
    }
}

/// Whether the output's reader went away during the run.
pub fn pipe_broken() -> bool {
    BROKEN_PIPE.load(Ordering::SeqCst)
}

/// Ends rtrace the way bpftrace ends when its reader has gone: killed by SIGPIPE (a shell shows
/// status 141). Everything that can be flushed has been.
pub fn die_of_sigpipe() -> ! {
    crate::kernel::tracefs::unmount_if_mounted_by_rtrace();
    // SAFETY: restoring the default action and raising the signal in this thread ends the
    // process; _exit is the fallback should it somehow return.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(libc::SIGPIPE);
        libc::_exit(141);
    }
}
