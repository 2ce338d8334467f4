// SPDX-License-Identifier: Apache-2.0
// Losses with tf.keras's formulas (epsilon 1e-7 clipping), averaged over the batch.
// Each is one op with a scalar loop: the per-sample arithmetic is cheap next to the model.
#include "loom/autograd/ops/loss.hpp"

#include <algorithm>
#include <cmath>

#include "loom/autograd/ops/activation.hpp"
#include "loom/autograd/ops/arithmetic.hpp"
#include "loom/autograd/ops/reduce.hpp"
#include "loom/autograd/record.hpp"
#include "loom/core/check.hpp"
#include "loom/core/elementwise.hpp"
#include "loom/core/reduce.hpp"

namespace loom {
namespace {

constexpr double kEps = 1e-7;  // tf.keras backend.epsilon()

template <class Fn>
void for_dtype(DType d, const char* api, Fn&& fn) {
  LOOM_CHECK(is_floating(d), TypeError, api, ": expected f32 or f64 predictions; got ", d, ".");
  if (d == DType::f32)
    fn(float{});
  else
    fn(double{});
}

void check_pair(const char* api, const Tensor& t, const Tensor& p) {
  LOOM_CHECK(t.shape() == p.shape(), ValueError, api, ": y_true and y_pred must have one shape; got ", t.shape(),
             " and ", p.shape(), ".");
  LOOM_CHECK(t.dtype() == p.dtype(), TypeError, api, ": y_true and y_pred must share a dtype; got ", t.dtype(),
             " and ", p.dtype(), ".");
}

// Divisor of a mean over n terms: an empty batch (n = 0) has loss 0 and zero gradients, not 0/0.
double terms(std::int64_t n) { return static_cast<double>(std::max<std::int64_t>(n, 1)); }

void check_classes(const char* api, const Tensor& p) {
  LOOM_CHECK(p.dimension() >= 1 && p.shape(-1) >= 1, ValueError, api,
             ": y_pred must be at least 1-D with at least one class on its last axis; got shape ", p.shape(), ".");
}

Tensor scalar(double v, DType d) { return Tensor::full({}, v, d); }

// The rows of an element-wise loss (its per-sample terms): every axis of y_pred but the last; for
// rank ≤ 1, each element is a row. (The cross-entropies' rows are every axis but the classes.)
Shape loss_rows(const Shape& p) {
  if (p.rank() <= 1) return p;
  Shape rows;
  for (int i = 0; i + 1 < p.rank(); ++i) rows.push_back(p[i]);
  return rows;
}

// Keras's sample_weight expanded to one weight per row (row-major); empty when `w` is undefined. The
// weights have the rows' shape or a leading part of it (then each repeats over the remaining axes);
// trailing axes of 1 are ignored where they do not match.
std::vector<double> row_weights(const char* api, const Tensor& w, const Shape& rows) {
  if (!w.defined()) return {};
  LOOM_CHECK(is_floating(w.dtype()), TypeError, api, ": sample_weight must be f32 or f64; got ", w.dtype(), ".");
  const auto is_prefix = [&rows](const Shape& ws) {
    bool prefix = ws.rank() <= rows.rank();
    for (int i = 0; prefix && i < ws.rank(); ++i) prefix = ws[i] == rows[i];
    return prefix;
  };
  Shape ws = w.shape();
  while (!is_prefix(ws) && ws.rank() > 0 && ws.back() == 1) {  // (B, 1) weighs rows (B,) or (B, T)
    Shape dropped;
    for (int i = 0; i + 1 < ws.rank(); ++i) dropped.push_back(ws[i]);
    ws = dropped;
  }
  LOOM_CHECK(is_prefix(ws), ValueError, api, ": sample_weight must have the shape of the per-sample losses ", rows,
             " or a leading part of it; got ", w.shape(), ".");
  const std::vector<double> given = w.to_vector<double>();
  const std::int64_t n = rows.numel(), repeat = given.empty() ? 0 : n / static_cast<std::int64_t>(given.size());
  std::vector<double> out(static_cast<std::size_t>(n));
  for (std::int64_t r = 0; r < n; ++r) out[static_cast<std::size_t>(r)] = given[static_cast<std::size_t>(r / repeat)];
  return out;
}

// An element-wise loss averaged over each row's last axis, then weighted per row:
// Σ_r w_r · mean_j e(t_rj, p_rj) / R. The unweighted losses keep their own (all-element mean) code.
enum class Elementwise { squared, absolute, binary, binary_logits };

struct WeightedElementwiseOp {
  static constexpr const char* name = "weighted_loss";
  Elementwise kind;
  std::vector<double> w;  // one per row
  Tensor t, p;
  Tensor forward(const Tensor& t_in, const Tensor& p_in) {
    check_pair(api(), t_in, p_in);
    t = t_in;
    p = p_in;
    double total = 0;
    visit([&](auto tv, auto pv, std::int64_t r, std::int64_t c) {
      double row = 0;
      for (std::int64_t j = 0; j < c; ++j) row += value(tv[r * c + j], pv[r * c + j]);
      total += w[static_cast<std::size_t>(r)] * (row / static_cast<double>(c));
    });
    return scalar(total / terms(static_cast<std::int64_t>(w.size())), p.dtype());
  }
  void backward(const Tensor& dy, Grads& g) const {
    Tensor dt = Tensor::empty(t.shape(), t.dtype()), dp = Tensor::empty(p.shape(), p.dtype());
    const double scale = dy.item() / terms(static_cast<std::int64_t>(w.size()));
    for_dtype(p.dtype(), api(), [&](auto tag) {
      using T = decltype(tag);
      T* gt = dt.data<T>();
      T* gp = dp.data<T>();
      visit([&](auto tv, auto pv, std::int64_t r, std::int64_t c) {
        const double s = scale * w[static_cast<std::size_t>(r)] / static_cast<double>(c);
        for (std::int64_t j = 0; j < c; ++j) {
          const auto [dtrue, dpred] = derivatives(tv[r * c + j], pv[r * c + j]);
          gt[r * c + j] = static_cast<T>(s * dtrue);
          gp[r * c + j] = static_cast<T>(s * dpred);
        }
      });
    });
    if (g.needed(0)) g.add(0, dt);
    if (g.needed(1)) g.add(1, dp);
  }

