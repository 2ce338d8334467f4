// SPDX-License-Identifier: Apache-2.0
// Tensor: factories, shared storage and views, copies, conversions, element access and printing.
#include "support/reference.hpp"

using loom::DType;
using loom::Shape;
using loom::Tensor;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

TEST_CASE("Tensor: factories fill the values they name", "[core][tensor]") {
  CHECK(Tensor::zeros({2, 3}).to_vector<double>() == std::vector<double>(6, 0.0));
  CHECK(Tensor::ones({4}, DType::f64).to_vector<double>() == std::vector<double>(4, 1.0));
  CHECK(Tensor::full({2}, 2.5).to_vector<float>() == std::vector<float>{2.5f, 2.5f});
  CHECK(Tensor::arange(5).to_vector<double>() == std::vector<double>{0, 1, 2, 3, 4});
  CHECK(Tensor::arange(1.0, 2.0, 0.25, DType::f64).to_vector<double>() == std::vector<double>{1, 1.25, 1.5, 1.75});
  CHECK(Tensor::arange(3.0, 0.0, -1.0, DType::i64).to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 2, 1});
  CHECK(Tensor::of({1, 2, 3, 4}, {2, 2}).get({1, 0}) == 3.0);
  const Tensor v = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {3, 2});
  CHECK(v.dtype() == DType::f64);
  CHECK(v.at<double>({2, 1}) == 6.0);
  CHECK(v.at<double>({-1, -2}) == 5.0);
  CHECK(Tensor::full({}, 3.0).item() == 3.0);
}

TEST_CASE("Tensor: storage is 64-byte aligned and shared by copies", "[core][tensor]") {
  Tensor a = Tensor::zeros({3, 5});
  CHECK(reinterpret_cast<std::uintptr_t>(a.raw_data()) % 64 == 0);
  Tensor b = a;  // cheap copy: same storage
  b.at<float>({1, 1}) = 9.0f;
  CHECK(a.at<float>({1, 1}) == 9.0f);
  CHECK(a.shares_storage(b));
  Tensor c = a.clone();  // deep copy
  c.at<float>({1, 1}) = 1.0f;
  CHECK(a.at<float>({1, 1}) == 9.0f);
  CHECK_FALSE(a.shares_storage(c));
}

TEST_CASE("Tensor: slice0, index0 and reshape are views", "[core][tensor]") {
  Tensor x = Tensor::arange(24).reshape({2, 3, 4});
  CHECK(x.shape() == Shape{2, 3, 4});
  Tensor row = x.index0(1);
  CHECK(row.shape() == Shape{3, 4});
  CHECK(row.get({0, 0}) == 12.0);
  Tensor rows = x.slice0(1, 1);
  CHECK(rows.shape() == Shape{1, 3, 4});
  row.at<float>({2, 3}) = -1.0f;
  CHECK(x.at<float>({1, 2, 3}) == -1.0f);
  CHECK(rows.at<float>({0, 2, 3}) == -1.0f);
  CHECK(x.reshape({-1, 4}).shape() == Shape{6, 4});
  CHECK(x.reshape({4, -1}).shape() == Shape{4, 6});
  CHECK(x.reshape(Shape{24}).shares_storage(x));
  // A view of a view keeps the right offset.
  CHECK(x.index0(1).index0(2).get({1}) == 21.0);
  CHECK(x.index0(1).slice0(1, 2).reshape({-1}).get({0}) == 16.0);
}

TEST_CASE("Tensor: transpose swaps the last two axes into new storage", "[core][tensor]") {
  const Tensor x = Tensor::arange(2 * 3 * 40, DType::f64).reshape({2, 3, 40});
  const Tensor t = x.transpose();
  CHECK(t.shape() == Shape{2, 40, 3});
  CHECK_FALSE(t.shares_storage(x));
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 40; ++j) CHECK(t.get({b, j, i}) == x.get({b, i, j}));
}

