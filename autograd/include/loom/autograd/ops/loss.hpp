// SPDX-License-Identifier: Apache-2.0
// Losses with Keras's formulas, reduced as Keras's default "sum over batch size": the per-sample loss
// averaged over the batch (the leading axis). Argument order is Keras's: (y_true, y_pred).
#pragma once

#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"

namespace loom LOOM_API {

// Over an empty batch (no elements or no rows) every loss here is 0 and every gradient is empty:
// PyTorch's mean would give NaN, which would poison a running mean or an optimizer's moments.

/// Sample weights (Keras's `sample_weight`), the optional last argument of every loss here. A loss's
/// per-sample terms are its *rows*: every position of y_pred but the last axis (for a rank-1 y_pred
/// of mse, mae or binary cross-entropy, every element; of a categorical one, a single row). The weights have the rows' shape or a leading part of it, e.g. (B,) for rows of
/// (B, T), and repeat over the remaining axes; trailing axes of 1 are ignored where they do not
/// match ((B, 1) weighs rows (B,) or (B, T)). The weighted loss is Keras's "sum over batch size": Σ_r w_r · L_r / R, with L_r the
/// row's loss and R the number of rows (not the sum of the weights). Undefined weights give the
/// unweighted loss, bit for bit. ValueError for weights of another shape, TypeError for non-float.

/// mean((y_pred − y_true)²) over every axis; weighted, the row's L is the mean over the last axis.
Var mse(const Var& y_true, const Var& y_pred, const Tensor& sample_weight = {});

/// mean(|y_pred − y_true|) over every axis; weighted, the row's L is the mean over the last axis.
Var mae(const Var& y_true, const Var& y_pred, const Tensor& sample_weight = {});

/// Binary cross-entropy, averaged over every axis. Probabilities are clipped to [1e-7, 1 − 1e-7] and
/// the loss is −(t·log(p + ε) + (1 − t)·log(1 − p + ε)) (tf.keras). With `from_logits`, the stable
/// max(x, 0) − x·t + log(1 + e^−|x|). Weighted, the row's L is the mean over the last axis.
Var binary_crossentropy(const Var& y_true, const Var& y_pred, bool from_logits = false,
                        const Tensor& sample_weight = {});

/// Categorical cross-entropy over the last axis (one-hot or soft targets), mean over the other axes.
/// Probabilities are renormalised over the last axis and clipped to [1e-7, 1 − 1e-7] (tf.keras);
/// with `from_logits`, −Σ t · log_softmax(x).
Var categorical_crossentropy(const Var& y_true, const Var& y_pred, bool from_logits = false,
                             const Tensor& sample_weight = {});

/// Like categorical_crossentropy with integer class labels: `labels` (i64) has y_pred's shape minus
/// the last axis. Probabilities are clipped to [1e-7, 1 − 1e-7] then treated as unnormalised
/// (tf.keras: −log(p_label / Σ p)); with `from_logits`, −log_softmax(x)[label].
Var sparse_categorical_crossentropy(const Tensor& labels, const Var& y_pred, bool from_logits = false,
                                    const Tensor& sample_weight = {});

}  // namespace loom
