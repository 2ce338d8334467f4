// SPDX-License-Identifier: Apache-2.0
// The one threading knob: how many threads loom's parallel kernels may use.
#pragma once

#include <functional>

#include "loom/core/export.hpp"

namespace loom LOOM_API {

/// Limits loom's parallel kernels to `n` threads (a `tbb::global_control`); `n == 0` restores the
/// default (all cores). Results never depend on this number: every parallel loop splits work by
/// the problem size, and every output element is computed by exactly one task in a fixed order.
void set_num_threads(int n);

/// The current limit on the number of threads.
int num_threads();

namespace detail {
/// Runs `fn` on the calling thread with the kernels inside it limited to `max_threads` threads
/// (a task arena; results are the same bits, as they are for any thread count). The RNN loop uses
/// it when its steps are too small to pay for waking a second thread at every step.
void run_with_threads(int max_threads, const std::function<void()>& fn);

/// While alive, the kernels this thread starts split their chunks over a team of threads that
/// spin between jobs instead of sleeping, so a loop that starts thousands of small parallel
/// kernels back to back (the RNN loop's steps) does not hand each one to oneTBB's pool, whose
/// sleeping threads can take milliseconds to wake. The chunks are the same as without a team, so the
/// bits are too. One team exists per process: a scope opened while another thread holds it, or
/// with a thread limit of 1, does nothing. The workers spin for 4096 pauses after a job (10 µs to a
/// few hundred, by CPU), then sleep until the next.
class TeamScope {
 public:
  TeamScope();
  ~TeamScope();
  TeamScope(const TeamScope&) = delete;
  TeamScope& operator=(const TeamScope&) = delete;
  /// Whether this scope holds the team (more than one thread will run the kernels' chunks).
  bool active() const noexcept { return active_; }

 private:
  bool active_ = false;
};
}  // namespace detail

}  // namespace loom
