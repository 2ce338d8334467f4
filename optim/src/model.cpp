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
#include "loom/core/cpu.hpp"
#include "loom/core/layout.hpp"
#include "loom/core/parallel.hpp"
#include "loom/core/random.hpp"
#include "loom/core/reduce.hpp"
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

// Keras's class_weight as per-row weights: the class of each integer label, of each one-hot row's
// arg-max, or of each rounded 0/1 target. (N, 1) targets give (N, 1) weights, which the losses take
// for (N,) rows (they ignore trailing axes of 1).
Tensor class_weights_of(const Tensor& y, const std::map<std::int64_t, double>& class_weight) {
  std::vector<std::int64_t> classes;
  Shape rows = y.shape();
  if (!is_floating(y.dtype())) {
    classes = y.to(DType::i64).to_vector<std::int64_t>();
  } else if (y.dimension() >= 2 && y.shape(-1) > 1) {
    classes = core::argmax(y, -1).to_vector<std::int64_t>();
    rows = Shape();
    for (int i = 0; i + 1 < y.dimension(); ++i) rows.push_back(y.shape(i));
  } else {
    for (double v : y.to_vector<double>()) classes.push_back(static_cast<std::int64_t>(std::llround(v)));
  }
  std::vector<double> w(classes.size());
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const auto it = class_weight.find(classes[i]);
    if (it == class_weight.end()) {
      std::ostringstream have;
      for (const auto& [c, v] : class_weight) have << (have.tellp() > 0 ? ", " : "") << c;
      LOOM_CHECK(false, ValueError, "Model.fit: class_weight has no weight for class ", classes[i],
                 " (of sample ", static_cast<std::int64_t>(i) / std::max<std::int64_t>(rows.numel(1, rows.rank()), 1),
                 "); it has classes ", have.str(), ".");
    }
    w[i] = it->second;
  }
  return Tensor::from_vector(w, rows);
}

// The weights of one batch's loss rows: the sample weights, times the class weights if any. Sample
// weights of a leading part of the class weights' shape repeat over the rest.
Tensor batch_weights(const Tensor& y, const Tensor& sample_weight, const std::map<std::int64_t, double>* class_weight) {
  if (class_weight == nullptr || class_weight->empty()) return sample_weight;
  const Tensor cw = class_weights_of(y, *class_weight);
  if (!sample_weight.defined()) return cw;
  std::vector<double> w = cw.to_vector<double>();
  const std::vector<double> sw = sample_weight.to_vector<double>();
  LOOM_CHECK(!sw.empty() && w.size() % sw.size() == 0 && sample_weight.shape(0) == cw.shape(0), ValueError,
             "Model.fit: sample_weight of shape ", sample_weight.shape(), " cannot combine with class weights of the targets' shape ",
             cw.shape(), ".");
  const std::size_t repeat = w.size() / sw.size();
  for (std::size_t i = 0; i < w.size(); ++i) w[i] *= sw[i / repeat];
  return Tensor::from_vector(w, cw.shape());
}

void check_sample_weight(const char* api, const Tensor& w, std::int64_t samples) {
  if (!w.defined()) return;
  LOOM_CHECK(is_floating(w.dtype()), TypeError, api, ": sample_weight must be f32 or f64; got ", w.dtype(), ".");
  LOOM_CHECK(w.dimension() >= 1 && w.shape(0) == samples, ValueError, api,
             ": sample_weight must have one weight (or row of weights) per sample, ", samples, "; got shape ", w.shape(),
             ".");
}

}  // namespace

Model::Model(Ref<Layer> network) : network_(network.get()) {
  LOOM_CHECK(network_ != nullptr, ValueError, "Model: the network is null.");
}

void Model::compile(std::shared_ptr<Optimizer> optimizer, Loss loss, std::vector<std::string> metrics) {
  std::vector<Metric> ms;
  for (const std::string& name : metrics) ms.push_back(metrics::by_name(name, loss));
  compile(std::move(optimizer), std::move(loss), std::move(ms));
}

void Model::compile(std::shared_ptr<Optimizer> optimizer, Loss loss, std::vector<Metric> metrics) {
  LOOM_CHECK(optimizer != nullptr && static_cast<bool>(loss.fn), ValueError, "Model.compile: needs an optimizer and a loss.");
  for (Metric& m : metrics) {
    LOOM_CHECK(static_cast<bool>(m.batch) || (m.accumulate && m.result && m.state_size > 0), ValueError,
               "Model.compile: metric '", m.name, "' needs either batch, or accumulate, result and a state_size.");
    m = m.stateful();
  }
  optimizer_ = std::move(optimizer);
  loss_ = std::move(loss);
  metrics_ = std::move(metrics);
}

