// SPDX-License-Identifier: Apache-2.0
// Layer: names, weights, weight I/O, configs.
#include "loom/layers/layer.hpp"

#include <cctype>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "loom/core/check.hpp"

namespace loom {
namespace {

std::mutex names_mutex;
std::map<std::string, int>& name_counters() {
  static std::map<std::string, int> counters;
  return counters;
}

std::string unique_name(const std::string& base) {
  std::lock_guard<std::mutex> lock(names_mutex);
  const int n = name_counters()[base]++;
  return n == 0 ? base : base + "_" + std::to_string(n);
}

const char* dtype_keras_name(DType d) { return d == DType::f64 ? "float64" : "float32"; }

// The layers being built on this thread, outermost first (Keras 3's name scopes).
thread_local std::vector<const Layer*> building;

}  // namespace

std::string to_snake_case(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      // A new word starts at an upper-case letter after a lower-case one, or before one ("RNNCell").
      const bool after_lower = i > 0 && std::islower(static_cast<unsigned char>(s[i - 1]));
      const bool before_lower = i > 0 && i + 1 < s.size() && std::islower(static_cast<unsigned char>(s[i + 1])) &&
                                std::isupper(static_cast<unsigned char>(s[i - 1]));
      if (!out.empty() && (after_lower || before_lower)) out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

Layer::Layer(std::string class_name, std::string name)
    : class_name_(std::move(class_name)), name_(name.empty() ? unique_name(to_snake_case(class_name_)) : std::move(name)) {}

Layer::~Layer() = default;

void Layer::reset_name_counters() {
  std::lock_guard<std::mutex> lock(names_mutex);
  name_counters().clear();
}

void Layer::set_name(std::string name) {
  LOOM_CHECK(!built_, StateError, class_name_, ".set_name: the layer is built; its weights already carry its name.");
  LOOM_CHECK(!name.empty(), ValueError, class_name_, ".set_name: the name is empty.");
  name_ = std::move(name);
}

void Layer::set_dtype(DType dtype) {
  LOOM_CHECK(is_floating(dtype), TypeError, class_name_, ": dtype must be f32 or f64; got ", dtype, ".");
  LOOM_CHECK(!built_, StateError, class_name_, ": set_dtype must be called before the layer is built.");
  dtype_ = dtype;
}

Layer::NameScope::NameScope(const Layer& layer) { building.push_back(&layer); }
Layer::NameScope::~NameScope() { building.pop_back(); }

void Layer::build_for(const Shape& input_shape) {
  if (built_) return;
  const NameScope scope(*this);
  build(input_shape);
  built_input_shape_ = input_shape;
  built_ = true;
}

void Layer::build(const Shape&) {}

Var Layer::operator()(const Var& inputs, const CallContext& ctx) {
  LOOM_CHECK(inputs.defined(), ValueError, class_name_, ": the input is undefined.");
  build_for(inputs.shape());
  return call(inputs, ctx);
}

Var Layer::call(const Var&, const CallContext&) {
  LOOM_CHECK(false, NotImplementedError, class_name_, ": this layer is not called on a single input.");
  return {};
}

Tensor Layer::compute_mask(const Var&, const Tensor& mask) const { return mask; }

Shape Layer::compute_output_shape(const Shape& input_shape) const { return input_shape; }

Var Layer::add_weight(const std::string& name, const Shape& shape, const Initializer& initializer, bool trainable) {
  // The enclosing layers' names, then this layer's (once, whether or not it opened a scope itself).
  std::string path;
  for (const Layer* l : building)
    if (l != this) path += l->name_ + "/";
  Var w = Var::variable(initializer(shape, dtype_, default_generator()), path + name_ + "/" + name, trainable);
  own_weights_.push_back(w);
  return w;
}

std::vector<const Layer*> Layer::sublayers() const { return {}; }

void Layer::collect(std::vector<Var>& out, bool trainable) const {
  for (const Var& w : own_weights_)
    if ((w.trainable() && trainable_) == trainable) out.push_back(w);
  for (const Layer* sub : sublayers()) {
    std::vector<Var> inner = trainable ? sub->trainable_weights() : sub->non_trainable_weights();
    if (!trainable_ && trainable) continue;  // a frozen layer's sublayers are frozen too
    out.insert(out.end(), inner.begin(), inner.end());
  }
  if (!trainable_ && !trainable)  // everything of a frozen layer counts as non-trainable
    for (const Layer* sub : sublayers())
      for (const Var& w : sub->trainable_weights()) out.push_back(w);
}

std::vector<Var> Layer::trainable_weights() const {
  std::vector<Var> out;
  collect(out, true);
  return out;
}

std::vector<Var> Layer::non_trainable_weights() const {
  std::vector<Var> out;
  collect(out, false);
  return out;
}

std::vector<Var> Layer::weights() const {
  std::vector<Var> out = trainable_weights();
  const std::vector<Var> rest = non_trainable_weights();
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

std::vector<Tensor> Layer::get_weights() const {
  std::vector<Tensor> out;
  for (const Var& w : weights()) out.push_back(w.value().clone());
  return out;
}

void Layer::set_weights(const std::vector<Tensor>& values) {
  const std::vector<Var> ws = weights();
  LOOM_CHECK(values.size() == ws.size(), ValueError, class_name_, ".set_weights: layer ", name_, " expects ", ws.size(),
             " weights, but received ", values.size(), ".");
  for (std::size_t i = 0; i < ws.size(); ++i) {
    LOOM_CHECK(values[i].defined() && values[i].shape() == ws[i].shape(), ValueError, class_name_,
               ".set_weights: weight ", i, " (", ws[i].name(), ") has shape ", ws[i].shape(), "; got ",
               values[i].defined() ? values[i].shape().to_string() : "undefined", ".");
    LOOM_CHECK(is_floating(values[i].dtype()), TypeError, class_name_, ".set_weights: weight ", i,
               " must be floating; got ", values[i].dtype(), ".");
  }
  for (std::size_t i = 0; i < ws.size(); ++i) {
    Var w = ws[i];
    w.assign(values[i].to(w.dtype()));
  }
}

std::int64_t Layer::count_params() const {
  LOOM_CHECK(built_, StateError, class_name_, ".count_params: layer ", name_,
             " is not built yet; call it on an input (or build_for a shape) first.");
  std::int64_t n = 0;
  for (const Var& w : weights()) n += w.numel();
  return n;
}

nlohmann::json Layer::get_config() const {
  return {{"name", name_}, {"trainable", trainable_}, {"dtype", dtype_keras_name(dtype_)}};
}

nlohmann::json Layer::to_json() const { return {{"class_name", class_name_}, {"config", get_config()}}; }

void Layer::apply_base_config(const nlohmann::json& config) {
  if (config.contains("trainable")) trainable_ = config.at("trainable").get<bool>();
  if (config.contains("dtype")) {
    const std::string d = config.at("dtype").get<std::string>();
    LOOM_CHECK(d == "float32" || d == "float64", FormatError, class_name_, ".from_config: unsupported dtype '", d,
               "'.");
    dtype_ = d == "float64" ? DType::f64 : DType::f32;
  }
}

}  // namespace loom
