// SPDX-License-Identifier: Apache-2.0
// Umbrella header of loom::optim.
#pragma once

#include "loom/optim/callbacks.hpp"
#include "loom/optim/checkpoint.hpp"
#include "loom/optim/losses.hpp"
#include "loom/optim/model.hpp"
#include "loom/optim/optimizer.hpp"
#include "loom/optim/plot.hpp"
#include "loom/optim/saving.hpp"
#include "loom/optim/schedules.hpp"
#include "loom/optim/strategy.hpp"
#include "loom/optim/tbptt.hpp"
#include "loom/optim/tensorboard.hpp"
#include "loom/optim/torch_weights.hpp"
