#!/usr/bin/env bash
# bench/kv.sh [quick|full]: Ferrite vs redis-server key/value throughput and latency with redis-benchmark.
#
# Matrix: GET and SET x value {32, 1024} B x clients {1, 50} x pipeline {1, 16}, random keys over a
# 100k keyspace (-r 100000, preloaded so GETs hit). Server pinned to SERVER_CPU, redis-benchmark to
# CLIENT_CPU. Both servers run at once (idle unless loaded); for every point they take turns in an
# order that alternates per point and rep. Per run: ops/s, p50/p99/p99.9 (ms, client side), server
# CPU-seconds per wall second and ops per server CPU-second. Medians over REPS; ratios Ferrite/redis.
#
# Modes: quick = 1 rep, 1/4 of the requests (~2 min); full = 3 reps (~10 min).
# Knobs (env): REPS SIZES="32 1024" CLIENTS="1 50" PIPELINES="1 16" OPS="get set" N_SCALE
#   FBIN (skip the build) FARGS SERVER_CPU CLIENT_CPU FPORT REDIS_PORT OUT MAX_SECONDS
# Output: $OUT/summary.md (default OUT=/tmp/ferrite-bench-kv-<time>), raw redis-benchmark output in
#   $OUT/raw, per-run CPU accounting in $OUT/meta.jsonl. Nothing is left running.
set -u -o pipefail
MODE=${1:-quick}
case "$MODE" in
  quick) : "${REPS:=1}" "${N_SCALE:=0.25}" ;;
  full)  : "${REPS:=3}" "${N_SCALE:=1}" ;;
  *) echo "usage: $0 [quick|full]" >&2; exit 2 ;;
esac
SIZES=${SIZES:-32 1024}
CLIENTS=${CLIENTS:-1 50}
PIPELINES=${PIPELINES:-1 16}
OPS=${OPS:-get set}
SERVERS=${SERVERS:-ferrite redis}
FPORT=${FPORT:-6479}
REDIS_PORT=${REDIS_PORT:-6399}
MAX_SECONDS=${MAX_SECONDS:-2400}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
bench_init kv

need redis-server redis-server; need redis-benchmark redis-tools; need redis-cli redis-tools
need python3 python3; need cargo cargo; need taskset util-linux; need timeout coreutils

# requests per run (full mode), by clients x pipeline: ~1-4 s each on a 2-core VM
nreq() { # nreq CLIENTS PIPELINE
  local n
  case "$1:$2" in
    1:1) n=20000 ;; 1:*) n=200000 ;; *:1) n=200000 ;; *) n=2000000 ;;
  esac
  python3 -c "print(max(1000, int($n * $N_SCALE)))"
}

log "mode=$MODE reps=$REPS n_scale=$N_SCALE out=$OUT"
build_ferrite
env_txt
echo "mode: $MODE, reps=$REPS, requests per run scaled by $N_SCALE (full: c1/P1 20k, c1/P16 and c50/P1 200k, c50/P16 2M)" >> "$OUT/env.txt"

for s in $SERVERS; do
  case $s in
    ferrite) start_ferrite "$FPORT"; log "ferrite pid $FERRITE_SPID on $H:$FPORT" ;;
    redis)   start_redis "$REDIS_PORT";     log "redis-server pid $REDIS_SPID on $H:$REDIS_PORT" ;;
  esac
done
port_of() { case $1 in ferrite) echo "$FPORT" ;; redis) echo "$REDIS_PORT" ;; esac; }
pid_of()  { case $1 in ferrite) echo "$FERRITE_SPID" ;; redis) echo "$REDIS_SPID" ;; esac; }

read -r -a SRV <<<"$SERVERS"
k=0
for rep in $(seq 1 "$REPS"); do
  log "rep $rep/$REPS (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
  for size in $SIZES; do
    # preload the 100k keyspace with values of this size so that GETs hit
    for s in "${SRV[@]}"; do
      timeout 120 taskset -c "$CLIENT_CPU" redis-benchmark -h $H -p "$(port_of "$s")" -t set -n 400000 -r 100000 \
        -P 64 -c 4 -d "$size" -q >/dev/null 2>&1 || log "preload failed on $s"
    done
    for c in $CLIENTS; do
      for p in $PIPELINES; do
        n=$(nreq "$c" "$p")
        for op in $OPS; do
          k=$((k + 1))
          for i in "${!SRV[@]}"; do
            s=${SRV[$(( (i + k) % ${#SRV[@]} ))]}
            RUN "kv|$s|$op|$size|$c|$p|$rep" "$(pid_of "$s")" "$OUT/raw/kv-$s-$op-$size-c$c-P$p-r$rep.txt" 180 \
              taskset -c "$CLIENT_CPU" redis-benchmark -h $H -p "$(port_of "$s")" -t "$op" -n "$n" -c "$c" \
                -P "$p" -d "$size" -r 100000 \
              || log "redis-benchmark failed: $s $op $size c$c P$p rep$rep"
          done
        done
      done
    done
  done
done

echo "loadavg at end: $(cat /proc/loadavg)" >> "$OUT/env.txt"
python3 "$HERE/summarize.py" kv "$OUT" > /dev/null
log "done: $OUT/summary.md"
cat "$OUT/summary.md"
