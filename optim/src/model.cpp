// SPDX-License-Identifier: Apache-2.0
// Model: batches, metrics, validation, callbacks and the progress display.
#include "loom/optim/model.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iomanip>
#include <iostream>
#include <limits>
#include <numeric>
#include <sstream>

#include "loom/autograd/tape.hpp"
#include "loom/core/check.hpp"
#include "loom/core/layout.hpp"
#include "loom/core/random.hpp"
#include "loom/layers/rnn.hpp"

namespace loom {
namespace {

using Clock = std::chrono::steady_clock;

bool has_stateful_rnn(const Layer& layer) {
  if (auto* rnn = dynamic_cast<const RNN*>(&layer); rnn && rnn->options().stateful) return true;
  for (const Layer* sub : layer.sublayers())
    if (has_stateful_rnn(*sub)) return true;
  return false;
}

Tensor take_rows(const Tensor& t, const std::vector<std::int64_t>& rows) {
  return core::gather_rows(t, Tensor::from_vector(rows, {static_cast<std::int64_t>(rows.size())}));
}

std::string format_logs(const Logs& logs) {
  std::ostringstream out;
  out << std::setprecision(4) << std::fixed;
  // Keras order: loss first, then the metrics, then the validation values.
  std::vector<std::string> keys;
  if (logs.count("loss")) keys.push_back("loss");
  for (const auto& [k, v] : logs)
    if (k != "loss" && k.rfind("val_", 0) != 0) keys.push_back(k);
  if (logs.count("val_loss")) keys.push_back("val_loss");
  for (const auto& [k, v] : logs)
    if (k != "val_loss" && k.rfind("val_", 0) == 0) keys.push_back(k);
  for (const std::string& k : keys) out << " - " << k << ": " << logs.at(k);
  return out.str();
}

std::string format_seconds(double s) {
  std::ostringstream out;
  if (s >= 3600)
    out << static_cast<int>(s / 3600) << ":" << std::setw(2) << std::setfill('0') << static_cast<int>(s / 60) % 60 << ":"
        << std::setw(2) << static_cast<int>(s) % 60;
  else if (s >= 60)
    out << static_cast<int>(s / 60) << ":" << std::setw(2) << std::setfill('0') << static_cast<int>(s) % 60;
  else
    out << static_cast<int>(std::lround(s)) << "s";
  return out.str();
}

}  // namespace

/// Running sums of the loss and each metric, weighted by batch size.
struct Model::Accumulator {
  std::vector<std::string> names;
  std::vector<double> sums, counts;
  void add(std::size_t i, double sum, double count) {
    sums[i] += sum;
    counts[i] += count;
  }
  Logs logs(const std::string& prefix = "") const {
    Logs out;
    // No samples at all (an empty x): NaN, not a 0 that would look like a perfect score.
    for (std::size_t i = 0; i < names.size(); ++i)
      out[prefix + names[i]] = counts[i] > 0 ? sums[i] / counts[i] : std::numeric_limits<double>::quiet_NaN();
    return out;
  }
};

Model::Model(Ref<Layer> network) : network_(network.get()) {
  LOOM_CHECK(network_ != nullptr, ValueError, "Model: the network is null.");
}

void Model::compile(std::shared_ptr<Optimizer> optimizer, Loss loss, std::vector<std::string> metrics) {
  LOOM_CHECK(optimizer != nullptr && static_cast<bool>(loss.fn), ValueError, "Model.compile: needs an optimizer and a loss.");
  std::vector<Metric> ms;
  for (const std::string& name : metrics) ms.push_back(metrics::by_name(name, loss));
  optimizer_ = std::move(optimizer);
  loss_ = std::move(loss);
  metrics_ = std::move(ms);
}

void Model::compile(const std::string& optimizer, const std::string& loss, std::vector<std::string> metrics) {
  compile(optimizers::by_name(optimizer), losses::by_name(loss), std::move(metrics));
}

void Model::compile(const std::string& optimizer, Loss loss, std::vector<std::string> metrics) {
  compile(optimizers::by_name(optimizer), std::move(loss), std::move(metrics));
}

Model::CompileState Model::compile_state() const {
  CompileState c{optimizer_, loss_, false, {}};
  for (const Metric& m : metrics_) c.metrics.push_back(m.name);
  if (optimizer_ != nullptr) {
    try {
      c.loss_known = losses::by_name(loss_.name, loss_.from_logits).name == loss_.name;
    } catch (const ValueError&) {
      c.loss_known = false;
    }
  }
  return c;
}

void Model::summary(std::ostream& out) const { out << loom::summary(*network_) << std::flush; }
void Model::summary() const { summary(std::cout); }

Optimizer& Model::optimizer() {
  LOOM_CHECK(optimizer_ != nullptr, StateError, "Model: call compile() first.");
  return *optimizer_;
}

void Model::distribute(std::shared_ptr<Strategy> strategy) { strategy_ = std::move(strategy); }

// Distributed training needs the weights before the first step (the gradient exchange is laid out
// over them, and a rank may have no rows in a step): build for this rank's block of a first batch,
// then start every replica from rank 0's weights.
void Model::sync_replicas(const Shape& x_shape, std::int64_t batch_size) {
  if (!network_->built() && x_shape.rank() >= 1 && x_shape[0] > 0) {
    Shape shape = x_shape;
    const auto [lo, hi] = strategy_->shard(std::min(x_shape[0], batch_size));
    shape[0] = std::max<std::int64_t>(hi - lo, 1);
    network_->build_for(shape);
  }
  std::vector<Tensor> values;
  for (const Var& w : network_->weights()) values.push_back(w.value());
  strategy_->broadcast(values);
  network_->set_weights(values);
}

// One optimizer step on this rank's rows of a global batch of `global_rows`. `sums` gets (sum, count)
// of the loss and each metric over these rows. Distributed, every rank calls it for every batch, with
// or without rows, because the gradient exchange is collective.
void Model::train_step(const Tensor& xb, const Tensor& yb, std::int64_t global_rows, std::vector<double>& sums) {
  const std::int64_t rows = xb.shape(0);
  const auto count = static_cast<double>(rows);
  // Distributed, the network was built before the first step; in one process it may build now, so the
  // weights are listed after the forward pass.
  std::vector<Var> weights = network_->trainable_weights();
  std::vector<Tensor> grads;
  Tensor pred;
  const auto forward_backward = [&](const GradientTape::GradientReady& ready) {
    GradientTape tape;
    const Var out = (*network_)(Var(xb), CallContext::train());
    const Var loss = loss_(yb, out);
    if (!ready) weights = network_->trainable_weights();
    grads = ready ? tape.gradient(loss, weights, ready) : tape.gradient(loss, weights);
    sums[0] += loss.value().item() * count;
    sums[1] += count;
    pred = out.value();
  };
  if (strategy_ == nullptr) {
    forward_backward({});
  } else {
    replica_random_.run(strategy_.get(), [&] {
      // Scaled by this rank's share, the sum over ranks is the gradient of the global batch's mean.
      const auto exchange = strategy_->reduce_gradients(weights, count / static_cast<double>(global_rows));
      if (rows > 0)
        forward_backward([&](std::size_t i, const Tensor& g) { exchange->ready(i, g); });
      else
        for (std::size_t i = 0; i < weights.size(); ++i)
          exchange->ready(i, Tensor::zeros(weights[i].shape(), weights[i].dtype()));
      grads = exchange->finish();
    });
  }
  optimizer_->apply_gradients(grads, weights);
  ++steps_done_;
  if (rows > 0)
    for (std::size_t i = 0; i < metrics_.size(); ++i) {
      const auto [s, c] = metrics_[i].batch(yb, pred);
      sums[2 * i + 2] += s;
      sums[2 * i + 3] += c;
    }
}

Logs Model::run_batches(const Tensor& x, const Tensor& y, const std::vector<std::int64_t>& order, std::int64_t batch_size,
                        bool train, std::ostream* progress,
                        const std::vector<std::shared_ptr<Callback>>& callbacks) {
  Accumulator acc{{"loss"}, {0.0}, {0.0}};
  for (const Metric& m : metrics_) acc.names.push_back(m.name);
  acc.sums.resize(acc.names.size(), 0.0);
  acc.counts.resize(acc.names.size(), 0.0);
  const auto n = static_cast<std::int64_t>(order.size());
  const std::int64_t batches = (n + batch_size - 1) / batch_size;
  const bool bar = progress != nullptr;
  const auto start = Clock::now();
  // (sum, count) of the loss and each metric: per batch when training (callbacks see every batch's
  // logs, the same on every rank), over all batches when evaluating (reduced once at the end).
  std::vector<double> sums(2 * acc.names.size(), 0.0);
  const auto fold = [&] {
    if (strategy_) strategy_->all_reduce_sum(sums);
    for (std::size_t i = 0; i < acc.names.size(); ++i) acc.add(i, sums[2 * i], sums[2 * i + 1]);
    std::fill(sums.begin(), sums.end(), 0.0);
  };
  // stop_training ends training only: evaluating (validation at the epoch's end, evaluate() after an
  // early stop) always sees every batch.
  for (std::int64_t b = 0; b < batches && !(train && stop_training); ++b) {
    const std::int64_t first = b * batch_size, global_rows = std::min(n, first + batch_size) - first;
    const auto [lo, hi] = strategy_ ? strategy_->shard(global_rows) : std::pair<std::int64_t, std::int64_t>{0, global_rows};
    const std::vector<std::int64_t> rows(order.begin() + first + lo, order.begin() + first + hi);
    const Tensor xb = take_rows(x, rows), yb = take_rows(y, rows);
    if (train) {
      train_step(xb, yb, global_rows, sums);
      fold();
    } else if (!rows.empty()) {
      NoGrad inference;
      const Var out = (*network_)(Var(xb), CallContext());
      const auto count = static_cast<double>(rows.size());
      sums[0] += loss_(yb, out).value().item() * count;
      sums[1] += count;
      for (std::size_t i = 0; i < metrics_.size(); ++i) {
        const auto [s, c] = metrics_[i].batch(yb, out.value());
        sums[2 * i + 2] += s;
        sums[2 * i + 3] += c;
      }
    }
    if (!train) continue;
    const Logs logs = acc.logs();
    for (const auto& cb : callbacks) cb->on_batch_end(*this, b, logs);
    if (bar) {  // a Keras-style bar, redrawn in place
      const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      const int width = 30, filled = static_cast<int>(width * (b + 1) / batches);
      std::ostringstream line;
      const int digits = static_cast<int>(std::to_string(batches).size());
      line << '\r' << std::setw(digits) << b + 1 << '/' << batches << " [" << std::string(std::max(filled - 1, 0), '=')
           << (b + 1 == batches ? '=' : '>') << std::string(width - std::max(filled, 1), '.') << "] - ";
      if (b + 1 < batches)
        line << "ETA: " << format_seconds(elapsed / static_cast<double>(b + 1) * static_cast<double>(batches - b - 1));
      else
        line << format_seconds(elapsed) << ' ' << static_cast<int>(1000 * elapsed / static_cast<double>(batches)) << "ms/step";
      line << format_logs(logs);
      *progress << line.str() << std::flush;
    }
  }
  if (!train) fold();
  return acc.logs();
}

History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& o) {
  LOOM_CHECK(optimizer_ != nullptr, StateError, "Model.fit: the model is not compiled; call compile() first.");
  LOOM_CHECK(x.defined() && y.defined() && x.dimension() >= 1 && y.dimension() >= 1 && x.shape(0) == y.shape(0),
             ValueError, "Model.fit: x and y must hold the same number of samples; got ", x.shape(), " and ", y.shape(), ".");
  LOOM_CHECK(o.batch_size > 0, ValueError, "Model.fit: batch_size must be positive; got ", o.batch_size, ".");
  LOOM_CHECK(o.validation_split >= 0 && o.validation_split < 1, ValueError,
             "Model.fit: validation_split must be in [0, 1); got ", o.validation_split, ".");
  LOOM_CHECK(!(o.shuffle && has_stateful_rnn(*network_)), ValueError,
             "Model.fit: shuffle=true with a stateful RNN would break the one-to-one mapping of samples across "
             "batches; pass shuffle = false.");
  // Hold out the last validation_split of the samples, before any shuffling (Keras's rule).
  std::int64_t n = x.shape(0);
  Tensor vx = o.validation_x, vy = o.validation_y;
  if (o.validation_split > 0) {
    const auto held = static_cast<std::int64_t>(static_cast<double>(n) * o.validation_split);
    vx = x.slice0(n - held, held);
    vy = y.slice0(n - held, held);
    n -= held;
  }
  const Tensor tx = x.slice0(0, n), ty = y.slice0(0, n);
  return run_or_fail(strategy_.get(), [&] { return fit_epochs(tx, ty, vx, vy, o); });
}

