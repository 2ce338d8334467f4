// SPDX-License-Identifier: Apache-2.0
// backend::rnn: argument checks, the mask and order both modes share, and the unrolled mode.
#include "loom/autograd/rnn.hpp"

#include "loom/autograd/ops/select.hpp"
#include "loom/autograd/ops/shape.hpp"
#include "loom/core/check.hpp"
#include "rnn_plan.hpp"

namespace loom::backend {
namespace detail {
namespace {

std::string input_name(std::size_t i, std::size_t n) { return n == 1 ? "inputs" : "inputs[" + std::to_string(i) + "]"; }

// keep[t·B + b] (original time order) from the mask, or from per-sample lengths; empty when nothing masks.
std::vector<double> read_mask(const LoopOptions& o, const Plan& plan) {
  const std::int64_t t_n = plan.steps, b_n = plan.batch;
  std::vector<double> keep(static_cast<std::size_t>(t_n * b_n), 1.0);
  if (o.mask.defined()) {
    const Tensor& m = o.mask;
    const std::int64_t d0 = o.time_major ? t_n : b_n, d1 = o.time_major ? b_n : t_n;
    const bool ok = (m.dimension() == 2 || (m.dimension() == 3 && m.shape(2) == 1)) && m.shape(0) == d0 &&
                    m.shape(1) == d1;
    LOOM_CHECK(ok, ValueError, "rnn: mask must have shape (", d0, ", ", d1, ") or (", d0, ", ", d1, ", 1) ",
               o.time_major ? "(time, samples)" : "(samples, time)", "; got ", m.shape(), ".");
    const std::vector<double> v = m.to_vector<double>();
    for (std::int64_t t = 0; t < t_n; ++t)
      for (std::int64_t b = 0; b < b_n; ++b)
        keep[static_cast<std::size_t>(t * b_n + b)] = v[static_cast<std::size_t>(o.time_major ? t * b_n + b : b * t_n + t)] != 0.0;
    return keep;
  }
  if (const Tensor* lengths = std::get_if<Tensor>(&o.input_length)) {
    LOOM_CHECK(lengths->defined() && lengths->dimension() == 1 && lengths->shape(0) == b_n, ValueError,
               "rnn: input_length as a tensor must hold one length per sample, shape (", b_n, ",); got ",
               lengths->defined() ? lengths->shape().to_string() : "undefined", ".");
    const std::vector<double> len = lengths->to_vector<double>();
    for (std::int64_t b = 0; b < b_n; ++b) {
      LOOM_CHECK(len[b] >= 0 && len[b] <= static_cast<double>(t_n), ValueError,
                 "rnn: input_length entries must be in [0, ", t_n, "]; got ", len[b], " for sample ", b, ".");
      for (std::int64_t t = 0; t < t_n; ++t)
        keep[static_cast<std::size_t>(t * b_n + b)] = static_cast<double>(t) < len[b];
    }
    return keep;
  }
  return {};
}

}  // namespace

Plan make_plan(const std::vector<Var>& inputs, const std::vector<Var>& initial_states, const LoopOptions& o) {
  LOOM_CHECK(!inputs.empty(), ValueError, "rnn: inputs is empty; pass at least one (samples, time, ...) tensor.");
  Plan plan;
  plan.time_axis = o.time_major ? 0 : 1;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Var& x = inputs[i];
    LOOM_CHECK(x.defined(), ValueError, "rnn: ", input_name(i, inputs.size()), " is undefined.");
    LOOM_CHECK(x.dimension() >= 3, ValueError, "rnn: ", input_name(i, inputs.size()), " must be at least 3-D ",
               o.time_major ? "(time, samples, ...)" : "(samples, time, ...)", "; got shape ", x.shape(), ".");
    LOOM_CHECK(is_floating(x.dtype()), TypeError, "rnn: ", input_name(i, inputs.size()), " must be f32 or f64; got ",
               x.dtype(), ".");
    const std::int64_t t = x.shape(plan.time_axis), b = x.shape(1 - plan.time_axis);
    if (i == 0) {
      plan.steps = t;
      plan.batch = b;
      plan.dtype = x.dtype();
      continue;
    }
    LOOM_CHECK(t == plan.steps, ValueError, "rnn: all inputs must have the same number of time steps; inputs[0] has ",
               plan.steps, " and inputs[", i, "] has ", t, ".");
    LOOM_CHECK(b == plan.batch, ValueError, "rnn: all inputs must have the same number of samples; inputs[0] has ",
               plan.batch, " and inputs[", i, "] has ", b, ".");
    LOOM_CHECK(x.dtype() == plan.dtype, TypeError, "rnn: all inputs must share a dtype; inputs[0] is ", plan.dtype,
               " and inputs[", i, "] is ", x.dtype(), ".");
  }
  LOOM_CHECK(!o.unroll || plan.steps > 0, ValueError, "rnn: Unrolling requires a fixed number of timesteps; got ",
             plan.steps, " time steps in input shape ", inputs[0].shape(), ".");
  LOOM_CHECK(plan.steps > 0, ValueError, "rnn: inputs have no time steps (shape ", inputs[0].shape(),
             "); the loop needs at least one to know its output shape.");
  if (const std::int64_t* n = std::get_if<std::int64_t>(&o.input_length))
    LOOM_CHECK(*n == plan.steps, ValueError, "rnn: input_length must equal the number of time steps, ", plan.steps,
               "; got ", *n, ".");
  for (std::size_t i = 0; i < initial_states.size(); ++i) {
    const Var& s = initial_states[i];
    LOOM_CHECK(s.defined(), ValueError, "rnn: initial_states[", i, "] is undefined.");
    LOOM_CHECK(s.dimension() >= 1 && s.shape(0) == plan.batch, ValueError, "rnn: initial_states[", i, "] must have ",
               plan.batch, " samples (the inputs' batch size) along its first axis; got shape ", s.shape(), ".");
    LOOM_CHECK(s.dtype() == plan.dtype, TypeError, "rnn: initial_states[", i, "] must have the inputs' dtype ",
               plan.dtype, "; got ", s.dtype(), ".");
  }
  for (std::size_t i = 0; i < o.constants.size(); ++i)
    LOOM_CHECK(o.constants[i].defined(), ValueError, "rnn: constants[", i, "] is undefined.");
  LOOM_CHECK(o.checkpoint_every >= 0, ValueError, "rnn: checkpoint_every must be >= 0; got ", o.checkpoint_every, ".");

