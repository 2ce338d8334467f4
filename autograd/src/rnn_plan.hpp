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

/// KERAS_SEMANTICS §1.3 for one step, written once for both modes (Vars when unrolled, Tensors in
/// the loop): a masked sample outputs the carry `prev` (its last unmasked output, zeros before any)
/// or zeros with `zero_output_for_mask`, and keeps its old states. `select(m, a, b)` takes a's rows
/// where m is 1; `zeros(v)` makes zeros shaped like v.
template <class V, class Select, class Zeros>
void mask_step(const Tensor& m, bool zero_output_for_mask, std::vector<V>& outs, std::vector<V>& new_states,
               const std::vector<V>& states, std::vector<V>& prev, Select select, Zeros zeros) {
  if (prev.empty())
    for (const V& y : outs) prev.push_back(zeros(y));
  for (std::size_t j = 0; j < outs.size(); ++j) {
    outs[j] = select(m, outs[j], zero_output_for_mask ? zeros(outs[j]) : prev[j]);
    prev[j] = outs[j];
  }
  for (std::size_t i = 0; i < new_states.size(); ++i) new_states[i] = select(m, new_states[i], states[i]);
}

Plan make_plan(const std::vector<Var>& inputs, const std::vector<Var>& initial_states, const LoopOptions& options);

/// Checks one call's results against the states and the batch size.
void check_step_output(const StepOutput& out, const std::vector<Var>& states, const Plan& plan);

/// Shape of the time-stacked outputs: an output leaf (B, …) becomes (B, K, …) or (K, B, …).
Shape with_time_axis(const Shape& leaf, std::int64_t steps, int time_axis);

LoopResult run_loop(const StepFunction& step, const std::vector<Var>& inputs, const std::vector<Var>& initial_states,
                   const LoopOptions& options, const Plan& plan);

}  // namespace loom::backend::detail
