// SPDX-License-Identifier: Apache-2.0
// Optional interop with xtensor (not included by <loom/loom.hpp>): zero-copy views and conversions.
// Needs xtensor's headers (Debian: xtensor-dev): link the CMake target loom::xtensor, which brings them.
#pragma once

#include <cstddef>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>
#include <xtensor/xnoalias.hpp>

#include "loom/core/export.hpp"
#include "loom/core/tensor.hpp"

namespace loom LOOM_API {

namespace detail {
inline std::vector<std::size_t> xt_shape(const Shape& s) {
  return {s.begin(), s.end()};
}
}  // namespace detail

/// A zero-copy, writable xtensor view of `t`'s storage (an `xt::xarray_adaptor`). T must match the
/// dtype (TypeError otherwise). The view is valid while any Tensor sharing the storage lives.
///
/// Example:
///   Tensor t = Tensor::zeros({2, 3});
///   auto v = loom::xt_view<float>(t);
///   v(1, 2) = 5.0f;                       // t.at<float>({1, 2}) == 5
///   float total = xt::sum(v)();
template <class T>
auto xt_view(Tensor& t) {
  return xt::adapt(t.data<T>(), detail::xt_shape(t.shape()));
}

/// Read-only zero-copy view of `t`'s storage.
template <class T>
auto xt_view(const Tensor& t) {
  return xt::adapt(t.data<T>(), detail::xt_shape(t.shape()));
}

/// Evaluates any xtensor expression into a new Tensor (dtype from the expression's value type:
/// float → f32, double → f64, std::int64_t → i64).
///
/// Example:
///   Tensor y = loom::from_xtensor(xt::linspace<double>(0.0, 1.0, 5));
template <class E>
Tensor from_xtensor(const xt::xexpression<E>& expr) {
  using T = typename E::value_type;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> ||
                    std::is_same_v<T, std::int64_t>,
                "from_xtensor: the expression must hold float, double or std::int64_t");
  const auto& e = expr.derived_cast();
  Shape shape;
  for (auto d : e.shape()) shape.push_back(static_cast<std::int64_t>(d));
  Tensor out = Tensor::empty(shape, dtype_of<T>);
  auto view = xt_view<T>(out);
  // noalias: an expression assignment even when `e` is itself an adaptor, whose copy assignment
  // would otherwise rebind `view` instead of writing through it.
  xt::noalias(view) = e;
  return out;
}

}  // namespace loom