TEST_CASE("Tensor: to(dtype) converts and copies", "[core][tensor]") {
  const Tensor x = Tensor::of({1.5, -2.25, 3}, {3});
  const Tensor d = x.to(DType::f64);
  CHECK(d.dtype() == DType::f64);
  CHECK(d.to_vector<double>() == std::vector<double>{1.5, -2.25, 3});
  CHECK(x.to(DType::i64).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -2, 3});
  CHECK(x.to(DType::f32).shares_storage(x));
}

TEST_CASE("Tensor: fill_ and copy_ write in place", "[core][tensor]") {
  Tensor a = Tensor::zeros({2, 2});
  a.fill_(4.0);
  CHECK(a.to_vector<float>() == std::vector<float>(4, 4.0f));
  a.index0(0).copy_(Tensor::of({1, 2}, {2}));
  CHECK(a.to_vector<float>() == std::vector<float>{1, 2, 4, 4});
}

TEST_CASE("Tensor: printing shows shape, dtype and values", "[core][tensor]") {
  const Tensor x = Tensor::arange(6).reshape({2, 3});
  const std::string s = x.to_string();
  CHECK_THAT(s, StartsWith("Tensor(shape=(2, 3), dtype=f32)"));
  CHECK_THAT(s, Contains("[[0, 1, 2],\n [3, 4, 5]]"));
  CHECK_THAT(Tensor::zeros({3000}).to_string(), Contains("..."));
  std::ostringstream out;
  out << Tensor();
  CHECK(out.str() == "Tensor(undefined)");
}

TEST_CASE("Tensor: bad indices, shapes and dtypes throw", "[core][tensor][errors]") {
  Tensor x = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH(x.at<float>({2, 0}), StartsWith("Tensor.at: index 2 is out of range for axis 0 of shape (2, 3)"));
  CHECK_THROWS_WITH(x.at<float>({1}), StartsWith("Tensor.at: index must have 2 entries"));
  CHECK_THROWS_AS(x.at<double>({0, 0}), loom::TypeError);
  CHECK_THROWS_WITH(x.data<double>(), StartsWith("Tensor.data: requested element type f64 but the tensor holds f32"));
  CHECK_THROWS_WITH(x.reshape({4, 2}), StartsWith("Tensor.reshape: cannot reshape (2, 3) (6 elements) into (4, 2)"));
  CHECK_THROWS_WITH(x.reshape({-1, -1}), StartsWith("Tensor.reshape: at most one extent may be -1"));
  CHECK_THROWS_WITH(x.reshape({-1, 4}), StartsWith("Tensor.reshape: cannot reshape (2, 3)"));
  CHECK_THROWS_WITH(x.slice0(1, 2), StartsWith("Tensor.slice0: rows [1, 3) are out of range for shape (2, 3)"));
  CHECK_THROWS_WITH(x.index0(-1), StartsWith("Tensor.index0: index -1 is out of range"));
  CHECK_THROWS_WITH(Tensor::ones({3}).transpose(), StartsWith("Tensor.transpose: needs rank >= 2; got shape (3,)"));
  CHECK_THROWS_WITH(Tensor::from_vector<float>({1, 2}, {3}), StartsWith("Tensor.from_vector: values has 2 elements but shape (3,) needs 3"));
  CHECK_THROWS_WITH(x.copy_(Tensor::zeros({3, 2})), StartsWith("Tensor.copy_: src must have shape (2, 3); got (3, 2)"));
  CHECK_THROWS_AS(x.copy_(Tensor::zeros({2, 3}, DType::f64)), loom::TypeError);
  CHECK_THROWS_WITH(Tensor::arange(0.0, 1.0, 0.0), StartsWith("Tensor.arange: step must be finite and non-zero"));
  CHECK_THROWS_WITH(x.item(), StartsWith("Tensor.item: needs a tensor with exactly one element; got shape (2, 3)"));
  CHECK_THROWS_WITH(Tensor().clone(), StartsWith("Tensor.clone: the tensor is undefined"));
  CHECK_THROWS_AS(x.at<float>({2, 0}), loom::Error);  // the whole family is catchable as loom::Error
}