 private:
  const char* api() const {
    switch (kind) {
      case Elementwise::squared: return "mse";
      case Elementwise::absolute: return "mae";
      default: return "binary_crossentropy";
    }
  }
  // fn(t, p, row, width) for every row, on typed pointers.
  template <class Fn>
  void visit(Fn&& fn) const {
    const auto rows = static_cast<std::int64_t>(w.size());
    const std::int64_t c = rows > 0 ? p.numel() / rows : 1;
    for_dtype(p.dtype(), api(), [&](auto tag) {
      using T = decltype(tag);
      for (std::int64_t r = 0; r < rows; ++r) fn(t.data<T>(), p.data<T>(), r, c);
    });
  }
  double value(double y, double x) const {
    switch (kind) {
      case Elementwise::squared: return (x - y) * (x - y);
      case Elementwise::absolute: return std::abs(x - y);
      case Elementwise::binary_logits: return std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::abs(x)));
      case Elementwise::binary: {
        const double c = std::clamp(x, kEps, 1.0 - kEps);
        return -(y * std::log(c + kEps) + (1.0 - y) * std::log(1.0 - c + kEps));
      }
    }
    return 0.0;
  }
  // (∂e/∂t, ∂e/∂p), with the unweighted ops' conventions (|d| has slope 0 at 0; clipping stops p's).
  std::pair<double, double> derivatives(double y, double x) const {
    switch (kind) {
      case Elementwise::squared: return {-2.0 * (x - y), 2.0 * (x - y)};
      case Elementwise::absolute: {
        const double sign = x > y ? 1.0 : x < y ? -1.0 : 0.0;
        return {-sign, sign};
      }
      case Elementwise::binary_logits: return {-x, 1.0 / (1.0 + std::exp(-x)) - y};
      case Elementwise::binary: {
        const double c = std::clamp(x, kEps, 1.0 - kEps);
        const bool inside = x >= kEps && x <= 1.0 - kEps;
        return {-(std::log(c + kEps) - std::log(1.0 - c + kEps)),
                inside ? -(y / (c + kEps) - (1.0 - y) / (1.0 - c + kEps)) : 0.0};
      }
    }
    return {0.0, 0.0};
  }
};

/// L = mean((p − t)²).  dp = 2(p − t)/n · dL,  dt = −dp.  Saves p − t.
struct MseOp {
  static constexpr const char* name = "mse";
  Tensor diff;
  Tensor forward(const Tensor& t, const Tensor& p) {
    check_pair(name, t, p);
    diff = core::sub(p, t);
    if (diff.numel() == 0) return scalar(0.0, p.dtype());
    return core::mean(core::mul(diff, diff));
  }
  void backward(const Tensor& dy, Grads& g) const {
    const Tensor dp = core::mul(diff, 2.0 * dy.item() / terms(diff.numel()));
    if (g.needed(0)) g.add(0, core::neg(dp));
    if (g.needed(1)) g.add(1, dp);
  }
};