History Model::fit_epochs(const Tensor& tx, const Tensor& ty, const Tensor& vx, const Tensor& vy, const FitOptions& o) {
  const std::int64_t n = tx.shape(0);
  std::ostream& out = o.out ? *o.out : std::cout;
  const bool terminal = o.out == nullptr && ::isatty(STDOUT_FILENO);
  const int verbose = is_chief() ? o.verbose : 0;  // distributed: only rank 0 reports
  bool synced = strategy_ == nullptr;
  History history;
  stop_training = false;
  for (const auto& cb : o.callbacks) cb->on_train_begin(*this);
  for (int epoch = o.initial_epoch; epoch < o.epochs && !stop_training; ++epoch) {
    for (const auto& cb : o.callbacks) cb->on_epoch_begin(*this, epoch);
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    if (o.shuffle && n > 1) {  // sort by uniform keys from the default generator: reproducible and resumable
      const std::vector<double> keys = Tensor::uniform({n}, 0, 1, DType::f64).to_vector<double>();
      std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return keys[a] < keys[b]; });
    }
    // Built here, after the first shuffle and before the first step, a distributed model draws its
    // initial weights where one process would: the same seed gives the same run.
    if (!synced) {
      sync_replicas(tx.shape(), o.batch_size);
      synced = true;
    }
    const bool bar = verbose == 1 && terminal;
    if (bar) out << "Epoch " << epoch + 1 << '/' << o.epochs << '\n';
    const auto start = Clock::now();
    Logs logs = run_batches(tx, ty, order, o.batch_size, true, bar ? &out : nullptr, o.callbacks);
    if (vx.defined() && vx.numel() > 0) {
      std::vector<std::int64_t> vorder(static_cast<std::size_t>(vx.shape(0)));
      std::iota(vorder.begin(), vorder.end(), 0);
      const Logs val = run_batches(vx, vy, vorder, o.batch_size, false, nullptr, {});
      for (const auto& [k, v] : val) logs["val_" + k] = v;
    }
    epochs_done_ = epoch + 1;
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (bar) {  // the bar's last redraw shows the training values; validation values close the line
      Logs val;
      for (const auto& [k, v] : logs)
        if (k.rfind("val_", 0) == 0) val[k] = v;
      out << format_logs(val) << '\n' << std::flush;
    } else if (verbose == 2 || (verbose == 1 && !terminal)) {
      out << "Epoch " << epoch + 1 << '/' << o.epochs << " - " << format_seconds(seconds) << format_logs(logs) << '\n'
          << std::flush;
    }
    history.epoch.push_back(epoch);
    for (const auto& [k, v] : logs) history.history[k].push_back(v);
    if (strategy_) strategy_->end_epoch(network_->weights());
    for (const auto& cb : o.callbacks) cb->on_epoch_end(*this, epoch, logs);
  }
  for (const auto& cb : o.callbacks) cb->on_train_end(*this);
  return history;
}

