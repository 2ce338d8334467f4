// SPDX-License-Identifier: Apache-2.0
// Model weights and training checkpoints in the safetensors layout.
#pragma once

#include <cstdint>
#include <string>

#include "loom/core/export.hpp"
#include "loom/layers/layer.hpp"
#include "loom/optim/optimizer.hpp"
#include "loom/optim/strategy.hpp"

namespace loom LOOM_API {

/// Writes every weight of `model` under its name ("lstm/lstm_cell/kernel", …) to a safetensors file
/// (atomically: temporary file, fsync, rename). PyTorch's safetensors reader and numpy read it.
/// ValueError if two weights share a name.
void save_weights(const Layer& model, const std::string& path);

/// Options of `load_weights`.
struct LoadWeightsOptions {
  /// Match the file's tensors to the model's weights by name instead of by position. Names come
  /// from the layers' names, which default to per-class counters (`lstm`, `lstm_1`, …): a model
  /// built a second time in one process gets other names, so by-name loading needs named layers.
  bool by_name = false;
};

/// Loads weights saved by `save_weights`. By default the match is structural, as in Keras 3: the
/// file records the order in which it saved the weights, and the i-th weight of the model takes the
/// i-th weight of the file, whatever their names, so the same architecture built anywhere loads it.
/// A file without that record (another writer's) is matched by name. Either way counts, shapes and
/// dtypes must agree, and with `by_name` the names must be exactly the model's. Any mismatch (or a
/// malformed file) is a FormatError naming the weight and why, and the model is untouched:
/// everything is checked before the first weight changes. An unbuilt model must be built first
/// (call it, or build_for its input shape).
void load_weights(Layer& model, const std::string& path, LoadWeightsOptions options = {});

/// Where a training run stands.
struct TrainingPosition {
  std::int64_t epoch = 0;  ///< completed epochs
  std::int64_t step = 0;   ///< completed optimizer steps
};

/// A training checkpoint: the weights, the optimizer state ("optimizer/…"), the states carried by
/// stateful RNN layers ("states/<layer>/<i>"), the default generator's position and `position`
/// (in `__metadata__`). Resuming from it continues bit for bit as if the run had not stopped.
///
/// With a `strategy` (a data-parallel run) every rank must call it: the states of stateful layers, of
/// which each rank holds its block of streams, are gathered and saved whole (so the file does not
/// depend on the number of ranks), `random` adds every rank's dropout-stream position, and rank 0
/// alone writes. It returns on every rank once the file is in place, or throws on every rank.
void save_checkpoint(const std::string& path, const Layer& model, const Optimizer& optimizer,
                     const TrainingPosition& position, Strategy* strategy = nullptr, ReplicaRandom* random = nullptr);

/// Restores a checkpoint written by `save_checkpoint` into `model`, `optimizer` and the default
/// generator, and returns the position. All-or-nothing: FormatError and nothing changed on any
/// mismatch. Weights match by structure, as `load_weights` does (the file's i-th weight is the
/// model's i-th, and the optimizer slots follow), so a model built again in the same process, whose
/// weight paths begin with another default name, loads it; stateful layers' states match by layer
/// name.
///
/// With a `strategy`, every rank reads the file (it must be visible to all, as on a shared filesystem)
/// and takes its own block of each stateful layer's streams, so a checkpoint loads on any number of
/// ranks, or in one process. `random` gets the ranks' dropout streams back when the number of ranks is
/// the one that saved it; on another number they start afresh (weights, optimizer state, carried
/// states and the shuffling position are restored either way).
TrainingPosition load_checkpoint(const std::string& path, Layer& model, Optimizer& optimizer,
                                 Strategy* strategy = nullptr, ReplicaRandom* random = nullptr);

}  // namespace loom
