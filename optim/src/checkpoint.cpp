// SPDX-License-Identifier: Apache-2.0
// save/load of weights and training checkpoints over the safetensors layout.
#include "loom/optim/checkpoint.hpp"

#include <functional>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "loom/core/check.hpp"
#include "loom/core/json_util.hpp"
#include "loom/core/random.hpp"
#include "loom/core/safetensors.hpp"
#include "loom/layers/rnn.hpp"
#include "weights_io.hpp"

namespace loom {
namespace detail {

// The weights by name, and their order in the model ("weight_order", a JSON array of the names),
// which structural loading follows.
TensorFile weights_file(const Layer& model) {
  TensorFile f;
  std::set<std::string> seen;
  nlohmann::json order = nlohmann::json::array();
  for (const Var& w : model.weights()) {
    LOOM_CHECK(seen.insert(w.name()).second, ValueError, "save_weights: two weights are named '", w.name(),
               "'; give the layers distinct names.");
    f.tensors.emplace_back(w.name(), w.value());
    order.push_back(w.name());
  }
  f.metadata["weight_order"] = order.dump();
  return f;
}

}  // namespace detail

namespace {

using detail::weights_file;

// The names of a file's "weight_order", checked: a JSON array of distinct names of tensors the file
// holds. Empty when the file has no such record.
std::vector<std::string> saved_order(const TensorFile& f, const std::string& path) {
  const auto it = f.metadata.find("weight_order");
  if (it == f.metadata.end()) return {};
  nlohmann::json order;
  try {
    order = nlohmann::json::parse(it->second, detail::StrictJsonParse<nlohmann::json>("load_weights: weight_order"));
  } catch (const nlohmann::json::exception&) {
    LOOM_CHECK(false, FormatError, "load_weights: '", path, "': __metadata__ 'weight_order' is not valid JSON.");
  }
  LOOM_CHECK(order.is_array(), FormatError, "load_weights: '", path,
             "': __metadata__ 'weight_order' must be a JSON array of weight names.");
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& n : order) {
    LOOM_CHECK(n.is_string(), FormatError, "load_weights: '", path, "': 'weight_order' holds ",
               detail::json_excerpt(n, 40), ", not a weight name.");
    const std::string name = n.get<std::string>();
    LOOM_CHECK(f.contains(name), FormatError, "load_weights: '", path, "': 'weight_order' names '", name.substr(0, 80),
               "', which the file does not hold.");
    LOOM_CHECK(seen.insert(name).second, FormatError, "load_weights: '", path, "': 'weight_order' names '",
               name.substr(0, 80), "' twice.");
    names.push_back(name);
  }
  return names;
}

// A checkpoint's tensors renamed by structure: the file's i-th saved weight takes the name of the
// model's i-th weight, and its optimizer slots (optimizer/<weight>/<slot>) follow it. Weight paths
// begin with the model's own name (sequential_3/…), which a model built again in the same process
// does not share. A file without a weight order, or with another number of weights, keeps its names
// (check_weights then names what does not match).
TensorFile renamed_by_structure(const TensorFile& f, const Layer& model, const std::string& path) {
  const std::vector<std::string> order = saved_order(f, path);
  const std::vector<Var> ws = model.weights();
  if (order.empty() || order.size() != ws.size()) return f;
  std::map<std::string, std::string> rename;
  for (std::size_t i = 0; i < ws.size(); ++i) rename[order[i]] = ws[i].name();
  TensorFile out;
  out.metadata = f.metadata;
  for (const auto& [name, t] : f.tensors) {
    std::string renamed = name;
    if (const auto it = rename.find(name); it != rename.end()) {
      renamed = it->second;
    } else if (name.rfind("optimizer/", 0) == 0) {
      const std::string key = name.substr(10);
      const std::size_t slash = key.rfind('/');
      if (slash != std::string::npos)
        if (const auto w = rename.find(key.substr(0, slash)); w != rename.end())
          renamed = "optimizer/" + w->second + key.substr(slash);
    }
    out.tensors.emplace_back(std::move(renamed), t);
  }
  return out;
}

// Stateful RNN layers anywhere in the model, depth first.
std::vector<RNN*> stateful_layers(const Layer& model) {
  std::vector<RNN*> out;
  std::function<void(const Layer*)> walk = [&](const Layer* l) {
    if (auto* rnn = dynamic_cast<const RNN*>(l); rnn && rnn->options().stateful) out.push_back(const_cast<RNN*>(rnn));
    for (const Layer* sub : l->sublayers()) walk(sub);
  };
  walk(&model);
  return out;
}

// Checks that `file` holds a tensor for every weight (same shape and dtype) and, unless
// `extra_prefixes` covers them, nothing else.
void check_weights(const TensorFile& file, const Layer& model, const std::string& path,
                   const std::vector<std::string>& extra_prefixes) {
  const std::vector<Var> ws = model.weights();
  // An unbuilt model has no weights yet, so every tensor of the file would look foreign.
  bool file_has_weights = false;
  for (const auto& [name, t] : file.tensors) {
    bool extra = false;
    for (const std::string& p : extra_prefixes) extra = extra || name.rfind(p, 0) == 0;
    file_has_weights = file_has_weights || !extra;
  }
  LOOM_CHECK(model.built() || !file_has_weights, StateError, "load_weights: the model ", model.name(),
             " is not built, so it has no weights to load '", path,
             "' into; build it first (call it on an input, or build_for(input_shape)).");
  std::set<std::string> names;
  for (const Var& w : ws) {
    names.insert(w.name());
    LOOM_CHECK(file.contains(w.name()), FormatError, "load_weights: '", path, "' has no tensor for weight '", w.name(),
               "'. Hint: default layer names come from per-class counters (lstm, lstm_1, ...), so a model built again "
               "in the same process has other names; name the layers (load_weights also matches by structure, its default).");
    const Tensor& t = file.at(w.name());
    LOOM_CHECK(t.shape() == w.shape() && t.dtype() == w.dtype(), FormatError, "load_weights: '", path, "': weight '",
               w.name(), "' is ", w.shape(), " ", w.dtype(), " in the model but ", t.shape(), " ", t.dtype(), " in the file.");
  }
  for (const auto& [name, t] : file.tensors) {
    bool extra_ok = false;
    for (const std::string& p : extra_prefixes) extra_ok = extra_ok || name.rfind(p, 0) == 0;
    LOOM_CHECK(names.count(name) || extra_ok, FormatError, "load_weights: '", path, "' has a tensor '", name,
               "' that is not a weight of ", model.name(), ".");
  }
}

// __metadata__[key] as a whole number in [0, max]: digits only (no sign, no spaces), no overflow.
// The generator's seed, stream and offset are unsigned 64-bit, the epoch and step non-negative.
std::uint64_t meta_uint(const TensorFile& f, const std::string& key, const std::string& path, std::uint64_t max) {
  const auto it = f.metadata.find(key);
  LOOM_CHECK(it != f.metadata.end(), FormatError, "load_checkpoint: '", path, "' has no '", key, "' in __metadata__.");
  const std::string& text = it->second;
  bool ok = !text.empty() && text.size() <= 20;
  std::uint64_t v = 0;
  for (char c : text) {
    ok = ok && c >= '0' && c <= '9' && !__builtin_mul_overflow(v, 10u, &v) &&
         !__builtin_add_overflow(v, static_cast<std::uint64_t>(c - '0'), &v);
    if (!ok) break;
  }
  LOOM_CHECK(ok && v <= max, FormatError, "load_checkpoint: '", path, "': __metadata__ '", key,
             "' must be a whole number in [0, ", max, "]; got '", text.substr(0, 40), "'.");
  return v;
}

}  // namespace

