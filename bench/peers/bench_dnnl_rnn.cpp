// SPDX-License-Identifier: Apache-2.0
// oneDNN's fused RNN primitives on the training step and inference forward (rnn_step.hpp).
#include "dnnl_rnn.hpp"

namespace {

using loom_bench::CellKind;

void run(benchmark::State& state, bool training) {
  const auto c = static_cast<CellKind>(state.range(0));
  const loom_bench::StepSize& s = loom_bench::kStepSizes[state.range(1)];
  loom_bench::DnnlRnn::set_threads(static_cast<int>(state.range(2)));
  loom_bench::DnnlRnn rnn(c, s, loom_bench::keras_weights(c, s), training);
  for (auto _ : state) {
    rnn.forward();
    if (training) rnn.backward();
  }
  loom_bench::label_step(state, "oneDNN");
}

void BM_DNNL_Train(benchmark::State& state) { run(state, true); }
void BM_DNNL_Infer(benchmark::State& state) { run(state, false); }

}  // namespace

BENCHMARK(BM_DNNL_Train)->Apply(loom_bench::step_args);
BENCHMARK(BM_DNNL_Infer)->Apply(loom_bench::step_args);
