// SPDX-License-Identifier: Apache-2.0
// Loss and metric objects.
#include "loom/optim/losses.hpp"

#include <cmath>

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

}  // namespace

namespace losses {
Loss mse() {
  return {"mse", [](const Tensor& t, const Var& p) { return loom::mse(Var(t.to(p.dtype())), p); }};
}
Loss mae() {
  return {"mae", [](const Tensor& t, const Var& p) {
            const Var d = p - Var(t.to(p.dtype()));
            return mean(relu(d) + relu(-d));
          }};
}
Loss binary_crossentropy(bool from_logits) {
  return {"binary_crossentropy",
          [from_logits](const Tensor& t, const Var& p) { return loom::binary_crossentropy(Var(t.to(p.dtype())), p, from_logits); },
          from_logits};
}
Loss categorical_crossentropy(bool from_logits) {
  return {"categorical_crossentropy", [from_logits](const Tensor& t, const Var& p) {
            return loom::categorical_crossentropy(Var(t.to(p.dtype())), p, from_logits);
          },
          from_logits};
}
Loss sparse_categorical_crossentropy(bool from_logits) {
  return {"sparse_categorical_crossentropy", [from_logits](const Tensor& t, const Var& p) {
            return loom::sparse_categorical_crossentropy(labels_of(t), p, from_logits);
          },
          from_logits};
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
  LOOM_CHECK(false, ValueError, "metrics: unknown metric '", name,
             "'; expected accuracy, sparse_categorical_accuracy, categorical_accuracy, binary_accuracy or mae.");
  return {};
}
}  // namespace metrics

}  // namespace loom
