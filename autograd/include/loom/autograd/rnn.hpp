// SPDX-License-Identifier: Apache-2.0
// backend::rnn — the time loop of tf.keras.backend.rnn, unrolled on the tape or as one loop node.
#pragma once

#include <cstdint>
#include <functional>
#include <variant>
#include <vector>

#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"

namespace loom LOOM_API {
namespace backend {

/// What a step function returns: its output (one Var, or several for nested outputs) and the new
/// states, one per state, each with the shape of the state it replaces.
struct StepOutput {
  StepOutput(Var output, std::vector<Var> new_states) : outputs{std::move(output)}, states(std::move(new_states)) {}
  StepOutput(std::vector<Var> nested_outputs, std::vector<Var> new_states)
      : outputs(std::move(nested_outputs)), states(std::move(new_states)) {}
  std::vector<Var> outputs;
  std::vector<Var> states;
};

/// One time step: `(input_t, states, constants) -> {output_t, new_states}`. `input_t` holds one slice
/// (samples, …) per input (several for nested inputs). Differs from Keras in one respect: constants
/// come as their own argument instead of being appended to `states`.
///
/// With `unroll = false` the function is traced once and replayed, so it must have static control
/// flow (as under `tf.function`): the same ops on the same shapes at every step, no branching on
/// values. Random ops inside it (e.g. `dropout`) draw once, at trace time, and that draw is reused at
/// every step; draw per-call masks before the loop instead, as Keras cells do. Gradients flow to the
/// inputs, the initial states, the constants, and every Var the function captures that a tape
/// around the call tracks (trainable variables, watched Vars, values computed from them).
using StepFunction = std::function<StepOutput(const std::vector<Var>& inputs_t, const std::vector<Var>& states,
                                              const std::vector<Var>& constants)>;

/// Options of `rnn`; names and defaults follow `tf.keras.backend.rnn` (TF2 edition), plus two of
/// loom's own for the loop node (`checkpoint_every`, `compile`).
struct LoopOptions {
  bool go_backwards = false;   ///< iterate from the last step to the first; outputs stay in that order
  /// Empty, or (samples, time) / (samples, time, 1) — (time, samples[, 1]) when time_major. Any
  /// non-zero entry keeps the step. A masked step leaves every state unchanged and outputs the last
  /// unmasked output (zeros before the first one), or zeros with `zero_output_for_mask`.
  Tensor mask;
  std::vector<Var> constants;  ///< passed unchanged to every step
  bool unroll = false;         ///< record every step's ops on the tape instead of one loop node
  /// None; an integer (must equal the number of time steps); or a 1-D tensor of per-sample lengths,
  /// which acts as the mask `t < length[b]` (original time order) when no mask is given.
  std::variant<std::monostate, std::int64_t, Tensor> input_length;
  bool time_major = false;            ///< inputs and outputs are (time, samples, …)
  bool zero_output_for_mask = false;  ///< masked steps output zeros (last_output too)
  bool return_all_outputs = true;     ///< false: `outputs` is (samples, 1, …), equal to last_output
  /// Loop node only: keep states every k steps and recompute the steps in between during backward
  /// (0 = keep every step). Same gradients, less memory.
  std::int64_t checkpoint_every = 0;
  /// Loop node only: compile the traced step (see `LoopStats`) rather than replay it op by op. The
  /// numbers agree within rounding (weight gradients are summed in another order); `false` is for
  /// debugging and comparison.
  bool compile = true;
};

/// What the loop node's compiler made of the traced step function (all zero when unrolled). Ops
/// that read neither an input nor a state run once per call; ops on the inputs that no state
/// reaches run once over all time steps with their rows stacked (`x·W + b` becomes one product
/// with T·B rows, and so does its backward); a per-step product with a weight defers the weight's
/// gradient to one product over all steps after the sweep; each chain of per-step element-wise ops
/// (activations, products, sums, gate slices) runs as one fused kernel that keeps its intermediates
/// in registers. Everything else is replayed per step, op by op.
struct LoopStats {
  bool compiled = false;
  std::int32_t ops = 0;               ///< ops in the traced step
  std::int32_t invariant_ops = 0;     ///< run once per call
  std::int32_t hoisted_ops = 0;       ///< run once over all steps, before the loop
  std::int32_t step_ops = 0;          ///< run at every step
  std::int32_t deferred_matmuls = 0;  ///< step products whose weight gradient is one product after the sweep
  std::int32_t fused_ops = 0;         ///< step ops folded into fused element-wise kernels
  std::int32_t fused_kernels = 0;     ///< those kernels (each one pass over the data per step)
};

/// The results of `rnn`. For nested outputs, `nested_last_outputs` and `nested_outputs` hold one Var
/// per output leaf and `last_output`/`outputs` are the first leaf's.
struct LoopResult {
  Var last_output;              ///< output of the last processed step, (samples, …)
  Var outputs;                  ///< (samples, time, …) in processing order ((time, samples, …) time-major)
  std::vector<Var> new_states;  ///< the states after the last step (masked steps excluded)
  std::vector<Var> nested_last_outputs;
  std::vector<Var> nested_outputs;
  LoopStats stats;              ///< the loop compiler's report
};

/// Iterates `step_function` over the time axis of `inputs`, like `tf.keras.backend.rnn`.
///
/// `inputs` holds one or more tensors (nested inputs), each (samples, time, …) of rank ≥ 3 with the
/// same samples and time extents. `initial_states` are (samples, …) of any rank ≥ 1.
///
/// With `unroll = true` every step runs eagerly and its ops land on the active tapes one by one.
/// Otherwise the step function is traced once into a step graph that is replayed for each time step,
/// and exactly one loop node lands on each tape; its backward is backpropagation through time over
/// the replayed steps. Both modes apply masking, `go_backwards`, `zero_output_for_mask`,
/// `return_all_outputs`, `time_major` and `input_length` through one driver and give the same numbers.
///
/// Throws ValueError (message starting with "rnn:") for an input of rank < 3, `unroll` with no time
/// steps, a mask with no states, mismatched time or sample extents, a bad mask or input_length, and
/// a step function whose new states differ in number or shape from its states.
///
/// Example (the seed's MinimalRNNCell as a step function):
///   Var kernel = Var::variable(Tensor::uniform({5, 32}), "kernel");
///   Var recurrent = Var::variable(Tensor::uniform({32, 32}), "recurrent_kernel");
///   auto step = [&](const std::vector<Var>& x, const std::vector<Var>& s, const std::vector<Var>&) {
///     Var h = matmul(x[0], kernel) + matmul(s[0], recurrent);
///     return StepOutput(h, {h});
///   };
///   LoopResult r = backend::rnn(step, {x}, {Var(Tensor::zeros({batch, 32}))}, {.mask = mask});
LoopResult rnn(const StepFunction& step_function, const std::vector<Var>& inputs,
              const std::vector<Var>& initial_states, const LoopOptions& options = {});

}  // namespace backend
}  // namespace loom
