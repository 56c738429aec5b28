#!/bin/sh
# PID 1 of the test VM (busybox sh). tests/vm/run packs it as /init, with one
# folder per case run under /cases/NNN/ (see tests/vm/README.md):
#   params   shell assignments: ID, TIMEOUT, SIGNAL (1: SIGINT once `run` has
#            exited), GRACE (seconds after attaching before a SIGINT, or empty),
#            RESEND (1: repeat the SIGINT, see resend_sigint), STDIN (file for
#            the tracer's stdin), PREFIX (first word of `prefix`)
#   cmd.sh   sets the environment and execs the tracer with the case's arguments
#            (for a `same_as_rtrace` case, first runs `rtrace -e` of the script
#            into ./reference and ./reference.err, reported as @@REFERENCE)
#   tool     a `built_tool` case's tool, which cmd.sh runs instead of rtrace
#   run.sh   the case's `run` command, if any
# It runs the cases one after another the way tests/scripts.rs does, and writes
# each one's exit status and base64-encoded stdout, stderr and `run` output to
# the second serial port (/dev/ttyS1), between @@CASE and @@END lines. The host
# compares them with the case's expectations once the VM has powered off.
# Progress goes to the console (ttyS0).

export PATH=/usr/bin HOME=/root
MARKER=__BPFTRACE_NOTIFY_PROBES_ATTACHED

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
ulimit -l unlimited
hostname rtrace-vm
echo 3 > /proc/sys/kernel/printk    # errors only on the console
ip link set lo up    # loopback only, for cases that connect to 127.0.0.1
# The modules tests/vm/run packed (MODULES there), for cases that trace a module.
for ko in /modules/*.ko; do
    [ -e "$ko" ] && insmod "$ko"
done
[ -d /proc/sys/fs/binfmt_misc ] && mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc

stty -F /dev/ttyS1 raw -echo
exec 3> /dev/ttyS1

now() { read -r up _ < /proc/uptime; echo "$up"; }

# A process that has not exited (a zombie has exited but is not reaped yet).
alive() { [ -e "/proc/$1/stat" ] && ! grep -q ') Z ' "/proc/$1/stat" 2>/dev/null; }

# bpftrace 0.17 only looks at its SIGINT flag when epoll_wait returns EINTR
# (poll_perf_events in src/bpftrace.cpp): a SIGINT that arrives while it is
# between two epoll_wait calls is ignored, and it runs on. Under TCG that is
# 2-5% of runs. So, for bpftrace, repeat the SIGINT every 2 s while its SIGINT
# handler is still installed (afterwards, printing the maps, SIGINT is SIG_DFL
# and would kill it), counting the repeats in ./resent.
resend_sigint() {
    n=0
    while sleep 2 && alive "$1"; do
        caught=$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$1/status")
        [ $((0x$caught & 2)) -ne 0 ] || break
        kill -INT "$1" 2> /dev/null || break
        n=$((n + 1))
        echo "$n" > resent
    done
}

run_case() {
    d=$1
    ID= TIMEOUT=10 SIGNAL=1 GRACE= RESEND= STDIN=/dev/null PREFIX=
    . "$d/params"
    echo "rtrace-vm: $ID" > /dev/console
    rm -rf /tmp/case && mkdir /tmp/case && cd /tmp/case || return
    if [ -n "$PREFIX" ] && ! command -v "$PREFIX" > /dev/null; then
        printf '@@CASE %s\n@@SKIP needs `%s` (the `prefix` command), not in the guest\n@@END\n' "$ID" "$PREFIX" >&3
        return
    fi
    t0=$(now)
    sh "$d/cmd.sh" < "$STDIN" > out 2> err 3>&- &
    pid=$!
    # Watchdog: past TIMEOUT, kill the tracer and the `run` command.
    # What each of the tracer's threads was doing goes to the report.
    ( sleep "$TIMEOUT"; touch timedout
      { echo "== at uptime $(now)"
        for t in /proc/"$pid"/task/*; do
            echo "== thread ${t##*/}: $(cat "$t/comm") state $(cut -d' ' -f3 "$t/stat") wchan $(cat "$t/wchan")"
            grep -E '^Sig(Pnd|Blk|Ign|Cgt)' "$t/status"
            cat "$t/stack"
        done; } > hang.txt
      kill -KILL "$pid"
      [ -f rpid ] && kill -KILL "$(cat rpid)" ) 2> /dev/null 3>&- &
    watchdog=$!
    attached=0
    while alive "$pid"; do
        if grep -qx "$MARKER" out err; then attached=1; break; fi
        usleep 20000
    done
    runrc=- sigint=- resender=
    if [ "$attached" = 1 ]; then
        if [ -f "$d/run.sh" ]; then
            RTRACE_PID=$pid sh "$d/run.sh" < /dev/null > run.out 2>&1 3>&- &
            echo "$!" > rpid
            wait "$!"
            runrc=$?
            rm -f rpid
        fi
        if [ "$SIGNAL" = 1 ]; then
            sigint=$(now)
            kill -INT "$pid"
            if [ "$RESEND" = 1 ]; then
                resend_sigint "$pid" 2> /dev/null 3>&- &
                resender=$!
            fi
        elif [ -n "$GRACE" ]; then
            ( sleep "$GRACE"; kill -INT "$pid"
              [ "$RESEND" = 1 ] && resend_sigint "$pid" ) 2> /dev/null 3>&- &
            resender=$!
        fi
    fi
    wait "$pid"
    rc=$?
    kill "$watchdog" $resender 2> /dev/null
    resent=0
    [ -f resent ] && resent=$(cat resent)
    t1=$(now)
    timedout=0
    [ -f timedout ] && timedout=1
    {
        echo "@@CASE $ID"
        echo "@@STATUS rc=$rc attached=$attached timedout=$timedout runrc=$runrc start=$t0 sigint=$sigint resent=$resent end=$t1"
        echo "@@STDOUT"
        base64 out
        echo "@@STDERR"
        base64 err
        if [ -f hang.txt ]; then
            echo "@@HANG"
            base64 hang.txt
        fi
        if [ -f run.out ]; then
            echo "@@RUN"
            base64 run.out
        fi
        if [ -f reference ]; then
            echo "@@REFERENCE"
            base64 reference
            echo "@@REFERENCE_ERR"
            base64 reference.err
        fi
        echo "@@END"
    } >&3
    cd /
}

echo "@@BOOTED uptime=$(now) release=$(uname -r)" >&3
for d in /cases/*/; do
    [ -f "$d/params" ] && run_case "$d"
done
echo "@@DONE uptime=$(now)" >&3
exec 3>&-
sync
poweroff -f
# Should poweroff fail, PID 1 exiting panics the kernel, and panic=-1 plus
# qemu's -no-reboot turn that into qemu exiting.
