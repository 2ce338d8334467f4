// SPDX-License-Identifier: Apache-2.0
// oneDNN's fused RNN primitives (LSTM, LBR-GRU, vanilla tanh RNN) running the step of rnn_step.hpp.
#pragma once

#include <memory>
#include <vector>

#include "../rnn_step.hpp"

namespace loom_bench {

/// One layer's forward (training or inference) and backward through oneDNN, from Keras weights.
/// Weight reorders happen once at construction (oneDNN at its best); the timed work is `forward`
/// and `backward`, which also zeroes the weight gradients.
class DnnlRnn final : public PeerStep {
 public:
  DnnlRnn(CellKind cell, const StepSize& size, const KerasWeights& weights, bool training);
  ~DnnlRnn();
  void forward();
  void backward();  // after forward(), with d(loss)/d(outputs) = 1
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
