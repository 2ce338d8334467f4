// SPDX-License-Identifier: Apache-2.0
// Fused element-wise programs: an interpreter over vector tiles. Each tile (one row, W columns) runs
// the whole program in registers; a partial tile at a row's end runs the same code on a zero-padded
// copy, so an element's value never depends on its position, the chunking or the thread count.
#include "loom/core/fused.hpp"

#include <algorithm>

#include "../dispatch.hpp"
#include "../parallel.hpp"
#include "../simd.hpp"

namespace loom::core {
namespace {

constexpr std::int64_t kGrainElements = 2048;  // domain elements per parallel chunk of rows (~15 µs of LSTM gates)

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

/// Per-thread vectors a call reuses instead of allocating (the loop calls these kernels every step).
template <class T>
struct Scratch {
  std::vector<const T*> data, dout;
  std::vector<T*> dst, din;
  std::vector<std::size_t> repeated;
  std::vector<std::pair<std::size_t, const T*>> kept;
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
  using B = simd::batch<T>;
  static constexpr int W = simd::width<T>;
  static constexpr int Kv = KvTile;
  static constexpr int kCols = W * Kv;  // columns per tile
  using V = Tile<B, Kv>;

  const FusedProgram& p;
  const std::vector<FusedInput>& in;
  std::vector<const T*>& data;

