// SPDX-License-Identifier: Apache-2.0
// Umbrella header of loom::layers.
#pragma once

#include "loom/layers/activations.hpp"
#include "loom/layers/cell.hpp"
#include "loom/layers/core_layers.hpp"
#include "loom/layers/initializers.hpp"
#include "loom/layers/layer.hpp"
#include "loom/layers/recurrent_cells.hpp"
#include "loom/layers/rnn.hpp"
#include "loom/layers/stacked_cells.hpp"
#include "loom/layers/wrappers.hpp"
