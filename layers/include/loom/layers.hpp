// SPDX-License-Identifier: Apache-2.0
// Umbrella header of loom::layers.
#pragma once

// get_config() and to_json() return nlohmann::json, which the layer headers only declare: the umbrella
// header brings the whole type, so a program can read a config without knowing where it comes from.
#include <nlohmann/json.hpp>

#include "loom/layers/activations.hpp"
#include "loom/layers/cell.hpp"
#include "loom/layers/core_layers.hpp"
#include "loom/layers/initializers.hpp"
#include "loom/layers/layer.hpp"
#include "loom/layers/recurrent_cells.hpp"
#include "loom/layers/rnn.hpp"
#include "loom/layers/stacked_cells.hpp"
#include "loom/layers/wrappers.hpp"
