// SPDX-License-Identifier: Apache-2.0
// Results are bitwise identical with 1, 2 and 4 threads: GEMM, reductions, softmax, element-wise, random.
#include <atomic>
#include <thread>

#include <tbb/task_arena.h>

#include "../../core/src/parallel.hpp"  // parallel_chunks, to drive the team directly
#include "support/reference.hpp"

using loom::DType;
using loom::Tensor;
namespace core = loom::core;

namespace {

template <class Fn>
void check_thread_invariant(const char* what, Fn&& fn) {
  const Tensor one = loom::testing::with_threads(1, fn);
  for (int n : {2, 4}) {
    CAPTURE(what, n);
    const Tensor many = loom::testing::with_threads(n, fn);
    CHECK(loom::testing::bitwise_equal(one, many));
  }
}

}  // namespace

TEST_CASE("threads: set_num_threads limits and restores the pool", "[core][threads]") {
  loom::set_num_threads(1);
  CHECK(loom::num_threads() == 1);
  loom::set_num_threads(3);
  CHECK(loom::num_threads() == 3);
  loom::set_num_threads(0);
  CHECK(loom::num_threads() >= 1);
  CHECK_THROWS_AS(loom::set_num_threads(-1), loom::ValueError);
}

TEST_CASE("threads: kernels give identical bits for any thread count", "[core][threads]") {
  const Tensor a = loom::testing::random({300, 700}, DType::f32, 1);
  const Tensor b = loom::testing::random({700, 600}, DType::f32, 2);
  const Tensor big = loom::testing::random({1 << 20}, DType::f32, 3);
  const Tensor rows = loom::testing::random({2048, 300}, DType::f32, 4);
  check_thread_invariant("gemm nn", [&] {
    Tensor c = Tensor::zeros({300, 600});
    core::gemm(a, false, b, false, c);
    return c;
  });
  check_thread_invariant("gemm tn", [&] { return core::matmul_tn(rows, rows); });
  check_thread_invariant("gemm f64", [&] { return core::matmul(a.to(DType::f64), b.to(DType::f64)); });
  check_thread_invariant("sum all", [&] { return core::sum(big); });
  check_thread_invariant("sum axis 0", [&] { return core::sum(rows, 0); });
  check_thread_invariant("sum axis 1", [&] { return core::sum(rows, 1); });
  check_thread_invariant("max axis 0", [&] { return core::max(rows, 0); });
  check_thread_invariant("softmax", [&] { return core::softmax(rows); });
  check_thread_invariant("log_softmax", [&] { return core::log_softmax(rows); });
  check_thread_invariant("tanh", [&] { return core::tanh(big); });
  check_thread_invariant("add row", [&] { return core::add(rows, rows.index0(0)); });
  check_thread_invariant("uniform", [&] {
    loom::Generator gen(8);
    return Tensor::uniform({1 << 20}, -1, 1, DType::f32, &gen);
  });
  check_thread_invariant("normal f64", [&] {
    loom::Generator gen(8);
    return Tensor::normal({(1 << 20) + 3}, 0, 1, DType::f64, &gen);
  });
  check_thread_invariant("bernoulli", [&] {
    loom::Generator gen(8);
    Tensor m = Tensor::empty({1 << 20});
    loom::bernoulli_(m, 0.5, gen);
    return m;
  });
}

TEST_CASE("threads: run_with_threads limits the kernels inside it, with the same bits", "[core][threads]") {
  loom::Generator gen(3);
  const loom::Tensor a = loom::Tensor::uniform({300, 200}, -1, 1, loom::DType::f32, &gen);
  const loom::Tensor b = loom::Tensor::uniform({200, 400}, -1, 1, loom::DType::f32, &gen);
  const loom::Tensor everywhere = loom::core::matmul(a, b);
  loom::Tensor inside;
  int concurrency = 0;
  loom::detail::run_with_threads(1, [&] {
    inside = loom::core::matmul(a, b);
    concurrency = tbb::this_task_arena::max_concurrency();
  });
  CHECK(concurrency == 1);
  CHECK(loom::testing::bitwise_equal(inside, everywhere));
  int outside = 0;
  loom::detail::run_with_threads(64, [&] { outside = tbb::this_task_arena::max_concurrency(); });
  CHECK(outside == tbb::this_task_arena::max_concurrency());  // a limit above the pool's changes nothing
}

namespace {

/// How often parallel_chunks ran each of `chunks` chunks.
std::vector<int> chunk_counts(std::int64_t chunks) {
  std::vector<std::atomic<int>> seen(static_cast<std::size_t>(chunks));
  loom::detail::parallel_chunks(chunks, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t c = b; c < e; ++c) seen[static_cast<std::size_t>(c)].fetch_add(1);
  });
  std::vector<int> out;
  for (auto& s : seen) out.push_back(s.load());
  return out;
}

}  // namespace