Logs Model::evaluate(const Tensor& x, const Tensor& y, std::int64_t batch_size) {
  LOOM_CHECK(optimizer_ != nullptr || static_cast<bool>(loss_.fn), StateError, "Model.evaluate: call compile() first.");
  LOOM_CHECK(x.shape(0) == y.shape(0), ValueError, "Model.evaluate: x and y must hold the same number of samples; got ",
             x.shape(), " and ", y.shape(), ".");
  LOOM_CHECK(batch_size > 0, ValueError, "Model.evaluate: batch_size must be positive; got ", batch_size, ".");
  std::vector<std::int64_t> order(static_cast<std::size_t>(x.shape(0)));
  std::iota(order.begin(), order.end(), 0);
  return run_or_fail(strategy_.get(), [&] { return run_batches(x, y, order, batch_size, false, nullptr, {}); });
}

Tensor Model::predict(const Tensor& x, std::int64_t batch_size) {
  LOOM_CHECK(x.defined() && x.dimension() >= 1 && x.shape(0) > 0, ValueError,
             "Model.predict: x must hold at least one sample along its first axis; got shape ",
             x.defined() ? x.shape() : Shape{}, ".");
  LOOM_CHECK(batch_size > 0, ValueError, "Model.predict: batch_size must be positive; got ", batch_size, ".");
  return run_or_fail(strategy_.get(), [&] {
    NoGrad inference;
    const std::int64_t n = x.shape(0);
    // Distributed: each rank predicts its block of every batch; the blocks are gathered in rank
    // order, then put back in sample order.
    std::vector<Tensor> parts;
    for (std::int64_t b = 0; b < n; b += batch_size) {
      const std::int64_t rows = std::min(batch_size, n - b);
      const auto [lo, hi] = strategy_ ? strategy_->shard(rows) : std::pair<std::int64_t, std::int64_t>{0, rows};
      if (hi > lo) parts.push_back((*network_)(Var(x.slice0(b + lo, hi - lo)), CallContext()).value());
    }
    Tensor local = parts.empty() ? Tensor() : parts.size() == 1 ? parts[0] : core::concat(parts, 0);
    if (strategy_ == nullptr) return local;
    const Tensor all = strategy_->all_gather_rows(local);
    // Row k of `all`: rank r's blocks come one after another, batch by batch.
    std::vector<std::int64_t> where(static_cast<std::size_t>(n));
    std::int64_t k = 0;
    for (int r = 0; r < strategy_->world_size(); ++r)
      for (std::int64_t b = 0; b < n; b += batch_size) {
        const auto [lo, hi] = strategy_->shard(std::min(batch_size, n - b), r);
        for (std::int64_t i = lo; i < hi; ++i) where[static_cast<std::size_t>(b + i)] = k++;
      }
    return take_rows(all, where);
  });
}

