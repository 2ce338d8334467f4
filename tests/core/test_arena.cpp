// SPDX-License-Identifier: Apache-2.0
// Arenas for tensor storage: reuse only when nothing carved is alive, the allocation count, and
// IterationArena's plan (temporaries sharing bytes, carries, kept values), including an iteration
// that breaks the plan.
#include "loom/core/arena.hpp"
#include "loom/core/elementwise.hpp"
#include "loom/core/memory.hpp"
#include "support/reference.hpp"

using namespace loom;

namespace {
std::size_t allocations() { return memory_stats().allocations; }
}  // namespace

TEST_CASE("arena: tensors are carved from the block and counted as no allocation", "[core][arena]") {
  core::Arena arena;
  arena.reserve(4096);
  const std::size_t before = allocations();
  Tensor a, b;
  {
    const core::ArenaScope scope(&arena);
    a = Tensor::full({4, 8}, 1.0);
    b = Tensor::full({3}, 2.0);
    const core::ArenaScope suspended(nullptr);  // a null scope suspends the arena
    const Tensor own = Tensor::zeros({2});
    CHECK(allocations() == before + 1);
  }
  CHECK(allocations() == before + 1);
  CHECK(arena.demand() == 128 + 64);  // sizes rounded up to 64 bytes
  CHECK(a.to_vector<float>() == std::vector<float>(32, 1.0f));
  CHECK(b.to_vector<float>() == std::vector<float>{2, 2, 2});
  CHECK(static_cast<const char*>(b.raw_data()) - static_cast<const char*>(a.raw_data()) == 128);
  CHECK(Tensor::zeros({1}).defined());  // out of scope: an ordinary tensor again
}

TEST_CASE("arena: recycle reuses the block only when nothing carved from it is alive", "[core][arena]") {
  core::Arena arena;
  arena.reserve(1024);
  Tensor kept;
  const void* first = nullptr;
  {
    const core::ArenaScope scope(&arena);
    kept = Tensor::full({16}, 7.0);
    first = kept.raw_data();
  }
  arena.recycle();  // `kept` is alive: a new block, and the old one stays with it
  {
    const core::ArenaScope scope(&arena);
    const Tensor next = Tensor::full({16}, -1.0);
    CHECK(next.raw_data() != first);
  }
  CHECK(kept.to_vector<float>() == std::vector<float>(16, 7.0f));
  kept = Tensor();
  arena.recycle();  // the block's last tensor died: reused from its start
  const core::ArenaScope scope(&arena);
  const Tensor again = Tensor::full({16}, 3.0);
  const Tensor after = Tensor::full({16}, 4.0);
  CHECK(static_cast<const char*>(after.raw_data()) - static_cast<const char*>(again.raw_data()) == 64);
  CHECK(again.to_vector<float>() == std::vector<float>(16, 3.0f));
}

TEST_CASE("arena: a request that does not fit is allocated; the next cycle's block holds it",
          "[core][arena]") {
  core::Arena arena;
  const core::ArenaScope scope(&arena);
  const std::size_t before = allocations();
  { const Tensor big = Tensor::zeros({1000}); }
  CHECK(allocations() == before + 1);
  arena.recycle();  // one allocation: a block for the 4000 bytes asked for
  CHECK(arena.capacity() >= 4000);
  const std::size_t sized = allocations();
  { const Tensor big = Tensor::zeros({1000}); }
  CHECK(allocations() == sized);
}

namespace {

// A recurrent loop: each iteration makes temporaries (a, b: never alive at once), a carry (the
// state, read by the next iteration) and a kept value (pushed to `kept`).
Tensor iteration(const Tensor& state, std::vector<Tensor>& kept, Tensor* held = nullptr) {
  Tensor a = core::add(state, 1.0);
  Tensor x = core::mul(a, 2.0);
  a = Tensor();
  Tensor b = core::add(x, 0.5);  // may reuse a's bytes
  if (held) *held = b;           // a caller that breaks the plan: b outlives the iteration
  Tensor next = core::mul(b, 0.5);
  kept.push_back(core::add(next, 0.0));
  return next;
}

}  // namespace

TEST_CASE("iteration arena: after the first iterations, a loop allocates nothing", "[core][arena]") {
  core::IterationArena arena;
  std::vector<Tensor> kept;
  Tensor state = Tensor::zeros({64});
  std::vector<Tensor> expect_kept;
  {
    std::vector<Tensor> plain;  // the same loop without an arena, for the values
    Tensor s = Tensor::zeros({64});
    for (int k = 0; k < 40; ++k) s = iteration(s, plain);
    expect_kept = plain;
  }
  const core::ArenaScope scope(&arena);
  std::size_t after_plan = 0;
  for (int k = 0; k < 40; ++k) {
    arena.begin();
    state = iteration(state, kept);
    arena.end();
    if (k == 3) {
      REQUIRE(arena.planned());
      arena.reserve_kept(36);  // one allocation
      after_plan = allocations();
    }
  }
  CHECK(allocations() == after_plan);
  REQUIRE(kept.size() == 40);
  for (std::size_t k = 0; k < kept.size(); ++k) CHECK(kept[k].to_vector<float>() == expect_kept[k].to_vector<float>());
}

TEST_CASE("iteration arena: an iteration that keeps a temporary longer gets its own storage", "[core][arena]") {
  core::IterationArena arena;
  std::vector<Tensor> kept, expect_kept;
  Tensor state = Tensor::zeros({64}), s = Tensor::zeros({64});
  const core::ArenaScope scope(&arena);
  std::vector<Tensor> held(30), expect_held(30);
  for (int k = 0; k < 30; ++k) {
    {
      const core::ArenaScope plain(nullptr);
      s = iteration(s, expect_kept, k % 7 == 5 ? &expect_held[static_cast<std::size_t>(k)] : nullptr);
    }
    arena.begin();
    state = iteration(state, kept, k % 7 == 5 ? &held[static_cast<std::size_t>(k)] : nullptr);
    arena.end();
  }
  for (std::size_t k = 0; k < kept.size(); ++k) CHECK(kept[k].to_vector<float>() == expect_kept[k].to_vector<float>());
  for (std::size_t k = 0; k < held.size(); ++k)
    if (expect_held[k].defined()) CHECK(held[k].to_vector<float>() == expect_held[k].to_vector<float>());
  CHECK(state.to_vector<float>() == s.to_vector<float>());
}
