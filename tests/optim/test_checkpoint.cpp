// SPDX-License-Identifier: Apache-2.0
// safetensors files: round trips, interop with Python, 30+ malformed files refused with the model untouched,
// and training checkpoints that restore weights, optimizer, carried states and the generator.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "support/reference.hpp"

using namespace loom;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("loom_test_" + name)).string();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string le64(std::uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

// A file from a header text and raw data bytes.
std::string assemble(const std::string& header, const std::string& data) { return le64(header.size()) + header + data; }

// A small model with two weights: dense/kernel (2, 3) and dense/bias (3,).
std::shared_ptr<Dense> model() {
  auto d = std::make_shared<Dense>(3, DenseOptions{.name = "dense"});
  d->build_for({1, 2});
  return d;
}

}  // namespace

TEST_CASE("safetensors: round trip of f32, f64 and i64 tensors with metadata", "[optim][safetensors]") {
  TensorFile f;
  f.tensors = {{"a", testing::random({3, 4})}, {"b", testing::random({5}, DType::f64)},
               {"c", Tensor::from_vector<std::int64_t>({1, -2, 3}, {3})}, {"empty", Tensor::zeros({0, 2})}};
  f.metadata = {{"note", "hello"}};
  const std::string path = temp_path("roundtrip.safetensors");
  save_safetensors(path, f);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  const std::string bytes = read_file(path);
  CHECK((bytes.size() - 8 - f.tensors[0].second.nbytes() - f.tensors[1].second.nbytes() - 24) % 8 == 0);  // padded header
  const TensorFile g = load_safetensors(path);
  REQUIRE(g.tensors.size() == 4);
  for (const auto& [name, t] : f.tensors) CHECK(testing::bitwise_equal(g.at(name), t));
  CHECK(g.metadata.at("note") == "hello");
  CHECK_THROWS_AS(save_safetensors(path, TensorFile{{{"x", Tensor::ones({1})}, {"x", Tensor::ones({1})}}, {}}), ValueError);
}

TEST_CASE("safetensors: reads the file Python wrote, and writes the file Python checked", "[optim][safetensors]") {
  const TensorFile py = load_safetensors(LOOM_FIXTURE_DIR "/from_python.safetensors");
  testing::check_close(py.at("weight"), {0, 0.25, 0.5, 0.75, 1, 1.25}, 0, 0);
  CHECK(py.at("weight").dtype() == DType::f32);
  testing::check_close(py.at("bias"), {0.5, -1.5}, 0, 0);
  CHECK(py.at("ids").to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 3});
  CHECK(py.at("ids").shape() == Shape{1, 3});
  CHECK(py.metadata.at("source") == "python");

  TensorFile mine;
  mine.tensors = {{"matrix", core::mul(Tensor::arange(12).reshape({3, 4}), 0.5)},
                  {"vector", Tensor::of({1.0, -2.0, 3.5}, {3}, DType::f64)},
                  {"labels", Tensor::from_vector<std::int64_t>({7, 8}, {2})}};
  mine.metadata = {{"source", "loom"}};
  if (const char* dir = std::getenv("LOOM_WRITE_FIXTURES")) save_safetensors(std::string(dir) + "/from_loom.safetensors", mine);
  const std::string path = temp_path("from_loom.safetensors");
  save_safetensors(path, mine);
  // The committed file is what loom writes, byte for byte, and gen_fixtures.py read it with torch.
  CHECK(read_file(path) == read_file(LOOM_FIXTURE_DIR "/from_loom.safetensors"));
}

