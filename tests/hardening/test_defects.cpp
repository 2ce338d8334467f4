// SPDX-License-Identifier: Apache-2.0
// The defects of the hardening review (issue 12), one test each: empty batches, sizes that overflow
// or cannot be allocated, deep JSON, trusted checkpoint contents, big seeds, lenient configs,
// safetensors corner cases, the unbuilt-model message, the stop flag, and atomic saves.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "loom/loom.hpp"
#include "support/reference.hpp"

using namespace loom;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("loom_hard_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

// Writes a safetensors file whose header is `header` (padded) followed by `data` bytes.
void write_raw(const fs::path& path, const std::string& header, const std::string& data = "") {
  std::string h = header;
  h.append((8 - h.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  std::uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  std::ofstream(path, std::ios::binary) << out << h << data;
}

std::string nested(const std::string& open, const std::string& close, int depth, const std::string& inner) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += open;
  s += inner;
  for (int i = 0; i < depth; ++i) s += close;
  return s;
}

}  // namespace

// ---- 1. empty batches --------------------------------------------------------------------------

TEST_CASE("hardening: element-wise kernels and matmul take an empty batch", "[hardening][empty]") {
  const Tensor a = Tensor::zeros({0, 4}), row = Tensor::ones({4});
  CHECK(core::add(a, row).shape() == Shape({0, 4}));  // was SIGFPE: a row length of 0 divided
  CHECK(core::mul(row, a).shape() == Shape({0, 4}));
  CHECK(core::tanh(a).shape() == Shape({0, 4}));
  CHECK(core::matmul(a, Tensor::ones({4, 3})).shape() == Shape({0, 3}));
  CHECK(core::sum(a).item() == 0.0);
}

TEST_CASE("hardening: Dense, Embedding and the recurrent layers run and backpropagate on batch 0",
          "[hardening][empty]") {
  manual_seed(1);
  SECTION("Dense") {
    Dense dense(5);
    dense.build_for({0, 3});
    GradientTape tape;
    const Var y = dense(Var(Tensor::zeros({0, 3})));
    CHECK(y.shape() == Shape({0, 5}));
    const std::vector<Tensor> g = tape.gradient(sum(y), dense.trainable_weights());
    for (const Tensor& t : g) CHECK(t.to_vector<double>() == std::vector<double>(static_cast<std::size_t>(t.numel()), 0.0));
  }
  SECTION("Embedding") {
    Embedding emb(10, 4);
    CHECK(emb(Var(Tensor::zeros({0, 7}, DType::i64))).shape() == Shape({0, 7, 4}));
  }
  for (bool unroll : {false, true}) {
    DYNAMIC_SECTION("LSTM, GRU and SimpleRNN, unroll " << unroll) {
      std::vector<std::shared_ptr<Layer>> layers{
          std::make_shared<LSTM>(6, LSTMCellOptions{}, RNNOptions{.return_sequences = true, .unroll = unroll}),
          std::make_shared<GRU>(6, GRUCellOptions{}, RNNOptions{.unroll = unroll}),
          std::make_shared<SimpleRNN>(6, SimpleRNNCellOptions{}, RNNOptions{.unroll = unroll})};
      for (const auto& layer : layers) {
        CAPTURE(layer->name());
        const Var x(Tensor::zeros({0, 4, 3}));
        GradientTape tape;
        tape.watch(x);
        const Var y = (*layer)(x);
        CHECK(y.shape()[0] == 0);
        const std::vector<Tensor> g = tape.gradient(sum(y), {x});
        CHECK(g[0].shape() == x.shape());
      }
    }
  }
  SECTION("Bidirectional") {
    Bidirectional bi(std::make_shared<GRU>(3));
    CHECK(bi(Var(Tensor::zeros({0, 5, 2}))).shape() == Shape({0, 6}));
  }
  SECTION("TimeDistributed, Masking, Dropout and Sequential") {
    const Var x(Tensor::zeros({0, 5, 2}));
    TimeDistributed td(std::make_shared<Dense>(3));
    CHECK(td(x).shape() == Shape({0, 5, 3}));
    Masking masking;
    CHECK(masking(x).shape() == x.shape());
    Dropout dropout(0.5);
    CHECK(dropout(x, CallContext::train()).shape() == x.shape());
    Sequential seq(std::vector<std::shared_ptr<Layer>>{std::make_shared<LSTM>(4), std::make_shared<Dense>(2)});
    CHECK(seq(x).shape() == Shape({0, 2}));
  }
}

TEST_CASE("hardening: every loss is 0 over an empty batch, with empty gradients", "[hardening][empty]") {
  const Var p(Tensor::zeros({0, 3}));
  const Tensor t = Tensor::zeros({0, 3});
  GradientTape tape;
  tape.watch(p);
  const std::vector<Var> values{mse(Var(t), p), binary_crossentropy(Var(t), p, true),
                                categorical_crossentropy(Var(t), p, true),
                                sparse_categorical_crossentropy(Tensor::zeros({0}, DType::i64), p, true)};
  Var total = values[0];
  for (const Var& v : values) {
    CHECK(v.value().item() == 0.0);
    total = total + v;
  }
  CHECK(tape.gradient(total, {p})[0].shape() == Shape({0, 3}));
  // Metrics over no rows add nothing to an epoch's running value.
  for (const Metric& m : {metrics::categorical_accuracy(), metrics::binary_accuracy(), metrics::mae()})
    CHECK(m.batch(t, p.value()) == std::pair<double, double>(0.0, 0.0));
  CHECK(metrics::sparse_categorical_accuracy().batch(Tensor::zeros({0}, DType::i64), p.value()) ==
        std::pair<double, double>(0.0, 0.0));
  // A class axis of length 0 has no rows to divide by: refused, not divided by zero.
  CHECK_THROWS_AS(categorical_crossentropy(Var(Tensor::zeros({2, 0})), Var(Tensor::zeros({2, 0}))), ValueError);
}

// ---- 2, 3. sizes that overflow or cannot be allocated -------------------------------------------

TEST_CASE("hardening: a shape whose size overflows is a ResourceError, never a small allocation",
          "[hardening][size]") {
  CHECK_THROWS_AS(Tensor::zeros({std::int64_t{1} << 62, 4}), ResourceError);  // was 0 bytes
  CHECK_THROWS_WITH(Tensor::zeros({std::int64_t{1} << 40, std::int64_t{1} << 40}), Contains("2^60"));
  Shape s{4, 4};
  s[0] = std::int64_t{1} << 61;  // assigned past the constructor's check: Tensor::empty checks again
  s[1] = 1 << 10;
  CHECK_THROWS_AS(Tensor::empty(s), ResourceError);
  Dense huge(std::int64_t{1} << 62);
  CHECK_THROWS_AS(huge.build_for({2, 4}), ResourceError);  // was a 0-byte kernel and a heap overrun
  CHECK_FALSE(huge.built());
}

TEST_CASE("hardening: an allocation the system refuses is a ResourceError naming its size", "[hardening][size]") {
  Dense dense(std::int64_t{1} << 40);  // a 4 × 2^40 kernel: 16 TiB
  CHECK_THROWS_WITH(dense.build_for({2, 4}), Contains("17592186044416 bytes"));
  SimpleRNN rnn(std::int64_t{1} << 32);  // a 2^32 × 2^32 recurrent kernel
  CHECK_THROWS_AS(rnn.build_for({1, 2, 3}), ResourceError);
}

// ---- 4. deep JSON ------------------------------------------------------------------------------

TEST_CASE("hardening: a deeply nested config is refused before any recursion", "[hardening][json]") {
  nlohmann::json j = {{"class_name", "Dense"}, {"config", {{"units", 2}}}};
  for (int i = 0; i < 6000; ++i) {  // moved, not copied, into each new level
    nlohmann::json outer = {{"class_name", "TimeDistributed"}, {"config", nlohmann::json::object()}};
    outer["config"]["layer"] = std::move(j);
    j = std::move(outer);
  }
  CHECK_THROWS_WITH(layer_from_config(j), Contains("deeper than 64"));  // was a stack overflow
  nlohmann::json deep_init = nlohmann::json::array();
  for (int i = 0; i < 100000; ++i) {
    nlohmann::json outer = nlohmann::json::array();
    outer.push_back(std::move(deep_init));
    deep_init = std::move(outer);
  }
  nlohmann::json dense = {{"class_name", "Dense"}, {"config", {{"units", 2}}}};
  dense["config"]["kernel_initializer"] = std::move(deep_init);  // copying it would recurse 100000 deep
  CHECK_THROWS_AS(layer_from_config(dense), FormatError);
}

TEST_CASE("hardening: deep arrays in a weights file's header are refused", "[hardening][json]") {
  const fs::path path = scratch("deep.safetensors");
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    CAPTURE(field);
    nlohmann::json entry = {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0, 4}}};
    const std::string deep = nested("[", "]", 70000, "1");
    std::string header = entry.dump();
    const std::string key = std::string("\"") + field + "\":";
    const std::size_t at = header.find(key) + key.size();
    const std::size_t end = header.find_first_of(",}", header[at] == '[' ? header.find(']', at) + 1 : at + 1);
    header = "{\"w\":" + header.substr(0, at) + deep + header.substr(end) + "}";
    write_raw(path, header, std::string(4, '\0'));
    CHECK_THROWS_WITH(load_safetensors(path.string()), Contains("deeper than 64"));
    Dense d(1);
    d.build_for({1, 1});
    CHECK_THROWS_AS(load_weights(d, path.string()), FormatError);
    SGD sgd;
    CHECK_THROWS_AS(load_checkpoint(path.string(), d, sgd), FormatError);
  }
}

