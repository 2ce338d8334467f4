// SPDX-License-Identifier: Apache-2.0
// Shape: inline extents, Python-tuple printing.
#include "loom/core/shape.hpp"

#include <cstdlib>
#include <ostream>
#include <sstream>

#include "loom/core/check.hpp"

namespace loom {

Shape::Shape(std::initializer_list<std::int64_t> dims) {
  LOOM_CHECK(dims.size() <= max_rank, ValueError, "Shape: rank must be at most ", max_rank, "; got ",
             dims.size(), ".");
  for (std::int64_t d : dims) push_back(d);
}

Shape::Shape(const std::vector<std::int64_t>& dims) {
  LOOM_CHECK(dims.size() <= max_rank, ValueError, "Shape: rank must be at most ", max_rank, "; got ",
             dims.size(), ".");
  for (std::int64_t d : dims) push_back(d);
}

void Shape::push_back(std::int64_t d) {
  LOOM_CHECK(rank_ < max_rank, ValueError, "Shape: rank must be at most ", max_rank, ".");
  LOOM_CHECK(d >= 0, ValueError, "Shape: extents must be non-negative; got ", d, ".");
  // The one place element counts are bounded: the non-zero extents multiply to at most
  // max_elements, so numel() and every size computed from it (bytes included) cannot overflow.
  std::int64_t product = d == 0 ? 1 : d;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != 0 && __builtin_mul_overflow(product, dims_[i], &product)) product = max_elements + 1;
  if (product > max_elements) {
    Shape asked = *this;
    asked.dims_[asked.rank_++] = d;
    LOOM_CHECK(false, ResourceError, "Shape: ", asked, " holds more than 2^60 elements; no tensor can be that large.");
  }
  dims_[rank_++] = d;
}

// Out of line, so that the inline fast path of axis() stays small.
void Shape::bad_axis(int i, const char* api) const {
  LOOM_CHECK(false, ValueError, api, ": axis ", i, " is out of range for shape ", *this, ".");
  std::abort();
}

std::int64_t Shape::numel(int begin, int end) const {
  std::int64_t n = 1;
  for (int i = begin; i < end; ++i) n *= dims_[i];
  return n;
}

std::string Shape::to_string() const {
  std::ostringstream out;
  out << *this;
  return out.str();
}

std::ostream& operator<<(std::ostream& out, const Shape& s) {
  out << '(';
  for (int i = 0; i < s.rank(); ++i) out << (i ? ", " : "") << s[i];
  if (s.rank() == 1) out << ',';
  return out << ')';
}

}  // namespace loom
