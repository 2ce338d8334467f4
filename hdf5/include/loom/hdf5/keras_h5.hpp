// SPDX-License-Identifier: Apache-2.0
// Keras weights in HDF5: Keras 3's `.weights.h5` and tf-keras's legacy `.h5`, read and written.
// loom::hdf5 is optional (built when CMake finds HDF5's C library); nothing else in loom needs it.
#pragma once

#include <string>

#include "loom/core/export.hpp"
#include "loom/layers/layer.hpp"

namespace loom LOOM_API {

/// The two HDF5 layouts of Keras weights.
enum class KerasH5Layout {
  /// Keras 3 (`model.save_weights("m.weights.h5")`, and `model.weights.h5` inside a `.keras` file):
  /// every layer has a group whose `vars` subgroup holds its own variables as datasets "0", "1", …
  /// A layer's group is named by where Keras 3 finds it: a Sequential's layers under
  /// `layers/<class>` (snake case, numbered per class: `dense`, `dense_1`), an RNN's cell under
  /// `cell`, a StackedRNNCells's cells under `cells/<class>`, a Bidirectional's layers under
  /// `forward_layer` and `backward_layer`, a TimeDistributed's under `layer`. Layer names play no
  /// part, so files line up whatever the default names were.
  keras3,
  /// tf-keras 2.x (`save_weights("m.h5")`, or `model.save("m.h5")`, which nests it in a
  /// `model_weights` group): the root lists the top-level layers in the attribute `layer_names`, and
  /// each layer's group lists its weights in `weight_names` (`lstm/lstm_cell/kernel:0`), the datasets
  /// sitting at those paths inside it. Loading matches layers and weights by order, as tf-keras does.
  legacy,
};

/// Writes the weights of `model` (built) in a Keras HDF5 layout, through a temporary file renamed
/// over `path`. IOError if the file cannot be written; ValueError for a layer whose Keras 3 group
/// name loom cannot know (a user's layer with sublayers: Keras names those by Python attribute).
void save_keras_weights(const Layer& model, const std::string& path, KerasH5Layout layout = KerasH5Layout::keras3);

/// Reads Keras weights from `path` into `model` (built), whichever layout the file has. Every
/// tensor is found and checked (count, shape, floating dtype) before any weight changes; FormatError
/// naming the HDF5 path and the expected and actual values otherwise. Values convert to the model's
/// dtype.
void load_keras_weights(Layer& model, const std::string& path);

/// The layout of a Keras weights file; FormatError if it has neither.
KerasH5Layout keras_h5_layout(const std::string& path);

}  // namespace loom
