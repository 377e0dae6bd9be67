#!/usr/bin/env bash
# Hostile-workload memory harness (issue 12): peak RSS of Ferrite and redis-server under
# `--maxmemory 64mb` for every finding's workload. See bench/hostile.py.
#   bench/hostile.sh                          # build release, run all, print the table
#   bench/hostile.sh --out docs/bench/hostile-after.md
#   bench/hostile.sh --only 1,5 --servers ferrite
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${FERRITE_BIN:-}" ]]; then
    cargo build --release --bin ferrite
    export FERRITE_BIN=target/release/ferrite
fi
exec python3 bench/hostile.py "$@"
