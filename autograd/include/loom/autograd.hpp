// SPDX-License-Identifier: Apache-2.0
// Umbrella header of loom::autograd: Var, GradientTape, the differentiable ops and gradcheck.
#pragma once

#include "loom/autograd/gradcheck.hpp"
#include "loom/autograd/ops/activation.hpp"
#include "loom/autograd/ops/arithmetic.hpp"
#include "loom/autograd/ops/loss.hpp"
#include "loom/autograd/ops/matmul.hpp"
#include "loom/autograd/ops/nn.hpp"
#include "loom/autograd/ops/reduce.hpp"
#include "loom/autograd/ops/select.hpp"
#include "loom/autograd/ops/shape.hpp"
#include "loom/autograd/record.hpp"
#include "loom/autograd/rnn.hpp"
#include "loom/autograd/tape.hpp"
#include "loom/autograd/var.hpp"
