// SPDX-License-Identifier: Apache-2.0
// GEMM driver: packs panels, splits C into fixed macro-tiles run in parallel, calls the micro-kernel.
#include "loom/core/gemm.hpp"

#include <optional>

#include "../dispatch.hpp"
#include "../parallel.hpp"
#include "../scratch.hpp"
#include "isa.hpp"

namespace loom::core {
namespace {

std::int64_t round_up(std::int64_t x, std::int64_t m) {
  return (x + m - 1) / m * m;
}

template <class T>
std::int64_t packed_b_elems(const isa::GemmBlocking& bk, std::int64_t k, std::int64_t n) {
  return k * round_up(std::max<std::int64_t>(n, 1), bk.nr);
}

// Packs op(B) (k × n) into the ISA's panel layout, in parallel over panels.
template <class T>
void pack_b(const T* b, std::int64_t ldb, bool trans_b, std::int64_t k, std::int64_t n, T* out) {
  const isa::Kernels<T>& kn = isa::get<T>();
  const std::int64_t tasks = ((k + kn.gemm.kc - 1) / kn.gemm.kc) * (round_up(n, kn.gemm.nr) / kn.gemm.nr);
  detail::parallel_chunks(tasks, 16, [&](std::int64_t t0, std::int64_t t1) { kn.pack_b(b, ldb, trans_b, k, n, out, t0, t1); });
}

// Where op(B) comes from: panels packed ahead of the call, or the raw matrix, packed one
// (k-block × column-tile) at a time inside the task that consumes it, while it is hot in cache.
template <class T>
struct BSource {
  const T* packed = nullptr;  // whole op(B) in panel layout, or null
  const T* raw = nullptr;
  std::int64_t ldb = 0;
  bool trans = false;
};

// C (m × n) = alpha·op(A)·op(B) + beta·C.
template <class T>
void gemm_driver(std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda, bool trans_a,
                 const BSource<T>& b, T* c, std::int64_t ldc, T alpha, T beta) {
  const isa::Kernels<T>& kn = isa::get<T>();
  const isa::GemmBlocking& bk = kn.gemm;
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    return;
  }
  isa::GemmCall<T> g;
  g.m = m, g.n = n, g.k = k, g.a = a, g.lda = lda, g.trans_a = trans_a;
  g.packed_b = b.packed, g.raw_b = b.raw, g.ldb = b.ldb, g.trans_b = b.trans;
  // With one row tile, each panel of B serves a single micro-kernel call per k-block: packing it
  // costs as much as using it (a batch-1 product spends most of its time packing). Rows of a
  // row-major B are read in place instead, with the same arithmetic.
  g.direct_b = !b.packed && !b.trans && m <= bk.mr;
  g.c = c, g.ldc = ldc, g.alpha = alpha, g.beta = beta;
  // Packing A pays for products with many rows, whose row panels would otherwise be read with a
  // large stride from memory. A few rows (an RNN step's batch) stay in L1 as they are, and packing
  // them cost a step at batch 16 about as much as its element-wise work. The arithmetic is the same
  // either way.
  std::optional<detail::Scratch> a_scratch;
  if (m > 2 * bk.mr) {
    const std::int64_t tasks = ((k + bk.kc - 1) / bk.kc) * (round_up(m, bk.mr) / bk.mr);
    a_scratch.emplace(static_cast<std::size_t>(round_up(m, bk.mr) * k) * sizeof(T));
    T* ap = a_scratch->as<T>();
    detail::parallel_chunks(tasks, 16, [&](std::int64_t t0, std::int64_t t1) { kn.pack_a(a, lda, trans_a, m, k, ap, t0, t1); });
    g.packed_a = ap;
  }
  const std::int64_t mtiles = (m + bk.mc - 1) / bk.mc;
  // Below 2^17 multiply-adds (a few microseconds) waking other threads would cost more than it saves.
  // Above it, an RNN step at batch 16 (16 x 128 x 512) already runs 1.7x faster on 2 threads.
  const bool serial = m * n * k < (std::int64_t{1} << 17);
  // Column tiles of up to NC, narrower when there would be fewer than two per thread, so that a
  // product with few rows (an RNN step's dz·Uᵀ: 64 × 512 × 2048 is one tile) still spreads over
  // them. Each element of C sums its k-blocks in the same order whatever the tiling, so the bits do
  // not depend on it, and so not on the thread count either.
  const std::int64_t threads = serial ? 1 : detail::current_concurrency();
  const std::int64_t n_split = threads > 1 ? std::max<std::int64_t>(1, (2 * threads + mtiles - 1) / mtiles) : 1;
  g.nc_max = std::clamp<std::int64_t>(round_up((n + n_split - 1) / n_split, bk.nr), bk.nr, bk.nc);
  g.ntiles = (n + g.nc_max - 1) / g.nc_max;
  detail::parallel_chunks(mtiles * g.ntiles, 1, [&](std::int64_t t0, std::int64_t t1) {
    std::optional<detail::Scratch> b_block;
    if (!g.packed_b && (!g.direct_b || g.n % bk.nr != 0))  // read in place, B needs a block only for its last panel
      b_block.emplace(static_cast<std::size_t>(bk.kc * (g.direct_b ? bk.nr : bk.nc)) * sizeof(T));
    kn.gemm_tiles(g, t0, t1, b_block ? b_block->as<T>() : nullptr);
  }, serial);
}

void check_2d(const char* api, const char* arg, const Tensor& t) {
  detail::check_defined(api, arg, t);
  LOOM_CHECK(t.dimension() == 2, ValueError, api, ": ", arg, " must be 2-D; got shape ", t.shape(), ".");
}

}  // namespace

