#!/usr/bin/env bash
# bench/mixed.sh [quick|full]: the mixed workload of a cache, Ferrite vs redis-server:
# 90 % GET / 10 % SET over zipfian keys (s = 0.99, 100k keys, preloaded), with bench/respmix (redis-benchmark
# can do neither a mix nor zipfian keys). Matrix: clients {50} x pipeline {1, 16} x value {32} B. Same
# pinning, alternation and CPU accounting as bench/kv.sh (server on SERVER_CPU, client on CLIENT_CPU).
#
# Modes: quick = 1 rep, 3 s windows; full = 3 reps, 5 s windows.
# Knobs (env): REPS SECS CLIENTS="50" PIPELINES="1 16" SIZES="32" GET=0.9 ZIPF=0.99 KEYS=100000
#   FBIN MBIN (skip the builds) FARGS SERVER_CPU CLIENT_CPU OUT MAX_SECONDS
# Output: $OUT/summary.md and $OUT/mixed.jsonl (one line per run). Nothing is left running.
set -u -o pipefail
MODE=${1:-quick}
case "$MODE" in
  quick) : "${REPS:=1}" "${SECS:=3}" ;;
  full)  : "${REPS:=3}" "${SECS:=5}" ;;
  *) echo "usage: $0 [quick|full]" >&2; exit 2 ;;
esac
CLIENTS=${CLIENTS:-50}
PIPELINES=${PIPELINES:-1 16}
SIZES=${SIZES:-32}
GET=${GET:-0.9}
ZIPF=${ZIPF:-0.99}
KEYS=${KEYS:-100000}
SERVERS=${SERVERS:-ferrite redis}
FPORT=${FPORT:-6479}
REDIS_PORT=${REDIS_PORT:-6399}
MAX_SECONDS=${MAX_SECONDS:-1800}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
bench_init mixed
need redis-server redis-server; need python3 python3; need cargo cargo; need taskset util-linux

build_ferrite
MBIN=${MBIN:-}
if [[ -z "$MBIN" ]]; then
  log "building bench/respmix"
  timeout 900 cargo build --release --quiet --manifest-path "$HERE/respmix/Cargo.toml" --target-dir /tmp/respmix-target \
    || { echo "respmix build failed" >&2; exit 1; }
  MBIN=/tmp/respmix-target/release/respmix
fi
env_txt
echo "mode: $MODE, reps=$REPS, ${SECS}s windows, get=$GET zipf=$ZIPF keys=$KEYS" >> "$OUT/env.txt"

for s in $SERVERS; do
  case $s in
    ferrite) start_ferrite "$FPORT" ;;
    redis) start_redis "$REDIS_PORT" ;;
  esac
done
port_of() { case $1 in ferrite) echo "$FPORT" ;; redis) echo "$REDIS_PORT" ;; esac; }
pid_of()  { case $1 in ferrite) echo "$FERRITE_SPID" ;; redis) echo "$REDIS_SPID" ;; esac; }
read -r -a SRV <<<"$SERVERS"
k=0
for rep in $(seq 1 "$REPS"); do
  for size in $SIZES; do
    for c in $CLIENTS; do
      for p in $PIPELINES; do
        k=$((k + 1))
        for i in "${!SRV[@]}"; do
          s=${SRV[$(( (i + k) % ${#SRV[@]} ))]}
          f="$OUT/raw/mixed-$s-$size-c$c-P$p-r$rep.txt"
          RUN "mixed|$s|$size|$c|$p|$rep" "$(pid_of "$s")" "$f" 120 \
            taskset -c "$CLIENT_CPU" "$MBIN" --addr "$H:$(port_of "$s")" --conns "$c" --pipeline "$p" \
              --get "$GET" --zipf "$ZIPF" --keys "$KEYS" --value-size "$size" --duration "$SECS" --warmup 1 --label "$s" \
            || log "respmix failed: $s c$c P$p rep$rep"
        done
      done
    done
  done
done

python3 - "$OUT" <<'PY' > "$OUT/summary.md"
import json, os, statistics, sys, collections
out = sys.argv[1]
meta = [json.loads(l) for l in open(f'{out}/meta.jsonl') if l.strip()]
runs = collections.defaultdict(list)
with open(f'{out}/mixed.jsonl', 'w') as jf:
    for m in meta:
        _, s, size, c, p, rep = m['label'].split('|')
        try:
            line = [l for l in open(m['out']).read().splitlines() if l.startswith('{')][-1]
        except (OSError, IndexError):
            continue
        d = json.loads(line)
        # respmix measures for SECS seconds but the run also spans preload+warmup: CPU per second over the whole run
        d.update(server=s, rep=int(rep), server_cpu_s_per_s=m['server_cpu'] / m['wall'] if m['wall'] else None,
                 ops_per_server_cpu_s=None)
        if d['server_cpu_s_per_s']:
            d['ops_per_server_cpu_s'] = d['ops_s'] / d['server_cpu_s_per_s']
        jf.write(json.dumps(d) + '\n')
        runs[(int(size), int(c), int(p), s)].append(d)
med = lambda xs: statistics.median(xs) if xs else None
def g(k, f): return med([d[f] for d in runs.get(k, []) if d.get(f) is not None])
def rx(a, b): return 'n/a' if not a or not b else f'{a / b:.2f}'
print(f'# Mixed cache workload: 90 % GET / 10 % SET, zipfian keys ({out})\n\n```\n' + open(f'{out}/env.txt').read().strip() + '\n```\n')
print('Server CPU s/s is measured over the whole client run (preload and warm-up included), so ops per server CPU-second '
      'is a conservative figure for both servers alike.\n')
print('| value B | clients | pipeline | ferrite ops/s | redis ops/s | ops ratio | ferrite p50/p99/p99.9 ms | redis p50/p99/p99.9 ms | p99 ratio | ops per server CPU-s ratio |')
print('|---|---|---|---|---|---|---|---|---|---|')
for (size, c, p) in sorted({k[:3] for k in runs}):
    F, R = (size, c, p, 'ferrite'), (size, c, p, 'redis')
    lat = lambda k: ' / '.join('n/a' if g(k, f) is None else f'{g(k, f):.3f}' for f in ('p50_ms', 'p99_ms', 'p999_ms'))
    print(f"| {size} | {c} | {p} | {g(F,'ops_s') or 0:,.0f} | {g(R,'ops_s') or 0:,.0f} | {rx(g(F,'ops_s'), g(R,'ops_s'))} | "
          f"{lat(F)} | {lat(R)} | {rx(g(F,'p99_ms'), g(R,'p99_ms'))} | {rx(g(F,'ops_per_server_cpu_s'), g(R,'ops_per_server_cpu_s'))} |")
PY
log "done: $OUT/summary.md"
cat "$OUT/summary.md"
