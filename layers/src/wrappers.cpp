// SPDX-License-Identifier: Apache-2.0
// TimeDistributed, Bidirectional, Sequential.
#include "loom/layers/wrappers.hpp"

#include "config.hpp"
#include "loom/autograd/ops/arithmetic.hpp"
#include "loom/autograd/ops/shape.hpp"

namespace loom {

// ---- TimeDistributed ----------------------------------------------------------------------------

TimeDistributed::TimeDistributed(Ref<Layer> layer, std::string name)
    : Layer("TimeDistributed", std::move(name)), layer_(layer.get()) {
  LOOM_CHECK(layer_ != nullptr, ValueError, "TimeDistributed: the wrapped layer is null.");
}

void TimeDistributed::build(const Shape& s) {
  LOOM_CHECK(s.rank() >= 3, ValueError, "TimeDistributed: the input must be at least 3-D (batch, time, ...); got shape ",
             s, ".");
  Shape step{s[0] * s[1]};
  for (int i = 2; i < s.rank(); ++i) step.push_back(s[i]);
  if (!layer_->built()) {
    layer_->set_dtype(dtype());
    layer_->build_for(step);
  }
}

Var TimeDistributed::call(const Var& x, const CallContext& ctx) {
  Shape folded{x.shape(0) * x.shape(1)};
  for (int i = 2; i < x.dimension(); ++i) folded.push_back(x.shape(i));
  const Var y = (*layer_)(reshape(x, folded), CallContext(Tensor(), ctx.training));
  Shape out{x.shape(0), x.shape(1)};
  for (int i = 1; i < y.dimension(); ++i) out.push_back(y.shape(i));
  return reshape(y, out);
}

Shape TimeDistributed::compute_output_shape(const Shape& s) const {
  Shape step{s[0]};
  for (int i = 2; i < s.rank(); ++i) step.push_back(s[i]);
  const Shape inner = layer_->compute_output_shape(step);
  Shape out{s[0], s[1]};
  for (int i = 1; i < inner.rank(); ++i) out.push_back(inner[i]);
  return out;
}

nlohmann::json TimeDistributed::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["layer"] = layer_->to_json();
  return c;
}

std::shared_ptr<Layer> TimeDistributed::from_config(const nlohmann::json& c) {
  detail::require_object(c, "TimeDistributed");
  LOOM_CHECK(c.contains("layer"), FormatError, "TimeDistributed.from_config: the config has no 'layer'.");
  auto layer = std::make_shared<TimeDistributed>(layer_from_config(c.at("layer")),
                                                 detail::field<std::string>(c, "name", "", "TimeDistributed"));
  layer->apply_base_config(c);
  return layer;
}

// ---- Bidirectional ------------------------------------------------------------------------------

