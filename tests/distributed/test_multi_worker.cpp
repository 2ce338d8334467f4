// SPDX-License-Identifier: Apache-2.0
// Data-parallel training on 2 ranks against the same training in one process (each rank computes the
// one-process reference itself), run-to-run and thread-count identity, replicas, checkpoints,
// truncated BPTT, evaluate/predict and the collectives' own checks.
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>

#include <catch2/catch.hpp>

#include <loom/distributed/multi_worker.hpp>
#include <loom/loom.hpp>

using namespace loom;
using distributed::MultiWorkerStrategy;

namespace {

std::shared_ptr<MultiWorkerStrategy> world(distributed::MultiWorkerOptions options = {}) {
  if (options.timeout_seconds == 0) options.timeout_seconds = 120;  // a failed check must not hang ctest
  return std::make_shared<MultiWorkerStrategy>(options);
}

// Sum-of-sequence regression: x ~ U(−1, 1) of shape (n, 8, 2), y = Σ_t x_t·(1, −½).
std::pair<Tensor, Tensor> sum_task(std::int64_t n, DType dtype, std::uint64_t seed = 5) {
  Generator gen(seed);
  const Tensor x = Tensor::uniform({n, 8, 2}, -1, 1, dtype, &gen);
  const Tensor w = Tensor::of({1.0, -0.5}, {2, 1}).to(dtype);
  return {x, core::matmul(core::sum(x, 1), w)};
}

// Fixed names: a model rebuilt in the same process loads a checkpoint by weight names.
std::shared_ptr<Sequential> network(DType dtype, bool dropout = false) {
  std::vector<std::shared_ptr<Layer>> layers{std::make_shared<LSTM>(12, LSTMCellOptions{}, RNNOptions{.name = "lstm"})};
  if (dropout) layers.push_back(std::make_shared<Dropout>(0.25, "dropout"));
  layers.push_back(std::make_shared<Dense>(1, DenseOptions{.name = "dense"}));
  auto net = std::make_shared<Sequential>(layers, "net");
  net->set_dtype(dtype);
  return net;
}

Model compiled(DType dtype, bool dropout = false) {
  Model m(network(dtype, dropout));
  m.compile(std::make_shared<Adam>(AdamOptions{.learning_rate = 0.01}), losses::mse(), {"mae"});
  return m;
}

std::vector<Tensor> values(Model& m) {
  std::vector<Tensor> out;
  for (const Var& w : m.network().weights()) out.push_back(w.value().clone());
  return out;
}

bool bitwise_equal(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].shape() != b[i].shape() || a[i].dtype() != b[i].dtype() ||
        std::memcmp(a[i].raw_data(), b[i].raw_data(), static_cast<std::size_t>(a[i].numel()) * itemsize(a[i].dtype())) != 0)
      return false;
  return true;
}

// The largest relative difference ‖a − b‖ / ‖b‖ over the weights.
double worst_relative(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::vector<double> x = a[i].to_vector<double>(), y = b[i].to_vector<double>();
    double diff = 0, norm = 0;
    for (std::size_t k = 0; k < x.size(); ++k) {
      diff += (x[k] - y[k]) * (x[k] - y[k]);
      norm += y[k] * y[k];
    }
    worst = std::max(worst, std::sqrt(diff) / std::max(std::sqrt(norm), 1e-30));
  }
  return worst;
}

// Every rank's weights are the same bits: gather them all and compare with this rank's.
void check_same_on_every_rank(MultiWorkerStrategy& s, const std::vector<Tensor>& mine) {
  for (const Tensor& t : mine) {
    const Tensor all = s.all_gather_rows(t.reshape({1, t.numel()}));
    for (int r = 0; r < s.world_size(); ++r)
      REQUIRE(std::memcmp(all.index0(r).raw_data(), t.raw_data(), static_cast<std::size_t>(t.numel()) * itemsize(t.dtype())) == 0);
  }
  s.check_replicas([&] {
    std::vector<Var> vars;
    for (const Tensor& t : mine) vars.emplace_back(t);
    return vars;
  }());
}

std::string shared_temp(MultiWorkerStrategy& s, const std::string& name) {
  // One path for every rank (rank 0's), as a shared filesystem would give.
  const std::string mine =
      (std::filesystem::temp_directory_path() / ("loom_mpi_" + std::to_string(::getpid()) + "_" + name)).string();
  return s.all_gather(mine)[0];
}

}  // namespace

