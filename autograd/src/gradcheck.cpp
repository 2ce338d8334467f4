// SPDX-License-Identifier: Apache-2.0
// gradcheck: vector-Jacobian products from the tape against central differences, in f64.
#include "loom/autograd/gradcheck.hpp"

#include <cmath>
#include <numeric>
#include <sstream>

#include "loom/autograd/tape.hpp"
#include "loom/core/check.hpp"
#include "loom/core/random.hpp"

namespace loom {
namespace {

double projected(const Tensor& y, const std::vector<double>& w) {
  LOOM_CHECK(y.dtype() == DType::f64, TypeError, "gradcheck: f must return an f64 Var; got ", y.dtype(), ".");
  const double* p = y.data<double>();
  double s = 0;
  for (std::size_t i = 0; i < w.size(); ++i) s += w[i] * p[i];
  return s;
}

// The flat indices of input i to check: all of them, or a seeded subset of max_elements.
std::vector<std::int64_t> pick(std::int64_t n, std::int64_t cap, std::uint64_t seed, std::size_t input) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  if (n <= cap) return idx;
  Generator gen(seed, 1000 + input);
  for (std::int64_t k = 0; k < cap; ++k) {  // partial Fisher–Yates
    const auto r = gen.block(static_cast<std::uint64_t>(k))[0];
    const std::int64_t j = k + static_cast<std::int64_t>(r % static_cast<std::uint64_t>(n - k));
    std::swap(idx[static_cast<std::size_t>(k)], idx[static_cast<std::size_t>(j)]);
  }
  idx.resize(static_cast<std::size_t>(cap));
  return idx;
}

}  // namespace

GradcheckResult gradcheck(const std::function<Var(const std::vector<Var>&)>& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  LOOM_CHECK(options.eps > 0, ValueError, "gradcheck: eps must be positive; got ", options.eps, ".");
  for (std::size_t i = 0; i < inputs.size(); ++i)
    LOOM_CHECK(inputs[i].defined() && inputs[i].dtype() == DType::f64, TypeError, "gradcheck: inputs[", i,
               "] must be an f64 tensor; got ", inputs[i].defined() ? dtype_name(inputs[i].dtype()) : "undefined",
               ". Hint: finite differences need double precision; convert with .to(DType::f64).");

  std::vector<Var> vars;
  for (const Tensor& x : inputs) vars.emplace_back(x.clone());
  std::vector<Tensor> analytical;
  std::vector<double> w;
  {
    GradientTape tape;
    for (const Var& v : vars) tape.watch(v);
    const Var y = f(vars);
    LOOM_CHECK(y.defined(), ValueError, "gradcheck: f returned an undefined Var.");
    Generator gen(options.seed, 1);
    const Tensor wt = Tensor::uniform(y.shape(), -1.0, 1.0, DType::f64, &gen);
    w = wt.to_vector<double>();
    analytical = tape.gradient(y, vars, wt.to(y.dtype()));
  }

  GradcheckResult result;
  double worst = -1;
  NoGrad no_grad;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<double> a = analytical[i].to(DType::f64).to_vector<double>();
    for (std::int64_t j : pick(inputs[i].numel(), options.max_elements, options.seed, i)) {
      std::vector<Var> shifted = vars;
      Tensor x = inputs[i].clone();
      double* px = x.data<double>() + j;
      const double x0 = *px;
      shifted[i] = Var(x);
      *px = x0 + options.eps;
      const double plus = projected(f(shifted).value(), w);
      *px = x0 - options.eps;
      const double minus = projected(f(shifted).value(), w);
      const double numerical = (plus - minus) / (2 * options.eps);
      const double err = std::abs(a[static_cast<std::size_t>(j)] - numerical);
      const double allowed = options.atol + options.rtol * std::abs(numerical);
      ++result.checked;
      if (!(err <= allowed)) result.ok = false;
      const double ratio = err / allowed;
      if (!(ratio <= worst)) {
        worst = std::isnan(ratio) ? INFINITY : ratio;
        result.input = i;
        result.index = j;
        result.analytical = a[static_cast<std::size_t>(j)];
        result.numerical = numerical;
      }
    }
  }
  std::ostringstream msg;
  msg.precision(10);
  msg << "gradcheck " << (result.ok ? "passed" : "FAILED") << " on " << result.checked
      << " elements; worst: input " << result.input << " element " << result.index << ", analytical "
      << result.analytical << " vs numerical " << result.numerical << " (|diff| = "
      << std::abs(result.analytical - result.numerical) << ", " << worst << " of the allowed error)";
  result.message = msg.str();
  return result;
}

}  // namespace loom