TEST_CASE("threads: a spinning team runs every chunk once, with the same bits", "[core][threads]") {
  const Tensor a = loom::testing::random({16, 128}, DType::f32, 1), b = loom::testing::random({128, 512}, DType::f32, 2);
  const Tensor rows = loom::testing::random({64, 300}, DType::f32, 3);
  const Tensor product = loom::testing::with_threads(1, [&] { return core::matmul(a, b); });
  const Tensor sums = loom::testing::with_threads(1, [&] { return core::sum(rows, 0); });
  for (int n : {2, 4}) {
    CAPTURE(n);
    loom::testing::with_threads(n, [&] {
      const loom::detail::TeamScope team;
      CHECK(team.active() == (std::thread::hardware_concurrency() > 1));
      for (int repeat = 0; repeat < 200; ++repeat) {  // back-to-back jobs, as an RNN's steps start them
        CHECK(loom::testing::bitwise_equal(core::matmul(a, b), product));
        CHECK(loom::testing::bitwise_equal(core::sum(rows, 0), sums));
      }
      CHECK(chunk_counts(1000) == std::vector<int>(1000, 1));
      return 0;
    });
  }
}

TEST_CASE("threads: a team passes a chunk's error on and stays usable", "[core][threads]") {
  loom::testing::with_threads(2, [&] {
    const loom::detail::TeamScope team;
    std::atomic<int> ran{0};
    auto failing = [&] {
      loom::detail::parallel_chunks(64, 1, [&](std::int64_t b, std::int64_t) {
        ran.fetch_add(1);
        if (b == 37) throw loom::ValueError("chunk 37 failed");
      });
    };
    CHECK_THROWS_AS(failing(), loom::ValueError);
    CHECK(ran.load() >= 1);
    CHECK(chunk_counts(300) == std::vector<int>(300, 1));  // the next job runs whole
    return 0;
  });
}

TEST_CASE("threads: kernels started inside a team's chunk, and a second team, run every chunk", "[core][threads]") {
  loom::testing::with_threads(2, [&] {
    const loom::detail::TeamScope team;
    std::atomic<int> inner{0};
    loom::detail::parallel_chunks(8, 1, [&](std::int64_t, std::int64_t) {
      loom::detail::parallel_chunks(10, 1, [&](std::int64_t b, std::int64_t e) { inner.fetch_add(static_cast<int>(e - b)); });
    });
    CHECK(inner.load() == 80);
    // Another thread cannot take the team while this one holds it: its kernels use the pool.
    bool other_active = true;
    std::vector<int> other;
    std::thread([&] {
      const loom::detail::TeamScope second;
      other_active = second.active();
      other = chunk_counts(500);
    }).join();
    CHECK_FALSE(other_active);
    CHECK(other == std::vector<int>(500, 1));
    const loom::detail::TeamScope nested;  // the outer scope keeps the team
    CHECK_FALSE(nested.active());
    CHECK(chunk_counts(100) == std::vector<int>(100, 1));
    return 0;
  });
  bool serial_active = true;
  loom::detail::run_with_threads(1, [&] { serial_active = loom::detail::TeamScope().active(); });
  CHECK_FALSE(serial_active);
}

TEST_CASE("threads: an arena of one thread keeps its kernels on the calling thread, even under a team",
          "[core][threads]") {
  loom::testing::with_threads(2, [&] {
    const loom::detail::TeamScope team;
    const std::thread::id caller = std::this_thread::get_id();
    // Wake the worker first (it may be asleep, and waking takes up to milliseconds), so that a team
    // job right after would give it chunks: without the one-thread check it would take some below.
    auto busy = [] {
      volatile double x = 0;  // a few microseconds
      for (int i = 0; i < 5000; ++i) x = x + 1.0;
    };
    if (team.active())
      for (int tries = 0; tries < 200; ++tries) {
        std::atomic<bool> helped{false};
        loom::detail::parallel_chunks(64, 1, [&](std::int64_t, std::int64_t) {
          busy();
          if (std::this_thread::get_id() != caller) helped = true;
        });
        if (helped) break;
      }
    std::vector<std::thread::id> ran(64);
    loom::detail::run_with_threads(1, [&] {
      loom::detail::parallel_chunks(64, 1, [&](std::int64_t b, std::int64_t) {
        ran[static_cast<std::size_t>(b)] = std::this_thread::get_id();
        busy();
      });
    });
    CHECK(ran == std::vector<std::thread::id>(64, caller));
    return 0;
  });
}
