// SPDX-License-Identifier: Apache-2.0
// Private: the compiled form of a step graph (stage 2 of 3: compiling). The runner (rnn_loop.cpp)
// executes it; nothing here runs a step.
#pragma once

#include <cstdint>
#include <vector>

#include "rnn_graph.hpp"

namespace loom::backend::detail {

/// When a slot's value is computed.
enum class Level : std::uint8_t {
  invariant,  ///< once per call: captured weights, constants and ops on them only
  hoisted,    ///< once per segment for all its steps, rows stacked in time order: the inputs and
              ///< ops on inputs and invariants that accept stacked rows (x·W + b, gate slices, …)
  step,       ///< at every step: the states and everything that depends on them
};

/// The rows one deferred weight gradient collects over a segment during backward: the matmul's left
/// operand and its output gradient, one block of rows per step (zeros for a step that got no
/// gradient); dW = xᵀ·dz then runs once for the segment.
struct DeferredRows {
  Tensor x, dz;
  std::int64_t rows = 0;  // rows per step
};

struct Program {
  std::vector<Level> level;  // per slot
  Nodes invariant, hoisted, step;  // templates in execution order
  /// Hoisted slots (the inputs among them) that step ops read or the step returns: bound to the
  /// step's rows before each step, and collecting the step's gradient rows in backward.
  std::vector<std::int32_t> bound;
  /// Invariant slots that step ops or hoisted ops read: their gradients move to the per-call store.
  std::vector<std::int32_t> step_invariant_inputs, hoisted_invariant_inputs;
  struct Deferred {
    std::size_t node;        // index in `step`
    std::int32_t lhs, rhs;   // slots
    std::int64_t k, n;       // the weight is (k, n)
    std::int64_t rows;       // rows of the left operand per step
  };
  std::vector<Deferred> deferred;
  /// Invariant slots used as a matmul's right operand: packed once per call.
  std::vector<std::int32_t> weights;
  /// Multiply-adds ×2 of the per-step products: below kSmallStep (about a microsecond of work) the
  /// steps run on one thread, where waking a second one would cost more than it saves; above it the
  /// kernels split their work (GEMM from 2^17 multiply-adds, fused chains from 2048 elements).
  double step_flops = 0;
  static constexpr double kSmallStep = 1e5;
  bool small_steps() const { return step_flops < kSmallStep; }
  LoopStats stats;
};

/// Compiles `g`. With `optimise` false every op is a step op (per-op replay, no deferral).
Program compile(const StepGraph& g, bool optimise);

/// Replaces each connected chain of per-step element-wise ops (with the gate splits and slices
/// between them) by one fused node (rnn_fuse.cpp). Keeps `deferred` indices valid.
void fuse_step_ops(const StepGraph& g, Program& p);

/// Points the deferred matmul `node` (a step copy of `Program::step[d.node]`) at `rows`, block `index`.
void bind_deferred(loom::detail::NodeBase& node, DeferredRows* rows, std::int64_t index);

}  // namespace loom::backend::detail
