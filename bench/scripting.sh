#!/usr/bin/env bash
# bench/scripting.sh [BIN] [N] [CLIENTS]: EVALSHA of small scripts, Ferrite beside redis-server
# in the same run (redis-benchmark, one server at a time, the same load), with the ratio.
# Scripts: a read (GET of KEYS[1]), a rate limiter (INCR + EXPIRE, the common pattern), and
# the empty script (the per-script overhead alone). Build first: `cargo build --release`.
set -u -o pipefail
BIN=${1:-target/release/ferrite}; N=${2:-200000}; C=${3:-50}
command -v redis-server >/dev/null || { echo "needs redis-server" >&2; exit 2; }
FPORT=18711; RPORT=18712
"$BIN" serve --resp-port $FPORT --grpc-port 0 --http-port 0 --admin-port 0 >/dev/null 2>&1 &
fpid=$!
redis-server --port $RPORT --save '' --appendonly no --daemonize no >/dev/null 2>&1 &
rpid=$!
trap 'kill $fpid $rpid 2>/dev/null' EXIT
for p in $FPORT $RPORT; do
  for _ in $(seq 1 100); do redis-cli -p $p ping >/dev/null 2>&1 && break; sleep 0.1; done
done
declare -A SCRIPTS=(
  [read]="return redis.call('get', KEYS[1])"
  [ratelimit]="local n = redis.call('incr', KEYS[1]) if n == 1 then redis.call('expire', KEYS[1], 60) end return n"
  [empty]="return 1"
)
printf '%-10s %14s %14s %8s\n' script ferrite_ops/s redis_ops/s ratio
for name in read ratelimit empty; do
  body=${SCRIPTS[$name]}
  declare -A ops=()
  for p in $FPORT $RPORT; do
    sha=$(redis-cli -p $p script load "$body")
    out=$(redis-benchmark -p $p -n "$N" -c "$C" -q evalsha "$sha" 1 "key:__rand_int__" -r 1000 2>/dev/null | tr '\r' '\n' | grep -Eo '[0-9.]+ requests per second' | tail -1 | cut -d' ' -f1)
    ops[$p]=${out:-0}
  done
  ratio=$(python3 -c "f=${ops[$FPORT]}; r=${ops[$RPORT]}; print(f'{f/r:.2f}' if r else 'n/a')")
  printf '%-10s %14s %14s %8s\n' "$name" "${ops[$FPORT]}" "${ops[$RPORT]}" "$ratio"
done
