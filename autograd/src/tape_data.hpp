// SPDX-License-Identifier: Apache-2.0
// Private: a tape's records, and the pieces of gradient() that the RNN loop node reuses.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "loom/autograd/record.hpp"

namespace loom::detail {

struct TapeData {
  std::uint64_t serial = 0;
  bool persistent = false;
  bool recording = true;
  bool consumed = false;
  std::vector<std::unique_ptr<NodeBase>> nodes;
  std::int32_t slots = 0;
  // Leaves (watched Vars and auto-watched variables) by slot, so replay can read their current values.
  std::vector<std::pair<std::int32_t, std::shared_ptr<VarImpl>>> leaves;
  // A tracing tape also watches, on first use, every Var these (outer) tapes track: the values a
  // traced step function captures from its surroundings stay differentiable.
  std::vector<std::uint64_t> capture_from;
  // A tracing tape records each slot's shape (for the loop compiler); other tapes do not pay for it.
  bool record_shapes = false;
  std::vector<Shape> shapes;
};

/// Makes `v` a leaf of `tape` and returns its new slot.
std::int32_t add_leaf(TapeData& tape, const Var& v);

/// This thread's recording state: the active tapes and the NoGrad depth.
struct RecordingState {
  std::vector<TapeData*> active;
  int no_grad = 0;
};

/// Replaces this thread's recording state (returns the old one): the RNN loop traces its step
/// function on a tape of its own, invisible to the caller's tapes and unaffected by its NoGrad.
RecordingState swap_recording_state(RecordingState state);

/// Marks, going forward through `nodes`, every slot that depends on a slot already marked.
std::vector<std::uint8_t> mark_dependents(const std::vector<std::unique_ptr<NodeBase>>& nodes,
                                          std::vector<std::uint8_t> needed);

/// The reverse pass: runs each node's backward (when it has an upstream gradient and a needed input),
/// drops the gradients of its outputs unless `keep[slot]`, and frees the node when `release`.
/// `after_node(n)`, when given, runs once node n is done (nodes are visited from the last to the first).
void backward_sweep(std::vector<std::unique_ptr<NodeBase>>& nodes, GradStore& store,
                    const std::vector<std::uint8_t>& keep, bool release,
                    const std::function<void(std::size_t)>& after_node = {});

}  // namespace loom::detail
