// SPDX-License-Identifier: Apache-2.0
// PyTorch state dicts in and out: nn.LSTM/GRU/RNN (num_layers, bidirectional), nn.Embedding and
// nn.Linear parameters mapped onto the matching loom layers, gate orders and biases converted.
#pragma once

#include <string>
#include <vector>

#include "loom/core/export.hpp"
#include "loom/core/safetensors.hpp"
#include "loom/layers/layer.hpp"

namespace loom LOOM_API {

/// Where one loom layer's weights live in a PyTorch state dict.
///
/// - `Dense` ↔ nn.Linear: `<prefix>.weight` (units, in) is the kernel transposed, `<prefix>.bias`.
/// - `Embedding` ↔ nn.Embedding: `<prefix>.weight` (input_dim, output_dim).
/// - `SimpleRNN`, `LSTM`, `GRU`, or an `RNN` of their cells or of a StackedRNNCells of them ↔ layers
///   `first_layer`, `first_layer + 1`, … of an nn.RNN/LSTM/GRU: `<prefix>.weight_ih_l<k>`
///   (gates·units, in), `weight_hh_l<k>`, `bias_ih_l<k>`, `bias_hh_l<k>`.
/// - `Bidirectional` of one of those ↔ the same layers of a bidirectional torch module: the
///   backward layer reads the `_reverse` parameters.
///
/// Conversions: torch's LSTM gates i, f, g, o are Keras's i, f, c, o (same order); torch's GRU gates
/// r, z, n are reordered to Keras's z, r, h. The two torch biases add into the Keras bias of an LSTM
/// or SimpleRNN; a GRU maps only onto `reset_after = true`, whose (2, 3·units) bias holds torch's
/// input bias then its hidden bias (ValueError for `reset_after = false`, whose candidate applies
/// the reset gate before the recurrent product, which torch cannot express). A layer without bias
/// matches a torch module built with `bias=False`. Torch computes sigmoid and tanh gates, so LSTM
/// and GRU cells must use those activations (ValueError otherwise); a SimpleRNN's tanh or relu is the
/// torch module's `nonlinearity`, which the state dict does not record.
struct TorchModule {
  Layer* layer = nullptr;
  std::string prefix;   ///< the module's name in the state dict, e.g. "encoder.lstm" ("" for none)
  int first_layer = 0;  ///< recurrent modules: the torch layer index of the layer's first cell
};

/// Copies the parameters of a state dict (as read by `load_safetensors` from a file written with
/// `safetensors.torch.save_file(model.state_dict(), path)`) into the layers, converting as above.
/// All-or-nothing: every tensor is found and checked before any layer changes; FormatError naming the
/// key and the expected and actual shapes otherwise. Tensors the modules do not read are ignored, as
/// `load_state_dict(strict=False)` would. The layers must be built (StateError).
void load_torch_state_dict(const TensorFile& state_dict, const std::vector<TorchModule>& modules);

/// The parameters of `modules` as a PyTorch state dict (keys as above, f32 or f64 as the layers),
/// ready for `save_safetensors` and `model.load_state_dict(safetensors.torch.load_file(path))`. The
/// Keras bias of an LSTM or SimpleRNN goes to `bias_ih` and `bias_hh` is zero.
TensorFile torch_state_dict(const std::vector<TorchModule>& modules);

}  // namespace loom
