#!/usr/bin/env bash
# Run every fuzz target for a fixed time from its seeds (fuzz/seeds/<target>), failing on the
# first crash. `fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]`; .ci/run calls it with a short
# time. Longer campaigns: the same with more seconds; record them in docs/security.md.
# Needs cargo-fuzz and the nightly toolchain. Builds without a sanitizer (-s none): Ferrite
# forbids unsafe code, so what fuzzing finds is panics, wrong answers, stalls and memory
# growth, which the targets' own checks and libFuzzer's limits catch.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(resp_parse glob token http_query config_toml server_commands rdb_payload script_libs)
fi
cargo +nightly fuzz build -s none -O
for t in "${targets[@]}"; do
  corpus="fuzz/corpus/$t"
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  cp -n fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
  extra=()
  [ -f "fuzz/$t.dict" ] && extra+=("-dict=fuzz/$t.dict")
  echo "== fuzz $t for ${secs}s"
  # -timeout: one input that runs this long is a stall (a finding); -rss_limit_mb and
  # -malloc_limit_mb: the in-process server must stay far below them.
  log="fuzz/artifacts/$t.log"
  set +e
  cargo +nightly fuzz run -s none -O "$t" "$corpus" -- \
    -max_total_time="$secs" -timeout=20 -rss_limit_mb=3072 -malloc_limit_mb=1024 \
    -print_final_stats=1 "${extra[@]}" >"$log" 2>&1
  rc=$?
  set -e
  grep -E "^stat::number_of_executed_units|^Done" "$log" || true
  if [ $rc -ne 0 ]; then
    grep -vE "^ +[0-9]+: |^ +at " "$log" | grep -A12 -E "panicked|ERROR|error" | head -40 >&2
    echo "fuzz $t failed (exit $rc); the input is in fuzz/artifacts/$t, the log in $log" >&2
    exit 1
  fi
done
