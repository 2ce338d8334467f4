// SPDX-License-Identifier: Apache-2.0
// RNN layer: states, statefulness, validation and configs around backend::rnn; SimpleRNN/LSTM/GRU.
#include "loom/layers/rnn.hpp"

#include <optional>
#include <sstream>

#include "config.hpp"
#include "loom/core/gemm.hpp"

namespace loom {
namespace {

Shape with_batch(std::int64_t batch, const Shape& s) {
  Shape out{batch};
  for (std::int64_t d : s) out.push_back(d);
  return out;
}

std::string shapes_string(const std::vector<Shape>& shapes) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shapes.size(); ++i) out << (i ? ", " : "") << shapes[i];
  out << ']';
  return out.str();
}

RNNOptions rnn_options(const nlohmann::json& c, const char* api) {
  RNNOptions o;
  o.return_sequences = detail::field<bool>(c, "return_sequences", false, api);
  o.return_state = detail::field<bool>(c, "return_state", false, api);
  o.go_backwards = detail::field<bool>(c, "go_backwards", false, api);
  o.stateful = detail::field<bool>(c, "stateful", false, api);
  o.unroll = detail::field<bool>(c, "unroll", false, api);
  o.time_major = detail::field<bool>(c, "time_major", false, api);
  o.zero_output_for_mask = detail::field<bool>(c, "zero_output_for_mask", false, api);
  o.checkpoint_every = detail::field<std::int64_t>(c, "checkpoint_every", 0, api);
  o.name = detail::field<std::string>(c, "name", "", api);
  return o;
}

}  // namespace

RNN::RNN(std::shared_ptr<Cell> cell, RNNOptions options) : RNN("RNN", std::move(cell), std::move(options)) {}

RNN::RNN(std::vector<std::shared_ptr<Cell>> cells, RNNOptions options)
    : RNN("RNN", std::make_shared<StackedRNNCells>(std::move(cells)), std::move(options)) {}

RNN::RNN(std::string class_name, std::shared_ptr<Cell> cell, RNNOptions options)
    : Layer(std::move(class_name), options.name), cell_(std::move(cell)), options_(std::move(options)) {
  LOOM_CHECK(cell_ != nullptr, ValueError, "RNN: Argument `cell` should be a cell; got a null pointer.");
  LOOM_CHECK(options_.checkpoint_every >= 0, ValueError, this->class_name(),
             ": checkpoint_every must be >= 0 (0 keeps every step); got ", options_.checkpoint_every, ".");
  LOOM_CHECK(options_.checkpoint_every == 0 || !options_.unroll, ValueError, this->class_name(),
             ": checkpoint_every applies to the loop node and cannot be combined with unroll=True.");
}

void RNN::build(const Shape& input_shape) { build_nested({input_shape}); }

void RNN::build_nested(const std::vector<Shape>& shapes) {
  const int taxis = options_.time_major ? 0 : 1;
  std::vector<Shape> step;
  for (const Shape& s : shapes) {
    LOOM_CHECK(s.rank() >= 3, ValueError, class_name(), ": inputs must be at least 3-D ",
               options_.time_major ? "(time, batch, ...)" : "(batch, time, ...)", "; got shape ", s, ".");
    Shape one;
    for (int i = 0; i < s.rank(); ++i)
      if (i != taxis) one.push_back(s[i]);
    step.push_back(one);
  }
  if (!cell_->built()) {
    cell_->set_dtype(dtype());
    cell_->build_nested(step);
  }
  mark_built();
}

std::vector<Var> RNN::initial_states(std::int64_t batch, const RNNCallArgs& args) const {
  const std::vector<Shape> sizes = cell_->state_size();
  if (!args.initial_state.empty()) {
    LOOM_CHECK(args.initial_state.size() == sizes.size(), ValueError, class_name(), ": Layer has ", sizes.size(),
               " states but was passed ", args.initial_state.size(), " initial states.");
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const Var& s = args.initial_state[i];
      LOOM_CHECK(s.defined() && s.shape() == with_batch(batch, sizes[i]), ValueError, class_name(),
                 ": An `initial_state` was passed that is not compatible with `cell.state_size`. Received state ", i,
                 " of shape ", s.defined() ? s.shape().to_string() : "undefined", "; however `cell.state_size` is ",
                 shapes_string(sizes), " (expected ", with_batch(batch, sizes[i]), ").");
      LOOM_CHECK(s.dtype() == dtype(), TypeError, class_name(), ": initial state ", i, " must have dtype ", dtype(),
                 "; got ", s.dtype(), ".");
    }
    return args.initial_state;
  }
  std::vector<Var> out;
  if (options_.stateful && !states_.empty()) {
    // A copy: the stored variables are overwritten after the call, the recorded steps must keep these values.
    for (const Var& s : states_) out.emplace_back(s.value().clone());
    return out;
  }
  for (Tensor& t : cell_->get_initial_state(batch, dtype())) out.emplace_back(std::move(t));
  return out;
}

