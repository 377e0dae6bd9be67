#!/usr/bin/env bash
# bench/grpc.sh [quick|full]: Ferrite's Momento-compatible gRPC API (cache_client.Scs Get/Set) under load,
# next to Ferrite's own RESP path (redis-benchmark GET/SET against the same server).
#
# Issue 4 "Benchmark": bench/grpcbench (tonic client from momento-protos) drives Get and Set over
# GCONNS HTTP/2 connections x GCONC concurrent requests each, at fixed offered rates RATES (open loop,
# default 5000 10000 20000 ops/s) and closed loop. It reports achieved ops/s and p50/p99/p99.9 of the
# response time (from each request's scheduled start: queueing included) and of the service time (from
# when it was actually sent). Then redis-benchmark runs GET and SET against Ferrite's RESP port with
# the same number of requests in flight, two ways: GCONNS*GCONC connections x pipeline 1, and GCONNS
# connections x pipeline GCONC (like HTTP/2 multiplexing). Goals: response p99 < 1 ms at 20,000 ops/s;
# closed-loop gRPC ops/s >= half the RESP ops/s.
# Ferrite is pinned to SERVER_CPU (0), every client to CLIENT_CPU (1).
#
# Modes: quick = 1 rep, 5 s windows (~2 min); full = 3 reps, 10 s windows (~8 min).
# FLOOR_BIN=/path/to/grpc_null_server (from ../shared/bench/grpcfloor; `apt-get install protobuf-compiler`, then
#   cargo build --release --target-dir /tmp/grpcfloor-target in that folder) adds the floor of the gRPC path: the
#   same Get load against a do-nothing tonic server on the same core, and Ferrite's ops per CPU-second against it.
# Knobs (env): REPS SECS WARMUP RATES="5000 10000 20000" OPS="get set" GCONNS=4 GCONC=16 VALUE=32
#   KEYS=100000 RB_N (requests per redis-benchmark run) FBIN (skip the ferrite build) GBIN (skip the
#   grpcbench build) FARGS SERVER_CPU CLIENT_CPU FPORT GPORT OUT MAX_SECONDS GB_TARGET
# Output: $OUT/summary.md (default OUT=/tmp/ferrite-bench-grpc-<time>), raw client output in $OUT/raw,
#   per-run CPU accounting in $OUT/meta.jsonl. Nothing is left running.
set -u -o pipefail
MODE=${1:-quick}
case "$MODE" in
  quick) : "${REPS:=1}" "${SECS:=5}" "${WARMUP:=1}" "${RB_N:=300000}" ;;
  full)  : "${REPS:=3}" "${SECS:=10}" "${WARMUP:=2}" "${RB_N:=1000000}" ;;
  *) echo "usage: $0 [quick|full]" >&2; exit 2 ;;
esac
RATES=${RATES:-5000 10000 20000}
OPS=${OPS:-get set}
GCONNS=${GCONNS:-4}
GCONC=${GCONC:-16}
VALUE=${VALUE:-32}
KEYS=${KEYS:-100000}
FPORT=${FPORT:-6479}
GPORT=${GPORT:-50061}
MAX_SECONDS=${MAX_SECONDS:-1800}
GB_TARGET=${GB_TARGET:-/tmp/grpcbench-target}
FLOOR_BIN=${FLOOR_BIN:-}
FLOOR_PORT=${FLOOR_PORT:-50071}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
bench_init grpc

need redis-benchmark redis-tools; need python3 python3; need cargo cargo; need taskset util-linux
need timeout coreutils

start_ferrite_grpc() { # start_ferrite_grpc RESP_PORT GRPC_PORT -> FERRITE_PID, FERRITE_SPID
  port_free "$1" || { echo "port $1 busy" >&2; exit 1; }
  port_free "$2" || { echo "port $2 busy" >&2; exit 1; }
  # shellcheck disable=SC2086
  taskset -c "$SERVER_CPU" timeout "$MAX_SECONDS" "$FBIN" serve --bind 127.0.0.1 --resp-port "$1" \
    --grpc-port "$2" --http-port 0 --admin-port 0 $FARGS > "$OUT/ferrite.log" 2>&1 &
  FERRITE_PID=$!; STARTED_PIDS+=("$FERRITE_PID")
  wait_port "$1" "$FERRITE_PID" || exit 1
  wait_port "$2" "$FERRITE_PID" || exit 1
  FERRITE_SPID=$(child_of "$FERRITE_PID"); STARTED_PIDS+=("$FERRITE_SPID")
}

