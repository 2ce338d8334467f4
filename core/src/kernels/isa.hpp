// SPDX-License-Identifier: Apache-2.0
// Private: the kernels built once per instruction set, and the table the rest of core calls them
// through.
//
// The sources in kernels/isa/ are compiled once per ISA (CMake's loom_isa_kernels), each time in
// its own namespace `loom::core::isa_<name>` (LOOM_ISA_NS) with that ISA's -m flags, and each
// defines its part of the ISA's `Kernels` table. The table of the CPU (or of LOOM_ISA) is chosen
// once, at the first call. Everything here takes raw pointers: the per-ISA sources use no loom header
// with inline code of its own, so that a function compiled for AVX-512 never becomes the definition
// that baseline code calls (scripts/check_isa_leaks.sh checks the built binaries for that).
//
// Bitwise identity across the AVX2 and AVX-512 tables: element-wise kernels apply one per-lane
// formula; reductions combine kLanes<T> virtual lanes in a fixed tree whatever the register width; the
// GEMM keeps one fused multiply-add chain per element in k order with an ISA-independent KC.
// Contraction of a·b + c is off in these sources: an FMA happens exactly where xsimd::fma is written.
// The baseline table has no FMA and may differ in the last bits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace loom::core {
struct FusedProgram;
}

namespace loom::core::isa {

/// Virtual lanes of a reduction over T: the partial sums a row is split into, combined in a fixed
/// tree. 64 floats or 32 doubles keep four (AVX-512) or eight (AVX2) accumulator registers busy.
template <class T>
inline constexpr int kLanes = sizeof(T) == 4 ? 64 : 32;

enum class Unary : int { neg, exp, log, tanh, sigmoid, hard_sigmoid, relu, count };
enum class Binary : int { add, sub, mul, div, axpy, tanh_grad, sigmoid_grad, relu_grad, hard_sigmoid_grad, count };

/// GEMM blocking of one ISA: a micro-tile is mr × nr; kc (the k-block) is the same for every ISA,
/// since it decides where the partial sums of an element are rounded.
struct GemmBlocking {
  int mr = 0, nr = 0;
  std::int64_t kc = 0, nc = 0, mc = 0;
};

/// One GEMM, C (m × n) = alpha·op(A)·op(B) + beta·C, split into mtiles × ntiles macro-tiles.
template <class T>
struct GemmCall {
  std::int64_t m = 0, n = 0, k = 0;
  const T* a = nullptr;
  std::int64_t lda = 0;
  bool trans_a = false;
  const T* packed_a = nullptr;  ///< A in row panels, or null (raw rows of A)
  const T* packed_b = nullptr;  ///< op(B) in column panels, or null (packed per tile from raw_b)
  const T* raw_b = nullptr;
  std::int64_t ldb = 0;
  bool trans_b = false;
  /// Full panels of raw_b (not transposed) are read in place, only a last partial one is packed: for
  /// products with a single row tile, where packing B would cost as much as the product.
  bool direct_b = false;
  T* c = nullptr;
  std::int64_t ldc = 0;
  T alpha = 1, beta = 0;
  std::int64_t nc_max = 0, ntiles = 0;  ///< column tile width and count
};

/// How a fused program's input is laid out (see core::FusedInput), without its tensor.
struct FusedArg {
  std::int64_t row_stride = 0;
  bool scalar = false;
};

/// One fused pass over rows × cols. Forward writes register written[i] to dst[i]; backward reloads
/// `kept` registers from forward results, reads output gradients `dout` (null = zero) and adds into
/// `din` (null = not wanted).
template <class T>
struct FusedCall {
  const FusedProgram* program = nullptr;
  const FusedArg* args = nullptr;
  const T* const* data = nullptr;
  std::int64_t cols = 0;
  T* const* dst = nullptr;
  const std::size_t* written = nullptr;
  std::size_t n_written = 0;
  const std::pair<std::size_t, const T*>* kept = nullptr;
  std::size_t n_kept = 0;
  const T* const* dout = nullptr;
  T* const* din = nullptr;
};

template <class T>
struct Kernels {
  /// y[i] = f(x[i]) over a span.
  void (*unary[static_cast<int>(Unary::count)])(const T* x, T* y, std::int64_t n);
  /// y[i] = f(a[i·sa], b[i·sb]) over a span; sa, sb ∈ {0 (broadcast one value), 1}.
  void (*binary[static_cast<int>(Binary::count)])(const T* a, int sa, const T* b, int sb, T* y, std::int64_t n,
                                                 double param);
  T (*row_sum)(const T* x, std::int64_t n);
  T (*row_dot)(const T* a, const T* b, std::int64_t n);
  /// acc[j] = acc[j] + row[j] and acc[j] = max(acc[j], row[j]) over a span (reductions over an outer axis).
  void (*add_row)(T* acc, const T* row, std::int64_t n);
  void (*max_row)(T* acc, const T* row, std::int64_t n);
  /// out[o] = Σ / max of row o, for `rows` contiguous rows of `len`.
  void (*sum_rows)(const T* x, std::int64_t rows, std::int64_t len, T* out);
  void (*max_rows)(const T* x, std::int64_t rows, std::int64_t len, T* out);
  /// softmax / log_softmax of `rows` contiguous rows of n, into y.
  void (*softmax_rows)(const T* x, std::int64_t rows, std::int64_t n, T* y);
  void (*log_softmax_rows)(const T* x, std::int64_t rows, std::int64_t n, T* y);

  GemmBlocking gemm;
  /// Packs tasks [t0, t1) of op(B) (k × n) into panels; task t = (k-block t / panels, panel t % panels).
  void (*pack_b)(const T* b, std::int64_t ldb, bool trans_b, std::int64_t k, std::int64_t n, T* out,
                 std::int64_t t0, std::int64_t t1);
  /// The same for row panels of op(A) (m × k).
  void (*pack_a)(const T* a, std::int64_t lda, bool trans_a, std::int64_t m, std::int64_t k, T* out,
                 std::int64_t t0, std::int64_t t1);
  /// Macro-tiles [t0, t1) of a GEMM; without packed_b, `b_block` (kc × nc elements, 64-byte
  /// aligned) takes each tile's panels of B.
  void (*gemm_tiles)(const GemmCall<T>& call, std::int64_t t0, std::int64_t t1, T* b_block);

  /// Rows [r0, r1) of a fused program's forward pass.
  void (*fused_forward)(const FusedCall<T>& call, std::int64_t r0, std::int64_t r1);
  /// Rows [r0, r1) of its reverse pass; `sums[i]` takes the row sums of a repeated input i.
  void (*fused_backward)(const FusedCall<T>& call, std::int64_t r0, std::int64_t r1, T* const* sums);
};

/// One ISA's tables, assembled from the parts each per-ISA source defines.
struct KernelSet {
  const char* name;
  const Kernels<float>* f32;
  const Kernels<double>* f64;
};

/// The table in use (the CPU's best, or LOOM_ISA's choice).
const KernelSet& active() noexcept;

template <class T>
const Kernels<T>& get() noexcept {
  if constexpr (sizeof(T) == 4)
    return *active().f32;
  else
    return *active().f64;
}

}  // namespace loom::core::isa
