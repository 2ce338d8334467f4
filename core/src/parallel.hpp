// SPDX-License-Identifier: Apache-2.0
// Private: the deterministic parallel-for every kernel uses.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/global_control.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

namespace loom::detail {

/// Threads that can run this thread's parallel work now: the task arena's and the global limit.
/// Only for choices that cannot change results (how finely to split work whose bits do not depend
/// on the split).
inline std::int64_t current_concurrency() {
  const auto global = tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
  return std::max<std::int64_t>(
      1, std::min<std::int64_t>(tbb::this_task_arena::max_concurrency(), static_cast<std::int64_t>(global)));
}

/// The limit of set_num_threads (0: none), kept here so that a kernel can tell cheaply that it runs
/// on one thread.
extern std::atomic<int> thread_limit;

/// Runs chunks [0, chunks) of a job on the calling thread's team (`TeamScope`, team.cpp), the
/// caller taking its share; `run(ctx, c)` runs chunk c. Returns false, having run nothing, when the
/// thread holds no team. Inside a team's job it runs the chunks in order on the calling thread (a
/// kernel started from a chunk), and returns true.
bool team_run(std::int64_t chunks, void* ctx, void (*run)(void*, std::int64_t));

/// Calls `fn(begin, end)` on the chunks [k·grain, min((k+1)·grain, n)) of [0, n). Chunks are fixed
/// by `grain` (a function of the problem, never of the thread count), so a kernel that computes
/// each output element inside one chunk gives the same bits for any number of threads. Runs inline
/// when there is a single chunk.
/// With `serial`, the same chunks run in order on the calling thread (for work too small to pay for
/// waking other threads); the results are the same bits either way.
template <class Fn>
void parallel_chunks(std::int64_t n, std::int64_t grain, Fn&& fn, bool serial = false) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const std::int64_t chunks = (n + grain - 1) / grain;
  if (chunks == 1) {
    fn(std::int64_t{0}, n);
    return;
  }
  auto one = [&](std::int64_t c) {
    const std::int64_t b = c * grain;
    fn(b, b + grain < n ? b + grain : n);
  };
  // One thread (set_num_threads(1), or an arena of one, even inside a team's scope): the chunks run
  // in order here, without the scheduler's machinery.
  if (serial || thread_limit.load(std::memory_order_relaxed) == 1 || tbb::this_task_arena::max_concurrency() == 1) {
    for (std::int64_t c = 0; c < chunks; ++c) one(c);
    return;
  }
  using One = decltype(one);
  if (team_run(chunks, &one, [](void* ctx, std::int64_t c) { (*static_cast<One*>(ctx))(c); })) return;
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(0, chunks, 1),
      [&](const tbb::blocked_range<std::int64_t>& r) {
        for (std::int64_t c = r.begin(); c != r.end(); ++c) one(c);
      },
      tbb::simple_partitioner());
}

}  // namespace loom::detail
