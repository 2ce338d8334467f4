// SPDX-License-Identifier: Apache-2.0
// GradientTape: the active-tape stack, slot bookkeeping, reverse accumulation and replay.
#include "loom/autograd/tape.hpp"

#include <algorithm>
#include <atomic>

#include "loom/autograd/record.hpp"
#include "loom/core/check.hpp"
#include "loom/core/elementwise.hpp"
#include "tape_data.hpp"

namespace loom {

namespace detail {

namespace {

std::atomic<std::uint64_t> next_serial{1};

struct ThreadState {
  std::vector<TapeData*> active;  // recording tapes, outermost first
  int no_grad = 0;
};

ThreadState& thread_state() noexcept {
  thread_local ThreadState state;
  return state;
}

}  // namespace

std::int32_t add_leaf(TapeData& tape, const Var& v) {
  const std::int32_t slot = tape.slots++;
  v.impl()->add_mark(tape.serial, slot);
  if (tape.record_shapes) tape.shapes.push_back(v.shape());
  tape.leaves.emplace_back(slot, v.shared_impl());
  return slot;
}

RecordingState swap_recording_state(RecordingState state) {
  ThreadState& st = thread_state();
  std::swap(st.active, state.active);
  std::swap(st.no_grad, state.no_grad);
  return state;
}

std::vector<std::uint8_t> mark_dependents(const std::vector<std::unique_ptr<NodeBase>>& nodes,
                                          std::vector<std::uint8_t> needed) {
  for (const auto& node : nodes) {
    if (!node) continue;
    bool any = false;
    for (std::size_t i = 0; i < node->in.size() && !any; ++i)
      any = node->in[i] >= 0 && needed[static_cast<std::size_t>(node->in[i])];
    if (any)
      for (std::size_t k = 0; k < node->out.size(); ++k) needed[static_cast<std::size_t>(node->out[k])] = 1;
  }
  return needed;
}

void backward_sweep(std::vector<std::unique_ptr<NodeBase>>& nodes, GradStore& store,
                    const std::vector<std::uint8_t>& keep, bool release,
                    const std::function<void(std::size_t)>& after_node) {
  for (std::size_t n = nodes.size(); n-- > 0;) {
    std::unique_ptr<NodeBase>& node = nodes[n];
    if (!node) continue;
    bool has_dy = false, wants = false;
    for (std::size_t k = 0; k < node->out.size(); ++k)
      has_dy = has_dy || store.grad[static_cast<std::size_t>(node->out[k])].defined();
    for (std::size_t i = 0; i < node->in.size(); ++i)
      wants = wants || (node->in[i] >= 0 && store.needed[static_cast<std::size_t>(node->in[i])]);
    if (has_dy && wants) node->backward(store);
    for (std::size_t k = 0; k < node->out.size(); ++k) {
      const auto s = static_cast<std::size_t>(node->out[k]);
      if (!keep[s]) store.grad[s] = Tensor();
    }
    if (release) node.reset();
    if (after_node) after_node(n);
  }
}

void GradStore::accumulate(std::int32_t slot, const Tensor& g) {
  const auto s = static_cast<std::size_t>(slot);
  if (!grad[s].defined()) {
    grad[s] = g;  // shared until a second contribution arrives
    owned[s] = 0;
  } else if (owned[s]) {
    core::add_(grad[s], g);
  } else {
    grad[s] = core::add(grad[s], g);
    owned[s] = 1;
  }
}

bool recording() noexcept {
  const ThreadState& st = thread_state();
  return st.no_grad == 0 && !st.active.empty();
}

std::span<TapeData* const> active_tapes() noexcept { return thread_state().active; }

std::int32_t track_input(TapeData& tape, const Var& v) {
  const std::int32_t slot = v.impl()->slot_on(tape.serial);
  if (slot >= 0) return slot;
  if (v.trainable()) return add_leaf(tape, v);
  for (std::uint64_t outer : tape.capture_from)
    if (v.impl()->slot_on(outer) >= 0) return add_leaf(tape, v);
  return -1;
}

std::int32_t output_slot(TapeData& tape, const Var& out) {
  const std::int32_t slot = tape.slots++;
  out.impl()->add_mark(tape.serial, slot);
  if (tape.record_shapes) tape.shapes.push_back(out.shape());
  return slot;
}

void append_node(TapeData& tape, std::unique_ptr<NodeBase> node) { tape.nodes.push_back(std::move(node)); }

}  // namespace detail

GradientTape::GradientTape(bool persistent) : data_(std::make_unique<detail::TapeData>()) {
  data_->serial = detail::next_serial.fetch_add(1, std::memory_order_relaxed);
  data_->persistent = persistent;
  detail::thread_state().active.push_back(data_.get());
}

GradientTape::~GradientTape() {
  stop_recording();
  for (const auto& [slot, impl] : data_->leaves) impl->remove_mark(data_->serial);
}

void GradientTape::stop_recording() {
  if (!data_->recording) return;
  auto& active = detail::thread_state().active;
  active.erase(std::remove(active.begin(), active.end(), data_.get()), active.end());
  data_->recording = false;
}

bool GradientTape::persistent() const noexcept { return data_->persistent; }
std::size_t GradientTape::size() const noexcept { return data_->nodes.size(); }

void GradientTape::watch(const Var& v) {
  LOOM_CHECK(v.defined(), ValueError, "GradientTape.watch: the Var is undefined.");
  LOOM_CHECK(is_floating(v.dtype()), TypeError, "GradientTape.watch: only f32 and f64 Vars can be watched; got ",
             v.dtype(), ".");
  if (v.impl()->slot_on(data_->serial) < 0) detail::add_leaf(*data_, v);
}

std::vector<Tensor> GradientTape::gradient(const Var& target, const std::vector<Var>& sources,
                                           const Tensor& output_gradient) {
  return gradient(target, sources, GradientReady{}, output_gradient);
}

std::vector<Tensor> GradientTape::gradient(const Var& target, const std::vector<Var>& sources,
                                           const GradientReady& on_ready, const Tensor& output_gradient) {
  detail::TapeData& d = *data_;
  LOOM_CHECK(!d.consumed, StateError,
             "GradientTape.gradient: a non-persistent tape can compute gradients only once. "
             "Hint: create it as GradientTape(/*persistent=*/true) to call gradient() several times.");
  LOOM_CHECK(target.defined(), ValueError, "GradientTape.gradient: target is undefined.");
  const std::int32_t target_slot = target.impl()->slot_on(d.serial);
  LOOM_CHECK(target_slot >= 0, StateError,
             "GradientTape.gradient: target was not computed under this tape. "
             "Hint: compute it inside the tape's scope, or watch() its inputs first.");
  for (std::size_t i = 0; i < sources.size(); ++i)
    LOOM_CHECK(sources[i].defined(), ValueError, "GradientTape.gradient: sources[", i, "] is undefined.");
  if (output_gradient.defined()) {
    LOOM_CHECK(output_gradient.shape() == target.shape(), ValueError,
               "GradientTape.gradient: output_gradient must have the target's shape ", target.shape(), "; got ",
               output_gradient.shape(), ".");
    LOOM_CHECK(output_gradient.dtype() == target.dtype(), TypeError,
               "GradientTape.gradient: output_gradient must have the target's dtype ", target.dtype(), "; got ",
               output_gradient.dtype(), ".");
  }

  const auto nslots = static_cast<std::size_t>(d.slots);
  detail::GradStore store;
  store.grad.resize(nslots);
  store.owned.assign(nslots, 0);
  store.needed.assign(nslots, 0);
  store.release = !d.persistent;
  std::vector<std::uint8_t> is_source(nslots, 0);
  std::vector<std::int32_t> source_slot(sources.size());
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const std::int32_t slot = source_slot[i] = sources[i].impl()->slot_on(d.serial);
    if (slot >= 0) store.needed[static_cast<std::size_t>(slot)] = is_source[static_cast<std::size_t>(slot)] = 1;
  }
  store.needed = detail::mark_dependents(d.nodes, std::move(store.needed));
  store.grad[static_cast<std::size_t>(target_slot)] =
      output_gradient.defined() ? output_gradient : Tensor::ones(target.shape(), target.dtype());
  const auto final_gradient = [&](std::size_t i) {
    const std::int32_t slot = source_slot[i];
    const Tensor& g = slot >= 0 ? store.grad[static_cast<std::size_t>(slot)] : Tensor();
    return g.defined() ? g : Tensor::zeros(sources[i].shape(), sources[i].dtype());
  };
  // With on_ready, each source is announced as soon as its gradient is final: after the first-recorded
  // node that reads it (every later consumer has been visited by then), or at once when none does.
  std::function<void(std::size_t)> after_node;
  std::vector<std::vector<std::size_t>> ready_after;
  if (on_ready) {
    std::vector<std::size_t> first_use(nslots, d.nodes.size());
    for (std::size_t n = d.nodes.size(); n-- > 0;)
      if (d.nodes[n])
        for (std::size_t k = 0; k < d.nodes[n]->in.size(); ++k)
          if (const std::int32_t s = d.nodes[n]->in[k]; s >= 0 && is_source[static_cast<std::size_t>(s)])
            first_use[static_cast<std::size_t>(s)] = n;
    ready_after.resize(d.nodes.size());
    for (std::size_t i = 0; i < sources.size(); ++i) {
      const std::size_t n = source_slot[i] >= 0 ? first_use[static_cast<std::size_t>(source_slot[i])] : d.nodes.size();
      if (n == d.nodes.size())
        on_ready(i, final_gradient(i));
      else
        ready_after[n].push_back(i);
    }
    after_node = [&](std::size_t n) {
      for (std::size_t i : ready_after[n]) on_ready(i, final_gradient(i));
    };
  }
  // A slot's gradient is complete once its producing node is reached (all consumers were recorded
  // later), so non-source gradients are dropped right after use.
  detail::backward_sweep(d.nodes, store, is_source, !d.persistent, after_node);

