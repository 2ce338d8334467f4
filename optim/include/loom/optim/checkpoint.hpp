// SPDX-License-Identifier: Apache-2.0
// Model weights and training checkpoints in the safetensors layout.
#pragma once

#include <cstdint>
#include <string>

#include "loom/layers/layer.hpp"
#include "loom/optim/optimizer.hpp"

namespace loom {

/// Writes every weight of `model` under its name ("lstm/lstm_cell/kernel", …) to a safetensors file
/// (atomically: temporary file, fsync, rename). PyTorch's safetensors reader and numpy read it.
/// ValueError if two weights share a name.
void save_weights(const Layer& model, const std::string& path);

/// Loads weights saved by `save_weights`: the file's tensors must be exactly the model's weights by
/// name, shape and dtype. Any mismatch (or a malformed file) is a FormatError naming the problem, and
/// the model is untouched: everything is checked before the first weight changes. An unbuilt model
/// must be built first (call it, or build_for its input shape).
void load_weights(Layer& model, const std::string& path);

/// Where a training run stands.
struct TrainingPosition {
  std::int64_t epoch = 0;  ///< completed epochs
  std::int64_t step = 0;   ///< completed optimizer steps
};

/// A training checkpoint: the weights, the optimizer state ("optimizer/…"), the states carried by
/// stateful RNN layers ("states/<layer>/<i>"), the default generator's position and `position`
/// (in `__metadata__`). Resuming from it continues bit for bit as if the run had not stopped.
void save_checkpoint(const std::string& path, const Layer& model, const Optimizer& optimizer,
                     const TrainingPosition& position);

/// Restores a checkpoint written by `save_checkpoint` into `model`, `optimizer` and the default
/// generator, and returns the position. All-or-nothing: FormatError and nothing changed on any
/// mismatch.
TrainingPosition load_checkpoint(const std::string& path, Layer& model, Optimizer& optimizer);

}  // namespace loom
