// SPDX-License-Identifier: Apache-2.0
// Private: what both execution modes of backend::rnn share — the validated geometry, the mask and the
// processing order — and the loop-node mode's entry point.
#pragma once

#include <cstdint>
#include <vector>

#include "loom/autograd/rnn.hpp"

namespace loom::backend::detail {

struct Plan {
  std::int64_t steps = 0;              // T
  std::int64_t batch = 0;              // B
  DType dtype = DType::f32;
  int time_axis = 1;                   // 0 when time_major
  bool masked = false;
  std::vector<std::int64_t> order;     // processing order: order[k] = t
  std::vector<Tensor> mask_rows;       // (B,) 0/1 per original time t, when masked

  const Tensor& mask_row(std::int64_t t) const { return mask_rows[static_cast<std::size_t>(t)]; }
};

Plan make_plan(const std::vector<Var>& inputs, const std::vector<Var>& initial_states, const RnnOptions& options);

/// Checks one call's results against the states and the batch size.
void check_step_output(const StepOutput& out, const std::vector<Var>& states, const Plan& plan);

/// Shape of the time-stacked outputs: an output leaf (B, …) becomes (B, K, …) or (K, B, …).
Shape with_time_axis(const Shape& leaf, std::int64_t steps, int time_axis);

RnnResult run_loop(const StepFunction& step, const std::vector<Var>& inputs, const std::vector<Var>& initial_states,
                   const RnnOptions& options, const Plan& plan);

}  // namespace loom::backend::detail