// ---- 5, 6. checkpoint contents ------------------------------------------------------------------

namespace {

struct Trained {
  std::shared_ptr<Sequential> net;
  std::shared_ptr<Optimizer> opt;
};

Trained trained_model(std::shared_ptr<Optimizer> opt) {
  manual_seed(11);
  auto net = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{std::make_shared<Dense>(2, DenseOptions{.name = "d"})});
  net->build_for({4, 3});
  const std::vector<Var> w = net->trainable_weights();
  std::vector<Tensor> g;
  for (const Var& v : w) g.push_back(Tensor::ones(v.shape()));
  opt->apply_gradients(g, w);
  return {net, opt};
}

// Saves a checkpoint, lets `edit` change its file, and returns the path.
template <class Edit>
std::string edited_checkpoint(const Trained& t, const std::string& name, Edit edit) {
  const std::string path = scratch(name).string();
  save_checkpoint(path, *t.net, *t.opt, {1, 1});
  TensorFile f = load_safetensors(path);
  edit(f);
  save_safetensors(path, f);
  return path;
}

void set_tensor(TensorFile& f, const std::string& name, const Tensor& value) {
  for (auto& [n, t] : f.tensors)
    if (n == name) t = value;
}

}  // namespace

TEST_CASE("hardening: a checkpoint's optimizer step count and rate are range-checked", "[hardening][checkpoint]") {
  const Trained t = trained_model(std::make_shared<Adam>());
  const std::vector<Tensor> before = [&] {
    std::vector<Tensor> v;
    for (const Var& w : t.net->weights()) v.push_back(w.value().clone());
    return v;
  }();
  for (double bad : {-1.0, 1e300, 2.5, std::nan("")}) {
    CAPTURE(bad);
    const std::string path = edited_checkpoint(t, "iter.ckpt", [&](TensorFile& f) {
      set_tensor(f, "optimizer/iterations", Tensor::full({}, bad, DType::f64));
    });
    CHECK_THROWS_WITH(load_checkpoint(path, *t.net, *t.opt), Contains("iterations") && Contains(path));
  }
  const Trained sgd = trained_model(std::make_shared<SGD>());
  const std::string path = edited_checkpoint(sgd, "lr.ckpt", [&](TensorFile& f) {
    set_tensor(f, "optimizer/learning_rate", Tensor::full({}, -0.5, DType::f64));
  });
  CHECK_THROWS_WITH(load_checkpoint(path, *sgd.net, *sgd.opt), Contains("learning_rate"));
  CHECK(sgd.opt->learning_rate() == 0.01);
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(testing::bitwise_equal(t.net->weights()[i].value(), before[i]));
}

