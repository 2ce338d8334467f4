// SPDX-License-Identifier: Apache-2.0
// Whole models in one file: architecture, weights and, optionally, the compiled optimizer and loss.
#pragma once

#include <string>

#include "loom/core/export.hpp"
#include "loom/optim/model.hpp"

namespace loom LOOM_API {

/// Options of `save_model`.
struct SaveModelOptions {
  /// Also save how the model was compiled (optimizer with its options and state, loss, metrics), so
  /// `load_model` returns it ready to go on training. Keras's `include_optimizer`.
  bool include_optimizer = true;
};

/// Saves a built model to one safetensors file (atomically): its weights, the network's config and
/// input shape in `__metadata__` (JSON), and with `include_optimizer` its compile state. Keras's
/// `model.save`. ValueError if the model cannot be described: a layer without a registered config,
/// or (with include_optimizer) a custom loss or schedule that has no name or config, in which case
/// save without the optimizer. StateError for an unbuilt network.
///
///   save_model(model, "classifier.safetensors");
///   Model again = load_model("classifier.safetensors");   // same predictions, bit for bit
void save_model(const Model& model, const std::string& path, SaveModelOptions options = {});

/// Rebuilds a model saved by `save_model` (custom layers and cells must be registered with
/// `register_layer` first): the network from its config, built for the saved input shape, with the
/// saved weights; compiled, with the optimizer's state, when the file holds the compile state.
/// FormatError naming the problem for anything malformed or inconsistent.
Model load_model(const std::string& path);

}  // namespace loom