/// Binary cross-entropy, mean over all elements.  Saves both inputs.
struct BinaryCrossentropyOp {
  static constexpr const char* name = "binary_crossentropy";
  bool from_logits;
  Tensor t, p;
  Tensor forward(const Tensor& t_in, const Tensor& p_in) {
    check_pair(name, t_in, p_in);
    t = t_in;
    p = p_in;
    double total = 0;
    for_dtype(p.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      const T* tv = t.data<T>();
      const T* pv = p.data<T>();
      for (std::int64_t i = 0; i < p.numel(); ++i) {
        const double x = pv[i], y = tv[i];
        if (from_logits) {
          total += std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::abs(x)));
        } else {
          const double c = std::clamp(x, kEps, 1.0 - kEps);
          total -= y * std::log(c + kEps) + (1.0 - y) * std::log(1.0 - c + kEps);
        }
      }
    });
    return scalar(total / terms(p.numel()), p.dtype());
  }
  void backward(const Tensor& dy, Grads& g) const {
    Tensor dt = Tensor::empty(t.shape(), t.dtype()), dp = Tensor::empty(p.shape(), p.dtype());
    const double scale = dy.item() / terms(p.numel());
    for_dtype(p.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      const T* tv = t.data<T>();
      const T* pv = p.data<T>();
      T* gt = dt.data<T>();
      T* gp = dp.data<T>();
      for (std::int64_t i = 0; i < p.numel(); ++i) {
        const double x = pv[i], y = tv[i];
        if (from_logits) {
          gp[i] = static_cast<T>(scale * (1.0 / (1.0 + std::exp(-x)) - y));
          gt[i] = static_cast<T>(-scale * x);
        } else {
          const double c = std::clamp(x, kEps, 1.0 - kEps);
          const bool inside = x >= kEps && x <= 1.0 - kEps;  // clip passes the gradient inside its range
          gp[i] = static_cast<T>(inside ? -scale * (y / (c + kEps) - (1.0 - y) / (1.0 - c + kEps)) : 0.0);
          gt[i] = static_cast<T>(-scale * (std::log(c + kEps) - std::log(1.0 - c + kEps)));
        }
      }
    });
    if (g.needed(0)) g.add(0, dt);
    if (g.needed(1)) g.add(1, dp);
  }
};

