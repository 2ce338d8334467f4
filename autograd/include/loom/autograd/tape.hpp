// SPDX-License-Identifier: Apache-2.0
// GradientTape (TF2 semantics): records ops on watched Vars and computes gradients by walking back.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"

namespace loom LOOM_API {

namespace detail {
class NodeBase;
struct TapeData;
}  // namespace detail

/// Records the differentiable ops executed while it is active, and computes gradients.
///
/// Semantics follow `tf.GradientTape`:
/// - A tape is active (recording) from construction until `stop_recording()` or destruction. Tapes
///   nest: each active tape records independently, innermost ones too.
/// - An op is recorded on a tape when at least one input is tracked by it: watched with `watch()`,
///   a trainable variable (watched automatically), or the output of an op the tape recorded.
/// - `gradient(target, sources)` walks the recorded nodes once, in reverse order (iteratively: a tape
///   of millions of nodes is fine), and returns one Tensor per source. A source the target does not
///   depend on gets **zeros** of its shape (where TF returns None). Gradients of a Var used several
///   times are accumulated in the order the uses were recorded (deterministic).
/// - A non-persistent tape frees every saved tensor during its first `gradient` call; a second call
///   throws StateError. A persistent tape keeps them and may be asked again (same results).
///
/// Example:
///   Var x(Tensor::of({1, 2, 3}, {3}));
///   GradientTape tape;
///   tape.watch(x);
///   Var y = sum(x * x);
///   Tensor dx = tape.gradient(y, {x})[0];   // 2·x = [2, 4, 6]
class GradientTape {
 public:
  explicit GradientTape(bool persistent = false);
  ~GradientTape();
  GradientTape(const GradientTape&) = delete;
  GradientTape& operator=(const GradientTape&) = delete;

  /// Tracks `v` from now on (a constant becomes a differentiable leaf of this tape).
  void watch(const Var& v);
  /// Ends recording (the tape can still compute gradients).
  void stop_recording();
  bool persistent() const noexcept;
  /// Number of recorded nodes.
  std::size_t size() const noexcept;

  /// d target / d source for each source. The target's upstream gradient is ones (a scalar loss, or
  /// the sum of a non-scalar target), or `output_gradient` (the target's shape) when given.
  /// Throws StateError for a consumed non-persistent tape or a target this tape did not record.
  std::vector<Tensor> gradient(const Var& target, const std::vector<Var>& sources,
                               const Tensor& output_gradient = Tensor());

  /// Called by `gradient` with (source index, its gradient) as soon as that gradient is final, while
  /// the reverse pass goes on: gradients can be sent (to other processes) before the pass ends, as
  /// PyTorch's DDP hooks do. Every source is announced exactly once, sources the target does not
  /// depend on first (zeros). The tensor is the one `gradient` returns: read it, do not modify it.
  using GradientReady = std::function<void(std::size_t, const Tensor&)>;
  /// `gradient` that announces each source through `on_ready` as soon as it is final.
  std::vector<Tensor> gradient(const Var& target, const std::vector<Var>& sources, const GradientReady& on_ready,
                               const Tensor& output_gradient = Tensor());

  /// Re-executes the recorded nodes on new leaf values: `feeds` gives a value for some tracked Vars
  /// (same shape and dtype as recorded), every other leaf keeps the value it has now, and the values
  /// of `fetches` are returned. Nothing is recorded. This is how a step function traced once is
  /// replayed for every time step; it requires the recorded code to have static control flow.
  std::vector<Tensor> replay(const std::vector<std::pair<Var, Tensor>>& feeds,
                             const std::vector<Var>& fetches);

  detail::TapeData& data() noexcept { return *data_; }

 private:
  std::unique_ptr<detail::TapeData> data_;
};

/// A Var with the same value that no tape tracks: gradients do not flow through it.
Var stop_gradient(const Var& x);

/// While alive, no tape on this thread records anything (inference, optimizer updates).
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;
};

}  // namespace loom