TEST_CASE("safetensors: 30+ malformed files are refused with FormatError and the model is untouched",
          "[optim][safetensors][errors]") {
  const std::string ok_data(6 * 4 + 3 * 4, '\0');
  const std::string k = R"("dense/kernel":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]})";
  const std::string b = R"("dense/bias":{"dtype":"F32","shape":[3],"data_offsets":[24,36]})";
  const std::string valid = assemble("{" + k + "," + b + "}", ok_data);
  const std::vector<std::pair<const char*, std::string>> bad = {
      {"empty file", ""},
      {"1 byte", valid.substr(0, 1)},
      {"3 bytes", valid.substr(0, 3)},
      {"7 bytes", valid.substr(0, 7)},
      {"size field only", valid.substr(0, 8)},
      {"truncated header", valid.substr(0, 20)},
      {"truncated data", valid.substr(0, valid.size() - 1)},
      {"half the data", valid.substr(0, valid.size() - 18)},
      {"header size past the end", le64(1000) + valid.substr(8)},
      {"huge header size", le64(1ull << 62) + valid.substr(8)},
      {"bad JSON", assemble("{\"dense/kernel\":", ok_data)},
      {"not JSON", assemble("hello world!", ok_data)},
      {"header is an array", assemble("[1,2]", ok_data)},
      {"entry without dtype", assemble(R"({"dense/kernel":{"shape":[2,3],"data_offsets":[0,24]},)" + b + "}", ok_data)},
      {"unsupported dtype", assemble(R"({"dense/kernel":{"dtype":"F16","shape":[2,3],"data_offsets":[0,24]},)" + b + "}", ok_data)},
      {"dtype not a string", assemble(R"({"dense/kernel":{"dtype":1,"shape":[2,3],"data_offsets":[0,24]},)" + b + "}", ok_data)},
      {"shape not a list", assemble(R"({"dense/kernel":{"dtype":"F32","shape":6,"data_offsets":[0,24]},)" + b + "}", ok_data)},
      {"negative extent", assemble(R"({"dense/kernel":{"dtype":"F32","shape":[-2,3],"data_offsets":[0,24]},)" + b + "}", ok_data)},
      {"fractional extent", assemble(R"({"dense/kernel":{"dtype":"F32","shape":[1.5,4],"data_offsets":[0,24]},)" + b + "}", ok_data)},
      {"shape overflow", assemble(R"({"dense/kernel":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,24]},)" + b + "}", ok_data)},
      {"rank above 8", assemble(R"({"dense/kernel":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,6],"data_offsets":[0,24]},)" + b + "}", ok_data)},
      {"one offset", assemble(R"({"dense/kernel":{"dtype":"F32","shape":[2,3],"data_offsets":[0]},)" + b + "}", ok_data)},
      {"negative offset", assemble(R"({"dense/kernel":{"dtype":"F32","shape":[2,3],"data_offsets":[-24,0]},)" + b + "}", ok_data)},
      {"reversed offsets", assemble(R"({"dense/kernel":{"dtype":"F32","shape":[2,3],"data_offsets":[24,0]},)" + b + "}", ok_data)},
      {"offset out of bounds", assemble("{" + k + R"(,"dense/bias":{"dtype":"F32","shape":[3],"data_offsets":[24,48]}})", ok_data)},
      {"span does not match the shape", assemble(R"({"dense/kernel":{"dtype":"F32","shape":[2,2],"data_offsets":[0,24]},)" + b + "}", ok_data)},
      {"overlapping tensors", assemble(R"({"dense/kernel":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"dense/bias":{"dtype":"F32","shape":[3],"data_offsets":[20,32]}})", ok_data.substr(0, 32))},
      {"gap between tensors", assemble(R"({"dense/kernel":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"dense/bias":{"dtype":"F32","shape":[3],"data_offsets":[28,40]}})", ok_data + "1234")},
      {"trailing bytes", assemble("{" + k + "," + b + "}", ok_data + "xyz")},
      {"metadata not an object", assemble("{" + k + "," + b + R"(,"__metadata__":[1]})", ok_data)},
      {"metadata value not a string", assemble("{" + k + "," + b + R"(,"__metadata__":{"a":1}})", ok_data)},
      {"missing weight", assemble("{" + k + "}", ok_data.substr(0, 24))},
      {"extra tensor", assemble("{" + k + "," + b + R"(,"dense/extra":{"dtype":"F32","shape":[1],"data_offsets":[36,40]}})", ok_data + "abcd")},
      {"wrong shape for the model", assemble(R"({"dense/kernel":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]},)" + b + "}", ok_data)},
      {"wrong dtype for the model", assemble(R"({"dense/kernel":{"dtype":"F64","shape":[3],"data_offsets":[0,24]},)" + b + "}", ok_data)},
  };
  CHECK(bad.size() >= 30);
  auto dense = model();
  const std::vector<Tensor> before = dense->get_weights();
  const std::string path = temp_path("malformed.safetensors");
  write_file(path, valid);
  load_weights(*dense, path);  // the valid file loads (zeros)
  dense->set_weights(before);
  for (const auto& [what, bytes] : bad) {
    CAPTURE(what);
    write_file(path, bytes);
    CHECK_THROWS_AS(load_weights(*dense, path), FormatError);
    const std::vector<Tensor> after = dense->get_weights();
    for (std::size_t i = 0; i < before.size(); ++i) CHECK(testing::bitwise_equal(after[i], before[i]));
  }
  CHECK_THROWS_WITH(load_weights(*dense, temp_path("does_not_exist")), StartsWith("safetensors: cannot open"));
  write_file(path, bad[9].second);
  CHECK_THROWS_WITH(load_weights(*dense, path), Contains("exceeds the limit"));
}

TEST_CASE("save_weights/load_weights round-trip a model exactly", "[optim][safetensors]") {
  Sequential a({std::make_shared<LSTM>(4, LSTMCellOptions{}, RNNOptions{.name = "rnn"}), std::make_shared<Dense>(2, DenseOptions{.name = "head"})});
  Sequential b({std::make_shared<LSTM>(4, LSTMCellOptions{}, RNNOptions{.name = "rnn"}), std::make_shared<Dense>(2, DenseOptions{.name = "head"})});
  const Var x(testing::random({3, 5, 6}));
  a(x);
  b(x);
  const std::string path = temp_path("model.safetensors");
  save_weights(a, path);
  load_weights(b, path);
  CHECK(testing::bitwise_equal(a(x).value(), b(x).value()));
  CHECK(load_safetensors(path).contains(a.name() + "/rnn/lstm_cell/kernel"));  // Keras 3 weight paths
  CHECK(load_safetensors(path).tensors.size() == 5);
}

