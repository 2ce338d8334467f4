// SPDX-License-Identifier: Apache-2.0
// loom::Tensor: storage, factories, views, element access, printing.
#include "loom/core/tensor.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "loom/core/arena.hpp"
#include "loom/core/layout.hpp"
#include "loom/core/memory.hpp"
#include "loom/core/random.hpp"
#include "xt.hpp"

namespace loom {

namespace {

// Tensors are created and dropped at a high rate: thousands of small ones per step on a tape, and
// large per-call buffers in the RNN loop. glibc's aligned_alloc is slow and fragments for the small
// ones, and hands the large ones back to the kernel on free, so every call page-faults them in again.
// Blocks therefore come from per-thread free lists, one per power-of-two size class; rounding a large
// block up costs address space only (pages that are never touched are never committed).
constexpr std::size_t kMinBlock = 64;
constexpr std::size_t kClasses = 31;                  // 64 B … 64 GiB
constexpr std::size_t kMaxCachedBytes = 256u << 20;   // per thread

// How many free blocks of a class a thread keeps. The smallest classes hold the Storage objects
// and their control blocks, one per tensor: a recorded RNN call keeps a few per step alive until its
// backward, so thousands of them come and go together, and a short list sent most back to malloc.
std::size_t class_limit(std::size_t block) {
  return block <= 256 ? 8192 : block <= (64u << 10) ? 256 : block <= (4u << 20) ? 16 : 4;
}

struct BlockCache {
  std::array<std::vector<void*>, kClasses> free;
  std::size_t cached_bytes = 0;
  BlockCache();
  ~BlockCache();
};

thread_local BlockCache* block_cache = nullptr;  // null once this thread's cache is gone

BlockCache::BlockCache() { block_cache = this; }
BlockCache::~BlockCache() {
  block_cache = nullptr;
  for (auto& list : free)
    for (void* p : list) std::free(p);
}

BlockCache* cache() {
  thread_local BlockCache instance;
  return block_cache;
}

std::size_t size_class(std::size_t bytes) {
  std::size_t cls = 0, size = kMinBlock;
  while (size < bytes) {
    size *= 2;
    ++cls;
  }
  return cls;
}

[[noreturn]] void out_of_memory(std::size_t bytes) {
  LOOM_CHECK(false, ResourceError, "Tensor: cannot allocate ", bytes, " bytes (", static_cast<double>(bytes) / (1u << 30),
             " GiB); the system refused.");
  std::abort();
}

void* allocate(std::size_t bytes) {
  const std::size_t cls = size_class(bytes);
  if (cls >= kClasses) out_of_memory(bytes);
  const std::size_t block = kMinBlock << cls;
  if (BlockCache* c = cache(); c && !c->free[cls].empty()) {
    void* p = c->free[cls].back();
    c->free[cls].pop_back();
    c->cached_bytes -= block;
    return p;
  }
  void* p = std::aligned_alloc(64, block);
  if (p == nullptr) out_of_memory(bytes);
  return p;
}

void release(void* p, std::size_t bytes) {
  const std::size_t cls = size_class(bytes);
  const std::size_t block = kMinBlock << cls;
  if (BlockCache* c = block_cache;
      c && c->free[cls].size() < class_limit(block) && c->cached_bytes + block <= kMaxCachedBytes) {
    c->free[cls].push_back(p);
    c->cached_bytes += block;
    return;
  }
  std::free(p);
}

std::atomic<std::size_t> live_bytes{0};
std::atomic<std::size_t> peak_bytes{0};
std::atomic<std::size_t> allocation_count{0};

void count_allocation(std::size_t bytes) noexcept {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  const std::size_t now = live_bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  std::size_t peak = peak_bytes.load(std::memory_order_relaxed);
  while (now > peak && !peak_bytes.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

}  // namespace

MemoryStats memory_stats() noexcept {
  return {live_bytes.load(std::memory_order_relaxed), peak_bytes.load(std::memory_order_relaxed),
          allocation_count.load(std::memory_order_relaxed)};
}

void reset_peak_memory() noexcept { peak_bytes.store(live_bytes.load(std::memory_order_relaxed), std::memory_order_relaxed); }

detail::Storage::Storage(std::size_t bytes) : data(allocate(std::max<std::size_t>(bytes, 1))), nbytes(bytes) {
  count_allocation(bytes);
}

detail::Storage::Storage(void* d, std::size_t bytes, std::shared_ptr<const Storage> p) noexcept
    : data(d), nbytes(bytes), parent(std::move(p)) {}

detail::Storage::~Storage() {
  if (parent) return;  // a piece of an arena block: the block owns the memory
  live_bytes.fetch_sub(nbytes, std::memory_order_relaxed);
  release(data, std::max<std::size_t>(nbytes, 1));
}

void* detail::cached_allocate(std::size_t bytes) { return allocate(std::max<std::size_t>(bytes, 1)); }
void detail::cached_release(void* p, std::size_t bytes) noexcept { release(p, std::max<std::size_t>(bytes, 1)); }

namespace {

template <class Fn>
decltype(auto) visit_dtype(DType d, Fn&& fn) {
  switch (d) {
    case DType::f32: return fn(float{});
    case DType::f64: return fn(double{});
    case DType::i64: break;
  }
  return fn(std::int64_t{});
}

}  // namespace

// The shared_ptr control block of a Storage (one per tensor) comes from the block cache too: glibc's
// malloc for it was a sixth of a small RNN's training step.
std::shared_ptr<detail::Storage> detail::carved_storage(void* data, std::size_t bytes,
                                                        std::shared_ptr<const Storage> block) {
  return std::allocate_shared<Storage>(CachedAllocator<Storage>{}, data, bytes, std::move(block));
}

std::shared_ptr<detail::Storage> detail::plain_storage(std::size_t bytes) {
  return std::allocate_shared<Storage>(CachedAllocator<Storage>{}, bytes);
}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  // Every tensor's storage is sized here: the count is checked again (a Shape's extents can be
  // assigned through operator[]), so that no size wraps around to a small allocation.
  std::int64_t count = 1;
  for (std::int64_t d : shape)
    LOOM_CHECK(!__builtin_mul_overflow(count, d, &count) && count <= Shape::max_elements, ResourceError,
               "Tensor: shape ", shape, " holds more than 2^60 elements; no tensor can be that large.");
  const std::size_t bytes = static_cast<std::size_t>(count) * itemsize(dtype);
  std::shared_ptr<detail::Storage> storage;
  if (core::StorageSource* source = detail::active_storage_source()) storage = source->storage(bytes);
  if (!storage) storage = detail::plain_storage(bytes);
  return Tensor(std::move(storage), 0, shape, dtype);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.raw_data(), 0, t.nbytes());
  return t;
}

Tensor Tensor::ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill_(value);
  return t;
}

