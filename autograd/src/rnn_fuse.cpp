// SPDX-License-Identifier: Apache-2.0
// backend::rnn, loop mode, stage 2 (continued): element-wise fusion of the per-step ops.
//
// A region is a connected set of per-step element-wise ops (unary, binary, and split/slice along the
// last axis). It becomes one FusedNode that computes, in one pass over a (rows × cols) domain, every
// value the rest of the step reads. Slices never materialise: since element-wise ops commute with
// slicing, a value read through a slice at column offset o is recomputed from its own inputs read at
// o, so an LSTM's z = x·W + h·U + b is evaluated gate by gate inside the pass that applies the gates.
// A region that does not fit that model (outputs of different shapes, an operand that cannot be read
// at the offset, an output needed by an op placed before the region ends) is left as it is.
#include <map>
#include <numeric>

#include "loom/core/check.hpp"
#include "loom/core/fused.hpp"
#include "rnn_program.hpp"

namespace loom::backend::detail {
namespace {

using loom::detail::GradStore;
using loom::detail::NodeBase;
using loom::detail::OpInfo;
using loom::detail::OpKind;

constexpr std::size_t kMaxInstructions = 1024;

/// How a fused node reads one input: row by row (row_stride = its width), or one row or one value
/// for every row.
struct Layout {
  std::int64_t row_stride = 0;
  bool scalar = false;
  Shape shape;  // of the input (its gradient's shape)
};

/// One fused region. The program and layouts are shared by every step's copy; a copy holds only
/// that step's inputs (those backward reads) and results.
class FusedNode final : public NodeBase {
 public:
  struct Kernel {
    explicit Kernel(core::FusedKernel k) : kernel(std::move(k)) {}
    core::FusedKernel kernel;
    const core::FusedProgram& program() const noexcept { return kernel.program(); }
    std::int64_t rows = 0, cols = 0;
    std::vector<Layout> layout;
    std::vector<Tensor> constants;  // values of untracked inputs
  };
  explicit FusedNode(std::shared_ptr<const Kernel> kernel) : kernel_(std::move(kernel)) {}
  const char* name() const noexcept override { return "fused"; }
  /// Copies are what the loop runs when a tape records (they keep the step's saved registers); the
  /// template itself only runs without one, so it writes just the outputs.
  std::unique_ptr<NodeBase> clone() const override {
    auto copy = std::make_unique<FusedNode>(kernel_);
    copy->in = in;
    copy->out = out;
    copy->for_backward_ = true;
    return copy;
  }

  void replay(std::vector<Tensor>& values) override {
    const Kernel& k = *kernel_;
    inputs_.resize(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
      inputs_[i].tensor = in[i] >= 0 ? values[static_cast<std::size_t>(in[i])] : k.constants[i];
      inputs_[i].row_stride = k.layout[i].row_stride;
      inputs_[i].scalar = k.layout[i].scalar;
    }
    forward_.resize(k.program().outputs.size() + (for_backward_ ? k.program().saved.size() : 0));
    core::fused_forward_into(k.kernel, k.rows, k.cols, inputs_, for_backward_, forward_);
    if (!for_backward_) {  // the template, run without a tape: keep nothing past the step
      for (std::size_t j = 0; j < out.size(); ++j) values[static_cast<std::size_t>(out[j])] = std::move(forward_[j]);
      for (core::FusedInput& x : inputs_) x.tensor = Tensor();
      return;
    }
    for (std::size_t j = 0; j < out.size(); ++j) values[static_cast<std::size_t>(out[j])] = forward_[j];
    // Keep what the reverse pass reads, as the per-op nodes would: the inputs it reads, the outputs
    // and the saved registers. The others are dropped (their shapes stay in the kernel's layout).
    for (std::size_t i = 0; i < in.size(); ++i)
      if (!k.program().reads_input[i]) inputs_[i].tensor = Tensor();
  }

  void backward(GradStore& store) const override {
    const Kernel& k = *kernel_;
    LOOM_CHECK(for_backward_, StateError, "rnn: a fused step kernel that ran without a tape has no saved values.");
    Grads g(store, in.data(), in.size());
    Small<Tensor> d_out(out.size()), d_in(in.size());
    Small<std::uint8_t> in_place(in.size(), 0);
    for (std::size_t j = 0; j < out.size(); ++j) d_out[j] = store.grad[static_cast<std::size_t>(out[j])];
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (!g.needed(i)) continue;
      // A gradient buffer the store owns (the loop seeds some with views of their final rows) takes
      // the contributions directly; otherwise they go to a fresh buffer that is then added.
      const auto slot = static_cast<std::size_t>(in[i]);
      const Tensor& current = store.grad[slot];
      if (current.defined() && store.owned[slot] && current.shape() == k.layout[i].shape &&
          current.dtype() == forward_.front().dtype()) {
        d_in[i] = current;
        in_place[i] = 1;
      } else {
        d_in[i] = Tensor::zeros(k.layout[i].shape, forward_.front().dtype());
      }
    }
    core::fused_backward(k.kernel, k.rows, k.cols, inputs_, forward_, d_out, d_in);
    for (std::size_t i = 0; i < in.size(); ++i)
      if (d_in[i].defined() && !in_place[i]) g.add(i, d_in[i]);
  }

