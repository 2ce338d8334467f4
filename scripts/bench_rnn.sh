#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The recurrent training step (bench/rnn_step.hpp) of loom, oneDNN and libtorch, run interleaved in one
# process so that every ratio comes from one run on one machine, then the table of ratios.
# Pass 1 runs everything with OMP_WAIT_POLICY=PASSIVE (the OpenMP threads of oneDNN and libtorch
# would otherwise spin on the cores loom's next benchmark needs); pass 2 reruns the peers with
# their default (spinning) policy, and each peer row keeps its better time.
# Env: LOOM_BENCH_REPS (default 2), LOOM_BENCH_FILTER (extra regex on the rows, default all).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
loom_install "${LOOM_BUILD_DEPS[@]}" libdnnl-dev libtorch-dev
build=${LOOM_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOOM_BUILD_BENCH=ON > /dev/null
cmake --build "$build" --parallel "$(nproc)" --target loom_bench loom_peer_check
OMP_WAIT_POLICY=PASSIVE "$build/bench/loom_peer_check" | tail -1
grep -m1 'model name' /proc/cpuinfo || true
flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
if [[ $flags == *avx512f* ]]; then echo "ISA: AVX-512"; elif [[ $flags == *avx2* ]]; then echo "ISA: AVX2"; fi
reps=${LOOM_BENCH_REPS:-2}
filter="^BM_(DNNL_|Torch_)?(Train|Infer|TrainCustomLSTM)/${LOOM_BENCH_FILTER:-}"
dir="$build/bench_rnn"  # the CSVs stay, so the table can be made again: awk -F, -f scripts/bench_rnn_table.awk $dir/*.csv
mkdir -p "$dir"
run() {  # out-file filter [env...]
  local out=$1 f=$2
  shift 2
  env "$@" "$build/bench/loom_bench" --benchmark_filter="$f" --benchmark_repetitions="$reps" \
    --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true \
    --benchmark_out="$out" --benchmark_out_format=csv > /dev/null
}
run "$dir/passive.csv" "$filter" OMP_WAIT_POLICY=PASSIVE
run "$dir/active.csv" "^BM_(DNNL_|Torch_)(Train|Infer|TrainCustomLSTM)/${LOOM_BENCH_FILTER:-}"
run "$dir/peak.csv" "^BM_FmaPeak/"  # its own file: the CSV reporter wants one set of counters per file
awk -F, -f scripts/bench_rnn_table.awk "$dir/passive.csv" "$dir/active.csv" "$dir/peak.csv"