TEST_CASE("checkpoints restore weights, optimizer slots, carried states and the generator", "[optim][safetensors]") {
  auto make = [] {
    return std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
        std::make_shared<LSTM>(3, LSTMCellOptions{.dropout = 0.2}, RNNOptions{.stateful = true, .name = "rnn"}),
        std::make_shared<Dense>(1, DenseOptions{.name = "out"})});
  };
  const Var x(testing::random({2, 4, 3})), y(testing::random({2, 1}));
  auto step = [&](Sequential& m, Adam& opt) {
    GradientTape tape;
    const Var loss = mse(y, m(x, CallContext::train()));
    opt.apply_gradients(tape.gradient(loss, m.trainable_weights()), m.trainable_weights());
    return loss.value().item();
  };
  manual_seed(3);
  auto a = make();
  Adam opt_a;
  for (int i = 0; i < 3; ++i) step(*a, opt_a);
  const std::string path = temp_path("checkpoint.safetensors");
  save_checkpoint(path, *a, opt_a, {.epoch = 1, .step = 3});
  const double next_a = step(*a, opt_a);  // continues with dropout draws from the generator

  manual_seed(99);  // a different process state, then restore
  auto b = make();
  b->build_for(x.shape());
  Adam opt_b;
  const TrainingPosition pos = load_checkpoint(path, *b, opt_b);
  CHECK(pos.epoch == 1);
  CHECK(pos.step == 3);
  CHECK(opt_b.iterations() == 3);
  const double next_b = step(*b, opt_b);
  CHECK(next_a == next_b);
  const auto wa = a->get_weights(), wb = b->get_weights();
  for (std::size_t i = 0; i < wa.size(); ++i) CHECK(testing::bitwise_equal(wa[i], wb[i]));
  // A weights file is not a checkpoint.
  save_weights(*a, path);
  CHECK_THROWS_WITH(load_checkpoint(path, *b, opt_b), Contains("is not a loom training checkpoint"));
}

TEST_CASE("load_weights: by structure into a second model of the same process, by name on request", "[optim][checkpoint]") {
  const std::string path = (std::filesystem::temp_directory_path() / "loom_structural.safetensors").string();
  const auto make = [] {  // default names: the second model's layers are lstm_N+1, dense_M+1
    auto net = std::make_shared<Sequential>(
        std::vector<std::shared_ptr<Layer>>{std::make_shared<LSTM>(5), std::make_shared<Dense>(2)});
    net->build_for({3, 4, 2});
    return net;
  };
  const auto first = make(), second = make();
  REQUIRE(first->weights()[0].name() != second->weights()[0].name());
  save_weights(*first, path);
  load_weights(*second, path);
  for (std::size_t i = 0; i < first->weights().size(); ++i)
    CHECK(testing::bitwise_equal(first->weights()[i].value(), second->weights()[i].value()));
  // By name, the names differ, and the error says why.
  const auto third = make();
  const std::vector<Tensor> before = third->get_weights();
  CHECK_THROWS_WITH(load_weights(*third, path, {.by_name = true}),
                    Contains("has no tensor for weight") && Contains("per-class counters"));
  // Another architecture: the first differing weight is named, with both shapes; nothing changes.
  auto wider = std::make_shared<Sequential>(
      std::vector<std::shared_ptr<Layer>>{std::make_shared<LSTM>(6), std::make_shared<Dense>(2)});
  wider->build_for({3, 4, 2});
  const std::vector<Tensor> wider_before = wider->get_weights();
  CHECK_THROWS_WITH(load_weights(*wider, path), Contains("weight 0 of the model") && Contains("architectures differ"));
  for (std::size_t i = 0; i < wider_before.size(); ++i)
    CHECK(testing::bitwise_equal(wider->get_weights()[i], wider_before[i]));
  // A malformed record of the order is refused; a file without one is matched by name.
  TensorFile f = load_safetensors(path);
  for (const std::string bad : {"not json", "{\"a\": 1}", "[1, 2]", "[\"missing\"]", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"}) {
    CAPTURE(bad);
    f.metadata["weight_order"] = bad;
    save_safetensors(path, f);
    CHECK_THROWS_AS(load_weights(*third, path), FormatError);
  }
  f.metadata["weight_order"] = nlohmann::json{f.tensors[0].first, f.tensors[0].first}.dump();  // a name twice
  save_safetensors(path, f);
  CHECK_THROWS_WITH(load_weights(*third, path), Contains("twice"));
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(testing::bitwise_equal(third->get_weights()[i], before[i]));
  f.metadata.erase("weight_order");
  save_safetensors(path, f);
  CHECK_THROWS_WITH(load_weights(*third, path), Contains("has no tensor for weight"));  // by name: other names
  load_weights(*first, path);  // by name: its own names
  std::filesystem::remove(path);
}