  const bool wants_mask = o.mask.defined() || std::holds_alternative<Tensor>(o.input_length);
  LOOM_CHECK(!wants_mask || !initial_states.empty(), ValueError,
             "rnn: mask was provided but initial_states is empty; masking needs at least one state.");
  const std::vector<double> keep = read_mask(o, plan);
  plan.masked = !keep.empty();
  if (plan.masked) {  // one (T, B) tensor; each step's row is a view of it
    const Tensor all = Tensor::from_vector(keep, {plan.steps, plan.batch}).to(plan.dtype);
    for (std::int64_t t = 0; t < plan.steps; ++t) plan.mask_rows.push_back(all.index0(t));
  }
  for (std::int64_t k = 0; k < plan.steps; ++k) plan.order.push_back(o.go_backwards ? plan.steps - 1 - k : k);
  return plan;
}

void check_step_output(const StepOutput& out, const std::vector<Var>& states, const Plan& plan) {
  LOOM_CHECK(out.states.size() == states.size(), ValueError, "rnn: the step function returned ", out.states.size(),
             " new states for ", states.size(), " states.");
  for (std::size_t i = 0; i < states.size(); ++i) {
    LOOM_CHECK(out.states[i].defined(), ValueError, "rnn: the step function returned an undefined new state ", i, ".");
    LOOM_CHECK(out.states[i].shape() == states[i].shape(), ValueError, "rnn: new state ", i, " has shape ",
               out.states[i].shape(), " but the state it replaces has shape ", states[i].shape(), ".");
    LOOM_CHECK(out.states[i].dtype() == states[i].dtype(), TypeError, "rnn: new state ", i, " has dtype ",
               out.states[i].dtype(), " but the state it replaces has dtype ", states[i].dtype(), ".");
  }
  LOOM_CHECK(!out.outputs.empty(), ValueError, "rnn: the step function returned no output.");
  for (std::size_t j = 0; j < out.outputs.size(); ++j) {
    const Var& y = out.outputs[j];
    LOOM_CHECK(y.defined(), ValueError, "rnn: the step function returned an undefined output ", j, ".");
    LOOM_CHECK(y.dimension() >= 1 && y.shape(0) == plan.batch, ValueError, "rnn: output ", j,
               " of the step function must have ", plan.batch, " samples along its first axis; got shape ", y.shape(),
               ".");
  }
}

Shape with_time_axis(const Shape& leaf, std::int64_t steps, int time_axis) {
  Shape s;
  for (int i = 0; i < leaf.rank(); ++i) {
    if (i == time_axis) s.push_back(steps);
    s.push_back(leaf[i]);
  }
  if (time_axis == leaf.rank()) s.push_back(steps);
  return s;
}

namespace {

LoopResult run_unrolled(const StepFunction& step, const std::vector<Var>& inputs,
                       const std::vector<Var>& initial_states, const LoopOptions& o, const Plan& plan) {
  std::vector<std::vector<Var>> slices;
  for (const Var& x : inputs) slices.push_back(unstack(x, plan.time_axis));
  std::vector<Var> states = initial_states;
  std::vector<Var> prev;                   // last masked output per leaf (the carry of §1.3)
  std::vector<std::vector<Var>> outputs;   // per leaf, in processing order
  std::vector<Var> x_t(inputs.size());
  for (std::int64_t t : plan.order) {
    for (std::size_t i = 0; i < inputs.size(); ++i) x_t[i] = slices[i][static_cast<std::size_t>(t)];
    StepOutput out = step(x_t, states, o.constants);
    check_step_output(out, states, plan);
    if (outputs.empty()) outputs.resize(out.outputs.size());
    LOOM_CHECK(out.outputs.size() == outputs.size(), ValueError, "rnn: the step function returned ",
               out.outputs.size(), " outputs, after ", outputs.size(), " at an earlier step.");
    if (plan.masked)
      mask_step(
          plan.mask_row(t), o.zero_output_for_mask, out.outputs, out.states, states, prev,
          [](const Tensor& m, const Var& a, const Var& b) { return where(m, a, b); },
          [](const Var& v) { return Var(Tensor::zeros(v.shape(), v.dtype())); });
    states = std::move(out.states);
    for (std::size_t j = 0; j < outputs.size(); ++j) {
      if (!o.return_all_outputs) outputs[j].clear();
      outputs[j].push_back(out.outputs[j]);
    }
  }
  LoopResult r;
  for (auto& leaf : outputs) {
    r.nested_last_outputs.push_back(leaf.back());
    r.nested_outputs.push_back(o.return_all_outputs
                                   ? stack(leaf, plan.time_axis)
                                   : reshape(leaf.back(), with_time_axis(leaf.back().shape(), 1, plan.time_axis)));
  }
  r.last_output = r.nested_last_outputs.front();
  r.outputs = r.nested_outputs.front();
  r.new_states = std::move(states);
  return r;
}

}  // namespace
}  // namespace detail

LoopResult rnn(const StepFunction& step_function, const std::vector<Var>& inputs,
              const std::vector<Var>& initial_states, const LoopOptions& options) {
  LOOM_CHECK(static_cast<bool>(step_function), ValueError, "rnn: step_function is empty.");
  const detail::Plan plan = detail::make_plan(inputs, initial_states, options);
  if (options.unroll) return detail::run_unrolled(step_function, inputs, initial_states, options, plan);
  return detail::run_loop(step_function, inputs, initial_states, options, plan);
}

}  // namespace loom::backend
