// SPDX-License-Identifier: Apache-2.0
// Everything loom offers, in one include. (The xtensor interop header is separate: <loom/core/xtensor.hpp>.)
#pragma once

#include "loom/autograd.hpp"
#include "loom/core.hpp"
#include "loom/layers.hpp"
#include "loom/optim.hpp"
