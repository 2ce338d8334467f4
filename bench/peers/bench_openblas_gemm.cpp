// SPDX-License-Identifier: Apache-2.0
// Peer: the same f32 GEMM shapes through OpenBLAS's cblas_sgemm (row-major), for loom/OpenBLAS ratios.
#include <cblas.h>

#include <cstdio>
#include <vector>

#include "../gemm_shapes.hpp"

namespace {

void run(benchmark::State& state, bool ta, bool tb) {
  const int m = static_cast<int>(state.range(0)), n = static_cast<int>(state.range(1)),
            k = static_cast<int>(state.range(2));
  openblas_set_num_threads(static_cast<int>(state.range(3)));
  std::vector<float> a(static_cast<std::size_t>(m) * k), b(static_cast<std::size_t>(k) * n),
      c(static_cast<std::size_t>(m) * n);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>((i * 7919) % 1000) * 1e-3f - 0.5f;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>((i * 104729) % 1000) * 1e-3f - 0.5f;
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
                a.data(), ta ? m : k, b.data(), tb ? k : n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  loom_bench::set_flops(state);
  state.SetLabel(openblas_get_corename());
}

void BM_OpenBLAS_Gemm_NN(benchmark::State& state) { run(state, false, false); }
void BM_OpenBLAS_Gemm_NT(benchmark::State& state) { run(state, false, true); }
void BM_OpenBLAS_Gemm_TN(benchmark::State& state) { run(state, true, false); }

}  // namespace

BENCHMARK(BM_OpenBLAS_Gemm_NN)->Apply(loom_bench::gemm_shapes);
BENCHMARK(BM_OpenBLAS_Gemm_NT)->Apply(loom_bench::gemm_shapes);
BENCHMARK(BM_OpenBLAS_Gemm_TN)->Apply(loom_bench::gemm_shapes);