Logs Model::train_on_batch(const Tensor& x, const Tensor& y) {
  LOOM_CHECK(optimizer_ != nullptr, StateError, "Model.train_on_batch: call compile() first.");
  std::vector<std::int64_t> order(static_cast<std::size_t>(x.shape(0)));
  std::iota(order.begin(), order.end(), 0);
  return run_or_fail(strategy_.get(), [&] {
    if (strategy_ && !network_->built()) sync_replicas(x.shape(), x.shape(0));
    return run_batches(x, y, order, x.shape(0), true, nullptr, {});
  });
}

void Model::save_checkpoint(const std::string& path) const {
  LOOM_CHECK(optimizer_ != nullptr, StateError, "Model.save_checkpoint: call compile() first.");
  loom::save_checkpoint(path, *network_, *optimizer_, {.epoch = epochs_done_, .step = steps_done_}, strategy_.get(),
                        &replica_random_);
}

void Model::load_checkpoint(const std::string& path) {
  LOOM_CHECK(optimizer_ != nullptr, StateError, "Model.load_checkpoint: call compile() first.");
  const TrainingPosition pos = loom::load_checkpoint(path, *network_, *optimizer_, strategy_.get(), &replica_random_);
  epochs_done_ = static_cast<int>(pos.epoch);
  steps_done_ = pos.step;
}

}  // namespace loom
