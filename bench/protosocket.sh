#!/usr/bin/env bash
# bench/protosocket.sh: Ferrite's protosocket fast path (issue 16 part 4) beside its gRPC and RESP
# paths, in one run, on one Ferrite, at the same number of requests in flight.
#
# - protosocket: bench/psbench, the official `momento` SDK's ProtosocketCacheClient, CONNS
#   connections, CONNS*DEPTH tasks in a closed loop (each sends its next request when the last
#   answers);
# - gRPC: bench/grpcbench, CONNS HTTP/2 connections x DEPTH concurrent requests, closed loop;
# - RESP: redis-benchmark, CONNS connections x pipeline DEPTH, and CONNS*DEPTH connections x 1.
# Get (and Set with OPS="get set") of VALUE-byte values over KEYS keys. Ferrite is pinned to
# SERVER_CPU (0), every client to CLIENT_CPU (1). The figure the issue sets goals on is ops per
# server CPU-second (ops/s divided by Ferrite's CPU seconds per second over the run): protosocket
# >= 3x gRPC and >= 0.8x RESP at the same shape, p99 no worse than RESP's.
# Knobs (env): OPS="get" CONNS=4 DEPTH=16 VALUE=32 KEYS=100000 SECS=5 WARMUP=1 REPS=1 RB_N=300000
#   FBIN GBIN PBIN FPORT=6491 GPORT=50091 PPORT=9094 OUT MAX_SECONDS
# Output: $OUT/summary.md (default OUT=/tmp/ferrite-bench-protosocket-<time>), raw output in $OUT/raw.
set -u -o pipefail
OPS=${OPS:-get}
CONNS=${CONNS:-4}
DEPTH=${DEPTH:-16}
VALUE=${VALUE:-32}
KEYS=${KEYS:-100000}
SECS=${SECS:-5}
WARMUP=${WARMUP:-1}
REPS=${REPS:-1}
RB_N=${RB_N:-300000}
FPORT=${FPORT:-6491}
GPORT=${GPORT:-50091}
PPORT=${PPORT:-9094}
MAX_SECONDS=${MAX_SECONDS:-1800}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
bench_init protosocket
need redis-benchmark redis-tools; need python3 python3; need cargo cargo; need taskset util-linux

build_ferrite
if [[ -z "${GBIN:-}" ]]; then
  log "building bench/grpcbench"
  timeout 1800 cargo build --release --quiet --manifest-path "$HERE/grpcbench/Cargo.toml" \
    --target-dir /tmp/grpcbench-target || { echo "grpcbench build failed" >&2; exit 1; }
  GBIN=/tmp/grpcbench-target/release/grpcbench
fi
if [[ -z "${PBIN:-}" ]]; then
  log "building bench/psbench"
  timeout 1800 cargo build --release --quiet --manifest-path "$HERE/psbench/Cargo.toml" \
    --target-dir /tmp/psbench-target || { echo "psbench build failed" >&2; exit 1; }
  PBIN=/tmp/psbench-target/release/psbench
fi
env_txt > "$OUT/env.txt"
echo "shape: $CONNS connections x $DEPTH in flight each ($((CONNS * DEPTH)) in flight), value ${VALUE} B, ${KEYS} keys, ${SECS}s windows" >> "$OUT/env.txt"

for p in "$FPORT" "$GPORT" "$PPORT"; do port_free "$p" || { echo "port $p busy" >&2; exit 1; }; done
# shellcheck disable=SC2086
taskset -c "$SERVER_CPU" timeout "$MAX_SECONDS" "$FBIN" serve --bind 127.0.0.1 --resp-port "$FPORT" \
  --grpc-port "$GPORT" --protosocket-port "$PPORT" --http-port 0 --admin-port 0 $FARGS > "$OUT/ferrite.log" 2>&1 &
FERRITE_PID=$!; STARTED_PIDS+=("$FERRITE_PID")
for p in "$FPORT" "$GPORT" "$PPORT"; do wait_port "$p" "$FERRITE_PID" || exit 1; done
FERRITE_SPID=$(child_of "$FERRITE_PID"); STARTED_PIDS+=("$FERRITE_SPID")

# Preload: gRPC's keys (cache `bench`), RESP's (redis-benchmark's key:__rand_int__ in `default`);
# psbench preloads its own (key:NNNNNNNN in `default`) before every window.
RUN "preload|grpc" "$FERRITE_SPID" "$OUT/raw/preload-grpc.txt" 300 \
  taskset -c "$CLIENT_CPU" "$GBIN" --addr "http://$H:$GPORT" --op get --rate 0 --duration 0.2 --warmup 0 \
    --keys "$KEYS" --value-size "$VALUE" --label preload || { log "gRPC preload failed"; exit 1; }
timeout 120 taskset -c "$CLIENT_CPU" redis-benchmark -h $H -p "$FPORT" -t set -n $((KEYS * 4)) -r "$KEYS" \
  -P 64 -c 4 -d "$VALUE" -q > /dev/null 2>&1 || log "RESP preload failed"

