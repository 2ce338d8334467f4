// SPDX-License-Identifier: Apache-2.0
// Model: compile / fit / evaluate / predict over a layer, with callbacks and a Keras-style progress bar.
#pragma once

#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "loom/core/export.hpp"
#include "loom/layers/layer.hpp"
#include "loom/optim/checkpoint.hpp"
#include "loom/optim/losses.hpp"
#include "loom/optim/optimizer.hpp"
#include "loom/optim/strategy.hpp"

namespace loom LOOM_API {

/// Metric values by name ("loss", "accuracy", "val_loss", …).
using Logs = std::map<std::string, double>;

class Model;

/// Hooks into `Model::fit`, as Keras callbacks. Epochs are counted from 0 here (Keras's convention).
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(Model&) {}
  virtual void on_epoch_begin(Model&, int /*epoch*/) {}
  virtual void on_batch_end(Model&, std::int64_t /*batch*/, const Logs&) {}
  virtual void on_epoch_end(Model&, int /*epoch*/, const Logs&) {}
  virtual void on_train_end(Model&) {}
};

/// Options of `Model::fit`; names and defaults follow `keras.Model.fit`.
struct FitOptions {
  int epochs = 1;
  std::int64_t batch_size = 32;
  bool shuffle = true;             ///< reshuffle every epoch (refused for stateful models)
  double validation_split = 0.0;   ///< the last fraction of the samples, held out before shuffling
  Tensor validation_x, validation_y;
  /// Keras's sample_weight: a weight per sample, shape (N,), or per loss row, e.g. (N, T) for a
  /// sequence of labels (the rule is in autograd/ops/loss.hpp). The loss is Σ w·l over the batch size;
  /// metrics stay unweighted, as Keras's `metrics` are. validation_split splits the weights too.
  Tensor sample_weight;
  /// Keras's class_weight: class index → weight, multiplied into the sample weights during training
  /// only. Classes are the labels of integer targets, the arg-max of one-hot targets (last axis > 1),
  /// or the rounded value of 0/1 targets. ValueError for a class without a weight.
  std::map<std::int64_t, double> class_weight;
  /// Weights of validation_x's samples (Keras's third element of validation_data).
  Tensor validation_sample_weight;
  std::vector<std::shared_ptr<Callback>> callbacks;
  int verbose = 1;                 ///< 0 silent; 1 a progress bar on a terminal, else a line per epoch; 2 a line per epoch
  int initial_epoch = 0;           ///< to resume: epochs already done
  std::ostream* out = nullptr;     ///< where progress goes (std::cout by default)
};

/// What `fit` returns: per-epoch logs.
struct History {
  std::vector<int> epoch;
  std::map<std::string, std::vector<double>> history;
};

/// A trainable model: a network layer (often a Sequential), an optimizer, a loss and metrics.
///
/// Example:
///   Model model(Sequential({LSTM(64), Dense(10)}));
///   model.compile(std::make_shared<Adam>(AdamOptions{.learning_rate = 3e-3}),
///                 losses::sparse_categorical_crossentropy(/*from_logits=*/true), {"accuracy"});
///   History h = model.fit(x, y, {.epochs = 5, .batch_size = 64, .validation_split = 0.1});
class Model {
 public:
  /// `Model model(Sequential({LSTM(64), Dense(10)}))`, or a shared network kept elsewhere.
  explicit Model(Ref<Layer> network);
  void compile(std::shared_ptr<Optimizer> optimizer, Loss loss, std::vector<std::string> metrics = {});
  /// With metric objects, for options the names cannot carry: `{metrics::auc({.curve = AUCOptions::Curve::pr})}`.
  void compile(std::shared_ptr<Optimizer> optimizer, Loss loss, std::vector<Metric> metrics);
  /// Keras's string form: `compile("adam", "binary_crossentropy", {"accuracy"})` (see
  /// `optimizers::by_name` and `losses::by_name`).
  void compile(const std::string& optimizer, const std::string& loss, std::vector<std::string> metrics = {});
  void compile(const std::string& optimizer, Loss loss, std::vector<std::string> metrics = {});