namespace {
const char* merge_name(MergeMode m) {
  switch (m) {
    case MergeMode::concat: return "concat";
    case MergeMode::sum: return "sum";
    case MergeMode::mul: return "mul";
    case MergeMode::ave: return "ave";
    case MergeMode::none: return "none";
  }
  return "concat";
}

MergeMode merge_from_name(const std::string& s) {
  for (MergeMode m : {MergeMode::concat, MergeMode::sum, MergeMode::mul, MergeMode::ave, MergeMode::none})
    if (s == merge_name(m)) return m;
  LOOM_CHECK(false, ValueError, "Bidirectional: Invalid merge mode. Merge mode should be one of {\"sum\", \"mul\", "
                                "\"ave\", \"concat\", \"none\"}; got '", s, "'.");
  return MergeMode::concat;
}

std::string without_prefix(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

// A copy of `layer` from its config with go_backwards flipped (fresh weights), named backward_<name>.
std::shared_ptr<RNN> mirrored(const RNN& layer) {
  nlohmann::json j = layer.to_json();
  j["config"]["go_backwards"] = !layer.options().go_backwards;
  j["config"]["name"] = "backward_" + without_prefix(layer.name(), "backward_");
  auto copy = std::dynamic_pointer_cast<RNN>(layer_from_config(j));
  LOOM_CHECK(copy != nullptr, ValueError, "Bidirectional: the wrapped layer's config does not rebuild an RNN.");
  return copy;
}

std::shared_ptr<RNN> with_zero_output(std::shared_ptr<RNN> layer) {
  // Bidirectional sets zero_output_for_mask = return_sequences on both layers, as Keras does.
  layer->set_zero_output_for_mask(layer->options().return_sequences);
  return layer;
}
}  // namespace

Bidirectional::Bidirectional(Ref<RNN> forward, MergeMode merge_mode, std::shared_ptr<RNN> backward_layer,
                             std::string name)
    : Layer("Bidirectional", std::move(name)), merge_mode_(merge_mode) {
  std::shared_ptr<RNN> layer = forward.get();
  LOOM_CHECK(layer != nullptr, ValueError, "Bidirectional: the wrapped layer is null.");
  LOOM_CHECK(!layer->built() && (!backward_layer || !backward_layer->built()), ValueError,
             "Bidirectional: wrap layers before their first call (their weights are rebuilt).");
  // Keras 3's names: the layers are forward_<name> and backward_<name>, so that the weights read
  // bidirectional/forward_lstm/lstm_cell/kernel and bidirectional/backward_lstm/lstm_cell/kernel.
  if (!backward_layer) backward_layer = mirrored(*layer);
  layer->set_name("forward_" + without_prefix(layer->name(), "forward_"));
  forward_ = with_zero_output(std::move(layer));
  backward_ = with_zero_output(std::move(backward_layer));
  LOOM_CHECK(backward_->options().go_backwards != forward_->options().go_backwards, ValueError,
             "Bidirectional: the backward layer must process the sequence in the other direction (go_backwards).");
  LOOM_CHECK(backward_->options().return_sequences == forward_->options().return_sequences &&
                 backward_->options().return_state == forward_->options().return_state,
             ValueError, "Bidirectional: both layers must agree on return_sequences and return_state.");
}

void Bidirectional::build(const Shape& s) {
  for (const auto& l : {forward_, backward_}) {
    if (!l->built()) {
      l->set_dtype(dtype());
      l->build_for(s);
    }
  }
}

Var Bidirectional::merge(const Var& f, const Var& b) const {
  switch (merge_mode_) {
    case MergeMode::concat: return concat({f, b}, -1);
    case MergeMode::sum: return f + b;
    case MergeMode::mul: return f * b;
    case MergeMode::ave: return (f + b) * 0.5;
    case MergeMode::none: break;
  }
  LOOM_CHECK(false, ValueError, "Bidirectional: merge_mode none has two outputs; use call_both.");
  return f;
}

std::pair<RNNOutput, RNNOutput> Bidirectional::call_both(const Var& x, const RNNCallArgs& args) {
  build_for(x.shape());
  RNNCallArgs fa = args, ba = args;
  if (!args.initial_state.empty()) {
    LOOM_CHECK(args.initial_state.size() % 2 == 0, ValueError,
               "Bidirectional: initial_state must hold the forward states then the backward states; got ",
               args.initial_state.size(), " tensors.");
    const auto half = static_cast<std::ptrdiff_t>(args.initial_state.size() / 2);
    fa.initial_state.assign(args.initial_state.begin(), args.initial_state.begin() + half);
    ba.initial_state.assign(args.initial_state.begin() + half, args.initial_state.end());
  }
  RNNOutput f = forward_->call(x, fa);
  RNNOutput b = backward_->call(x, ba);
  if (forward_->options().return_sequences) {  // flip the backward sequence back to input time order
    const int taxis = forward_->options().time_major ? 0 : 1;
    for (Var& o : b.outputs) o = reverse(o, taxis);
    b.output = b.outputs.front();
  }
  return {std::move(f), std::move(b)};
}

RNNOutput Bidirectional::call(const Var& x, const RNNCallArgs& args) {
  auto [f, b] = call_both(x, args);
  RNNOutput out;
  out.output = merge(f.output, b.output);
  out.outputs = {out.output};
  out.states = f.states;
  out.states.insert(out.states.end(), b.states.begin(), b.states.end());
  out.cell_states = {f.states, b.states};
  return out;
}

Var Bidirectional::call(const Var& x, const CallContext& ctx) {
  return call(x, RNNCallArgs{.mask = ctx.mask, .training = ctx.training}).output;
}

Tensor Bidirectional::compute_mask(const Var& x, const Tensor& mask) const { return forward_->compute_mask(x, mask); }

Shape Bidirectional::compute_output_shape(const Shape& s) const {
  Shape out = forward_->compute_output_shape(s);
  if (merge_mode_ == MergeMode::concat) out[-1] = 2 * out[-1];
  return out;
}

void Bidirectional::reset_states() {
  forward_->reset_states();
  backward_->reset_states();
}

nlohmann::json Bidirectional::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["layer"] = forward_->to_json();
  c["backward_layer"] = backward_->to_json();
  c["merge_mode"] = merge_name(merge_mode_);
  return c;
}