log "mode=$MODE reps=$REPS secs=$SECS rates=[$RATES] ops=[$OPS] conns=$GCONNS x $GCONC value=${VALUE}B out=$OUT"
build_ferrite
if [[ -z "${GBIN:-}" ]]; then
  log "cargo build --release bench/grpcbench (target dir $GB_TARGET)"
  timeout 1800 cargo build --release --quiet --manifest-path "$HERE/grpcbench/Cargo.toml" \
    --target-dir "$GB_TARGET" || { echo "grpcbench build failed" >&2; exit 1; }
  GBIN=$GB_TARGET/release/grpcbench
fi
[[ -x "$GBIN" ]] || { echo "no grpcbench binary at $GBIN" >&2; exit 1; }
env_txt
{
  echo "mode: $MODE, reps=$REPS, ${SECS}s windows after ${WARMUP}s warm-up, value ${VALUE} B, ${KEYS} keys"
  echo "grpcbench: $GCONNS connections x $GCONC concurrent requests; redis-benchmark: $RB_N requests per run"
} >> "$OUT/env.txt"

start_ferrite_grpc "$FPORT" "$GPORT"
log "ferrite pid $FERRITE_SPID: RESP $H:$FPORT, gRPC $H:$GPORT"

# preload: gRPC keys (cache `bench`, key:N) and RESP keys (cache `default`, redis-benchmark's key:__rand_int__)
RUN "preload|grpc" "$FERRITE_SPID" "$OUT/raw/preload-grpc.txt" 300 \
  taskset -c "$CLIENT_CPU" "$GBIN" --addr "http://$H:$GPORT" --op get --rate 0 --duration 0.2 --warmup 0 \
    --keys "$KEYS" --value-size "$VALUE" --label preload \
  || { log "gRPC preload failed: $(tail -3 "$OUT/raw/preload-grpc.txt")"; exit 1; }
timeout 120 taskset -c "$CLIENT_CPU" redis-benchmark -h $H -p "$FPORT" -t set -n $((KEYS * 4)) -r "$KEYS" \
  -P 64 -c 4 -d "$VALUE" -q > /dev/null 2>&1 || log "RESP preload failed"

