// SPDX-License-Identifier: Apache-2.0
// Loss and metric objects.
#include "loom/optim/losses.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "loom/autograd/ops/activation.hpp"
#include "loom/autograd/ops/arithmetic.hpp"
#include "loom/autograd/ops/loss.hpp"
#include "loom/autograd/ops/reduce.hpp"
#include "loom/core/check.hpp"
#include "loom/core/elementwise.hpp"
#include "loom/core/reduce.hpp"

namespace loom {
namespace {

Tensor labels_of(const Tensor& y) { return y.dtype() == DType::i64 ? y : y.to(DType::i64); }

Loss make_loss(std::string name, bool from_logits,
               std::function<Var(const Tensor&, const Var&, const Tensor&)> weighted) {
  Loss loss{std::move(name), {}, from_logits, std::move(weighted)};
  loss.fn = [w = loss.weighted](const Tensor& t, const Var& p) { return w(t, p, Tensor()); };
  return loss;
}

}  // namespace

Var Loss::operator()(const Tensor& y_true, const Var& y_pred, const Tensor& sample_weight) const {
  if (!sample_weight.defined()) return fn(y_true, y_pred);
  LOOM_CHECK(static_cast<bool>(weighted), ValueError, "loss '", name,
             "': this loss takes no sample weights (Loss::weighted is not set); sample_weight and class_weight need it.");
  return weighted(y_true, y_pred, sample_weight);
}

namespace losses {
Loss mse() {
  return make_loss("mse", false, [](const Tensor& t, const Var& p, const Tensor& w) {
    return loom::mse(Var(t.to(p.dtype())), p, w);
  });
}
Loss mae() {
  return make_loss("mae", false, [](const Tensor& t, const Var& p, const Tensor& w) {
    return loom::mae(Var(t.to(p.dtype())), p, w);
  });
}
Loss binary_crossentropy(bool from_logits) {
  return make_loss("binary_crossentropy", from_logits, [from_logits](const Tensor& t, const Var& p, const Tensor& w) {
    return loom::binary_crossentropy(Var(t.to(p.dtype())), p, from_logits, w);
  });
}
Loss categorical_crossentropy(bool from_logits) {
  return make_loss("categorical_crossentropy", from_logits, [from_logits](const Tensor& t, const Var& p, const Tensor& w) {
    return loom::categorical_crossentropy(Var(t.to(p.dtype())), p, from_logits, w);
  });
}
Loss sparse_categorical_crossentropy(bool from_logits) {
  return make_loss("sparse_categorical_crossentropy", from_logits,
                   [from_logits](const Tensor& t, const Var& p, const Tensor& w) {
                     return loom::sparse_categorical_crossentropy(labels_of(t), p, from_logits, w);
                   });
}
Loss by_name(const std::string& name) {
  if (name == "mse" || name == "mean_squared_error") return mse();
  if (name == "mae" || name == "mean_absolute_error") return mae();
  if (name == "binary_crossentropy") return binary_crossentropy();
  if (name == "categorical_crossentropy") return categorical_crossentropy();
  if (name == "sparse_categorical_crossentropy") return sparse_categorical_crossentropy();
  LOOM_CHECK(false, ValueError, "losses: unknown loss '", name.substr(0, 40),
             "'; expected mse, mae, binary_crossentropy, categorical_crossentropy or sparse_categorical_crossentropy.");
  return {};
}
Loss by_name(const std::string& name, bool from_logits) {
  if (!from_logits) return by_name(name);
  if (name == "binary_crossentropy") return binary_crossentropy(true);
  if (name == "categorical_crossentropy") return categorical_crossentropy(true);
  if (name == "sparse_categorical_crossentropy") return sparse_categorical_crossentropy(true);
  LOOM_CHECK(false, ValueError, "losses: '", name.substr(0, 40), "' takes no from_logits; only the cross-entropies do.");
  return {};
}
}  // namespace losses

Metric Metric::stateful() const {
  if (accumulate) return *this;
  Metric m = *this;
  m.state_size = 2;
  m.accumulate = [f = batch](const Tensor& t, const Tensor& p, std::span<double> s) {
    const auto [sum, count] = f(t, p);
    s[0] += sum;
    s[1] += count;
  };
  // No samples at all (an empty x): NaN, not a 0 that would look like a perfect score.
  m.result = [](std::span<const double> s) { return s[1] > 0 ? s[0] / s[1] : std::numeric_limits<double>::quiet_NaN(); };
  return m;
}

namespace metrics {
Metric sparse_categorical_accuracy() {
  return {"sparse_categorical_accuracy", [](const Tensor& t, const Tensor& p) {
            const std::vector<std::int64_t> pred = core::argmax(p, -1).to_vector<std::int64_t>();
            const std::vector<std::int64_t> lab = labels_of(t).to_vector<std::int64_t>();
            LOOM_CHECK(pred.size() == lab.size(), ValueError, "sparse_categorical_accuracy: ", lab.size(), " labels for ",
                       pred.size(), " predictions.");
            double hits = 0;
            for (std::size_t i = 0; i < pred.size(); ++i) hits += pred[i] == lab[i];
            return std::pair{hits, static_cast<double>(pred.size())};
          }};
}
Metric categorical_accuracy() {
  return {"categorical_accuracy", [](const Tensor& t, const Tensor& p) {
            const std::vector<std::int64_t> pred = core::argmax(p, -1).to_vector<std::int64_t>();
            const std::vector<std::int64_t> lab = core::argmax(t.to(p.dtype()), -1).to_vector<std::int64_t>();
            double hits = 0;
            for (std::size_t i = 0; i < pred.size(); ++i) hits += pred[i] == lab[i];
            return std::pair{hits, static_cast<double>(pred.size())};
          }};
}
Metric binary_accuracy(double threshold) {
  return {"binary_accuracy", [threshold](const Tensor& t, const Tensor& p) {
            const std::vector<double> pv = p.to_vector<double>(), tv = t.to_vector<double>();
            double hits = 0;
            for (std::size_t i = 0; i < pv.size(); ++i) hits += (pv[i] > threshold) == (tv[i] > 0.5);
            return std::pair{hits, static_cast<double>(pv.size())};
          }};
}
Metric mae() {
  return {"mae", [](const Tensor& t, const Tensor& p) {
            const std::vector<double> pv = p.to_vector<double>(), tv = t.to_vector<double>();
            double s = 0;
            for (std::size_t i = 0; i < pv.size(); ++i) s += std::abs(pv[i] - tv[i]);
            // Keras averages per sample over the last axis, then over samples: the same mean for equal rows.
            return std::pair{s, static_cast<double>(pv.size())};
          }};
}
namespace {

double safe_div(double a, double b) { return b == 0 ? 0.0 : a / b; }  // tf.math.divide_no_nan

// (positive target, prediction) of every element, the prediction through a sigmoid for logits.
template <class Fn>
void visit_binary(const char* api, const Tensor& t, const Tensor& p, bool from_logits, Fn&& fn) {
  LOOM_CHECK(t.numel() == p.numel(), ValueError, api, ": y_true and y_pred must have as many elements; got shapes ",
             t.shape(), " and ", p.shape(), ".");
  const std::vector<double> pv = p.to_vector<double>(), tv = t.to_vector<double>();
  for (std::size_t i = 0; i < pv.size(); ++i) fn(tv[i] != 0.0, from_logits ? 1.0 / (1.0 + std::exp(-pv[i])) : pv[i]);
}

// Precision and recall: state (true positives, the other count) at one threshold.
Metric confusion_ratio(std::string name, double threshold, bool from_logits, bool precision) {
  Metric m;
  m.name = std::move(name);
  m.state_size = 2;
  m.accumulate = [threshold, from_logits, precision, api = m.name](const Tensor& t, const Tensor& p, std::span<double> s) {
    visit_binary(api.c_str(), t, p, from_logits, [&](bool positive, double x) {
      const bool predicted = x > threshold;
      s[0] += positive && predicted;
      s[1] += precision ? (!positive && predicted) : (positive && !predicted);
    });
  };
  m.result = [](std::span<const double> s) { return safe_div(s[0], s[0] + s[1]); };
  return m;
}

}  // namespace

Metric precision(double threshold, bool from_logits) { return confusion_ratio("precision", threshold, from_logits, true); }
Metric recall(double threshold, bool from_logits) { return confusion_ratio("recall", threshold, from_logits, false); }

Metric auc(const AUCOptions& o) {
  LOOM_CHECK(o.num_thresholds >= 2 && o.num_thresholds <= (1 << 20), ValueError,
             "metrics::auc: num_thresholds must be in [2, 2^20]; got ", o.num_thresholds, ".");
  const auto n = static_cast<std::size_t>(o.num_thresholds);
  // keras.metrics.AUC's thresholds: 0 − ε, i / (n − 1) for i = 1 … n − 2, 1 + ε (ε = 1e-7).
  std::vector<double> thresholds(n);
  thresholds[0] = -1e-7;
  for (std::size_t i = 1; i + 1 < n; ++i) thresholds[i] = static_cast<double>(i) / static_cast<double>(n - 1);
  thresholds[n - 1] = 1.0 + 1e-7;
  Metric m;
  m.name = o.name;
  // State: how many positive and negative targets have predictions above exactly k thresholds, for
  // k = 0 … n (sums, like every metric state, so batches and ranks add up). The confusion counts at
  // threshold j follow: a prediction is positive there when k > j.
  m.state_size = 2 * (n + 1);
  m.accumulate = [thresholds, n, from_logits = o.from_logits, api = o.name](const Tensor& t, const Tensor& p,
                                                                           std::span<double> s) {
    visit_binary(api.c_str(), t, p, from_logits, [&](bool positive, double x) {
      // The thresholds ascend: x is above the first k of them (x > threshold, Keras's rule).
      const auto k = static_cast<std::size_t>(std::lower_bound(thresholds.begin(), thresholds.end(), x) - thresholds.begin());
      s[(positive ? 0 : n + 1) + k] += 1;
    });
  };
  m.result = [n, curve = o.curve](std::span<const double> s) {
    std::vector<double> tp(n), fp(n), tn(n), fn(n);
    double pos_above = 0, neg_above = 0, pos_total = 0, neg_total = 0;
    for (std::size_t k = 0; k <= n; ++k) {
      pos_total += s[k];
      neg_total += s[n + 1 + k];
    }
    for (std::size_t j = n; j-- > 0;) {  // above threshold j: k ≥ j + 1
      pos_above += s[j + 1];
      neg_above += s[n + 1 + j + 1];
      tp[j] = pos_above;
      fp[j] = neg_above;
      fn[j] = pos_total - pos_above;
      tn[j] = neg_total - neg_above;
    }
    double area = 0;
    if (curve == AUCOptions::Curve::roc) {  // trapezoids under (false-positive rate, recall)
      for (std::size_t i = 0; i + 1 < n; ++i) {
        const double x0 = safe_div(fp[i], fp[i] + tn[i]), x1 = safe_div(fp[i + 1], fp[i + 1] + tn[i + 1]);
        const double y0 = safe_div(tp[i], tp[i] + fn[i]), y1 = safe_div(tp[i + 1], tp[i + 1] + fn[i + 1]);
        area += (x0 - x1) * (y0 + y1) / 2;
      }
      return area;
    }
    // Precision-recall: between thresholds precision is interpolated as a function of the number of
    // predicted positives P (Davis & Goadrich 2006), which integrates in closed form.
    for (std::size_t i = 0; i + 1 < n; ++i) {
      const double dtp = tp[i] - tp[i + 1];
      const double p0 = tp[i] + fp[i], p1 = tp[i + 1] + fp[i + 1];
      const double slope = safe_div(dtp, std::max(p0 - p1, 0.0));
      const double intercept = tp[i + 1] - slope * p1;
      const double ratio = p0 > 0 && p1 > 0 ? safe_div(p0, std::max(p1, 0.0)) : 1.0;
      area += safe_div(slope * (dtp + intercept * std::log(ratio)), std::max(tp[i + 1] + fn[i + 1], 0.0));
    }
    return area;
  };
  return m;
}

Metric accuracy_for(const Loss& loss) {
  Metric m = loss.name == "sparse_categorical_crossentropy" ? sparse_categorical_accuracy()
             : loss.name == "categorical_crossentropy"      ? categorical_accuracy()
                                                            : binary_accuracy(loss.from_logits ? 0.0 : 0.5);
  m.name = "accuracy";
  return m;
}
Metric by_name(const std::string& name, const Loss& loss) {
  if (name == "accuracy" || name == "acc") return accuracy_for(loss);
  if (name == "sparse_categorical_accuracy") return sparse_categorical_accuracy();
  if (name == "categorical_accuracy") return categorical_accuracy();
  if (name == "binary_accuracy") return binary_accuracy(loss.from_logits ? 0.0 : 0.5);
  if (name == "mae" || name == "mean_absolute_error") return mae();
  if (name == "precision" || name == "Precision") return precision(0.5, loss.from_logits);
  if (name == "recall" || name == "Recall") return recall(0.5, loss.from_logits);
  if (name == "auc" || name == "AUC") return auc({.from_logits = loss.from_logits});
  LOOM_CHECK(false, ValueError, "metrics: unknown metric '", name.substr(0, 40),
             "'; expected accuracy, sparse_categorical_accuracy, categorical_accuracy, binary_accuracy, mae, precision, "
             "recall or auc.");
  return {};
}
}  // namespace metrics

}  // namespace loom