 private:
  // Vectors made at every recorded step come from the block cache, as the node itself does.
  template <class T>
  using Small = std::vector<T, loom::detail::CachedAllocator<T>>;
  std::shared_ptr<const Kernel> kernel_;
  bool for_backward_ = false;
  Small<core::FusedInput> inputs_;  // this step's inputs (only those backward reads are kept)
  Small<Tensor> forward_;           // this step's outputs and saved registers
};

bool fusable(const NodeBase& node, const StepGraph& g) {
  const OpInfo info = node.info();
  switch (info.kind) {
    case OpKind::unary:
      return info.fn != core::EwOp::input && node.in.size() == 1;
    case OpKind::binary:
      return info.fn != core::EwOp::input && node.in.size() == 2;
    case OpKind::along_axis: {
      if (node.in.size() != 1 || node.in[0] < 0 || (info.parts == 0 && info.length == 0)) return false;
      const Shape& x = g.shape(node.in[0]);
      return x.rank() == 2 && info.axis == 1;
    }
    default:
      return false;
  }
}

struct DisjointSets {
  std::vector<std::size_t> parent;
  explicit DisjointSets(std::size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  std::size_t find(std::size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void unite(std::size_t a, std::size_t b) { parent[find(a)] = find(b); }
};

/// Builds the program of one region; fails (returns false) when the region does not fit.
class RegionBuilder {
 public:
  RegionBuilder(const StepGraph& g, const Nodes& step, const std::vector<std::int64_t>& producer,
                const std::vector<std::uint8_t>& in_region, std::int64_t rows, std::int64_t cols)
      : g_(g), step_(step), producer_(producer), in_region_(in_region), rows_(rows), cols_(cols) {}

  bool ok() const { return ok_; }
  core::FusedProgram program;
  std::vector<std::int32_t> input_slots;  // −1 for constants
  std::vector<Tensor> constants;
  std::vector<Layout> layout;

  std::int32_t emit(std::int32_t slot, std::int64_t offset) {
    if (!ok_) return 0;
    const auto key = std::make_pair(slot, offset);
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    const std::int64_t j = producer_[static_cast<std::size_t>(slot)];
    std::int32_t reg;
    if (j >= 0 && in_region_[static_cast<std::size_t>(j)]) {
      const Shape& s = g_.shape(slot);
      if (s.rank() != 2 || s[0] != rows_ || offset + cols_ > s[1]) return fail();
      const NodeBase& node = *step_[static_cast<std::size_t>(j)];
      const OpInfo info = node.info();
      if (info.kind == OpKind::along_axis) {
        std::size_t piece = 0;
        while (piece < node.out.size() && node.out[piece] != slot) ++piece;
        const std::int64_t at = info.parts > 0 ? static_cast<std::int64_t>(piece) * info.length : info.start;
        reg = emit(node.in[0], offset + at);
      } else {
        core::FusedInstr ins{info.fn, operand(node, 0, offset), -1, -1, 0, info.scalar};
        if (info.kind == OpKind::binary) ins.b = operand(node, 1, offset);
        reg = push(ins);
      }
    } else {
      reg = leaf(slot, &g_.shape(slot), nullptr, offset);
    }
    memo_[key] = reg;
    return reg;
  }

 private:
  std::int32_t fail() {
    ok_ = false;
    return 0;
  }
  std::int32_t push(const core::FusedInstr& ins) {
    if (program.code.size() >= kMaxInstructions) return fail();
    program.code.push_back(ins);
    return static_cast<std::int32_t>(program.code.size() - 1);
  }
  std::int32_t operand(const NodeBase& node, std::size_t i, std::int64_t offset) {
    if (node.in[i] >= 0) return emit(node.in[i], offset);
    const Tensor* c = node.constant_input(i);
    if (!c || !c->defined()) return fail();
    return leaf(-1, &c->shape(), c, offset);
  }
  // An `input` instruction reading `slot` (or the constant `value`) at column `offset`.
  std::int32_t leaf(std::int32_t slot, const Shape* shape, const Tensor* value, std::int64_t offset) {
    Layout l;
    const Shape& s = *shape;
    l.shape = s;
    if (s.numel() == 1) {
      l.scalar = true;
    } else if (s.rank() == 2 && s[0] == rows_ && offset + cols_ <= s[1]) {
      l.row_stride = s[1];
    } else if ((s.rank() == 1 || (s.rank() == 2 && s[0] == 1)) && offset + cols_ <= s[-1]) {
      l.row_stride = 0;
    } else {
      return fail();
    }
    std::size_t k = 0;
    const void* data = value ? value->raw_data() : nullptr;
    for (; k < input_slots.size(); ++k)
      if (slot >= 0 ? input_slots[k] == slot : (input_slots[k] < 0 && constants[k].raw_data() == data)) break;
    if (k == input_slots.size()) {
      input_slots.push_back(slot);
      constants.push_back(value ? *value : Tensor());
      layout.push_back(l);
    }
    return push({core::EwOp::input, -1, -1, static_cast<std::int32_t>(k), l.scalar ? 0 : offset, 0});
  }

  const StepGraph& g_;
  const Nodes& step_;
  const std::vector<std::int64_t>& producer_;
  const std::vector<std::uint8_t>& in_region_;
  std::int64_t rows_, cols_;
  bool ok_ = true;
  std::map<std::pair<std::int32_t, std::int64_t>, std::int32_t> memo_;
};

}  // namespace

void fuse_step_ops(const StepGraph& g, Program& p) {
  const std::size_t n = p.step.size();
  std::vector<std::int64_t> producer(static_cast<std::size_t>(g.slots), -1);
  std::vector<std::vector<std::size_t>> consumers(static_cast<std::size_t>(g.slots));
  std::vector<std::uint8_t> can(n, 0), fetched(static_cast<std::size_t>(g.slots), 0);
  for (std::size_t i = 0; i < n; ++i) {
    const NodeBase& node = *p.step[i];
    can[i] = fusable(node, g);
    for (std::size_t k = 0; k < node.out.size(); ++k) producer[static_cast<std::size_t>(node.out[k])] = static_cast<std::int64_t>(i);
    for (std::size_t k = 0; k < node.in.size(); ++k)
      if (node.in[k] >= 0) consumers[static_cast<std::size_t>(node.in[k])].push_back(i);
  }
  for (const auto* fetches : {&g.outputs, &g.new_states})
    for (const Fetch& f : *fetches)
      if (f.slot >= 0) fetched[static_cast<std::size_t>(f.slot)] = 1;
  DisjointSets sets(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (!can[i]) continue;
    for (std::size_t k = 0; k < p.step[i]->in.size(); ++k) {
      const std::int32_t s = p.step[i]->in[k];
      if (s < 0) continue;
      const std::int64_t j = producer[static_cast<std::size_t>(s)];
      if (j >= 0 && can[static_cast<std::size_t>(j)]) sets.unite(i, static_cast<std::size_t>(j));
    }
  }
  std::map<std::size_t, std::vector<std::size_t>> regions;
  for (std::size_t i = 0; i < n; ++i)
    if (can[i]) regions[sets.find(i)].push_back(i);

  std::vector<std::unique_ptr<NodeBase>> replaced(n);  // fused node at a region's last position
  std::vector<std::uint8_t> removed(n, 0);
  for (const auto& [root, members] : regions) {
    if (members.size() < 2) continue;
    std::vector<std::uint8_t> in_region(n, 0);
    for (std::size_t i : members) in_region[i] = 1;
    const std::size_t last = members.back();
    // The values the rest of the step reads: each must exist by the time its reader runs.
    std::vector<std::int32_t> outputs;
    bool fits = true;
    for (std::size_t i : members)
      for (std::size_t k = 0; k < p.step[i]->out.size(); ++k) {
        const std::int32_t s = p.step[i]->out[k];
        bool outside = fetched[static_cast<std::size_t>(s)] != 0;
        for (std::size_t c : consumers[static_cast<std::size_t>(s)])
          if (!in_region[c]) {
            outside = true;
            fits = fits && c > last;
          }
        if (outside) outputs.push_back(s);
      }
    if (!fits || outputs.empty()) continue;
    const Shape domain = g.shape(outputs.front());
    for (std::int32_t s : outputs) fits = fits && g.shape(s) == domain;
    if (!fits || domain.rank() != 2) continue;
    RegionBuilder b(g, p.step, producer, in_region, domain[0], domain[1]);
    for (std::int32_t s : outputs) b.program.outputs.push_back(b.emit(s, 0));
    if (!b.ok()) continue;
    auto kernel = std::make_shared<FusedNode::Kernel>(core::FusedKernel(std::move(b.program), b.input_slots.size()));
    kernel->rows = domain[0];
    kernel->cols = domain[1];
    kernel->layout = std::move(b.layout);
    kernel->constants = std::move(b.constants);
    auto node = std::make_unique<FusedNode>(std::move(kernel));
    for (std::int32_t s : b.input_slots) node->in.push_back(s);
    for (std::int32_t s : outputs) node->out.push_back(s);
    replaced[last] = std::move(node);
    for (std::size_t i : members) removed[i] = 1;
    p.stats.fused_ops += static_cast<std::int32_t>(members.size());
    ++p.stats.fused_kernels;
  }

  Nodes step;
  std::vector<std::size_t> index(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    index[i] = step.size();
    if (replaced[i])
      step.push_back(std::move(replaced[i]));
    else if (!removed[i])
      step.push_back(std::move(p.step[i]));
  }
  for (Program::Deferred& d : p.deferred) d.node = index[d.node];
  p.step = std::move(step);
}

}  // namespace loom::backend::detail
