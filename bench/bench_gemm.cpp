// SPDX-License-Identifier: Apache-2.0
// Measures loom's f32 GEMM (NN, NT, TN, and NN with a pre-packed B) in GFLOP/s at squares and RNN shapes.
#include <loom/loom.hpp>

#include "gemm_shapes.hpp"

namespace {

void run(benchmark::State& state, bool ta, bool tb) {
  const std::int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  loom::set_num_threads(static_cast<int>(state.range(3)));
  loom::Generator gen(1);
  const loom::Tensor a = ta ? loom::Tensor::uniform({k, m}, -1, 1, loom::DType::f32, &gen)
                            : loom::Tensor::uniform({m, k}, -1, 1, loom::DType::f32, &gen);
  const loom::Tensor b = tb ? loom::Tensor::uniform({n, k}, -1, 1, loom::DType::f32, &gen)
                            : loom::Tensor::uniform({k, n}, -1, 1, loom::DType::f32, &gen);
  loom::Tensor c = loom::Tensor::zeros({m, n});
  for (auto _ : state) {
    loom::core::gemm(a, ta, b, tb, c);
    benchmark::DoNotOptimize(c.raw_data());
  }
  loom_bench::set_flops(state);
  loom::set_num_threads(0);
}

void BM_Gemm_NN(benchmark::State& state) { run(state, false, false); }
void BM_Gemm_NT(benchmark::State& state) { run(state, false, true); }
void BM_Gemm_TN(benchmark::State& state) { run(state, true, false); }

void BM_Gemm_PackedB(benchmark::State& state) {
  const std::int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  loom::set_num_threads(static_cast<int>(state.range(3)));
  loom::Generator gen(1);
  const loom::Tensor a = loom::Tensor::uniform({m, k}, -1, 1, loom::DType::f32, &gen);
  const loom::core::PackedB b = loom::core::PackedB::pack(loom::Tensor::uniform({k, n}, -1, 1, loom::DType::f32, &gen));
  loom::Tensor c = loom::Tensor::zeros({m, n});
  for (auto _ : state) {
    loom::core::gemm(a, false, b, c);
    benchmark::DoNotOptimize(c.raw_data());
  }
  loom_bench::set_flops(state);
  loom::set_num_threads(0);
}

}  // namespace

BENCHMARK(BM_Gemm_NN)->Apply(loom_bench::gemm_shapes);
BENCHMARK(BM_Gemm_NT)->Apply(loom_bench::gemm_shapes);
BENCHMARK(BM_Gemm_TN)->Apply(loom_bench::gemm_shapes);
BENCHMARK(BM_Gemm_PackedB)->Apply(loom_bench::gemm_shapes);