Tensor Tensor::arange(std::int64_t n, DType dtype) {
  LOOM_CHECK(n >= 0, ValueError, "Tensor.arange: n must be non-negative; got ", n, ".");
  return arange(0.0, static_cast<double>(n), 1.0, dtype);
}

Tensor Tensor::arange(double start, double stop, double step, DType dtype) {
  LOOM_CHECK(step != 0.0 && std::isfinite(step), ValueError,
             "Tensor.arange: step must be finite and non-zero; got ", step, ".");
  const double span = std::ceil((stop - start) / step);
  const auto n = static_cast<std::int64_t>(std::max(0.0, span));
  Tensor t = empty({n}, dtype);
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    xt_view<T>(t) = xt::cast<T>(start + step * xt::arange<double>(static_cast<double>(n)));
  });
  return t;
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  LOOM_CHECK(static_cast<std::int64_t>(values.size()) == shape.numel(), ValueError,
             "Tensor.from_vector: values has ", values.size(), " elements but shape ", shape,
             " needs ", shape.numel(), ".");
  Tensor t = empty(shape, dtype_of<T>);
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}
template Tensor Tensor::from_vector<float>(const std::vector<float>&, const Shape&);
template Tensor Tensor::from_vector<double>(const std::vector<double>&, const Shape&);
template Tensor Tensor::from_vector<std::int64_t>(const std::vector<std::int64_t>&, const Shape&);

Tensor Tensor::of(std::initializer_list<double> values, const Shape& shape, DType dtype) {
  LOOM_CHECK(static_cast<std::int64_t>(values.size()) == shape.numel(), ValueError,
             "Tensor.of: values has ", values.size(), " elements but shape ", shape, " needs ",
             shape.numel(), ".");
  Tensor t = empty(shape, dtype);
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    std::transform(values.begin(), values.end(), t.data<T>(),
                   [](double v) { return static_cast<T>(v); });
  });
  return t;
}

Tensor Tensor::uniform(const Shape& shape, double low, double high, DType dtype, Generator* gen) {
  Tensor t = empty(shape, dtype);
  uniform_(t, low, high, gen ? *gen : default_generator());
  return t;
}

Tensor Tensor::normal(const Shape& shape, double mean, double stddev, DType dtype, Generator* gen) {
  Tensor t = empty(shape, dtype);
  normal_(t, mean, stddev, gen ? *gen : default_generator());
  return t;
}

