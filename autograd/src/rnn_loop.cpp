// SPDX-License-Identifier: Apache-2.0
// backend::rnn, loop mode, stage 3: run the compiled step graph. The forward runs the invariant ops
// once, then each segment of steps: its hoisted ops once on stacked rows, then its steps one by one.
// One loop node lands on each recording tape; its backward is BPTT over the same levels in reverse.
#include <algorithm>
#include <optional>

#include "loom/core/arena.hpp"
#include "loom/core/check.hpp"
#include "loom/core/elementwise.hpp"
#include "loom/core/gemm.hpp"
#include "loom/core/layout.hpp"
#include "loom/core/parallel.hpp"
#include "rnn_program.hpp"

namespace loom::backend::detail {
namespace {

using loom::detail::GradStore;
using loom::detail::NodeBase;
using loom::detail::TapeData;

Tensor add_or(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return core::add(a, b);
}

void reset(GradStore& store, std::size_t slots) {
  store.grad.assign(slots, Tensor());
  store.owned.assign(slots, 0);
}

/// Clears the given slots of a store whose other slots are clear already (cheaper than a reset
/// when a step's sweep touches a few of many slots: it runs twice per step).
void clear(GradStore& store, const std::vector<std::int32_t>& slots) {
  for (std::int32_t s : slots) {
    store.grad[static_cast<std::size_t>(s)] = Tensor();
    store.owned[static_cast<std::size_t>(s)] = 0;
  }
}

/// Every slot a step's backward can write in a store: the step ops' inputs and outputs, the bound
/// hoisted slots, the step's results and its states.
std::vector<std::int32_t> step_slots(const StepGraph& g, const Program& p) {
  std::vector<std::int32_t> out(p.bound.begin(), p.bound.end());
  for (const auto& n : p.step) {
    for (std::size_t i = 0; i < n->in.size(); ++i) out.push_back(n->in[i]);
    for (std::size_t i = 0; i < n->out.size(); ++i) out.push_back(n->out[i]);
  }
  for (const Fetch& f : g.outputs) out.push_back(f.slot);
  for (const Fetch& f : g.new_states) out.push_back(f.slot);
  out.insert(out.end(), g.s_slots.begin(), g.s_slots.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  out.erase(out.begin(), std::lower_bound(out.begin(), out.end(), 0));  // −1: untracked or constant
  return out;
}

/// Consecutive processing steps [begin, end) whose hoisted ops ran once over their rows, stacked in
/// time order (row block t − t_lo holds time step t).
struct Segment {
  std::int64_t begin = 0, end = 0, t_lo = 0;
  std::vector<Tensor> stacked;  // per slot: the stacked value of each bound hoisted slot (forward only)
  Nodes hoisted;                // copies of the hoisted ops holding their saved tensors (when kept)
  std::vector<DeferredRows> deferred;
  std::int64_t length() const { return end - begin; }
  /// Step t's rows of a stacked value.
  Tensor rows(const Tensor& stacked_value, std::int64_t t) const {
    const std::int64_t per_step = stacked_value.shape(0) / length();
    return stacked_value.slice0((t - t_lo) * per_step, per_step);
  }
};

/// Everything the loop node's backward needs; shared by the node copies on several tapes.
struct Loop {
  std::shared_ptr<StepGraph> graph;
  Program program;
  Plan plan;
  bool zero_output_for_mask = false;
  bool return_all_outputs = true;
  std::int64_t segment = 0;    // steps per segment
  bool checkpointing = false;  // segments are recomputed in backward
  std::vector<Tensor> x_tm;    // inputs, time-major
  std::vector<Tensor> constants;
  std::vector<Shape> state_shapes, output_shapes;
  std::vector<Tensor> base;                 // slot values once the invariant ops ran
  Nodes invariant;                          // their copies, for backward
  std::vector<std::optional<Nodes>> steps;  // per processing index: that step's op copies
  std::vector<Segment> kept;                // without checkpointing: every segment, for backward
  // With checkpointing: the states and the output carry before each segment's first step.
  std::vector<std::vector<Tensor>> ckpt_states, ckpt_prev;

  /// Runs a segment's steps: on one thread when they are small (Program::small_steps); otherwise
  /// their kernels split over the spinning team that the forward and the backward hold.
  template <class Fn>
  void run_steps(Fn&& fn) const {
    if (program.small_steps())
      loom::detail::run_with_threads(1, fn);
    else
      fn();
  }

  // Steps allocate nothing: every tensor a step creates comes from an IterationArena
  // (core/arena.hpp), which learns from the call's first steps which tensors die within a step,
  // which the next step reads and which backward keeps. Kept values fill one block per segment.
  core::IterationArena kept_steps;

  /// Runs `fn(k)` for the steps k of [begin, end) with kept_steps in scope.
  template <class Fn>
  void run_kept_steps(std::int64_t begin, std::int64_t end, Fn&& fn) {
    bool planned = kept_steps.planned();
    if (planned) kept_steps.reserve_kept(static_cast<std::size_t>(end - begin));
    const core::ArenaScope scope(&kept_steps);
    for (std::int64_t k = begin; k < end; ++k) {
      kept_steps.begin();
      fn(k);
      kept_steps.end();
      if (!planned && kept_steps.planned()) {  // learnt on this step: room for the rest of the segment
        kept_steps.reserve_kept(static_cast<std::size_t>(end - k - 1));
        planned = true;
      }
    }
    kept_steps.trim();  // between segments, only the kept values hold memory
  }

  // Weights cannot change while the loop runs: products against them reuse panels packed once per
  // call (each orientation when first used), by the forward and again by the backward.
  std::shared_ptr<const core::PackedWeights> packed;
  std::shared_ptr<const core::PackedWeights> packed_weights() {
    if (!packed) {
      std::vector<Tensor> weights;
      for (std::int32_t s : program.weights) weights.push_back(base[static_cast<std::size_t>(s)]);
      packed = std::make_shared<const core::PackedWeights>(weights);
    }
    return packed;
  }

  /// Runs the hoisted ops of steps [begin, end) on stacked rows; with `keep`, on copies that then
  /// hold their saved tensors.
  Segment open_segment(std::int64_t begin, std::int64_t end, bool keep) {
    const StepGraph& g = *graph;
    Segment seg;
    seg.begin = begin;
    seg.end = end;
    seg.t_lo = std::min(plan.order[static_cast<std::size_t>(begin)], plan.order[static_cast<std::size_t>(end - 1)]);
    std::vector<Tensor> values = base;
    for (std::size_t i = 0; i < g.x_slots.size(); ++i) {
      if (g.x_slots[i] < 0) continue;
      const Tensor x = x_tm[i].slice0(seg.t_lo, seg.length());
      Shape rows = x.shape();  // (len, B, …) → (len·B, …)
      Shape s;
      s.push_back(rows[0] * rows[1]);
      for (int a = 2; a < rows.rank(); ++a) s.push_back(rows[a]);
      values[static_cast<std::size_t>(g.x_slots[i])] = x.reshape(s);
    }
    if (keep) {
      seg.hoisted = clone_nodes(program.hoisted);
      for (auto& n : seg.hoisted) n->replay(values);
    } else {
      for (auto& n : program.hoisted) n->replay(values);
    }
    seg.stacked.resize(values.size());
    for (std::int32_t s : program.bound)
      seg.stacked[static_cast<std::size_t>(s)] = values[static_cast<std::size_t>(s)];
    return seg;
  }

  // Runs processing step k of `seg` from `states` and the output carry `prev`, updating both and
  // writing the masked outputs to `outs`. With `keep_nodes`, the step runs on copies of the step ops,
  // which then hold this step's saved tensors for backward.
  void forward_step(std::int64_t k, const Segment& seg, std::vector<Tensor>& values, std::vector<Tensor>& states,
                    std::vector<Tensor>& prev, std::vector<Tensor>& outs, Nodes* keep_nodes) {
    const StepGraph& g = *graph;
    const std::int64_t t = plan.order[static_cast<std::size_t>(k)];
    for (std::int32_t s : program.bound)
      values[static_cast<std::size_t>(s)] = seg.rows(seg.stacked[static_cast<std::size_t>(s)], t);
    for (std::size_t i = 0; i < g.s_slots.size(); ++i)
      if (g.s_slots[i] >= 0) values[static_cast<std::size_t>(g.s_slots[i])] = states[i];
    if (keep_nodes) {
      *keep_nodes = clone_nodes(program.step);
      for (auto& n : *keep_nodes) n->replay(values);
    } else {
      for (auto& n : program.step) n->replay(values);
    }
    outs.resize(g.outputs.size());
    std::vector<Tensor>& next = next_states_;
    next.resize(states.size());
    for (std::size_t j = 0; j < outs.size(); ++j) outs[j] = g.outputs[j].get(values);
    for (std::size_t i = 0; i < next.size(); ++i) next[i] = g.new_states[i].get(values);
    // What the step computed stays alive only where it is kept (saved by a node, a state, an output).
    for (const auto& n : program.step)
      for (std::size_t o = 0; o < n->out.size(); ++o) values[static_cast<std::size_t>(n->out[o])] = Tensor();
    if (plan.masked)
      mask_step(plan.mask_row(t), zero_output_for_mask, outs, next, states, prev,
                [](const Tensor& m, const Tensor& a, const Tensor& b) { return core::where_rows(m, a, b); },
                [this](const Tensor& v) { return zeros(v.shape()); });
    states.swap(next);  // next keeps its capacity for the following step
    // The old states stay alive only where this step's nodes saved them.
    for (Tensor& old : next) old = Tensor();
    for (std::int32_t s : g.s_slots)
      if (s >= 0) values[static_cast<std::size_t>(s)] = Tensor();
  }

 private:
  std::vector<Tensor> next_states_;
  std::vector<Tensor> zeros_;

 public:
  /// Zeros of `shape` in the call's dtype, made once per shape and shared: only ever read (the mask
  /// selects from them).
  const Tensor& zeros(const Shape& shape) {
    for (const Tensor& z : zeros_)
      if (z.shape() == shape) return z;
    const core::ArenaScope own(nullptr);
    return zeros_.emplace_back(Tensor::zeros(shape, plan.dtype));
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
  const Program& p = L.program;
  const Plan& plan = L.plan;
  const std::int64_t steps = plan.steps;
  const auto n_slots = static_cast<std::size_t>(g.slots);
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
  const core::PackedWeightsScope packed(L.packed_weights());
  std::optional<loom::detail::TeamScope> team;  // for kernels split over threads (not those of small steps)
  if (!p.small_steps()) team.emplace();
  // A non-persistent tape frees the steps' saved values as it goes, unless another tape's copy of
  // this node still needs them (nested tapes record the loop once each). Recomputed segments are
  // always freed.
  const bool last_user = loop_.use_count() == 1;
  const bool release = (store.release && last_user) || L.checkpointing;
  std::vector<Tensor> d_x(n_in);
  GradStore outer, local, mid;  // per call (invariant slots), per step, per segment (hoisted slots)
  std::vector<Tensor> d_out, d_new, d_pass;  // one step's gradients, reused from step to step
  for (GradStore* s : {&outer, &local, &mid}) {
    s->needed = g.needed;
    s->release = true;
    reset(*s, n_slots);
  }

  const std::vector<std::int32_t> touched = step_slots(g, p);
  core::IterationArena step_arena(1);  // the backward steps' tensors: their carries die in the next step
  for (std::int64_t end = steps; end > 0;) {
    const std::int64_t begin = (end - 1) / L.segment * L.segment;
    std::optional<Segment> fresh;
    if (L.checkpointing) {  // recompute this segment's steps from its checkpoint
      fresh.emplace(L.open_segment(begin, end, true));
      std::vector<Tensor> values = L.base, outs;
      std::vector<Tensor> states = L.ckpt_states[static_cast<std::size_t>(begin / L.segment)];
      std::vector<Tensor> prev = L.ckpt_prev[static_cast<std::size_t>(begin / L.segment)];
      L.run_steps([&] {
        L.run_kept_steps(begin, end, [&](std::int64_t k) {
          L.forward_step(k, *fresh, values, states, prev, outs, &L.steps[static_cast<std::size_t>(k)].emplace());
        });
      });
      fresh->stacked.clear();
    }
    Segment& seg = fresh ? *fresh : L.kept[static_cast<std::size_t>(begin / L.segment)];
    seg.deferred.clear();  // this segment's rows for the deferred weight gradients
    for (const Program::Deferred& d : p.deferred) {
      DeferredRows& r = seg.deferred.emplace_back();
      r.rows = d.rows;
      r.x = Tensor::zeros({seg.length() * d.rows, d.k}, plan.dtype);
      r.dz = Tensor::zeros({seg.length() * d.rows, d.n}, plan.dtype);
    }
    for (std::int64_t k = begin; k < end; ++k)
      for (std::size_t j = 0; j < p.deferred.size(); ++j)
        bind_deferred(*(*L.steps[static_cast<std::size_t>(k)])[p.deferred[j].node], &seg.deferred[j],
                      k - begin);
    // Gradient rows of the bound hoisted slots, for the whole segment. Each step's sweep writes its
    // rows in place: the slots are seeded with views of them (and the deferred products' outputs
    // with views of their dZ rows), and the ops add into owned gradients instead of copying.
    std::vector<Tensor> d_stacked(n_slots);
    for (std::int32_t s : p.bound) {
      Shape rows = g.shape(s);
      rows[0] *= seg.length();
      d_stacked[static_cast<std::size_t>(s)] = Tensor::zeros(rows, plan.dtype);
    }

    L.run_steps([&] {
      const core::ArenaScope scope(&step_arena);
      for (std::int64_t k = end - 1; k >= begin; --k) {
        step_arena.begin();
        const std::int64_t t = plan.order[static_cast<std::size_t>(k)];
        d_out.assign(n_out, Tensor());
        d_new.assign(n_states, Tensor());
        d_pass.assign(n_states, Tensor());
        for (std::size_t j = 0; j < n_out; ++j) {
          Tensor d_k;
          if (d_seq[j].defined())
            d_k = plan.time_axis == 0 ? d_seq[j].index0(k)
                                      : core::slice(d_seq[j], 1, k, 1).reshape(L.output_shapes[j]);
          d_out[j] = add_or(d_k, k == steps - 1 ? d_last[j] : Tensor());
          d_out[j] = add_or(d_out[j], carry[j]);
          carry[j] = Tensor();
        }
        if (plan.masked) {  // out = where(m, raw, fill), new = where(m, raw_new, old): route by the mask
          const Tensor& m = plan.mask_row(t);
          for (std::size_t j = 0; j < n_out; ++j) {
            if (!d_out[j].defined()) continue;
            const Tensor& zeros = L.zeros(d_out[j].shape());
            if (!L.zero_output_for_mask) carry[j] = core::where_rows(m, zeros, d_out[j]);
            d_out[j] = core::where_rows(m, d_out[j], zeros);
          }
          for (std::size_t i = 0; i < n_states; ++i) {
            const Tensor& zeros = L.zeros(d_state[i].shape());
            d_new[i] = core::where_rows(m, d_state[i], zeros);
            d_pass[i] = core::where_rows(m, zeros, d_state[i]);
          }
        } else {
          d_new = d_state;
        }
        clear(local, touched);
        auto seed_view = [&](std::int32_t slot, const Tensor& view) {
          local.grad[static_cast<std::size_t>(slot)] = view;
          local.owned[static_cast<std::size_t>(slot)] = 1;
        };
        for (std::int32_t s : p.bound) seed_view(s, seg.rows(d_stacked[static_cast<std::size_t>(s)], t));
        for (std::size_t j = 0; j < p.deferred.size(); ++j) {
          const DeferredRows& r = seg.deferred[j];
          const std::int32_t z = p.step[p.deferred[j].node]->out[0];
          seed_view(z, r.dz.slice0((k - begin) * r.rows, r.rows).reshape(g.shape(z)));
        }
        for (std::size_t j = 0; j < n_out; ++j)
          if (g.outputs[j].slot >= 0 && d_out[j].defined()) local.accumulate(g.outputs[j].slot, d_out[j]);
        for (std::size_t i = 0; i < n_states; ++i)
          if (g.new_states[i].slot >= 0) local.accumulate(g.new_states[i].slot, d_new[i]);
        std::optional<Nodes>& nodes = L.steps[static_cast<std::size_t>(k)];
        loom::detail::backward_sweep(*nodes, local, g.keep, release);
        if (release) nodes.reset();

        for (std::int32_t s : p.bound) {  // the step's rows of a hoisted value's gradient (already in place)
          const Tensor& gs = local.grad[static_cast<std::size_t>(s)];
          Tensor rows = seg.rows(d_stacked[static_cast<std::size_t>(s)], t);
          if (gs.defined() && gs.raw_data() != rows.raw_data()) rows.copy_(gs);
        }
        for (std::int32_t s : p.step_invariant_inputs)
          if (const Tensor& gs = local.grad[static_cast<std::size_t>(s)]; gs.defined()) {
            const core::ArenaScope own(nullptr);  // the sum outlives the step: a buffer of its own
            if (outer.grad[static_cast<std::size_t>(s)].defined()) {
              outer.accumulate(s, gs);
            } else {
              outer.grad[static_cast<std::size_t>(s)] = gs.clone();
              outer.owned[static_cast<std::size_t>(s)] = 1;
            }
          }
        for (std::size_t i = 0; i < n_states; ++i) {
          const Tensor gs = g.s_slots[i] >= 0 ? local.grad[static_cast<std::size_t>(g.s_slots[i])] : Tensor();
          d_state[i] = add_or(d_pass[i], gs);
          if (!d_state[i].defined()) d_state[i] = Tensor::zeros(L.state_shapes[i], plan.dtype);
        }
        // Only the carries (d_state, carry) outlive the step; its other gradients die with it.
        for (auto* v : {&d_out, &d_new, &d_pass})
          for (Tensor& dead : *v) dead = Tensor();
        clear(local, touched);
        step_arena.end();
      }
    });
    step_arena.trim();

    // Deferred weight gradients: one product over the segment's rows each.
    for (std::size_t j = 0; j < p.deferred.size(); ++j)
      outer.accumulate(p.deferred[j].rhs, core::matmul_tn(seg.deferred[j].x, seg.deferred[j].dz));
    seg.deferred.clear();
    // The hoisted ops' backward, once over the segment's stacked rows.
    reset(mid, n_slots);
    for (std::int32_t s : p.bound) {
      mid.grad[static_cast<std::size_t>(s)] = d_stacked[static_cast<std::size_t>(s)];
      mid.owned[static_cast<std::size_t>(s)] = 1;
    }
    loom::detail::backward_sweep(seg.hoisted, mid, g.keep, release);
    for (std::size_t i = 0; i < n_in; ++i) {
      if (g.x_slots[i] < 0 || !sink.needed(i)) continue;
      const Tensor& gx = mid.grad[static_cast<std::size_t>(g.x_slots[i])];
      if (!gx.defined()) continue;
      if (!d_x[i].defined()) d_x[i] = Tensor::zeros(L.x_tm[i].shape(), plan.dtype);
      Tensor rows = d_x[i].slice0(seg.t_lo, seg.length());
      core::add_(rows, gx.reshape(rows.shape()));
    }
    for (std::int32_t s : p.hoisted_invariant_inputs)
      if (const Tensor& gs = mid.grad[static_cast<std::size_t>(s)]; gs.defined()) outer.accumulate(s, gs);
    end = begin;
  }

  // The invariant ops' backward, once for the call.
  loom::detail::backward_sweep(L.invariant, outer, g.keep, store.release && last_user);
  for (std::size_t i = 0; i < n_in; ++i)
    if (d_x[i].defined()) sink.add(i, plan.time_axis == 0 ? d_x[i] : core::swap01(d_x[i]));
  for (std::size_t i = 0; i < n_states; ++i) sink.add(n_in + i, d_state[i]);
  for (std::size_t i = 0; i < n_const; ++i)
    if (g.c_slots[i] >= 0)
      if (const Tensor& gc = outer.grad[static_cast<std::size_t>(g.c_slots[i])]; gc.defined())
        sink.add(n_in + n_states + i, gc);
  for (std::size_t q = 0; q < g.captured.size(); ++q)
    if (const Tensor& gc = outer.grad[static_cast<std::size_t>(g.captured[q].first)]; gc.defined())
      sink.add(n_in + n_states + n_const + q, gc);
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

LoopResult run_loop(const StepFunction& step,
                    const std::vector<Var>& inputs,
                    const std::vector<Var>& initial_states,
                    const LoopOptions& o,
                    const Plan& plan) {
  auto L = std::make_shared<Loop>();
  L->plan = plan;
  L->zero_output_for_mask = o.zero_output_for_mask;
  L->return_all_outputs = o.return_all_outputs;
  for (const Var& x : inputs) L->x_tm.push_back(plan.time_axis == 0 ? x.value() : core::swap01(x.value()));
  for (const Var& c : o.constants) L->constants.push_back(c.value());
  for (const Var& s : initial_states) L->state_shapes.push_back(s.shape());
  std::vector<Tensor> x0;
  for (const Tensor& x : L->x_tm) x0.push_back(x.index0(plan.order.front()));
  L->graph = trace(step, x0, initial_states, o.constants, plan);
  L->program = compile(*L->graph, o.compile);

  std::vector<Var> node_inputs = inputs;
  node_inputs.insert(node_inputs.end(), initial_states.begin(), initial_states.end());
  node_inputs.insert(node_inputs.end(), o.constants.begin(), o.constants.end());
  for (const auto& [slot, var] : L->graph->captured) node_inputs.push_back(var);
  const std::vector<TapeData*> tapes = recording_tapes(node_inputs);
  const bool keep = !tapes.empty();
  L->checkpointing = keep && o.checkpoint_every > 0;
  // Segments of about kSegmentRows stacked rows: products that large run near the GEMM's peak, and
  // the gradient rows backward collects exist for one segment at a time.
  constexpr std::int64_t kSegmentRows = 256;
  const std::int64_t rows_per_step = std::max<std::int64_t>(plan.batch, 1);
  L->segment =
      o.checkpoint_every > 0 ? o.checkpoint_every : (kSegmentRows + rows_per_step - 1) / rows_per_step;
  L->segment = std::clamp<std::int64_t>(L->segment, 1, plan.steps);
  if (keep) L->steps.resize(static_cast<std::size_t>(plan.steps));

  L->base = L->graph->initial_values(L->constants);
  if (keep) {
    L->invariant = clone_nodes(L->program.invariant);
    for (auto& n : L->invariant) n->replay(L->base);
  } else {
    for (auto& n : L->program.invariant) n->replay(L->base);
  }
  std::vector<Tensor> states, prev, outs, seq;
  for (const Var& s : initial_states) states.push_back(s.value());
  const core::PackedWeightsScope packed(L->packed_weights());
  std::optional<loom::detail::TeamScope> team;  // for kernels split over threads (not those of small steps)
  if (!L->program.small_steps()) team.emplace();
  core::IterationArena step_arena;  // for steps that keep nothing
  for (std::int64_t begin = 0; begin < plan.steps; begin += L->segment) {
    const std::int64_t end = std::min(begin + L->segment, plan.steps);
    if (L->checkpointing) {  // copies: the states themselves live in an arena block that steps reuse
      auto copies = [](const std::vector<Tensor>& v) {
        std::vector<Tensor> c;
        for (const Tensor& t : v) c.push_back(t.clone());
        return c;
      };
      L->ckpt_states.push_back(copies(states));
      L->ckpt_prev.push_back(copies(prev));
    }
    const bool keep_steps = keep && !L->checkpointing;
    Segment seg = L->open_segment(begin, end, keep_steps);
    std::vector<Tensor> values = L->base;
    auto run_step = [&](std::int64_t k) {
      Nodes* kept = keep_steps ? &L->steps[static_cast<std::size_t>(k)].emplace() : nullptr;
      L->forward_step(k, seg, values, states, prev, outs, kept);
      if (!o.return_all_outputs) return;
      // Each step's output goes straight to its place in the final layout (no transposed copy later).
      if (k == 0) {
        const core::ArenaScope own(nullptr);  // the sequences outlive the steps
        for (const Tensor& y : outs)
          seq.push_back(Tensor::empty(with_time_axis(y.shape(), plan.steps, plan.time_axis), y.dtype()));
      }
      for (std::size_t j = 0; j < outs.size(); ++j) {
        if (plan.time_axis == 0) {
          Tensor row = seq[j].index0(k);
          row.copy_(outs[j]);
        } else {
          core::slice_assign(seq[j], outs[j].reshape(with_time_axis(outs[j].shape(), 1, 1)), 1, k);
        }
      }
    };
    L->run_steps([&] {
      if (keep_steps) {
        L->run_kept_steps(begin, end, run_step);
      } else {
        const core::ArenaScope scope(&step_arena);
        for (std::int64_t k = begin; k < end; ++k) {
          step_arena.begin();
          run_step(k);
          step_arena.end();
        }
        step_arena.trim();
      }
    });
    seg.stacked.clear();
    if (keep && !L->checkpointing) L->kept.push_back(std::move(seg));
  }

  LoopResult r;
  r.stats = L->program.stats;
  std::vector<Var> node_outputs;
  for (std::size_t j = 0; j < outs.size(); ++j) {
    L->output_shapes.push_back(outs[j].shape());
    const Tensor all =
        o.return_all_outputs ? seq[j] : outs[j].reshape(with_time_axis(outs[j].shape(), 1, plan.time_axis));
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
