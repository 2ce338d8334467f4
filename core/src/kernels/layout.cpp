// SPDX-License-Identifier: Apache-2.0
// Layout kernels: byte copies between (outer, axis, inner) views, and the embedding gather/scatter.
#include "loom/core/layout.hpp"

#include <cstring>

#include "../dispatch.hpp"
#include "../parallel.hpp"

namespace loom::core {
namespace {

constexpr std::int64_t kGrainBytes = 1 << 16;

struct Split {
  std::int64_t outer, len, inner;  // inner in elements
};

Split split_at(const Tensor& x, int a) {
  return {x.shape().numel(0, a), x.shape(a), x.shape().numel(a + 1, x.dimension())};
}

std::int64_t grain_for(std::int64_t bytes_per_item) {
  return std::max<std::int64_t>(1, kGrainBytes / std::max<std::int64_t>(bytes_per_item, 1));
}

}  // namespace

Tensor swap01(const Tensor& x) {
  detail::check_defined("swap01", "x", x);
  LOOM_CHECK(x.dimension() >= 2, ValueError, "swap01: x must be at least 2-D; got shape ", x.shape(), ".");
  Shape s = x.shape();
  s[0] = x.shape(1);
  s[1] = x.shape(0);
  Tensor out = Tensor::empty(s, x.dtype());
  const std::int64_t a = x.shape(0), b = x.shape(1);
  const std::size_t row = static_cast<std::size_t>(x.shape().numel(2, x.dimension())) * itemsize(x.dtype());
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  detail::parallel_chunks(b, grain_for(static_cast<std::int64_t>(row) * a), [&](std::int64_t j0, std::int64_t j1) {
    for (std::int64_t j = j0; j < j1; ++j)
      for (std::int64_t i = 0; i < a; ++i)
        std::memcpy(dst + (j * a + i) * row, src + (i * b + j) * row, row);
  });
  return out;
}

Tensor flip(const Tensor& x, int axis) {
  detail::check_defined("flip", "x", x);
  const Split v = split_at(x, x.shape().axis(axis, "flip"));
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  const std::size_t row = static_cast<std::size_t>(v.inner) * itemsize(x.dtype());
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  detail::parallel_chunks(v.outer * v.len, grain_for(static_cast<std::int64_t>(row)), [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t o = t / v.len, l = t % v.len;
      std::memcpy(dst + (o * v.len + (v.len - 1 - l)) * row, src + t * row, row);
    }
  });
  return out;
}

Tensor slice(const Tensor& x, int axis, std::int64_t start, std::int64_t length) {
  detail::check_defined("slice", "x", x);
  const int a = x.shape().axis(axis, "slice");
  LOOM_CHECK(start >= 0 && length >= 0 && start + length <= x.shape(a), ValueError, "slice: range [", start,
             ", ", start + length, ") is out of bounds for axis ", a, " of shape ", x.shape(), ".");
  const Split v = split_at(x, a);
  Shape s = x.shape();
  s[a] = length;
  Tensor out = Tensor::empty(s, x.dtype());
  const std::size_t isz = itemsize(x.dtype());
  const std::size_t chunk = static_cast<std::size_t>(length * v.inner) * isz;
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (std::int64_t o = 0; o < v.outer; ++o)
    std::memcpy(dst + o * chunk, src + static_cast<std::size_t>((o * v.len + start) * v.inner) * isz, chunk);
  return out;
}