void save_weights(const Layer& model, const std::string& path) {
  TensorFile f = weights_file(model);
  f.metadata["format"] = "loom.weights";
  save_safetensors(path, f);
}

void load_weights(Layer& model, const std::string& path, LoadWeightsOptions options) {
  detail::load_weights_from(load_safetensors(path), model, path, options);
}

void detail::load_weights_from(const TensorFile& f, Layer& model, const std::string& path, LoadWeightsOptions options) {
  const std::vector<std::string> order = saved_order(f, path);
  if (options.by_name || order.empty()) {
    check_weights(f, model, path, {});
    std::vector<Tensor> values;
    for (const Var& w : model.weights()) values.push_back(f.at(w.name()));
    model.set_weights(values);
    return;
  }
  // Structural: the i-th weight of the model takes the i-th weight the file saved.
  const std::vector<Var> ws = model.weights();
  LOOM_CHECK(model.built(), StateError, "load_weights: the model ", model.name(), " is not built, so it has no weights to load '",
             path, "' into; build it first (call it on an input, or build_for(input_shape)).");
  LOOM_CHECK(order.size() == f.tensors.size(), FormatError, "load_weights: '", path, "' holds ", f.tensors.size(),
             " tensors but its 'weight_order' lists ", order.size(), ".");
  LOOM_CHECK(order.size() == ws.size(), FormatError, "load_weights: '", path, "' holds ", order.size(),
             " weights; the model ", model.name(), " has ", ws.size(), ".");
  std::vector<Tensor> values;
  for (std::size_t i = 0; i < ws.size(); ++i) {
    const Tensor& t = f.at(order[i]);
    LOOM_CHECK(t.shape() == ws[i].shape() && t.dtype() == ws[i].dtype(), FormatError, "load_weights: '", path,
               "': weight ", i, " of the model, '", ws[i].name(), "' (", ws[i].shape(), " ", ws[i].dtype(),
               "), would take the file's weight ", i, ", '", order[i].substr(0, 80), "' (", t.shape(), " ", t.dtype(),
               "); the architectures differ.");
    values.push_back(t);
  }
  model.set_weights(values);
}

