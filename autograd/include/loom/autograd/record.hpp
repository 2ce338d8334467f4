// SPDX-License-Identifier: Apache-2.0
// The recording contract: one op = one struct with forward and backward; record<Op>() runs it and,
// when a tape tracks an input, appends a node that keeps the op struct (= what backward needs).
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "loom/autograd/tape.hpp"
#include "loom/core/arena.hpp"
#include "loom/core/fused.hpp"
#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"

namespace loom LOOM_API {

namespace detail {

/// Gradients being accumulated during one `GradientTape::gradient` call, indexed by slot.
struct GradStore {
  std::vector<Tensor> grad;
  std::vector<std::uint8_t> owned;   // grad[slot] is a buffer this store allocated (safe to add into)
  std::vector<std::uint8_t> needed;  // slot lies on a path from a source
  bool release = false;              // the tape frees saved tensors as it goes (non-persistent)
  void accumulate(std::int32_t slot, const Tensor& g);
};

/// Slot indices of a node's inputs or outputs; −1 marks an input no tape tracks (a constant).
class SlotList {
 public:
  void push_back(std::int32_t s) {
    if (size_ < kInline) {
      inline_[size_++] = s;
      return;
    }
    if (size_ == kInline) heap_.assign(inline_.begin(), inline_.end());
    heap_.push_back(s);
    ++size_;
  }
  std::int32_t operator[](std::size_t i) const noexcept { return size_ <= kInline ? inline_[i] : heap_[i]; }
  std::size_t size() const noexcept { return size_; }
  const std::int32_t* data() const noexcept { return size_ <= kInline ? inline_.data() : heap_.data(); }

 private:
  static constexpr std::size_t kInline = 6;  // a fused step kernel reads several slots
  std::array<std::int32_t, kInline> inline_{};
  std::vector<std::int32_t> heap_;
  std::size_t size_ = 0;
};

/// What an op tells the RNN loop compiler about itself (`info()` on the op struct; ops without one
/// are opaque). The compiler only needs to know which ops give the same result when several time
/// steps' rows are stacked into one tensor, so the kinds describe that, not the arithmetic.
enum class OpKind : std::uint8_t {
  opaque,      ///< unknown: always replayed step by step
  unary,       ///< element-wise in one input (activations, scalar arithmetic)
  binary,      ///< element-wise in two broadcast operands; `a`, `b` are their traced shapes
  matmul,      ///< (…, K)·(K, N)
  along_axis,  ///< split / slice / concat / softmax along `axis` (normalised at trace time)
};

struct OpInfo {
  OpKind kind = OpKind::opaque;
  int axis = 0;
  Shape a, b;
  core::EwOp fn = core::EwOp::input;  ///< unary/binary: the element-wise function (fusable ops only)
  double scalar = 0;                  ///< for the scalar forms (x + s, x·s, s − x, s / x)
  int parts = 0;                      ///< along_axis: split into `parts` pieces of `length`
  std::int64_t start = 0, length = 0; ///< along_axis: slice [start, start + length) (parts = 0)
};

/// One recorded op. `backward` reads the gradients of `out` from the store and accumulates into the
/// gradients of `in`; `replay` recomputes the outputs from slot values (for traced step functions).
class NodeBase {
 public:
  virtual ~NodeBase() = default;
  // Nodes come from the block cache: the RNN loop copies its step ops at every recorded step.
  static void* operator new(std::size_t bytes) { return cached_allocate(bytes); }
  static void operator delete(void* p, std::size_t bytes) noexcept { cached_release(p, bytes); }
  virtual const char* name() const noexcept = 0;
  virtual void backward(GradStore& store) const = 0;
  virtual void replay(std::vector<Tensor>& values) = 0;
  virtual std::unique_ptr<NodeBase> clone() const = 0;
  virtual OpInfo info() const { return {}; }
  /// The value of input i when no tape tracks it (kept for replay), else nullptr.
  virtual const Tensor* constant_input(std::size_t) const { return nullptr; }
  SlotList in, out;
};

// Non-template parts of recording (tape.cpp).
bool recording() noexcept;
std::span<TapeData* const> active_tapes() noexcept;
std::int32_t track_input(TapeData& tape, const Var& v);    // slot, auto-watching trainables; −1 if untracked
std::int32_t output_slot(TapeData& tape, const Var& out);  // a fresh slot for an op output
void append_node(TapeData& tape, std::unique_ptr<NodeBase> node);

}  // namespace detail

/// Gradient sink handed to an op's `backward`: `add(i, g)` accumulates g into input i's gradient;
/// `needed(i)` says whether input i leads to a requested source (skip the work when it does not).
class Grads {
 public:
  Grads(detail::GradStore& store, const std::int32_t* slots, std::size_t n) noexcept
      : store_(store), slots_(slots), n_(n) {}
  bool needed(std::size_t i) const noexcept {
    return i < n_ && slots_[i] >= 0 && store_.needed[static_cast<std::size_t>(slots_[i])];
  }
  void add(std::size_t i, const Tensor& g) {
    if (needed(i)) store_.accumulate(slots_[i], g);
  }