TEST_CASE("distributed: the world has two ranks", "[mpi]") {
  const auto s = world();
  REQUIRE(s->world_size() == 2);
  CHECK(s->shard(7, 0) == std::pair<std::int64_t, std::int64_t>{0, 4});
  CHECK(s->shard(7, 1) == std::pair<std::int64_t, std::int64_t>{4, 7});
  CHECK(s->shard(1, 1) == std::pair<std::int64_t, std::int64_t>{1, 1});
}

TEST_CASE("distributed: fit on 2 ranks equals one process with the same global batch", "[mpi]") {
  const auto s = world();
  for (const DType dtype : {DType::f32, DType::f64})
    for (const std::int64_t batch : {std::int64_t{32}, std::int64_t{27}}) {  // even and uneven shards
      CAPTURE(dtype, batch);
      const auto [x, y] = sum_task(120, dtype);
      manual_seed(11);
      Model one = compiled(dtype);
      const History h1 = one.fit(x, y, {.epochs = 3, .batch_size = batch, .verbose = 0});
      manual_seed(11);
      Model two = compiled(dtype);
      two.distribute(s);
      const History h2 = two.fit(x, y, {.epochs = 3, .batch_size = batch, .verbose = 0});
      const double tol = dtype == DType::f32 ? 1e-6 : 1e-12;
      CHECK(worst_relative(values(two), values(one)) <= tol);
      for (const char* key : {"loss", "mae"})
        for (std::size_t e = 0; e < 3; ++e)
          CHECK(std::abs(h2.history.at(key)[e] - h1.history.at(key)[e]) <= 10 * tol * std::abs(h1.history.at(key)[e]));
      check_same_on_every_rank(*s, values(two));
    }
}

TEST_CASE("distributed: runs repeat bit for bit, with 1 or 2 threads per rank, in any bucket size", "[mpi]") {
  const auto [x, y] = sum_task(96, DType::f32);
  const auto run = [&](int threads, std::size_t bucket_bytes) {
    set_num_threads(threads);
    manual_seed(3);
    Model m = compiled(DType::f32, /*dropout=*/true);
    m.distribute(world({.bucket_bytes = bucket_bytes, .check_replicas = true}));
    m.fit(x, y, {.epochs = 2, .batch_size = 24, .verbose = 0});
    return values(m);
  };
  const int before = num_threads();
  const std::vector<Tensor> first = run(1, std::size_t{4} << 20);
  CHECK(bitwise_equal(run(1, std::size_t{4} << 20), first));
  CHECK(bitwise_equal(run(2, std::size_t{4} << 20), first));
  CHECK(bitwise_equal(run(1, 512), first));  // many small buckets
  set_num_threads(before);
  check_same_on_every_rank(*world(), first);
}

TEST_CASE("distributed: the ranks draw different dropout masks, and one process's on rank 0", "[mpi]") {
  const auto s = world();
  ReplicaRandom random;
  manual_seed(9);
  Tensor a;
  random.run(s.get(), [&] { a = Tensor::uniform({4}, 0, 1); });
  const Tensor both = s->all_gather_rows(a.reshape({1, 4}));
  CHECK(std::memcmp(both.index0(0).raw_data(), both.index0(1).raw_data(), 4 * sizeof(float)) != 0);
  manual_seed(9);
  const Tensor reference = Tensor::uniform({4}, 0, 1);
  CHECK(std::memcmp(both.index0(0).raw_data(), reference.raw_data(), 4 * sizeof(float)) == 0);
  // Afterwards every rank's default generator stands where rank 0's does.
  const std::vector<std::string> offsets = s->all_gather(std::to_string(default_generator().offset()));
  CHECK(offsets[0] == offsets[1]);
}

TEST_CASE("distributed: evaluate and predict equal one process", "[mpi]") {
  const auto s = world();
  const auto [x, y] = sum_task(37, DType::f32);
  manual_seed(4);
  Model m = compiled(DType::f32);
  m.fit(x, y, {.epochs = 1, .batch_size = 16, .verbose = 0});
  const Logs local = m.evaluate(x, y, 10);
  const Tensor local_pred = m.predict(x, 10);
  m.distribute(s);
  const Logs shared = m.evaluate(x, y, 10);
  const Tensor shared_pred = m.predict(x, 10);
  REQUIRE(shared_pred.shape() == local_pred.shape());
  const std::vector<double> p = shared_pred.to_vector<double>(), q = local_pred.to_vector<double>();
  for (std::size_t i = 0; i < p.size(); ++i) CHECK(std::abs(p[i] - q[i]) <= 1e-6 * (1 + std::abs(q[i])));
  for (const char* key : {"loss", "mae"}) CHECK(std::abs(shared.at(key) - local.at(key)) <= 1e-6 * local.at(key));
}

