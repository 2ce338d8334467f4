// SPDX-License-Identifier: Apache-2.0
// loom's recurrent training step (rnn_step.hpp) through the Keras layers, inference through the same
// layers, and an LSTM cell written by a user from ops, which must run as fast as the built-in one.
#include <loom/loom.hpp>

#include "loom_step.hpp"

namespace {

using loom_bench::CellKind;
using loom_bench::StepSize;

// Args: cell, size, threads. mode 0 = training step, 1 = inference forward, 2 = training step of UserLSTMCell.
void run(benchmark::State& state, int mode) {
  const auto c = static_cast<CellKind>(state.range(0));
  const StepSize& s = loom_bench::kStepSizes[state.range(1)];
  if (mode == 2 && c != CellKind::lstm) {
    state.SkipWithError("the custom cell is an LSTM");
    return;
  }
  loom::set_num_threads(static_cast<int>(state.range(2)));
  const loom_bench::LoomStep st = loom_bench::loom_step(c, s, mode == 2);
  for (auto _ : state) {
    if (mode == 1) {
      loom::NoGrad inference;
      benchmark::DoNotOptimize((*st.layer)(st.x).value().raw_data());
    } else {
      benchmark::DoNotOptimize(loom_bench::loom_train_step(st)[1].raw_data());
    }
  }
  loom::set_num_threads(0);
  loom_bench::label_step(state, mode == 2 ? "loom-custom" : "loom");
}

void BM_Train(benchmark::State& state) { run(state, 0); }
void BM_Infer(benchmark::State& state) { run(state, 1); }
void BM_TrainCustomLSTM(benchmark::State& state) { run(state, 2); }

}  // namespace

BENCHMARK(BM_Train)->Apply(loom_bench::step_args);
BENCHMARK(BM_Infer)->Apply(loom_bench::step_args);
BENCHMARK(BM_TrainCustomLSTM)->Apply(loom_bench::custom_lstm_args);
