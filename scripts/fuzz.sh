#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets of fuzz/ with clang (ASan + UBSan + coverage, in build-fuzz/) and runs
# each for LOOM_FUZZ_SECONDS (default 60) from a copy of the committed seed corpus, with inputs of up
# to 1.1 MB. Any crash, sanitizer report, leak, timeout or out-of-memory fails the run; the input
# that caused it is kept beside the log. CI runs this after scripts/test.sh. Longer runs:
#   LOOM_FUZZ_SECONDS=3600 bash scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
loom_install "${LOOM_BUILD_DEPS[@]}" clang libclang-rt-14-dev
build=${LOOM_FUZZ_BUILD_DIR:-build-fuzz}
cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOOM_FUZZ=ON \
  -DLOOM_BUILD_TESTS=OFF -DLOOM_BUILD_BENCH=OFF -DLOOM_BUILD_EXAMPLES=OFF > /dev/null
cmake --build "$build" --parallel "$(nproc)"
seconds=${LOOM_FUZZ_SECONDS:-60}
work="$build/fuzz-run"
mkdir -p "$work"
for target in safetensors load_weights load_checkpoint layer_from_config load_model; do
  rm -rf "${work:?}/$target"
  cp -r "fuzz/corpus/$target" "$work/$target"
  log="$work/$target.log"
  if ! "$build/fuzz/loom_fuzz_$target" -max_total_time="$seconds" -max_len=1100000 -rss_limit_mb=4096 -timeout=30 \
      -print_final_stats=1 -artifact_prefix="$work/$target-" "$work/$target" > "$log" 2>&1; then
    tail -60 "$log"
    echo "fuzz: $target failed; the input is in $work/$target-*" >&2
    exit 1
  fi
  runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  cov=$(grep 'DONE' "$log" | sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+).*/\1 edges, \2 features/')
  echo "fuzz: $target: $runs inputs in ${seconds} s, no failure; coverage $cov"
done
