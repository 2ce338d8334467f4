// SPDX-License-Identifier: Apache-2.0
// The CPU's measured f32 FMA peak, per core and for every core together: independent chains of
// vector FMAs on registers (no memory traffic), at the widest width the CPU runs. The RNN table
// (scripts/bench_rnn.sh) divides the training step's GFLOP/s by it.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

// 12 independent accumulators hide the FMA latency (4 cycles on current x86 cores) on two pipes.
// Returns the FLOPs done (2 per lane per FMA).
__attribute__((target("avx512f"))) double fma_avx512(std::int64_t iterations, float* sink) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (std::int64_t it = 0; it < iterations; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  float total = 0;
  for (float v : lanes) total += v;
  *sink = total;
  return static_cast<double>(iterations) * 12 * 16 * 2;
}

__attribute__((target("avx2,fma"))) double fma_avx2(std::int64_t iterations, float* sink) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * static_cast<float>(i));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (std::int64_t it = 0; it < iterations; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  float total = 0;
  for (float v : lanes) total += v;
  *sink = total;
  return static_cast<double>(iterations) * 12 * 8 * 2;
}

double fma_chains(std::int64_t iterations, float* sink) {
  if (__builtin_cpu_supports("avx512f")) return fma_avx512(iterations, sink);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return fma_avx2(iterations, sink);
  *sink = 0;
  return 0;  // no FMA unit to measure
}

// Threads = state.range(0): each runs its own chains; the counter is the total FLOP/s.
void BM_FmaPeak(benchmark::State& state) {
  const auto threads = static_cast<int>(state.range(0));
  constexpr std::int64_t kIterations = 1 << 22;  // ~10 ms per thread
  double flops = 0;
  for (auto _ : state) {
    std::vector<float> sinks(static_cast<std::size_t>(threads) * 16);
    std::atomic<double> done{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const double f = fma_chains(kIterations, &sinks[static_cast<std::size_t>(t) * 16]);
        double seen = done.load();
        while (!done.compare_exchange_weak(seen, seen + f)) {
        }
      });
    for (std::thread& th : pool) th.join();
    benchmark::DoNotOptimize(sinks.data());
    flops += done.load();
  }
  state.counters["FLOPS"] = benchmark::Counter(flops, benchmark::Counter::kIsRate);
  state.SetLabel(__builtin_cpu_supports("avx512f") ? "avx512" : "avx2");
}

}  // namespace

BENCHMARK(BM_FmaPeak)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
