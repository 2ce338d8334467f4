// SPDX-License-Identifier: Apache-2.0
// The GEMM shapes every GEMM benchmark (loom's and its peers') runs, so that rows pair up by name.
#pragma once

#include <benchmark/benchmark.h>

namespace loom_bench {

// Args: M, N, K, threads. Squares and the RNN shapes of the foundation issue.
inline void gemm_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "threads"});
  for (int threads : {1, 2}) {
    for (int s : {256, 512, 1024}) b->Args({s, s, s, threads});
    b->Args({1, 128, 32, threads});
    b->Args({16, 512, 128, threads});
    b->Args({32, 1024, 256, threads});
    b->Args({64, 2048, 512, threads});
  }
  b->UseRealTime();
}

inline void set_flops(benchmark::State& state) {
  const double flops = 2.0 * state.range(0) * state.range(1) * state.range(2);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace loom_bench
