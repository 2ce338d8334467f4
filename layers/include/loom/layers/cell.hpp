// SPDX-License-Identifier: Apache-2.0
// The RNN cell protocol (the seed's): call one step, state_size, output_size, get_initial_state.
#pragma once

#include <vector>

#include "loom/autograd/rnn.hpp"
#include "loom/core/export.hpp"
#include "loom/layers/layer.hpp"

namespace loom LOOM_API {

/// What a cell returns for one step: its output(s) and its new states (one per state_size entry).
using CellOutput = backend::StepOutput;

/// What a cell's call receives besides input and states.
struct CellContext {
  std::vector<Var> constants;  ///< the RNN's constants (empty unless the cell accepts them)
  bool training = false;
};

/// One time step of a recurrent layer, as in `tf.keras.layers.RNN`'s cell protocol.
///
/// Subclass it with a few lines: give `state_size()` (one Shape per state, without the batch axis —
/// a Shape of several extents is one high-dimensional state; an empty list, a stateless cell),
/// create weights in `build(step_input_shape)` with `add_weight`, and compute one step in `call`
/// with autograd ops. `output_size()` defaults to the first state's size; `get_initial_state`
/// defaults to zeros. A cell that takes `constants` overrides `accepts_constants()`.
///
/// `call` must have static control flow (the RNN may trace it once and replay it per step), and
/// must tolerate being called more than the number of time steps.
///
/// Example (the seed's MinimalRNNCell):
///   class MinimalRNNCell : public Cell {
///    public:
///     explicit MinimalRNNCell(std::int64_t units) : Cell("MinimalRNNCell"), units_(units) {}
///     std::vector<Shape> state_size() const override { return {{units_}}; }
///     CellOutput call(const Var& x, const std::vector<Var>& states, const CellContext&) override {
///       Var h = matmul(x, kernel_) + matmul(states[0], recurrent_kernel_);
///       return {h, {h}};
///     }
///    protected:
///     void build(const Shape& s) override {
///       kernel_ = add_weight("kernel", {s[-1], units_}, initializers::glorot_uniform());
///       recurrent_kernel_ = add_weight("recurrent_kernel", {units_, units_}, initializers::orthogonal());
///     }
///    private:
///     std::int64_t units_;
///     Var kernel_, recurrent_kernel_;
///   };
class Cell : public Layer {
 public:
  explicit Cell(std::string class_name, std::string name = "") : Layer(std::move(class_name), std::move(name)) {}

  /// One step: input_t (batch, …) and the states → output and new states.
  virtual CellOutput call(const Var& input_t, const std::vector<Var>& states, const CellContext& ctx);
  /// One step of a cell with nested inputs (several per step). Default: exactly one input, to `call`.
  virtual CellOutput call_nested(const std::vector<Var>& inputs_t, const std::vector<Var>& states,
                                 const CellContext& ctx);
  /// Cells are stepped by an RNN layer, not called on a sequence.
  Var call(const Var& inputs, const CallContext& ctx) override;

  /// One Shape per state, without the batch axis.
  virtual std::vector<Shape> state_size() const = 0;
  /// One Shape per output (several for nested outputs). Default: the first state's size.
  virtual std::vector<Shape> output_size() const;
  /// The states a call starts from when none are given. Default: zeros (batch, *state_size).
  virtual std::vector<Tensor> get_initial_state(std::int64_t batch_size, DType dtype) const;
  virtual bool accepts_constants() const { return false; }

  /// Builds for nested step inputs (one shape per input, batch axis included). Default: one input.
  virtual void build_nested(const std::vector<Shape>& step_input_shapes);
  /// Called by the RNN once per layer call before the loop (dropout masks are drawn here, so every
  /// step of a call shares them), and once after.
  virtual void begin_call(std::int64_t batch_size, DType dtype, bool training);
  virtual void end_call();
};

/// Options shared by the built-in cells' dropout.
namespace detail {
/// ValueError "<api>: <arg> must be in [0, 1]; got v." unless 0 ≤ v ≤ 1.
void check_fraction(const char* api, const char* arg, double value);
/// ValueError "<api>: Received an invalid value for argument `units`, ..." unless units > 0.
void check_units(const char* api, std::int64_t units);
}  // namespace detail

}  // namespace loom
