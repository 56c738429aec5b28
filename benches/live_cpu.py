#!/usr/bin/env python3
"""The CPU time rtrace's own process uses (user + system, from /proc/PID/stat) over 10 s,
without and with --live, tracing every syscall on the machine by comm (a map of as many keys
as processes make syscalls). With --live, rtrace's terminal is a pseudo-terminal of 120x40
that this script reads and drops. Run as root after `cargo build --release`:

    benches/live_cpu.py [RUNS]      (default 3; the two interleaved, run after run)
"""
import os, pty, fcntl, termios, statistics, struct, subprocess, threading, time, signal, sys
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
R = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release/rtrace")
S = "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }"
TICK = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK
def run(live, secs=10):
    env = dict(os.environ, __BPFTRACE_NOTIFY_PROBES_ATTACHED="1")
    argv = [R] + (["--live"] if live else []) + ["-e", S]
    m, s = pty.openpty()
    fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    p = subprocess.Popen(argv, stdin=s, stdout=s, stderr=s, env=env, start_new_session=True)
    os.close(s)
    seen = threading.Event()
    def drain():
        buf = b""
        while True:
            try: c = os.read(m, 65536)
            except OSError: return
            if not c: return
            buf = (buf + c)[-200:]
            if b"NOTIFY_PROBES_ATTACHED" in buf: seen.set()
    threading.Thread(target=drain, daemon=True).start()
    seen.wait(30)
    a = cpu(p.pid); time.sleep(secs); b = cpu(p.pid)
    p.send_signal(signal.SIGINT); p.wait(); os.close(m)
    return (b - a) / secs * 1000
res = {False: [], True: []}
for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
    for live in (False, True):
        res[live].append(run(live))
for live in (False, True):
    v = res[live]
    print(f"{'rtrace --live' if live else 'rtrace'}: {statistics.median(v):.1f} ms CPU per second ({min(v):.1f}-{max(v):.1f}) {[round(x,1) for x in v]}")
