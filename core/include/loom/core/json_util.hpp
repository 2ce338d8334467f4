// SPDX-License-Identifier: Apache-2.0
// Internal helpers for reading JSON from files and configs safely: bounded nesting (checked before
// any recursion over a value) and bounded excerpts of bad values in error messages. Templates over
// the JSON type, so this header needs no JSON library of its own.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "loom/core/check.hpp"
#include "loom/core/export.hpp"

namespace loom LOOM_API {
namespace detail {

/// The deepest nesting loom accepts in a file header or a config (a Keras config of stacked,
/// wrapped RNNs nests about 12 levels).
inline constexpr int kMaxJsonDepth = 64;

/// At most `max_chars` of `j`'s text, for error messages. Only for values whose depth is known to
/// be bounded (dumping walks the value recursively).
template <class Json>
std::string json_excerpt(const Json& j, std::size_t max_chars = 160) {
  std::string text = j.dump();
  if (text.size() > max_chars) {
    text.resize(max_chars);
    text += " ...";
  }
  return text;
}

/// FormatError naming `api` when `j` nests deeper than `max_depth`. Walks `j` with an explicit
/// stack, so a value of any depth is checked without recursion.
template <class Json>
void check_json_depth(const Json& j, const char* api, int max_depth = kMaxJsonDepth) {
  std::vector<std::pair<const Json*, int>> todo{{&j, 1}};
  while (!todo.empty()) {
    const auto [v, depth] = todo.back();
    todo.pop_back();
    if (!v->is_structured()) continue;
    LOOM_CHECK(depth <= max_depth, FormatError, api, ": the JSON nests deeper than ", max_depth, " levels.");
    for (const auto& child : *v) todo.emplace_back(&child, depth + 1);
  }
}

/// A parser callback for `Json::parse` that stops, before building anything deeper, at nesting
/// beyond `max_depth`, and refuses an object that repeats a key (JSON allows it; the formats loom
/// reads forbid it). Both throw FormatError naming `what`.
template <class Json>
class StrictJsonParse {
 public:
  explicit StrictJsonParse(std::string what, int max_depth = kMaxJsonDepth) : what_(std::move(what)), max_(max_depth) {}
  bool operator()(int depth, typename Json::parse_event_t event, Json& parsed) {
    using E = typename Json::parse_event_t;
    if (event == E::object_start || event == E::array_start) {
      LOOM_CHECK(depth < max_, FormatError, what_, ": the JSON nests deeper than ", max_, " levels.");
      keys_.emplace_back();
    } else if (event == E::object_end || event == E::array_end) {
      if (!keys_.empty()) keys_.pop_back();
    } else if (event == E::key && !keys_.empty()) {
      const std::string key = parsed.template get<std::string>();
      std::vector<std::string>& seen = keys_.back();
      for (const std::string& k : seen)
        LOOM_CHECK(k != key, FormatError, what_, ": the key '", json_excerpt(parsed, 80), "' appears twice in one object.");
      seen.push_back(key);
    }
    return true;
  }

 private:
  std::string what_;
  int max_;
  std::vector<std::vector<std::string>> keys_;  // keys seen in each open object
};

}  // namespace detail
}  // namespace loom
