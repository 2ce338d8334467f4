// SPDX-License-Identifier: Apache-2.0
// Umbrella header of loom::optim.
#pragma once

#include "loom/optim/checkpoint.hpp"
#include "loom/optim/optimizer.hpp"
#include "loom/optim/schedules.hpp"
#include "loom/optim/tbptt.hpp"