void* Tensor::raw_data() noexcept {
  return static_cast<char*>(storage_->data) + offset_ * static_cast<std::int64_t>(itemsize(dtype_));
}

const void* Tensor::raw_data() const noexcept {
  return static_cast<const char*>(storage_->data) +
         offset_ * static_cast<std::int64_t>(itemsize(dtype_));
}

void Tensor::check_dtype(DType want, const char* api) const {
  LOOM_CHECK(defined(), ValueError, api, ": the tensor is undefined.");
  LOOM_CHECK(dtype_ == want, TypeError, api, ": requested element type ", want,
             " but the tensor holds ", dtype_, ".");
}

std::int64_t Tensor::flat_index(std::initializer_list<std::int64_t> index) const {
  LOOM_CHECK(static_cast<int>(index.size()) == dimension(), ValueError,
             "Tensor.at: index must have ", dimension(), " entries for shape ", shape_, "; got ",
             index.size(), ".");
  std::int64_t flat = 0;
  int axis = 0;
  for (std::int64_t i : index) {
    const std::int64_t extent = shape_[axis];
    LOOM_CHECK(i >= -extent && i < extent, ValueError, "Tensor.at: index ", i, " is out of range for axis ",
               axis, " of shape ", shape_, ".");
    flat = flat * extent + (i < 0 ? i + extent : i);
    ++axis;
  }
  return flat;
}

double Tensor::get(std::initializer_list<std::int64_t> index) const {
  const std::int64_t i = flat_index(index);
  return visit_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    return static_cast<double>(data<T>()[i]);
  });
}

double Tensor::item() const {
  LOOM_CHECK(defined() && numel() == 1, ValueError,
             "Tensor.item: needs a tensor with exactly one element; got shape ", shape_, ".");
  return visit_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    return static_cast<double>(data<T>()[0]);
  });
}

template <class U>
std::vector<U> Tensor::to_vector() const {
  LOOM_CHECK(defined(), ValueError, "Tensor.to_vector: the tensor is undefined.");
  std::vector<U> out(static_cast<std::size_t>(numel()));
  visit_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    const T* p = data<T>();
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<U>(p[i]);
  });
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;

Tensor Tensor::clone() const {
  LOOM_CHECK(defined(), ValueError, "Tensor.clone: the tensor is undefined.");
  Tensor t = empty(shape_, dtype_);
  std::memcpy(t.raw_data(), raw_data(), nbytes());
  return t;
}

Tensor Tensor::slice0(std::int64_t start, std::int64_t length) const {
  LOOM_CHECK(dimension() >= 1, ValueError, "Tensor.slice0: needs rank >= 1; got shape ", shape_, ".");
  LOOM_CHECK(start >= 0 && length >= 0 && start + length <= shape_[0], ValueError,
             "Tensor.slice0: rows [", start, ", ", start + length, ") are out of range for shape ",
             shape_, ".");
  Shape s = shape_;
  s[0] = length;
  return Tensor(storage_, offset_ + start * shape_.numel(1, dimension()), s, dtype_);
}

Tensor Tensor::index0(std::int64_t i) const {
  LOOM_CHECK(dimension() >= 1, ValueError, "Tensor.index0: needs rank >= 1; got shape ", shape_, ".");
  LOOM_CHECK(i >= 0 && i < shape_[0], ValueError, "Tensor.index0: index ", i,
             " is out of range for shape ", shape_, ".");
  Shape s;
  for (int a = 1; a < dimension(); ++a) s.push_back(shape_[a]);
  return Tensor(storage_, offset_ + i * s.numel(), s, dtype_);
}

Tensor Tensor::reshape(const Shape& shape) const {
  LOOM_CHECK(defined(), ValueError, "Tensor.reshape: the tensor is undefined.");
  LOOM_CHECK(shape.numel() == numel(), ValueError, "Tensor.reshape: cannot reshape ", shape_, " (",
             numel(), " elements) into ", shape, ".");
  return Tensor(storage_, offset_, shape, dtype_);
}

Tensor Tensor::reshape(std::initializer_list<std::int64_t> dims) const {
  LOOM_CHECK(defined(), ValueError, "Tensor.reshape: the tensor is undefined.");
  int inferred = -1;
  std::int64_t known = 1;
  int axis = 0;
  for (std::int64_t d : dims) {
    LOOM_CHECK(d >= -1, ValueError, "Tensor.reshape: extents must be >= 0 or -1; got ", d, ".");
    if (d == -1) {
      LOOM_CHECK(inferred < 0, ValueError, "Tensor.reshape: at most one extent may be -1.");
      inferred = axis;
    } else {
      known *= d;
    }
    ++axis;
  }
  if (inferred >= 0)
    LOOM_CHECK(known > 0 && numel() % known == 0, ValueError, "Tensor.reshape: cannot reshape ",
               shape_, " (", numel(), " elements) into a shape with known extents product ", known,
               ".");
  Shape out;  // built in place: matmul reshapes its operands at every RNN step
  for (std::int64_t d : dims) out.push_back(d == -1 ? numel() / known : d);
  return reshape(out);
}

