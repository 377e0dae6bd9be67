#!/usr/bin/env bash
# compat/redis_py.sh: run redis-py's own test suite (from its PyPI sdist) against redis-server 7.0
# and against Ferrite, and print the pass counts side by side. Not part of `cargo test`: it needs
# PyPI and takes minutes. Record results in docs/compatibility.md ("Client test suites").
#
# Knobs (env): REDIS_PY=5.2.1 FILES="test_commands.py ..." FBIN=target/debug/ferrite PROTOCOL=2
#   WORK=/tmp/ferrite-redis-py
set -u -o pipefail
cd "$(dirname "$0")/.."
REDIS_PY=${REDIS_PY:-5.2.1}
FILES=${FILES:-test_commands.py test_pipeline.py test_pubsub.py test_lock.py test_encoding.py test_hash.py test_connection.py test_monitor.py test_scripting.py test_function.py}
FBIN=${FBIN:-target/debug/ferrite}
PROTOCOL=${PROTOCOL:-2}
WORK=${WORK:-/tmp/ferrite-redis-py}
RPORT=${RPORT:-6390}
FPORT=${FPORT:-6391}
mkdir -p "$WORK"
if [[ ! -d "$WORK/redis-$REDIS_PY" ]]; then
  (cd "$WORK" && pip download -q --no-deps --no-binary :all: "redis==$REDIS_PY" && tar xzf "redis-$REDIS_PY.tar.gz")
fi
if [[ ! -x "$WORK/venv/bin/pytest" ]]; then
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install -q pytest pytest-timeout packaging "$WORK/redis-$REDIS_PY"
fi
[[ -x "$FBIN" ]] || cargo build --quiet
redis-server --port "$RPORT" --save "" --appendonly no --daemonize yes --logfile "$WORK/redis.log"
"$FBIN" serve --bind 127.0.0.1 --resp-port "$FPORT" --grpc-port 0 --http-port 0 --admin-port 0 > "$WORK/ferrite.log" 2>&1 &
fpid=$!
trap 'redis-cli -p $RPORT shutdown nosave >/dev/null 2>&1; kill $fpid 2>/dev/null' EXIT
sleep 1
run() { # run NAME PORT
  (cd "$WORK/redis-$REDIS_PY" && timeout 1200 "$WORK/venv/bin/pytest" -q -p no:cacheprovider --timeout 20 \
    --redis-url="redis://127.0.0.1:$2/0" --protocol="$PROTOCOL" $(printf "tests/%s " $FILES) \
    -m "not onlycluster and not redismod and not ssl" -o junit_family=xunit2 --junitxml="$WORK/$1.xml" \
    > "$WORK/$1.txt" 2>&1)
  tail -1 "$WORK/$1.txt"
}
echo "redis-server: $(run redis "$RPORT")"
echo "ferrite:      $(run ferrite "$FPORT")"
python3 - "$WORK" <<'EOF'
import sys, xml.etree.ElementTree as ET
w = sys.argv[1]
def outcomes(name):
    out = {}
    for tc in ET.parse(f'{w}/{name}.xml').iter('testcase'):
        k = f"{tc.get('classname')}::{tc.get('name')}"
        out[k] = 'fail' if tc.find('failure') is not None or tc.find('error') is not None else ('skip' if tc.find('skipped') is not None else 'pass')
    return out
r, f = outcomes('redis'), outcomes('ferrite')
only_redis = sorted(k for k in r if r[k] == 'pass' and f.get(k) != 'pass')
print(f"pass: redis-server {sum(v == 'pass' for v in r.values())}, ferrite {sum(v == 'pass' for v in f.values())}; "
      f"passing on redis-server but not on ferrite: {len(only_redis)} (listed in {w}/gap.txt)")
open(f'{w}/gap.txt', 'w').write('\n'.join(only_redis) + '\n')
EOF
