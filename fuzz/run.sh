#!/bin/sh
# Runs the front_end fuzz target on the stable toolchain. See fuzz/README.md.
#
#   fuzz/run.sh [SECONDS] [extra libFuzzer flags…]     (default: 600 seconds)
#
# Run it from the repository root, as root. It fuzzes in a private mount namespace in which
# /proc/kallsyms (and available_filter_functions) hold a sample of the kernel's functions:
# sema's did-you-mean over all ~120k of them takes most of a second per unknown kprobe in
# the instrumented build and would cut executions per second by 10x. Nothing outside the
# namespace changes. FUZZ_FULL_KALLSYMS=1 fuzzes against the real lists instead.
set -eu
cd "$(dirname "$0")/.."
# cargo-fuzz (crates.io) is installed here, once, and not by scripts/setup: only fuzzing needs
# it, and it takes minutes to build.
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi
secs=${1:-600}
[ $# -gt 0 ] && shift
work=fuzz/corpus-work/front_end # what libFuzzer adds; ignored by git
mkdir -p "$work" fuzz/artifacts/front_end
# Every script of tests/scripts/ as a seed too (written afresh each run; ignored by git).
scripts=fuzz/corpus-work/test_scripts
rm -rf "$scripts" && mkdir -p "$scripts"
python3 - "$scripts" <<'PY'
import pathlib, sys, tomllib
out = pathlib.Path(sys.argv[1])
for i, case in enumerate(sorted(pathlib.Path("tests/scripts").rglob("*.toml"))):
    script = tomllib.loads(case.read_text()).get("script")
    if script and len(script.encode()) <= 4096:
        (out / f"{i:04}_{case.stem}.bt").write_text(script)
PY
cmd="cargo fuzz run --sanitizer none --debug-assertions front_end $work fuzz/corpus/front_end $scripts --
  -dict=fuzz/front_end.dict -max_total_time=$secs -timeout=30 -rss_limit_mb=2048 -max_len=4096
  -print_final_stats=1 $*"
if [ "${FUZZ_FULL_KALLSYMS:-0}" = 1 ]; then
  exec $cmd
fi
mkdir -p fuzz/target
small=fuzz/target/kallsyms.sample
# Every 40th kernel function, plus the families the seed scripts probe.
awk '$2 ~ /^[tT]$/ && (NR % 40 == 0 || $3 ~ /^(vfs_|tcp_|do_sys|blk_|__blk_|__x64_sys_|sched)/)' \
  /proc/kallsyms >"$small"
# The tracefs mount is made first, so that the bind mount below lands inside it.
exec unshare --mount --propagation private sh -c '
  mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
  mount --bind "$1" /proc/kallsyms
  f=/sys/kernel/tracing/available_filter_functions
  if [ -e "$f" ]; then awk "{print \$3}" "$1" >"$1.aff" && mount --bind "$1.aff" "$f"; fi
  shift; exec "$@"' sh "$small" $cmd
