// SPDX-License-Identifier: Apache-2.0
// save_model / load_model.
#include "loom/optim/saving.hpp"

#include <nlohmann/json.hpp>

#include "loom/core/check.hpp"
#include "loom/core/json_util.hpp"
#include "loom/core/safetensors.hpp"
#include "weights_io.hpp"

namespace loom {
namespace {

constexpr const char* kFormat = "loom.model";

nlohmann::json parse_field(const TensorFile& f, const char* key, const std::string& path) {
  const auto it = f.metadata.find(key);
  LOOM_CHECK(it != f.metadata.end(), FormatError, "load_model: '", path, "' has no '", key, "' in __metadata__.");
  try {
    return nlohmann::json::parse(it->second, detail::StrictJsonParse<nlohmann::json>(std::string("load_model: ") + key));
  } catch (const nlohmann::json::exception&) {
    LOOM_CHECK(false, FormatError, "load_model: '", path, "': __metadata__ '", key, "' is not valid JSON.");
  }
  return {};
}

}  // namespace

void save_model(const Model& model, const std::string& path, SaveModelOptions options) {
  const Layer& net = const_cast<Model&>(model).network();
  LOOM_CHECK(net.built(), StateError, "save_model: the network ", net.name(),
             " is not built; call it on a batch, or build_for(input_shape), first.");
  LOOM_CHECK(!net.built_input_shape().empty(), ValueError, "save_model: the network ", net.name(),
             " was built without an input shape it remembers; build it with build_for(input_shape).");
  TensorFile f = detail::weights_file(net);
  f.metadata["format"] = kFormat;
  f.metadata["model_config"] = net.to_json().dump();
  f.metadata["input_shape"] = nlohmann::json(net.built_input_shape().to_vector()).dump();
  const Model::CompileState compiled = model.compile_state();
  if (options.include_optimizer && compiled.optimizer != nullptr) {
    LOOM_CHECK(compiled.loss_known, ValueError, "save_model: the loss '", compiled.loss.name,
               "' has no Keras name that load_model could rebuild; save with {.include_optimizer = false}.");
    nlohmann::json metrics = nlohmann::json::array();
    for (const std::string& m : compiled.metrics) metrics.push_back(m);
    const nlohmann::json compile = {{"optimizer", compiled.optimizer->to_json()},
                                    {"loss", {{"name", compiled.loss.name}, {"from_logits", compiled.loss.from_logits}}},
                                    {"metrics", metrics}};
    f.metadata["compile"] = compile.dump();
    for (const auto& [name, t] : compiled.optimizer->state()) f.tensors.emplace_back("optimizer/" + name, t);
  }
  save_safetensors(path, f);
}

Model load_model(const std::string& path) {
  TensorFile f = load_safetensors(path);
  LOOM_CHECK(f.metadata.count("format") && f.metadata.at("format") == kFormat, FormatError, "load_model: '", path,
             "' is not a loom model file (its __metadata__ 'format' is not '", kFormat, "').");
  const nlohmann::json config = parse_field(f, "model_config", path);
  const nlohmann::json shape = parse_field(f, "input_shape", path);
  LOOM_CHECK(shape.is_array() && !shape.empty() && shape.size() <= static_cast<std::size_t>(Shape::max_rank), FormatError,
             "load_model: '", path, "': 'input_shape' must be a list of 1 to ", Shape::max_rank, " extents; got ",
             detail::json_excerpt(shape), ".");
  std::vector<std::int64_t> dims;
  for (const auto& d : shape) {
    LOOM_CHECK(d.is_number_integer() && d.get<std::int64_t>() >= 0 && d.get<std::int64_t>() <= (std::int64_t{1} << 40),
               FormatError, "load_model: '", path, "': 'input_shape' holds ", detail::json_excerpt(d),
               ", not an extent.");
    dims.push_back(d.get<std::int64_t>());
  }
  std::shared_ptr<Layer> network = layer_from_config(config);
  network->build_for(Shape(dims));
  // The optimizer's tensors are not weights: weights first, alone, by the saved order.
  TensorFile weights{{}, f.metadata};
  std::map<std::string, Tensor> optimizer_state;
  for (auto& [name, t] : f.tensors)
    if (name.rfind("optimizer/", 0) == 0)
      optimizer_state[name.substr(10)] = t;
    else
      weights.tensors.emplace_back(name, t);
  Model model(network);
  if (f.metadata.count("compile")) {
    const nlohmann::json compile = parse_field(f, "compile", path);
    LOOM_CHECK(compile.is_object() && compile.contains("optimizer") && compile.contains("loss") &&
                   compile["loss"].is_object() && compile["loss"].contains("name") && compile["loss"]["name"].is_string() &&
                   compile["loss"].contains("from_logits") && compile["loss"]["from_logits"].is_boolean() &&
                   compile.contains("metrics") && compile["metrics"].is_array(),
               FormatError, "load_model: '", path, "': 'compile' must hold optimizer, loss {name, from_logits} and metrics.");
    std::vector<std::string> metrics;
    for (const auto& m : compile["metrics"]) {
      LOOM_CHECK(m.is_string(), FormatError, "load_model: '", path, "': a metric name is ", detail::json_excerpt(m), ".");
      metrics.push_back(m.get<std::string>());
    }
    Loss loss;
    try {
      loss = losses::by_name(compile["loss"]["name"].get<std::string>(), compile["loss"]["from_logits"].get<bool>());
      model.compile(optimizers::from_json(compile["optimizer"]), loss, metrics);
    } catch (const ValueError& e) {
      LOOM_CHECK(false, FormatError, "load_model: '", path, "': ", e.what());
    }
    // Checked before anything loads: a bad state leaves the (new) model as it was built.
    detail::load_weights_from(weights, model.network(), path, {});
    try {
      model.optimizer().load_state(optimizer_state, model.network().trainable_weights());
    } catch (const FormatError& e) {
      LOOM_CHECK(false, FormatError, "load_model: '", path, "': ", e.what());
    }
  } else {
    LOOM_CHECK(optimizer_state.empty(), FormatError, "load_model: '", path,
               "' holds optimizer state but no 'compile' record.");
    detail::load_weights_from(weights, model.network(), path, {});
  }
  return model;
}

}  // namespace loom
