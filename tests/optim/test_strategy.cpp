// SPDX-License-Identifier: Apache-2.0
// The data-parallel hook without MPI: a world of one rank must change nothing, the shards must tile
// every batch, and a checkpoint's per-rank generator positions are checked like every other field.
#include <filesystem>

#include "support/reference.hpp"

using namespace loom;

namespace {

// A world of `size` ranks seen from `rank`, whose collectives only work for size 1 (enough for the
// shard arithmetic at any size, and for running fit and checkpoints through the hook at size 1).
class World final : public Strategy {
 public:
  explicit World(int size = 1, int rank = 0) : size_(size), rank_(rank) {}
  int rank() const noexcept override { return rank_; }
  int world_size() const noexcept override { return size_; }
  void broadcast(std::span<Tensor>) override {}
  void all_reduce_sum(std::span<double>) override {}
  std::uint64_t all_reduce_max(std::uint64_t v) override { return v; }
  Tensor all_gather_rows(const Tensor& local) override { return local; }
  std::vector<std::string> all_gather(const std::string& local) override { return {local}; }
  void barrier() override {}
  class Exchange final : public GradientExchange {
   public:
    Exchange(std::size_t n, double scale) : grads_(n), scale_(scale) {}
    void ready(std::size_t i, const Tensor& g) override { grads_.at(i) = core::mul(g, scale_); }
    std::vector<Tensor> finish() override { return grads_; }

   private:
    std::vector<Tensor> grads_;
    double scale_;
  };
  std::unique_ptr<GradientExchange> reduce_gradients(const std::vector<Var>& weights, double scale) override {
    ++steps;
    return std::make_unique<Exchange>(weights.size(), scale);
  }
  void fail(const std::string& what) noexcept override { failures.push_back(what); }
  int steps = 0;
  std::vector<std::string> failures;

 private:
  int size_, rank_;
};

Model small_model() {
  auto net = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<GRU>(6, GRUCellOptions{}, RNNOptions{.name = "gru"}), std::make_shared<Dropout>(0.3, "drop"),
      std::make_shared<Dense>(1, DenseOptions{.name = "out"})}, "net");
  Model m(net);
  m.compile(std::make_shared<Adam>(), losses::mse(), {"mae"});
  return m;
}

std::vector<Tensor> weights_of(Model& m) {
  std::vector<Tensor> out;
  for (const Var& w : m.network().weights()) out.push_back(w.value().clone());
  return out;
}

}  // namespace

TEST_CASE("strategy: the shards of a batch tile it in rank order, sizes within one", "[optim][strategy]") {
  for (int size = 1; size <= 7; ++size)
    for (std::int64_t n = 0; n <= 50; ++n) {
      std::int64_t next = 0, smallest = n, largest = 0;
      for (int r = 0; r < size; ++r) {
        const auto [begin, end] = World(size, r).shard(n);
        CHECK(begin == next);
        next = end;
        smallest = std::min(smallest, end - begin);
        largest = std::max(largest, end - begin);
      }
      CHECK(next == n);
      CHECK(largest - smallest <= 1);
    }
}

TEST_CASE("strategy: fit through a world of one rank is bit for bit fit without one", "[optim][strategy]") {
  Generator gen(4);
  const Tensor x = Tensor::uniform({40, 5, 2}, -1, 1, DType::f32, &gen);
  const Tensor y = core::sum(core::sum(x, 1), 1).reshape({40, 1});
  manual_seed(8);
  Model plain = small_model();
  const History a = plain.fit(x, y, {.epochs = 2, .batch_size = 16, .verbose = 0});
  manual_seed(8);
  Model hooked = small_model();
  const auto world = std::make_shared<World>();
  hooked.distribute(world);
  const History b = hooked.fit(x, y, {.epochs = 2, .batch_size = 16, .verbose = 0});
  CHECK(world->steps == 6);  // 3 batches × 2 epochs went through the exchange
  const std::vector<Tensor> wa = weights_of(plain), wb = weights_of(hooked);
  REQUIRE(wa.size() == wb.size());
  for (std::size_t i = 0; i < wa.size(); ++i) CHECK(testing::bitwise_equal(wa[i], wb[i]));
  CHECK(a.history.at("loss") == b.history.at("loss"));
  CHECK(testing::bitwise_equal(plain.predict(x, 7), hooked.predict(x, 7)));
  CHECK(plain.evaluate(x, y, 9) == hooked.evaluate(x, y, 9));
  CHECK(world->failures.empty());
  CHECK_THROWS_AS(hooked.predict(Tensor::zeros({0, 5, 2})), ValueError);
}

TEST_CASE("strategy: a throw inside fit is reported through fail() before it propagates", "[optim][strategy]") {
  Model m = small_model();
  const auto world = std::make_shared<World>();
  m.distribute(world);
  auto thrower = std::make_shared<LambdaCallback>();
  thrower->batch_end = [](Model&, std::int64_t, const Logs&) { throw ValueError("stop here"); };
  CHECK_THROWS_AS(m.fit(Tensor::ones({8, 3, 2}), Tensor::ones({8, 1}), {.callbacks = {thrower}, .verbose = 0}),
                  ValueError);
  REQUIRE(world->failures.size() == 1);
  CHECK(world->failures[0] == "stop here");
  // Argument errors are the same on every rank: they are thrown before any collective, not reported.
  CHECK_THROWS_AS(m.fit(Tensor::ones({8, 3, 2}), Tensor::ones({7, 1})), ValueError);
  CHECK(world->failures.size() == 1);
}

TEST_CASE("strategy: a checkpoint's rank generator positions are checked before anything loads", "[optim][strategy]") {
  const std::string path = (std::filesystem::temp_directory_path() / "loom_strategy_ckpt.safetensors").string();
  Model m = small_model();
  m.distribute(std::make_shared<World>());
  m.fit(Tensor::ones({8, 3, 2}), Tensor::ones({8, 1}), {.verbose = 0});
  m.save_checkpoint(path);
  TensorFile f = load_safetensors(path);
  CHECK(f.metadata.at("world_size") == "1");
  REQUIRE(f.metadata.count("replica_generators"));
  const std::vector<Tensor> before = weights_of(m);
  for (const std::string bad : {"", "1,", "x", "1,,2", "-3", "99999999999999999999999"}) {
    CAPTURE(bad);
    f.metadata["replica_generators"] = bad;
    save_safetensors(path, f);
    Model other = small_model();
    other.distribute(std::make_shared<World>());
    other.network().build_for({8, 3, 2});
    const std::vector<Tensor> untouched = weights_of(other);
    CHECK_THROWS_AS(other.load_checkpoint(path), FormatError);
    const std::vector<Tensor> after = weights_of(other);
    for (std::size_t i = 0; i < after.size(); ++i) CHECK(testing::bitwise_equal(after[i], untouched[i]));
  }
  std::filesystem::remove(path);
}
