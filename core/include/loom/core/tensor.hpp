// SPDX-License-Identifier: Apache-2.0
// loom::Tensor: a cheap-to-copy handle to contiguous, 64-byte aligned, row-major storage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "loom/core/check.hpp"
#include "loom/core/dtype.hpp"
#include "loom/core/export.hpp"
#include "loom/core/shape.hpp"

namespace loom LOOM_API {

class Generator;

namespace detail {
/// Owner of one aligned allocation, or of a piece of an arena block (`parent`, see core/arena.hpp)
/// that it keeps alive. Tensors that share it are views of the same data.
struct Storage {
  explicit Storage(std::size_t nbytes);
  /// `nbytes` at `data` inside `parent`: allocates nothing and is not counted by memory_stats().
  Storage(void* data, std::size_t nbytes, std::shared_ptr<const Storage> parent) noexcept;
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data = nullptr;
  std::size_t nbytes = 0;
  std::shared_ptr<const Storage> parent;
};
}  // namespace detail

/// An n-dimensional array with a runtime dtype (f32, f64, i64) and contiguous row-major storage.
///
/// Copies are cheap and share storage (like a `torch::Tensor`); `clone()` makes a deep copy.
/// `slice0`/`index0` (views along the leading axis) and `reshape` share storage too; every other
/// layout change (`transpose`, `to`) copies. A default-constructed Tensor is *undefined*
/// (`defined() == false`) and only good for assignment.
///
/// Example:
///   Tensor x = Tensor::arange(24).reshape({2, 3, 4});
///   Tensor row = x.index0(1);            // shape (3, 4), shares x's storage
///   x.at<float>({1, 2, 3});              // 23
///   std::cout << x.transpose().shape();  // (2, 4, 3)
class Tensor {
 public:
  Tensor() = default;

  // ---- factories ----------------------------------------------------------------------------
  /// Uninitialised storage of the given shape (contents unspecified).
  static Tensor empty(const Shape& shape, DType dtype = DType::f32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
  /// `[0, 1, ..., n-1]` as a 1-D tensor.
  static Tensor arange(std::int64_t n, DType dtype = DType::f32);
  /// `[start, start+step, ...)` up to but excluding `stop`; step must be non-zero.
  static Tensor arange(double start, double stop, double step, DType dtype = DType::f32);
  /// Copies `values` into a tensor of `shape` (numel must match). The dtype follows T.
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  /// Builds a tensor from a braced list: `Tensor::of({1, 2, 3, 4}, {2, 2})`.
  static Tensor of(std::initializer_list<double> values, const Shape& shape, DType dtype = DType::f32);
  /// Uniform in [low, high) from `gen` (the default generator when null).
  static Tensor uniform(const Shape& shape, double low = 0.0, double high = 1.0,
                        DType dtype = DType::f32, Generator* gen = nullptr);
  /// Normal with the given mean and standard deviation from `gen` (default generator when null).
  static Tensor normal(const Shape& shape, double mean = 0.0, double stddev = 1.0,
                       DType dtype = DType::f32, Generator* gen = nullptr);

  // ---- properties ---------------------------------------------------------------------------
  bool defined() const noexcept { return storage_ != nullptr; }
  DType dtype() const noexcept { return dtype_; }
  const Shape& shape() const noexcept { return shape_; }
  /// Extent of axis `i` (negative counts from the end).
  std::int64_t shape(int i) const { return shape_[i]; }
  int dimension() const noexcept { return shape_.rank(); }
  std::int64_t numel() const noexcept { return shape_.numel(); }
  std::size_t nbytes() const noexcept { return static_cast<std::size_t>(numel()) * itemsize(dtype_); }
  /// True when both tensors view the same allocation.
  bool shares_storage(const Tensor& other) const noexcept { return storage_ == other.storage_; }

  // ---- data access --------------------------------------------------------------------------
  /// Typed pointer to the first element; throws TypeError if T does not match the dtype.
  template <class T>
  T* data();
  template <class T>
  const T* data() const;
  void* raw_data() noexcept;
  const void* raw_data() const noexcept;
  /// Element at a full index (negative entries count from the end); throws on a bad index or T.
  template <class T>
  T& at(std::initializer_list<std::int64_t> index);
  template <class T>
  const T& at(std::initializer_list<std::int64_t> index) const;
  /// Element value converted to double, whatever the dtype (convenient in tests).
  double get(std::initializer_list<std::int64_t> index) const;
  /// The only element of a one-element tensor, converted to double.
  double item() const;
  /// All elements, converted to T, in row-major order.
  template <class T>
  std::vector<T> to_vector() const;

  // ---- views and copies ---------------------------------------------------------------------
  /// Deep copy with its own storage.
  Tensor clone() const;
  /// Rows [start, start+length) of the leading axis; shares storage.
  Tensor slice0(std::int64_t start, std::int64_t length) const;
  /// Row i of the leading axis (rank drops by one); shares storage.
  Tensor index0(std::int64_t i) const;
  /// Same data, new shape (one extent may be -1); shares storage. Throws ValueError on a numel mismatch.
  Tensor reshape(const Shape& shape) const;
  Tensor reshape(std::initializer_list<std::int64_t> dims) const;  ///< `x.reshape({-1, 4})`
  /// Swaps the last two axes into new storage (rank >= 2).
  Tensor transpose() const;
  /// Converts to `dtype` (a copy; returns *this unchanged when the dtype already matches).
  Tensor to(DType dtype) const;

  // ---- in-place writes ----------------------------------------------------------------------
  /// Sets every element to `value`.
  Tensor& fill_(double value);
  /// Copies `src` (same shape and dtype) into this tensor's storage.
  Tensor& copy_(const Tensor& src);

  /// Header line plus values, numpy style; large tensors are summarised with `...`.
  std::string to_string() const;

 private:
  Tensor(std::shared_ptr<detail::Storage> storage, std::int64_t offset, Shape shape, DType dtype)
      : storage_(std::move(storage)), offset_(offset), shape_(shape), dtype_(dtype) {}
  std::int64_t flat_index(std::initializer_list<std::int64_t> index) const;
  void check_dtype(DType want, const char* api) const;

  std::shared_ptr<detail::Storage> storage_;
  std::int64_t offset_ = 0;  // in elements
  Shape shape_;
  DType dtype_ = DType::f32;
};

std::ostream& operator<<(std::ostream& out, const Tensor& t);

// ---- template definitions -------------------------------------------------------------------

template <class T>
T* Tensor::data() {
  check_dtype(dtype_of<T>, "Tensor.data");
  return static_cast<T*>(storage_->data) + offset_;
}

template <class T>
const T* Tensor::data() const {
  check_dtype(dtype_of<T>, "Tensor.data");
  return static_cast<const T*>(storage_->data) + offset_;
}

template <class T>
T& Tensor::at(std::initializer_list<std::int64_t> index) {
  return data<T>()[flat_index(index)];
}

template <class T>
const T& Tensor::at(std::initializer_list<std::int64_t> index) const {
  return data<T>()[flat_index(index)];
}

}  // namespace loom
