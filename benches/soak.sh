#!/bin/sh
# The soak: a printf script at the highest event rate this machine sustains, for DURATION
# seconds (default 3600), then SIGINT. Reports: how long rtrace took to exit after the signal,
# its RSS over the run (sampled every INTERVAL seconds, default 60), and whether every event was
# either printed or reported lost (printed lines + the "Lost N events" reports = the load
# program's getppid() calls, which it counts). Run as root from the repository:
#   benches/soak.sh [DURATION] [INTERVAL] > /work/soak-results/soak.txt
# Builds rtrace in release mode first (CARGO_TARGET_DIR is honoured).
set -eu
DURATION=${1:-3600}
INTERVAL=${2:-60}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
RTRACE=$TARGET/release/rtrace
WORK=$(mktemp -d /tmp/soak.XXXXXX)
cc -O2 -o "$WORK/soakload" benches/getppid_count.c
SCRIPT='tracepoint:syscalls:sys_enter_getppid /comm == "soakload"/ { printf("%d\n", pid); }
END { printf("END ran\n"); }'
"$RTRACE" -o "$WORK/events" -e "$SCRIPT" 2>"$WORK/stderr" &
RT=$!
sleep 2
"$WORK/soakload" "$WORK/calls" &
LOAD=$!
echo "soak: $DURATION s, RSS every $INTERVAL s; rtrace pid $RT; started $(date -u +%FT%TZ)"
echo "elapsed_s rss_kib"
ELAPSED=0
while [ "$ELAPSED" -lt "$DURATION" ]; do
    echo "$ELAPSED $(awk '/VmRSS/ {print $2}' /proc/$RT/status)"
    sleep "$INTERVAL"
    ELAPSED=$((ELAPSED + INTERVAL))
done
echo "$ELAPSED $(awk '/VmRSS/ {print $2}' /proc/$RT/status)"
kill -TERM "$LOAD"
wait "$LOAD" || true
sleep 1
T0=$(date +%s%N)
kill -INT "$RT"
wait "$RT" || true
T1=$(date +%s%N)
CALLS=$(cat "$WORK/calls")
PRINTED=$(grep -cv 'END ran' "$WORK/events" || true)
LOST=$(awk '/^Lost [0-9]+ events/ {n += $2} END {print n + 0}' "$WORK/stderr")
echo "stop after SIGINT: $(( (T1 - T0) / 1000000 )) ms"
echo "END ran: $(grep -c 'END ran' "$WORK/events" || true)"
echo "getppid calls: $CALLS; printed: $PRINTED; reported lost: $LOST; unaccounted: $((CALLS - PRINTED - LOST))"
echo "finished $(date -u +%FT%TZ)"
rm -rf "$WORK"
