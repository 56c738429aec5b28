#!/usr/bin/env python3
"""The issue's 1,000-line script: time to attached, and rtrace's --timings split. Run as root:

    benches/big_script.py [RUNS]     (default 10)

Generates 998 probes on the first 998 tracepoints (sorted; `syscalls` first), one a line, each
with a predicate, a count and a hist, plus BEGIN and an interval line: 1,000 lines. Runs it RUNS
times with __BPFTRACE_NOTIFY_PROBES_ATTACHED set and reports wall time from fork to that line
(median, min–max), then one run's --timings. bpftrace is not run: it closes perf-event
tracepoints one by one at exit (~80 ms each here, ~80 s for this script; see BENCHMARKS.md).
"""
import os
import signal
import statistics
import subprocess
import sys
import time

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENTS = "/sys/kernel/tracing/events"
SCRIPT_FILE = "/tmp/rtrace-bench-1000.bt"


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


def script():
    lines = ["BEGIN { @start = nsecs; }"]
    for i, tp in enumerate(tracepoints(998)):
        lines.append(f"tracepoint:{tp} /pid > {i}/ {{ @c[{i}] = count(); @h = hist(pid); }}")
    lines.append("interval:s:10 { exit(); }")
    return "\n".join(lines) + "\n"


def to_attached(argv):
    env = dict(os.environ, __BPFTRACE_NOTIFY_PROBES_ATTACHED="1")
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    for line in proc.stdout:
        if "__BPFTRACE_NOTIFY_PROBES_ATTACHED" in line:
            break
    else:
        raise SystemExit(f"{argv} ended before attaching")
    wall = (time.perf_counter() - start) * 1000
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    return wall


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    if not os.path.isdir(EVENTS):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], check=True)
    with open(SCRIPT_FILE, "w") as f:
        f.write(script())
    rtrace = os.path.join(ROOT, "target/release/rtrace")
    walls = [to_attached([rtrace, SCRIPT_FILE]) for _ in range(RUNS)]
    print(f"1,000-line script ({SCRIPT_FILE}), {RUNS} runs: fork to attached "
          f"{statistics.median(walls):.0f} ms ({min(walls):.0f}–{max(walls):.0f})\n")
    out = subprocess.run([rtrace, "--timings", "--dry-run", SCRIPT_FILE], capture_output=True, text=True)
    print("".join(l + "\n" for l in out.stderr.splitlines() if l.startswith("timing:")))


if __name__ == "__main__":
    main()
