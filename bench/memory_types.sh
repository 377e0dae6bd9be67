#!/usr/bin/env bash
# bench/memory_types.sh [quick|full]: memory per collection element, Ferrite vs redis-server, for
# every value type: hash fields, list elements, set members (strings and integers), sorted-set
# members, geo members, stream entries, HyperLogLogs and bitmaps.
#
# Each type is loaded in two shapes, because Redis keeps small collections in compact encodings
# (listpack, intset) and large ones in hash tables and skiplists:
#   big   = KEYS_BIG keys x EL_BIG elements (default 100 x 10,000)
#   small = KEYS_SMALL keys x EL_SMALL elements (default 100,000 x 10)
# HyperLogLogs are measured per key (HLL_KEYS keys of HLL_EL elements each: dense), bitmaps per set
# bit (BITMAP_KEYS keys, one bit in every 8 of BITMAP_BITS offsets). Every measurement starts a
# fresh server, reads RSS and INFO used_memory, loads through `redis-cli --pipe`, and reads them
# again. Per element: (after - before) / elements. Ratios are Ferrite / redis-server.
#
# Knobs (env): TYPES="hash list set intset zset geo stream hll bitmap" SHAPES="big small"
#   KEYS_BIG EL_BIG KEYS_SMALL EL_SMALL FBIN FARGS OUT SERVERS="ferrite redis"
# Output: $OUT/summary.md and $OUT/memory_types.jsonl.
set -u -o pipefail
MODE=${1:-quick}
case "$MODE" in quick|full) ;; *) echo "usage: $0 [quick|full]" >&2; exit 2 ;; esac
TYPES=${TYPES:-hash list set intset zset geo stream hll bitmap}
SHAPES=${SHAPES:-big small}
KEYS_BIG=${KEYS_BIG:-100}; EL_BIG=${EL_BIG:-10000}
KEYS_SMALL=${KEYS_SMALL:-100000}; EL_SMALL=${EL_SMALL:-10}
HLL_KEYS=${HLL_KEYS:-1000}; HLL_EL=${HLL_EL:-5000}
BITMAP_KEYS=${BITMAP_KEYS:-100}; BITMAP_BITS=${BITMAP_BITS:-80000}
SERVERS=${SERVERS:-ferrite redis}
FPORT=${FPORT:-6481}
REDIS_PORT=${REDIS_PORT:-6401}
MAX_SECONDS=${MAX_SECONDS:-3600}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
bench_init memory_types
need redis-server redis-server; need redis-cli redis-tools; need python3 python3; need taskset util-linux
build_ferrite
env_txt
: > "$OUT/memory_types.jsonl"

rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
info_used() { redis-cli -h $H -p "$1" info memory | tr -d '\r' | awk -F: '/^used_memory:/{print $2}'; }

# gen TYPE KEYS ELEMENTS FILE -> prints the number of elements the file adds
gen() {
  python3 - "$@" <<'EOF'
import sys
kind, nkeys, nel, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def cmd(*parts):
    parts = [p if isinstance(p, bytes) else str(p).encode() for p in parts]
    return b'*%d\r\n' % len(parts) + b''.join(b'$%d\r\n%s\r\n' % (len(p), p) for p in parts)
batch = 100
count = 0
with open(path, 'wb') as f:
    for k in range(nkeys):
        key = b'%s:%08d' % (kind.encode(), k)
        for start in range(0, nel, batch):
            idx = range(start, min(nel, start + batch))
            if kind == 'hash':
                args = [x for i in idx for x in (b'field:%06d' % i, b'value%03d' % (i % 1000))]
                f.write(cmd('HSET', key, *args))
            elif kind == 'list':
                f.write(cmd('RPUSH', key, *[b'element:%06d' % i for i in idx]))
            elif kind == 'set':
                f.write(cmd('SADD', key, *[b'member:%06d' % i for i in idx]))
            elif kind == 'intset':
                f.write(cmd('SADD', key, *[str(i * 7) for i in idx]))
            elif kind == 'zset':
                args = [x for i in idx for x in (str(i * 1.5), b'member:%06d' % i)]
                f.write(cmd('ZADD', key, *args))
            elif kind == 'geo':
                args = [x for i in idx for x in ('%.6f' % (-180 + (i * 0.0137) % 360), '%.6f' % (-85 + (i * 0.0071) % 170), b'place:%06d' % i)]
                f.write(cmd('GEOADD', key, *args))
            elif kind == 'stream':
                for i in idx:
                    f.write(cmd('XADD', key, '%d-1' % (i + 1), 'sensor', 'temp', 'value', str(i % 1000)))
            elif kind == 'hll':
                f.write(cmd('PFADD', key, *[b'visitor:%06d' % i for i in idx]))
            elif kind == 'bitmap':
                for i in idx:
                    f.write(cmd('SETBIT', key, i * 8, 1))
            count += len(idx)
print(count)
EOF
}