namespace {

thread_local PackedWeightsScope* packed_scope = nullptr;

const PackedB* registered(const Tensor& b, bool trans_b) {
  return packed_scope ? packed_scope->weights()->find(b, trans_b) : nullptr;
}

}  // namespace

PackedWeights::PackedWeights(const std::vector<Tensor>& weights) {
  for (const Tensor& w : weights)
    if (w.defined() && w.dimension() == 2 && is_floating(w.dtype())) entries_.push_back({w, {}, {}});
}

const PackedB* PackedWeights::find(const Tensor& w, bool transposed) const {
  for (const Entry& e : entries_)
    if (e.source.raw_data() == w.raw_data() && e.source.shape() == w.shape() && e.source.dtype() == w.dtype()) {
      PackedB& p = transposed ? e.transposed : e.plain;
      if (!p.defined()) p = PackedB::pack(e.source, transposed);
      return &p;
    }
  return nullptr;
}

const PackedB* find_packed(const Tensor& w, bool transposed) {
  return w.defined() && w.dimension() == 2 ? registered(w, transposed) : nullptr;
}

PackedWeightsScope::PackedWeightsScope(const std::vector<Tensor>& weights)
    : PackedWeightsScope(std::make_shared<const PackedWeights>(weights)) {}

PackedWeightsScope::PackedWeightsScope(std::shared_ptr<const PackedWeights> weights)
    : weights_(std::move(weights)), outer_(packed_scope) {
  packed_scope = this;
}

PackedWeightsScope::~PackedWeightsScope() { packed_scope = outer_; }

std::int64_t gemm_kc(DType dtype) noexcept {
  return dtype == DType::f64 ? isa::get<double>().gemm.kc : isa::get<float>().gemm.kc;
}

void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, double alpha,
          double beta) {
  check_2d("gemm", "b", b);
  const std::int64_t k = trans_b ? b.shape(1) : b.shape(0), n = trans_b ? b.shape(0) : b.shape(1);
  check_2d("gemm", "a", a);
  LOOM_CHECK((trans_a ? a.shape(0) : a.shape(1)) == k, ValueError,
             "gemm: inner dimensions differ: op(a) is ", a.shape(), trans_a ? "ᵀ" : "", " and op(b) is ",
             b.shape(), trans_b ? "ᵀ" : "", ".");
  detail::check_same_dtype("gemm", a, b);
  if (const PackedB* packed = registered(b, trans_b)) return gemm(a, trans_a, *packed, c, alpha, beta);
  // Packing B costs one pass over it; the packed call then does the rest with the same arithmetic.
  detail::dispatch_float(b.dtype(), "gemm", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t m = trans_a ? a.shape(1) : a.shape(0);
    check_2d("gemm", "c", c);
    LOOM_CHECK(c.shape(0) == m && c.shape(1) == n, ValueError, "gemm: c must have shape (", m, ", ", n,
               "); got ", c.shape(), ".");
    detail::check_same_dtype("gemm", a, c);
    const isa::GemmBlocking& bk = isa::get<T>().gemm;
    const std::int64_t m_tiles = (m + bk.mc - 1) / bk.mc;
    BSource<T> src{nullptr, b.data<T>(), b.shape(1), trans_b};
    // One row tile: every B block is used once, so pack it inside its task while it is cache-hot.
    // Several row tiles share each B block: pack all of B once, up front.
    std::optional<detail::Scratch> bp;
    if (m_tiles > 1) {
      bp.emplace(static_cast<std::size_t>(packed_b_elems<T>(bk, k, n)) * sizeof(T));
      pack_b(b.data<T>(), b.shape(1), trans_b, k, n, bp->as<T>());
      src.packed = bp->as<T>();
    }
    gemm_driver<T>(m, n, k, a.data<T>(), a.shape(1), trans_a, src, c.data<T>(), n, static_cast<T>(alpha),
                   static_cast<T>(beta));
  });
}