for rep in $(seq 1 "$REPS"); do
  for op in $OPS; do
    log "rep $rep: $op"
    RUN "protosocket|$op|$rep" "$FERRITE_SPID" "$OUT/raw/ps-$op-rep$rep.txt" $((SECS * 3 + 120)) \
      taskset -c "$CLIENT_CPU" "$PBIN" --addr "$H:$PPORT" --op "$op" --concurrency $((CONNS * DEPTH)) \
        --connections "$CONNS" --duration "$SECS" --warmup "$WARMUP" --keys "$KEYS" --value-size "$VALUE" \
      || log "psbench failed: $op rep $rep"
    RUN "grpc|$op|$rep" "$FERRITE_SPID" "$OUT/raw/grpc-$op-rep$rep.txt" $((SECS * 3 + 60)) \
      taskset -c "$CLIENT_CPU" "$GBIN" --addr "http://$H:$GPORT" --op "$op" --rate 0 --duration "$SECS" \
        --warmup "$WARMUP" --conns "$CONNS" --concurrency "$DEPTH" --keys "$KEYS" --value-size "$VALUE" \
        --no-preload --label "grpc $op" \
      || log "grpcbench failed: $op rep $rep"
    for shape in "$CONNS:$DEPTH" "$((CONNS * DEPTH)):1"; do
      c=${shape%%:*}; p=${shape##*:}
      RUN "resp|$op|$rep|${c}x$p" "$FERRITE_SPID" "$OUT/raw/resp-$op-c$c-P$p-rep$rep.txt" 180 \
        taskset -c "$CLIENT_CPU" redis-benchmark -h $H -p "$FPORT" -t "$op" -n "$RB_N" -c "$c" -P "$p" \
          -d "$VALUE" -r "$KEYS" --csv \
        || log "redis-benchmark failed: $op c$c P$p"
    done
  done
done

python3 - "$OUT" <<'PY'
import json, os, statistics, sys
out = sys.argv[1]
meta = [json.loads(l) for l in open(os.path.join(out, 'meta.jsonl')) if l.strip()]
rows = []
for m in meta:
    parts = m['label'].split('|')
    kind = parts[0]
    if kind == 'preload' or not m['wall']:
        continue
    cpu = m['server_cpu'] / m['wall']
    if kind in ('protosocket', 'grpc'):
        js = [l for l in open(m['out'], errors='replace') if l.startswith('{')]
        if not js: continue
        r = json.loads(js[-1])
        if kind == 'protosocket':
            ops, p50, p99 = r['ops_per_sec'], r['p50_us'] / 1000, r['p99_us'] / 1000
        else:
            ops, p50, p99 = r['ops'], r['service_ms']['p50'], r['service_ms']['p99']
        shape = 'closed loop'
    else:
        lines = [l.strip().strip('"').split('","') for l in open(m['out'], errors='replace') if l.startswith('"')]
        if len(lines) < 2: continue
        d = dict(zip(lines[0], lines[1]))
        ops, p50, p99 = float(d['rps']), float(d['p50_latency_ms']), float(d['p99_latency_ms'])
        shape = parts[3].replace('x', ' conns x pipeline ')
    rows.append(dict(kind=kind, op=parts[1], shape=shape, ops=ops, p50=p50, p99=p99, cpu=cpu,
                     per_cpu=ops / cpu if cpu > 0 else None, client=m['client_cpu'] / m['wall']))
L = ['```', open(os.path.join(out, 'env.txt')).read().strip(), '```', '',
     '| path | op | shape | ops/s | p50 / p99 ms | Ferrite CPU s/s | ops per Ferrite CPU-s | client CPU s/s |',
     '|---|---|---|---|---|---|---|---|']
for r in rows:
    L.append(f"| {r['kind']} | {r['op'].upper()} | {r['shape']} | {r['ops']:,.0f} | {r['p50']:.3f} / {r['p99']:.3f} | "
             f"{r['cpu']:.2f} | {r['per_cpu'] or 0:,.0f} | {r['client']:.2f} |")
L.append('')
for op in sorted({r['op'] for r in rows}):
    def pick(kind, shape=None):
        xs = [r for r in rows if r['kind'] == kind and r['op'] == op and (shape is None or shape in r['shape'])]
        return xs[0] if xs else None
    ps, g = pick('protosocket'), pick('grpc')
    rp = pick('resp', 'pipeline ' + os.environ.get('DEPTH', '16'))
    if ps and g and g['per_cpu']:
        x = ps['per_cpu'] / g['per_cpu']
        L.append(f"- {op.upper()} protosocket vs gRPC, ops per server CPU-s: x{x:.2f} (goal >= 3): **{'met' if x >= 3 else 'not met'}**")
    if ps and rp and rp['per_cpu']:
        x = ps['per_cpu'] / rp['per_cpu']
        L.append(f"- {op.upper()} protosocket vs RESP ({rp['shape']}), ops per server CPU-s: x{x:.2f} (goal >= 0.8): **{'met' if x >= 0.8 else 'not met'}**")
        L.append(f"- {op.upper()} p99 protosocket {ps['p99']:.3f} ms vs RESP {rp['p99']:.3f} ms: **{'met' if ps['p99'] <= rp['p99'] else 'not met'}**")
open(os.path.join(out, 'summary.md'), 'w').write('\n'.join(L) + '\n')
PY
log "done: $OUT/summary.md"
cat "$OUT/summary.md"
