// SPDX-License-Identifier: Apache-2.0
// libtorch's nn.LSTM / nn.GRU / nn.RNN (and an nn.LSTMCell loop) running the step of rnn_step.hpp.
#pragma once

#include <memory>
#include <vector>

#include "../rnn_step.hpp"

namespace loom_bench {

/// One layer through libtorch, from Keras weights (gate orders and biases converted). `step` runs
/// forward and backward of loss = sum(outputs); `cell_loop` steps an nn.LSTMCell in a Python-style
/// loop instead of the fused layer (LSTM only).
class TorchRnn final : public PeerStep {
 public:
  TorchRnn(CellKind cell, const StepSize& size, const KerasWeights& weights, bool cell_loop = false);
  ~TorchRnn();
  void step();
  void infer();
  std::vector<float> outputs() const override;
  std::vector<float> d_kernel() const override;
  std::vector<float> d_recurrent() const override;
  std::vector<float> d_bias() const override;
  std::vector<float> d_input() const override;
  static void set_threads(int n);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace loom_bench
