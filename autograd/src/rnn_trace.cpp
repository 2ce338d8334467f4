// SPDX-License-Identifier: Apache-2.0
// backend::rnn, loop mode, stage 1: trace the step function once into a step graph.
#include <optional>

#include "rnn_graph.hpp"

namespace loom::backend::detail {
namespace {

using loom::detail::TapeData;

/// Records the trace on its own, whatever the caller has open (tapes, NoGrad), and restores the
/// caller's state when the trace ends, even by an exception.
class IsolatedRecording {
 public:
  IsolatedRecording() : saved_(loom::detail::swap_recording_state({})) {}
  ~IsolatedRecording() { loom::detail::swap_recording_state(std::move(saved_)); }
  std::vector<std::uint64_t> outer_serials() const {
    std::vector<std::uint64_t> out;
    if (saved_.no_grad == 0)
      for (const TapeData* t : saved_.active) out.push_back(t->serial);
    return out;
  }
  IsolatedRecording(const IsolatedRecording&) = delete;
  IsolatedRecording& operator=(const IsolatedRecording&) = delete;

 private:
  loom::detail::RecordingState saved_;
};

Fetch fetch_of(const Var& v, std::uint64_t serial) {
  Fetch f;
  f.slot = v.impl()->slot_on(serial);
  if (f.slot < 0) f.constant = v.value();
  return f;
}

}  // namespace

std::vector<Tensor> StepGraph::initial_values(const std::vector<Tensor>& constants) const {
  std::vector<Tensor> values(static_cast<std::size_t>(slots));
  for (const auto& [slot, impl] : tape->data().leaves) values[static_cast<std::size_t>(slot)] = impl->value;
  for (std::size_t i = 0; i < c_slots.size(); ++i)
    if (c_slots[i] >= 0) values[static_cast<std::size_t>(c_slots[i])] = constants[i];
  return values;
}

std::shared_ptr<StepGraph> trace(const StepFunction& step, const std::vector<Tensor>& x0,
                                 const std::vector<Var>& states, const std::vector<Var>& constants, const Plan& plan) {
  auto g = std::make_shared<StepGraph>();
  std::vector<Var> px, ps, pc;
  for (const Tensor& x : x0) px.emplace_back(x);
  for (const Var& s : states) ps.emplace_back(s.value());
  for (const Var& c : constants) pc.emplace_back(c.value());
  std::optional<StepOutput> traced;
  {
    IsolatedRecording isolated;
    g->tape = std::make_unique<GradientTape>(/*persistent=*/true);
    g->tape->data().capture_from = isolated.outer_serials();
    g->tape->data().record_shapes = true;
    for (const auto* group : {&px, &ps, &pc})
      for (const Var& v : *group)
        if (is_floating(v.dtype())) g->tape->watch(v);
    traced.emplace(step(px, ps, pc));
    g->tape->stop_recording();
  }
  const StepOutput& out = *traced;
  check_step_output(out, ps, plan);
  TapeData& d = g->tape->data();
  auto slots_of = [&](const std::vector<Var>& vs) {
    std::vector<std::int32_t> r;
    for (const Var& v : vs) r.push_back(v.impl()->slot_on(d.serial));
    return r;
  };
  g->x_slots = slots_of(px);
  g->s_slots = slots_of(ps);
  g->c_slots = slots_of(pc);
  for (const Var& y : out.outputs) g->outputs.push_back(fetch_of(y, d.serial));
  for (const Var& s : out.states) g->new_states.push_back(fetch_of(s, d.serial));
  g->slots = d.slots;
  g->needed.assign(static_cast<std::size_t>(d.slots), 0);
  g->keep.assign(static_cast<std::size_t>(d.slots), 0);
  std::vector<std::uint8_t> placeholder(static_cast<std::size_t>(d.slots), 0);
  for (const auto* group : {&g->x_slots, &g->s_slots, &g->c_slots})
    for (std::int32_t slot : *group)
      if (slot >= 0) placeholder[static_cast<std::size_t>(slot)] = 1;
  for (const auto& [slot, impl] : d.leaves) {
    g->needed[static_cast<std::size_t>(slot)] = g->keep[static_cast<std::size_t>(slot)] = 1;
    if (!placeholder[static_cast<std::size_t>(slot)]) g->captured.emplace_back(slot, Var::from_impl(impl));
  }
  g->needed = loom::detail::mark_dependents(d.nodes, std::move(g->needed));
  return g;
}

Nodes clone_nodes(const Nodes& nodes) {
  Nodes out;
  out.reserve(nodes.size());
  for (const auto& n : nodes) out.push_back(n->clone());
  return out;
}

}  // namespace loom::backend::detail
