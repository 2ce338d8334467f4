// SPDX-License-Identifier: Apache-2.0
// Truncated backpropagation through time over long streams, and the language-model batching helper.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "loom/core/export.hpp"
#include "loom/layers/rnn.hpp"
#include "loom/optim/optimizer.hpp"
#include "loom/optim/strategy.hpp"

namespace loom LOOM_API {

/// What a sequence model returns for a stretch of time: outputs (streams, time, …) and final states.
struct SequenceOutput {
  Var outputs;
  std::vector<Var> states;
};

/// A recurrent model run from explicit states: (inputs (streams, time, …), states, training) → outputs
/// and final states. Gradients must flow from the outputs and final states to the states passed in.
using SequenceModel = std::function<SequenceOutput(const Var& inputs, const std::vector<Var>& states, bool training)>;

/// A SequenceModel from an RNN layer (any cell or stack; return_sequences is forced on) followed by an
/// optional head applied to every step (e.g. a Dense over the vocabulary).
SequenceModel rnn_sequence_model(std::shared_ptr<RNN> rnn, std::shared_ptr<Layer> head = nullptr);

/// A loss of (targets, predictions) over one window.
using LossFunction = std::function<Var(const Tensor& targets, const Var& predictions)>;

/// Options of `TruncatedBPTT`: updates every `k1` steps, gradients through the last `k2` (≥ k1; 0 means
/// k2 = k1, the classic case).
struct TBPTTOptions {
  std::int64_t k1 = 35;
  std::int64_t k2 = 0;
  /// Data-parallel over ranks: each rank owns a contiguous block of the streams (`Strategy::shard` of
  /// the stream count). `reset` and `train` still take every stream, and each rank keeps its block;
  /// gradients are summed over ranks (scaled by each rank's share of the streams) before every update,
  /// so the weights stay identical and equal, up to rounding, those of one process with all streams.
  std::shared_ptr<Strategy> strategy;
};

/// Truncated BPTT (Williams & Peng's TBPTT(k1, k2)) for a stateful model over long streams.
///
/// A batch (streams, total_time, …) is cut into windows ending every k1 steps. The window ending at e
/// runs forward from the carried state at a = max(0, e − k2) over [a, e), computes the loss on the
/// outputs of the steps since the previous update (k1 of them, fewer in a short last window, so each
/// step is trained once), takes gradients through all of [a, e) and applies them. The state carried
/// to the next window — the state at its start, e + k1 − k2, or at the end of the batch after the
/// last window — is detached, so no gradient crosses a window's start. `resets` (streams, total_time), non-zero where a new sequence
/// begins in a stream, zeroes that stream's state before the step (the other streams go on).
///
/// Example (character LM):
///   Tensor streams = batchify(tokens, 32);                 // (32, N/32)
///   TruncatedBPTT trainer(rnn_sequence_model(lstm, head), model_weights, adam, loss, {.k1 = 50});
///   trainer.reset(lstm->cell()->get_initial_state(32, DType::f32));
///   double loss = trainer.train(inputs, targets);
class TruncatedBPTT {
 public:
  TruncatedBPTT(SequenceModel model, std::vector<Var> weights, Optimizer& optimizer, LossFunction loss,
                TBPTTOptions options = {});

  /// Sets the carried states (one per model state, (streams, …); distributed: every stream, of which
  /// this rank keeps its block).
  void reset(std::vector<Tensor> states);
  /// The carried states of this rank's streams.
  const std::vector<Tensor>& carried_states() const noexcept { return carried_; }

  /// Trains over the windows of one batch; returns the mean window loss.
  double train(const Tensor& inputs, const Tensor& targets, const Tensor& resets = Tensor());
  /// The same walk over the windows with nothing applied: each window's gradients, in order (for tests
  /// and for users who want to inspect them). The carried states still advance.
  std::vector<std::vector<Tensor>> window_gradients(const Tensor& inputs, const Tensor& targets,
                                                    const Tensor& resets = Tensor());

 private:
  double run(const Tensor& inputs, const Tensor& targets, const Tensor& resets, std::vector<std::vector<Tensor>>* grads);
  SequenceModel model_;
  std::vector<Var> weights_;
  Optimizer& optimizer_;
  LossFunction loss_;
  TBPTTOptions options_;
  std::vector<Tensor> carried_;
  ReplicaRandom random_;
};

/// Cuts a 1-D token stream into `streams` parallel streams of equal length (the remainder is dropped):
/// stream i holds tokens [i·L, (i+1)·L), L = N / streams, as language-model trainers batch text.
Tensor batchify(const Tensor& tokens, std::int64_t streams);

}  // namespace loom
