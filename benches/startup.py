#!/usr/bin/env python3
"""Start-up cost of rtrace next to bpftrace, measured in one run.

Usage (as root): benches/startup.py [RUNS]
        RTRACE_COMPARE=/path/to/other/rtrace benches/startup.py [RUNS]

With RTRACE_COMPARE, that binary (another build of rtrace) gets a row of its own, for a before
and after in the same run.

Builds rtrace (release), then runs each script RUNS times (default 10) under each tracer, interleaved, and
prints, per script, a Markdown table of median and min–max of wall time (fork to reap), CPU
time (user + system, from wait4's rusage) and peak RSS (ru_maxrss). Output of the tracers is
discarded.
"""
import os
import shutil
import statistics
import subprocess
import sys
import time

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEN_PROBES = " ".join(
    f"tracepoint:syscalls:sys_enter_{s} {{ @[comm, {i}] = count(); }}"
    for i, s in enumerate(["read", "write", "openat", "close", "getppid", "mmap", "brk", "futex", "ioctl", "lseek"])
) + " interval:ms:100 { exit(); }"
SCRIPTS = [
    "BEGIN { exit(); }",
    'BEGIN { printf("hi\\n"); exit(); }',
    "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); } interval:ms:100 { exit(); }",
    TEN_PROBES,
]


def run_once(argv):
    devnull = os.open(os.devnull, os.O_RDWR)
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execv(argv[0], argv)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed with status {status}")
    return wall * 1000, (ru.ru_utime + ru.ru_stime) * 1000, ru.ru_maxrss / 1024


def cell(values, unit):
    return f"{statistics.median(values):.1f} {unit} ({min(values):.1f}–{max(values):.1f})"


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    tracers = [("rtrace", os.path.join(ROOT, "target/release/rtrace"))]
    if os.environ.get("RTRACE_COMPARE"):
        tracers.append((f"rtrace ({os.environ['RTRACE_COMPARE']})", os.environ["RTRACE_COMPARE"]))
    bpftrace = shutil.which("bpftrace")
    if bpftrace:
        version = subprocess.run([bpftrace, "--version"], capture_output=True, text=True).stdout.split()[-1]
        tracers.append((f"bpftrace {version}", bpftrace))
    print(f"{RUNS} runs per row; {time.strftime('%Y-%m-%d')}; kernel {os.uname().release}; {os.cpu_count()} CPUs")
    for script in SCRIPTS:
        print(f"\nscript: `{script}`\n")
        print("| tracer | wall | CPU (user+sys) | peak RSS |")
        print("|---|---|---|---|")
        # Interleaved (each tracer once, RUNS times), so a change in the machine's load spreads
        # over every row.
        rows = {name: [] for name, _ in tracers}
        for _ in range(RUNS):
            for name, path in tracers:
                rows[name].append(run_once([path, "-e", script]))
        for name, _ in tracers:
            wall, cpu, rss = zip(*rows[name])
            print(f"| {name} | {cell(wall, 'ms')} | {cell(cpu, 'ms')} | {cell(rss, 'MiB')} |")
        if not bpftrace:
            print("| bpftrace | not installed | | |")


if __name__ == "__main__":
    main()
