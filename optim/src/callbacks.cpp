// SPDX-License-Identifier: Apache-2.0
// Keras callbacks.
#include "loom/optim/callbacks.hpp"

#include <cmath>
#include <fstream>

#include "loom/core/check.hpp"

namespace loom {
namespace {

// Keras's "auto" mode: maximise accuracy-like quantities, minimise the rest.
bool maximise(const std::string& monitor, const std::string& mode, const char* api) {
  LOOM_CHECK(mode == "auto" || mode == "min" || mode == "max", ValueError, api, ": mode must be auto, min or max; got '",
             mode, "'.");
  if (mode != "auto") return mode == "max";
  return monitor.find("acc") != std::string::npos;
}

bool improved(double value, double best, double min_delta, bool max) {
  return max ? value > best + min_delta : value < best - min_delta;
}

double worst(bool max) { return max ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity(); }

const double* monitored(const Logs& logs, const std::string& key) {
  const auto it = logs.find(key);
  return it == logs.end() ? nullptr : &it->second;
}

}  // namespace

ModelCheckpoint::ModelCheckpoint(std::string filepath, ModelCheckpointOptions options)
    : filepath_(std::move(filepath)), options_(std::move(options)),
      best_(worst(maximise(options_.monitor, options_.mode, "ModelCheckpoint"))) {}

void ModelCheckpoint::on_epoch_end(Model& model, int epoch, const Logs& logs) {
  if (options_.save_best_only) {
    const double* v = monitored(logs, options_.monitor);
    if (v == nullptr) return;  // Keras warns and skips when the monitored value is missing
    if (!improved(*v, best_, 0.0, maximise(options_.monitor, options_.mode, "ModelCheckpoint"))) return;
    best_ = *v;
  }
  std::string path = filepath_;
  for (std::size_t at; (at = path.find("{epoch}")) != std::string::npos;) path.replace(at, 7, std::to_string(epoch + 1));
  if (options_.save_weights_only) {
    if (model.is_chief()) save_weights(model.network(), path);  // distributed: rank 0 writes, the weights are the same
  } else {
    model.save_checkpoint(path);  // distributed: every rank takes part (the carried states are gathered)
  }
}

EarlyStopping::EarlyStopping(EarlyStoppingOptions options) : options_(std::move(options)) {
  LOOM_CHECK(options_.patience >= 0, ValueError, "EarlyStopping: patience must be >= 0; got ", options_.patience, ".");
  maximise(options_.monitor, options_.mode, "EarlyStopping");
}

void EarlyStopping::on_train_begin(Model&) {
  best_ = worst(maximise(options_.monitor, options_.mode, "EarlyStopping"));
  wait_ = 0;
  stopped_epoch_ = -1;
  best_weights_.clear();
}

void EarlyStopping::on_epoch_end(Model& model, int epoch, const Logs& logs) {
  const double* v = monitored(logs, options_.monitor);
  if (v == nullptr) return;
  const bool max = maximise(options_.monitor, options_.mode, "EarlyStopping");
  if (improved(*v, best_, options_.min_delta, max)) {
    best_ = *v;
    wait_ = 0;
    if (options_.restore_best_weights) best_weights_ = model.network().get_weights();
    return;
  }
  // Keras: the patience-th epoch in a row without improvement stops training (never the first epoch).
  if (++wait_ >= options_.patience && epoch > 0) {
    stopped_epoch_ = epoch;
    model.stop_training = true;
    if (options_.restore_best_weights && !best_weights_.empty()) model.network().set_weights(best_weights_);
  }
}

CSVLogger::CSVLogger(std::string filename, char separator, bool append)
    : filename_(std::move(filename)), separator_(separator), append_(append) {}

void CSVLogger::on_train_begin(Model& model) {
  if (!model.is_chief()) return;  // distributed: rank 0 writes the log
  header_written_ = false;
  keys_.clear();
  if (!append_) std::ofstream(filename_, std::ios::trunc);  // start a fresh file
  else header_written_ = std::ifstream(filename_).peek() != std::ifstream::traits_type::eof();
}

void CSVLogger::on_epoch_end(Model& model, int epoch, const Logs& logs) {
  if (!model.is_chief()) return;
  std::ofstream out(filename_, std::ios::app);
  LOOM_CHECK(out.good(), FormatError, "CSVLogger: cannot write '", filename_, "'.");
  if (keys_.empty())
    for (const auto& [k, v] : logs) keys_.push_back(k);  // Logs is ordered: the keys come sorted, as Keras sorts them
  if (!header_written_) {
    out << "epoch";
    for (const std::string& k : keys_) out << separator_ << k;
    out << '\n';
    header_written_ = true;
  }
  out << epoch;
  out.precision(17);
  for (const std::string& k : keys_) {
    out << separator_;
    if (const auto it = logs.find(k); it != logs.end()) out << it->second;
    else out << "NA";
  }
  out << '\n';
}

void TerminateOnNaN::on_batch_end(Model& model, std::int64_t, const Logs& logs) {
  const auto it = logs.find("loss");
  if (it != logs.end() && !std::isfinite(it->second)) model.stop_training = true;
}

void LearningRateScheduler::on_epoch_begin(Model& model, int epoch) {
  model.optimizer().set_learning_rate(schedule_(epoch, model.optimizer().learning_rate()));
}

ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions options)
    : options_(std::move(options)), best_(worst(maximise(options_.monitor, options_.mode, "ReduceLROnPlateau"))) {
  LOOM_CHECK(options_.factor < 1.0 && options_.factor >= 0.0, ValueError,
             "ReduceLROnPlateau: ReduceLROnPlateau does not support a factor >= 1.0; got ", options_.factor, ".");
}

void ReduceLROnPlateau::on_epoch_end(Model& model, int, const Logs& logs) {
  const double* v = monitored(logs, options_.monitor);
  if (v == nullptr) return;
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    wait_ = 0;
  }
  if (improved(*v, best_, options_.min_delta, maximise(options_.monitor, options_.mode, "ReduceLROnPlateau"))) {
    best_ = *v;
    wait_ = 0;
  } else if (cooldown_left_ == 0 && ++wait_ >= options_.patience) {
    const double lr = model.optimizer().learning_rate();
    if (lr > options_.min_lr) {
      model.optimizer().set_learning_rate(std::max(lr * options_.factor, options_.min_lr));
      cooldown_left_ = options_.cooldown;
      wait_ = 0;
    }
  }
}

}  // namespace loom
