// SPDX-License-Identifier: Apache-2.0
// Matrix products: a packed, register-blocked GEMM and the matmul forms built on it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "loom/core/export.hpp"
#include "loom/core/tensor.hpp"

namespace loom LOOM_API {
namespace core {

/// `C = alpha·op(A)·op(B) + beta·C` for 2-D f32 or f64 tensors of one dtype, where op(X) is X or
/// Xᵀ. `A` is (M, K) — (K, M) when `trans_a` — `B` is (K, N) — (N, K) when `trans_b` — and `C`
/// is (M, N). With `beta == 0`, C's old contents are never read (NaNs in it do not propagate).
/// Deterministic: each element of C is one fused multiply-add chain over k in increasing order per
/// block of `gemm_kc` values, and the blocks are combined in order, whatever the thread count.
/// Throws ValueError on a shape mismatch and TypeError on a dtype mismatch; C is then untouched.
void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c,
          double alpha = 1.0, double beta = 0.0);

/// B packed once into the GEMM's panel layout, for reuse across many products with the same
/// right-hand side (an RNN packs its recurrent kernel once per sequence and uses it every step).
/// A snapshot: later changes to the source tensor are not seen. Cheap to copy (shared panels).
///
/// Example:
///   PackedB u = PackedB::pack(recurrent_kernel);      // (units, 4·units)
///   for (...) core::gemm(h, false, u, z, 1.0, 1.0);   // z += h · U, identical bits to gemm(h, U)
class PackedB {
 public:
  PackedB() = default;
  /// Packs op(B): B is (K, N), or (N, K) when `trans_b`. Throws for a non-2-D or integer B.
  static PackedB pack(const Tensor& b, bool trans_b = false);
  bool defined() const noexcept { return panels_ != nullptr; }
  std::int64_t k() const noexcept { return k_; }  ///< rows of op(B)
  std::int64_t n() const noexcept { return n_; }  ///< columns of op(B)
  DType dtype() const noexcept { return dtype_; }
  /// Bytes held by the packed panels.
  std::size_t nbytes() const noexcept;
  /// Pointer to the panels (internal layout; used by the kernels).
  const void* panels() const noexcept;
  /// Columns per panel: the layout of the kernels (the ISA) that packed it.
  int panel_width() const noexcept { return panel_width_; }

 private:
  std::shared_ptr<detail::Storage> panels_;
  std::int64_t k_ = 0;
  std::int64_t n_ = 0;
  DType dtype_ = DType::f32;
  int panel_width_ = 0;
};

/// `C = alpha·op(A)·B + beta·C` with a pre-packed B; gives the same bits as the unpacked call.
void gemm(const Tensor& a, bool trans_a, const PackedB& b, Tensor& c, double alpha = 1.0,
          double beta = 0.0);

/// Weights to be multiplied by many times: each one's panels, plain and transposed, are packed the
/// first time a product asks for them, then shared. Not thread-safe; the scope that uses it is
/// per thread.
class PackedWeights {
 public:
  explicit PackedWeights(const std::vector<Tensor>& weights);
  /// The panels of op(w) (w, or wᵀ with `transposed`) when w is one of the weights — same storage,
  /// shape and dtype — packing them now if no product needed them yet; else nullptr.
  const PackedB* find(const Tensor& w, bool transposed) const;

 private:
  struct Entry {
    Tensor source;
    mutable PackedB plain, transposed;
  };
  std::vector<Entry> entries_;
};

/// While alive, every product on this thread whose right operand is one of `weights` — same
/// storage, shape and dtype, plain or transposed — uses panels packed once (on first use) instead
/// of packing them again. The bits are those of the plain call (PackedB's guarantee). An RNN loop
/// opens one around its steps: its weights cannot change while it runs, and its backward re-opens
/// the same panels. Modifying a registered tensor while they are in use is not allowed. Scopes
/// nest (inner ones win).
class PackedWeightsScope {
 public:
  explicit PackedWeightsScope(const std::vector<Tensor>& weights);
  /// Re-opens panels an earlier scope registered (nothing is packed again).
  explicit PackedWeightsScope(std::shared_ptr<const PackedWeights> weights);
  ~PackedWeightsScope();
  PackedWeightsScope(const PackedWeightsScope&) = delete;
  PackedWeightsScope& operator=(const PackedWeightsScope&) = delete;
  const std::shared_ptr<const PackedWeights>& weights() const noexcept { return weights_; }

 private:
  std::shared_ptr<const PackedWeights> weights_;
  PackedWeightsScope* outer_;
};

/// The panels a live PackedWeightsScope on this thread holds for `w` (op(w) = w, or wᵀ when
/// `transposed`), or nullptr. An op can keep them (they are shared) to reuse in its backward pass.
const PackedB* find_packed(const Tensor& w, bool transposed);

/// `a · b` for a (…, K) (any rank ≥ 2: leading axes are flattened into rows) and b (K, N);
/// returns (…, N). This covers the batched `(B, T, K) · (K, N)` of input projections.
Tensor matmul(const Tensor& a, const Tensor& b);
/// `a · bᵀ` for a (…, K) and b (N, K); returns (…, N).
Tensor matmul_nt(const Tensor& a, const Tensor& b);
/// `aᵀ · b` with the leading axes of both flattened into rows: a (…, K), b (…, N) with the same
/// leading extents; returns (K, N). This is the weight gradient `xᵀ · dz` summed over the batch.
Tensor matmul_tn(const Tensor& a, const Tensor& b);

/// Depth of one k-block of the GEMM (the unit of its fixed summation order), per dtype.
std::int64_t gemm_kc(DType dtype) noexcept;

}  // namespace core
}  // namespace loom