RNNOutput RNN::call(const std::vector<Var>& inputs, const RNNCallArgs& args) {
  LOOM_CHECK(!inputs.empty(), ValueError, class_name(), ": needs at least one input.");
  std::vector<Shape> shapes;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    LOOM_CHECK(inputs[i].defined(), ValueError, class_name(), ": input ", i, " is undefined.");
    shapes.push_back(inputs[i].shape());
  }
  const int taxis = options_.time_major ? 0 : 1;
  LOOM_CHECK(shapes[0].rank() >= 3, ValueError, class_name(), ": inputs must be at least 3-D ",
             options_.time_major ? "(time, batch, ...)" : "(batch, time, ...)", "; got shape ", shapes[0], ".");
  const std::int64_t batch = shapes[0][1 - taxis];
  if (options_.stateful && stateful_batch_ >= 0)
    LOOM_CHECK(batch == stateful_batch_, ValueError, class_name(),
               ": If an RNN is stateful, the batch size of the input sequences must be the same as the batch size "
               "of the initial state.\n- Expected batch size: ", stateful_batch_, "\n- Received batch size: ", batch);
  if (!built()) build_nested(shapes);
  LOOM_CHECK(inputs[0].dtype() == dtype(), TypeError, class_name(), ": inputs must have the layer's dtype ", dtype(),
             "; got ", inputs[0].dtype(), ". Hint: call set_dtype before the first call.");
  LOOM_CHECK(args.constants.empty() || cell_->accepts_constants(), ValueError, class_name(), ": RNN cell ",
             cell_->name(), " does not support constants. Received: ", args.constants.size(), " constants.");
  const std::vector<Var> init = initial_states(batch, args);

  Cell& cell = *cell_;
  const bool training = args.training;
  const backend::StepFunction step = [&cell, training](const std::vector<Var>& x, const std::vector<Var>& s,
                                                        const std::vector<Var>& c) {
    return cell.call_nested(x, s, CellContext{c, training});
  };
  backend::LoopOptions ro{.go_backwards = options_.go_backwards,
                         .mask = args.mask,
                         .constants = args.constants,
                         .unroll = options_.unroll,
                         .time_major = options_.time_major,
                         .zero_output_for_mask = options_.zero_output_for_mask,
                         .return_all_outputs = options_.return_sequences,
                         .checkpoint_every = options_.checkpoint_every};
  cell.begin_call(batch, dtype(), training);
  backend::LoopResult r;
  try {
    // Unrolled steps run op by op: pack the cell's weights once for every step's products (the
    // loop node packs what its step captures by itself).
    std::optional<core::PackedWeightsScope> packed;
    if (options_.unroll) {
      std::vector<Tensor> weights;
      for (const Var& w : cell.trainable_weights()) weights.push_back(w.value());
      packed.emplace(weights);
    }
    r = backend::rnn(step, inputs, init, ro);
  } catch (...) {
    cell.end_call();
    throw;
  }
  cell.end_call();

  if (options_.stateful) {  // only after success: a failed call leaves the stored states as they were
    if (states_.empty()) {
      for (std::size_t i = 0; i < r.new_states.size(); ++i)
        states_.push_back(Var::variable(r.new_states[i].value().clone(), name() + "/state_" + std::to_string(i), false));
      stateful_batch_ = batch;
    } else {
      for (std::size_t i = 0; i < states_.size(); ++i) states_[i].assign(r.new_states[i].value());
    }
  }
  RNNOutput out;
  out.outputs = options_.return_sequences ? r.nested_outputs : r.nested_last_outputs;
  out.output = out.outputs.front();
  out.states = r.new_states;
  if (const auto* stack = dynamic_cast<const StackedRNNCells*>(cell_.get())) {
    std::size_t at = 0;
    for (std::size_t n : stack->cell_state_counts()) {
      out.cell_states.emplace_back(out.states.begin() + static_cast<std::ptrdiff_t>(at),
                                   out.states.begin() + static_cast<std::ptrdiff_t>(at + n));
      at += n;
    }
  } else {
    out.cell_states.push_back(out.states);
  }
  return out;
}

