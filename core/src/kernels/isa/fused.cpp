// SPDX-License-Identifier: Apache-2.0
// Per-ISA fused element-wise programs: an interpreter over vector tiles. Each tile (one row, Kv
// vectors) runs the whole program in registers; a partial tile at a row's end runs the same code on a
// zero-padded copy, so an element's value never depends on its position, the tile width, the
// chunking or the thread count, and each lane runs the formulas of the element-wise kernels.
#include <vector>

#include "common.hpp"
#include "loom/core/fused.hpp"

namespace loom::core::LOOM_ISA_NS {
namespace {

/// Registers for one task: on the stack for programs of up to kInline instructions.
template <class B>
class Registers {
 public:
  static constexpr std::size_t kInline = 40;
  explicit Registers(std::size_t n) {
    if (n > kInline) heap_.resize(n);
    data_ = n > kInline ? heap_.data() : inline_;
  }
  B* data() noexcept { return data_; }
  B& operator[](std::size_t i) noexcept { return data_[i]; }

 private:
  B inline_[kInline];
  std::vector<B> heap_;
  B* data_;
};

/// Kv vectors of one row: the unit every instruction runs on, so that the interpreter's dispatch is
/// paid once per Kv vectors and the vectors' independent chains (exp, tanh) overlap in the core.
/// Kv is chosen per call from the row length (see with_tile), so short rows do not compute padding.
template <class B, int Kv>
struct Tile {
  B v[Kv];
};

template <class T, int KvTile>
struct Machine {
  using B = batch<T>;
  static constexpr int W = width<T>;
  static constexpr int Kv = KvTile;
  static constexpr int kCols = W * Kv;  // columns per tile
  using V = Tile<B, Kv>;

  const FusedProgram& p;
  const isa::FusedArg* in;
  const T* const* data;

  explicit Machine(const isa::FusedCall<T>& call) : p(*call.program), in(call.args), data(call.data) {}

  // n valid columns from `at` (n ≤ kCols); the rest of the tile is zero.
  static V load_row(const T* at, int n) {
    V t;
    if (n == kCols) {  // a full tile: no per-vector checks
      for (int k = 0; k < Kv; ++k) t.v[k] = B::load_unaligned(at + k * W);
      return t;
    }
    for (int k = 0; k < Kv; ++k) {
      const int count = n - k * W;
      if (count >= W) {
        t.v[k] = B::load_unaligned(at + k * W);
      } else if (count > 0) {
        alignas(64) T buf[W] = {};
        std::copy(at + k * W, at + k * W + count, buf);
        t.v[k] = B::load_aligned(buf);
      } else {
        t.v[k] = B(T(0));
      }
    }
    return t;
  }
  static void store_row(const V& t, T* at, int n) {
    if (n == kCols) {
      for (int k = 0; k < Kv; ++k) t.v[k].store_unaligned(at + k * W);
      return;
    }
    for (int k = 0; k < Kv; ++k) {
      const int count = n - k * W;
      if (count >= W) {
        t.v[k].store_unaligned(at + k * W);
      } else if (count > 0) {
        alignas(64) T buf[W];
        t.v[k].store_aligned(buf);
        std::copy(buf, buf + count, at + k * W);
      }
    }
  }

  V load(const FusedInstr& ins, std::int64_t r, std::int64_t c, int n) const {
    const isa::FusedArg& x = in[ins.input];
    const T* base = data[ins.input];
    if (x.scalar) {
      V t;
      for (int k = 0; k < Kv; ++k) t.v[k] = B(base[0]);
      return t;
    }
    return load_row(base + r * x.row_stride + ins.offset + c, n);
  }

  template <class F>
  static void map(V& out, const V& a, F f) {
    for (int k = 0; k < Kv; ++k) out.v[k] = f(a.v[k]);
  }
  template <class F>
  static void map(V& out, const V& a, const V& b, F f) {
    for (int k = 0; k < Kv; ++k) out.v[k] = f(a.v[k], b.v[k]);
  }
  // acc += f(a, b, c) lane-wise.
  template <class F>
  static void add_to(V& acc, const V& a, const V& b, const V& c, F f) {
    for (int k = 0; k < Kv; ++k) acc.v[k] += f(a.v[k], b.v[k], c.v[k]);
  }

