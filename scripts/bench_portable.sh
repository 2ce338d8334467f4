#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The portable build (x86-64-v2 code, kernels chosen at run time) against a LOOM_ARCH=native build of
# the same sources: GEMM and the recurrent training and inference steps, the two bench binaries run
# alternately (LOOM_BENCH_REPS rounds, default 3), then each row's median time, native ÷ portable.
#   scripts/bench_portable.sh [portable-build-dir] [native-build-dir]
# A native-build-dir that is already configured is used as it is: it may be a build of another
# checkout (the version before runtime dispatch, say).
set -euo pipefail
cd "$(dirname "$0")/.."
portable=${1:-build}
native=${2:-build-native}
filter=${LOOM_BENCH_FILTER:-'^BM_(Gemm_(NN|NT|TN|PackedB)|Train|Infer)/'}
reps=${LOOM_BENCH_REPS:-3}
cmake -S . -B "$portable" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOOM_BUILD_BENCH=ON > /dev/null
if [[ ! -f $native/CMakeCache.txt ]]; then
  cmake -S . -B "$native" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOOM_BUILD_BENCH=ON -DLOOM_BUILD_TESTS=OFF \
    -DLOOM_BUILD_EXAMPLES=OFF -DLOOM_ARCH=native > /dev/null
fi
cmake --build "$portable" --target loom_bench
cmake --build "$native" --target loom_bench
grep -m1 'model name' /proc/cpuinfo || true
out=$(mktemp -d)
for ((r = 0; r < reps; ++r)); do
  for kind in portable native; do
    dir=$portable; [[ $kind == native ]] && dir=$native
    "$dir/bench/loom_bench" --benchmark_filter="$filter" --benchmark_min_time=0.2 \
      --benchmark_out="$out/$kind.$r.csv" --benchmark_out_format=csv > /dev/null 2>&1
  done
done
# name,iterations,real_time,... per file; the median over rounds of each row, then the ratio.
awk -F, '
  FNR == 1 { split(FILENAME, p, "/"); split(p[length(p)], q, "."); kind = q[1] }
  $1 ~ /^"BM_/ { gsub(/"/, "", $1); t[kind, $1] = t[kind, $1] " " $3; names[$1] = 1 }
  function median(s,   a, n, i, j, x) {
    n = split(s, a, " ")
    for (i = 1; i <= n; ++i) for (j = i + 1; j <= n; ++j) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    printf "%-62s %12s %12s %8s\n", "benchmark", "portable", "native", "nat/port"
    for (n in names) {
      a = median(t["portable", n]); b = median(t["native", n])
      if (a > 0) { printf "%-62s %12.4g %12.4g %8.3f\n", n, a, b, b / a; lg += log(b / a); ++k }
    }
    if (k) printf "geometric mean native/portable over %d rows: %.3f (above 1: the portable build is faster)\n", k, exp(lg / k)
  }' "$out"/*.csv | sort
rm -rf "$out"