 private:
  detail::GradStore& store_;
  const std::int32_t* slots_;
  std::size_t n_;
};

namespace detail {

template <class R>
inline constexpr bool is_multi_output_v = std::is_same_v<R, std::vector<Tensor>>;

template <class R>
using upstream_t = std::conditional_t<is_multi_output_v<R>, std::vector<Tensor>, Tensor>;

/// The check `record` makes at compile time: an op must define a const `backward` taking its
/// upstream gradient(s) and a Grads sink, and a `name`.
template <class Op, class Upstream>
concept DifferentiableOp = requires(const Op& op, const Upstream& dy, Grads& g) {
  { op.backward(dy, g) } -> std::same_as<void>;
  { Op::name } -> std::convertible_to<const char*>;
};

template <class R>
std::vector<Var> wrap_outputs(R&& result) {
  std::vector<Var> out;
  if constexpr (is_multi_output_v<std::decay_t<R>>) {
    out.reserve(result.size());
    for (Tensor& t : result) out.emplace_back(std::move(t));
  } else {
    out.emplace_back(std::move(result));
  }
  return out;
}

template <class Op, class R>
void run_backward(const Op& op, const NodeBase& node, GradStore& store) {
  Grads g(store, node.in.data(), node.in.size());
  if constexpr (is_multi_output_v<R>) {
    std::vector<Tensor> dys;
    dys.reserve(node.out.size());
    for (std::size_t k = 0; k < node.out.size(); ++k) dys.push_back(store.grad[static_cast<std::size_t>(node.out[k])]);
    op.backward(dys, g);
  } else {
    op.backward(store.grad[static_cast<std::size_t>(node.out[0])], g);
  }
}

template <class Op>
OpInfo info_of(const Op& op) {
  if constexpr (requires { { op.info() } -> std::same_as<OpInfo>; })
    return op.info();
  else
    return {};
}

template <class R>
void store_outputs(const NodeBase& node, R&& result, std::vector<Tensor>& values) {
  if constexpr (is_multi_output_v<std::decay_t<R>>) {
    for (std::size_t k = 0; k < node.out.size(); ++k) values[static_cast<std::size_t>(node.out[k])] = std::move(result[k]);
  } else {
    values[static_cast<std::size_t>(node.out[0])] = std::move(result);
  }
}

/// A node for an op with N fixed inputs. `constants` keeps the values of untracked inputs so the
/// node can be replayed; tracked inputs are read from slot values.
template <class Op, class R, std::size_t N>
class FixedNode final : public NodeBase {
 public:
  explicit FixedNode(Op op) : op_(std::move(op)) {}
  const char* name() const noexcept override { return Op::name; }
  void backward(GradStore& store) const override { run_backward<Op, R>(op_, *this, store); }
  void replay(std::vector<Tensor>& values) override {
    auto input = [&](std::size_t i) -> const Tensor& {
      return in[i] >= 0 ? values[static_cast<std::size_t>(in[i])] : constants[i];
    };
    auto result = [&]<std::size_t... I>(std::index_sequence<I...>) { return op_.forward(input(I)...); }(
        std::make_index_sequence<N>{});
    store_outputs(*this, std::move(result), values);
  }
  std::unique_ptr<NodeBase> clone() const override { return std::make_unique<FixedNode>(*this); }
  OpInfo info() const override { return info_of(op_); }
  const Tensor* constant_input(std::size_t i) const override { return i < N && in[i] < 0 ? &constants[i] : nullptr; }
  std::array<Tensor, N> constants;

 private:
  Op op_;
};

/// A node for an op over a list of inputs (concat, stack).
template <class Op, class R>
class ListNode final : public NodeBase {
 public:
  explicit ListNode(Op op) : op_(std::move(op)) {}
  const char* name() const noexcept override { return Op::name; }
  void backward(GradStore& store) const override { run_backward<Op, R>(op_, *this, store); }
  void replay(std::vector<Tensor>& values) override {
    std::vector<Tensor> xs(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) xs[i] = in[i] >= 0 ? values[static_cast<std::size_t>(in[i])] : constants[i];
    store_outputs(*this, op_.forward(xs), values);
  }
  std::unique_ptr<NodeBase> clone() const override { return std::make_unique<ListNode>(*this); }
  OpInfo info() const override { return info_of(op_); }
  const Tensor* constant_input(std::size_t i) const override {
    return i < constants.size() && in[i] < 0 ? &constants[i] : nullptr;
  }
  std::vector<Tensor> constants;

