#!/usr/bin/env python3
"""A tool built by `rtrace build` next to libbpf-tools' and BCC's, measured in one run.

Usage (as root): benches/built_tool.py [RUNS] [EVENTS]

Builds the small runtime (scripts/build-stub) and rtrace, builds tools/opensnoop.rt into a
standalone `opensnoop`, then compares it with /usr/sbin/opensnoop (Debian's libbpf-tools) and
/usr/sbin/opensnoop-bpfcc (Debian's bpfcc-tools) — those missing are left out — on:

- file size and shared libraries (ldd);
- start to attached: fork until the tool's first line of output (each prints its header once
  its probes are attached), wall time; CPU time (user + system) and peak RSS of the whole run
  (wait4's rusage; after attaching it only waits), RUNS runs each (default 5), median;
- per-event cost: EVENTS (default 200000) failing open() calls by one process (perl), timed
  with the tool attached (`-x`) and writing to /dev/null with its own buffering, minus the same
  loop with nothing attached, per call.

Prints Markdown tables.
"""
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
EVENTS = int(sys.argv[2]) if len(sys.argv) > 2 else 200000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
LOOP = f'my $i = 0; while ($i++ < {EVENTS}) {{ open(my $f, "<", "/nonexistent-rtrace-bench"); }}'


def build():
    subprocess.run([os.path.join(ROOT, "scripts/build-stub")], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    subprocess.run(["cargo", "build", "--release"], check=True, cwd=ROOT, stderr=subprocess.DEVNULL)
    out = os.path.join(tempfile.mkdtemp(), "opensnoop")
    rtrace = os.path.join(TARGET, "release/rtrace")
    subprocess.run([rtrace, "build", os.path.join(ROOT, "tools/opensnoop.rt"), "-o", out], check=True)
    return out


def line_buffered(argv):
    """`argv` with its output flushed at every line into a pipe: libbpf-tools' C stdio through
    stdbuf, BCC's Python unbuffered (rtrace's tools flush once per batch of events)."""
    if argv[0].endswith("-bpfcc"):
        return ["env", "PYTHONUNBUFFERED=1"] + argv
    if not os.path.basename(argv[0]).startswith("opensnoop") or "/usr/sbin/" not in argv[0]:
        return argv
    return ["stdbuf", "-oL"] + argv


def start(argv):
    """Wall time to the first line of output; CPU of the run (ended by SIGINT, from wait4's
    rusage) and peak RSS (VmHWM, read before the end: wait4's ru_maxrss would count the
    Python parent's pages the child had before exec). None and the error when it fails."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(line_buffered(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    wall = time.perf_counter() - t0
    if b"PID" not in first:
        # Not the header: an error (BCC prints its own on stdout).
        proc.kill()
        proc.wait()
        return None, (first.decode() + proc.stderr.read().decode()).strip().splitlines()[:1]
    with open(f"/proc/{proc.pid}/status") as status:
        hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    proc.send_signal(signal.SIGINT)
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return (wall, usage.ru_utime + usage.ru_stime, hwm), None


def loop_seconds():
    t0 = time.perf_counter()
    subprocess.run(["perl", "-e", LOOP], check=True)
    return time.perf_counter() - t0


def per_event(argv):
    devnull = open(os.devnull, "w")
    # Each tool's own buffering (no stdbuf: a write per line would be charged to libbpf-tools);
    # a second is ample to attach (start-up above).
    proc = subprocess.Popen(argv, stdout=devnull, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    traced = loop_seconds()
    proc.send_signal(signal.SIGINT)
    proc.wait()
    return traced


def libraries(path):
    if path.endswith("-bpfcc"):
        return "python3 + libbcc (LLVM, clang) at run time"
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    names = [line.split()[0] for line in out.splitlines() if "=>" in line]
    return ", ".join(names)


def main():
    if os.geteuid() != 0:
        sys.exit("run as root")
    tools = [("rtrace build opensnoop", build())]
    for name, path in [("libbpf-tools opensnoop", "/usr/sbin/opensnoop"), ("opensnoop-bpfcc", "/usr/sbin/opensnoop-bpfcc")]:
        if os.path.exists(path):
            tools.append((name, path))
    print(f"{RUNS} runs each, medians; per-event: {EVENTS} failing open() calls\n")
    print("| tool | file size | shared libraries | start to attached (wall) | CPU, whole run | peak RSS |")
    print("|---|---|---|---|---|---|")
    working = []
    for name, path in tools:
        argv = [path, "-q"] if name.startswith("rtrace") else [path]
        runs = [start(argv) for _ in range(RUNS)]
        size = os.path.getsize(path)
        failed = next((err for r, err in runs if r is None), None)
        if failed is not None:
            print(f"| {name} | {size / 1000:.0f} KB | {libraries(path)} | cannot start here: {' '.join(failed)[:160]} | | |")
            continue
        working.append((name, path))
        wall, cpu, rss = (statistics.median(r[i] for r, _ in runs) for i in range(3))
        print(f"| {name} | {size / 1000:.0f} KB | {libraries(path)} | {wall * 1000:.1f} ms | {cpu * 1000:.1f} ms | {rss / 1024:.1f} MB |")
    base = statistics.median(loop_seconds() for _ in range(3))
    print(f"\nper event (loop alone: {base / EVENTS * 1e9:.0f} ns per open()):\n")
    print("| tool | loop traced | cost per event |")
    print("|---|---|---|")
    for name, path in working:
        argv = [path, "-q", "-x"] if name.startswith("rtrace") else [path, "-x"]
        traced = statistics.median(per_event(argv) for _ in range(3))
        print(f"| {name} | {traced:.3f} s | {(traced - base) / EVENTS * 1e9:.0f} ns |")


if __name__ == "__main__":
    main()
