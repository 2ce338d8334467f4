// SPDX-License-Identifier: Apache-2.0
// RNN: the Keras recurrent layer over any cell (or stack of cells), and SimpleRNN / LSTM / GRU.
#pragma once

#include <memory>
#include <vector>

#include "loom/core/export.hpp"
#include "loom/layers/recurrent_cells.hpp"
#include "loom/layers/stacked_cells.hpp"

namespace loom LOOM_API {

/// Options of `RNN`; names and defaults follow `tf.keras.layers.RNN` (TF2).
struct RNNOptions {
  bool return_sequences = false;      ///< output (batch, time, …) instead of the last output
  bool return_state = false;          ///< also return the final states
  bool go_backwards = false;          ///< process the sequence backwards; outputs stay in that order
  bool stateful = false;              ///< carry each sample's final state into the next call
  bool unroll = false;                ///< record every step on the tape instead of one loop node
  bool time_major = false;            ///< inputs and outputs are (time, batch, …)
  bool zero_output_for_mask = false;  ///< masked steps output zeros instead of the last output
  /// loom's own (not in Keras): keep the states every k steps and recompute the steps in between
  /// during backward (0 = keep every step). Same gradients, less memory; needs unroll = false.
  std::int64_t checkpoint_every = 0;
  std::string name;
};

/// Per-call arguments of `RNN::call`.
struct RNNCallArgs {
  Tensor mask;                       ///< (batch, time); any non-zero keeps the step
  bool training = false;             ///< dropout in the cells applies only when training
  std::vector<Var> initial_state;    ///< flat, in state_size() order; wins over stored states
  std::vector<Var> constants;        ///< passed to every step of cells that accept them
};

/// The results of `RNN::call`.
struct RNNOutput {
  Var output;                             ///< last output, or the sequence with return_sequences
  std::vector<Var> outputs;               ///< every output leaf (nested outputs)
  std::vector<Var> states;                ///< final states, flat (filled when return_state)
  std::vector<std::vector<Var>> cell_states;  ///< the same states nested per cell
};

/// The recurrent layer: runs a cell over the time axis with `backend::rnn`.
///
/// Input (batch, time, …) — (time, batch, …) when time_major — or several such inputs (nested).
/// Output (batch, *output_size), or (batch, time, *output_size) with return_sequences. States come
/// from `initial_state`, else (stateful) the stored states, else `cell.get_initial_state`. A stateful
/// layer keeps, per sample, the state after its last unmasked step, and requires the same batch
/// size on every call until `reset_states`.
///
/// Example:
///   RNN layer(std::make_shared<LSTMCell>(64), {.return_sequences = true});
///   RNNOutput out = layer.call(x, {.mask = mask, .training = true});
class RNN : public Layer {
 public:
  explicit RNN(std::shared_ptr<Cell> cell, RNNOptions options = {});
  /// A stack of cells (StackedRNNCells).
  RNN(std::vector<std::shared_ptr<Cell>> cells, RNNOptions options = {});

  RNNOutput call(const std::vector<Var>& inputs, const RNNCallArgs& args);
  RNNOutput call(const Var& inputs, const RNNCallArgs& args = {});
  /// The single-input form used by Sequential: mask and training from the context.
  Var call(const Var& inputs, const CallContext& ctx) override;
  Tensor compute_mask(const Var& inputs, const Tensor& mask) const override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  /// Output shape followed by one shape per state (with return_state), as Keras lists them.
  std::vector<Shape> compute_output_shapes(const Shape& input_shape) const;

  /// The stored states of a stateful layer (empty before its first call).
  std::vector<Var> states() const { return states_; }
  /// Stateful only: sets the stored states to the cell's initial state (zeros by default).
  void reset_states();
  /// Stateful only: sets the stored states to `values` (count and shapes checked first).
  void reset_states(const std::vector<Tensor>& values);

  const std::shared_ptr<Cell>& cell() const noexcept { return cell_; }
  const RNNOptions& options() const noexcept { return options_; }
  /// Sets zero_output_for_mask after construction (Bidirectional ties it to return_sequences, as Keras does).
  void set_zero_output_for_mask(bool value) noexcept { options_.zero_output_for_mask = value; }
  nlohmann::json get_config() const override;
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 protected:
  RNN(std::string class_name, std::shared_ptr<Cell> cell, RNNOptions options);
  void build(const Shape& input_shape) override;
  std::vector<const Layer*> sublayers() const override { return {cell_.get()}; }
  nlohmann::json rnn_config() const;

 private:
  void build_nested(const std::vector<Shape>& shapes);
  std::vector<Var> initial_states(std::int64_t batch, const RNNCallArgs& args) const;
  std::shared_ptr<Cell> cell_;
  RNNOptions options_;
  std::vector<Var> states_;       // stateful: non-trainable state variables
  std::int64_t stateful_batch_ = -1;
};

/// `RNN(SimpleRNNCell(units, cell_options), options)`.
///
/// Example:
///   SimpleRNN layer(32, {.activation = Activation::relu}, {.return_sequences = true});
class SimpleRNN final : public RNN {
 public:
  explicit SimpleRNN(std::int64_t units, SimpleRNNCellOptions cell_options = {}, RNNOptions options = {});
  nlohmann::json get_config() const override;
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);
};

/// `RNN(LSTMCell(units, cell_options), options)`.
///
/// Example:
///   LSTM layer(64, {.recurrent_dropout = 0.1}, {.return_sequences = true, .stateful = true});
class LSTM final : public RNN {
 public:
  explicit LSTM(std::int64_t units, LSTMCellOptions cell_options = {}, RNNOptions options = {});
  nlohmann::json get_config() const override;
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);
};

/// `RNN(GRUCell(units, cell_options), options)`.
class GRU final : public RNN {
 public:
  explicit GRU(std::int64_t units, GRUCellOptions cell_options = {}, RNNOptions options = {});
  nlohmann::json get_config() const override;
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);
};

}  // namespace loom
