// SPDX-License-Identifier: Apache-2.0
// Results are bitwise identical with 1, 2 and 4 threads: GEMM, reductions, softmax, element-wise, random.
#include <tbb/task_arena.h>

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