TEST_CASE("hardening: an Adam checkpoint does not load into SGD with momentum", "[hardening][checkpoint]") {
  const Trained adam = trained_model(std::make_shared<Adam>());
  const std::string path = scratch("adam.ckpt").string();
  save_checkpoint(path, *adam.net, *adam.opt, {1, 1});
  const Trained sgd = trained_model(std::make_shared<SGD>(SGDOptions{.momentum = 0.9}));
  CHECK_THROWS_WITH(load_checkpoint(path, *sgd.net, *sgd.opt), Contains("'Adam'") && Contains("SGD"));
}

TEST_CASE("hardening: a rank-0 stored state is a FormatError naming the file", "[hardening][checkpoint]") {
  manual_seed(2);
  auto net = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<GRU>(3, GRUCellOptions{}, RNNOptions{.stateful = true, .name = "g"})});
  const Var x(Tensor::uniform({2, 4, 1}));
  (*net)(x);
  Adam adam;
  const std::string path = scratch("state.ckpt").string();
  save_checkpoint(path, *net, adam, {0, 0});
  TensorFile f = load_safetensors(path);
  set_tensor(f, "states/g/0", Tensor::full({}, 1.0));
  save_safetensors(path, f);
  CHECK_THROWS_WITH(load_checkpoint(path, *net, adam), Contains(path) && Contains("batch axis"));
}