void save_checkpoint(const std::string& path, const Layer& model, const Optimizer& optimizer,
                     const TrainingPosition& position, Strategy* strategy, ReplicaRandom* random) {
  TensorFile f = weights_file(model);
  for (const auto& [name, t] : optimizer.state()) f.tensors.emplace_back("optimizer/" + name, t);
  for (RNN* rnn : stateful_layers(model)) {
    const std::vector<Var> states = rnn->states();
    for (std::size_t i = 0; i < states.size(); ++i)
      f.tensors.emplace_back("states/" + rnn->name() + "/" + std::to_string(i),
                             strategy ? strategy->all_gather_rows(states[i].value()) : states[i].value());
  }
  const Generator& gen = default_generator();
  f.metadata.insert({{"format", "loom.checkpoint"},  // beside weights_file's weight_order
                     {"epoch", std::to_string(position.epoch)},
                     {"step", std::to_string(position.step)},
                     {"optimizer", optimizer.name()},
                     {"generator_seed", std::to_string(gen.seed())},
                     {"generator_stream", std::to_string(gen.stream())},
                     {"generator_offset", std::to_string(gen.offset())}});
  if (strategy == nullptr) {
    save_safetensors(path, f);
    return;
  }
  f.metadata["world_size"] = std::to_string(strategy->world_size());
  if (random) f.metadata["replica_generators"] = random->save(*strategy);
  // Rank 0 writes; then every rank learns whether it worked, so all return or all throw.
  std::string error;
  if (strategy->is_chief()) {
    try {
      save_safetensors(path, f);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  double failed = error.empty() ? 0.0 : 1.0;
  strategy->all_reduce_sum(std::span<double>(&failed, 1));
  LOOM_CHECK(error.empty(), IOError, error);
  LOOM_CHECK(failed == 0.0, IOError, "save_checkpoint: rank 0 could not write '", path, "'.");
}

TrainingPosition load_checkpoint(const std::string& path, Layer& model, Optimizer& optimizer, Strategy* strategy,
                                 ReplicaRandom* random) {
  const TensorFile f = renamed_by_structure(load_safetensors(path), model, path);
  LOOM_CHECK(f.metadata.count("format") && f.metadata.at("format") == "loom.checkpoint", FormatError,
             "load_checkpoint: '", path, "' is not a loom training checkpoint.");
  check_weights(f, model, path, {"optimizer/", "states/"});
  const auto max_count = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  const auto max_epoch = static_cast<std::uint64_t>(std::numeric_limits<int>::max());
  const TrainingPosition pos{static_cast<std::int64_t>(meta_uint(f, "epoch", path, max_epoch)),
                             static_cast<std::int64_t>(meta_uint(f, "step", path, max_count))};
  const std::uint64_t all = std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t seed = meta_uint(f, "generator_seed", path, all);
  const std::uint64_t stream = meta_uint(f, "generator_stream", path, all);
  const std::uint64_t offset = meta_uint(f, "generator_offset", path, all);
  // The optimizer's class: Adam's moments must not load into SGD's momentum, or the other way.
  const auto saved_by = f.metadata.find("optimizer");
  LOOM_CHECK(saved_by != f.metadata.end() && saved_by->second == optimizer.name(), FormatError, "load_checkpoint: '",
             path, "' holds the state of optimizer '", saved_by == f.metadata.end() ? "(none)" : saved_by->second.substr(0, 40),
             "'; the model's optimizer is ", optimizer.name(), ".");
  std::map<std::string, Tensor> opt_state;
  for (const auto& [name, t] : f.tensors)
    if (name.rfind("optimizer/", 0) == 0) opt_state[name.substr(10)] = t;
  // Stateful RNN states: every one present with the stored shape, before anything changes.
  std::vector<std::pair<RNN*, std::vector<Tensor>>> carried;
  for (RNN* rnn : stateful_layers(model)) {
    std::vector<Tensor> values;
    for (std::size_t i = 0;; ++i) {
      const std::string key = "states/" + rnn->name() + "/" + std::to_string(i);
      if (!f.contains(key)) break;
      values.push_back(f.at(key));
    }
    if (values.empty()) continue;
    if (strategy != nullptr)  // the file holds every stream; this rank keeps its block
      for (Tensor& v : values) {
        LOOM_CHECK(v.dimension() >= 1, FormatError, "load_checkpoint: '", path, "': a state of layer ", rnn->name(),
                   " must have a batch axis; got shape ", v.shape(), ".");
        const auto [begin, end] = strategy->shard(v.shape(0));
        v = v.slice0(begin, end - begin);
      }
    const std::vector<Shape> sizes = rnn->cell()->state_size();
    LOOM_CHECK(values.size() == sizes.size(), FormatError, "load_checkpoint: '", path, "' holds ", values.size(),
               " states for layer ", rnn->name(), ", which has ", sizes.size(), ".");
    const std::vector<Var> current = rnn->states();
    for (std::size_t i = 0; i < values.size(); ++i) {
      LOOM_CHECK(values[i].dimension() >= 1 && values[0].dimension() >= 1, FormatError, "load_checkpoint: '", path,
                 "': state ", i, " of layer ", rnn->name(), " must have a batch axis; got shape ", values[i].shape(), ".");
      Shape expected{current.empty() ? values[0].shape(0) : current[i].shape(0)};
      for (std::int64_t d : sizes[i]) expected.push_back(d);
      LOOM_CHECK(values[i].shape() == expected && values[i].dtype() == rnn->dtype(), FormatError, "load_checkpoint: '",
                 path, "': state ", i, " of layer ", rnn->name(), " must be ", expected, " ", rnn->dtype(), "; got ",
                 values[i].shape(), " ", values[i].dtype(), ".");
    }
    carried.emplace_back(rnn, std::move(values));
  }
  std::vector<std::uint64_t> replica_positions;
  if (random != nullptr && strategy != nullptr && f.metadata.count("replica_generators"))
    replica_positions = ReplicaRandom::parse(f.metadata.at("replica_generators"));
  // Commit: the optimizer first (its own checks run before it changes), then everything else.
  try {
    optimizer.load_state(opt_state, model.trainable_weights());
  } catch (const FormatError& e) {
    LOOM_CHECK(false, FormatError, "load_checkpoint: '", path, "': ", e.what());
  }
  std::vector<Tensor> values;
  for (const Var& w : model.weights()) values.push_back(f.at(w.name()));
  model.set_weights(values);
  for (auto& [rnn, states] : carried) rnn->reset_states(states);
  Generator restored(seed, stream);
  restored.set_offset(offset);
  default_generator() = restored;
  if (random != nullptr && strategy != nullptr) random->restore(*strategy, replica_positions);
  return pos;
}

}  // namespace loom