TEST_CASE("distributed: a checkpoint resumes bit for bit, and loads in one process", "[mpi]") {
  const auto s = world();
  const auto [x, y] = sum_task(90, DType::f32);
  const std::string path = shared_temp(*s, "resume.ckpt");
  manual_seed(21);
  Model full = compiled(DType::f32, /*dropout=*/true);
  full.distribute(s);
  full.fit(x, y, {.epochs = 4, .batch_size = 20, .verbose = 0});

  manual_seed(21);
  Model first = compiled(DType::f32, true);
  first.distribute(s);
  first.fit(x, y, {.epochs = 2, .batch_size = 20, .verbose = 0});
  first.save_checkpoint(path);
  manual_seed(999);  // the checkpoint, not this, must decide what comes next
  Model second = compiled(DType::f32, true);
  second.distribute(s);
  second.network().build_for({10, 8, 2});
  second.load_checkpoint(path);
  CHECK(second.epochs_done() == 2);
  second.fit(x, y, {.epochs = 4, .batch_size = 20, .verbose = 0, .initial_epoch = 2});
  CHECK(bitwise_equal(values(second), values(full)));

  // In one process (no strategy) the same file loads: the weights are the ones rank 0 saved.
  Model alone = compiled(DType::f32, true);
  alone.network().build_for({10, 8, 2});
  alone.load_checkpoint(path);
  Model probe = compiled(DType::f32, true);
  probe.distribute(s);
  probe.network().build_for({10, 8, 2});
  probe.load_checkpoint(path);
  CHECK(bitwise_equal(values(alone), values(probe)));
  s->barrier();
  if (s->is_chief()) std::filesystem::remove(path);
}

TEST_CASE("distributed: a stateful model's checkpoint holds every stream and loads on any number of ranks", "[mpi]") {
  const auto s = world();
  // 6 streams of 16 steps in 4 consecutive chunks; each rank owns 3 streams.
  Generator gen(8);
  const Tensor x = Tensor::uniform({4 * 6, 4, 2}, -1, 1, DType::f32, &gen);
  const Tensor y = core::sum(x, 1).slice0(0, 24);
  const auto make = [] {
    auto rnn = std::make_shared<LSTM>(8, LSTMCellOptions{}, RNNOptions{.stateful = true, .name = "stateful_lstm"});
    Model m(std::make_shared<Sequential>(
        std::vector<std::shared_ptr<Layer>>{rnn, std::make_shared<Dense>(2, DenseOptions{.name = "head"})}, "net"));
    m.compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.05}), losses::mse());
    return std::pair{std::move(m), rnn};
  };
  manual_seed(2);
  auto [one, one_rnn] = make();
  one.fit(x, y, {.epochs = 1, .batch_size = 6, .shuffle = false, .verbose = 0});
  manual_seed(2);
  auto [two, two_rnn] = make();
  two.distribute(s);
  two.fit(x, y, {.epochs = 1, .batch_size = 6, .shuffle = false, .verbose = 0});
  CHECK(worst_relative(values(two), values(one)) <= 1e-6);
  // This rank carries its 3 streams, which are the one-process run's rows of them.
  const Tensor mine = two_rnn->states()[0].value();
  REQUIRE(mine.shape() == Shape{3, 8});
  const std::vector<double> a = mine.to_vector<double>(),
                            b = one_rnn->states()[0].value().slice0(3 * s->rank(), 3).to_vector<double>();
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(std::abs(a[i] - b[i]) <= 1e-5);

  const std::string path = shared_temp(*s, "stateful.ckpt");
  two.save_checkpoint(path);
  auto [alone, alone_rnn] = make();  // one process: all 6 streams come back
  alone.network().build_for({6, 4, 2});
  alone.load_checkpoint(path);
  REQUIRE(alone_rnn->states()[0].shape() == Shape{6, 8});
  const Tensor all = s->all_gather_rows(mine);
  CHECK(std::memcmp(alone_rnn->states()[0].value().raw_data(), all.raw_data(), 48 * sizeof(float)) == 0);
  s->barrier();
  if (s->is_chief()) std::filesystem::remove(path);
}