/// Categorical cross-entropy over the last axis, mean over rows.  Saves both inputs.
struct CategoricalCrossentropyOp {
  static constexpr const char* name = "categorical_crossentropy";
  bool from_logits;
  Tensor t, p;
  Tensor sample_weight;
  std::vector<double> w;  // per row; empty: unweighted (a weight of exactly 1 keeps the bits)
  Tensor forward(const Tensor& t_in, const Tensor& p_in) {
    check_pair(name, t_in, p_in);
    check_classes(name, p_in);
    Shape row_shape;  // every axis but the classes (a rank-1 y_pred is one row)
    for (int i = 0; i + 1 < p_in.dimension(); ++i) row_shape.push_back(p_in.shape(i));
    w = row_weights(name, sample_weight, row_shape);
    t = t_in;
    p = p_in;
    double total = 0;
    std::int64_t r = 0;
    visit_rows([&](const auto* tr, const auto* pr, std::int64_t c) { total += weight(r++) * row_loss(tr, pr, c); });
    return scalar(total / terms(rows()), p.dtype());
  }
  void backward(const Tensor& dy, Grads& g) const {
    Tensor dt = Tensor::empty(t.shape(), t.dtype()), dp = Tensor::empty(p.shape(), p.dtype());
    const double scale = dy.item() / terms(rows());
    for_dtype(p.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      const std::int64_t c = p.shape(-1);
      for (std::int64_t r = 0; r < rows(); ++r)
        row_grad(t.data<T>() + r * c, p.data<T>() + r * c, dt.data<T>() + r * c, dp.data<T>() + r * c, c,
                 scale * weight(r));
    });
    if (g.needed(0)) g.add(0, dt);
    if (g.needed(1)) g.add(1, dp);
  }

 private:
  std::int64_t rows() const { return p.numel() / p.shape(-1); }
  double weight(std::int64_t r) const { return w.empty() ? 1.0 : w[static_cast<std::size_t>(r)]; }
  template <class Fn>
  void visit_rows(Fn&& fn) const {
    for_dtype(p.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      const std::int64_t c = p.shape(-1);
      for (std::int64_t r = 0; r < rows(); ++r) fn(t.data<T>() + r * c, p.data<T>() + r * c, c);
    });
  }
  template <class T>
  double row_loss(const T* tr, const T* pr, std::int64_t c) const {
    double loss = 0;
    if (from_logits) {
      double m = pr[0], s = 0;
      for (std::int64_t j = 1; j < c; ++j) m = std::max(m, static_cast<double>(pr[j]));
      for (std::int64_t j = 0; j < c; ++j) s += std::exp(pr[j] - m);
      for (std::int64_t j = 0; j < c; ++j) loss -= tr[j] * (pr[j] - m - std::log(s));
    } else {
      double s = 0;
      for (std::int64_t j = 0; j < c; ++j) s += pr[j];
      for (std::int64_t j = 0; j < c; ++j) loss -= tr[j] * std::log(std::clamp(pr[j] / s, kEps, 1.0 - kEps));
    }
    return loss;
  }
  template <class T>
  void row_grad(const T* tr, const T* pr, T* gt, T* gp, std::int64_t c, double scale) const {
    if (from_logits) {
      double m = pr[0], s = 0, tsum = 0;
      for (std::int64_t j = 1; j < c; ++j) m = std::max(m, static_cast<double>(pr[j]));
      for (std::int64_t j = 0; j < c; ++j) s += std::exp(pr[j] - m);
      for (std::int64_t j = 0; j < c; ++j) tsum += tr[j];
      for (std::int64_t j = 0; j < c; ++j) {
        const double ls = pr[j] - m - std::log(s);
        gp[j] = static_cast<T>(scale * (std::exp(ls) * tsum - tr[j]));
        gt[j] = static_cast<T>(-scale * ls);
      }
      return;
    }
    // q = p / Σp, L = −Σ t·log(clip(q)); g_i = ∂L/∂q_i; ∂L/∂p_j = (g_j − Σ_i g_i q_i) / Σp.
    double s = 0, gq = 0;
    for (std::int64_t j = 0; j < c; ++j) s += pr[j];
    for (std::int64_t j = 0; j < c; ++j) {
      const double q = pr[j] / s;
      const double gi = (q >= kEps && q <= 1.0 - kEps) ? -tr[j] / q : 0.0;
      gq += gi * q;
    }
    for (std::int64_t j = 0; j < c; ++j) {
      const double q = pr[j] / s;
      const double qc = std::clamp(q, kEps, 1.0 - kEps);
      const double gi = (q >= kEps && q <= 1.0 - kEps) ? -tr[j] / q : 0.0;
      gp[j] = static_cast<T>(scale * (gi - gq) / s);
      gt[j] = static_cast<T>(-scale * std::log(qc));
    }
  }
};

