#!/usr/bin/env bash
# bench/instructions.sh BIN_A BIN_B [OP] [PIPELINE] [N]: server instructions per request of two
# Ferrite builds under the same fixed workload (valgrind callgrind; one redis-benchmark client,
# N requests of OP at PIPELINE), startup subtracted. Deterministic, unlike ops/s on a shared
# 2-core VM: use it to A/B a change to the request path (docs/benchmarks.md has results).
# Build the two binaries first (`cargo build --release`, e.g. one in a `git worktree`).
set -u -o pipefail
A=$1; B=$2; OP=${3:-get}; P=${4:-16}; N=${5:-200000}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
port=18500
total() { # total BIN REQUESTS: callgrind's instruction count for the whole run
  local out
  out=$(mktemp /tmp/ferrite-cg.XXXXXX)
  port=$((port + 1))
  valgrind --tool=callgrind --callgrind-out-file="$out" "$1" serve --resp-port $port \
    --grpc-port 0 --http-port 0 --admin-port 0 >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 200); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.2; done
  redis-benchmark -p $port -t "$OP" -n "$2" -P "$P" -c 1 -r 1000 -q >/dev/null 2>&1
  kill -INT $pid; wait $pid 2>/dev/null
  callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(/,/, "", $1); print $1; exit}'
  rm -f "$out"
}
for bin in "$A" "$B"; do
  idle=$(total "$bin" "$P")
  busy=$(total "$bin" "$N")
  echo "$bin: $(( (busy - idle) / N )) instructions per $OP (pipeline $P, $N requests)"
done
