#!/usr/bin/env bash
# bench/memory.sh [quick|full]: memory per item, Ferrite vs redis-server (and memcached when installed).
#
# For every value size in SIZES (default 32 and 100 B) and TTL mode in TTLS ("none" = no expiry,
# "ttl" = every item gets a 1-hour expiry), each server is started fresh, its RSS is read, N items
# (default 1,000,000) with 16-byte keys are loaded through `redis-cli --pipe` (memcached: a Python
# loader over its text protocol), and then RSS and the server's own accounting (INFO `used_memory`
# for Ferrite and redis-server; memcached `stats` `bytes`) are read again. Per item figures:
#   rss/item  = (RSS after - RSS before) / N         what the machine pays
#   own/item  = used_memory after / N (redis: minus used_memory before)   what the server thinks it pays
# Ratios are Ferrite / redis-server. Memory does not depend on CPU time, so this part of the
# harness is fine on a loaded machine (unlike the throughput runs).
#
# Modes: quick = 1 rep; full = 3 reps (median). Knobs (env): N SIZES="32 100" TTLS="none ttl"
#   SERVERS="ferrite redis memcached" FBIN FARGS OUT SERVER_CPU CLIENT_CPU
# Output: $OUT/summary.md (default OUT=/tmp/ferrite-bench-memory-<time>) and $OUT/memory.jsonl.
set -u -o pipefail
MODE=${1:-quick}
case "$MODE" in
  quick) : "${REPS:=1}" ;;
  full)  : "${REPS:=3}" ;;
  *) echo "usage: $0 [quick|full]" >&2; exit 2 ;;
esac
N=${N:-1000000}
SIZES=${SIZES:-32 100}
TTLS=${TTLS:-none ttl}
SERVERS=${SERVERS:-ferrite redis memcached}
FPORT=${FPORT:-6479}
REDIS_PORT=${REDIS_PORT:-6399}
MC_PORT=${MC_PORT:-11299}
MAX_SECONDS=${MAX_SECONDS:-1800}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
bench_init memory

need redis-server redis-server; need redis-cli redis-tools; need python3 python3; need taskset util-linux
if [[ " $SERVERS " == *" memcached "* ]] && ! command -v memcached >/dev/null; then
  log "memcached not installed (apt-get install -y memcached): skipping it"
  SERVERS=${SERVERS//memcached/}
fi

build_ferrite
env_txt
echo "mode: $MODE, reps=$REPS, N=$N items, 16-byte keys" >> "$OUT/env.txt"
: > "$OUT/memory.jsonl"

rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
info_used() { redis-cli -h $H -p "$1" info memory | tr -d '\r' | awk -F: '/^used_memory:/{print $2}'; }

# gen_resp SIZE TTL FILE: N SETs (16-byte keys k:%014d), optionally with EX 3600
gen_resp() {
  python3 - "$N" "$1" "$2" "$3" <<'EOF'
import sys
n, size, ttl, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == 'ttl', sys.argv[4]
v = b'v' * size
with open(path, 'wb') as f:
    for i in range(n):
        k = b'k:%014d' % i
        if ttl:
            f.write(b'*5\r\n$3\r\nSET\r\n$16\r\n%s\r\n$%d\r\n%s\r\n$2\r\nEX\r\n$4\r\n3600\r\n' % (k, size, v))
        else:
            f.write(b'*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$%d\r\n%s\r\n' % (k, size, v))
EOF
}

# load_memcached PORT SIZE TTL: N sets over the text protocol, pipelined in batches
load_memcached() {
  python3 - "$1" "$N" "$2" "$3" <<'EOF'
import socket, sys
port, n, size, ttl = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == 'ttl'
s = socket.create_connection(('127.0.0.1', port)); v = b'v' * size; exp = 3600 if ttl else 0
batch = 1000
for start in range(0, n, batch):
    s.sendall(b''.join(b'set k:%014d 0 %d %d\r\n%s\r\n' % (i, exp, size, v) for i in range(start, min(n, start + batch))))
    want = min(batch, n - start) * len(b'STORED\r\n'); got = b''
    while len(got) < want:
        chunk = s.recv(1 << 16)
        if not chunk: sys.exit('memcached closed the connection')
        got += chunk
    if got.count(b'STORED') != min(batch, n - start): sys.exit('memcached: ' + got[:200].decode(errors='replace'))
EOF
}
mc_bytes() {
  python3 - "$1" <<'EOF'
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1]))); s.sendall(b'stats\r\n'); d = b''
while not d.endswith(b'END\r\n'): d += s.recv(65536)
print([l.split()[2] for l in d.decode().splitlines() if l.startswith('STAT bytes ')][0].strip())
EOF
}

