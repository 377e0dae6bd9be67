#!/usr/bin/env bash
# bench/leaderboard.sh: a million-element Momento leaderboard on Ferrite (issue 16: "GetRank and
# GetByRank in microseconds"), beside the same sorted set on redis-server.
#
# bench/lbbench fills leaderboard `lb` of cache `default` with ELEMENTS elements over gRPC
# (UpsertElements of 8192), then asks ITERS requests one at a time (loopback: every figure
# includes a round trip) of: GetRank, GetByRank (a random page of PAGE ranks), GetCompetitionRank,
# UpsertElements of one element; then ZREVRANK and ZREVRANGE of a random page over RESP on the same
# data (the leaderboard is the sorted set `leaderboard:lb`), and on redis-server holding the same
# members and scores. Also: each server's memory for the 1M-element set (INFO used_memory growth).
# Ferrite and redis-server are pinned to SERVER_CPU (0), lbbench to CLIENT_CPU (1).
# Knobs (env): ELEMENTS=1000000 ITERS=20000 PAGE=10 FBIN FPORT=6481 GPORT=50081 RPORT=6482 OUT
# Output: $OUT/summary.txt (default OUT=/tmp/ferrite-bench-leaderboard-<time>).
set -u -o pipefail
ELEMENTS=${ELEMENTS:-1000000}
ITERS=${ITERS:-20000}
PAGE=${PAGE:-10}
FPORT=${FPORT:-6481}
GPORT=${GPORT:-50081}
RPORT=${RPORT:-6482}
MAX_SECONDS=${MAX_SECONDS:-900}
LB_TARGET=${LB_TARGET:-/tmp/lbbench-target}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
bench_init leaderboard
need redis-server redis-server; need redis-cli redis-tools; need cargo cargo; need taskset util-linux

build_ferrite
log "building bench/lbbench"
timeout 1200 cargo build --release --quiet --manifest-path "$HERE/lbbench/Cargo.toml" --target-dir "$LB_TARGET" \
  || { echo "lbbench build failed" >&2; exit 1; }
LB=$LB_TARGET/release/lbbench

used() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '/^used_memory:/{print $2}'; }

FARGS="$FARGS --grpc-port $GPORT"
port_free "$FPORT" || { echo "port $FPORT busy" >&2; exit 1; }
# shellcheck disable=SC2086
taskset -c "$SERVER_CPU" timeout "$MAX_SECONDS" "$FBIN" serve --bind 127.0.0.1 --resp-port "$FPORT" \
  --http-port 0 --admin-port 0 $FARGS > "$OUT/ferrite.log" 2>&1 &
FERRITE_PID=$!; STARTED_PIDS+=("$FERRITE_PID"); wait_port "$FPORT" "$FERRITE_PID" || exit 1
wait_port "$GPORT" "$FERRITE_PID" || exit 1
start_redis "$RPORT"
env_txt > "$OUT/env.txt"

F0=$(used "$FPORT"); R0=$(used "$RPORT")
log "lbbench: $ELEMENTS elements, $ITERS requests per measurement"
taskset -c "$CLIENT_CPU" timeout 600 "$LB" --grpc "http://$H:$GPORT" --ferrite-resp "$H:$FPORT" \
  --redis "$H:$RPORT" --elements "$ELEMENTS" --iters "$ITERS" --page "$PAGE" | tee "$OUT/raw/lbbench.txt"
F1=$(used "$FPORT"); R1=$(used "$RPORT")
{
  cat "$OUT/env.txt"; echo
  cat "$OUT/raw/lbbench.txt"; echo
  echo "memory for the $ELEMENTS-element sorted set (used_memory growth):"
  echo "  ferrite:      $(( (F1 - F0) / 1024 / 1024 )) MiB ($(( (F1 - F0) / ELEMENTS )) B/element)"
  echo "  redis-server: $(( (R1 - R0) / 1024 / 1024 )) MiB ($(( (R1 - R0) / ELEMENTS )) B/element)"
} > "$OUT/summary.txt"
cat "$OUT/summary.txt"
