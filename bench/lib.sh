# bench/lib.sh: shared plumbing for bench/pubsub.sh and bench/kv.sh (sourced, not run).
#
# Approach (from ../shared/bench/redis-nats-baseline.sh): every server binds 127.0.0.1 only and is
# pinned to SERVER_CPU, every client to CLIENT_CPU; every command runs under `timeout`; a watchdog
# ends the run after MAX_SECONDS; the EXIT trap kills, by PID, every process this script started.
# bench/run.py wraps each measurement and records wall time, server CPU (from /proc/PID/stat),
# client CPU, whole-machine busy CPU, steal and load, so noise from other work is visible.

H=127.0.0.1
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
MAX_SECONDS=${MAX_SECONDS:-3600}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
# Knob names avoid the FERRITE_ prefix: ferrite rejects unknown FERRITE_* environment variables.
FBIN=${FBIN:-}          # set to skip `cargo build --release` and use this binary
FARGS=${FARGS:-}        # extra `ferrite serve` flags
STARTED_PIDS=()
WATCHDOG_PID=

log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$OUT/log.txt" >&2; }

cleanup() {
  local p
  for p in "${STARTED_PIDS[@]:-}"; do
    [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null
  done
  # give servers (Ferrite drains connections) up to 3 s, then KILL what is left
  local i
  for i in $(seq 1 30); do
    local alive=0
    for p in "${STARTED_PIDS[@]:-}"; do [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.1
  done
  for p in "${STARTED_PIDS[@]:-}"; do
    [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
  done
  if [[ -n "$WATCHDOG_PID" ]] && kill -0 "$WATCHDOG_PID" 2>/dev/null; then
    kill -TERM "$WATCHDOG_PID" 2>/dev/null
  fi
}

bench_init() { # bench_init NAME : sets OUT, traps, watchdog
  OUT=${OUT:-/tmp/ferrite-bench-$1-$(date +%Y%m%d-%H%M%S)}
  mkdir -p "$OUT/raw"
  : > "$OUT/meta.jsonl"
  trap cleanup EXIT
  trap 'log "interrupted"; exit 130' INT TERM
  # the watchdog's sleep is killed with it: run it in its own process group via a subshell that execs
  ( trap 'kill $SPID 2>/dev/null; exit 0' TERM; sleep "$MAX_SECONDS" & SPID=$!; wait $SPID;
    echo "watchdog: MAX_SECONDS=$MAX_SECONDS reached" >&2; kill -TERM $$ ) &
  WATCHDOG_PID=$!
}

need() { command -v "$1" >/dev/null 2>&1 || { echo "missing: $1 (apt-get install -y $2)" >&2; exit 1; }; }

wait_port() { # wait_port PORT PID
  local i
  for i in $(seq 1 150); do
    if (exec 3<>/dev/tcp/$H/"$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "server pid $2 exited before opening port $1" >&2; return 1; }
    sleep 0.1
  done
  echo "port $1 did not open" >&2; return 1
}
port_free() { ! (exec 3<>/dev/tcp/$H/"$1") 2>/dev/null; }

build_ferrite() {
  if [[ -z "$FBIN" ]]; then
    log "cargo build --release (repo root)"
    (cd "$REPO_ROOT" && timeout 1800 cargo build --release --quiet) || { echo "ferrite build failed" >&2; exit 1; }
    FBIN=$REPO_ROOT/target/release/ferrite
  fi
  [[ -x "$FBIN" ]] || { echo "no ferrite binary at $FBIN" >&2; exit 1; }
}

start_ferrite() { # start_ferrite PORT -> FERRITE_PID
  port_free "$1" || { echo "port $1 busy" >&2; exit 1; }
  # shellcheck disable=SC2086
  taskset -c "$SERVER_CPU" timeout "$MAX_SECONDS" "$FBIN" serve --bind 127.0.0.1 --resp-port "$1" \
    --grpc-port 0 --http-port 0 --admin-port 0 $FARGS > "$OUT/ferrite.log" 2>&1 &
  FERRITE_PID=$!; STARTED_PIDS+=("$FERRITE_PID"); wait_port "$1" "$FERRITE_PID" || exit 1
  # `timeout` is the parent: account CPU to the real server process
  FERRITE_SPID=$(child_of "$FERRITE_PID"); STARTED_PIDS+=("$FERRITE_SPID")
}
start_redis() { # start_redis PORT -> REDIS_PID
  port_free "$1" || { echo "port $1 busy" >&2; exit 1; }
  taskset -c "$SERVER_CPU" timeout "$MAX_SECONDS" redis-server --bind 127.0.0.1 --port "$1" --protected-mode yes \
    --save '' --appendonly no --daemonize no --dir "$OUT" --logfile "$OUT/redis.log" &
  REDIS_PID=$!; STARTED_PIDS+=("$REDIS_PID"); wait_port "$1" "$REDIS_PID" || exit 1
  REDIS_SPID=$(child_of "$REDIS_PID"); STARTED_PIDS+=("$REDIS_SPID")
}
start_nats() { # start_nats PORT -> NATS_PID
  port_free "$1" || { echo "port $1 busy" >&2; exit 1; }
  taskset -c "$SERVER_CPU" timeout "$MAX_SECONDS" nats-server -a 127.0.0.1 -p "$1" -l "$OUT/nats.log" &
  NATS_PID=$!; STARTED_PIDS+=("$NATS_PID"); wait_port "$1" "$NATS_PID" || exit 1
  NATS_SPID=$(child_of "$NATS_PID"); STARTED_PIDS+=("$NATS_SPID")
}
child_of() { # the single child of a `timeout` wrapper (falls back to the PID itself)
  local c; c=$(pgrep -P "$1" | head -1)
  echo "${c:-$1}"
}

RUN() { # RUN LABEL SERVER_PID OUTFILE TIMEOUT cmd...
  local label=$1 spid=$2 outf=$3 to=$4; shift 4
  python3 "$BENCH_DIR/run.py" "$OUT/meta.jsonl" "$label" "$spid" "$outf" -- timeout "$to" "$@"
}

env_txt() {
  {
    echo "date: $(date -Is)"; echo "host: $(uname -srm)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) x $(nproc)"
    echo "mem: $(free -g | awk '/Mem:/{print $2" GiB"}')"
    echo "ferrite: $("$FBIN" --version 2>/dev/null) ($(cd "$REPO_ROOT" && git rev-parse --short HEAD 2>/dev/null)$(cd "$REPO_ROOT" && [[ -n $(git status --porcelain 2>/dev/null | head -1) ]] && echo ', dirty tree'))"
    echo "redis: $(redis-server --version | awk '{print $3}')"
    command -v nats-server >/dev/null && echo "nats: $(nats-server --version)"
    echo "pinning: servers on CPU $SERVER_CPU, client on CPU $CLIENT_CPU"
    echo "loadavg at start: $(cat /proc/loadavg)"
    echo "top processes at start:"; ps -eo pcpu,comm --sort=-pcpu | head -6 | tail -5 | sed 's/^/  /'
  } > "$OUT/env.txt"
}
