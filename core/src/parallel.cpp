// SPDX-License-Identifier: Apache-2.0
// set_num_threads / num_threads over tbb::global_control.
#include "loom/core/parallel.hpp"

#include <algorithm>
#include <memory>
#include <mutex>

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include "loom/core/check.hpp"
#include "parallel.hpp"

namespace loom {
std::atomic<int> detail::thread_limit{0};

namespace {
std::mutex control_mutex;
std::unique_ptr<tbb::global_control> control;
}  // namespace

void set_num_threads(int n) {
  LOOM_CHECK(n >= 0, ValueError, "set_num_threads: n must be >= 0 (0 = default); got ", n, ".");
  std::lock_guard<std::mutex> lock(control_mutex);
  control.reset();
  detail::thread_limit.store(n, std::memory_order_relaxed);
  if (n > 0)
    control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    static_cast<std::size_t>(n));
}

void detail::run_with_threads(int max_threads, const std::function<void()>& fn) {
  if (max_threads >= num_threads()) {
    fn();
    return;
  }
  if (max_threads <= 1) {  // the loop's case, once per segment: one arena per thread, made once
    thread_local tbb::task_arena serial(1);
    serial.execute(fn);
    return;
  }
  tbb::task_arena arena(max_threads);
  arena.execute(fn);
}

int num_threads() {
  return static_cast<int>(
      tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
}

}  // namespace loom