PackedB PackedB::pack(const Tensor& b, bool trans_b) {
  check_2d("PackedB.pack", "b", b);
  PackedB out;
  out.k_ = trans_b ? b.shape(1) : b.shape(0);
  out.n_ = trans_b ? b.shape(0) : b.shape(1);
  out.dtype_ = b.dtype();
  out.panel_width_ = b.dtype() == DType::f64 ? isa::get<double>().gemm.nr : isa::get<float>().gemm.nr;
  detail::dispatch_float(b.dtype(), "PackedB.pack", [&](auto tag) {
    using T = decltype(tag);
    out.panels_ = std::make_shared<detail::Storage>(
        static_cast<std::size_t>(packed_b_elems<T>(isa::get<T>().gemm, out.k_, out.n_)) * sizeof(T));
    pack_b(b.data<T>(), b.shape(1), trans_b, out.k_, out.n_, static_cast<T*>(out.panels_->data));
  });
  return out;
}

std::size_t PackedB::nbytes() const noexcept { return panels_ ? panels_->nbytes : 0; }
const void* PackedB::panels() const noexcept { return panels_ ? panels_->data : nullptr; }

void gemm(const Tensor& a, bool trans_a, const PackedB& b, Tensor& c, double alpha, double beta) {
  LOOM_CHECK(b.defined(), ValueError, "gemm: the packed b is empty.");
  check_2d("gemm", "a", a);
  check_2d("gemm", "c", c);
  LOOM_CHECK((trans_a ? a.shape(0) : a.shape(1)) == b.k(), ValueError,
             "gemm: inner dimensions differ: op(a) is ", a.shape(), trans_a ? "ᵀ" : "",
             " and the packed b is (", b.k(), ", ", b.n(), ").");
  const std::int64_t m = trans_a ? a.shape(1) : a.shape(0);
  LOOM_CHECK(c.shape(0) == m && c.shape(1) == b.n(), ValueError, "gemm: c must have shape (", m, ", ",
             b.n(), "); got ", c.shape(), ".");
  LOOM_CHECK(a.dtype() == b.dtype() && c.dtype() == b.dtype(), TypeError,
             "gemm: operands must share a dtype; got a ", a.dtype(), ", packed b ", b.dtype(), ", c ",
             c.dtype(), ".");
  detail::dispatch_float(b.dtype(), "gemm", [&](auto tag) {
    using T = decltype(tag);
    LOOM_CHECK(b.panel_width() == isa::get<T>().gemm.nr, StateError, "gemm: b was packed for panels of ",
               b.panel_width(), " columns, but the ", isa::active().name, " kernels use ", isa::get<T>().gemm.nr,
               " (it was packed under another ISA).");
    BSource<T> src{static_cast<const T*>(b.panels())};
    gemm_driver<T>(m, b.n(), b.k(), a.data<T>(), a.shape(1), trans_a, src, c.data<T>(), b.n(),
                   static_cast<T>(alpha), static_cast<T>(beta));
  });
}

namespace {
// Views x (…, K) as rows × K.
Tensor as_rows(const char* api, const char* arg, const Tensor& x) {
  detail::check_defined(api, arg, x);
  LOOM_CHECK(x.dimension() >= 2, ValueError, api, ": ", arg, " must be at least 2-D; got shape ",
             x.shape(), ".");
  return x.reshape({-1, x.shape(-1)});
}

Shape with_last(const Shape& s, std::int64_t last) {
  Shape out = s;
  out[-1] = last;
  return out;
}
}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  const Tensor a2 = as_rows("matmul", "a", a);
  check_2d("matmul", "b", b);
  LOOM_CHECK(a.shape(-1) == b.shape(0), ValueError, "matmul: inner dimensions differ: ", a.shape(),
             " · ", b.shape(), ".");
  detail::check_same_dtype("matmul", a, b);
  Tensor c = Tensor::empty({a2.shape(0), b.shape(1)}, a.dtype());
  gemm(a2, false, b, false, c);
  return c.reshape(with_last(a.shape(), b.shape(1)));
}

Tensor matmul_nt(const Tensor& a, const Tensor& b) {
  const Tensor a2 = as_rows("matmul_nt", "a", a);
  check_2d("matmul_nt", "b", b);
  LOOM_CHECK(a.shape(-1) == b.shape(1), ValueError, "matmul_nt: inner dimensions differ: ", a.shape(),
             " · ", b.shape(), "ᵀ.");
  detail::check_same_dtype("matmul_nt", a, b);
  Tensor c = Tensor::empty({a2.shape(0), b.shape(0)}, a.dtype());
  gemm(a2, false, b, true, c);
  return c.reshape(with_last(a.shape(), b.shape(0)));
}

Tensor matmul_tn(const Tensor& a, const Tensor& b) {
  const Tensor a2 = as_rows("matmul_tn", "a", a), b2 = as_rows("matmul_tn", "b", b);
  LOOM_CHECK(a2.shape(0) == b2.shape(0), ValueError, "matmul_tn: leading extents differ: ", a.shape(),
             "ᵀ · ", b.shape(), ".");
  detail::check_same_dtype("matmul_tn", a, b);
  Tensor c = Tensor::empty({a2.shape(1), b2.shape(1)}, a.dtype());
  gemm(a2, true, b2, false, c);
  return c;
}

}  // namespace loom::core
