// SPDX-License-Identifier: Apache-2.0
// Losses and metrics by Keras name, as objects the training loop can call, name and log.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "loom/autograd/var.hpp"

namespace loom {

/// A loss for the training loop: (targets, predictions) → scalar Var, with its Keras name.
struct Loss {
  std::string name;
  std::function<Var(const Tensor& y_true, const Var& y_pred)> fn;
  /// The model's outputs are logits (what the cross-entropies' from_logits says); metrics that
  /// threshold probabilities threshold the logits at 0 instead of 0.5.
  bool from_logits = false;
  Var operator()(const Tensor& y_true, const Var& y_pred) const { return fn(y_true, y_pred); }
};

namespace losses {
Loss mse();
Loss mae();
Loss binary_crossentropy(bool from_logits = false);
Loss categorical_crossentropy(bool from_logits = false);
/// Labels are i64 (or whole numbers in a floating tensor) with the predictions' shape minus the last axis.
Loss sparse_categorical_crossentropy(bool from_logits = false);
/// A loss by Keras name, as `compile(…, "binary_crossentropy")` takes it: "mse" /
/// "mean_squared_error", "mae" / "mean_absolute_error", "binary_crossentropy",
/// "categorical_crossentropy", "sparse_categorical_crossentropy" (probabilities, as Keras's strings
/// mean; pass the function with from_logits = true for logits). ValueError for another name.
Loss by_name(const std::string& name);
/// The same, for the cross-entropies with `from_logits` (ValueError for from_logits with another loss).
Loss by_name(const std::string& name, bool from_logits);
}  // namespace losses

/// A metric accumulated over an epoch: each batch adds (sum, count); the value is sum / count.
struct Metric {
  std::string name;
  std::function<std::pair<double, double>(const Tensor& y_true, const Tensor& y_pred)> batch;
};

namespace metrics {
/// Fraction of rows whose arg-max prediction equals the integer label.
Metric sparse_categorical_accuracy();
/// Fraction of rows whose arg-max prediction equals the one-hot target's arg-max.
Metric categorical_accuracy();
/// Fraction of elements where (prediction > threshold) equals the 0/1 target.
Metric binary_accuracy(double threshold = 0.5);
/// Mean absolute error.
Metric mae();
/// Keras's "accuracy", resolved by the loss: sparse, categorical or binary accuracy (at 0 for logits).
Metric accuracy_for(const Loss& loss);
/// A metric by Keras name ("accuracy" needs the loss to resolve). With a from-logits loss,
/// "accuracy" and "binary_accuracy" threshold the logits at 0, the same decision as probabilities at
/// 0.5 (Keras thresholds the raw logits at 0.5 there, which is almost never what was meant).
/// ValueError for an unknown name.
Metric by_name(const std::string& name, const Loss& loss);
}  // namespace metrics

}  // namespace loom