void slice_assign(Tensor& dst, const Tensor& src, int axis, std::int64_t start) {
  detail::check_defined("slice_assign", "dst", dst);
  detail::check_defined("slice_assign", "src", src);
  const int a = dst.shape().axis(axis, "slice_assign");
  LOOM_CHECK(src.dimension() == dst.dimension(), ValueError, "slice_assign: src must have rank ",
             dst.dimension(), "; got shape ", src.shape(), ".");
  for (int i = 0; i < dst.dimension(); ++i)
    LOOM_CHECK(i == a || src.shape(i) == dst.shape(i), ValueError, "slice_assign: src shape ", src.shape(),
               " differs from dst shape ", dst.shape(), " outside axis ", a, ".");
  LOOM_CHECK(start >= 0 && start + src.shape(a) <= dst.shape(a), ValueError, "slice_assign: range [", start,
             ", ", start + src.shape(a), ") is out of bounds for axis ", a, " of shape ", dst.shape(), ".");
  detail::check_same_dtype("slice_assign", dst, src);
  const Split v = split_at(dst, a);
  const std::size_t isz = itemsize(dst.dtype());
  const std::size_t chunk = static_cast<std::size_t>(src.shape(a) * v.inner) * isz;
  const char* s = static_cast<const char*>(src.raw_data());
  char* d = static_cast<char*>(dst.raw_data());
  for (std::int64_t o = 0; o < v.outer; ++o)
    std::memcpy(d + static_cast<std::size_t>((o * v.len + start) * v.inner) * isz, s + o * chunk, chunk);
}

Tensor concat(const std::vector<Tensor>& xs, int axis) {
  LOOM_CHECK(!xs.empty(), ValueError, "concat: needs at least one tensor.");
  for (const Tensor& t : xs) detail::check_defined("concat", "xs[i]", t);
  const Tensor& first = xs.front();
  const int a = first.shape().axis(axis, "concat");
  Shape s = first.shape();
  std::int64_t total = 0;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const Tensor& t = xs[k];
    LOOM_CHECK(t.dimension() == first.dimension(), ValueError, "concat: xs[", k, "] has shape ", t.shape(),
               " but xs[0] has shape ", first.shape(), ".");
    for (int i = 0; i < s.rank(); ++i)
      LOOM_CHECK(i == a || t.shape(i) == first.shape(i), ValueError, "concat: xs[", k, "] has shape ",
                 t.shape(), " but xs[0] has shape ", first.shape(), "; they may differ only along axis ", a,
                 ".");
    detail::check_same_dtype("concat", first, t);
    total += t.shape(a);
  }
  s[a] = total;
  Tensor out = Tensor::empty(s, first.dtype());
  std::int64_t at = 0;
  for (const Tensor& t : xs) {
    slice_assign(out, t, a, at);
    at += t.shape(a);
  }
  return out;
}

Tensor broadcast_axis(const Tensor& x, int axis, std::int64_t n) {
  detail::check_defined("broadcast_axis", "x", x);
  const int a = x.shape().axis(axis, "broadcast_axis");
  LOOM_CHECK(x.shape(a) == 1 && n >= 0, ValueError, "broadcast_axis: axis ", a, " of x must have extent 1 (and n >= 0); got shape ",
             x.shape(), " and n = ", n, ".");
  Shape s = x.shape();
  s[a] = n;
  Tensor out = Tensor::empty(s, x.dtype());
  const Split v = split_at(x, a);
  const std::size_t row = static_cast<std::size_t>(v.inner) * itemsize(x.dtype());
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  detail::parallel_chunks(v.outer * n, grain_for(static_cast<std::int64_t>(row)), [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) std::memcpy(dst + t * row, src + (t / std::max<std::int64_t>(n, 1)) * row, row);
  });
  return out;
}

