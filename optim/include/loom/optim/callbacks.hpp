// SPDX-License-Identifier: Apache-2.0
// Keras callbacks: checkpoints, early stopping, CSV logs, NaN guard, learning-rate control, lambdas.
#pragma once

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "loom/core/export.hpp"
#include "loom/optim/model.hpp"

namespace loom LOOM_API {

/// Options of `ModelCheckpoint` (Keras's arguments and defaults).
struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  bool save_best_only = false;
  bool save_weights_only = false;
  std::string mode = "auto";  ///< "min", "max", or "auto" (max for accuracy-like names)
};

/// Saves after every epoch (or only when `monitor` improves, with save_best_only). "{epoch}" in the
/// path becomes the 1-based epoch number. Full training checkpoints by default; weights only with
/// save_weights_only.
class ModelCheckpoint final : public Callback {
 public:
  ModelCheckpoint(std::string filepath, ModelCheckpointOptions options);
  explicit ModelCheckpoint(std::string filepath) : ModelCheckpoint(std::move(filepath), ModelCheckpointOptions{}) {}
  void on_epoch_end(Model& model, int epoch, const Logs& logs) override;

 private:
  std::string filepath_;
  ModelCheckpointOptions options_;
  double best_;
};

/// Options of `EarlyStopping` (Keras's arguments and defaults).
struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0.0;
  int patience = 0;
  std::string mode = "auto";
  bool restore_best_weights = false;
};

/// Stops training when `monitor` has not improved by min_delta for `patience` epochs; optionally
/// restores the best weights.
class EarlyStopping final : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  void on_train_begin(Model& model) override;
  void on_epoch_end(Model& model, int epoch, const Logs& logs) override;
  int stopped_epoch() const noexcept { return stopped_epoch_; }

 private:
  EarlyStoppingOptions options_;
  double best_ = 0;
  int wait_ = 0, stopped_epoch_ = -1;
  std::vector<Tensor> best_weights_;
};

/// Writes one CSV row per epoch: "epoch" (0-based) then the logs' keys in sorted order, like Keras's.
class CSVLogger final : public Callback {
 public:
  explicit CSVLogger(std::string filename, char separator = ',', bool append = false);
  void on_train_begin(Model& model) override;
  void on_epoch_end(Model& model, int epoch, const Logs& logs) override;

 private:
  std::string filename_;
  char separator_;
  bool append_;
  bool header_written_ = false;
  std::vector<std::string> keys_;
};

/// Stops training as soon as a batch loss is NaN or infinite.
class TerminateOnNaN final : public Callback {
 public:
  void on_batch_end(Model& model, std::int64_t batch, const Logs& logs) override;
};

/// Sets the learning rate at each epoch's start to schedule(epoch, current lr).
class LearningRateScheduler final : public Callback {
 public:
  explicit LearningRateScheduler(std::function<double(int, double)> schedule) : schedule_(std::move(schedule)) {}
  void on_epoch_begin(Model& model, int epoch) override;

 private:
  std::function<double(int, double)> schedule_;
};

/// Options of `ReduceLROnPlateau` (Keras's arguments and defaults).
struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;
  int patience = 10;
  std::string mode = "auto";
  double min_delta = 1e-4;
  int cooldown = 0;
  double min_lr = 0.0;
};

/// Multiplies the learning rate by `factor` when `monitor` stalls for `patience` epochs (Keras's
/// ReduceLROnPlateau: min_delta, cooldown, min_lr).
class ReduceLROnPlateau final : public Callback {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});
  void on_epoch_end(Model& model, int epoch, const Logs& logs) override;

 private:
  ReduceLROnPlateauOptions options_;
  double best_;
  int wait_ = 0, cooldown_left_ = 0;
};

/// A callback from lambdas (any may be empty).
class LambdaCallback final : public Callback {
 public:
  std::function<void(Model&, int)> epoch_begin;
  std::function<void(Model&, int, const Logs&)> epoch_end;
  std::function<void(Model&, std::int64_t, const Logs&)> batch_end;
  void on_epoch_begin(Model& m, int e) override {
    if (epoch_begin) epoch_begin(m, e);
  }
  void on_epoch_end(Model& m, int e, const Logs& l) override {
    if (epoch_end) epoch_end(m, e, l);
  }
  void on_batch_end(Model& m, std::int64_t b, const Logs& l) override {
    if (batch_end) batch_end(m, b, l);
  }
};

}  // namespace loom