  // reg[i] for every instruction, at tile (r, c..c+n).
  void forward(V* reg, std::int64_t r, std::int64_t c, int n) const {
    const B one(T(1)), zero(T(0));
    for (std::size_t i = 0; i < p.code.size(); ++i) {
      const FusedInstr& ins = p.code[i];
      const V& a = reg[ins.a < 0 ? 0 : ins.a];
      const V& b = reg[ins.b < 0 ? 0 : ins.b];
      V& y = reg[i];
      const B s(static_cast<T>(ins.scalar));
      switch (ins.op) {
        case EwOp::input: y = load(ins, r, c, n); break;
        case EwOp::add: map(y, a, b, [](B u, B w) { return u + w; }); break;
        case EwOp::sub: map(y, a, b, [](B u, B w) { return u - w; }); break;
        case EwOp::mul: map(y, a, b, [](B u, B w) { return u * w; }); break;
        case EwOp::div: map(y, a, b, [](B u, B w) { return u / w; }); break;
        case EwOp::neg: map(y, a, [](B u) { return -u; }); break;
        case EwOp::add_scalar: map(y, a, [s](B u) { return u + s; }); break;
        case EwOp::mul_scalar: map(y, a, [s](B u) { return u * s; }); break;
        case EwOp::rsub_scalar: map(y, a, [s](B u) { return s - u; }); break;
        case EwOp::rdiv_scalar: map(y, a, [s](B u) { return s / u; }); break;
        case EwOp::tanh: map(y, a, [](B u) { return xsimd::tanh(u); }); break;
        case EwOp::sigmoid: map(y, a, [one](B u) { return one / (one + xsimd::exp(-u)); }); break;
        case EwOp::hard_sigmoid:
          map(y, a, [one, zero](B u) { return xsimd::min(xsimd::max(u * B(T(0.2)) + B(T(0.5)), zero), one); });
          break;
        case EwOp::relu: map(y, a, [zero](B u) { return xsimd::select(u > zero, u, zero); }); break;
        case EwOp::exp: map(y, a, [](B u) { return xsimd::exp(u); }); break;
        case EwOp::log: map(y, a, [](B u) { return xsimd::log(u); }); break;
      }
    }
  }

  // Adjoints: adj[i] holds d(loss)/d(reg[i]) once every later instruction has run; input
  // instructions add theirs into d_in (or, for inputs repeated over rows, into `row_sums`).
  void backward(const V* reg, V* adj, std::int64_t r, std::int64_t c, int n, T* const* d_in,
                T* const* row_sums) const {
    const B one(T(1)), zero(T(0));
    for (std::size_t i = p.code.size(); i-- > 0;) {
      const FusedInstr& ins = p.code[i];
      const V& g = adj[i];
      const V& y = reg[i];
      const std::size_t ia = ins.a < 0 ? 0 : static_cast<std::size_t>(ins.a), ib = ins.b < 0 ? 0 : static_cast<std::size_t>(ins.b);
      V& da = adj[ia];
      V& db = adj[ib];
      const V& a = reg[ia];
      const V& b = reg[ib];
      const B s(static_cast<T>(ins.scalar));
      switch (ins.op) {
        case EwOp::input: accumulate(ins, g, r, c, n, d_in, row_sums); break;
        case EwOp::add: add_to(da, g, g, g, [](B u, B, B) { return u; }); add_to(db, g, g, g, [](B u, B, B) { return u; }); break;
        case EwOp::sub: add_to(da, g, g, g, [](B u, B, B) { return u; }); add_to(db, g, g, g, [](B u, B, B) { return -u; }); break;
        case EwOp::mul:
          add_to(da, g, b, b, [](B u, B w, B) { return u * w; });
          add_to(db, g, a, a, [](B u, B w, B) { return u * w; });
          break;
        case EwOp::div:  // da += g / b;  db −= (g / b) · y
          add_to(db, g, b, y, [](B u, B w, B z) { return -(u / w) * z; });
          add_to(da, g, b, b, [](B u, B w, B) { return u / w; });
          break;
        case EwOp::neg: add_to(da, g, g, g, [](B u, B, B) { return -u; }); break;
        case EwOp::add_scalar: add_to(da, g, g, g, [](B u, B, B) { return u; }); break;
        case EwOp::mul_scalar: add_to(da, g, g, g, [s](B u, B, B) { return u * s; }); break;
        case EwOp::rsub_scalar: add_to(da, g, g, g, [](B u, B, B) { return -u; }); break;
        case EwOp::rdiv_scalar: add_to(da, g, y, a, [](B u, B z, B x) { return -(u * (z / x)); }); break;
        case EwOp::tanh: add_to(da, g, y, y, [one](B u, B z, B) { return u * (one - z * z); }); break;
        case EwOp::sigmoid: add_to(da, g, y, y, [one](B u, B z, B) { return u * z * (one - z); }); break;
        case EwOp::hard_sigmoid:
          add_to(da, g, a, a, [zero](B u, B x, B) {
            return xsimd::select((x > B(T(-2.5))) && (x < B(T(2.5))), u * B(T(0.2)), zero);
          });
          break;
        case EwOp::relu: add_to(da, g, y, y, [zero](B u, B z, B) { return xsimd::select(z > zero, u, zero); }); break;
        case EwOp::exp: add_to(da, g, y, y, [](B u, B z, B) { return u * z; }); break;
        case EwOp::log: add_to(da, g, a, a, [](B u, B x, B) { return u / x; }); break;
      }
    }
  }