  Machine(const FusedProgram& prog, const std::vector<FusedInput>& inputs, std::vector<const T*>& pointers)
      : p(prog), in(inputs), data(pointers) {
    data.clear();
    for (const FusedInput& x : in) data.push_back(x.tensor.defined() ? x.tensor.data<T>() : nullptr);
  }

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
    const FusedInput& x = in[static_cast<std::size_t>(ins.input)];
    const T* base = data[static_cast<std::size_t>(ins.input)];
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
  void backward(const V* reg, V* adj, std::int64_t r, std::int64_t c, int n, const std::vector<T*>& d_in,
                const std::vector<T*>& row_sums) const {
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

  void accumulate(const FusedInstr& ins, const V& g, std::int64_t r, std::int64_t c, int n,
                  const std::vector<T*>& d_in, const std::vector<T*>& row_sums) const {
    const auto k = static_cast<std::size_t>(ins.input);
    if (!d_in[k]) return;
    const FusedInput& x = in[k];
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
  const std::int64_t vectors = (cols + simd::width<T> - 1) / simd::width<T>;
  if (vectors >= 8)
    f(std::integral_constant<int, 8>{});
  else if (vectors >= 4)
    f(std::integral_constant<int, 4>{});
  else
    f(std::integral_constant<int, 2>{});
}

// The dtype of the inputs; with `backward`, inputs that the reverse pass does not read may be undefined.
DType check(const FusedProgram& p, std::int64_t rows, std::int64_t cols, const std::vector<FusedInput>& in,
            const std::vector<Tensor>* forward) {
  const bool backward = forward != nullptr;
  LOOM_CHECK(rows >= 0 && cols >= 0, ValueError, "fused: the domain must have non-negative extents; got (", rows, ", ",
             cols, ").");
  LOOM_CHECK(!in.empty(), ValueError, "fused: a program needs at least one input.");
  LOOM_CHECK(p.reads_input.size() == in.size(), ValueError, "fused: the program was finished for ",
             p.reads_input.size(), " inputs; got ", in.size(), ".");
  const Tensor* first = nullptr;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (backward && !p.reads_input[i] && !in[i].tensor.defined()) continue;
    detail::check_defined("fused", "an input", in[i].tensor);
    if (!first) first = &in[i].tensor;
    detail::check_same_dtype("fused", *first, in[i].tensor);
  }
  for (std::size_t i = 0; i < p.code.size(); ++i) {
    const FusedInstr& ins = p.code[i];
    const auto before = static_cast<std::int32_t>(i);
    if (ins.op == EwOp::input) {
      LOOM_CHECK(ins.input >= 0 && static_cast<std::size_t>(ins.input) < in.size(), ValueError, "fused: instruction ", i,
                 " reads input ", ins.input, " of ", in.size(), ".");
      const FusedInput& x = in[static_cast<std::size_t>(ins.input)];
      if (!x.tensor.defined()) continue;  // not read by the reverse pass (checked above)
      const std::int64_t n = x.tensor.numel();
      const std::int64_t last = x.scalar ? 0 : (rows > 0 ? (rows - 1) * x.row_stride : 0) + ins.offset + cols - 1;
      LOOM_CHECK(x.scalar ? n == 1 : (ins.offset >= 0 && x.row_stride >= 0 && (rows * cols == 0 || last < n)), ValueError,
                 "fused: input ", ins.input, " (", n, " elements) cannot hold element ", last, " that instruction ", i,
                 " reads.");
      continue;
    }
    const bool binary = ins.op == EwOp::add || ins.op == EwOp::sub || ins.op == EwOp::mul || ins.op == EwOp::div;
    LOOM_CHECK(ins.a >= 0 && ins.a < before && (!binary || (ins.b >= 0 && ins.b < before)), ValueError,
               "fused: instruction ", i, " reads a register that is not computed before it.");
  }
  for (const auto* regs : {&p.outputs, &p.saved})
    for (std::int32_t o : *regs)
      LOOM_CHECK(o >= 0 && static_cast<std::size_t>(o) < p.code.size(), ValueError, "fused: register ", o,
                 " does not exist.");
  if (!first && backward && !forward->empty() && forward->front().defined()) return forward->front().dtype();
  LOOM_CHECK(first != nullptr, ValueError, "fused: every input is undefined.");
  return first->dtype();
}

std::int64_t grain_rows(std::int64_t cols) { return std::max<std::int64_t>(1, kGrainElements / std::max<std::int64_t>(cols, 1)); }

}  // namespace

void FusedProgram::finish(std::size_t inputs) {
  std::vector<std::uint8_t> read(code.size(), 0), is_output(code.size(), 0);
  for (std::size_t i = 0; i < code.size(); ++i) {
    const FusedInstr& ins = code[i];
    auto mark = [&](std::int32_t r) { read[static_cast<std::size_t>(r)] = 1; };
    switch (ins.op) {
      case EwOp::mul: mark(ins.a); mark(ins.b); break;
      case EwOp::div: mark(ins.b); read[i] = 1; break;
      case EwOp::rdiv_scalar: mark(ins.a); read[i] = 1; break;
      case EwOp::tanh: case EwOp::sigmoid: case EwOp::relu: case EwOp::exp: read[i] = 1; break;
      case EwOp::hard_sigmoid: case EwOp::log: mark(ins.a); break;
      default: break;
    }
  }
  saved.clear();
  reads_input.assign(inputs, 0);
  reload_forward.clear();
  reload_input.clear();
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const auto r = static_cast<std::size_t>(outputs[k]);
    if (read[r] && !is_output[r] && code[r].op != EwOp::input)
      reload_forward.emplace_back(outputs[k], static_cast<std::int32_t>(k));
    is_output[r] = 1;
  }
  for (std::size_t i = 0; i < code.size(); ++i) {
    if (!read[i]) continue;
    if (code[i].op == EwOp::input) {
      reads_input[static_cast<std::size_t>(code[i].input)] = 1;
      reload_input.push_back(static_cast<std::int32_t>(i));
    } else if (!is_output[i]) {
      reload_forward.emplace_back(static_cast<std::int32_t>(i), static_cast<std::int32_t>(outputs.size() + saved.size()));
      saved.push_back(static_cast<std::int32_t>(i));
    }
  }
}

std::vector<Tensor> fused_forward(const FusedProgram& p, std::int64_t rows, std::int64_t cols,
                                  const std::vector<FusedInput>& in, bool for_backward) {
  const DType dtype = check(p, rows, cols, in, nullptr);
  std::vector<Tensor> out;
  const std::size_t saved = for_backward ? p.saved.size() : 0;
  for (std::size_t k = 0; k < p.outputs.size() + saved; ++k) out.push_back(Tensor::empty({rows, cols}, dtype));
  detail::dispatch_float(dtype, "fused", [&](auto tag) {
    using T = decltype(tag);
    with_tile<T>(cols, [&](auto kv) {
      using M = Machine<T, decltype(kv)::value>;
      thread_local Scratch<T> scratch;
      const M m(p, in, scratch.data);
      std::vector<T*>& dst = scratch.dst;
      std::vector<std::size_t>& written = scratch.repeated;  // registers: the outputs, then the saved ones
      dst.clear();
      written.clear();
      for (Tensor& t : out) dst.push_back(t.data<T>());
      for (std::int32_t r : p.outputs) written.push_back(static_cast<std::size_t>(r));
      for (std::size_t j = 0; j < saved; ++j) written.push_back(static_cast<std::size_t>(p.saved[j]));
      detail::parallel_chunks(rows, grain_rows(cols), [&](std::int64_t r0, std::int64_t r1) {
        Registers<typename M::V> reg(p.code.size());
        for (std::int64_t r = r0; r < r1; ++r)
          for (std::int64_t c = 0; c < cols; c += M::kCols) {
            const int n = static_cast<int>(std::min<std::int64_t>(M::kCols, cols - c));
            m.forward(reg.data(), r, c, n);
            for (std::size_t k = 0; k < written.size(); ++k) M::store_row(reg[written[k]], dst[k] + r * cols + c, n);
          }
      });
    });
  });
  return out;
}

void fused_backward(const FusedProgram& p, std::int64_t rows, std::int64_t cols, const std::vector<FusedInput>& in,
                    const std::vector<Tensor>& forward, const std::vector<Tensor>& d_out, std::vector<Tensor>& d_in) {
  const DType dtype = check(p, rows, cols, in, &forward);
  LOOM_CHECK(d_out.size() == p.outputs.size() && d_in.size() == in.size(), ValueError,
             "fused_backward: expected ", p.outputs.size(), " output gradients and ", in.size(),
             " input gradient slots; got ", d_out.size(), " and ", d_in.size(), ".");
  LOOM_CHECK(forward.size() == p.outputs.size() + p.saved.size(), ValueError, "fused_backward: expected ",
             p.outputs.size() + p.saved.size(), " forward results; got ", forward.size(), ".");
  for (const Tensor& f : forward) {
    detail::check_defined("fused_backward", "a forward result", f);
    LOOM_CHECK(f.dtype() == dtype && f.numel() == rows * cols, ValueError,
               "fused_backward: forward results must be (", rows, ", ", cols, ") of ", dtype, "; got ", f.shape(),
               " of ", f.dtype(), ".");
  }
  for (std::size_t k = 0; k < d_out.size(); ++k)
    if (d_out[k].defined()) {
      LOOM_CHECK(d_out[k].dtype() == dtype, TypeError, "fused_backward: output gradient ", k, " must be ", dtype,
                 "; got ", d_out[k].dtype(), ".");
      LOOM_CHECK(d_out[k].numel() == rows * cols, ValueError, "fused_backward: output gradient ", k, " must have ",
                 rows * cols, " elements; got ", d_out[k].numel(), ".");
    }
  for (std::size_t i = 0; i < d_in.size(); ++i)
    if (d_in[i].defined()) {
      LOOM_CHECK(d_in[i].dtype() == dtype, TypeError, "fused_backward: the gradient of input ", i, " must be ", dtype,
                 "; got ", d_in[i].dtype(), ".");
      if (in[i].tensor.defined())
        LOOM_CHECK(d_in[i].numel() == in[i].tensor.numel(), ValueError, "fused_backward: the gradient of input ", i,
                   " must have ", in[i].tensor.numel(), " elements; got ", d_in[i].numel(), ".");
    }
  detail::dispatch_float(dtype, "fused_backward", [&](auto tag) {
    using T = decltype(tag);
    with_tile<T>(cols, [&](auto kv) {
      using M = Machine<T, decltype(kv)::value>;
      thread_local Scratch<T> scratch;
      const M m(p, in, scratch.data);
      std::vector<T*>& din = scratch.din;
      std::vector<const T*>& dout = scratch.dout;
      std::vector<std::size_t>& repeated = scratch.repeated;  // inputs read by every row: summed per chunk
      din.assign(in.size(), nullptr);
      dout.clear();
      repeated.clear();
      for (std::size_t i = 0; i < in.size(); ++i) {
        if (d_in[i].defined()) din[i] = d_in[i].data<T>();
        if (din[i] && (in[i].scalar || in[i].row_stride == 0)) repeated.push_back(i);
      }
      for (const Tensor& d : d_out) dout.push_back(d.defined() ? d.data<T>() : nullptr);
      std::vector<std::pair<std::size_t, const T*>>& kept = scratch.kept;  // register ← forward result
      kept.clear();
      for (const auto& [reg, from] : p.reload_forward)
        kept.emplace_back(static_cast<std::size_t>(reg), forward[static_cast<std::size_t>(from)].data<T>());
      const std::int64_t grain = grain_rows(cols), chunks = rows > 0 ? (rows + grain - 1) / grain : 0;
      // With one chunk, rows are summed straight into d_in; with several, per chunk, then in chunk order.
      std::vector<std::vector<T>> partial(static_cast<std::size_t>(repeated.empty() || chunks < 2 ? 0 : chunks) *
                                          in.size());
      detail::parallel_chunks(rows, grain, [&](std::int64_t r0, std::int64_t r1) {
        Registers<typename M::V> reg(p.code.size()), adj(p.code.size());
        thread_local std::vector<T*> sums;
        sums.assign(in.size(), nullptr);
        const auto chunk = static_cast<std::size_t>(r0 / grain);
        for (std::size_t i : repeated) {
          if (partial.empty()) {
            sums[i] = din[i];
            continue;
          }
          std::vector<T>& buf = partial[chunk * in.size() + i];
          buf.assign(static_cast<std::size_t>(d_in[i].numel()), T(0));
          sums[i] = buf.data();
        }
        const typename M::V zero_tile = M::load_row(nullptr, 0);
        for (std::int64_t r = r0; r < r1; ++r)
          for (std::int64_t c = 0; c < cols; c += M::kCols) {
            const int n = static_cast<int>(std::min<std::int64_t>(M::kCols, cols - c));
            for (const auto& [reg_index, from] : kept)  // the registers the derivative formulas read
              reg[reg_index] = M::load_row(from + r * cols + c, n);
            for (std::int32_t i : p.reload_input)
              reg[static_cast<std::size_t>(i)] = m.load(p.code[static_cast<std::size_t>(i)], r, c, n);
            std::fill(adj.data(), adj.data() + p.code.size(), zero_tile);
            for (std::size_t k = 0; k < p.outputs.size(); ++k) {
              if (!dout[k]) continue;
              const typename M::V d = M::load_row(dout[k] + r * cols + c, n);
              auto& acc = adj[static_cast<std::size_t>(p.outputs[k])];
              for (int v = 0; v < M::Kv; ++v) acc.v[v] += d.v[v];
            }
            m.backward(reg.data(), adj.data(), r, c, n, din, sums);
          }
      });
      for (std::int64_t chunk = 0; chunk < chunks && !partial.empty(); ++chunk)
        for (std::size_t i : repeated) {
          const std::vector<T>& buf = partial[static_cast<std::size_t>(chunk) * in.size() + i];
          for (std::size_t e = 0; e < buf.size(); ++e) din[i][e] += buf[e];
        }
    });
  });
}

}  // namespace loom::core
