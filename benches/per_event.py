#!/usr/bin/env python3
"""Per-event cost, and printf events reaching user space, for rtrace next to bpftrace and a
hand-written reference, in one run. Run as root:

    benches/per_event.py [CALLS] [RUNS] [PRINTF_CALLS]

(defaults 2,000,000, 10 and 1,000,000; CALLS 0 runs the printf table only, PRINTF_CALLS 0 the first table only). Builds rtrace (release), benches/getppid.c, and the
reference: benches/reference.bpf.c (clang-19 -target bpf) loaded by benches/reference.c (libbpf).

Table 1: nanoseconds per getppid() call (a C loop of CALLS calls) with no tracer, with the
reference programs and with rtrace and bpftrace tracing `tracepoint:syscalls:sys_enter_getppid`
with each script; "rtrace --live" is rtrace with its full-screen view on (a pseudo-terminal of
120x40 that this script reads and discards, redrawn every second, the default). "reference: array ++" is the issue's minimal reference (a per-CPU array
increment, the same for every row); "reference: same work" is a hand-written C program doing
what the row's script asks (a per-CPU hash keyed by comm; a log2 bucket in a per-CPU array).

Table 2: a printf per getppid() call (PRINTF_CALLS calls). The tracer's stdout is a pipe that
this script reads and counts; "delivered" is the events that arrived, "events/s" is delivered
divided by the time from the loop's start to the last byte read, "lost (reported)" is what the
tracer said on stderr (`Lost N events`); "unaccounted" is what is left, lost without a word
(other processes' getppid() calls are not counted: the lines counted end with the loop's comm).

The columns of a run are measured one after the other, run after run (interleaved), so a change
in the machine's load spreads over all of them. Median of RUNS (min–max).
"""
import fcntl
import os
import pty
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time

CALLS = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 10
PRINTF_CALLS = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = "/tmp/rtrace-bench"
LOOP = f"{BUILD}/getppid"
REF = f"{BUILD}/reference"
REF_OBJ = f"{BUILD}/reference.bpf.o"
PROBE = "tracepoint:syscalls:sys_enter_getppid"
# (row, script, the reference program doing the same work)
SCRIPTS = [
    ("@ = count()", PROBE + " { @ = count(); }", "count"),
    ("@[comm] = count()", PROBE + " { @[comm] = count(); }", "comm"),
    ("@h = hist(pid)", PROBE + " { @h = hist(pid); }", "hist"),
]
PRINTF_SCRIPT = PROBE + ' { printf("%d %s\\n", pid, comm); }'
# The loop's comm (its file name cut to 15 bytes), the end of each of its printf lines.
PRINTF_MARK = b"getppid\n"
RTRACE_ENV = dict(os.environ, __BPFTRACE_NOTIFY_PROBES_ATTACHED="1")


def build():
    os.makedirs(BUILD, exist_ok=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    benches = os.path.join(ROOT, "benches")
    subprocess.run(["cc", "-O2", "-o", LOOP, f"{benches}/getppid.c"], check=True)
    subprocess.run(["clang-19", "-O2", "-g", "-target", "bpf", f"-I/usr/include/{os.uname().machine}-linux-gnu",
                    "-c", f"{benches}/reference.bpf.c", "-o", REF_OBJ], check=True)
    subprocess.run(["cc", "-O2", "-Wall", "-o", REF, f"{benches}/reference.c", "-lbpf"], check=True)


def loop_ns(calls=CALLS):
    out = subprocess.run([LOOP, str(calls)], capture_output=True, text=True, check=True).stdout
    return float(out)


def traced(argv, env=None, ready=None):
    """Starts a tracer, waits until it has attached, runs the loop, stops the tracer."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    for line in proc.stdout:
        if ready in line:
            break
    else:
        raise SystemExit(f"{argv} ended before attaching")
    time.sleep(0.2)
    ns = loop_ns()
    stop(proc)
    return ns


def traced_live(argv, env, ready):
    """As `traced`, with the tracer's terminal a pseudo-terminal of 120x40 whose screen a
    thread reads (and drops) all the while, as a terminal would."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    seen = threading.Event()
    ready = ready.encode()

    def drain():
        buf = b""
        while True:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            if not seen.is_set():
                buf += chunk
                if ready in buf:
                    seen.set()

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    if not seen.wait(timeout=60):
        raise SystemExit(f"{argv} did not attach")
    time.sleep(0.2)
    ns = loop_ns()
    stop(proc)
    t.join(timeout=10)
    os.close(master)
    return ns


def stop(proc):
    """SIGINT, then SIGKILL if the tracer has not exited within 60 s (once, bpftrace 0.17 had
    not exited a minute after SIGINT on this shared machine; cause not found); the loop's
    figure stands."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        print(f"warning: {proc.args[0]} still running 60 s after SIGINT; killed", file=sys.stderr)
        proc.kill()
        proc.wait()


def printf_run(argv, env, ready):
    """Runs PRINTF_CALLS getppid() calls under a printf-per-event tracer whose stdout this
    reads; returns (ns per call, events delivered, events/s delivered, lost as reported)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    buf = b""
    while ready not in buf:
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            raise SystemExit(f"{argv} ended before attaching")
        buf += chunk
    stderr = []
    threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True).start()
    state = {"count": buf.split(ready, 1)[1].count(PRINTF_MARK), "last": None, "tail": b""}

    def reader():
        fd = proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return
            data = state["tail"] + chunk
            state["count"] += data.count(PRINTF_MARK)
            state["tail"] = data[-(len(PRINTF_MARK) - 1):]
            state["last"] = time.perf_counter()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    time.sleep(0.2)
    start = time.perf_counter()
    ns = loop_ns(PRINTF_CALLS)
    # Wait until the tracer has been quiet for a second (it may still be draining).
    while True:
        seen = state["count"]
        time.sleep(1.0)
        if state["count"] == seen:
            break
    stop(proc)
    t.join(timeout=10)
    delivered = state["count"]
    elapsed = (state["last"] or time.perf_counter()) - start
    time.sleep(0.1)
    err = b"".join(stderr).decode(errors="replace")
    lost = sum(int(n) for n in re.findall(r"Lost (\d+) events", err))
    return ns, delivered, delivered / elapsed, lost


