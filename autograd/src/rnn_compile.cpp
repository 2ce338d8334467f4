// SPDX-License-Identifier: Apache-2.0
// backend::rnn, loop mode, stage 2: compile the step graph.
//
// Every slot gets a level (rnn_program.hpp). An op whose inputs are all invariant is invariant; an
// op that reads a state (or the output of such an op) runs per step; an op that reads the inputs but
// no state is hoisted when stacking the steps' rows gives the stacked result (element-wise ops with
// row-broadcast operands, x·W with an invariant W, slices along a non-batch axis), and otherwise runs
// per step on the step's rows. A per-step matmul against an invariant weight defers its weight
// gradient: one product with K = rows × steps after the sweep instead of one per step.
#include <algorithm>

#include "loom/core/check.hpp"
#include "loom/core/elementwise.hpp"
#include "loom/core/gemm.hpp"
#include "rnn_program.hpp"

namespace loom::backend::detail {
namespace {

using loom::detail::GradStore;
using loom::detail::NodeBase;
using loom::detail::OpInfo;
using loom::detail::OpKind;

/// z = x·W inside the loop with W invariant. Forward as MatMulOp (x and W are saved by reference);
/// backward gives dx = dz·Wᵀ per step and, when bound to a segment's rows, copies x and dz there
/// for one dW = xᵀ·dz product over the whole segment instead of one per step.
class DeferredMatMulNode final : public NodeBase {
 public:
  const char* name() const noexcept override { return "matmul"; }
  OpInfo info() const override { return {OpKind::matmul, 0, x_.shape(), w_.shape()}; }
  /// Copies run when a tape records and keep their operands for backward; the template itself runs
  /// only without one (inference) and keeps nothing, so a step's states die when the next one ends.
  std::unique_ptr<NodeBase> clone() const override {
    auto copy = std::make_unique<DeferredMatMulNode>(*this);
    copy->keeps_ = true;
    return copy;
  }

  void replay(std::vector<Tensor>& values) override {
    const Tensor& x = values[static_cast<std::size_t>(in[0])];
    const Tensor& w = values[static_cast<std::size_t>(in[1])];
    values[static_cast<std::size_t>(out[0])] = product(x, w);
    if (keeps_) {
      x_ = x;
      w_ = w;
    }
  }

  void backward(GradStore& store) const override {
    Grads g(store, in.data(), in.size());
    const Tensor& dz = store.grad[static_cast<std::size_t>(out[0])];
    if (g.needed(0)) g.add(0, product(dz, w_, true));
    if (!g.needed(1)) return;
    if (!rows_) {
      g.add(1, core::matmul_tn(x_, dz));
      return;
    }
    Tensor x_rows = rows_->x.slice0(index_ * rows_->rows, rows_->rows);
    x_rows.copy_(x_.reshape({rows_->rows, w_.shape(0)}));
    Tensor dz_rows = rows_->dz.slice0(index_ * rows_->rows, rows_->rows);
    if (dz.raw_data() != dz_rows.raw_data()) dz_rows.copy_(dz.reshape({rows_->rows, w_.shape(1)}));  // seeded in place
  }

  // x·w (or x·wᵀ): straight into the panels packed for the call when x is a batch of rows (the usual
  // step), which skips matmul's reshapes and lookups at every step; the arithmetic is the same.
  static Tensor product(const Tensor& x, const Tensor& w, bool transposed = false) {
    if (x.dimension() == 2 && x.dtype() == w.dtype())
      if (const core::PackedB* packed = core::find_packed(w, transposed); packed && packed->k() == x.shape(1)) {
        Tensor z = Tensor::empty({x.shape(0), packed->n()}, x.dtype());
        core::gemm(x, false, *packed, z);
        return z;
      }
    return transposed ? core::matmul_nt(x, w) : core::matmul(x, w);
  }

  void bind(DeferredRows* rows, std::int64_t index) {
    rows_ = rows;
    index_ = index;
  }

