// SPDX-License-Identifier: Apache-2.0
// The loop-node mode of backend::rnn: the step function is traced once into a step graph, replayed for
// every time step, and the whole loop is one node on each tape whose backward is BPTT.
#include <optional>

#include "loom/core/check.hpp"
#include "loom/core/elementwise.hpp"
#include "loom/core/gemm.hpp"
#include "loom/core/layout.hpp"
#include "rnn_plan.hpp"
#include "tape_data.hpp"

namespace loom::backend::detail {
namespace {

using loom::detail::GradStore;
using loom::detail::NodeBase;
using loom::detail::TapeData;
using Nodes = std::vector<std::unique_ptr<NodeBase>>;

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

/// A Var's slot in the step graph, or −1 with its value when the step graph does not depend on it.
struct Fetch {
  std::int32_t slot = -1;
  Tensor constant;
  const Tensor& get(const std::vector<Tensor>& values) const {
    return slot >= 0 ? values[static_cast<std::size_t>(slot)] : constant;
  }
};

/// The traced step function.
struct StepGraph {
  std::unique_ptr<GradientTape> tape;  // owns the nodes
  std::vector<std::int32_t> x_slots, s_slots, c_slots;
  std::vector<std::pair<std::int32_t, Var>> captured;  // variables and outer-tracked Vars the step uses
  std::vector<Fetch> outputs, new_states;
  std::vector<std::uint8_t> needed;  // slots that depend on a placeholder or a captured variable
  std::vector<std::uint8_t> keep;    // slots whose gradients backward reads (placeholders, captured)
  std::int32_t slots = 0;
  Nodes& nodes() const { return tape->data().nodes; }
};

Fetch fetch_of(const Var& v, std::uint64_t serial) {
  Fetch f;
  f.slot = v.impl()->slot_on(serial);
  if (f.slot < 0) f.constant = v.value();
  return f;
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

Tensor add_or(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return core::add(a, b);
}

// acc += g, allocating acc on the first contribution.
void accumulate(Tensor& acc, const Tensor& g) {
  if (!g.defined()) return;
  if (!acc.defined())
    acc = g.clone();
  else
    core::add_(acc, g);
}

/// Everything the loop node's backward needs; shared by the node copies on several tapes.
struct Loop {
  std::shared_ptr<StepGraph> graph;
  Plan plan;
  bool zero_output_for_mask = false;
  bool return_all_outputs = true;
  std::int64_t checkpoint_every = 0;
  std::vector<Tensor> x_tm;                 // inputs, time-major
  std::vector<Tensor> constants;
  std::vector<Shape> state_shapes, output_shapes;
  std::vector<std::optional<Nodes>> steps;  // per processing index: that step's nodes (its saved tensors)
  // With checkpointing: the states and the output carry before each segment's first step.
  std::vector<std::vector<Tensor>> ckpt_states, ckpt_prev;

  // The captured weights cannot change while the loop runs: products against them reuse panels packed once.
  core::PackedWeightsScope pack_weights() const {
    std::vector<Tensor> weights;
    for (const auto& [slot, var] : graph->captured) weights.push_back(var.value());
    return core::PackedWeightsScope(weights);
  }

  std::vector<Tensor> initial_values() const {
    std::vector<Tensor> values(static_cast<std::size_t>(graph->slots));
    for (const auto& [slot, impl] : graph->tape->data().leaves) values[static_cast<std::size_t>(slot)] = impl->value;
    for (std::size_t i = 0; i < graph->c_slots.size(); ++i)
      if (graph->c_slots[i] >= 0) values[static_cast<std::size_t>(graph->c_slots[i])] = constants[i];
    return values;
  }

  // Runs processing step k from `states` and the output carry `prev`, updating both and writing the
  // masked outputs to `outs`. With `keep_nodes`, the step runs on copies of the graph's nodes, which
  // then hold this step's saved tensors for backward.
  void forward_step(std::int64_t k, std::vector<Tensor>& values, std::vector<Tensor>& states,
                    std::vector<Tensor>& prev, std::vector<Tensor>& outs, Nodes* keep_nodes) const {
    const StepGraph& g = *graph;
    const std::int64_t t = plan.order[static_cast<std::size_t>(k)];
    for (std::size_t i = 0; i < g.x_slots.size(); ++i)
      if (g.x_slots[i] >= 0) values[static_cast<std::size_t>(g.x_slots[i])] = x_tm[i].index0(t);
    for (std::size_t i = 0; i < g.s_slots.size(); ++i)
      if (g.s_slots[i] >= 0) values[static_cast<std::size_t>(g.s_slots[i])] = states[i];
    if (keep_nodes) {
      *keep_nodes = clone_nodes(g.nodes());
      for (auto& n : *keep_nodes) n->replay(values);
    } else {
      for (auto& n : g.nodes()) n->replay(values);
    }
    outs.resize(g.outputs.size());
    std::vector<Tensor> next(states.size());
    for (std::size_t j = 0; j < outs.size(); ++j) outs[j] = g.outputs[j].get(values);
    for (std::size_t i = 0; i < next.size(); ++i) next[i] = g.new_states[i].get(values);
    if (plan.masked) {
      const Tensor& m = plan.mask_row(t);
      if (prev.empty())
        for (const Tensor& y : outs) prev.push_back(Tensor::zeros(y.shape(), y.dtype()));
      for (std::size_t j = 0; j < outs.size(); ++j) {
        const Tensor fill = zero_output_for_mask ? Tensor::zeros(outs[j].shape(), outs[j].dtype()) : prev[j];
        outs[j] = core::where_rows(m, outs[j], fill);
        prev[j] = outs[j];
      }
      for (std::size_t i = 0; i < next.size(); ++i) next[i] = core::where_rows(m, next[i], states[i]);
    }
    states = std::move(next);
  }
};

/// The one node the loop leaves on a tape. Inputs: the inputs, initial states, constants and the
/// captured variables; outputs: the output sequences, the last outputs and the final states.
class LoopNode final : public NodeBase {
 public:
  explicit LoopNode(std::shared_ptr<Loop> loop) : loop_(std::move(loop)) {}
  const char* name() const noexcept override { return "rnn"; }
  std::unique_ptr<NodeBase> clone() const override { return std::make_unique<LoopNode>(*this); }
  void replay(std::vector<Tensor>&) override {
    LOOM_CHECK(false, NotImplementedError,
               "rnn: a loop node cannot be replayed inside another traced step function; unroll the inner loop.");
  }
  void backward(GradStore& store) const override;

 private:
  std::shared_ptr<Loop> loop_;
};

void LoopNode::backward(GradStore& store) const {
  Loop& L = *loop_;
  const StepGraph& g = *L.graph;
  const Plan& plan = L.plan;
  const std::int64_t steps = plan.steps;
  const std::size_t n_out = g.outputs.size(), n_states = L.state_shapes.size();
  const std::size_t n_in = L.x_tm.size(), n_const = L.constants.size();
  auto upstream = [&](std::size_t k) -> const Tensor& { return store.grad[static_cast<std::size_t>(out[k])]; };

  std::vector<Tensor> d_seq(n_out), d_last(n_out), carry(n_out), d_state(n_states);
  for (std::size_t j = 0; j < n_out; ++j) {
    d_last[j] = upstream(n_out + j);
    if (const Tensor& d = upstream(j); d.defined()) {
      if (L.return_all_outputs)
        d_seq[j] = d;  // read one step at a time below: no transposed copy of the whole sequence
      else
        d_last[j] = add_or(d_last[j], d.reshape(L.output_shapes[j]));
    }
  }
  for (std::size_t i = 0; i < n_states; ++i) {
    d_state[i] = upstream(2 * n_out + i);
    if (!d_state[i].defined()) d_state[i] = Tensor::zeros(L.state_shapes[i], plan.dtype);
  }

  Grads sink(store, in.data(), in.size());
  const core::PackedWeightsScope packed = L.pack_weights();
  std::vector<Tensor> d_x(n_in), d_c(n_const), d_cap(g.captured.size());
  GradStore local;
  local.needed = g.needed;
  local.release = true;
  const bool checkpointing = L.checkpoint_every > 0;
  const std::int64_t segment = checkpointing ? L.checkpoint_every : steps;

  for (std::int64_t end = steps; end > 0;) {
    const std::int64_t begin = (end - 1) / segment * segment;
    if (checkpointing) {  // recompute this segment's steps from its checkpoint
      std::vector<Tensor> values = L.initial_values(), outs;
      std::vector<Tensor> states = L.ckpt_states[static_cast<std::size_t>(begin / segment)];
      std::vector<Tensor> prev = L.ckpt_prev[static_cast<std::size_t>(begin / segment)];
      for (std::int64_t k = begin; k < end; ++k)
        L.forward_step(k, values, states, prev, outs, &L.steps[static_cast<std::size_t>(k)].emplace());
    }
    for (std::int64_t k = end - 1; k >= begin; --k) {
      const std::int64_t t = plan.order[static_cast<std::size_t>(k)];
      std::vector<Tensor> d_out(n_out), d_new(n_states), d_pass(n_states);
      for (std::size_t j = 0; j < n_out; ++j) {
        Tensor d_k;
        if (d_seq[j].defined())
          d_k = plan.time_axis == 0 ? d_seq[j].index0(k) : core::slice(d_seq[j], 1, k, 1).reshape(L.output_shapes[j]);
        d_out[j] = add_or(d_k, k == steps - 1 ? d_last[j] : Tensor());
        d_out[j] = add_or(d_out[j], carry[j]);
        carry[j] = Tensor();
      }
      if (plan.masked) {  // out = where(m, raw, fill), new = where(m, raw_new, old): route by the mask
        const Tensor& m = plan.mask_row(t);
        for (std::size_t j = 0; j < n_out; ++j) {
          if (!d_out[j].defined()) continue;
          const Tensor zeros = Tensor::zeros(d_out[j].shape(), d_out[j].dtype());
          if (!L.zero_output_for_mask) carry[j] = core::where_rows(m, zeros, d_out[j]);
          d_out[j] = core::where_rows(m, d_out[j], zeros);
        }
        for (std::size_t i = 0; i < n_states; ++i) {
          const Tensor zeros = Tensor::zeros(d_state[i].shape(), d_state[i].dtype());
          d_new[i] = core::where_rows(m, d_state[i], zeros);
          d_pass[i] = core::where_rows(m, zeros, d_state[i]);
        }
      } else {
        d_new = d_state;
      }
      local.grad.assign(static_cast<std::size_t>(g.slots), Tensor());
      local.owned.assign(static_cast<std::size_t>(g.slots), 0);
      for (std::size_t j = 0; j < n_out; ++j)
        if (g.outputs[j].slot >= 0 && d_out[j].defined()) local.accumulate(g.outputs[j].slot, d_out[j]);
      for (std::size_t i = 0; i < n_states; ++i)
        if (g.new_states[i].slot >= 0) local.accumulate(g.new_states[i].slot, d_new[i]);
      std::optional<Nodes>& nodes = L.steps[static_cast<std::size_t>(k)];
      const bool release = store.release || checkpointing;
      loom::detail::backward_sweep(*nodes, local, g.keep, release);
      if (release) nodes.reset();

      auto grad_at = [&](std::int32_t slot) { return slot >= 0 ? local.grad[static_cast<std::size_t>(slot)] : Tensor(); };
      for (std::size_t i = 0; i < n_in; ++i) {
        const Tensor gx = grad_at(g.x_slots[i]);
        if (!gx.defined() || !sink.needed(i)) continue;
        if (!d_x[i].defined()) d_x[i] = Tensor::zeros(L.x_tm[i].shape(), plan.dtype);
        Tensor row = d_x[i].index0(t);
        core::add_(row, gx);
      }
      for (std::size_t i = 0; i < n_states; ++i) {
        const Tensor gs = grad_at(g.s_slots[i]);
        d_state[i] = add_or(d_pass[i], gs);
        if (!d_state[i].defined()) d_state[i] = Tensor::zeros(L.state_shapes[i], plan.dtype);
      }
      for (std::size_t i = 0; i < n_const; ++i) accumulate(d_c[i], grad_at(g.c_slots[i]));
      for (std::size_t q = 0; q < g.captured.size(); ++q) accumulate(d_cap[q], grad_at(g.captured[q].first));
    }
    end = begin;
  }

  for (std::size_t i = 0; i < n_in; ++i)
    if (d_x[i].defined()) sink.add(i, plan.time_axis == 0 ? d_x[i] : core::swap01(d_x[i]));
  for (std::size_t i = 0; i < n_states; ++i) sink.add(n_in + i, d_state[i]);
  for (std::size_t i = 0; i < n_const; ++i)
    if (d_c[i].defined()) sink.add(n_in + n_states + i, d_c[i]);
  for (std::size_t q = 0; q < d_cap.size(); ++q)
    if (d_cap[q].defined()) sink.add(n_in + n_states + n_const + q, d_cap[q]);
}

// The active tapes that track one of `vars` (trainable variables count as tracked).
std::vector<TapeData*> recording_tapes(const std::vector<Var>& vars) {
  std::vector<TapeData*> out;
  if (!loom::detail::recording()) return out;
  for (TapeData* tape : loom::detail::active_tapes())
    for (const Var& v : vars)
      if (v.trainable() || v.impl()->slot_on(tape->serial) >= 0) {
        out.push_back(tape);
        break;
      }
  return out;
}

}  // namespace

RnnResult run_loop(const StepFunction& step, const std::vector<Var>& inputs, const std::vector<Var>& initial_states,
                   const RnnOptions& o, const Plan& plan) {
  auto L = std::make_shared<Loop>();
  L->plan = plan;
  L->zero_output_for_mask = o.zero_output_for_mask;
  L->return_all_outputs = o.return_all_outputs;
  L->checkpoint_every = o.checkpoint_every;
  for (const Var& x : inputs) L->x_tm.push_back(plan.time_axis == 0 ? x.value() : core::swap01(x.value()));
  for (const Var& c : o.constants) L->constants.push_back(c.value());
  for (const Var& s : initial_states) L->state_shapes.push_back(s.shape());
  std::vector<Tensor> x0;
  for (const Tensor& x : L->x_tm) x0.push_back(x.index0(plan.order.front()));
  L->graph = trace(step, x0, initial_states, o.constants, plan);

  std::vector<Var> node_inputs = inputs;
  node_inputs.insert(node_inputs.end(), initial_states.begin(), initial_states.end());
  node_inputs.insert(node_inputs.end(), o.constants.begin(), o.constants.end());
  for (const auto& [slot, var] : L->graph->captured) node_inputs.push_back(var);
  const std::vector<TapeData*> tapes = recording_tapes(node_inputs);
  const bool keep = !tapes.empty(), checkpointing = keep && o.checkpoint_every > 0;
  if (keep) L->steps.resize(static_cast<std::size_t>(plan.steps));

  std::vector<Tensor> values = L->initial_values(), states, prev, outs, seq;
  for (const Var& s : initial_states) states.push_back(s.value());
  const core::PackedWeightsScope packed = L->pack_weights();
  for (std::int64_t k = 0; k < plan.steps; ++k) {
    if (checkpointing && k % o.checkpoint_every == 0) {
      L->ckpt_states.push_back(states);
      L->ckpt_prev.push_back(prev);
    }
    Nodes* kept = keep && !checkpointing ? &L->steps[static_cast<std::size_t>(k)].emplace() : nullptr;
    L->forward_step(k, values, states, prev, outs, kept);
    if (!o.return_all_outputs) continue;
    // Each step's output goes straight to its place in the final layout (no transposed copy later).
    if (k == 0)
      for (const Tensor& y : outs)
        seq.push_back(Tensor::empty(with_time_axis(y.shape(), plan.steps, plan.time_axis), y.dtype()));
    for (std::size_t j = 0; j < outs.size(); ++j) {
      if (plan.time_axis == 0) {
        Tensor row = seq[j].index0(k);
        row.copy_(outs[j]);
      } else {
        core::slice_assign(seq[j], outs[j].reshape(with_time_axis(outs[j].shape(), 1, 1)), 1, k);
      }
    }
  }

  RnnResult r;
  std::vector<Var> node_outputs;
  for (std::size_t j = 0; j < outs.size(); ++j) {
    L->output_shapes.push_back(outs[j].shape());
    const Tensor all = o.return_all_outputs ? seq[j] : outs[j].reshape(with_time_axis(outs[j].shape(), 1, plan.time_axis));
    r.nested_outputs.emplace_back(all);
  }
  for (const Tensor& y : outs) r.nested_last_outputs.emplace_back(y);
  for (const Tensor& s : states) r.new_states.emplace_back(s);
  r.last_output = r.nested_last_outputs.front();
  r.outputs = r.nested_outputs.front();
  node_outputs = r.nested_outputs;
  node_outputs.insert(node_outputs.end(), r.nested_last_outputs.begin(), r.nested_last_outputs.end());
  node_outputs.insert(node_outputs.end(), r.new_states.begin(), r.new_states.end());

  for (TapeData* tape : tapes) {
    auto node = std::make_unique<LoopNode>(L);
    for (const Var& v : node_inputs) node->in.push_back(loom::detail::track_input(*tape, v));
    for (const Var& v : node_outputs) node->out.push_back(loom::detail::output_slot(*tape, v));
    loom::detail::append_node(*tape, std::move(node));
  }
  return r;
}

}  // namespace loom::backend::detail
