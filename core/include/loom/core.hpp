// SPDX-License-Identifier: Apache-2.0
// Umbrella header of loom::core: tensors, random numbers, threads and kernels.
#pragma once

#include "loom/core/check.hpp"
#include "loom/core/cpu.hpp"
#include "loom/core/dtype.hpp"
#include "loom/core/elementwise.hpp"
#include "loom/core/error.hpp"
#include "loom/core/gemm.hpp"
#include "loom/core/layout.hpp"
#include "loom/core/memory.hpp"
#include "loom/core/parallel.hpp"
#include "loom/core/random.hpp"
#include "loom/core/reduce.hpp"
#include "loom/core/safetensors.hpp"
#include "loom/core/shape.hpp"
#include "loom/core/tensor.hpp"
#include "loom/version.hpp"