def cell(values, fmt="{:.1f}"):
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def main():
    build()
    rtrace = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release/rtrace")
    bpftrace = shutil.which("bpftrace")
    bt_name = "bpftrace " + subprocess.run([bpftrace, "--version"], capture_output=True, text=True).stdout.split()[-1] if bpftrace else "bpftrace"
    print(f"{time.strftime('%Y-%m-%d %H:%M')}; kernel {os.uname().release}; {os.cpu_count()} CPUs; "
          f"load average before: {os.getloadavg()[0]:.2f}\n")
    if CALLS:
        print(f"ns per getppid() call, {CALLS} calls, median of {RUNS} interleaved runs (min–max)\n")
        print(f"| script | no tracer | reference: array ++ | reference: same work | rtrace | rtrace --live | {bt_name} |")
        print("|---|---|---|---|---|---|---|")
    for name, script, ref in SCRIPTS if CALLS else []:
        cols = {k: [] for k in ("base", "ref", "same", "rt", "live", "bt")}
        for _ in range(RUNS):
            cols["base"].append(loop_ns())
            cols["ref"].append(traced([REF, REF_OBJ, "count"], None, "attached"))
            cols["same"].append(traced([REF, REF_OBJ, ref], None, "attached"))
            cols["rt"].append(traced([rtrace, "-e", script], RTRACE_ENV, "__BPFTRACE_NOTIFY_PROBES_ATTACHED"))
            cols["live"].append(traced_live([rtrace, "--live", "-e", script], RTRACE_ENV, "__BPFTRACE_NOTIFY_PROBES_ATTACHED"))
            if bpftrace:
                cols["bt"].append(traced([bpftrace, "-e", script], None, "Attaching"))
        bt = cell(cols["bt"]) if bpftrace else "not installed"
        print(f"| `{name}` | {cell(cols['base'])} | {cell(cols['ref'])} | {cell(cols['same'])} | {cell(cols['rt'])} | {cell(cols['live'])} | {bt} |")
    sys.stdout.flush()
    if not PRINTF_CALLS:
        return

    print(f"\nprintf per event: `{PRINTF_SCRIPT}`, {PRINTF_CALLS} calls, stdout a pipe read by this script; "
          f"median of {RUNS} interleaved runs (min–max)\n")
    print("| tracer | ns per call | delivered | events/s delivered | lost (reported) | unaccounted (calls − delivered − reported) |")
    print("|---|---|---|---|---|---|")
    tracers = [("rtrace", [rtrace, "-e", PRINTF_SCRIPT], RTRACE_ENV, b"__BPFTRACE_NOTIFY_PROBES_ATTACHED")]
    if bpftrace:
        tracers.append((bt_name, [bpftrace, "-e", PRINTF_SCRIPT], None, b"Attaching"))
    rows = {name: [] for name, *_ in tracers}
    for _ in range(RUNS):
        for name, argv, env, ready in tracers:
            rows[name].append(printf_run(argv, env, ready))
    for name, *_ in tracers:
        ns, delivered, rate, lost = zip(*rows[name])
        silent = [PRINTF_CALLS - d - l for d, l in zip(delivered, lost)]
        print(f"| {name} | {cell(ns)} | {cell(delivered, '{:,.0f}')} | {cell(rate, '{:,.0f}')} | "
              f"{cell(lost, '{:,.0f}')} | {cell(silent, '{:,.0f}')} |")


if __name__ == "__main__":
    main()