// Running sums: the loss's (sum, count), then each metric's state.
void Model::add_metrics(const Tensor& yb, const Tensor& pred, std::vector<double>& sums) const {
  std::size_t at = 2;
  for (const Metric& m : metrics_) {
    m.accumulate(yb, pred, std::span<double>(sums.data() + at, m.state_size));
    at += m.state_size;
  }
}

Logs Model::logs_of(const std::vector<double>& totals) const {
  Logs out;
  // No samples at all (an empty x): NaN, not a 0 that would look like a perfect score.
  out["loss"] = totals[1] > 0 ? totals[0] / totals[1] : std::numeric_limits<double>::quiet_NaN();
  std::size_t at = 2;
  for (const Metric& m : metrics_) {
    out[m.name] = m.result(std::span<const double>(totals.data() + at, m.state_size));
    at += m.state_size;
  }
  return out;
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
void Model::train_step(const Tensor& xb, const Tensor& yb, const Tensor& wb, std::int64_t global_rows,
                       std::vector<double>& sums) {
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
    const Var loss = loss_(yb, out, wb);
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
  if (rows > 0) add_metrics(yb, pred, sums);
}

Logs Model::run_batches(const Data& data, const std::vector<std::int64_t>& order, std::int64_t batch_size, bool train,
                        std::ostream* progress, const std::vector<std::shared_ptr<Callback>>& callbacks) {
  std::size_t state = 2;
  for (const Metric& m : metrics_) state += m.state_size;
  std::vector<double> totals(state, 0.0);
  const auto n = static_cast<std::int64_t>(order.size());
  const std::int64_t batches = (n + batch_size - 1) / batch_size;
  const bool bar = progress != nullptr;
  const auto start = Clock::now();
  // The loss's (sum, count) and the metrics' states: reduced per batch when training (callbacks see
  // every batch's logs, the same on every rank), over all batches when evaluating (once at the end).
  std::vector<double> sums(state, 0.0);
  const auto fold = [&] {
    if (strategy_) strategy_->all_reduce_sum(sums);
    for (std::size_t i = 0; i < state; ++i) totals[i] += sums[i];
    std::fill(sums.begin(), sums.end(), 0.0);
  };
  // stop_training ends training only: evaluating (validation at the epoch's end, evaluate() after an
  // early stop) always sees every batch.
  for (std::int64_t b = 0; b < batches && !(train && stop_training); ++b) {
    const std::int64_t first = b * batch_size, global_rows = std::min(n, first + batch_size) - first;
    const auto [lo, hi] = strategy_ ? strategy_->shard(global_rows) : std::pair<std::int64_t, std::int64_t>{0, global_rows};
    const std::vector<std::int64_t> rows(order.begin() + first + lo, order.begin() + first + hi);
    const Tensor xb = take_rows(data.x, rows), yb = take_rows(data.y, rows);
    const Tensor wb = batch_weights(yb, data.weight.defined() ? take_rows(data.weight, rows) : Tensor(), data.class_weight);
    if (train) {
      train_step(xb, yb, wb, global_rows, sums);
      fold();
    } else if (!rows.empty()) {
      NoGrad inference;
      const Var out = (*network_)(Var(xb), CallContext());
      const auto count = static_cast<double>(rows.size());
      sums[0] += loss_(yb, out, wb).value().item() * count;
      sums[1] += count;
      add_metrics(yb, out.value(), sums);
    }
    if (!train) continue;
    const Logs logs = logs_of(totals);
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
  return logs_of(totals);
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
  check_sample_weight("Model.fit", o.sample_weight, x.shape(0));
  if (o.validation_x.defined()) check_sample_weight("Model.fit (validation)", o.validation_sample_weight, o.validation_x.shape(0));
  LOOM_CHECK((!o.sample_weight.defined() && o.class_weight.empty()) || static_cast<bool>(loss_.weighted), ValueError,
             "Model.fit: the loss '", loss_.name, "' takes no sample weights (Loss::weighted is not set), so sample_weight "
             "and class_weight cannot be used with it.");
  // Hold out the last validation_split of the samples, before any shuffling (Keras's rule).
  std::int64_t n = x.shape(0);
  Tensor vx = o.validation_x, vy = o.validation_y, vw = o.validation_sample_weight;
  if (o.validation_split > 0) {
    const auto held = static_cast<std::int64_t>(static_cast<double>(n) * o.validation_split);
    vx = x.slice0(n - held, held);
    vy = y.slice0(n - held, held);
    vw = o.sample_weight.defined() ? o.sample_weight.slice0(n - held, held) : Tensor();
    n -= held;
  }
  const Tensor tx = x.slice0(0, n), ty = y.slice0(0, n);
  const Tensor tw = o.sample_weight.defined() ? o.sample_weight.slice0(0, n) : Tensor();
  // Class weights apply to training only (Keras's rule); validation sees the sample weights alone.
  const Data train{tx, ty, tw, &o.class_weight}, validation{vx, vy, vw};
  return run_or_fail(strategy_.get(), [&] { return fit_epochs(train, validation, o); });
}

History Model::fit_epochs(const Data& train, const Data& validation, const FitOptions& o) {
  const Tensor& tx = train.x;
  const Tensor& vx = validation.x;
  const std::int64_t n = tx.shape(0);
  std::ostream& out = o.out ? *o.out : std::cout;
  const bool terminal = o.out == nullptr && ::isatty(STDOUT_FILENO);
  const int verbose = is_chief() ? o.verbose : 0;  // distributed: only rank 0 reports
  bool synced = strategy_ == nullptr;
  History history;
  stop_training = false;
  if (verbose > 0) {  // what runs: the data, and the kernels and threads the speed depends on
    out << "Train on " << n << " samples";
    if (vx.defined() && vx.numel() > 0) out << ", validate on " << vx.shape(0) << " samples";
    out << " - kernels: " << cpu_isa() << " - threads: " << num_threads() << '\n' << std::flush;
  }
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
    Logs logs = run_batches(train, order, o.batch_size, true, bar ? &out : nullptr, o.callbacks);
    if (vx.defined() && vx.numel() > 0) {
      std::vector<std::int64_t> vorder(static_cast<std::size_t>(vx.shape(0)));
      std::iota(vorder.begin(), vorder.end(), 0);
      const Logs val = run_batches(validation, vorder, o.batch_size, false, nullptr, {});
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

Logs Model::evaluate(const Tensor& x, const Tensor& y, std::int64_t batch_size, const Tensor& sample_weight) {
  LOOM_CHECK(optimizer_ != nullptr || static_cast<bool>(loss_.fn), StateError, "Model.evaluate: call compile() first.");
  LOOM_CHECK(x.shape(0) == y.shape(0), ValueError, "Model.evaluate: x and y must hold the same number of samples; got ",
             x.shape(), " and ", y.shape(), ".");
  LOOM_CHECK(batch_size > 0, ValueError, "Model.evaluate: batch_size must be positive; got ", batch_size, ".");
  std::vector<std::int64_t> order(static_cast<std::size_t>(x.shape(0)));
  std::iota(order.begin(), order.end(), 0);
  check_sample_weight("Model.evaluate", sample_weight, x.shape(0));
  return run_or_fail(strategy_.get(), [&] { return run_batches({x, y, sample_weight}, order, batch_size, false, nullptr, {}); });
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

Logs Model::train_on_batch(const Tensor& x, const Tensor& y, const Tensor& sample_weight,
                           const std::map<std::int64_t, double>& class_weight) {
  LOOM_CHECK(optimizer_ != nullptr, StateError, "Model.train_on_batch: call compile() first.");
  LOOM_CHECK(x.defined() && y.defined() && x.dimension() >= 1 && y.dimension() >= 1 && x.shape(0) == y.shape(0),
             ValueError, "Model.train_on_batch: x and y must hold the same number of samples; got ",
             x.defined() ? x.shape() : Shape{}, " and ", y.defined() ? y.shape() : Shape{}, ".");
  check_sample_weight("Model.train_on_batch", sample_weight, x.shape(0));
  std::vector<std::int64_t> order(static_cast<std::size_t>(x.shape(0)));
  std::iota(order.begin(), order.end(), 0);
  return run_or_fail(strategy_.get(), [&] {
    if (strategy_ && !network_->built()) sync_replicas(x.shape(), x.shape(0));
    return run_batches({x, y, sample_weight, &class_weight}, order, x.shape(0), true, nullptr, {});
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
