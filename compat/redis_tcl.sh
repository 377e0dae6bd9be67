#!/usr/bin/env bash
# compat/redis_tcl.sh: run Redis 7.0's own TCL test suite (from Debian's redis source package) in
# its external-server mode against redis-server and against Ferrite, unit by unit, and print the
# pass counts side by side. Not part of `cargo test`: it needs the Debian source archive (deb-src)
# and takes a while. Record results in docs/compatibility.md ("Client test suites").
#
# External mode (`runtest --host --port`) skips the tests tagged `external:skip` (those that start
# their own servers, restart them or read their logs), so both servers face the same cases.
# Each unit gets a fresh server, so one unit's crash or leftovers cannot cost the next its cases.
#
# Use a release build (FBIN=target/release/ferrite, the default): a debug build is slow enough
# for some units to pass their time limits.
#
# Knobs (env): UNITS="unit/type/incr unit/expire ..." FBIN=target/release/ferrite
#   WORK=/tmp/ferrite-redis-tcl UNIT_TIMEOUT=600 ONLY=ferrite|redis (run one side)
set -u -o pipefail
cd "$(dirname "$0")/.."
FBIN=${FBIN:-target/release/ferrite}
WORK=${WORK:-/tmp/ferrite-redis-tcl}
RPORT=${RPORT:-6392}
FPORT=${FPORT:-6393}
UNIT_TIMEOUT=${UNIT_TIMEOUT:-600}
ONLY=${ONLY:-}
SKIPFILE=$(realpath compat/redis_tcl_skip.txt)
mkdir -p "$WORK"
src=$(ls -d "$WORK"/redis-7.0.*/ 2>/dev/null | head -1)
if [[ -z "$src" ]]; then
  if ! grep -rqs '^Types: deb-src' /etc/apt/sources.list.d/; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > /etc/apt/sources.list.d/debsrc.sources
    apt-get update -qq
  fi
  (cd "$WORK" && apt-get source -qq redis >/dev/null 2>&1)
  src=$(ls -d "$WORK"/redis-7.0.*/ | head -1)
fi
command -v tclsh >/dev/null || apt-get install -y -qq tcl >/dev/null
[[ -x "$FBIN" ]] || cargo build --release --quiet --bin ferrite
FBIN=$(realpath "$FBIN")
DEFAULT_UNITS=$(cd "$src/tests" && ls unit/*.tcl unit/type/*.tcl | sed 's/\.tcl$//' |
  grep -v -e '^unit/printver$' -e '^unit/cluster' -e '^unit/moduleapi' | tr '\n' ' ')
UNITS=${UNITS:-$DEFAULT_UNITS}

start_server() { # start_server NAME PORT
  if [[ $1 == redis ]]; then
    redis-server --port "$2" --save "" --appendonly no --daemonize yes --enable-debug-command yes \
      --logfile "$WORK/redis-server.log"
  else
    # Redis's default eviction policy, which the suite assumes (Ferrite's own is allkeys-lru).
    FERRITE_MEMORY_EVICTION=noeviction \
      "$FBIN" serve --bind 127.0.0.1 --resp-port "$2" --grpc-port 0 --http-port 0 --admin-port 0 \
      >> "$WORK/ferrite-server.log" 2>&1 &
  fi
  for _ in $(seq 50); do redis-cli -p "$2" ping >/dev/null 2>&1 && return; sleep 0.1; done
}
stop_server() { # stop_server NAME PORT
  redis-cli -p "$2" shutdown nosave >/dev/null 2>&1
  if [[ $1 == ferrite ]]; then pkill -f "ferrite serve --bind 127.0.0.1 --resp-port $2 " 2>/dev/null; fi
  sleep 0.2
}
# Tags left out of a unit on both sides. The stream units' `needs:debug` blocks are exactly
# their AOF ones (`overrides {appendonly yes}`, then DEBUG LOADAOF): Ferrite refuses
# `CONFIG SET appendonly yes` (no AOF yet), which aborted the rest of each unit.
unit_tags() {
  case "$1" in
    unit/type/stream|unit/type/stream-cgroups) echo "--tags -needs:debug" ;;
  esac
}
run_side() { # run_side NAME PORT BASEPORT: one file of "status<TAB>unit<TAB>test" lines in $WORK/NAME.results
  : > "$WORK/$1.results"
  for unit in $UNITS; do
    start_server "$1" "$2"
    log="$WORK/$1.$(echo "$unit" | tr / _).log"
    # Distinct base ports per side, so both sides can run at once without racing for the port
    # of the suite's own test server.
    # shellcheck disable=SC2046 # unit_tags is a list of words on purpose
    (cd "$src" && timeout "$UNIT_TIMEOUT" ./runtest --host 127.0.0.1 --port "$2" --single "$unit" \
      --baseport "$3" --timeout 60 --skipfile "$SKIPFILE" $(unit_tags "$unit") > "$log" 2>&1)
    rc=$?
    # Strip colours; keep "[ok]: name (n ms)" and "[err]: name in file" lines.
    sed 's/\x1b\[[0-9;]*m//g' "$log" | awk -v u="$unit" '
      /^\[ok\]: /        { sub(/^\[ok\]: /, ""); sub(/ \([0-9]+ ms\)$/, ""); print "ok\t" u "\t" $0 }
      /^\[err\]: /       { sub(/^\[err\]: /, ""); sub(/ in tests\/.*$/, ""); print "err\t" u "\t" $0 }
      /^\[exception\]: / { print "exception\t" u "\t" $0 }' >> "$WORK/$1.results"
    [[ $rc -eq 124 ]] && printf 'timeout\t%s\t(unit cut at %ss)\n' "$unit" "$UNIT_TIMEOUT" >> "$WORK/$1.results"
    printf '%-28s %-8s ok=%s\n' "$unit" "$1" "$(grep -c "^ok	$unit	" "$WORK/$1.results")"
    stop_server "$1" "$2"
  done
}
[[ $ONLY != ferrite ]] && run_side redis "$RPORT" 21111
[[ $ONLY != redis ]] && run_side ferrite "$FPORT" 31111
python3 - "$WORK" <<'EOF'
# Counted per (unit, test name) occurrence: some units run the same tests twice (scripting.tcl:
# once with EVAL, once with FCALL), and each run counts.
import sys, collections, os
w = sys.argv[1]
def load(name):
    p = f'{w}/{name}.results'
    ok = collections.Counter()
    if os.path.exists(p):
        for line in open(p):
            s, u, t = line.rstrip('\n').split('\t', 2)
            if s == 'ok':
                ok[(u, t)] += 1
    return ok
r, f = load('redis'), load('ferrite')
per_unit = collections.defaultdict(lambda: [0, 0])
for (u, t), n in r.items():
    per_unit[u][0] += n
for (u, t), n in f.items():
    per_unit[u][1] += n
for u in sorted(per_unit):
    print(f'{u:32} redis-server {per_unit[u][0]:4}  ferrite {per_unit[u][1]:4}')
gap = sorted(f'{u}: {t}' for (u, t), n in r.items() if f[(u, t)] < n)
print(f"ok: redis-server {sum(r.values())}, ferrite {sum(f.values())}; "
      f"ok on redis-server but not on ferrite: {len(gap)} (listed in {w}/gap.txt)")
open(f'{w}/gap.txt', 'w').write('\n'.join(gap) + '\n')
EOF
