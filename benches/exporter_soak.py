#!/usr/bin/env python3
"""Soak test of `rtrace --prometheus`: an exporter on a busy tracepoint, scraped every second.
Run as root:

    benches/exporter_soak.py [SECONDS] [CALLS]

(defaults 600 and 2,000,000; SECONDS 0 runs the per-event table only). Builds rtrace (release)
and benches/getppid.c. The exporter runs
`@calls[comm] = count(); @lat = hist(...)` on `tracepoint:raw_syscalls:sys_enter` (every system
call of the machine) while a getppid() loop keeps it busy; every second this script scrapes
/metrics and records the scrape's latency and rtrace's RSS. It prints RSS and scrape latency per
minute, then the per-event cost (ns per getppid() call) of `@[comm] = count()` and of
`@h = hist(pid)` on sys_enter_getppid without the exporter, with it (scraped every second), and
untraced (with --prometheus a histogram also keeps its sum: one more map update an event).
"""
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 600
CALLS = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000_000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = "/tmp/rtrace-bench"
LOOP = f"{BUILD}/getppid"
RTRACE = os.environ.get("CARGO_TARGET_DIR", f"{ROOT}/target") + "/release/rtrace"
PORT = 19500
SOAK = ("tracepoint:raw_syscalls:sys_enter { @calls[comm] = count(); @id = hist(args.id); }")
PER_EVENT = [
    ("count", "tracepoint:syscalls:sys_enter_getppid { @[comm] = count(); }"),
    ("hist", "tracepoint:syscalls:sys_enter_getppid { @h = hist(pid); }"),
]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def scrape():
    t = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=10) as r:
        body = r.read()
    return (time.monotonic() - t) * 1000, len(body)


def start(script, exporter):
    args = [RTRACE, "-q", "-e", script] + (["--prometheus", f"127.0.0.1:{PORT}"] if exporter else [])
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2)
    return p


def loop_ns():
    return float(subprocess.check_output([LOOP, str(CALLS)]).decode())


def main():
    os.makedirs(BUILD, exist_ok=True)
    subprocess.check_call(["cargo", "build", "--release", "-q"], cwd=ROOT)
    subprocess.check_call(["cc", "-O2", "-o", LOOP, f"{ROOT}/benches/getppid.c"])
    if SECONDS > 0:
        soak()
    per_event()


def soak():
    p = start(SOAK, True)
    busy = subprocess.Popen(["sh", "-c", f"while :; do {LOOP} {CALLS} >/dev/null; done"])
    rows = []
    try:
        t0 = time.monotonic()
        minute = []
        while time.monotonic() - t0 < SECONDS:
            ms, size = scrape()
            minute.append((ms, rss_kib(p.pid), size))
            if len(minute) == 60:
                report(rows, minute)
                minute = []
            time.sleep(max(0, 1 - ms / 1000))
        if minute:
            report(rows, minute)
    finally:
        busy.kill()
        p.send_signal(2)
        p.wait()


def report(rows, minute):
    """Prints one minute's scrape latencies (median, max), RSS and page size at its end."""
    lat = [m[0] for m in minute]
    rows.append((len(rows) + 1, statistics.median(lat), max(lat), minute[-1][1], minute[-1][2]))
    print("minute %2d: scrape median %.2f ms, max %.2f ms, RSS %d KiB, page %d bytes" % rows[-1], flush=True)


def per_event():
    """ns per getppid(): untraced, traced, traced by an exporter scraped every second."""
    results = {"untraced": []}
    for _ in range(5):
        results["untraced"].append(loop_ns())
        for name, script in PER_EVENT:
            for exporter in (False, True):
                p = start(script, exporter)
                stop = threading.Event()

                def scraper():
                    while not stop.is_set():
                        scrape()
                        time.sleep(1)

                t = threading.Thread(target=scraper)
                if exporter:
                    t.start()
                row = "%s, %s" % (name, "exporter scraped 1/s" if exporter else "no exporter")
                results.setdefault(row, []).append(loop_ns())
                stop.set()
                if exporter:
                    t.join()
                p.send_signal(2)
                p.wait()
    for name, v in results.items():
        print("%-34s %.1f ns per getppid() (median of 5: %s)" % (name, statistics.median(v), ", ".join("%.1f" % x for x in v)))


if __name__ == "__main__":
    main()
