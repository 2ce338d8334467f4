// SPDX-License-Identifier: Apache-2.0
// Private: reading layer configs with FormatError for malformed fields.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "loom/core/check.hpp"
#include "loom/layers/activations.hpp"
#include "loom/layers/initializers.hpp"

namespace loom::detail {

/// config[key] as T, or `fallback` when absent; FormatError naming `api` when of the wrong type.
template <class T>
T field(const nlohmann::json& config, const char* key, T fallback, const char* api) {
  if (!config.contains(key) || config.at(key).is_null()) return fallback;
  try {
    return config.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    LOOM_CHECK(false, FormatError, api, ".from_config: field '", key, "' has the wrong type: ", config.at(key).dump(),
               ".");
  }
  return fallback;
}

inline Activation activation_field(const nlohmann::json& c, const char* key, Activation fallback, const char* api) {
  if (!c.contains(key) || c.at(key).is_null()) return c.contains(key) ? Activation::linear : fallback;
  return activation_from_name(field<std::string>(c, key, "", api), api);
}

inline Initializer initializer_field(const nlohmann::json& c, const char* key, const Initializer& fallback) {
  return c.contains(key) ? Initializer::from_config(c.at(key)) : fallback;
}

inline void require_object(const nlohmann::json& c, const char* api) {
  LOOM_CHECK(c.is_object(), FormatError, api, ".from_config: the config must be a JSON object; got ", c.dump(), ".");
}

}  // namespace loom::detail