std::shared_ptr<Layer> Bidirectional::from_config(const nlohmann::json& c) {
  detail::require_object(c, "Bidirectional");
  LOOM_CHECK(c.contains("layer"), FormatError, "Bidirectional.from_config: the config has no 'layer'.");
  auto fwd = std::dynamic_pointer_cast<RNN>(layer_from_config(c.at("layer")));
  LOOM_CHECK(fwd != nullptr, FormatError, "Bidirectional.from_config: 'layer' is not an RNN.");
  std::shared_ptr<RNN> bwd;
  if (c.contains("backward_layer")) {
    bwd = std::dynamic_pointer_cast<RNN>(layer_from_config(c.at("backward_layer")));
    LOOM_CHECK(bwd != nullptr, FormatError, "Bidirectional.from_config: 'backward_layer' is not an RNN.");
  }
  auto layer = std::make_shared<Bidirectional>(
      std::move(fwd), merge_from_name(detail::field<std::string>(c, "merge_mode", "concat", "Bidirectional")),
      std::move(bwd), detail::field<std::string>(c, "name", "", "Bidirectional"));
  layer->apply_base_config(c);
  return layer;
}

// ---- Sequential ---------------------------------------------------------------------------------

Sequential::Sequential(std::vector<std::shared_ptr<Layer>> layers, std::string name)
    : Layer("Sequential", std::move(name)) {
  for (auto& l : layers) add(std::move(l));
}

Sequential::Sequential(std::initializer_list<Ref<Layer>> layers, std::string name) : Layer("Sequential", std::move(name)) {
  for (const Ref<Layer>& l : layers) add(l.get());
}

void Sequential::add(std::shared_ptr<Layer> layer) {
  LOOM_CHECK(layer != nullptr, ValueError, "Sequential.add: the layer is null.");
  LOOM_CHECK(!built(), StateError, "Sequential.add: the model is already built.");
  layers_.push_back(std::move(layer));
}

void Sequential::build(const Shape& input_shape) {
  // Build every layer in turn on the shape the previous one produces, so weights exist before a call.
  Shape shape = input_shape;
  for (const auto& l : layers_) {
    if (!l->built()) {
      l->set_dtype(dtype());
      l->build_for(shape);
    }
    shape = l->compute_output_shape(shape);
  }
}

Var Sequential::call(const Var& x, const CallContext& ctx) {
  LOOM_CHECK(!layers_.empty(), ValueError, "Sequential: the model has no layers.");
  Var y = x;
  Tensor mask = ctx.mask;
  for (const auto& l : layers_) {
    const Var in = y;
    y = (*l)(in, CallContext(mask, ctx.training));
    mask = l->compute_mask(in, mask);
  }
  last_mask_ = mask;
  return y;
}

Tensor Sequential::compute_mask(const Var&, const Tensor&) const { return last_mask_; }

Shape Sequential::compute_output_shape(const Shape& s) const {
  Shape out = s;
  for (const auto& l : layers_) out = l->compute_output_shape(out);
  return out;
}

void Sequential::reset_states() {
  for (const auto& l : layers_) {
    if (auto* rnn = dynamic_cast<RNN*>(l.get()); rnn && rnn->options().stateful) rnn->reset_states();
    if (auto* bi = dynamic_cast<Bidirectional*>(l.get()); bi && bi->forward_layer()->options().stateful) bi->reset_states();
    if (auto* seq = dynamic_cast<Sequential*>(l.get())) seq->reset_states();
  }
}

std::vector<const Layer*> Sequential::sublayers() const {
  std::vector<const Layer*> out;
  for (const auto& l : layers_) out.push_back(l.get());
  return out;
}

nlohmann::json Sequential::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["layers"] = nlohmann::json::array();
  for (const auto& l : layers_) c["layers"].push_back(l->to_json());
  return c;
}

std::shared_ptr<Layer> Sequential::from_config(const nlohmann::json& c) {
  detail::require_object(c, "Sequential");
  LOOM_CHECK(c.contains("layers") && c.at("layers").is_array(), FormatError,
             "Sequential.from_config: 'layers' must be a list of layer configs.");
  std::vector<std::shared_ptr<Layer>> layers;
  for (const auto& j : c.at("layers")) layers.push_back(layer_from_config(j));
  auto model = std::make_shared<Sequential>(std::move(layers), detail::field<std::string>(c, "name", "", "Sequential"));
  model->apply_base_config(c);
  return model;
}

}  // namespace loom