for t in $TYPES; do
  case $t in
    hll) shapes="perkey" ;;
    bitmap) shapes="bits" ;;
    *) shapes=$SHAPES ;;
  esac
  for shape in $shapes; do
    case $shape in
      big) nk=$KEYS_BIG; ne=$EL_BIG ;;
      small) nk=$KEYS_SMALL; ne=$EL_SMALL ;;
      perkey) nk=$HLL_KEYS; ne=$HLL_EL ;;
      bits) nk=$BITMAP_KEYS; ne=$((BITMAP_BITS / 8)) ;;
    esac
    file="$OUT/load-$t-$shape.resp"
    total=$(gen "$t" "$nk" "$ne" "$file")
    # per-key figures for HLLs; per element otherwise
    unit=$total; [[ $t == hll ]] && unit=$nk
    for s in $SERVERS; do
      case $s in
        ferrite) FARGS="${FARGS:-} --maxmemory 8gb" start_ferrite "$FPORT"; pid=$FERRITE_SPID; wrapper=$FERRITE_PID; port=$FPORT ;;
        redis) start_redis "$REDIS_PORT"; pid=$REDIS_SPID; wrapper=$REDIS_PID; port=$REDIS_PORT ;;
      esac
      sleep 0.3
      r0=$(rss_kb "$pid"); u0=$(info_used "$port")
      taskset -c "$CLIENT_CPU" timeout 900 redis-cli -h $H -p "$port" --pipe < "$file" > "$OUT/raw/pipe-$s-$t-$shape.txt" 2>&1 \
        || log "load failed on $s ($t $shape)"
      grep -q "errors: 0" "$OUT/raw/pipe-$s-$t-$shape.txt" || log "$s $t $shape: the load had errors (see raw/pipe-$s-$t-$shape.txt)"
      sleep 1
      r1=$(rss_kb "$pid"); u1=$(info_used "$port")
      enc=$(redis-cli -h $H -p "$port" object encoding "$t:00000000" | tr -d '\r')
      python3 -c "import json; print(json.dumps(dict(server='$s', type='$t', shape='$shape', keys=$nk, per_key=$ne, unit=$unit,
        rss_before_kb=$r0, rss_after_kb=$r1, own_before=$u0, own_after=$u1, encoding='$enc')))" >> "$OUT/memory_types.jsonl"
      log "$s $t $shape ($enc): rss +$(( (r1 - r0) * 1024 / unit )) B/unit, own $(( (u1 - u0) / unit )) B/unit"
      kill -TERM "$pid" 2>/dev/null
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null
      wait "$wrapper" 2>/dev/null
    done
    rm -f "$file"
  done
done

python3 - "$OUT" <<'EOF' > "$OUT/summary.md"
import json, sys, collections
out = sys.argv[1]
rows = [json.loads(l) for l in open(f'{out}/memory_types.jsonl')]
g = {(r['type'], r['shape'], r['server']): r for r in rows}
print('# Memory per element by type\n\n```\n' + open(f'{out}/env.txt').read() + '```\n')
print('| type | shape | unit | ferrite RSS B | redis RSS B | RSS ratio | ferrite own B | redis own B | own ratio | redis encoding |')
print('|---|---|---|---|---|---|---|---|---|---|')
for (t, shape) in dict.fromkeys((r['type'], r['shape']) for r in rows):
    f, r = g.get((t, shape, 'ferrite')), g.get((t, shape, 'redis'))
    def rss(x): return (x['rss_after_kb'] - x['rss_before_kb']) * 1024 / x['unit']
    def own(x): return (x['own_after'] - x['own_before']) / x['unit']
    unit = 'key' if t == 'hll' else ('set bit' if t == 'bitmap' else 'element')
    shape_s = f"{shape} ({(f or r)['keys']:,} x {(f or r)['per_key']:,})"
    fr = f'{rss(f):.1f}' if f else '-'; rr = f'{rss(r):.1f}' if r else '-'
    fo = f'{own(f):.1f}' if f else '-'; ro = f'{own(r):.1f}' if r else '-'
    ratio = f'{rss(f)/rss(r):.2f}x' if f and r and rss(r) > 0 else '-'
    oratio = f'{own(f)/own(r):.2f}x' if f and r and own(r) > 0 else '-'
    print(f"| {t} | {shape_s} | {unit} | {fr} | {rr} | {ratio} | {fo} | {ro} | {oratio} | {r['encoding'] if r else '-'} |")
EOF
log "done: $OUT/summary.md"
cat "$OUT/summary.md"
