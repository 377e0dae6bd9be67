#!/usr/bin/env bash
# bench/pubsub.sh [quick|full]: Ferrite vs redis-server vs nats-server pub/sub fan-out, side by side.
#
# Issue 3 "Benchmark": 1 publisher -> N subscribers, N in {1,10,100}, payload {64, 1024} B, on loopback,
# with psbench (../shared/bench/psbench; speaks RESP and NATS itself, so the client cost is the same
# for every server):
#   max : closed loop (psbench --rate 0 --window 1000): delivered msgs/s (sum over subscribers)
#   rate: fixed publish rate LAT_RATES (default 10000 publishes/s, i.e. N x 10000 deliveries/s):
#         publish-to-receive latency p50/p99/p99.9 (µs, over every delivery)
# The three servers run at once (idle unless loaded), all pinned to SERVER_CPU; psbench runs on
# CLIENT_CPU. For every point the servers take turns, in an order rotated per point and rep, so
# drift on a noisy machine spreads over all three. Medians over REPS; ratios Ferrite/peer.
#
# Modes: quick = 1 rep, 2 s windows (~3 min); full = 3 reps, 5 s windows (~12 min).
# Knobs (env): REPS PS_SECS PS_WARMUP LAT_RATES="10000" SUBS="1 10 100" SIZES="64 1024" WINDOW=1000
#   SERVERS="ferrite redis nats" FBIN (skip the build) FARGS SERVER_CPU CLIENT_CPU
#   FPORT REDIS_PORT NATS_PORT OUT MAX_SECONDS PSB_TARGET
# Output: $OUT/summary.md (default OUT=/tmp/ferrite-bench-pubsub-<time>), raw psbench CSVs in $OUT/raw,
#   per-run CPU accounting in $OUT/meta.jsonl. Nothing is left running.
set -u -o pipefail
MODE=${1:-quick}
case "$MODE" in
  quick) : "${REPS:=1}" "${PS_SECS:=2}" "${PS_WARMUP:=0.5}" ;;
  full)  : "${REPS:=3}" "${PS_SECS:=5}" "${PS_WARMUP:=1}" ;;
  *) echo "usage: $0 [quick|full]" >&2; exit 2 ;;
esac
LAT_RATES=${LAT_RATES:-10000}
SUBS=${SUBS:-1 10 100}
SIZES=${SIZES:-64 1024}
WINDOW=${WINDOW:-1000}
SERVERS=${SERVERS:-ferrite redis nats}
FPORT=${FPORT:-6479}
REDIS_PORT=${REDIS_PORT:-6399}
NATS_PORT=${NATS_PORT:-4333}
MAX_SECONDS=${MAX_SECONDS:-2400}
HERE=$(cd "$(dirname "$0")" && pwd)
PSB_SRC=${PSB_SRC:-$HERE/../../shared/bench/psbench}
PSB_TARGET=${PSB_TARGET:-/tmp/psbench-target}
. "$HERE/lib.sh"
bench_init pubsub

need redis-server redis-server; need nats-server nats-server; need python3 python3; need cargo cargo
need taskset util-linux; need timeout coreutils

log "mode=$MODE reps=$REPS secs=$PS_SECS warmup=$PS_WARMUP rates=$LAT_RATES out=$OUT"
log "building psbench ($PSB_SRC) into $PSB_TARGET"
timeout 900 cargo build --release --quiet --manifest-path "$PSB_SRC/Cargo.toml" --target-dir "$PSB_TARGET" \
  || { echo "psbench build failed" >&2; exit 1; }
PSB=$PSB_TARGET/release/psbench
build_ferrite
env_txt
{ echo "mode: $MODE, reps=$REPS, window ${PS_SECS}s after ${PS_WARMUP}s warm-up, latency at ${LAT_RATES} publishes/s, closed-loop window $WINDOW msgs"; } >> "$OUT/env.txt"

for s in $SERVERS; do
  case $s in
    ferrite) start_ferrite "$FPORT"; log "ferrite pid $FERRITE_SPID on $H:$FPORT" ;;
    redis)   start_redis "$REDIS_PORT";     log "redis-server pid $REDIS_SPID on $H:$REDIS_PORT" ;;
    nats)    start_nats "$NATS_PORT";       log "nats-server pid $NATS_SPID on $H:$NATS_PORT" ;;
  esac
done

one() { # one SERVER SUBS SIZE RATE REP
  local srv=$1 subs=$2 size=$3 rate=$4 rep=$5 proto port pid mode
  case $srv in
    ferrite) proto=redis; port=$FPORT; pid=$FERRITE_SPID ;;
    redis)   proto=redis; port=$REDIS_PORT;   pid=$REDIS_SPID ;;
    nats)    proto=nats;  port=$NATS_PORT;    pid=$NATS_SPID ;;
  esac
  mode=max; [[ $rate != 0 ]] && mode=r$rate
  RUN "ps|$srv|$subs|$size|$mode|$rep" "$pid" "$OUT/raw/ps-$srv-s$subs-b$size-$mode-r$rep.csv" \
    "$(python3 -c "print(int($PS_SECS + $PS_WARMUP + 40))")" \
    taskset -c "$CLIENT_CPU" "$PSB" --proto "$proto" --port "$port" --subs "$subs" --rate "$rate" \
      --window "$WINDOW" --secs "$PS_SECS" --warmup "$PS_WARMUP" --size "$size" --label "$srv" \
    || log "psbench failed: $srv subs=$subs size=$size $mode rep$rep (see $OUT/raw)"
}

read -r -a SRV <<<"$SERVERS"
k=0
for rep in $(seq 1 "$REPS"); do
  log "rep $rep/$REPS (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
  for subs in $SUBS; do
    for size in $SIZES; do
      for rate in 0 $LAT_RATES; do
        k=$((k + 1))
        for i in "${!SRV[@]}"; do
          one "${SRV[$(( (i + k) % ${#SRV[@]} ))]}" "$subs" "$size" "$rate" "$rep"
        done
      done
    done
  done
done

echo "loadavg at end: $(cat /proc/loadavg)" >> "$OUT/env.txt"
python3 "$HERE/summarize.py" pubsub "$OUT" > /dev/null
log "done: $OUT/summary.md"
cat "$OUT/summary.md"