Tensor where_rows(const Tensor& mask, const Tensor& a, const Tensor& b) {
  detail::check_defined("where", "mask", mask);
  detail::check_defined("where", "a", a);
  detail::check_defined("where", "b", b);
  LOOM_CHECK(a.shape() == b.shape(), ValueError, "where: a and b must have one shape; got ", a.shape(), " and ",
             b.shape(), ".");
  detail::check_same_dtype("where", a, b);
  LOOM_CHECK(a.dimension() >= 1, ValueError, "where: a must be at least 1-D; got shape ", a.shape(), ".");
  const std::int64_t rows = a.shape(0);
  LOOM_CHECK((mask.dimension() == 1 && mask.shape(0) == rows) ||
                 (mask.dimension() == 2 && mask.shape(0) == rows && mask.shape(1) == 1),
             ValueError, "where: mask must have shape (", rows, ",) or (", rows, ", 1) to select rows of ", a.shape(),
             "; got ", mask.shape(), ".");
  const std::vector<double> m = mask.to_vector<double>();
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  const std::size_t row = static_cast<std::size_t>(a.shape().numel(1, a.dimension())) * itemsize(a.dtype());
  const char* pa = static_cast<const char*>(a.raw_data());
  const char* pb = static_cast<const char*>(b.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (std::int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * row, (m[r] != 0.0 ? pa : pb) + r * row, row);
  return out;
}

namespace {
void check_indices(const char* api, const Tensor& indices, std::int64_t vocab) {
  detail::check_defined(api, "indices", indices);
  LOOM_CHECK(indices.dtype() == DType::i64, TypeError, api, ": indices must have dtype i64; got ",
             indices.dtype(), ".");
  const std::int64_t* id = indices.data<std::int64_t>();
  for (std::int64_t i = 0; i < indices.numel(); ++i)
    LOOM_CHECK(id[i] >= 0 && id[i] < vocab, ValueError, api, ": indices must be in [0, ", vocab, "); got ",
               id[i], " at flat position ", i, ".");
}
}  // namespace

Tensor gather_rows(const Tensor& table, const Tensor& indices) {
  detail::check_defined("gather_rows", "table", table);
  LOOM_CHECK(table.dimension() >= 1, ValueError, "gather_rows: table must be at least 1-D; got shape ",
             table.shape(), ".");
  check_indices("gather_rows", indices, table.shape(0));
  Shape s = indices.shape();
  for (int i = 1; i < table.dimension(); ++i) s.push_back(table.shape(i));
  Tensor out = Tensor::empty(s, table.dtype());
  const std::size_t row = static_cast<std::size_t>(table.shape().numel(1, table.dimension())) * itemsize(table.dtype());
  const std::int64_t* id = indices.data<std::int64_t>();
  const char* src = static_cast<const char*>(table.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  detail::parallel_chunks(indices.numel(), grain_for(static_cast<std::int64_t>(row)), [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) std::memcpy(dst + i * row, src + id[i] * row, row);
  });
  return out;
}

void scatter_add_rows(Tensor& grad, const Tensor& indices, const Tensor& rows) {
  detail::check_defined("scatter_add_rows", "grad", grad);
  detail::check_defined("scatter_add_rows", "rows", rows);
  LOOM_CHECK(grad.dimension() >= 1, ValueError, "scatter_add_rows: grad must be at least 1-D; got shape ",
             grad.shape(), ".");
  check_indices("scatter_add_rows", indices, grad.shape(0));
  const std::int64_t d = grad.shape().numel(1, grad.dimension());
  LOOM_CHECK(rows.numel() == indices.numel() * d, ValueError, "scatter_add_rows: rows must hold ",
             indices.numel(), " rows of ", d, " elements; got shape ", rows.shape(), ".");
  detail::check_same_dtype("scatter_add_rows", grad, rows);
  detail::dispatch_float(grad.dtype(), "scatter_add_rows", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t* id = indices.data<std::int64_t>();
    const T* r = rows.data<T>();
    T* g = grad.data<T>();
    const std::int64_t n = indices.numel();
    // Split by columns: every task adds all rows, in index order, to its own columns.
    constexpr std::int64_t kCols = 256;
    detail::parallel_chunks(d, std::max<std::int64_t>(kCols, (d * n > (1 << 16)) ? kCols : d), [&](std::int64_t c0, std::int64_t c1) {
      for (std::int64_t i = 0; i < n; ++i) {
        T* gi = g + id[i] * d;
        const T* ri = r + i * d;
        for (std::int64_t c = c0; c < c1; ++c) gi[c] = gi[c] + ri[c];
      }
    });
  });
}

}  // namespace loom::core
