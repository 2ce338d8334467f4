// SPDX-License-Identifier: Apache-2.0
// Shape: construction, indexing, printing as Python tuples, and its checks.
#include "support/reference.hpp"

using loom::Shape;
using Catch::Matchers::StartsWith;

TEST_CASE("Shape: extents, numel, negative indices and printing", "[core][shape]") {
  const Shape s{32, 10, 8};
  CHECK(s.rank() == 3);
  CHECK(s.numel() == 2560);
  CHECK(s[-1] == 8);
  CHECK(s.back() == 8);
  CHECK(s.numel(1, 3) == 80);
  CHECK(s.to_string() == "(32, 10, 8)");
  CHECK(Shape{5}.to_string() == "(5,)");
  CHECK(Shape{}.to_string() == "()");
  CHECK(Shape{}.numel() == 1);
  CHECK(Shape{3, 0}.numel() == 0);
  CHECK(Shape{1, 2} == Shape(std::vector<std::int64_t>{1, 2}));
  CHECK(Shape{1, 2} != Shape{2, 1});
  CHECK(s.axis(-3) == 0);
}

TEST_CASE("Shape: rank above 8, negative extents and bad axes throw ValueError", "[core][shape][errors]") {
  CHECK_THROWS_WITH((Shape{1, 1, 1, 1, 1, 1, 1, 1, 1}), StartsWith("Shape: rank must be at most 8; got 9"));
  CHECK_THROWS_WITH((Shape{2, -3}), StartsWith("Shape: extents must be non-negative; got -3"));
  CHECK_THROWS_WITH(Shape({2, 3})[2], StartsWith("Shape: axis 2 is out of range for shape (2, 3)"));
}
