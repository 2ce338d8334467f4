#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds loom_bench (with the OpenBLAS peer) and runs it; extra arguments go to Google Benchmark.
# OpenBLAS 0.3.21 mis-detects recent CPUs and falls back to slow generic kernels, so its kernel family is
# set from the CPU flags (OPENBLAS_CORETYPE) to compare against OpenBLAS at its best.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
loom_install "${LOOM_BUILD_DEPS[@]}" libopenblas-dev
build=${LOOM_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOOM_BUILD_BENCH=ON > /dev/null
cmake --build "$build" --parallel "$(nproc)" --target loom_bench
flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
if [[ $flags == *avx512_bf16* ]]; then export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Cooperlake}
elif [[ $flags == *avx512f* ]]; then export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}
elif [[ $flags == *avx2* ]]; then export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
fi
echo "loom_bench: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} (OpenBLAS reports its kernels in each row's label)"
csv=$(mktemp)
"$build/bench/loom_bench" --benchmark_out="$csv" --benchmark_out_format=csv "$@"
# loom / OpenBLAS throughput for every GEMM row that has a peer row of the same name.
awk -F, '
  /^"BM_/ { name=$1; gsub(/"/, "", name); for (i = 1; i <= NF; ++i) if (hdr[i] == "\"GFLOP/s\"" || hdr[i] == "GFLOP/s") g[name] = $i }
  /^name,/ { for (i = 1; i <= NF; ++i) hdr[i] = $i }
  END {
    for (n in g) if (n ~ /^BM_OpenBLAS_/) { l = n; sub(/OpenBLAS_/, "", l); if (l in g) rows[l] = n }
    if (length(rows) == 0) exit
    printf "\n%-58s %10s %10s %7s\n", "GEMM shape", "loom", "OpenBLAS", "ratio"
    for (l in rows) printf "%-58s %10.1f %10.1f %6.0f%%\n", l, g[l], g[rows[l]], 100 * g[l] / g[rows[l]] | "sort"
  }' "$csv"
rm -f "$csv"