/// Sparse categorical cross-entropy over the last axis, mean over rows.  Saves predictions and labels.
struct SparseCategoricalCrossentropyOp {
  static constexpr const char* name = "sparse_categorical_crossentropy";
  bool from_logits;
  Tensor labels;
  Tensor p;
  Tensor sample_weight;
  std::vector<double> w;  // per row; empty: unweighted
  Tensor forward(const Tensor& p_in) {
    check_classes(name, p_in);
    const std::int64_t c = p_in.shape(-1), rows = p_in.numel() / c;
    LOOM_CHECK(labels.dtype() == DType::i64, TypeError, name, ": labels must have dtype i64; got ", labels.dtype(),
               ".");
    Shape expect;
    for (int i = 0; i + 1 < p_in.dimension(); ++i) expect.push_back(p_in.shape(i));
    Shape expect1 = expect;
    expect1.push_back(1);
    LOOM_CHECK(labels.shape() == expect || labels.shape() == expect1, ValueError, name, ": labels must have shape ",
               expect, " for predictions of shape ", p_in.shape(), "; got ", labels.shape(), ".");
    const std::int64_t* lv = labels.data<std::int64_t>();
    for (std::int64_t r = 0; r < rows; ++r)
      LOOM_CHECK(lv[r] >= 0 && lv[r] < c, ValueError, name, ": labels must be in [0, ", c, "); got ", lv[r],
                 " at row ", r, ".");
    w = row_weights(name, sample_weight, expect);
    p = p_in;
    double total = 0;
    for_dtype(p.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      for (std::int64_t r = 0; r < rows; ++r) total += weight(r) * row<T>(p.data<T>() + r * c, c, lv[r], nullptr, 0.0);
    });
    return scalar(total / terms(rows), p.dtype());
  }
  void backward(const Tensor& dy, Grads& g) const {
    const std::int64_t c = p.shape(-1), rows = p.numel() / c;
    Tensor dp = Tensor::empty(p.shape(), p.dtype());
    const double scale = dy.item() / terms(rows);
    for_dtype(p.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      for (std::int64_t r = 0; r < rows; ++r)
        row(p.data<T>() + r * c, c, labels.data<std::int64_t>()[r], dp.data<T>() + r * c, scale * weight(r));
    });
    g.add(0, dp);
  }

 private:
  double weight(std::int64_t r) const { return w.empty() ? 1.0 : w[static_cast<std::size_t>(r)]; }
  // Loss of one row; with `grad`, also writes scale·∂loss/∂p into it.
  template <class T>
  double row(const T* pr, std::int64_t c, std::int64_t label, T* grad, double scale) const {
    // Logits z: from_logits uses p; otherwise z = log(clip(p)) (tf.keras), so softmax(z) = clip(p)/Σ clip(p).
    auto z = [&](std::int64_t j) {
      return from_logits ? static_cast<double>(pr[j]) : std::log(std::clamp(static_cast<double>(pr[j]), kEps, 1.0 - kEps));
    };
    double m = z(0), s = 0;
    for (std::int64_t j = 1; j < c; ++j) m = std::max(m, z(j));
    for (std::int64_t j = 0; j < c; ++j) s += std::exp(z(j) - m);
    if (grad) {
      for (std::int64_t j = 0; j < c; ++j) {
        const double dz = std::exp(z(j) - m) / s - (j == label ? 1.0 : 0.0);
        if (from_logits) {
          grad[j] = static_cast<T>(scale * dz);
        } else {
          const double x = pr[j];
          const bool inside = x >= kEps && x <= 1.0 - kEps;
          grad[j] = static_cast<T>(inside ? scale * dz / x : 0.0);
        }
      }
    }
    return -(z(label) - m - std::log(s));
  }
};

}  // namespace

namespace {
Var weighted(Elementwise kind, const Var& y_true, const Var& y_pred, const Tensor& sample_weight) {
  const char* api = kind == Elementwise::squared ? "mse" : kind == Elementwise::absolute ? "mae" : "binary_crossentropy";
  return record(WeightedElementwiseOp{kind, row_weights(api, sample_weight, loss_rows(y_pred.shape())), {}, {}}, y_true,
                y_pred);
}
}  // namespace

Var mse(const Var& y_true, const Var& y_pred, const Tensor& sample_weight) {
  if (sample_weight.defined()) return weighted(Elementwise::squared, y_true, y_pred, sample_weight);
  return record(MseOp{}, y_true, y_pred);
}

Var mae(const Var& y_true, const Var& y_pred, const Tensor& sample_weight) {
  if (sample_weight.defined()) return weighted(Elementwise::absolute, y_true, y_pred, sample_weight);
  LOOM_CHECK(y_true.shape() == y_pred.shape(), ValueError, "mae: y_true and y_pred must have one shape; got ",
             y_true.shape(), " and ", y_pred.shape(), ".");
  const Var d = y_pred - y_true;
  return mean(relu(d) + relu(-d));
}

Var binary_crossentropy(const Var& y_true, const Var& y_pred, bool from_logits, const Tensor& sample_weight) {
  if (sample_weight.defined())
    return weighted(from_logits ? Elementwise::binary_logits : Elementwise::binary, y_true, y_pred, sample_weight);
  return record(BinaryCrossentropyOp{from_logits, {}, {}}, y_true, y_pred);
}

Var categorical_crossentropy(const Var& y_true, const Var& y_pred, bool from_logits, const Tensor& sample_weight) {
  return record(CategoricalCrossentropyOp{from_logits, {}, {}, sample_weight, {}}, y_true, y_pred);
}

Var sparse_categorical_crossentropy(const Tensor& labels, const Var& y_pred, bool from_logits,
                                    const Tensor& sample_weight) {
  return record(SparseCategoricalCrossentropyOp{from_logits, labels, {}, sample_weight, {}}, y_pred);
}

}  // namespace loom
