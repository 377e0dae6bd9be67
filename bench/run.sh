#!/usr/bin/env bash
# bench/run.sh [quick|full]: the whole comparison in one command (issue 7's harness).
#
# Installs what is missing (Debian: redis-server redis-tools nats-server memcached python3-matplotlib),
# builds Ferrite (release) once, then runs each part with the same pinning and writes everything under
# one directory:
#   kv      bench/kv.sh      redis-benchmark GET/SET, 32 B and 1 KiB, 1/50 clients, pipeline 1/16
#   mixed   bench/mixed.sh   90 % GET / 10 % SET over zipfian keys (bench/respmix)
#   memory  bench/memory.sh  bytes per item at 1M items, with and without TTL (redis, memcached)
#   pubsub  bench/pubsub.sh  1 publisher -> 1/10/100 subscribers vs redis-server and nats-server
#   grpc    bench/grpc.sh    the Momento gRPC path beside Ferrite's own RESP path
# then bench/charts.py draws PNG charts and report.md gathers every part's summary and the charts.
#
# Knobs (env): PARTS="kv mixed memory pubsub grpc" OUT SERVER_CPU (default 0) CLIENT_CPU (default 1),
#   FBIN (skip the build), SCALE_CPUS="0 0-1 0-3 ..." (optional: a scaling table, Ferrite's server
#   CPU set per point vs single-threaded redis-server, for many-core machines; CLIENT_CPU must not
#   overlap the largest set), plus each part's own knobs. Every part leaves nothing running.
#   FLOOR_BIN (path to ../shared/bench/grpcfloor's grpc_null_server) adds the gRPC floor to the grpc part.
set -u -o pipefail
MODE=${1:-quick}
case "$MODE" in quick|full) ;; *) echo "usage: $0 [quick|full]" >&2; exit 2 ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PARTS=${PARTS:-kv mixed memory pubsub grpc}
OUT=${OUT:-/tmp/ferrite-bench-all-$(date +%Y%m%d-%H%M%S)}
export SERVER_CPU=${SERVER_CPU:-0} CLIENT_CPU=${CLIENT_CPU:-1}
mkdir -p "$OUT"
say() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$OUT/run.log" >&2; }

# 1. what the parts need
missing=()
for pair in redis-server:redis-server redis-benchmark:redis-tools redis-cli:redis-tools nats-server:nats-server \
            memcached:memcached; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
PY=python3
if ! python3 -c 'import matplotlib' 2>/dev/null; then
  if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then PY=/usr/bin/python3; else missing+=(python3-matplotlib); PY=/usr/bin/python3; fi
fi
if ((${#missing[@]})); then
  say "installing: ${missing[*]}"
  if [[ $(id -u) == 0 ]]; then apt-get install -y "${missing[@]}" >> "$OUT/run.log" 2>&1; else sudo apt-get install -y "${missing[@]}" >> "$OUT/run.log" 2>&1; fi \
    || { say "apt-get install failed (see $OUT/run.log)"; exit 1; }
  # Debian starts these as services: the harness starts its own instances on other ports
  for svc in redis-server nats-server memcached; do systemctl stop "$svc" >/dev/null 2>&1 || true; done
fi

# 2. one Ferrite build for every part
if [[ -z "${FBIN:-}" ]]; then
  say "cargo build --release"
  (cd "$REPO" && cargo build --release --quiet) || { say "ferrite build failed"; exit 1; }
  FBIN=$REPO/target/release/ferrite
fi
export FBIN

# 3. the parts
for part in $PARTS; do
  say "part $part"
  OUT="$OUT/$part" "$HERE/$part.sh" "$MODE" > "$OUT/$part.log" 2>&1 || say "part $part failed (see $OUT/$part.log)"
done
if [[ -n "${SCALE_CPUS:-}" ]]; then
  for cpus in $SCALE_CPUS; do
    say "scaling point: ferrite on CPUs $cpus"
    OUT="$OUT/scale-$cpus" SERVER_CPU="$cpus" SIZES=32 CLIENTS=50 PIPELINES=16 "$HERE/kv.sh" "$MODE" \
      > "$OUT/scale-$cpus.log" 2>&1 || say "scaling point $cpus failed"
  done
fi

# 4. charts and the report
charts=$("$PY" "$HERE/charts.py" "$OUT" 2>>"$OUT/run.log") || say "charts failed (see $OUT/run.log)"
{
  echo "# Ferrite benchmark run ($MODE), $(date -Is)"
  echo
  echo "Command: \`bench/run.sh $MODE\` (PARTS=\"$PARTS\" SERVER_CPU=$SERVER_CPU CLIENT_CPU=$CLIENT_CPU${SCALE_CPUS:+ SCALE_CPUS=\"$SCALE_CPUS\"})"
  echo
  echo "$charts"
  echo
  for part in $PARTS; do
    [[ -f "$OUT/$part/summary.md" ]] && { sed 's/^#/##/' "$OUT/$part/summary.md"; echo; }
  done
  if [[ -n "${SCALE_CPUS:-}" ]]; then
    echo "## Scaling: GET/SET 32 B, 50 clients, pipeline 16, Ferrite on growing CPU sets"
    echo
    echo "| ferrite CPUs | op | ferrite ops/s | redis ops/s | ratio |"
    echo "|---|---|---|---|---|"
    for cpus in $SCALE_CPUS; do
      "$PY" - "$OUT/scale-$cpus/points.json" "$cpus" <<'PY'
import json, sys
pts = json.load(open(sys.argv[1]))
for op in ('get', 'set'):
    f = next((p for p in pts if p['server'] == 'ferrite' and p['op'] == op), None)
    r = next((p for p in pts if p['server'] == 'redis' and p['op'] == op), None)
    if f and r and f['rps'] and r['rps']:
        print(f"| {sys.argv[2]} | {op.upper()} | {f['rps']:,.0f} | {r['rps']:,.0f} | {f['rps'] / r['rps']:.2f} |")
PY
    done
  fi
} > "$OUT/report.md"
say "done: $OUT/report.md"
echo "$OUT/report.md"