  std::vector<Tensor> out;
  out.reserve(sources.size());
  for (std::size_t i = 0; i < sources.size(); ++i) out.push_back(final_gradient(i));
  if (!d.persistent) {  // the records are gone: so are the leaves and their marks
    d.consumed = true;
    for (const auto& [slot, impl] : d.leaves) impl->remove_mark(d.serial);
    d.leaves.clear();
  }
  return out;
}

std::vector<Tensor> GradientTape::replay(const std::vector<std::pair<Var, Tensor>>& feeds,
                                         const std::vector<Var>& fetches) {
  detail::TapeData& d = *data_;
  LOOM_CHECK(!d.consumed, StateError, "GradientTape.replay: the tape's records were released by gradient().");
  std::vector<Tensor> values(static_cast<std::size_t>(d.slots));
  for (const auto& [slot, impl] : d.leaves) values[static_cast<std::size_t>(slot)] = impl->value;
  for (const auto& [var, value] : feeds) {
    const std::int32_t slot = var.defined() ? var.impl()->slot_on(d.serial) : -1;
    LOOM_CHECK(slot >= 0, ValueError, "GradientTape.replay: a fed Var is not tracked by this tape.");
    LOOM_CHECK(value.shape() == var.shape() && value.dtype() == var.dtype(), ValueError,
               "GradientTape.replay: a fed value must match the recorded shape ", var.shape(), " and dtype ",
               var.dtype(), "; got ", value.shape(), " ", value.dtype(), ".");
    values[static_cast<std::size_t>(slot)] = value;
  }
  std::vector<Tensor> out;
  for (const Var& f : fetches)
    LOOM_CHECK(f.defined() && f.impl()->slot_on(d.serial) >= 0, ValueError,
               "GradientTape.replay: a fetched Var is not tracked by this tape.");
  NoGrad no_grad;
  for (auto& node : d.nodes) node->replay(values);
  for (const Var& f : fetches) out.push_back(values[static_cast<std::size_t>(f.impl()->slot_on(d.serial))]);
  return out;
}

Var stop_gradient(const Var& x) {
  LOOM_CHECK(x.defined(), ValueError, "stop_gradient: x is undefined.");
  return Var(x.value());
}

NoGrad::NoGrad() { ++detail::thread_state().no_grad; }
NoGrad::~NoGrad() { --detail::thread_state().no_grad; }

}  // namespace loom
