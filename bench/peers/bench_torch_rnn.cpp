// SPDX-License-Identifier: Apache-2.0
// libtorch on the training step (nn.LSTM/GRU/RNN, and an nn.LSTMCell loop) and inference (rnn_step.hpp).
// Run with OMP_WAIT_POLICY=PASSIVE too: on 2 cores libtorch's spinning OpenMP threads can be 10× slower.
#include "torch_rnn.hpp"

namespace {

using loom_bench::CellKind;

void run(benchmark::State& state, int mode) {  // 0 train, 1 inference, 2 train through an LSTMCell loop
  const auto c = static_cast<CellKind>(state.range(0));
  const loom_bench::StepSize& s = loom_bench::kStepSizes[state.range(1)];
  loom_bench::TorchRnn::set_threads(static_cast<int>(state.range(2)));
  loom_bench::TorchRnn rnn(c, s, loom_bench::keras_weights(c, s), mode == 2);
  for (auto _ : state) {
    if (mode == 1)
      rnn.infer();
    else
      rnn.step();
  }
  loom_bench::label_step(state, mode == 2 ? "libtorch-LSTMCell" : "libtorch");
}

void BM_Torch_Train(benchmark::State& state) { run(state, 0); }
void BM_Torch_Infer(benchmark::State& state) { run(state, 1); }
void BM_Torch_TrainCustomLSTM(benchmark::State& state) { run(state, 2); }

}  // namespace

BENCHMARK(BM_Torch_Train)->Apply(loom_bench::step_args);
BENCHMARK(BM_Torch_Infer)->Apply(loom_bench::step_args);
BENCHMARK(BM_Torch_TrainCustomLSTM)->Apply(loom_bench::custom_lstm_args);