RNNOutput RNN::call(const Var& inputs, const RNNCallArgs& args) { return call(std::vector<Var>{inputs}, args); }

Var RNN::call(const Var& inputs, const CallContext& ctx) {
  return call(std::vector<Var>{inputs}, RNNCallArgs{.mask = ctx.mask, .training = ctx.training}).output;
}

Tensor RNN::compute_mask(const Var&, const Tensor& mask) const {
  return options_.return_sequences ? mask : Tensor();
}

std::vector<Shape> RNN::compute_output_shapes(const Shape& input_shape) const {
  LOOM_CHECK(input_shape.rank() >= 3, ValueError, class_name(), ".compute_output_shape: inputs must be at least 3-D; got ",
             input_shape, ".");
  const int taxis = options_.time_major ? 0 : 1;
  const std::int64_t batch = input_shape[1 - taxis], steps = input_shape[taxis];
  std::vector<Shape> out;
  Shape o;
  if (options_.return_sequences) {
    o = options_.time_major ? Shape{steps, batch} : Shape{batch, steps};
  } else {
    o = Shape{batch};
  }
  const std::vector<Shape> output_size = cell_->output_size();
  for (std::int64_t d : output_size[0]) o.push_back(d);
  out.push_back(o);
  if (options_.return_state)
    for (const Shape& s : cell_->state_size()) out.push_back(with_batch(batch, s));
  return out;
}

Shape RNN::compute_output_shape(const Shape& input_shape) const { return compute_output_shapes(input_shape)[0]; }

void RNN::reset_states() {
  LOOM_CHECK(options_.stateful, StateError, class_name(), ".reset_states: Layer must be stateful.");
  LOOM_CHECK(!states_.empty(), StateError, class_name(),
             ".reset_states: a stateful RNN needs to know its batch size; call it on a batch (or pass state values) "
             "first.");
  const std::vector<Tensor> init = cell_->get_initial_state(stateful_batch_, dtype());
  for (std::size_t i = 0; i < states_.size(); ++i) states_[i].assign(init[i]);
}

void RNN::reset_states(const std::vector<Tensor>& values) {
  LOOM_CHECK(options_.stateful, StateError, class_name(), ".reset_states: Layer must be stateful.");
  const std::vector<Shape> sizes = cell_->state_size();
  LOOM_CHECK(values.size() == sizes.size(), ValueError, class_name(), ".reset_states: Layer ", name(), " expects ",
             sizes.size(), " states, but it received ", values.size(), " state values.");
  const std::int64_t batch = stateful_batch_ >= 0 ? stateful_batch_
                             : (values[0].defined() && values[0].dimension() > 0 ? values[0].shape(0) : -1);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const Shape expected = with_batch(batch, sizes[i]);
    LOOM_CHECK(values[i].defined() && values[i].shape() == expected, ValueError, class_name(), ".reset_states: State ",
               i, " is incompatible with layer ", name(), ": expected shape=", expected, " but found shape=",
               values[i].defined() ? values[i].shape().to_string() : "undefined", ".");
    // Like set_weights: floating values only (an integer state would be truncated data, not a state).
    LOOM_CHECK(is_floating(values[i].dtype()), TypeError, class_name(), ".reset_states: State ", i, " of layer ",
               name(), " must be f32 or f64; got ", values[i].dtype(), ".");
  }
  if (states_.empty()) {
    for (std::size_t i = 0; i < values.size(); ++i)
      states_.push_back(Var::variable(values[i].to(dtype()).clone(), name() + "/state_" + std::to_string(i), false));
    stateful_batch_ = batch;
    return;
  }
  for (std::size_t i = 0; i < values.size(); ++i) states_[i].assign(values[i].to(dtype()));
}