 private:
  Op op_;
};

// Appends `make()`'s node to every active tape that tracks one of `inputs`.
template <class MakeNode>
void record_on_tapes(std::span<const Var* const> inputs, std::span<const Var> outputs, MakeNode&& make) {
  for (TapeData* tape : active_tapes()) {
    std::array<std::int32_t, 8> small{};
    std::vector<std::int32_t> big;
    std::int32_t* slots = inputs.size() <= small.size() ? small.data() : (big.resize(inputs.size()), big.data());
    bool any = false;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      slots[i] = track_input(*tape, *inputs[i]);
      any = any || slots[i] >= 0;
    }
    if (!any) continue;
    auto node = make();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      node->in.push_back(slots[i]);
      if (slots[i] < 0) node->constants[i] = inputs[i]->value();
    }
    for (const Var& o : outputs) node->out.push_back(output_slot(*tape, o));
    append_node(*tape, std::move(node));
  }
}

template <class Op, class... V>
std::vector<Var> record_fixed(Op op, const V&... inputs) {
  using R = decltype(op.forward(inputs.value()...));
  static_assert(DifferentiableOp<Op, upstream_t<R>>,
                "loom op must define `static constexpr const char* name` and "
                "`void backward(const Tensor& dy, Grads& g) const` (or a std::vector<Tensor> dy for "
                "multi-output ops)");
  std::vector<Var> outputs = wrap_outputs(op.forward(inputs.value()...));
  if (recording()) {
    const std::array<const Var*, sizeof...(V)> ins{&inputs...};
    record_on_tapes(ins, outputs, [&] {
      auto node = std::make_unique<FixedNode<Op, R, sizeof...(V)>>(op);
      return node;
    });
  }
  return outputs;
}

}  // namespace detail

/// Runs `op.forward` on the inputs' values and records the op on every active tape that tracks an
/// input. Returns the single output. `Op` must satisfy `detail::DifferentiableOp` (checked at compile
/// time): a `name`, `Tensor forward(const Tensor&...)`, and `void backward(const Tensor& dy, Grads&) const`.
/// The op struct's data members are what the tape keeps alive: store only what backward needs.
template <class Op, class... V>
  requires(std::same_as<V, Var> && ...)
Var record(Op op, const V&... inputs) {
  using R = decltype(op.forward(inputs.value()...));
  static_assert(!detail::is_multi_output_v<R>, "record: use record_multi for ops with several outputs");
  static_assert(detail::DifferentiableOp<Op, Tensor>,
                "loom op must define `static constexpr const char* name` and "
                "`void backward(const Tensor& dy, Grads& g) const`");
  Var out(op.forward(inputs.value()...));
  if (detail::recording()) {
    const std::array<const Var*, sizeof...(V)> ins{&inputs...};
    detail::record_on_tapes(ins, std::span<const Var>(&out, 1),
                            [&] { return std::make_unique<detail::FixedNode<Op, R, sizeof...(V)>>(op); });
  }
  return out;
}

/// `record` for ops with several outputs (`std::vector<Tensor> forward(...)`, backward receiving one
/// upstream gradient per output; an output that got no gradient has an undefined Tensor).
template <class Op, class... V>
  requires(std::same_as<V, Var> && ...)
std::vector<Var> record_multi(Op op, const V&... inputs) {
  return detail::record_fixed(std::move(op), inputs...);
}

/// `record` for ops over a list of inputs: `forward(const std::vector<Tensor>&)`.
template <class Op>
Var record_list(Op op, const std::vector<Var>& inputs) {
  std::vector<Tensor> values;
  values.reserve(inputs.size());
  for (const Var& v : inputs) values.push_back(v.value());
  using R = decltype(op.forward(values));
  static_assert(detail::DifferentiableOp<Op, detail::upstream_t<R>>, "loom op must define name and backward");
  std::vector<Var> outputs = detail::wrap_outputs(op.forward(values));
  if (detail::recording()) {
    std::vector<const Var*> ins;
    for (const Var& v : inputs) ins.push_back(&v);
    detail::record_on_tapes(ins, outputs, [&] {
      auto node = std::make_unique<detail::ListNode<Op, R>>(op);
      node->constants.resize(inputs.size());
      return node;
    });
  }
  return std::move(outputs.front());
}

}  // namespace loom