  /// Trains on (x, y) — samples along the first axis of both. ValueError for mismatched sample
  /// counts, shuffle with a stateful model, or a model that is not compiled.
  History fit(const Tensor& x, const Tensor& y, const FitOptions& options = {});
  /// Loss and metrics over (x, y), in inference mode; the loss weighted by `sample_weight` if given.
  Logs evaluate(const Tensor& x, const Tensor& y, std::int64_t batch_size = 32, const Tensor& sample_weight = {});
  /// Outputs for x, batch by batch, in inference mode.
  Tensor predict(const Tensor& x, std::int64_t batch_size = 32);
  /// One optimizer step on one batch; returns its loss and metrics.
  Logs train_on_batch(const Tensor& x, const Tensor& y, const Tensor& sample_weight = {},
                      const std::map<std::int64_t, double>& class_weight = {});

  /// Prints Keras's summary table of the network (see `loom::summary`); StateError before it is built.
  void summary(std::ostream& out) const;
  void summary() const;

  /// How the model was compiled (null optimizer if it was not), for `save_model`. `loss_known` says
  /// whether the loss is one `losses::by_name` can rebuild.
  struct CompileState {
    std::shared_ptr<Optimizer> optimizer;
    Loss loss;
    bool loss_known = false;
    std::vector<std::string> metrics;
  };
  CompileState compile_state() const;

  Layer& network() noexcept { return *network_; }
  Optimizer& optimizer();
  /// Epochs completed by fit (restored by load_checkpoint).
  int epochs_done() const noexcept { return epochs_done_; }
  /// Set by a callback to end fit after the current batch / epoch.
  bool stop_training = false;

  /// Trains, evaluates and predicts data-parallel from now on, as Keras under
  /// `MultiWorkerMirroredStrategy`: every rank runs the same program on the same data, and each global
  /// batch is cut into one contiguous block per rank (`Strategy::shard`). At the start of `fit` the
  /// weights are built and made rank 0's; each step's gradients are scaled by the rank's share of the
  /// batch and summed across ranks, so every rank applies the same update and the weights stay
  /// identical. Logs are reduced over ranks, so callbacks see the same values everywhere. Only rank 0
  /// draws the progress bar; file-writing callbacks write on rank 0 only. A rank that throws inside
  /// `fit`, `evaluate` or `predict` reports it through `Strategy::fail` (an MPI strategy ends the job).
  /// Pass nullptr to go back to one process.
  void distribute(std::shared_ptr<Strategy> strategy);
  Strategy* strategy() const noexcept { return strategy_.get(); }
  /// True unless this is a rank other than 0 of a distributed model.
  bool is_chief() const noexcept { return strategy_ == nullptr || strategy_->is_chief(); }

  /// A training checkpoint (see `loom::save_checkpoint`). Distributed: a collective call, rank 0 writes.
  void save_checkpoint(const std::string& path) const;
  /// Restores weights, optimizer, carried states, generator and the epoch count.
  void load_checkpoint(const std::string& path);

 private:
  /// One pass over some samples: x, y, their weights (optional) and the class weights (training).
  struct Data {
    const Tensor& x;
    const Tensor& y;
    const Tensor& weight;
    const std::map<std::int64_t, double>* class_weight = nullptr;
  };
  Logs run_batches(const Data& data, const std::vector<std::int64_t>& order, std::int64_t batch_size, bool train,
                   std::ostream* progress, const std::vector<std::shared_ptr<Callback>>& callbacks);
  History fit_epochs(const Data& train, const Data& validation, const FitOptions& o);
  void sync_replicas(const Shape& x_shape, std::int64_t batch_size);
  void train_step(const Tensor& xb, const Tensor& yb, const Tensor& wb, std::int64_t global_rows,
                  std::vector<double>& sums);
  void add_metrics(const Tensor& yb, const Tensor& pred, std::vector<double>& sums) const;
  Logs logs_of(const std::vector<double>& totals) const;

  std::shared_ptr<Layer> network_;
  std::shared_ptr<Optimizer> optimizer_;
  Loss loss_;
  std::vector<Metric> metrics_;
  int epochs_done_ = 0;
  std::int64_t steps_done_ = 0;
  std::shared_ptr<Strategy> strategy_;
  mutable ReplicaRandom replica_random_;  // saving a checkpoint reads every rank's position
};

}  // namespace loom