nlohmann::json RNN::rnn_config() const {
  nlohmann::json c = Layer::get_config();
  c["return_sequences"] = options_.return_sequences;
  c["return_state"] = options_.return_state;
  c["go_backwards"] = options_.go_backwards;
  c["stateful"] = options_.stateful;
  c["unroll"] = options_.unroll;
  c["time_major"] = options_.time_major;
  c["zero_output_for_mask"] = options_.zero_output_for_mask;
  if (options_.checkpoint_every != 0) c["checkpoint_every"] = options_.checkpoint_every;  // loom's own key
  return c;
}

nlohmann::json RNN::get_config() const {
  nlohmann::json c = rnn_config();
  c["cell"] = cell_->to_json();
  return c;
}

std::shared_ptr<Layer> RNN::from_config(const nlohmann::json& c) {
  detail::require_object(c, "RNN");
  LOOM_CHECK(c.contains("cell"), FormatError, "RNN.from_config: the config has no 'cell'.");
  auto cell = std::dynamic_pointer_cast<Cell>(layer_from_config(c.at("cell")));
  LOOM_CHECK(cell != nullptr, FormatError, "RNN.from_config: 'cell' is not a cell.");
  auto layer = std::make_shared<RNN>(std::move(cell), rnn_options(c, "RNN"));
  layer->apply_base_config(c);
  return layer;
}

// ---- SimpleRNN, LSTM, GRU: the cell's config keys next to the RNN's, as Keras writes them ---------

namespace {
// The cell of SimpleRNN/LSTM/GRU. As in Keras, it is named `fixed` (simple_rnn_cell, lstm_cell, gru_cell)
// unless the options name it, without drawing on the per-class counters; built inside its layer, its
// weights read "<layer>/lstm_cell/kernel".
template <class CellT, class Options>
std::shared_ptr<CellT> make_cell(std::int64_t units, Options o, const char* fixed) {
  if (o.name.empty()) o.name = fixed;
  return std::make_shared<CellT>(units, std::move(o));
}

nlohmann::json merged(nlohmann::json rnn, const nlohmann::json& cell) {
  for (const auto& [key, value] : cell.items())
    if (key != "name" && key != "trainable" && key != "dtype") rnn[key] = value;
  return rnn;
}

template <class Layer_, class CellT>
std::shared_ptr<Layer> rnn_from_merged(const nlohmann::json& c, const char* api) {
  detail::require_object(c, api);
  nlohmann::json cell_config = c;
  cell_config.erase("name");
  const auto cell = std::dynamic_pointer_cast<CellT>(CellT::from_config(cell_config));
  auto layer = std::make_shared<Layer_>(cell->units(), cell->options(), rnn_options(c, api));
  layer->apply_base_config(c);
  return layer;
}
}  // namespace

SimpleRNN::SimpleRNN(std::int64_t units, SimpleRNNCellOptions cell_options, RNNOptions options)
    : RNN("SimpleRNN", make_cell<SimpleRNNCell>(units, std::move(cell_options), "simple_rnn_cell"), std::move(options)) {}
nlohmann::json SimpleRNN::get_config() const { return merged(rnn_config(), cell()->get_config()); }
std::shared_ptr<Layer> SimpleRNN::from_config(const nlohmann::json& c) {
  return rnn_from_merged<SimpleRNN, SimpleRNNCell>(c, "SimpleRNN");
}

LSTM::LSTM(std::int64_t units, LSTMCellOptions cell_options, RNNOptions options)
    : RNN("LSTM", make_cell<LSTMCell>(units, std::move(cell_options), "lstm_cell"), std::move(options)) {}
nlohmann::json LSTM::get_config() const { return merged(rnn_config(), cell()->get_config()); }
std::shared_ptr<Layer> LSTM::from_config(const nlohmann::json& c) { return rnn_from_merged<LSTM, LSTMCell>(c, "LSTM"); }

GRU::GRU(std::int64_t units, GRUCellOptions cell_options, RNNOptions options)
    : RNN("GRU", make_cell<GRUCell>(units, std::move(cell_options), "gru_cell"), std::move(options)) {}
nlohmann::json GRU::get_config() const { return merged(rnn_config(), cell()->get_config()); }
std::shared_ptr<Layer> GRU::from_config(const nlohmann::json& c) { return rnn_from_merged<GRU, GRUCell>(c, "GRU"); }

}  // namespace loom