 private:
  Tensor x_, w_;
  bool keeps_ = false;
  DeferredRows* rows_ = nullptr;
  std::int64_t index_ = 0;
};

/// The stacked shape of a hoisted operand: its leading (batch) extent times a number of steps.
Shape stacked(Shape s) {
  s[0] *= 3;  // any count > 1 tells whether broadcasting still works
  return s;
}

/// Whether an element-wise op accepts its operands with the hoisted ones stacked and gives the
/// stacked result.
bool binary_stacks(const OpInfo& info, bool a_hoisted, bool b_hoisted) {
  if (info.a.rank() < 1 || info.b.rank() < 1) return false;
  try {
    const Shape step = core::broadcast_shape(info.a, info.b, "rnn");
    if (step.rank() < 1 || step != (a_hoisted ? info.a : info.b)) return false;  // the hoisted side sets the shape
    const Shape a = a_hoisted ? stacked(info.a) : info.a, b = b_hoisted ? stacked(info.b) : info.b;
    return core::broadcast_shape(a, b, "rnn") == stacked(step);
  } catch (const Error&) {
    return false;
  }
}

bool stacks(const NodeBase& node, const std::vector<Level>& level) {
  auto hoisted = [&](std::size_t i) { return node.in[i] >= 0 && level[static_cast<std::size_t>(node.in[i])] == Level::hoisted; };
  const OpInfo info = node.info();
  switch (info.kind) {
    case OpKind::unary:
      return true;
    case OpKind::binary:
      return node.in.size() == 2 && binary_stacks(info, hoisted(0), hoisted(1));
    case OpKind::matmul:
      return node.in.size() == 2 && hoisted(0) && !hoisted(1) && info.b.rank() == 2;
    case OpKind::along_axis:
      for (std::size_t i = 0; i < node.in.size(); ++i)
        if (!hoisted(i)) return false;
      return info.axis >= 1;
    case OpKind::opaque:
      return false;
  }
  return false;
}

}  // namespace

void bind_deferred(NodeBase& node, DeferredRows* rows, std::int64_t index) {
  static_cast<DeferredMatMulNode&>(node).bind(rows, index);
}

Program compile(const StepGraph& g, bool optimise) {
  Program p;
  const auto n_slots = static_cast<std::size_t>(g.slots);
  p.level.assign(n_slots, Level::invariant);  // captured Vars and constants stay invariant
  for (std::int32_t s : g.x_slots)
    if (s >= 0) p.level[static_cast<std::size_t>(s)] = Level::hoisted;
  for (std::int32_t s : g.s_slots)
    if (s >= 0) p.level[static_cast<std::size_t>(s)] = Level::step;

  std::vector<std::uint8_t> read_by_step(n_slots, 0), read_by_hoisted(n_slots, 0);
  for (const auto& node : g.nodes()) {
    Level at = Level::invariant;
    for (std::size_t i = 0; i < node->in.size(); ++i)
      if (node->in[i] >= 0) at = std::max(at, p.level[static_cast<std::size_t>(node->in[i])]);
    if (!optimise) at = Level::step;
    if (at == Level::hoisted && !stacks(*node, p.level)) at = Level::step;
    std::unique_ptr<NodeBase> copy = node->clone();
    const OpInfo info = node->info();
    const bool matmul = info.kind == OpKind::matmul && node->in.size() == 2;
    if (at == Level::step && optimise && matmul) {
      const std::int32_t lhs = node->in[0], rhs = node->in[1];
      if (lhs >= 0 && rhs >= 0 && p.level[static_cast<std::size_t>(rhs)] == Level::invariant &&
          g.needed[static_cast<std::size_t>(rhs)] && info.b.rank() == 2) {
        auto deferred = std::make_unique<DeferredMatMulNode>();
        deferred->in = node->in;
        deferred->out = node->out;
        p.deferred.push_back({p.step.size(), lhs, rhs, info.b[0], info.b[1], info.a.numel() / info.b[0]});
        copy = std::move(deferred);
      }
    }
    if (optimise && matmul && node->in[1] >= 0 && p.level[static_cast<std::size_t>(node->in[1])] == Level::invariant &&
        std::find(p.weights.begin(), p.weights.end(), node->in[1]) == p.weights.end())
      p.weights.push_back(node->in[1]);
    if (at == Level::step && matmul && info.a.rank() >= 1 && info.b.rank() == 2)
      p.step_flops += 2.0 * static_cast<double>(info.a.numel()) * info.b[1];
    for (std::size_t k = 0; k < node->out.size(); ++k) p.level[static_cast<std::size_t>(node->out[k])] = at;
    for (std::size_t i = 0; i < node->in.size(); ++i)
      if (node->in[i] >= 0) (at == Level::step ? read_by_step : read_by_hoisted)[static_cast<std::size_t>(node->in[i])] = 1;
    (at == Level::invariant ? p.invariant : at == Level::hoisted ? p.hoisted : p.step).push_back(std::move(copy));
  }
  for (const auto* fetches : {&g.outputs, &g.new_states})
    for (const Fetch& f : *fetches)
      if (f.slot >= 0) read_by_step[static_cast<std::size_t>(f.slot)] = 1;
  for (std::size_t s = 0; s < n_slots; ++s) {
    const auto slot = static_cast<std::int32_t>(s);
    if (p.level[s] == Level::hoisted && read_by_step[s]) p.bound.push_back(slot);
    if (p.level[s] == Level::invariant && read_by_step[s]) p.step_invariant_inputs.push_back(slot);
    if (p.level[s] == Level::invariant && read_by_hoisted[s]) p.hoisted_invariant_inputs.push_back(slot);
  }
  if (optimise) fuse_step_ops(g, p);
  p.stats.compiled = optimise;
  p.stats.ops = static_cast<std::int32_t>(g.nodes().size());
  p.stats.invariant_ops = static_cast<std::int32_t>(p.invariant.size());
  p.stats.hoisted_ops = static_cast<std::int32_t>(p.hoisted.size());
  p.stats.step_ops = static_cast<std::int32_t>(p.step.size());
  p.stats.deferred_matmuls = static_cast<std::int32_t>(p.deferred.size());
  return p;
}

}  // namespace loom::backend::detail
