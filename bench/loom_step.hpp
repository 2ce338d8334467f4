// SPDX-License-Identifier: Apache-2.0
// loom's side of the recurrent training step (rnn_step.hpp): the Keras layer with the shared weights,
// and the LSTM cell a user writes from ops. Used by the benchmarks and by the peer check.
#pragma once

#include <loom/loom.hpp>

#include "rnn_step.hpp"

namespace loom_bench {

/// An LSTM cell as a user writes it from ops (Cell protocol): the same math as LSTMCell, no fused kernel.
class UserLSTMCell : public loom::Cell {
 public:
  explicit UserLSTMCell(std::int64_t units) : Cell("UserLSTMCell"), units_(units) {}
  std::vector<loom::Shape> state_size() const override { return {{units_}, {units_}}; }
  loom::CellOutput call(const loom::Var& x, const std::vector<loom::Var>& s, const loom::CellContext&) override {
    using namespace loom;
    const std::vector<Var> z = split(matmul(x, w_) + matmul(s[0], u_) + b_, 4, 1);
    const Var c = sigmoid(z[1]) * s[1] + sigmoid(z[0]) * tanh(z[2]);
    const Var h = sigmoid(z[3]) * tanh(c);
    return {h, {h, c}};
  }

 protected:
  void build(const loom::Shape& in) override {
    w_ = add_weight("kernel", {in[-1], 4 * units_}, loom::initializers::zeros());
    u_ = add_weight("recurrent_kernel", {units_, 4 * units_}, loom::initializers::zeros());
    b_ = add_weight("bias", {4 * units_}, loom::initializers::zeros());
  }

 private:
  std::int64_t units_;
  loom::Var w_, u_, b_;
};

inline std::shared_ptr<loom::RNN> make_layer(CellKind c, std::int64_t units, bool custom) {
  const loom::RNNOptions o{.return_sequences = true};
  if (custom) return std::make_shared<loom::RNN>(std::make_shared<UserLSTMCell>(units), o);
  switch (c) {
    case CellKind::lstm: return std::make_shared<loom::LSTM>(units, loom::LSTMCellOptions{}, o);
    case CellKind::gru: return std::make_shared<loom::GRU>(units, loom::GRUCellOptions{.reset_after = true}, o);
    case CellKind::rnn: return std::make_shared<loom::SimpleRNN>(units, loom::SimpleRNNCellOptions{}, o);
  }
  return nullptr;
}

/// The layer with the shared weights, its input, and the sources of the step's gradients
/// (kernel, recurrent kernel, bias, input).
struct LoomStep {
  std::shared_ptr<loom::RNN> layer;
  loom::Var x;
  std::vector<loom::Var> sources;
};

inline LoomStep loom_step(CellKind c, const StepSize& s, bool custom) {
  const KerasWeights w = keras_weights(c, s);
  LoomStep out;
  out.layer = make_layer(c, s.units, custom);
  out.layer->build_for({s.batch, s.steps, s.input});
  const auto g = static_cast<std::int64_t>(gates(c));
  auto tensor = [](const std::vector<float>& v, loom::Shape shape) {
    return loom::Tensor::from_vector(std::vector<double>(v.begin(), v.end()), shape).to(loom::DType::f32);
  };
  out.layer->set_weights({tensor(w.kernel, {s.input, g * s.units}), tensor(w.recurrent, {s.units, g * s.units}),
                          tensor(w.bias, c == CellKind::gru ? loom::Shape{2, g * s.units} : loom::Shape{g * s.units})});
  out.x = loom::Var(tensor(w.input, {s.batch, s.steps, s.input}));
  out.sources = out.layer->trainable_weights();
  out.sources.push_back(out.x);
  return out;
}

/// One training step: loss = sum of all outputs; returns the outputs and the gradients of `sources`.
inline std::vector<loom::Tensor> loom_train_step(const LoomStep& st) {
  loom::GradientTape tape;
  tape.watch(st.x);
  const loom::Var y = (*st.layer)(st.x);
  std::vector<loom::Tensor> out = tape.gradient(loom::sum(y), st.sources);
  out.insert(out.begin(), y.value());
  return out;
}

}  // namespace loom_bench
