#!/bin/bash
# Kill timing, the long version of tests/e2e/test_kill_timing.c: sends SIGINT, SIGTERM or SIGHUP
# at a random moment to `zeus power-limit set` on 64 fake-NVML GPUs and to the optimizer example
# on simulated GPUs, and counts trials in which a GPU was left neither restored nor untouched
# (for `set`: a mix of changed and unchanged GPUs), or persistence mode stayed on, or the
# process hung (not gone 10 s after the signal).
#   bench/kill_timing.sh [BUILD_DIR] [SET_TRIALS] [OPTIMIZER_TRIALS]
# Prints one line per failure and a summary; exits 1 if any trial failed.
set -u
# Job control: without it a non-interactive shell starts background jobs with SIGINT ignored.
set -m
build=${1:-build}
set_trials=${2:-100}
opt_trials=${3:-20}
zeus=$build/zeus
example=$build/example_power_limit_loop
fake=$build/tests/fakes/nvml/libnvidia-ml.so.1
for f in "$zeus" "$example" "$fake"; do
    [ -x "$f" ] || [ -f "$f" ] || { echo "missing $f (build first)" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ZEUS_LOCK_DIR="$work/locks" ZEUS_LOG_LEVEL=error
signals="INT TERM HUP"

write_state() { # FILE GPUS MW
    i=0
    : >"$1"
    while [ $i -lt "$2" ]; do
        echo "gpu $i limit_mw $3 persistence 0" >>"$1"
        i=$((i + 1))
    done
}

random() { # N: a number in [0, N)
    od -An -N4 -tu4 /dev/urandom | awk -v n="$1" '{ print $1 % n }'
}

pick_signal() {
    set -- $signals
    shift "$(random 3)"
    echo "$1"
}

# Waits for PID, started under `timeout -s KILL 10` (which passes our signal on to it); sets
# hung to "hang" when timeout had to kill it.
reap() {
    wait "$1"
    status=$?
    hung=
    [ $status -eq 137 ] && hung=hang
}

failures=0
echo '{"gpus": [{"name": "NVIDIA A40", "count": 64}]}' >"$work/cfg.json"
undone=0 done_=0 rolled_back=0
# Signals land within 1.2 x the time one uninterrupted set takes here (fsync-bound).
write_state "$work/nvml.state" 64 280000
start=$(date +%s%N)
ZEUS_DEVICE=nvml ZEUS_NVML_LIBRARY=$fake ZEUS_FAKE_NVML_CONFIG=$work/cfg.json \
    ZEUS_FAKE_NVML_STATE=$work/nvml.state "$zeus" power-limit set 150 >/dev/null 2>&1
set_ms=$((($(date +%s%N) - start) / 1000000 + 1))
echo "one power-limit set on 64 GPUs: $set_ms ms"
t=0
while [ $t -lt "$set_trials" ]; do
    write_state "$work/nvml.state" 64 280000
    sig=$(pick_signal)
    delay=$(random $((set_ms * 12 / 10 + 1)))
    rm -f "$work/nvml.log"
    ZEUS_DEVICE=nvml ZEUS_NVML_LIBRARY=$fake ZEUS_FAKE_NVML_CONFIG=$work/cfg.json \
        ZEUS_FAKE_NVML_LOG=$work/nvml.log ZEUS_FAKE_NVML_STATE=$work/nvml.state timeout -s KILL 10 "$zeus" power-limit set 150 >/dev/null 2>&1 &
    pid=$!
    sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
    kill -s "$sig" $pid 2>/dev/null
    reap $pid
    before=$(grep -c 'limit_mw 280000' "$work/nvml.state")
    after=$(grep -c 'limit_mw 150000' "$work/nvml.state")
    if [ -n "$hung" ] || { [ "$before" -ne 64 ] && [ "$after" -ne 64 ]; }; then
        echo "set trial $t: SIG$sig after ${delay} ms: $before untouched, $after changed $hung"
        failures=$((failures + 1))
    elif [ "$before" -eq 64 ]; then
        if grep -q ' 150000$' "$work/nvml.log" 2>/dev/null; then
            rolled_back=$((rolled_back + 1))
        else
            undone=$((undone + 1))
        fi
    else
        done_=$((done_ + 1))
    fi
    t=$((t + 1))
done
echo "power-limit set: $set_trials trials: $undone untouched, $rolled_back rolled back mid-set, $done_ all changed"

opt_failures=0
t=0
while [ $t -lt "$opt_trials" ]; do
    write_state "$work/sim.state" 4 280000
    sig=$(pick_signal)
    delay=$(($(random 3000) + 200))
    ZEUS_DEVICE=sim ZEUS_SIM_STATE=$work/sim.state timeout -s KILL 10 "$example" >/dev/null 2>&1 &
    pid=$!
    sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
    kill -s "$sig" $pid 2>/dev/null
    reap $pid
    restored=$(grep -c 'limit_mw 280000' "$work/sim.state")
    persistent=$(grep -c 'persistence 1' "$work/sim.state")
    if [ -n "$hung" ] || [ "$restored" -ne 4 ] || [ "$persistent" -ne 0 ]; then
        echo "optimizer trial $t: SIG$sig after ${delay} ms: $restored restored, $persistent persistent $hung"
        opt_failures=$((opt_failures + 1))
    fi
    t=$((t + 1))
done
echo "optimizer: $opt_trials trials, $opt_failures failures"
failures=$((failures + opt_failures))
echo "total: $((set_trials + opt_trials)) trials, $failures failures"
[ $failures -eq 0 ]
