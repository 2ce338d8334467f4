// SPDX-License-Identifier: Apache-2.0
// Cell: default behaviour of the protocol.
#include "loom/layers/cell.hpp"

#include "loom/core/check.hpp"

namespace loom {

CellOutput Cell::call(const Var&, const std::vector<Var>&, const CellContext&) {
  LOOM_CHECK(false, NotImplementedError, class_name(), ": the cell defines no call(input, states, ctx).");
  return CellOutput(Var(), {});
}

CellOutput Cell::call_nested(const std::vector<Var>& inputs_t, const std::vector<Var>& states, const CellContext& ctx) {
  LOOM_CHECK(inputs_t.size() == 1, ValueError, class_name(), ": takes one input per step; got ", inputs_t.size(),
             ". Hint: override call_nested for nested inputs.");
  return call(inputs_t[0], states, ctx);
}

Var Cell::call(const Var&, const CallContext&) {
  LOOM_CHECK(false, NotImplementedError, class_name(),
             ": a cell computes one time step; wrap it in an RNN layer to run it over a sequence.");
  return {};
}

std::vector<Shape> Cell::output_size() const {
  const std::vector<Shape> s = state_size();
  LOOM_CHECK(!s.empty(), ValueError, class_name(), ": a stateless cell must define output_size().");
  return {s[0]};
}

std::vector<Tensor> Cell::get_initial_state(std::int64_t batch_size, DType dtype) const {
  LOOM_CHECK(batch_size >= 0, ValueError, class_name(), ".get_initial_state: batch_size must be >= 0; got ",
             batch_size, ".");
  std::vector<Tensor> out;
  for (const Shape& s : state_size()) {
    Shape full{batch_size};
    for (std::int64_t d : s) full.push_back(d);
    out.push_back(Tensor::zeros(full, dtype));
  }
  return out;
}

void Cell::build_nested(const std::vector<Shape>& shapes) {
  LOOM_CHECK(shapes.size() == 1, ValueError, class_name(), ": takes one input per step; got ", shapes.size(),
             ". Hint: override build_nested for nested inputs.");
  build_for(shapes[0]);
}

void Cell::begin_call(std::int64_t, DType, bool) {}
void Cell::end_call() {}

void detail::check_fraction(const char* api, const char* arg, double value) {
  LOOM_CHECK(value >= 0.0 && value <= 1.0, ValueError, api, ": ", arg, " must be in [0, 1]; got ", value, ".");
}

void detail::check_units(const char* api, std::int64_t units) {
  LOOM_CHECK(units > 0, ValueError, api, ": Received an invalid value for argument `units`, expected a positive "
                                        "integer, got ", units, ".");
}

}  // namespace loom