for rep in $(seq 1 "$REPS"); do
  log "rep $rep/$REPS (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
  for op in $OPS; do
    for rate in $RATES 0; do
      RUN "grpc|$op|$rate|$rep" "$FERRITE_SPID" "$OUT/raw/grpc-$op-r$rate-rep$rep.txt" $((SECS * 3 + 60)) \
        taskset -c "$CLIENT_CPU" "$GBIN" --addr "http://$H:$GPORT" --op "$op" --rate "$rate" \
          --duration "$SECS" --warmup "$WARMUP" --conns "$GCONNS" --concurrency "$GCONC" \
          --keys "$KEYS" --value-size "$VALUE" --no-preload --label "grpc $op rep$rep" \
        || log "grpcbench failed: $op rate $rate rep $rep"
    done
    for shape in "$((GCONNS * GCONC)):1" "$GCONNS:$GCONC"; do
      c=${shape%%:*}; p=${shape##*:}
      RUN "resp|$op|c$c-P$p|$rep" "$FERRITE_SPID" "$OUT/raw/resp-$op-c$c-P$p-rep$rep.txt" 180 \
        taskset -c "$CLIENT_CPU" redis-benchmark -h $H -p "$FPORT" -t "$op" -n "$RB_N" -c "$c" -P "$p" \
          -d "$VALUE" -r "$KEYS" --csv \
        || log "redis-benchmark failed: $op c$c P$p rep $rep"
    done
  done
done
if [[ -n "$FLOOR_BIN" ]]; then
  port_free "$FLOOR_PORT" || { echo "port $FLOOR_PORT busy" >&2; exit 1; }
  # grpc_null_server PORT VSIZE SECONDS: single-threaded runtime, Get answers Hit with VSIZE bytes
  taskset -c "$SERVER_CPU" timeout "$MAX_SECONDS" "$FLOOR_BIN" "$FLOOR_PORT" "$VALUE" "$MAX_SECONDS" \
    > "$OUT/floor.log" 2>&1 &
  FLOOR_PID=$!; STARTED_PIDS+=("$FLOOR_PID"); wait_port "$FLOOR_PORT" "$FLOOR_PID" || exit 1
  FLOOR_SPID=$(child_of "$FLOOR_PID"); STARTED_PIDS+=("$FLOOR_SPID")
  for rep in $(seq 1 "$REPS"); do
    for rate in $RATES 0; do
      RUN "floor|get|$rate|$rep" "$FLOOR_SPID" "$OUT/raw/floor-get-r$rate-rep$rep.txt" $((SECS * 3 + 60)) \
        taskset -c "$CLIENT_CPU" "$GBIN" --addr "http://$H:$FLOOR_PORT" --op get --rate "$rate" \
          --duration "$SECS" --warmup "$WARMUP" --conns "$GCONNS" --concurrency "$GCONC" \
          --keys "$KEYS" --value-size "$VALUE" --no-preload --label "floor get rep$rep" \
        || log "grpcbench failed against the floor server: rate $rate rep $rep"
    done
  done
fi
echo "loadavg at end: $(cat /proc/loadavg)" >> "$OUT/env.txt"

python3 - "$OUT" <<'EOF'
import json, os, statistics, sys
out = sys.argv[1]
meta = [json.loads(l) for l in open(os.path.join(out, 'meta.jsonl')) if l.strip()]
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def f0(x): return 'n/a' if x is None else f'{x:,.0f}'
def f2(x): return 'n/a' if x is None else f'{x:.2f}'
def f3(x): return 'n/a' if x is None else f'{x:.3f}'
grpc, resp, floor = {}, {}, {}
for m in meta:
    parts = m['label'].split('|')
    if parts[0] in ('grpc', 'floor'):
        js = [l for l in open(m['out'], errors='replace') if l.startswith('{')]
        if not js: continue
        r = json.loads(js[-1]); r['meta'] = m
        (grpc if parts[0] == 'grpc' else floor).setdefault((parts[1], int(parts[2])), []).append(r)
    elif parts[0] == 'resp':
        rows = [l.strip().strip('"').split('","') for l in open(m['out'], errors='replace') if l.startswith('"')]
        hdr = rows[0] if rows else []
        for row in rows[1:]:
            d = dict(zip(hdr, row))
            try:
                r = dict(ops=float(d['rps']), p50=float(d['p50_latency_ms']), p99=float(d['p99_latency_ms']), meta=m)
            except (KeyError, ValueError):
                continue
            resp.setdefault((parts[1], parts[2]), []).append(r)
L = []; P = L.append
P('```'); P(open(os.path.join(out, 'env.txt')).read().strip()); P('```'); P('')
P('gRPC (grpcbench): response time = from the scheduled start (queueing included); service time = from the send. ms.')
P('')
P('| op | offered ops/s | achieved ops/s | response p50 / p99 / p99.9 | service p50 / p99 / p99.9 | errors | ferrite CPU s/s | other CPU | load1 |')
P('|---|---|---|---|---|---|---|---|---|')
for (op, rate) in sorted(grpc, key=lambda k: (k[0], k[1] == 0, k[1])):
    rs = grpc[(op, rate)]
    g = lambda f: med([f(r) for r in rs])
    P(f"| {op.upper()} | {'closed loop' if rate == 0 else f0(rate)} | {f0(g(lambda r: r['ops']))} | "
      f"{f3(g(lambda r: r['response_ms']['p50']))} / {f3(g(lambda r: r['response_ms']['p99']))} / {f3(g(lambda r: r['response_ms']['p999']))} | "
      f"{f3(g(lambda r: r['service_ms']['p50']))} / {f3(g(lambda r: r['service_ms']['p99']))} / {f3(g(lambda r: r['service_ms']['p999']))} | "
      f"{f0(g(lambda r: r['errors']))} | {f2(g(lambda r: r['meta']['server_cpu'] / r['meta']['wall']))} | "
      f"{f2(g(lambda r: r['meta']['foreign_cpu'] / r['meta']['wall']))} | {g(lambda r: float(r['meta']['loadavg1']))} |")
P('')
P('RESP (redis-benchmark against the same Ferrite; CPU figures span the whole run, not only the timed part):')
P('')
P('| op | clients x pipeline | ops/s | p50 / p99 ms | ferrite CPU s/s | other CPU | load1 |')
P('|---|---|---|---|---|---|---|')
for (op, shape) in sorted(resp):
    rs = resp[(op, shape)]
    g = lambda f: med([f(r) for r in rs])
    P(f"| {op.upper()} | {shape.replace('-', ' ').replace('c', '').replace(' P', ' x ')} | {f0(g(lambda r: r['ops']))} | "
      f"{f3(g(lambda r: r['p50']))} / {f3(g(lambda r: r['p99']))} | {f2(g(lambda r: r['meta']['server_cpu'] / r['meta']['wall']))} | "
      f"{f2(g(lambda r: r['meta']['foreign_cpu'] / r['meta']['wall']))} | {g(lambda r: float(r['meta']['loadavg1']))} |")
P('')
P('Goals (issue 4):')
for op in sorted({k[0] for k in grpc}):
    rs = grpc.get((op, 20000))
    if rs:
        p99 = med([r['response_ms']['p99'] for r in rs]); s99 = med([r['service_ms']['p99'] for r in rs])
        P(f"- {op.upper()} p99 < 1 ms at 20,000 ops/s: response p99 {f3(p99)} ms, service p99 {f3(s99)} ms: "
          f"**{'met' if p99 < 1 else 'not met'}**")
    closed = grpc.get((op, 0))
    if not closed: continue
    c = med([r['ops'] for r in closed])
    for (o, shape), v in sorted(resp.items()):
        if o != op: continue
        b = med([r['ops'] for r in v])
        if not b: continue
        P(f"- {op.upper()} closed-loop gRPC ops/s >= 1/2 of RESP ({shape.replace('-', ' ')}): {f0(c)} vs {f0(b)} "
          f"(x{c / b:.2f}): **{'met' if c >= b / 2 else 'not met'}**")
P('')
if floor:
    P('Floor of the gRPC path: the same Get load against a do-nothing tonic server (../shared/bench/grpcfloor) on the same core:')
    P('')
    P('| offered ops/s | floor ops/s | floor response p99 / service p99 ms | floor CPU s/s | floor ops per CPU-s | ferrite ops per CPU-s | ferrite / floor |')
    P('|---|---|---|---|---|---|---|')
    for rate in sorted({k[1] for k in floor}, key=lambda r: (r == 0, r)):
        fl = floor[('get', rate)]; fe = grpc.get(('get', rate), [])
        opcpu = lambda rs: med([r['ops'] / (r['meta']['server_cpu'] / r['meta']['wall']) for r in rs if r['meta']['server_cpu'] > 0])
        a, b = opcpu(fl), opcpu(fe)
        P(f"| {'closed loop' if rate == 0 else f0(rate)} | {f0(med([r['ops'] for r in fl]))} | "
          f"{f3(med([r['response_ms']['p99'] for r in fl]))} / {f3(med([r['service_ms']['p99'] for r in fl]))} | "
          f"{f2(med([r['meta']['server_cpu'] / r['meta']['wall'] for r in fl]))} | {f0(a)} | {f0(b)} | "
          f"{'n/a' if not a or not b else f'{b / a:.2f}'} |")
    P('')
    P('(ops per CPU-second uses the server CPU over the whole grpcbench run, warm-up included, for both servers alike.)')
    P('')
P('Client CPU (grpcbench / redis-benchmark, CPU s per wall s; 1.00 = the client CPU is saturated and the figures are client-bound):')
P('')
P('| run | client CPU s/s | ferrite CPU s/s | steal s/s |')
P('|---|---|---|---|')
for m in meta:
    if m['label'].startswith('preload') or not m['wall']: continue
    P(f"| {m['label'].rsplit('|', 1)[0].replace('|', ' ')} | {m['client_cpu'] / m['wall']:.2f} | {m['server_cpu'] / m['wall']:.2f} | {m['steal'] / m['wall']:.2f} |")
open(os.path.join(out, 'summary.md'), 'w').write('\n'.join(L) + '\n')
EOF
log "done: $OUT/summary.md"
cat "$OUT/summary.md"
