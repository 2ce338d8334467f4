// SPDX-License-Identifier: Apache-2.0
// Measures element-wise kernels, reductions and softmax at 4K and 1M elements (bytes/s of input).
#include <loom/loom.hpp>

#include <benchmark/benchmark.h>

namespace {

loom::Tensor input(std::int64_t n) {
  loom::Generator gen(3);
  return loom::Tensor::uniform({n / 256, 256}, -2, 2, loom::DType::f32, &gen);
}

template <class Fn>
void run(benchmark::State& state, Fn&& fn) {
  const loom::Tensor x = input(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(fn(x).raw_data());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0) * 4);
}

void BM_Elementwise_Add(benchmark::State& s) { run(s, [](const loom::Tensor& x) { return loom::core::add(x, x); }); }
void BM_Elementwise_AddRow(benchmark::State& s) {
  const loom::Tensor row = loom::Tensor::ones({256});
  run(s, [&](const loom::Tensor& x) { return loom::core::add(x, row); });
}
void BM_Elementwise_Tanh(benchmark::State& s) { run(s, [](const loom::Tensor& x) { return loom::core::tanh(x); }); }
void BM_Elementwise_Sigmoid(benchmark::State& s) { run(s, [](const loom::Tensor& x) { return loom::core::sigmoid(x); }); }
void BM_Elementwise_Exp(benchmark::State& s) { run(s, [](const loom::Tensor& x) { return loom::core::exp(x); }); }
void BM_Elementwise_TanhBackward(benchmark::State& s) {
  run(s, [](const loom::Tensor& x) { return loom::core::tanh_backward(x, x); });
}
void BM_Reduce_SumAll(benchmark::State& s) { run(s, [](const loom::Tensor& x) { return loom::core::sum(x); }); }
void BM_Reduce_SumAxis0(benchmark::State& s) { run(s, [](const loom::Tensor& x) { return loom::core::sum(x, 0); }); }
void BM_Reduce_SumLastAxis(benchmark::State& s) { run(s, [](const loom::Tensor& x) { return loom::core::sum(x, -1); }); }
void BM_Reduce_Max(benchmark::State& s) { run(s, [](const loom::Tensor& x) { return loom::core::max(x, -1); }); }
void BM_Softmax(benchmark::State& s) { run(s, [](const loom::Tensor& x) { return loom::core::softmax(x); }); }
void BM_LogSoftmax(benchmark::State& s) { run(s, [](const loom::Tensor& x) { return loom::core::log_softmax(x); }); }

}  // namespace

#define LOOM_SIZES ->ArgName("n")->Arg(4096)->Arg(1 << 20)
BENCHMARK(BM_Elementwise_Add) LOOM_SIZES;
BENCHMARK(BM_Elementwise_AddRow) LOOM_SIZES;
BENCHMARK(BM_Elementwise_Tanh) LOOM_SIZES;
BENCHMARK(BM_Elementwise_Sigmoid) LOOM_SIZES;
BENCHMARK(BM_Elementwise_Exp) LOOM_SIZES;
BENCHMARK(BM_Elementwise_TanhBackward) LOOM_SIZES;
BENCHMARK(BM_Reduce_SumAll) LOOM_SIZES;
BENCHMARK(BM_Reduce_SumAxis0) LOOM_SIZES;
BENCHMARK(BM_Reduce_SumLastAxis) LOOM_SIZES;
BENCHMARK(BM_Reduce_Max) LOOM_SIZES;
BENCHMARK(BM_Softmax) LOOM_SIZES;
BENCHMARK(BM_LogSoftmax) LOOM_SIZES;
