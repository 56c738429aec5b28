#!/usr/bin/env python3
"""Printing a large map at exit: rtrace next to bpftrace, measured in one run.

Usage (as root): benches/big_map.py [KEYS] [RUNS]
        RTRACE_COMPARE=/path/to/other/rtrace benches/big_map.py [KEYS] [RUNS]

Builds rtrace (release) and benches/lseek_fill.c, then, RUNS times (default 1) for each tracer,
interleaved: `-c` runs lseek_fill, which calls lseek() with every offset from 0 to KEYS - 1
(default 1,000,000) and writes the time it ended; the script keys a count() map by the offset,
so the map holds KEYS keys when the command ends and the tracer reads, sorts and prints it.
Prints the time from the command's end to the map's first line and to the tracer's exit, and
the lines printed. The map size is raised for both tracers (BPFTRACE_MAX_MAP_KEYS,
BPFTRACE_MAP_KEYS_MAX).
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
argv, sys.argv = sys.argv, sys.argv[:1]  # the imported bench reads its own argv
import runaway_input  # noqa: E402  (builds rtrace, lists the tracers)
sys.argv = argv

KEYS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 1
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = "tracepoint:syscalls:sys_enter_lseek /pid == cpid/ { @[args->offset] = count(); }"


def measure(tracer, fill, tmp):
    """(seconds to the first map line, seconds to exit, lines) after the filler ended."""
    end_file = os.path.join(tmp, "fill.end")
    if os.path.exists(end_file):
        os.remove(end_file)
    size = str(KEYS + 100_000)
    env = dict(os.environ, BPFTRACE_MAX_MAP_KEYS=size, BPFTRACE_MAP_KEYS_MAX=size)
    p = subprocess.Popen([tracer, "-c", f"{fill} {KEYS} {end_file}", "-e", SCRIPT],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    first, lines = None, 0
    for line in p.stdout:
        if first is None and line.startswith(b"@"):
            first = time.time()
        lines += 1
    done = time.time()
    p.wait()
    end = float(open(end_file).read())
    return (first - end if first else float("nan")), done - end, lines


def main():
    tracers = runaway_input.tracers()
    with tempfile.TemporaryDirectory() as tmp:
        fill = os.path.join(tmp, "lseek_fill")
        subprocess.run(["cc", "-O2", "-o", fill, os.path.join(ROOT, "benches", "lseek_fill.c")], check=True)
        rows = {name: [] for name, _ in tracers}
        for _ in range(RUNS):
            for name, path in tracers:
                rows[name].append(measure(path, fill, tmp))
    print(f"| tracer | first map line after the run ended | exit after the run ended | lines |")
    print("|---|---|---|---|")
    for name, results in rows.items():
        for first, done, lines in results:
            print(f"| {name} | {first:.2f} s | {done:.2f} s | {lines:,} |")


if __name__ == "__main__":
    main()
