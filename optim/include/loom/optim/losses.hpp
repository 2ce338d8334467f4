// SPDX-License-Identifier: Apache-2.0
// Losses and metrics by Keras name, as objects the training loop can call, name and log.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>

#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"

namespace loom LOOM_API {

/// A loss for the training loop: (targets, predictions) → scalar Var, with its Keras name.
struct Loss {
  std::string name;
  std::function<Var(const Tensor& y_true, const Var& y_pred)> fn;
  /// The model's outputs are logits (what the cross-entropies' from_logits says); metrics that
  /// threshold probabilities threshold the logits at 0 instead of 0.5.
  bool from_logits = false;
  /// The loss with Keras's `sample_weight` (per-sample weights; see autograd/ops/loss.hpp), what
  /// `fit`'s sample and class weights call. The built-in losses have it; a custom loss without it
  /// cannot be trained with weights (ValueError).
  std::function<Var(const Tensor& y_true, const Var& y_pred, const Tensor& sample_weight)> weighted;
  Var operator()(const Tensor& y_true, const Var& y_pred) const { return fn(y_true, y_pred); }
  /// The weighted loss; undefined weights call the unweighted one.
  Var operator()(const Tensor& y_true, const Var& y_pred, const Tensor& sample_weight) const;
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

/// A metric accumulated over an epoch, in one of two forms.
/// - Simple: `batch` gives each batch's (sum, count); the value is sum / count (NaN with no count).
/// - Stateful (precision, recall, AUC): `accumulate` adds a batch to `state_size` running sums (say,
///   confusion counts) and `result` turns the sums into the value.
/// Either way the state is a vector of sums, so batches and distributed ranks combine by adding.
struct Metric {
  std::string name;
  std::function<std::pair<double, double>(const Tensor& y_true, const Tensor& y_pred)> batch;
  std::size_t state_size = 0;
  std::function<void(const Tensor& y_true, const Tensor& y_pred, std::span<double> state)> accumulate;
  std::function<double(std::span<const double> state)> result;
  /// The stateful form of either: a simple metric becomes state (sum, count) with value sum / count.
  Metric stateful() const;
};

/// Options of `metrics::auc`, named as in `keras.metrics.AUC`.
struct AUCOptions {
  int num_thresholds = 200;  ///< ≥ 2: 0 − ε, then num_thresholds − 2 evenly spaced in (0, 1), then 1 + ε
  enum class Curve { roc, pr } curve = Curve::roc;
  bool from_logits = false;  ///< apply a sigmoid to the predictions first
  std::string name = "auc";
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
/// Keras's `Precision`: true positives / predicted positives over every element, a prediction being
/// positive when above `threshold` and a target when non-zero; 0 when nothing is predicted positive.
/// With `from_logits`, a sigmoid is applied first.
Metric precision(double threshold = 0.5, bool from_logits = false);
/// Keras's `Recall`: true positives / actual positives (0 when there are none).
Metric recall(double threshold = 0.5, bool from_logits = false);
/// Keras's `AUC`: confusion counts at fixed thresholds, then the area under the ROC curve (trapezoids)
/// or the precision-recall curve (Davis & Goadrich interpolation), as tf.keras computes them with
/// summation_method "interpolation". ValueError for num_thresholds outside [2, 2^20].
Metric auc(const AUCOptions& options = {});
/// Keras's "accuracy", resolved by the loss: sparse, categorical or binary accuracy (at 0 for logits).
Metric accuracy_for(const Loss& loss);
/// A metric by Keras name ("accuracy" needs the loss to resolve). With a from-logits loss,
/// "accuracy" and "binary_accuracy" threshold the logits at 0, the same decision as probabilities at
/// 0.5 (Keras thresholds the raw logits at 0.5 there, which is almost never what was meant), and
/// "precision", "recall" and "auc" (also spelt "Precision", "Recall", "AUC") take their sigmoid.
/// ValueError for an unknown name.
Metric by_name(const std::string& name, const Loss& loss);
}  // namespace metrics

}  // namespace loom
