// SPDX-License-Identifier: Apache-2.0
// Private: the weight file pieces that checkpoints and saved models share.
#pragma once

#include <string>

#include "loom/core/safetensors.hpp"
#include "loom/optim/checkpoint.hpp"

namespace loom::detail {

/// The weights of `model` by name, with their order in `__metadata__["weight_order"]`.
TensorFile weights_file(const Layer& model);
/// `load_weights` on a file already read (`path` names it in errors).
void load_weights_from(const TensorFile& file, Layer& model, const std::string& path, LoadWeightsOptions options);

}  // namespace loom::detail
