// SPDX-License-Identifier: Apache-2.0
// Keras weight files: Keras 3 .weights.h5 and tf-keras .h5, written by h5py exactly as Keras lays them
// out (gen_fixtures.py keras_h5), load into the matching loom models and reproduce the outputs of the
// Keras equations; loom's own files read back, and the script checks them against Keras's layout.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <loom/hdf5/keras_h5.hpp>

#include "fixtures/golden_keras_h5.hpp"
#include "support/fixture.hpp"

using namespace loom;
using Catch::Matchers::Contains;

namespace {

namespace fx = loom::fixtures::golden_keras_h5;
Tensor F(const std::string& name) { return testing::fixture(fx::entries, name); }
std::string fixture(const std::string& file) { return LOOM_FIXTURE_DIR "/" + file; }

// The loom twins of the fixture's keras_m1 and keras_m2.
std::shared_ptr<Sequential> twin(const std::string& model, DType dtype, Tensor& input) {
  const RNNOptions seq{.return_sequences = true};
  std::shared_ptr<Sequential> net;
  if (model == "keras_m1") {
    net = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
        std::make_shared<Embedding>(20, 6), std::make_shared<Bidirectional>(LSTM(5, {}, seq)),
        std::make_shared<TimeDistributed>(Dense(4)), std::make_shared<SimpleRNN>(3, SimpleRNNCellOptions{}, seq),
        std::make_shared<Dense>(2)});
    input = F("m1_input").to(DType::i64);
  } else {
    net = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
        std::make_shared<RNN>(std::vector<std::shared_ptr<Cell>>{std::make_shared<GRUCell>(4),
                                                                 std::make_shared<GRUCell>(3, GRUCellOptions{.reset_after = false})},
                              seq),
        std::make_shared<Bidirectional>(GRU(2)), std::make_shared<Dense>(1)});
    input = F("m2_input").to(dtype);
  }
  net->set_dtype(dtype);
  net->build_for(input.shape());
  return net;
}

std::string bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string temp(const std::string& name) { return (std::filesystem::temp_directory_path() / ("loom_h5_" + name)).string(); }

}  // namespace

TEST_CASE("keras h5: Keras 3 and tf-keras files reproduce the Keras outputs", "[hdf5]") {
  for (const char* model : {"keras_m1", "keras_m2"}) {
    const std::string out = std::string(model) == "keras_m1" ? "m1_output" : "m2_output";
    for (const std::string& file : {std::string(model) + ".weights.h5", std::string(model) + ".h5", std::string(model) + "_model.h5"}) {
      for (const DType dtype : {DType::f64, DType::f32}) {
        CAPTURE(file, dtype);
        Tensor x;
        auto net = twin(model, dtype, x);
        load_keras_weights(*net, fixture(file));
        NoGrad inference;
        testing::check_close((*net)(Var(x)).value(), F(out).to_vector<double>(), 0, dtype == DType::f64 ? 1e-10 : 1e-5);
      }
    }
    CHECK(keras_h5_layout(fixture(std::string(model) + ".weights.h5")) == KerasH5Layout::keras3);
    CHECK(keras_h5_layout(fixture(std::string(model) + ".h5")) == KerasH5Layout::legacy);
    CHECK(keras_h5_layout(fixture(std::string(model) + "_model.h5")) == KerasH5Layout::legacy);
  }
}

TEST_CASE("keras h5: loom writes both layouts and reads them back", "[hdf5]") {
  for (const char* model : {"keras_m1", "keras_m2"}) {
    Layer::reset_name_counters();  // the legacy layout records layer names: the defaults, as in a fresh Keras session
    Tensor x;
    auto net = twin(model, DType::f32, x);
    load_keras_weights(*net, fixture(std::string(model) + ".weights.h5"));
    for (const auto& [layout, tag] : {std::pair{KerasH5Layout::keras3, "keras3"}, std::pair{KerasH5Layout::legacy, "legacy"}}) {
      CAPTURE(model, tag);
      const std::string file = std::string(model) + "_from_loom_" + tag + ".h5";
      if (const char* dir = std::getenv("LOOM_WRITE_FIXTURES")) save_keras_weights(*net, std::string(dir) + "/" + file, layout);
      save_keras_weights(*net, temp(file), layout);
      CHECK(keras_h5_layout(temp(file)) == layout);
      // The same bytes as the committed file, which gen_fixtures.py checks against Keras's layout.
      CHECK(bytes(temp(file)) == bytes(fixture(file)));
      Tensor x2;
      auto again = twin(model, DType::f32, x2);
      load_keras_weights(*again, temp(file));
      const auto a = net->get_weights(), b = again->get_weights();
      for (std::size_t i = 0; i < a.size(); ++i) CHECK(testing::bitwise_equal(a[i], b[i]));
    }
  }
}