TEST_CASE("hardening: a checkpoint saved after manual_seed(s >= 2^63) loads back", "[hardening][checkpoint]") {
  const Trained t = trained_model(std::make_shared<SGD>());
  const std::uint64_t seed = (std::uint64_t{1} << 63) + 12345;
  manual_seed(seed);
  const std::string path = scratch("seed.ckpt").string();
  save_checkpoint(path, *t.net, *t.opt, {2, 3});
  manual_seed(1);
  const TrainingPosition pos = load_checkpoint(path, *t.net, *t.opt);  // was "not an integer"
  CHECK(pos.epoch == 2);
  CHECK(default_generator().seed() == seed);
}

// ---- 7. strict configs ---------------------------------------------------------------------------

TEST_CASE("hardening: configs refuse unknown keys, wrong types and out-of-range rates", "[hardening][config]") {
  const nlohmann::json good = LSTM(4).to_json();
  nlohmann::json typo = good;
  typo["config"]["recurent_dropout"] = 0.5;
  CHECK_THROWS_WITH(layer_from_config(typo), Contains("unknown key 'recurent_dropout'") && Contains("recurrent_dropout"));
  nlohmann::json fractional = good;
  fractional["config"]["units"] = 2.7;
  CHECK_THROWS_WITH(layer_from_config(fractional), Contains("'units' must be an integer"));
  fractional["config"]["units"] = 1e300;
  CHECK_THROWS_AS(layer_from_config(fractional), FormatError);
  nlohmann::json rate = good;
  rate["config"]["dropout"] = 1.5;
  CHECK_THROWS_WITH(layer_from_config(rate), Contains("[0, 1]"));
  nlohmann::json reg = Dense(2).to_json();
  reg["config"]["kernel_regularizer"] = {{"class_name", "L2"}};
  CHECK_THROWS_AS(layer_from_config(reg), NotImplementedError);
  reg["config"]["kernel_regularizer"] = nullptr;   // Keras's default: accepted
  reg["config"]["implementation"] = 2;             // a Keras performance hint: documented as ignored
  CHECK(layer_from_config(reg) != nullptr);
  CHECK(layer_from_config(good) != nullptr);
}

TEST_CASE("hardening: reset_states refuses integer values, as set_weights does", "[hardening][config]") {
  GRU gru(2, {}, {.stateful = true});
  gru(Var(Tensor::zeros({3, 1, 2})));
  CHECK_THROWS_AS(gru.reset_states({Tensor::zeros({3, 2}, DType::i64)}), TypeError);
}

// ---- 8. safetensors ------------------------------------------------------------------------------

TEST_CASE("hardening: safetensors refuses duplicate keys and names the file for huge extents",
          "[hardening][safetensors]") {
  const fs::path path = scratch("dup.safetensors");
  write_raw(path, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
            std::string(4, '\0'));
  CHECK_THROWS_WITH(load_safetensors(path.string()), Contains("appears twice") && Contains(path.string()));
  write_raw(path, R"({"big":{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,4]}})", std::string(4, '\0'));
  CHECK_THROWS_AS(load_safetensors(path.string()), FormatError);
  CHECK_THROWS_WITH(load_safetensors(path.string()), Contains("'big'") && Contains(path.string()));
}

