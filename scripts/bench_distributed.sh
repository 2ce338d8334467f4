#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Data-parallel step time of the two example models at 1 and 2 ranks (1 thread each), how much of a
# step waits for communication, MPI's all-reduce at several sizes, and the alpha-beta scaling model of
# docs/distributed.md fitted to them. Rounds alternate 1 and 2 ranks, so both see the same machine.
# Env: LOOM_BENCH_ROUNDS (default 2), LOOM_ALPHA_US (network latency per message, default 10),
#      LOOM_BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
loom_install "${LOOM_BUILD_DEPS[@]}" libopenmpi-dev openmpi-bin
build=${LOOM_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOOM_BUILD_BENCH=ON > /dev/null
cmake --build "$build" --parallel "$(nproc)" --target loom_bench_distributed
grep -m1 'model name' /proc/cpuinfo || true
mpi=(mpirun --oversubscribe --bind-to core --mca btl self,vader --mca btl_vader_single_copy_mechanism none)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
dir="$build/bench_distributed"
mkdir -p "$dir"
for round in $(seq "${LOOM_BENCH_ROUNDS:-2}"); do
  for np in 1 2; do
    "${mpi[@]}" -np "$np" "$build/bench/loom_bench_distributed" --benchmark_filter='Step|Window' \
      --benchmark_format=csv > "$dir/steps_np${np}_r${round}.csv"
  done
done
"${mpi[@]}" -np 2 "$build/bench/loom_bench_distributed" --benchmark_filter='Allreduce' --benchmark_format=csv \
  > "$dir/allreduce_np2.csv"
awk -F, -v alpha_us="${LOOM_ALPHA_US:-10}" '
  FNR == 1 { for (i = 1; i <= NF; ++i) { h = $i; gsub(/"/, "", h); col[h] = i }; next }
  FILENAME ~ /allreduce/ {  # name,iterations,real_time (us),...,bytes
    n = $(col["bytes"]); t = $(col["real_time"]) * 1e-6
    wt = 1 / (t * t)  # relative errors: the microsecond sizes count as much as the megabyte ones
    k += wt; sx += wt * n; sy += wt * t; sxx += wt * n * n; sxy += wt * n * t
    next
  }
  $1 ~ /_median/ {
    name = $1; sub(/\/iterations.*/, "", name); sub(/^"?BM_/, "", name)
    np = $(col["ranks"]) + 0
    round = FILENAME; sub(/.*_r/, "", round); sub(/\.csv$/, "", round); round += 0; if (round > rounds) rounds = round
    # per round, the median of 3 repetitions; 1 and 2 ranks of one round ran back to back
    t = $(col["real_time"]); w = $(col["wait_ms"]); mb = $(col["grad_MB"])
    time[name, np, round] = t; waits[name, np, round] = w
    bytes[name] = mb * 1e6; names[name] = 1
  }
  function median(v, n,   i, j, x) {  # of v[1..n]
    for (i = 2; i <= n; ++i) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; --j) v[j + 1] = v[j]; v[j + 1] = x }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  END {
    b = (k * sxy - sx * sy) / (k * sxx - sx * sx); a = (sy - b * sx) / k
    printf "MPI all-reduce, 2 ranks on this machine (shared memory): t = %.2f us + n / (%.2f GB/s)\n", a * 1e6, 1e-9 / b
    printf "\n%-18s %10s %10s %8s %6s %10s %7s %12s\n", "model", "1 rank ms", "2 ranks ms", "speedup", "eff.", "wait ms", "share", "alpha-beta ms"
    for (m in names) {  # medians over the rounds; the speedup is the median of the per-round ratios
      for (r = 1; r <= rounds; ++r) { v1[r] = time[m, 1, r]; v2[r] = time[m, 2, r]; vw[r] = waits[m, 2, r]; vs[r] = v1[r] / v2[r] }
      t1 = median(v1, rounds); t2 = median(v2, rounds); w = median(vw, rounds); sp = median(vs, rounds)
      model_ms = (a + bytes[m] * b) * 1e3  # ring, p = 2: 2 alpha + n beta, fitted as a + b n
      printf "%-18s %10.2f %10.2f %8.2f %5.0f%% %10.3f %6.1f%% %12.3f\n", m, t1, t2, sp, 50 * sp, w, 100 * w / t2, model_ms
      compute[m] = t2 - w
    }
    printf "(%d rounds; wait = time blocked on gradient buckets per step at 2 ranks; alpha-beta = the all-reduce alone)\n", rounds
    printf "\nPredicted efficiency (weak scaling: the 2-rank batch per rank; ring all-reduce, alpha = %g us,\n", alpha_us
    printf "one bucket sent after the backward pass, so nothing hidden):\n"
    printf "%-18s %6s %12s %12s\n", "model", "ranks", "25 Gb/s", "100 Gb/s"
    for (m in names)
      for (i = 1; i <= 3; ++i) {
        p = i == 1 ? 8 : (i == 2 ? 64 : 512)
        line = sprintf("%-18s %6d", m, p)
        for (j = 1; j <= 2; ++j) {
          gbps = j == 1 ? 25 : 100
          tar = 2 * (p - 1) * alpha_us * 1e-3 + 2 * (p - 1) / p * bytes[m] / (gbps * 1e9 / 8) * 1e3
          line = line sprintf(" %11.1f%%", 100 * compute[m] / (compute[m] + tar))
        }
        print line
      }
  }' "$dir"/allreduce_np2.csv "$dir"/steps_np*_r*.csv
