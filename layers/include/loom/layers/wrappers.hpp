// SPDX-License-Identifier: Apache-2.0
// Wrappers and containers: TimeDistributed, Bidirectional, Sequential.
#pragma once

#include <memory>
#include <vector>

#include "loom/core/export.hpp"
#include "loom/layers/rnn.hpp"

namespace loom LOOM_API {

/// Applies a layer to every time step: (batch, time, …) is folded into (batch·time, …), passed to the
/// inner layer, and unfolded. The mask passes through.
class TimeDistributed final : public Layer {
 public:
  explicit TimeDistributed(Ref<Layer> layer, std::string name = "");
  Var call(const Var& inputs, const CallContext& ctx) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);
  const std::shared_ptr<Layer>& layer() const noexcept { return layer_; }

 protected:
  void build(const Shape& input_shape) override;
  std::vector<const Layer*> sublayers() const override { return {layer_.get()}; }

 private:
  std::shared_ptr<Layer> layer_;
};

/// How Bidirectional combines its two directions.
enum class MergeMode { concat, sum, mul, ave, none };

/// Runs an RNN forwards and a copy of it backwards (from its config, with go_backwards flipped), as
/// `tf.keras.layers.Bidirectional`. With return_sequences, the backward sequence is flipped back to
/// the input's time order before merging, and both layers use zero_output_for_mask. With
/// `MergeMode::none`, `call_both` returns the two outputs separately. As in Keras 3, the wrapped layer
/// is renamed `forward_<name>` and the copy is `backward_<name>`, so the weights read
/// `bidirectional/forward_lstm/lstm_cell/kernel` and `bidirectional/backward_lstm/…`.
class Bidirectional final : public Layer {
 public:
  explicit Bidirectional(Ref<RNN> layer, MergeMode merge_mode = MergeMode::concat,
                         std::shared_ptr<RNN> backward_layer = nullptr, std::string name = "");
  /// Merged output (a ValueError for MergeMode::none: use call_both).
  Var call(const Var& inputs, const CallContext& ctx) override;
  /// Forward and backward results before merging; initial_state splits in halves (forward first).
  std::pair<RNNOutput, RNNOutput> call_both(const Var& inputs, const RNNCallArgs& args);
  /// The merged output and, with return_state, the forward states then the backward states.
  RNNOutput call(const Var& inputs, const RNNCallArgs& args);
  Tensor compute_mask(const Var& inputs, const Tensor& mask) const override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  void reset_states();
  const std::shared_ptr<RNN>& forward_layer() const noexcept { return forward_; }
  const std::shared_ptr<RNN>& backward_layer() const noexcept { return backward_; }
  nlohmann::json get_config() const override;
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 protected:
  void build(const Shape& input_shape) override;
  std::vector<const Layer*> sublayers() const override { return {forward_.get(), backward_.get()}; }

 private:
  Var merge(const Var& f, const Var& b) const;
  std::shared_ptr<RNN> forward_, backward_;
  MergeMode merge_mode_;
};

/// A stack of single-input layers. Calling it passes each layer's output and mask to the next
/// (masks from Embedding(mask_zero) or Masking reach the RNNs); `reset_states` resets every stateful
/// RNN in it.
///
/// Example:
///   Sequential model({std::make_shared<Embedding>(1000, 64, EmbeddingOptions{.mask_zero = true}),
///                     std::make_shared<LSTM>(128), std::make_shared<Dense>(10)});
///   Var logits = model(ids, {.training = true});
class Sequential final : public Layer {
 public:
  explicit Sequential(std::vector<std::shared_ptr<Layer>> layers = {}, std::string name = "");
  /// `Sequential({Embedding(1000, 32), LSTM(64), Dense(10)})`: temporaries or shared layers.
  Sequential(std::initializer_list<Ref<Layer>> layers, std::string name = "");
  void add(std::shared_ptr<Layer> layer);
  Var call(const Var& inputs, const CallContext& ctx) override;
  Tensor compute_mask(const Var& inputs, const Tensor& mask) const override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  void reset_states();
  const std::vector<std::shared_ptr<Layer>>& layers() const noexcept { return layers_; }
  nlohmann::json get_config() const override;
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 protected:
  void build(const Shape& input_shape) override;
  std::vector<const Layer*> sublayers() const override;

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
  Tensor last_mask_;
};

}  // namespace loom
