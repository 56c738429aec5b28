#!/bin/sh
# Many probes, attach to exit, and how long the detaching child outlives rtrace:
#   benches/detach.sh RTRACE [RUNS]
# Prints, per run: rtrace's wall time (attach, a 100 ms tick, exit) and the time from its exit
# until no process running RTRACE is left (the background child that releases the probes).
set -eu
RTRACE=$1
RUNS=${2:-3}
SCRIPT='tracepoint:syscalls:sys_enter_* { @[probe] = count(); } interval:ms:100 { exit(); }'
echo "run rtrace_s child_after_s"
i=0
while [ "$i" -lt "$RUNS" ]; do
    i=$((i + 1))
    T0=$(date +%s%N)
    "$RTRACE" -q -e "$SCRIPT" > /dev/null
    T1=$(date +%s%N)
    while pgrep -f "^$RTRACE -q -e" > /dev/null; do sleep 0.01; done
    T2=$(date +%s%N)
    echo "$i $(echo "scale=3; ($T1 - $T0) / 1000000000" | bc) $(echo "scale=3; ($T2 - $T1) / 1000000000" | bc)"
done
