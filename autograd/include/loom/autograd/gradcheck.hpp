// SPDX-License-Identifier: Apache-2.0
// gradcheck: compares a function's tape gradients with central finite differences in f64.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"

namespace loom LOOM_API {

/// Options of `gradcheck`; the defaults are torch.autograd.gradcheck's.
struct GradcheckOptions {
  double eps = 1e-6;                     ///< finite-difference step
  double atol = 1e-5;                    ///< absolute tolerance
  double rtol = 1e-3;                    ///< relative tolerance (of the numerical value)
  std::int64_t max_elements = 4096;      ///< per input; above it a seeded random subset is checked
  std::uint64_t seed = 0;                ///< for the subset and the output projection
};

/// The outcome of `gradcheck`. `ok` is false if any checked element has
/// |analytical − numerical| > atol + rtol·|numerical|; the fields describe the worst element (by
/// that error relative to its allowance).
struct GradcheckResult {
  bool ok = true;
  std::size_t input = 0;           ///< which input holds the worst element
  std::int64_t index = 0;          ///< its flat index
  double analytical = 0.0;
  double numerical = 0.0;
  std::int64_t checked = 0;        ///< elements checked over all inputs
  std::string message;             ///< a readable summary
};

/// Checks the gradients of `f` with respect to each of `inputs` (f64 tensors; TypeError otherwise).
/// f may return any shape: the check is on L = Σ w ⊙ f(x) for a fixed random w (a vector-Jacobian
/// product, as a tape computes), so every output element takes part. Analytical gradients come from a
/// GradientTape; numerical ones from (L(x + eps·eᵢ) − L(x − eps·eᵢ)) / 2eps for each checked element.
///
/// Example:
///   auto r = gradcheck([](const std::vector<Var>& v) { return tanh(matmul(v[0], v[1])); },
///                      {Tensor::uniform({3, 4}, -1, 1, DType::f64), Tensor::uniform({4, 2}, -1, 1, DType::f64)});
///   REQUIRE(r.ok);
GradcheckResult gradcheck(const std::function<Var(const std::vector<Var>&)>& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace loom