// ---- 9. the unbuilt-model message ----------------------------------------------------------------

TEST_CASE("hardening: load_weights into an unbuilt model says to build it", "[hardening][weights]") {
  Dense built(3, {.name = "dense_w"});
  built.build_for({1, 2});
  const std::string path = scratch("w.safetensors").string();
  save_weights(built, path);
  Dense fresh(3, {.name = "dense_w"});
  CHECK_THROWS_AS(load_weights(fresh, path), StateError);
  CHECK_THROWS_WITH(load_weights(fresh, path), Contains("not built"));
}

// ---- 10. the training loop's stop flag -----------------------------------------------------------

namespace {

Model small_model(std::uint64_t seed) {
  manual_seed(seed);
  Model m(std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{std::make_shared<Dense>(1)}));
  m.compile(std::make_shared<SGD>(), losses::mse(), {"mae"});
  return m;
}

}  // namespace

TEST_CASE("hardening: evaluate after EarlyStopping sees every batch", "[hardening][stop]") {
  Model m = small_model(4);
  const Tensor x = Tensor::uniform({32, 3}), y = Tensor::uniform({32, 1}, 5, 6);
  auto stop = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.monitor = "loss", .min_delta = 1e9});
  m.fit(x, y, {.epochs = 5, .batch_size = 8, .callbacks = {stop}, .verbose = 0});
  REQUIRE(m.stop_training);
  const Logs logs = m.evaluate(x, y, 8);  // was loss 0 and mae 0
  CHECK(logs.at("loss") > 1.0);
  CHECK(logs.at("mae") > 1.0);
}

TEST_CASE("hardening: after TerminateOnNaN the epoch's val_loss is NaN, not 0", "[hardening][stop]") {
  Model m = small_model(5);
  Tensor x = Tensor::uniform({16, 3});
  x.data<float>()[0] = NAN;  // the first batch's loss is NaN
  const Tensor y = Tensor::uniform({16, 1});
  const History h = m.fit(x, y, {.epochs = 3, .batch_size = 4, .validation_x = x, .validation_y = y,
                                  .callbacks = {std::make_shared<TerminateOnNaN>()}, .verbose = 0});
  REQUIRE(h.epoch.size() == 1);
  CHECK(std::isnan(h.history.at("val_loss")[0]));
}

TEST_CASE("hardening: ModelCheckpoint(save_best_only) never saves the weights of a NaN epoch", "[hardening][stop]") {
  Model m = small_model(6);
  Tensor x = Tensor::uniform({16, 3});
  x.data<float>()[0] = NAN;
  const Tensor y = Tensor::uniform({16, 1});
  const std::string path = scratch("best.ckpt").string();
  fs::remove(path);
  m.fit(x, y, {.epochs = 2, .batch_size = 4, .validation_x = x, .validation_y = y,
               .callbacks = {std::make_shared<TerminateOnNaN>(),
                             std::make_shared<ModelCheckpoint>(path, ModelCheckpointOptions{.save_best_only = true})},
               .verbose = 0});
  CHECK_FALSE(fs::exists(path));  // was saved as the "best" model with val_loss 0
}

// ---- 11. saves ---------------------------------------------------------------------------------

TEST_CASE("hardening: a save that cannot be renamed into place leaves no temporary behind", "[hardening][save]") {
  const fs::path dir = scratch("target_is_dir");
  fs::create_directories(dir / "inner");  // renaming a file over a non-empty directory fails
  CHECK_THROWS_AS(save_safetensors(dir.string(), TensorFile{{{"x", Tensor::ones({1})}}, {}}), IOError);
  CHECK_FALSE(fs::exists(dir.string() + ".tmp"));
  const fs::path ok = scratch("ok.safetensors");
  save_safetensors(ok.string(), TensorFile{{{"x", Tensor::ones({2})}}, {}});  // and the directory is synced
  CHECK(load_safetensors(ok.string()).at("x").numel() == 2);
}
