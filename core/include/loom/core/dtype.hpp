// SPDX-License-Identifier: Apache-2.0
// Runtime element types of a Tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <type_traits>

#include "loom/core/export.hpp"

namespace loom LOOM_API {

/// Element type of a Tensor. `f32` is the default for training, `f64` serves gradient checks and
/// users who need the precision; `i64` holds indices and labels (embedding ids, class targets) and
/// is accepted only by the functions that document it.
enum class DType : std::uint8_t { f32, f64, i64 };

/// Size in bytes of one element.
constexpr std::size_t itemsize(DType d) noexcept {
  return d == DType::f32 ? 4 : 8;
}

/// `"f32"`, `"f64"` or `"i64"`.
const char* dtype_name(DType d) noexcept;

/// True for f32 and f64.
constexpr bool is_floating(DType d) noexcept {
  return d != DType::i64;
}

/// The DType of a C++ element type: `dtype_of<float> == DType::f32`.
template <class T>
inline constexpr DType dtype_of = std::is_same_v<T, float>    ? DType::f32
                                  : std::is_same_v<T, double> ? DType::f64
                                                              : DType::i64;

std::ostream& operator<<(std::ostream& out, DType d);

}  // namespace loom
