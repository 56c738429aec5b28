#!/usr/bin/env python3
"""Runaway input: the issue's large and deep scripts, each run once by every tracer. Run as root:

    benches/runaway_input.py [TIMEOUT]     (default 60 seconds a run)

Tracers: rtrace (this tree's release build, built first), the build named by RTRACE_COMPARE if
set (e.g. main before the fix), and bpftrace 0.17 (/usr/bin/bpftrace). Each input is written
to a temporary file and run as `TRACER FILE`; every script ends itself (`exit()` in BEGIN).
For each: the wall time (fork to exit) and how it ended: the exit status, "timeout" (killed
after TIMEOUT s), or a signal; the bytes on stdout; and the first line of stderr that is not bpftrace's
RLIMIT_MEMLOCK notice. Runs that would grow until out of memory (`UNBOUNDED`) are not made.
"""
import os
import subprocess
import sys
import tempfile
import time

TIMEOUT = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def statements(n):
    body = "".join(f"  $x{i % 10} = {i};\n" for i in range(n))
    return "BEGIN {\n" + body + "  exit();\n}\n"


INPUTS = [
    ("5,000 statements in one block", lambda: statements(5000)),
    ("20,000 statements in one block", lambda: statements(20000)),
    ("50,000 statements in one block", lambda: statements(50000)),
    ("1,000 `@x = 1;`", lambda: "BEGIN {\n" + "  @x = 1;\n" * 1000 + "  exit();\n}\n"),
    ("10,000 `@x = 1;`", lambda: "BEGIN {\n" + "  @x = 1;\n" * 10000 + "  exit();\n}\n"),
    ("1,000 BEGIN probes", lambda: "BEGIN { @a = 1; }\n" * 1000 + "BEGIN { exit(); }\n"),
    ("8,000 BEGIN probes", lambda: "BEGIN { @a = 1; }\n" * 8000 + "BEGIN { exit(); }\n"),
    ("350,000 nested `{`", lambda: "BEGIN " + "{" * 350000 + "}" * 350000 + "\n"),
    ("2.5 million `!`", lambda: "BEGIN { @x = " + "!" * 2500000 + "1; exit(); }\n"),
    ("`cat(\"/dev/zero\")`", lambda: 'BEGIN { cat("/dev/zero"); exit(); }\n'),
    ("the script file is /dev/zero", None),
]

# Runs left out: they grow until memory runs out (the issue saw it), which would hurt
# whatever else runs on the machine.
UNBOUNDED = {("`cat(\"/dev/zero\")`", "rtrace before"), ("the script file is /dev/zero", "rtrace before"),
             ("the script file is /dev/zero", "bpftrace 0.17")}


def tracers():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    found = [("rtrace", os.path.join(target, "release", "rtrace"))]
    if os.environ.get("RTRACE_COMPARE"):
        found.append(("rtrace before", os.environ["RTRACE_COMPARE"]))
    if os.path.exists("/usr/bin/bpftrace"):
        found.append(("bpftrace 0.17", "/usr/bin/bpftrace"))
    return found


def run(binary, path):
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen([binary, path], stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        try:
            status = p.wait(timeout=TIMEOUT)
            ended = f"exit {status}" if status >= 0 else f"signal {-status}"
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            ended = "timeout"
        took = time.monotonic() - start
        err.seek(0)
        lines = [l for l in err.read().decode(errors="replace").splitlines() if l and "RLIMIT_MEMLOCK" not in l]
        out.seek(0, os.SEEK_END)
        size = out.tell()
    first = lines[0][:90] if lines else ""
    return took, ended, first, size


def main():
    found = tracers()
    print("| input | tracer | wall | ended | stdout bytes | first line of stderr |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for name, make in INPUTS:
            path = "/dev/zero"
            if make is not None:
                path = os.path.join(d, "input.bt")
                with open(path, "w") as f:
                    f.write(make())
            for tracer, binary in found:
                if (name, tracer) in UNBOUNDED:
                    print(f"| {name} | {tracer} | not run: grows until out of memory | | | |", flush=True)
                    continue
                took, ended, first, out = run(binary, path)
                first = first.replace("|", "\\|")
                print(f"| {name} | {tracer} | {took:.2f} s | {ended} | {out} | {first} |", flush=True)


if __name__ == "__main__":
    main()
