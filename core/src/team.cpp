// SPDX-License-Identifier: Apache-2.0
// The spinning team behind detail::TeamScope (see loom/core/parallel.hpp).
//
// One job at a time: the owner writes the job while it is closed, opens it (an odd `seq`), takes
// chunks from `next` like every worker, waits until all are done, closes it (seq + 1) and waits
// until no worker is still inside. A worker enters (`inside` + 1), then checks that the job it
// saw is still open; the owner closes before it checks `inside`. Both are sequentially consistent,
// so either the owner waits for the worker or the worker sees the job closed and stays out: no
// worker ever claims a chunk of a job that has been replaced. A worker that sleeps or is
// descheduled never holds the owner up, since the owner runs any chunk nobody has taken.
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>

#include "loom/core/parallel.hpp"
#include "parallel.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LOOM_PAUSE() _mm_pause()
#else
#define LOOM_PAUSE() std::this_thread::yield()
#endif

namespace loom::detail {
namespace {

// Pauses a member spins without a job before it sleeps: about 10 µs on Zen 4, whose pause takes a
// few cycles, and a few hundred on CPUs whose pause takes ~140. Enough for the glue between one
// step's kernels; between segments a worker may fall asleep (see docs/architecture.md).
constexpr int kSpins = 1 << 12;

class Team {
 public:
  // Never destroyed, and its threads are detached: at exit they are parked in a futex wait, and
  // nothing must join them (or run after the team's memory is gone).
  static Team& get() {
    static Team* team = new Team;
    return *team;
  }

  /// Takes the team for the calling thread with `size` threads in all (the caller included).
  bool acquire(std::int64_t size) {
    bool expected = false;
    if (!owned_.compare_exchange_strong(expected, true, std::memory_order_acquire)) return false;
    const std::int64_t workers = std::min<std::int64_t>(size - 1, max_workers());
    if (workers < 1) {
      owned_.store(false, std::memory_order_release);
      return false;
    }
    {
      const std::lock_guard<std::mutex> lock(start_);
      while (started_ < workers)
        std::thread([this, i = started_++] { work(i); }).detach();
    }
    members_.store(workers, std::memory_order_relaxed);
    return true;
  }

  void release() {
    members_.store(0, std::memory_order_relaxed);
    owned_.store(false, std::memory_order_release);
  }

  void run(std::int64_t chunks, void* ctx, void (*fn)(void*, std::int64_t)) {
    ctx_ = ctx;
    fn_ = fn;
    chunks_ = chunks;
    error_ = nullptr;
    failed_.store(false, std::memory_order_relaxed);
    next_.store(0, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    const std::uint32_t open = seq_.load(std::memory_order_relaxed) + 1;  // odd
    seq_.store(open, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) seq_.notify_all();
    take_chunks();
    while (done_.load(std::memory_order_acquire) < chunks) LOOM_PAUSE();
    seq_.store(open + 1, std::memory_order_seq_cst);  // closed
    while (inside_.load(std::memory_order_seq_cst) > 0) LOOM_PAUSE();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  static std::int64_t max_workers() {
    const unsigned hw = std::thread::hardware_concurrency();
    return hw > 1 ? static_cast<std::int64_t>(hw) - 1 : 0;
  }

  void take_chunks() {
    for (std::int64_t c = next_.fetch_add(1, std::memory_order_relaxed); c < chunks_;
         c = next_.fetch_add(1, std::memory_order_relaxed)) {
      if (!failed_.load(std::memory_order_relaxed)) {
        try {
          fn_(ctx_, c);
        } catch (...) {
          const std::lock_guard<std::mutex> lock(error_mutex_);
          if (!error_) error_ = std::current_exception();
          failed_.store(true, std::memory_order_relaxed);
        }
      }
      done_.fetch_add(1, std::memory_order_release);
    }
  }

  void work(std::int64_t index) {
    std::uint32_t seen = seq_.load(std::memory_order_acquire);
    for (;;) {
      std::uint32_t s = seq_.load(std::memory_order_acquire);
      // Spin while this worker is a member of an owned team, then sleep until the sequence moves.
      for (int spins = 0; s == seen; s = seq_.load(std::memory_order_acquire)) {
        if (index < members_.load(std::memory_order_relaxed) && ++spins < kSpins) {
          LOOM_PAUSE();
          continue;
        }
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        if (seq_.load(std::memory_order_seq_cst) == seen) seq_.wait(seen, std::memory_order_seq_cst);
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        spins = 0;
      }
      seen = s;
      if ((s & 1u) == 0 || index >= members_.load(std::memory_order_relaxed)) continue;  // closed, or not a member
      inside_.fetch_add(1, std::memory_order_seq_cst);
      if (seq_.load(std::memory_order_seq_cst) == s) {
        in_job = true;
        take_chunks();
        in_job = false;
      }
      inside_.fetch_sub(1, std::memory_order_seq_cst);
    }
  }

 public:
  static thread_local bool in_job;

 private:
  std::atomic<bool> owned_{false}, failed_{false};
  std::atomic<std::int64_t> members_{0};
  std::atomic<std::uint32_t> seq_{0};
  std::atomic<int> sleepers_{0}, inside_{0};
  std::atomic<std::int64_t> next_{0}, done_{0};
  // The job: written by the owner only while it is closed and no worker is inside.
  void* ctx_ = nullptr;
  void (*fn_)(void*, std::int64_t) = nullptr;
  std::int64_t chunks_ = 0;
  std::mutex error_mutex_, start_;
  std::exception_ptr error_;
  std::int64_t started_ = 0;  // worker threads, under start_
};

thread_local bool Team::in_job = false;
thread_local bool owns_team = false;

}  // namespace

bool team_run(std::int64_t chunks, void* ctx, void (*run)(void*, std::int64_t)) {
  if (Team::in_job) {  // a kernel started from a chunk: its chunks run here, in order
    for (std::int64_t c = 0; c < chunks; ++c) run(ctx, c);
    return true;
  }
  if (!owns_team) return false;
  Team::in_job = true;  // the owner's own chunks too
  struct Reset {
    ~Reset() { Team::in_job = false; }
  } reset;
  Team::get().run(chunks, ctx, run);
  return true;
}

TeamScope::TeamScope() {
  if (owns_team) return;  // nested: the outer scope keeps the team
  const std::int64_t size = current_concurrency();
  if (size > 1 && Team::get().acquire(size)) active_ = owns_team = true;
}

TeamScope::~TeamScope() {
  if (!active_) return;
  owns_team = false;
  Team::get().release();
}

}  // namespace loom::detail
