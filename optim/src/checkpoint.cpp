// SPDX-License-Identifier: Apache-2.0
// save/load of weights and training checkpoints over the safetensors layout.
#include "loom/optim/checkpoint.hpp"

#include <functional>
#include <set>

#include "loom/core/check.hpp"
#include "loom/core/random.hpp"
#include "loom/core/safetensors.hpp"
#include "loom/layers/rnn.hpp"

namespace loom {
namespace {

TensorFile weights_file(const Layer& model) {
  TensorFile f;
  std::set<std::string> seen;
  for (const Var& w : model.weights()) {
    LOOM_CHECK(seen.insert(w.name()).second, ValueError, "save_weights: two weights are named '", w.name(),
               "'; give the layers distinct names.");
    f.tensors.emplace_back(w.name(), w.value());
  }
  return f;
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
  LOOM_CHECK(model.built() || ws.empty(), FormatError, "load_weights: the model ", model.name(),
             " is not built; build it before loading '", path, "'.");
  std::set<std::string> names;
  for (const Var& w : ws) {
    names.insert(w.name());
    LOOM_CHECK(file.contains(w.name()), FormatError, "load_weights: '", path, "' has no tensor for weight '", w.name(), "'.");
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

std::int64_t meta_int(const TensorFile& f, const std::string& key, const std::string& path) {
  const auto it = f.metadata.find(key);
  LOOM_CHECK(it != f.metadata.end(), FormatError, "load_checkpoint: '", path, "' has no '", key, "' in __metadata__.");
  try {
    std::size_t used = 0;
    const long long v = std::stoll(it->second, &used);
    LOOM_CHECK(used == it->second.size(), FormatError, "bad number");
    return v;
  } catch (const std::exception&) {
    LOOM_CHECK(false, FormatError, "load_checkpoint: '", path, "': __metadata__ '", key, "' is not an integer: '",
               it->second, "'.");
  }
  return 0;
}

}  // namespace

void save_weights(const Layer& model, const std::string& path) {
  TensorFile f = weights_file(model);
  f.metadata["format"] = "loom.weights";
  save_safetensors(path, f);
}

void load_weights(Layer& model, const std::string& path) {
  const TensorFile f = load_safetensors(path);
  check_weights(f, model, path, {});
  std::vector<Tensor> values;
  for (const Var& w : model.weights()) values.push_back(f.at(w.name()));
  model.set_weights(values);
}

void save_checkpoint(const std::string& path, const Layer& model, const Optimizer& optimizer,
                     const TrainingPosition& position) {
  TensorFile f = weights_file(model);
  for (const auto& [name, t] : optimizer.state()) f.tensors.emplace_back("optimizer/" + name, t);
  for (RNN* rnn : stateful_layers(model)) {
    const std::vector<Var> states = rnn->states();
    for (std::size_t i = 0; i < states.size(); ++i)
      f.tensors.emplace_back("states/" + rnn->name() + "/" + std::to_string(i), states[i].value());
  }
  const Generator& gen = default_generator();
  f.metadata = {{"format", "loom.checkpoint"},
                {"epoch", std::to_string(position.epoch)},
                {"step", std::to_string(position.step)},
                {"optimizer", optimizer.name()},
                {"generator_seed", std::to_string(gen.seed())},
                {"generator_stream", std::to_string(gen.stream())},
                {"generator_offset", std::to_string(gen.offset())}};
  save_safetensors(path, f);
}

TrainingPosition load_checkpoint(const std::string& path, Layer& model, Optimizer& optimizer) {
  const TensorFile f = load_safetensors(path);
  LOOM_CHECK(f.metadata.count("format") && f.metadata.at("format") == "loom.checkpoint", FormatError,
             "load_checkpoint: '", path, "' is not a loom training checkpoint.");
  check_weights(f, model, path, {"optimizer/", "states/"});
  const TrainingPosition pos{meta_int(f, "epoch", path), meta_int(f, "step", path)};
  const auto seed = static_cast<std::uint64_t>(meta_int(f, "generator_seed", path));
  const auto stream = static_cast<std::uint64_t>(meta_int(f, "generator_stream", path));
  const auto offset = static_cast<std::uint64_t>(meta_int(f, "generator_offset", path));
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
    const std::vector<Shape> sizes = rnn->cell()->state_size();
    LOOM_CHECK(values.size() == sizes.size(), FormatError, "load_checkpoint: '", path, "' holds ", values.size(),
               " states for layer ", rnn->name(), ", which has ", sizes.size(), ".");
    const std::vector<Var> current = rnn->states();
    for (std::size_t i = 0; i < values.size(); ++i) {
      Shape expected{current.empty() ? values[0].shape(0) : current[i].shape(0)};
      for (std::int64_t d : sizes[i]) expected.push_back(d);
      LOOM_CHECK(values[i].shape() == expected && values[i].dtype() == rnn->dtype(), FormatError, "load_checkpoint: '",
                 path, "': state ", i, " of layer ", rnn->name(), " must be ", expected, " ", rnn->dtype(), "; got ",
                 values[i].shape(), " ", values[i].dtype(), ".");
    }
    carried.emplace_back(rnn, std::move(values));
  }
  // Commit: the optimizer first (its own checks run before it changes), then everything else.
  optimizer.load_state(opt_state, model.trainable_weights());
  std::vector<Tensor> values;
  for (const Var& w : model.weights()) values.push_back(f.at(w.name()));
  model.set_weights(values);
  for (auto& [rnn, states] : carried) rnn->reset_states(states);
  Generator restored(seed, stream);
  restored.set_offset(offset);
  default_generator() = restored;
  return pos;
}

}  // namespace loom
