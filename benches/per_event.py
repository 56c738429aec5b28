#!/usr/bin/env python3
"""Per-event cost: nanoseconds per getppid() call with no tracer, and with rtrace and bpftrace
tracing `tracepoint:syscalls:sys_enter_getppid` with each script below. Run as root:
benches/per_event.py [CALLS] [RUNS]. Prints a Markdown table (median of RUNS, min–max)."""
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

CALLS = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOOP = "/tmp/rtrace-bench-getppid"
PROBE = "tracepoint:syscalls:sys_enter_getppid"
SCRIPTS = [
    ("@ = count()", PROBE + " { @ = count(); }"),
    ("@[comm] = count()", PROBE + " { @[comm] = count(); }"),
    ("@h = hist(pid)", PROBE + " { @h = hist(pid); }"),
]


def loop_ns():
    out = subprocess.run([LOOP, str(CALLS)], capture_output=True, text=True, check=True).stdout
    return float(out)


def traced(argv, env=None, ready=None):
    """Starts a tracer, waits until it has attached, runs the loop, stops the tracer."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    for line in proc.stdout:
        if ready in line:
            break
    time.sleep(0.2)
    ns = loop_ns()
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    return ns


def cell(values):
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    subprocess.run(["cc", "-O2", "-o", LOOP, os.path.join(ROOT, "benches/getppid.c")], check=True)
    rtrace = os.path.join(ROOT, "target/release/rtrace")
    bpftrace = shutil.which("bpftrace")
    env = dict(os.environ, __BPFTRACE_NOTIFY_PROBES_ATTACHED="1")
    print(f"ns per getppid() call, {CALLS} calls, median of {RUNS} runs (min–max)\n")
    print("| script | no tracer | rtrace | bpftrace 0.17 |")
    print("|---|---|---|---|")
    for name, script in SCRIPTS:
        base = [loop_ns() for _ in range(RUNS)]
        rt = [traced([rtrace, "-e", script], env, "__BPFTRACE_NOTIFY_PROBES_ATTACHED") for _ in range(RUNS)]
        bt = [traced([bpftrace, "-e", script], None, "Attaching") for _ in range(RUNS)] if bpftrace else []
        print(f"| `{name}` | {cell(base)} | {cell(rt)} | {cell(bt) if bt else 'not installed'} |")


if __name__ == "__main__":
    main()
