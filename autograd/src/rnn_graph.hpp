// SPDX-License-Identifier: Apache-2.0
// Private: the traced step function of backend::rnn's loop mode (stage 1 of 3: tracing).
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "rnn_plan.hpp"
#include "tape_data.hpp"

namespace loom::backend::detail {

using Nodes = std::vector<std::unique_ptr<loom::detail::NodeBase>>;

/// A Var's slot in the step graph, or −1 with its value when the step graph does not depend on it.
struct Fetch {
  std::int32_t slot = -1;
  Tensor constant;
  const Tensor& get(const std::vector<Tensor>& values) const {
    return slot >= 0 ? values[static_cast<std::size_t>(slot)] : constant;
  }
};

/// The step function recorded once on real step-0 values: its nodes in execution order over a dense
/// slot space, the placeholders' slots (inputs, states, constants), and the Vars it captured.
struct StepGraph {
  std::unique_ptr<GradientTape> tape;  // owns the nodes
  std::vector<std::int32_t> x_slots, s_slots, c_slots;
  std::vector<std::pair<std::int32_t, Var>> captured;  // variables and outer-tracked Vars the step uses
  std::vector<Fetch> outputs, new_states;
  std::vector<std::uint8_t> needed;  // slots that depend on a placeholder or a captured variable
  std::vector<std::uint8_t> keep;    // slots whose gradients backward reads (placeholders, captured)
  std::int32_t slots = 0;
  Nodes& nodes() const { return tape->data().nodes; }
  const Shape& shape(std::int32_t slot) const { return tape->data().shapes[static_cast<std::size_t>(slot)]; }
  /// Slot values before a step: the captured Vars' current values and the constants.
  std::vector<Tensor> initial_values(const std::vector<Tensor>& constants) const;
};

/// Traces `step` on the step-0 inputs `x0`, isolated from the caller's tapes and NoGrad, capturing
/// every Var an outer tape tracks. Checks the step's results against the states (ValueError).
std::shared_ptr<StepGraph> trace(const StepFunction& step, const std::vector<Tensor>& x0,
                                 const std::vector<Var>& states, const std::vector<Var>& constants, const Plan& plan);

Nodes clone_nodes(const Nodes& nodes);

}  // namespace loom::backend::detail
