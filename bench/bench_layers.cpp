// SPDX-License-Identifier: Apache-2.0
// Measures the LSTM layer: LSTM(256) on (32, 50, 128), forward and forward+backward, both unroll modes.
#include <loom/loom.hpp>

#include <benchmark/benchmark.h>

namespace {

// Args: unroll, backward.
void BM_LSTM_Layer(benchmark::State& state) {
  const bool unroll = state.range(0) != 0, backward = state.range(1) != 0;
  loom::manual_seed(1);
  loom::LSTM lstm(256, {}, {.unroll = unroll});
  const loom::Var x(loom::Tensor::uniform({32, 50, 128}, -1, 1));
  lstm.build_for(x.shape());
  for (auto _ : state) {
    if (backward) {
      loom::GradientTape tape;
      const loom::Var loss = loom::mean(lstm(x));
      benchmark::DoNotOptimize(tape.gradient(loss, lstm.trainable_weights())[0].raw_data());
    } else {
      loom::NoGrad inference;
      benchmark::DoNotOptimize(lstm(x).value().raw_data());
    }
  }
  state.SetLabel(unroll ? "unrolled" : "loop");
}

}  // namespace

BENCHMARK(BM_LSTM_Layer)->ArgNames({"unroll", "backward"})->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMillisecond);
