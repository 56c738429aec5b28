#!/usr/bin/env python3
"""The issue's 1,000-line scripts: time to attached, and rtrace's --timings split. Run as root:

    benches/big_script.py [RUNS]     (default 10)

Generates two scripts of 998 probes on the first 998 tracepoints (sorted; `syscalls` first),
one a line, plus BEGIN and an interval line: 1,000 lines each.

- "same shape": each probe `/pid > N/ { @c[N] = count(); @h = hist(pid); }`, as generated
  scripts look: the probes differ only in integer literals, so rtrace compiles and loads one
  program and reads N from a per-attach-point parameters row (sema/share.rs).
- "all different": each probe `/pid > N/ { @cN = count(); @h = hist(pid); }`: a map of its
  own per probe, so no two probes can share a program: 998 programs and 999 maps.

For each, RUNS runs with `--timings`: wall time from fork to __BPFTRACE_NOTIFY_PROBES_ATTACHED
(median, min–max), and the median of each stage. Before every run it waits (up to three
minutes) until no other rtrace process is left: a previous run's detaching child, which releases the
tracepoints one by one (~60 ms each on 6.18) while holding the kernel's trace-event lock, so a
run started meanwhile waits for it at every tracepoint it attaches. Last, the kernel's floor:
perf_event_open of the same 998 tracepoints from this script, nothing else (the kernel
registers each tracepoint there, patching its static key). bpftrace is not run: it
closes perf-event tracepoints one after another at exit (~80 ms each here, ~80 s a run; see
BENCHMARKS.md).
"""
import ctypes
import os
import signal
import statistics
import subprocess
import sys
import time

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENTS = "/sys/kernel/tracing/events"


def tracepoints(n):
    names = []
    cats = sorted(os.listdir(EVENTS), key=lambda c: (c != "syscalls", c))
    for cat in cats:
        path = os.path.join(EVENTS, cat)
        if not os.path.isdir(path):
            continue
        for ev in sorted(os.listdir(path)):
            if os.path.isfile(os.path.join(path, ev, "format")):
                names.append(f"{cat}:{ev}")
    return names[:n]


def script(body):
    lines = ["BEGIN { @start = nsecs; }"]
    for i, tp in enumerate(tracepoints(998)):
        lines.append(f"tracepoint:{tp} /pid > {i}/ {{ {body(i)} }}")
    lines.append("interval:s:10 { exit(); }")
    return "\n".join(lines) + "\n"


SCRIPTS = [
    ("same shape", "/tmp/rtrace-bench-1000.bt", lambda i: f"@c[{i}] = count(); @h = hist(pid);"),
    ("all different", "/tmp/rtrace-bench-1000-distinct.bt", lambda i: f"@c{i} = count(); @h = hist(pid);"),
]


class PerfEventAttr(ctypes.Structure):
    """`struct perf_event_attr` as of PERF_ATTR_SIZE_VER0 (64 bytes)."""
    _fields_ = [("type", ctypes.c_uint32), ("size", ctypes.c_uint32), ("config", ctypes.c_uint64),
                ("rest", ctypes.c_uint64 * 6)]


def kernel_floor(names):
    """The kernel's own cost of attaching: perf_event_open of each tracepoint (what
    registers it), from a process that does nothing else; closed by a forked child that
    exits (in the background, like rtrace's detach). Returns milliseconds."""
    libc = ctypes.CDLL(None, use_errno=True)
    ids = []
    for name in names:
        cat, ev = name.split(":")
        with open(f"{EVENTS}/{cat}/{ev}/id") as f:
            ids.append(int(f.read()))
    quiet()
    fds = []
    start = time.perf_counter()
    for i in ids:
        attr = PerfEventAttr(type=2, size=ctypes.sizeof(PerfEventAttr), config=i)
        fd = libc.syscall(298, ctypes.byref(attr), -1, 0, -1, 8)  # perf_event_open, CLOEXEC
        if fd < 0:
            raise SystemExit(f"perf_event_open: errno {ctypes.get_errno()}")
        fds.append(fd)
    ms = (time.perf_counter() - start) * 1000
    if os.fork() == 0:
        time.sleep(0.5)
        os._exit(0)  # the last copies of the descriptors go with the child: the slow release
    for fd in fds:
        os.close(fd)
    return ms


def quiet():
    """Waits until this script's own detaching children have exited, then (up to three
    minutes) until no other rtrace process is running."""
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break
    deadline = time.time() + 180
    while time.time() < deadline:
        if subprocess.run(["pgrep", "-x", "rtrace"], capture_output=True).returncode != 0:
            return
        time.sleep(0.1)


def to_attached(argv):
    """Wall time from fork to attached, and the run's --timings stages."""
    quiet()
    env = dict(os.environ, __BPFTRACE_NOTIFY_PROBES_ATTACHED="1")
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    for line in proc.stdout:
        if "__BPFTRACE_NOTIFY_PROBES_ATTACHED" in line:
            break
    else:
        raise SystemExit(f"{argv} ended before attaching")
    wall = (time.perf_counter() - start) * 1000
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    stages = {}
    for line in err.splitlines():
        if line.startswith("timing:"):
            _, stage, ms, _ = line.split()
            stages[stage] = float(ms)
    return wall, stages


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    if not os.path.isdir(EVENTS):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], check=True)
    rtrace = os.path.join(ROOT, "target/release/rtrace")
    print(f"load average at start: {os.getloadavg()[0]:.2f}\n")
    for name, path, body in SCRIPTS:
        with open(path, "w") as f:
            f.write(script(body))
        runs = [to_attached([rtrace, "--timings", path]) for _ in range(RUNS)]
        walls = [wall for wall, _ in runs]
        print(f"{name} ({path}), {RUNS} runs: fork to attached "
              f"{statistics.median(walls):.0f} ms ({min(walls):.0f}–{max(walls):.0f})")
        stages = [st for _, st in runs]
        split = ", ".join(f"{s} {statistics.median(r[s] for r in stages):.1f}" for s in stages[0])
        front = statistics.median(r["parse"] + r["check"] for r in stages)
        print(f"  --timings, median of {RUNS} (ms): {split}")
        print(f"  front end (lex, parse, check): {front:.1f} ms\n")
    floors = [kernel_floor(tracepoints(998)) for _ in range(RUNS)]
    print(f"kernel floor: perf_event_open of the 998 tracepoints, nothing else, {RUNS} runs: "
          f"{statistics.median(floors):.0f} ms ({min(floors):.0f}–{max(floors):.0f})\n")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
