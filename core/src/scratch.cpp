// SPDX-License-Identifier: Apache-2.0
// The pool behind detail::Scratch: kernels called once per time step reuse buffers, not malloc.
#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include "scratch.hpp"

namespace loom::detail {
namespace {

struct Buffer {
  void* data;
  std::size_t capacity;
};

struct Pool {
  std::mutex mutex;
  std::vector<Buffer> free;
  ~Pool() {
    for (Buffer& b : free) std::free(b.data);
  }
};

Pool& pool() {
  static Pool p;
  return p;
}

constexpr std::size_t kMaxPooled = 16;

}  // namespace

Scratch::Scratch(std::size_t bytes) {
  bytes = std::max<std::size_t>(64, (bytes + 63) / 64 * 64);
  {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    // Best fit among the pooled buffers that are large enough.
    std::size_t best = p.free.size();
    for (std::size_t i = 0; i < p.free.size(); ++i)
      if (p.free[i].capacity >= bytes && (best == p.free.size() || p.free[i].capacity < p.free[best].capacity))
        best = i;
    if (best != p.free.size()) {
      data_ = p.free[best].data;
      capacity_ = p.free[best].capacity;
      p.free.erase(p.free.begin() + static_cast<std::ptrdiff_t>(best));
      return;
    }
  }
  data_ = std::aligned_alloc(64, bytes);
  if (data_ == nullptr) throw std::bad_alloc();
  capacity_ = bytes;
}

Scratch::~Scratch() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  if (p.free.size() < kMaxPooled) {
    p.free.push_back({data_, capacity_});
    return;
  }
  // Pool full: drop the smallest buffer, keep the larger ones for the next big product.
  auto smallest = std::min_element(p.free.begin(), p.free.end(),
                                   [](const Buffer& a, const Buffer& b) { return a.capacity < b.capacity; });
  if (smallest->capacity < capacity_) {
    std::free(smallest->data);
    *smallest = {data_, capacity_};
  } else {
    std::free(data_);
  }
}

}  // namespace loom::detail