Tensor Tensor::transpose() const {
  LOOM_CHECK(dimension() >= 2, ValueError, "Tensor.transpose: needs rank >= 2; got shape ", shape_,
             ".");
  const int r = dimension();
  const std::int64_t rows = shape_[r - 2], cols = shape_[r - 1];
  const std::int64_t batch = shape_.numel(0, r - 2);
  Shape s = shape_;
  s[r - 2] = cols;
  s[r - 1] = rows;
  Tensor out = empty(s, dtype_);
  visit_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    constexpr std::int64_t tile = 32;
    const T* src = data<T>();
    T* dst = out.data<T>();
    for (std::int64_t b = 0; b < batch; ++b) {
      const T* sb = src + b * rows * cols;
      T* db = dst + b * rows * cols;
      for (std::int64_t i0 = 0; i0 < rows; i0 += tile)
        for (std::int64_t j0 = 0; j0 < cols; j0 += tile)
          for (std::int64_t i = i0; i < std::min(rows, i0 + tile); ++i)
            for (std::int64_t j = j0; j < std::min(cols, j0 + tile); ++j)
              db[j * rows + i] = sb[i * cols + j];
    }
  });
  return out;
}

Tensor Tensor::to(DType dtype) const {
  LOOM_CHECK(defined(), ValueError, "Tensor.to: the tensor is undefined.");
  if (dtype == dtype_) return *this;
  Tensor out = empty(shape_, dtype);
  visit_dtype(dtype_, [&](auto from) {
    using S = decltype(from);
    visit_dtype(dtype, [&](auto to_tag) {
      using D = decltype(to_tag);
      xt_view<D>(out) = xt::cast<D>(xt_view<S>(*this));
    });
  });
  return out;
}

Tensor& Tensor::fill_(double value) {
  LOOM_CHECK(defined(), ValueError, "Tensor.fill_: the tensor is undefined.");
  visit_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    std::fill_n(data<T>(), numel(), static_cast<T>(value));
  });
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  LOOM_CHECK(defined() && src.defined(), ValueError, "Tensor.copy_: both tensors must be defined.");
  LOOM_CHECK(src.shape() == shape_, ValueError, "Tensor.copy_: src must have shape ", shape_, "; got ",
             src.shape(), ".");
  LOOM_CHECK(src.dtype() == dtype_, TypeError, "Tensor.copy_: src must have dtype ", dtype_, "; got ",
             src.dtype(), ".");
  if (raw_data() != src.raw_data()) std::memmove(raw_data(), src.raw_data(), nbytes());
  return *this;
}

namespace {

template <class T>
void print_values(std::ostream& out, const T* p, const Shape& shape, int axis, std::int64_t stride,
                  int indent, bool summarise) {
  const std::int64_t n = shape[axis];
  const std::int64_t edge = 3;
  out << '[';
  for (std::int64_t i = 0; i < n; ++i) {
    if (summarise && n > 2 * edge && i == edge) {
      out << (axis + 1 == shape.rank() ? "..., " : "...,\n" + std::string(indent + 1, ' '));
      i = n - edge - 1;
      continue;
    }
    if (axis + 1 == shape.rank()) {
      out << p[i];
    } else {
      const std::int64_t inner = stride / n;
      print_values(out, p + i * inner, shape, axis + 1, inner, indent + 1, summarise);
    }
    if (i + 1 < n) out << (axis + 1 == shape.rank() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  out << ']';
}

}  // namespace

std::string Tensor::to_string() const {
  std::ostringstream out;
  if (!defined()) return "Tensor(undefined)";
  out << "Tensor(shape=" << shape_ << ", dtype=" << dtype_ << ")\n";
  out << std::setprecision(dtype_ == DType::f64 ? 10 : 6);
  visit_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    if (dimension() == 0)
      out << data<T>()[0];
    else
      print_values(out, data<T>(), shape_, 0, numel(), 0, numel() > 1000);
  });
  return out.str();
}

std::ostream& operator<<(std::ostream& out, const Tensor& t) { return out << t.to_string(); }

}  // namespace loom