TEST_CASE("distributed: stateful truncated BPTT on 2 ranks equals one process", "[mpi]") {
  const auto s = world();
  for (const std::int64_t streams : {std::int64_t{6}, std::int64_t{5}}) {
    CAPTURE(streams);
    Generator gen(13);
    const Tensor tokens = Tensor::uniform({streams * 60}, 0, 1, DType::f32, &gen);
    const Tensor x = batchify(tokens, streams).reshape({streams, 60, 1});
    const Tensor y = core::mul(x, 2.0);
    Tensor resets = Tensor::zeros({streams, 60});
    resets.data<float>()[1 * 60 + 25] = 1;  // stream 1 restarts at step 25
    const auto train = [&](std::shared_ptr<Strategy> strategy) {
      manual_seed(6);
      auto rnn = std::make_shared<GRU>(6, GRUCellOptions{}, RNNOptions{.return_sequences = true});
      auto head = std::make_shared<Dense>(1);
      rnn->build_for({streams, 60, 1});
      head->build_for({streams, 60, 6});
      std::vector<Var> weights = rnn->trainable_weights();
      for (const Var& w : head->trainable_weights()) weights.push_back(w);
      auto opt = std::make_shared<Adam>(AdamOptions{.learning_rate = 0.01});
      TruncatedBPTT trainer(rnn_sequence_model(rnn, head), weights, *opt,
                            [](const Tensor& t, const Var& p) { return losses::mse()(t, p); },
                            {.k1 = 10, .k2 = 15, .strategy = strategy});
      trainer.reset(rnn->cell()->get_initial_state(streams, DType::f32));
      double loss = 0;
      for (int pass = 0; pass < 2; ++pass) loss = trainer.train(x, y, resets);
      std::vector<Tensor> out;
      for (const Var& w : weights) out.push_back(w.value().clone());
      return std::tuple{out, loss, trainer.carried_states()[0].clone()};
    };
    const auto [w1, loss1, carried1] = train(nullptr);
    const auto [w2, loss2, carried2] = train(s);
    CHECK(worst_relative(w2, w1) <= 1e-6);
    CHECK(std::abs(loss2 - loss1) <= 1e-6 * loss1);
    const auto [begin, end] = s->shard(streams);
    REQUIRE(carried2.shape(0) == end - begin);
    const std::vector<double> a = carried2.to_vector<double>(), b = carried1.slice0(begin, end - begin).to_vector<double>();
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(std::abs(a[i] - b[i]) <= 1e-5);
    check_same_on_every_rank(*s, w2);
  }
}

TEST_CASE("distributed: only rank 0 writes the CSV log, and callbacks see the same logs everywhere", "[mpi]") {
  const auto s = world();
  const auto [x, y] = sum_task(64, DType::f32);
  const std::string path = shared_temp(*s, "log.csv");
  const std::string mine = path + ".rank" + std::to_string(s->rank());
  manual_seed(1);
  Model m = compiled(DType::f32);
  m.distribute(s);
  auto lambda = std::make_shared<LambdaCallback>();
  std::vector<double> batch_losses;
  lambda->batch_end = [&](Model&, std::int64_t, const Logs& logs) { batch_losses.push_back(logs.at("loss")); };
  std::ostringstream out;
  m.fit(x, y, {.epochs = 2, .batch_size = 16, .callbacks = {std::make_shared<CSVLogger>(s->is_chief() ? path : mine), lambda},
               .verbose = 2, .out = &out});
  CHECK(std::filesystem::exists(s->is_chief() ? path : mine) == s->is_chief());
  CHECK(out.str().empty() == !s->is_chief());
  std::ostringstream joined;
  for (double v : batch_losses) joined << v << ' ';
  const std::vector<std::string> all = s->all_gather(joined.str());
  CHECK(all[0] == all[1]);
  s->barrier();
  if (s->is_chief()) std::filesystem::remove(path);
}

TEST_CASE("distributed: collectives refuse mismatched ranks, and diverged replicas are caught", "[mpi]") {
  const auto s = world();
  const Tensor mine = Tensor::zeros({2, s->rank() == 0 ? 3 : 4});
  CHECK_THROWS_AS(s->all_gather_rows(mine), DistributedError);
  const Tensor none = s->all_gather_rows(s->rank() == 0 ? Tensor() : Tensor::ones({2, 3}));  // rank 0 has no rows
  CHECK(none.shape() == Shape{2, 3});
  Tensor value = Tensor::ones({3});
  if (s->rank() == 1) value.data<float>()[2] = 2;
  const Var w(value);
  try {
    s->check_replicas({w});
    FAIL("diverged replicas were not noticed");
  } catch (const DistributedError& e) {
    CHECK_THAT(e.what(), Catch::Matchers::Contains("differs between ranks"));
  }
  CHECK_THROWS_AS(distributed::MultiWorkerStrategy({.bucket_bytes = 0}), ValueError);
}
