// SPDX-License-Identifier: Apache-2.0
// Shape: the extents of a Tensor, stored inline (no heap allocation) up to rank 8.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <vector>

#include "loom/core/export.hpp"

namespace loom LOOM_API {

/// Extents of a row-major tensor, as int64. Printed as a Python tuple: `(32, 10, 8)`, `(5,)`, `()`.
/// The rank is at most `Shape::max_rank` (8); the extents are non-negative.
///
/// Example:
///   Shape s{32, 10, 8};
///   s.numel();   // 2560
///   s[-1];       // 8
class Shape {
 public:
  static constexpr int max_rank = 8;
  /// The most elements a shape may hold (2^60): the product of its non-zero extents never exceeds
  /// it, so no element or byte count computed from a shape overflows.
  static constexpr std::int64_t max_elements = std::int64_t{1} << 60;

  Shape() = default;
  /// Throws ValueError for rank > 8 or a negative extent, ResourceError beyond max_elements.
  Shape(std::initializer_list<std::int64_t> dims);
  explicit Shape(const std::vector<std::int64_t>& dims);

  int rank() const noexcept { return rank_; }
  bool empty() const noexcept { return rank_ == 0; }
  /// Extent of axis `i`; negative `i` counts from the end. Throws ValueError out of range.
  std::int64_t operator[](int i) const { return dims_[axis(i)]; }
  std::int64_t& operator[](int i) { return dims_[axis(i)]; }
  std::int64_t back() const { return (*this)[-1]; }
  /// Product of the extents (1 for rank 0).
  std::int64_t numel() const noexcept {
    std::int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[i];
    return n;
  }
  /// Product of the extents of axes [begin, end).
  std::int64_t numel(int begin, int end) const;
  const std::int64_t* begin() const noexcept { return dims_.data(); }
  const std::int64_t* end() const noexcept { return dims_.data() + rank_; }

  void push_back(std::int64_t d);
  /// Normalizes a possibly negative axis for this rank; throws ValueError naming `api`.
  int axis(int i, const char* api = "Shape") const {
    if (i >= -rank_ && i < rank_) [[likely]]
      return i < 0 ? i + rank_ : i;
    bad_axis(i, api);
  }
  std::vector<std::int64_t> to_vector() const { return {begin(), end()}; }
  std::string to_string() const;

  friend bool operator==(const Shape& a, const Shape& b) noexcept {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.dims_[i] != b.dims_[i]) return false;
    return true;
  }
  friend bool operator!=(const Shape& a, const Shape& b) noexcept { return !(a == b); }

 private:
  [[noreturn]] void bad_axis(int i, const char* api) const;

  std::array<std::int64_t, max_rank> dims_{};
  int rank_ = 0;
};

std::ostream& operator<<(std::ostream& out, const Shape& s);

}  // namespace loom
