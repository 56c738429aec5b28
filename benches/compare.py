#!/usr/bin/env python3
"""Builds of rtrace side by side with bpftrace, in one run: the three figures a refactor must
not make worse (start-up, per-event cost, many probes). Run as root:

    benches/compare.py RUNS LABEL=PATH [LABEL=PATH ...]

e.g. `benches/compare.py 5 before=/tmp/rtrace-before after=target/release/rtrace`. Each run
measures every tracer once, in turn (interleaved), so a change in the machine's load falls on
all of them alike; the tables give the median and min–max of RUNS runs.

- start-up: `BEGIN { exit(); }`, wall (fork to reap), CPU (user + system) and peak RSS, as
  `benches/startup.py` measures them;
- per event: ns per getppid() call under `@[comm] = count()`, as `benches/per_event.py`
  measures it (its loop and its stop);
- many probes: `tracepoint:syscalls:sys_enter_* { @[probe] = count(); } interval:ms:100
  { exit(); }` (361 tracepoints here), fork to reap; before each run it waits until no tracer
  process (a detaching child) is left.
"""
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
argv, sys.argv = sys.argv, sys.argv[:1]  # the imported benches read their own argv
import per_event  # noqa: E402
import startup  # noqa: E402
sys.argv = argv

MANY = "tracepoint:syscalls:sys_enter_* { @[probe] = count(); } interval:ms:100 { exit(); }"
COUNT = "tracepoint:syscalls:sys_enter_getppid { @[comm] = count(); }"


def wait_for_quiet(names):
    """Waits (up to a minute) until no process of these names (comms) is left."""
    deadline = time.time() + 60
    while time.time() < deadline:
        if all(subprocess.run(["pgrep", "-x", n], capture_output=True).returncode != 0 for n in names):
            return
        time.sleep(0.1)


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    runs = int(sys.argv[1])
    # Each build runs as a copy named after its label, so that waiting for its detaching
    # child looks for that name only (not for other rtrace processes on the machine).
    os.makedirs("/tmp/rtrace-compare", exist_ok=True)
    tracers = []
    for arg in sys.argv[2:]:
        label, path = arg.split("=", 1)
        copy = os.path.join("/tmp/rtrace-compare", label[:15])
        shutil.copy(path, copy)
        tracers.append((label, copy))
    per_event.build()  # the getppid loop (and rtrace's own build)
    bpftrace = shutil.which("bpftrace")
    if bpftrace:
        version = subprocess.run([bpftrace, "--version"], capture_output=True, text=True).stdout.split()[-1]
        tracers.append((f"bpftrace {version}", bpftrace))
    print(f"{time.strftime('%Y-%m-%d %H:%M')}; kernel {os.uname().release}; {os.cpu_count()} CPUs; "
          f"load average before: {os.getloadavg()[0]:.2f}; {runs} interleaved runs\n")
    rows = {name: {"start": [], "event": [], "many": []} for name, _ in tracers}
    for _ in range(runs):
        for name, path in tracers:
            rows[name]["start"].append(startup.run_once([path, "-e", "BEGIN { exit(); }"]))
            is_bpftrace = name.startswith("bpftrace")
            env = None if is_bpftrace else per_event.RTRACE_ENV
            ready = "Attaching" if is_bpftrace else "__BPFTRACE_NOTIFY_PROBES_ATTACHED"
            rows[name]["event"].append(per_event.traced([path, "-e", COUNT], env, ready))
            if not is_bpftrace:  # bpftrace 0.17 takes ~27 s a run here (BENCHMARKS.md)
                wait_for_quiet([os.path.basename(path)])
                rows[name]["many"].append(startup.run_once([path, "-e", MANY])[0])
    print(f"load average after: {os.getloadavg()[0]:.2f}\n")
    print("| tracer | start-up wall | start-up CPU | start-up peak RSS | ns per event, `@[comm] = count()` | 361 tracepoints, attach to exit |")
    print("|---|---|---|---|---|---|")
    for name, _ in tracers:
        r = rows[name]
        wall, cpu, rss = zip(*r["start"])
        many = startup.cell(r["many"], "ms") if r["many"] else "not run (~27 s a run)"
        print(f"| {name} | {startup.cell(wall, 'ms')} | {startup.cell(cpu, 'ms')} | {startup.cell(rss, 'MiB')} | "
              f"{per_event.cell(r['event'])} | {many} |")


if __name__ == "__main__":
    main()
