// SPDX-License-Identifier: Apache-2.0
// from_config's registry: the built-in layers and cells, plus whatever users register.
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "loom/core/check.hpp"
#include "loom/layers/core_layers.hpp"
#include "loom/layers/wrappers.hpp"

namespace loom {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, LayerFactory> factories;
  Registry() {
    // Listed here (not registered from each file) so that static linking cannot drop them.
    factories = {{"SimpleRNNCell", SimpleRNNCell::from_config}, {"LSTMCell", LSTMCell::from_config},
                 {"GRUCell", GRUCell::from_config},             {"StackedRNNCells", StackedRNNCells::from_config},
                 {"RNN", RNN::from_config},                     {"SimpleRNN", SimpleRNN::from_config},
                 {"LSTM", LSTM::from_config},                   {"GRU", GRU::from_config},
                 {"Dense", Dense::from_config},                 {"Embedding", Embedding::from_config},
                 {"Dropout", Dropout::from_config},             {"Masking", Masking::from_config},
                 {"TimeDistributed", TimeDistributed::from_config}, {"Bidirectional", Bidirectional::from_config},
                 {"Sequential", Sequential::from_config}};
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

void register_layer(const std::string& class_name, LayerFactory factory) {
  LOOM_CHECK(!class_name.empty() && factory, ValueError, "register_layer: needs a class name and a factory.");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[class_name] = std::move(factory);
}

std::shared_ptr<Layer> layer_from_config(const nlohmann::json& j) {
  LOOM_CHECK(j.is_object() && j.contains("class_name") && j.at("class_name").is_string(), FormatError,
             "layer_from_config: expected {\"class_name\": ..., \"config\": {...}}; got ", j.dump(), ".");
  const std::string name = j.at("class_name").get<std::string>();
  LayerFactory factory;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    const auto it = r.factories.find(name);
    LOOM_CHECK(it != r.factories.end(), FormatError, "layer_from_config: unknown layer class '", name,
               "'. Hint: custom layers and cells must call register_layer first.");
    factory = it->second;
  }
  try {
    return factory(j.contains("config") ? j.at("config") : nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    LOOM_CHECK(false, FormatError, "layer_from_config: malformed config for ", name, ": ", e.what());
  }
  return nullptr;
}

}  // namespace loom
