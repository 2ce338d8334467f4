// SPDX-License-Identifier: Apache-2.0
// The built-in cells: SimpleRNNCell, LSTMCell and GRUCell, with Keras's weights, gates and defaults.
#pragma once

#include "loom/core/export.hpp"
#include "loom/layers/activations.hpp"
#include "loom/layers/cell.hpp"

namespace loom LOOM_API {

namespace detail {

/// What the built-in cells share: `units`, their options, the Keras weights `kernel`,
/// `recurrent_kernel`, `bias`, and the dropout masks drawn once per layer call (an input mask
/// (batch, input_dim) and a recurrent mask (batch, units), only when training and 0 < rate < 1).
template <class Options>
class KerasCell : public Cell {
 public:
  std::int64_t units() const noexcept { return units_; }
  const Options& options() const noexcept { return options_; }
  void begin_call(std::int64_t batch, DType dtype, bool training) override;
  void end_call() override;

 protected:
  KerasCell(const char* class_name, std::int64_t units, Options options);
  /// The base config plus the keys every built-in cell has.
  nlohmann::json cell_config() const;
  /// x ⊙ (input mask) and h ⊙ (recurrent mask), or the inputs themselves outside dropout.
  Var drop_input(const Var& x) const;
  Var drop_recurrent(const Var& h) const;

  std::int64_t units_;
  Options options_;
  Var kernel_, recurrent_kernel_, bias_;

 private:
  Tensor dp_mask_, rec_dp_mask_;
};

}  // namespace detail

/// Options for `SimpleRNNCell`; names and defaults are `tf.keras.layers.SimpleRNNCell`'s.
struct SimpleRNNCellOptions {
  Activation activation = Activation::tanh;
  bool use_bias = true;
  Initializer kernel_initializer = initializers::glorot_uniform();
  Initializer recurrent_initializer = initializers::orthogonal();
  Initializer bias_initializer = initializers::zeros();
  double dropout = 0.0;            ///< fraction of x_t dropped (one mask per layer call), in [0, 1]
  double recurrent_dropout = 0.0;  ///< fraction of h_{t-1} dropped before U, in [0, 1]
  std::string name;
};

/// h_t = φ(x_t·W + b + h_{t-1}·U). Weights `kernel` (I, u), `recurrent_kernel` (u, u), `bias` (u,).
/// State [h]; output h.
class SimpleRNNCell final : public detail::KerasCell<SimpleRNNCellOptions> {
 public:
  explicit SimpleRNNCell(std::int64_t units, SimpleRNNCellOptions options = {});
  std::vector<Shape> state_size() const override { return {{units_}}; }
  CellOutput call(const Var& x, const std::vector<Var>& states, const CellContext& ctx) override;
  nlohmann::json get_config() const override;
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 protected:
  void build(const Shape& input_shape) override;
};

/// Options for `LSTMCell`; names and defaults are `tf.keras.layers.LSTMCell`'s (TF2).
struct LSTMCellOptions {
  Activation activation = Activation::tanh;
  Activation recurrent_activation = Activation::sigmoid;
  bool use_bias = true;
  Initializer kernel_initializer = initializers::glorot_uniform();
  Initializer recurrent_initializer = initializers::orthogonal();
  Initializer bias_initializer = initializers::zeros();
  bool unit_forget_bias = true;  ///< forget-gate bias block initialised to ones
  double dropout = 0.0;
  double recurrent_dropout = 0.0;
  std::string name;
};

/// Long short-term memory, gate order i, f, c, o:
///
///   z = x·W + h·U + b         i = σ(z_i)  f = σ(z_f)  g = φ(z_c)  o = σ(z_o)
///   c' = f ⊙ c + i ⊙ g        h' = o ⊙ φ(c')
///
/// Weights `kernel` (I, 4u), `recurrent_kernel` (u, 4u), `bias` (4u,) — Keras layout, so Keras
/// weights load without permutation. States [h, c]; output h.
class LSTMCell final : public detail::KerasCell<LSTMCellOptions> {
 public:
  explicit LSTMCell(std::int64_t units, LSTMCellOptions options = {});
  std::vector<Shape> state_size() const override { return {{units_}, {units_}}; }
  CellOutput call(const Var& x, const std::vector<Var>& states, const CellContext& ctx) override;
  nlohmann::json get_config() const override;
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 protected:
  void build(const Shape& input_shape) override;
};

/// Options for `GRUCell`; names and defaults are `tf.keras.layers.GRUCell`'s (TF2: reset_after).
struct GRUCellOptions {
  Activation activation = Activation::tanh;
  Activation recurrent_activation = Activation::sigmoid;
  bool use_bias = true;
  Initializer kernel_initializer = initializers::glorot_uniform();
  Initializer recurrent_initializer = initializers::orthogonal();
  Initializer bias_initializer = initializers::zeros();
  double dropout = 0.0;
  double recurrent_dropout = 0.0;
  bool reset_after = true;  ///< apply the reset gate after the recurrent product (cuDNN-compatible)
  std::string name;
};

/// Gated recurrent unit, gate order z (update), r (reset), h (candidate); h' = z ⊙ h + (1 − z) ⊙ ĥ.
///   reset_after:  x·W + b_i = [xz, xr, xh],  h·U + b_r = [rz, rr, rh];  z = σ(xz + rz), r = σ(xr + rr),
///                 ĥ = φ(xh + r ⊙ rh).  `bias` is (2, 3u): row 0 input bias, row 1 recurrent bias.
///   otherwise:    x·W + b = [xz, xr, xh];  z = σ(xz + h·U_z), r = σ(xr + h·U_r), ĥ = φ(xh + (r ⊙ h)·U_h).
///                 `bias` is (3u,).
/// Weights `kernel` (I, 3u), `recurrent_kernel` (u, 3u). State [h]; output h.
class GRUCell final : public detail::KerasCell<GRUCellOptions> {
 public:
  explicit GRUCell(std::int64_t units, GRUCellOptions options = {});
  std::vector<Shape> state_size() const override { return {{units_}}; }
  CellOutput call(const Var& x, const std::vector<Var>& states, const CellContext& ctx) override;
  nlohmann::json get_config() const override;
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 protected:
  void build(const Shape& input_shape) override;
};

}  // namespace loom
