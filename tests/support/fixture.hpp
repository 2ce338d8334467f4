// SPDX-License-Identifier: Apache-2.0
// Test helper: look up a generated fixture array by name as an f64 Tensor.
#pragma once

#include <cstring>
#include <string>

#include "support/reference.hpp"

namespace loom::testing {

template <class Entries>
Tensor fixture(const Entries& entries, const std::string& name) {
  for (const auto& e : entries) {
    if (name != e.name) continue;
    Shape s;
    for (int i = 0; i < e.rank; ++i) s.push_back(e.shape[i]);
    return Tensor::from_vector(std::vector<double>(e.data, e.data + s.numel()), s);
  }
  FAIL("no fixture array named " << name);
  return {};
}

template <class Entries>
bool has_fixture(const Entries& entries, const std::string& name) {
  for (const auto& e : entries)
    if (name == e.name) return true;
  return false;
}

}  // namespace loom::testing