for rep in $(seq 1 "$REPS"); do
  for size in $SIZES; do
    for ttl in $TTLS; do
      file="$OUT/load-$size-$ttl.resp"
      [[ -f "$file" ]] || gen_resp "$size" "$ttl" "$file"
      for s in $SERVERS; do
        case $s in
          ferrite) FARGS="${FARGS:-} --maxmemory 8gb" start_ferrite "$FPORT"; pid=$FERRITE_SPID; wrapper=$FERRITE_PID; port=$FPORT ;;
          redis) start_redis "$REDIS_PORT"; pid=$REDIS_SPID; wrapper=$REDIS_PID; port=$REDIS_PORT ;;
          memcached)
            port_free "$MC_PORT" || { echo "port $MC_PORT busy" >&2; exit 1; }
            taskset -c "$SERVER_CPU" timeout "$MAX_SECONDS" memcached -u nobody -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 8192 -t 1 &
            mpid=$!; STARTED_PIDS+=("$mpid"); wait_port "$MC_PORT" "$mpid" || exit 1
            pid=$(child_of "$mpid"); STARTED_PIDS+=("$pid"); wrapper=$mpid; port=$MC_PORT ;;
        esac
        sleep 0.3
        r0=$(rss_kb "$pid"); u0=0
        [[ $s != memcached ]] && u0=$(info_used "$port")
        t0=$(date +%s.%N)
        if [[ $s == memcached ]]; then
          taskset -c "$CLIENT_CPU" timeout 600 bash -c "$(declare -f load_memcached); N=$N load_memcached $port $size $ttl" \
            || log "memcached load failed"
        else
          taskset -c "$CLIENT_CPU" timeout 600 redis-cli -h $H -p "$port" --pipe < "$file" > "$OUT/raw/pipe-$s-$size-$ttl-$rep.txt" 2>&1 \
            || log "load failed on $s"
        fi
        t1=$(date +%s.%N)
        sleep 1
        r1=$(rss_kb "$pid")
        if [[ $s == memcached ]]; then u1=$(mc_bytes "$port"); else u1=$(info_used "$port"); fi
        keys=$N
        [[ $s != memcached ]] && keys=$(redis-cli -h $H -p "$port" dbsize | tr -d '\r')
        python3 -c "import json,sys; print(json.dumps(dict(server='$s', size=$size, ttl='$ttl', rep=$rep, n=$N, keys=int('$keys'),
          rss_before_kb=$r0, rss_after_kb=$r1, own_before=$u0, own_after=$u1, load_s=round($t1-$t0,2))))" >> "$OUT/memory.jsonl"
        log "$s size=$size ttl=$ttl rep=$rep: keys=$keys rss +$(( (r1 - r0) * 1024 / N )) B/item, own $(( (u1 - u0) / N )) B/item"
        # stop this server before the next one starts (fresh process per measurement)
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$wrapper" 2>/dev/null
      done
    done
  done
done

python3 - "$OUT" <<'EOF' > "$OUT/summary.md"
import json, statistics, sys, collections
out = sys.argv[1]
rows = [json.loads(l) for l in open(f'{out}/memory.jsonl')]
env = open(f'{out}/env.txt').read()
g = collections.defaultdict(list)
for r in rows:
    g[(r['size'], r['ttl'], r['server'])].append(r)
def per_item(rs, field):
    vals = []
    for r in rs:
        if field == 'rss': vals.append((r['rss_after_kb'] - r['rss_before_kb']) * 1024 / r['n'])
        else: vals.append((r['own_after'] - r['own_before']) / r['n'])
    return statistics.median(vals), (min(vals), max(vals))
print('# Memory per item\n\n```\n' + env + '```\n')
print('| value B | TTL | server | keys | RSS B/item (min-max) | own accounting B/item | RSS ratio vs redis | own ratio vs redis |')
print('|---|---|---|---|---|---|---|---|')
for (size, ttl) in sorted({(k[0], k[1]) for k in g}):
    base = g.get((size, ttl, 'redis'))
    b_rss = per_item(base, 'rss')[0] if base else None
    b_own = per_item(base, 'own')[0] if base else None
    for s in ('ferrite', 'redis', 'memcached'):
        rs = g.get((size, ttl, s))
        if not rs: continue
        rss, (lo, hi) = per_item(rs, 'rss'); own, _ = per_item(rs, 'own')
        rr = f'{rss / b_rss:.2f}x' if b_rss else '-'
        ro = f'{own / b_own:.2f}x' if b_own else '-'
        print(f'| {size} | {ttl} | {s} | {rs[0]["keys"]:,} | {rss:.1f} ({lo:.1f}-{hi:.1f}) | {own:.1f} | {rr} | {ro} |')
EOF
log "done: $OUT/summary.md"
cat "$OUT/summary.md"
