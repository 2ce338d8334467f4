// SPDX-License-Identifier: Apache-2.0
// from_config's registry: the built-in layers and cells, plus whatever users register.
#include <map>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>

#include "loom/core/check.hpp"
#include "loom/core/json_util.hpp"
#include "loom/layers/core_layers.hpp"
#include "loom/layers/wrappers.hpp"

namespace loom {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, LayerFactory> factories;
  std::set<std::string> builtin;  // loom's own classes: their configs are checked key by key
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
    for (const auto& [name, f] : factories) builtin.insert(name);
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

// Keys that Keras configs carry and loom reads nothing from (documented in docs/architecture.md):
// performance hints and input-shape declarations, which loom infers when it builds.
constexpr const char* kIgnoredKeys[] = {"implementation", "batch_input_shape", "batch_shape", "input_shape"};
// Keras features loom does not have: accepted only when null (their default, "none").
constexpr const char* kNullOnlyKeys[] = {"kernel_regularizer",     "recurrent_regularizer", "bias_regularizer",
                                         "activity_regularizer",   "embeddings_regularizer", "kernel_constraint",
                                         "recurrent_constraint",   "bias_constraint",        "embeddings_constraint"};
// loom's own keys that its get_config writes only when they differ from their default.
constexpr const char* kOptionalKeys[] = {"checkpoint_every"};

template <std::size_t N>
bool listed(const char* const (&list)[N], const std::string& key) {
  for (const char* k : list)
    if (key == k) return true;
  return false;
}

// A config may hold only the keys the layer's own get_config writes (plus the lists above): a typo
// such as "recurent_dropout" must not train silently without recurrent dropout. Keras raises too.
void check_known_keys(const std::string& class_name, const nlohmann::json& given, const nlohmann::json& written) {
  for (const auto& [key, value] : given.items()) {
    if (written.contains(key) || listed(kIgnoredKeys, key) || listed(kOptionalKeys, key)) continue;
    if (listed(kNullOnlyKeys, key)) {
      LOOM_CHECK(value.is_null(), NotImplementedError, class_name, ".from_config: '", key, "' is ",
                 detail::json_excerpt(value, 80), "; loom has no regularizers or constraints (only null is accepted).");
      continue;
    }
    std::string valid;
    for (const auto& [k, v] : written.items()) valid += (valid.empty() ? "" : ", ") + k;
    LOOM_CHECK(false, FormatError, class_name, ".from_config: unknown key '", key, "'. Valid keys: ", valid, ".");
  }
}

}  // namespace

void register_layer(const std::string& class_name, LayerFactory factory) {
  LOOM_CHECK(!class_name.empty() && factory, ValueError, "register_layer: needs a class name and a factory.");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[class_name] = std::move(factory);
  r.builtin.erase(class_name);  // a user's factory reads (and checks) its own keys
}

std::shared_ptr<Layer> layer_from_config(const nlohmann::json& j) {
  detail::check_json_depth(j, "layer_from_config");  // before anything recurses into it
  LOOM_CHECK(j.is_object() && j.contains("class_name") && j.at("class_name").is_string(), FormatError,
             "layer_from_config: expected {\"class_name\": ..., \"config\": {...}}; got ", detail::json_excerpt(j), ".");
  const std::string name = j.at("class_name").get<std::string>();
  LayerFactory factory;
  bool builtin = false;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    const auto it = r.factories.find(name);
    LOOM_CHECK(it != r.factories.end(), FormatError, "layer_from_config: unknown layer class '", name,
               "'. Hint: custom layers and cells must call register_layer first.");
    factory = it->second;
    builtin = r.builtin.count(name) > 0;
  }
  static const nlohmann::json no_config = nlohmann::json::object();
  const nlohmann::json& config = j.contains("config") ? j.at("config") : no_config;  // no copy
  std::shared_ptr<Layer> layer;
  try {
    layer = factory(config);
    if (layer && builtin && config.is_object()) check_known_keys(name, config, layer->get_config());
  } catch (const nlohmann::json::exception& e) {
    LOOM_CHECK(false, FormatError, "layer_from_config: malformed config for ", name, ": ", e.what());
  }
  return layer;
}

}  // namespace loom