  void accumulate(const FusedInstr& ins, const V& g, std::int64_t r, std::int64_t c, int n, T* const* d_in,
                  T* const* row_sums) const {
    const auto k = static_cast<std::size_t>(ins.input);
    if (!d_in[k]) return;
    const isa::FusedArg& x = in[k];
    if (n == kCols && !x.scalar) {  // a full tile: vector adds (the same per-element sums)
      T* at = x.row_stride == 0 ? row_sums[k] + ins.offset + c : d_in[k] + r * x.row_stride + ins.offset + c;
      for (int v = 0; v < Kv; ++v) (B::load_unaligned(at + v * W) + g.v[v]).store_unaligned(at + v * W);
      return;
    }
    alignas(64) T buf[kCols];
    for (int v = 0; v < Kv; ++v) g.v[v].store_aligned(buf + v * W);
    if (x.scalar || x.row_stride == 0) {  // summed over rows (and columns for a scalar) per chunk
      T* sums = row_sums[k];
      if (x.scalar) {
        for (int l = 0; l < n; ++l) sums[0] += buf[l];
      } else {
        for (int l = 0; l < n; ++l) sums[ins.offset + c + l] += buf[l];
      }
      return;
    }
    T* at = d_in[k] + r * x.row_stride + ins.offset + c;
    for (int l = 0; l < n; ++l) at[l] += buf[l];
  }
};

// Calls f(std::integral_constant<int, Kv>) with the widest tile of 2, 4 or 8 vectors that a row of
// `cols` elements fills: wider tiles pay the interpreter's dispatch less often (an LSTM's gate rows
// of 128 or more take 8), narrower ones keep short rows (32 units) from computing padding. Every
// lane runs the same formula whatever the width, so the bits do not depend on it.
template <class T, class F>
void with_tile(std::int64_t cols, F&& f) {
  const std::int64_t vectors = (cols + width<T> - 1) / width<T>;
  if (vectors >= 8)
    f(std::integral_constant<int, 8>{});
  else if (vectors >= 4)
    f(std::integral_constant<int, 4>{});
  else
    f(std::integral_constant<int, 2>{});
}

template <class T>
void forward_rows(const isa::FusedCall<T>& call, std::int64_t r0, std::int64_t r1) {
  const std::int64_t cols = call.cols;
  with_tile<T>(cols, [&](auto kv) {
    using M = Machine<T, decltype(kv)::value>;
    const M m(call);
    Registers<typename M::V> reg(m.p.code.size());
    for (std::int64_t r = r0; r < r1; ++r)
      for (std::int64_t c = 0; c < cols; c += M::kCols) {
        const int n = static_cast<int>(std::min<std::int64_t>(M::kCols, cols - c));
        m.forward(reg.data(), r, c, n);
        for (std::size_t k = 0; k < call.n_written; ++k) M::store_row(reg[call.written[k]], call.dst[k] + r * cols + c, n);
      }
  });
}

template <class T>
void backward_rows(const isa::FusedCall<T>& call, std::int64_t r0, std::int64_t r1, T* const* sums) {
  const std::int64_t cols = call.cols;
  with_tile<T>(cols, [&](auto kv) {
    using M = Machine<T, decltype(kv)::value>;
    const M m(call);
    const FusedProgram& p = m.p;
    Registers<typename M::V> reg(p.code.size()), adj(p.code.size());
    const typename M::V zero_tile = M::load_row(nullptr, 0);
    for (std::int64_t r = r0; r < r1; ++r)
      for (std::int64_t c = 0; c < cols; c += M::kCols) {
        const int n = static_cast<int>(std::min<std::int64_t>(M::kCols, cols - c));
        for (std::size_t k = 0; k < call.n_kept; ++k)  // the registers the derivative formulas read
          reg[call.kept[k].first] = M::load_row(call.kept[k].second + r * cols + c, n);
        for (std::int32_t i : p.reload_input) reg[static_cast<std::size_t>(i)] = m.load(p.code[static_cast<std::size_t>(i)], r, c, n);
        std::fill(adj.data(), adj.data() + p.code.size(), zero_tile);
        for (std::size_t k = 0; k < p.outputs.size(); ++k) {
          if (!call.dout[k]) continue;
          const typename M::V d = M::load_row(call.dout[k] + r * cols + c, n);
          auto& acc = adj[static_cast<std::size_t>(p.outputs[k])];
          for (int v = 0; v < M::Kv; ++v) acc.v[v] += d.v[v];
        }
        m.backward(reg.data(), adj.data(), r, c, n, call.din, sums);
      }
  });
}

template <class T>
void fill(isa::Kernels<T>& k) {
  k.fused_forward = &forward_rows<T>;
  k.fused_backward = &backward_rows<T>;
}

}  // namespace

void fill_fused(isa::Kernels<float>& f32, isa::Kernels<double>& f64) {
  fill(f32);
  fill(f64);
}

}  // namespace loom::core::LOOM_ISA_NS
