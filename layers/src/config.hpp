// SPDX-License-Identifier: Apache-2.0
// Private: reading layer configs with FormatError for malformed fields.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>

#include "loom/core/check.hpp"
#include "loom/core/json_util.hpp"
#include "loom/layers/activations.hpp"
#include "loom/layers/initializers.hpp"

namespace loom::detail {

/// config[key] as T, or `fallback` when absent or null; FormatError naming `api` when the JSON type
/// is not T's: integers must be written as integers (2.7 is not a unit count, 1e300 is not an
/// int64), booleans as booleans, numbers finite.
template <class T>
T field(const nlohmann::json& config, const char* key, T fallback, const char* api) {
  if (!config.contains(key) || config.at(key).is_null()) return fallback;
  const nlohmann::json& v = config.at(key);
  bool ok = false;
  if constexpr (std::is_same_v<T, bool>) {
    ok = v.is_boolean();
  } else if constexpr (std::is_integral_v<T>) {
    ok = v.is_number_integer() &&
         (!v.is_number_unsigned() || v.template get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())) &&
         (v.is_number_unsigned() || (v.template get<std::int64_t>() >= std::numeric_limits<T>::min() &&
                                     v.template get<std::int64_t>() <= std::numeric_limits<T>::max()));
  } else if constexpr (std::is_floating_point_v<T>) {
    ok = v.is_number() && std::isfinite(v.template get<double>());
  } else {
    ok = v.is_string();
  }
  LOOM_CHECK(ok, FormatError, api, ".from_config: field '", key, "' must be ",
             std::is_same_v<T, bool> ? "a boolean" : std::is_integral_v<T> ? "an integer" :
             std::is_floating_point_v<T> ? "a finite number" : "a string", "; got ", json_excerpt(v), ".");
  return v.template get<T>();
}

/// A rate in [0, 1] (dropout), else FormatError.
inline double fraction_field(const nlohmann::json& config, const char* key, double fallback, const char* api) {
  const double v = field<double>(config, key, fallback, api);
  LOOM_CHECK(v >= 0 && v <= 1, FormatError, api, ".from_config: field '", key, "' must be in [0, 1]; got ", v, ".");
  return v;
}

inline Activation activation_field(const nlohmann::json& c, const char* key, Activation fallback, const char* api) {
  if (!c.contains(key) || c.at(key).is_null()) return c.contains(key) ? Activation::linear : fallback;
  return activation_from_name(field<std::string>(c, key, "", api), api);
}

inline Initializer initializer_field(const nlohmann::json& c, const char* key, const Initializer& fallback) {
  return c.contains(key) ? Initializer::from_config(c.at(key)) : fallback;
}

inline void require_object(const nlohmann::json& c, const char* api) {
  LOOM_CHECK(c.is_object(), FormatError, api, ".from_config: the config must be a JSON object; got ", json_excerpt(c), ".");
}

}  // namespace loom::detail
