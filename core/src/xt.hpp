// SPDX-License-Identifier: Apache-2.0
// Private: the one place sources reach xtensor, for readable non-hot code (reference paths,
// conversions, small utilities). Hot paths call the xsimd kernels instead.
#pragma once

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "loom/core/xtensor.hpp"