TEST_CASE("keras h5: malformed and mismatched files are refused, the model unchanged", "[hdf5][errors]") {
  Tensor x;
  auto net = twin("keras_m1", DType::f32, x);
  const std::vector<Tensor> before = net->get_weights();
  const auto unchanged = [&] {
    const std::vector<Tensor> now = net->get_weights();
    for (std::size_t i = 0; i < now.size(); ++i) CHECK(testing::bitwise_equal(now[i], before[i]));
  };
  // Not HDF5 at all, truncated, or another model's weights.
  const std::string junk = temp("junk.h5");
  std::ofstream(junk) << "not an hdf5 file";
  CHECK_THROWS_WITH(load_keras_weights(*net, junk), Contains("is not a readable HDF5 file"));
  const std::string good = bytes(fixture("keras_m1.weights.h5"));
  const std::string cut = temp("cut.h5");
  std::ofstream(cut, std::ios::binary) << good.substr(0, good.size() / 2);
  CHECK_THROWS_AS(load_keras_weights(*net, cut), FormatError);
  CHECK_THROWS_WITH(load_keras_weights(*net, fixture("keras_m2.weights.h5")), Contains("has no group 'layers/embedding/vars'"));
  CHECK_THROWS_WITH(load_keras_weights(*net, fixture("keras_m2.h5")),
                    Contains("holds weights for 3 layers; the model has 5 layers with weights"));
  CHECK_THROWS_AS(load_keras_weights(*net, fixture("does_not_exist.h5")), FormatError);
  unchanged();
  // The same architecture with another width: every shape is checked before anything changes.
  Tensor x3;
  auto wide = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<Embedding>(20, 6), std::make_shared<Bidirectional>(LSTM(5, {}, {.return_sequences = true})),
      std::make_shared<TimeDistributed>(Dense(4)), std::make_shared<SimpleRNN>(3, SimpleRNNCellOptions{}, RNNOptions{.return_sequences = true}),
      std::make_shared<Dense>(7)});
  wide->build_for({2, 7});
  const std::vector<Tensor> wide_before = wide->get_weights();
  CHECK_THROWS_WITH(load_keras_weights(*wide, fixture("keras_m1.weights.h5")),
                    Contains("dataset 'layers/dense/vars/0' has shape (3, 2); the model's weight is (3, 7)"));
  CHECK_THROWS_WITH(load_keras_weights(*wide, fixture("keras_m1.h5")),
                    Contains("dataset 'dense_1/dense_1/kernel:0' has shape (3, 2); the model's weight is (3, 7)"));
  for (std::size_t i = 0; i < wide_before.size(); ++i) CHECK(testing::bitwise_equal(wide->get_weights()[i], wide_before[i]));
  // A model with fewer layers than the Keras 3 file: the file's extra variables are refused.
  auto shorter = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{std::make_shared<Embedding>(20, 6)});
  shorter->build_for({2, 7});
  CHECK_THROWS_WITH(load_keras_weights(*shorter, fixture("keras_m1.weights.h5")),
                    Contains("which no weight of the model reads"));
  // Unbuilt models, and layers whose Keras 3 group name loom cannot know.
  Sequential unbuilt({Dense(2)});
  CHECK_THROWS_AS(load_keras_weights(unbuilt, fixture("keras_m1.h5")), StateError);
  CHECK_THROWS_AS(save_keras_weights(unbuilt, temp("x.h5")), StateError);
}
