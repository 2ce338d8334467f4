// SPDX-License-Identifier: Apache-2.0
// Arenas for tensor storage. While an ArenaScope is active on a thread, the tensors that thread
// creates take their storage from the scope's source instead of allocating it, so a loop that
// creates the same tensors on every iteration allocates nothing once its blocks are big enough.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "loom/core/export.hpp"
#include "loom/core/tensor.hpp"

namespace loom LOOM_API {
namespace core {

/// Where Tensor::empty takes storage from while an ArenaScope names it.
class StorageSource {
 public:
  virtual ~StorageSource() = default;
  /// Storage for `bytes`, or null to allocate it as usual.
  virtual std::shared_ptr<detail::Storage> storage(std::size_t bytes) = 0;
};

/// One block that tensors are carved from, 64-byte aligned, front to back. A carved tensor keeps the
/// whole block alive, so dropping the arena never invalidates a tensor; the space is reused only by
/// `recycle()`, and only when no carved tensor is alive any more. A request that does not fit is an
/// ordinary allocation. The arena counts every request (`demand()`), so that the next `recycle()`
/// can size the block to a whole cycle's work. Not thread-safe: one thread uses an arena.
class Arena final : public StorageSource {
 public:
  /// Starts a new cycle. The block is reused from its start when no tensor carved from it is alive;
  /// otherwise it is left to those tensors and a new one is made. The new block (or a grown one) holds
  /// at least what the last cycle asked for.
  void recycle();
  /// Makes sure `bytes` more fit in the block (a new block when they do not).
  void reserve(std::size_t bytes);
  /// Bytes requested since the last recycle, whether they were carved or allocated.
  std::size_t demand() const noexcept { return demand_; }
  std::size_t capacity() const noexcept;
  /// Storage for `bytes` from the block, or null when it does not fit.
  std::shared_ptr<detail::Storage> storage(std::size_t bytes) override;
  /// Storage for `bytes` at `offset` in the block (a layout planned by the caller, who makes sure
  /// that nothing alive overlaps it), or null when it does not fit.
  std::shared_ptr<detail::Storage> storage_at(std::size_t offset, std::size_t bytes);

 private:
  std::shared_ptr<detail::Storage> block_;
  std::size_t offset_ = 0, demand_ = 0;
};

/// Arenas taken in turn, one per iteration of a loop whose iterations read what the ones just
/// before them made (a recurrent step reads the last states, and its ops may hold them one step more).
class ArenaRing {
 public:
  /// `size` arenas, at most 3.
  explicit ArenaRing(std::size_t size = 3);
  /// The next arena, recycled.
  Arena& next();
  /// Drops every block (the tensors carved from them keep theirs); the next turns make new ones.
  void clear();
  /// Makes sure every arena's block holds `bytes`.
  void reserve_each(std::size_t bytes);

 private:
  std::array<Arena, 3> ring_;
  std::size_t size_, turn_ = 0;
};

/// For a loop whose iterations create the same tensors in the same order: some die within their
/// iteration (temporaries), some within the `carry_span` iterations after it (carries: states, which
/// the next step's ops may hold until they run again), and some live on (a recurrent step's values
/// that backward reads). The first iteration is often special (it makes the initial carries), so
/// the first 2 + carry_span allocate as usual; the second notes its tensors and when each died, and
/// which of them are still alive when it ends and when the last of those ends tells their kind.
/// Later iterations put their n-th tensor where the second one's n-th went: temporaries into one
/// block laid out by their lifetimes (two that are never alive at once share bytes), carries into a
/// ring of 1 + carry_span, long-lived tensors into the block of `reserve_kept` (or their own
/// allocation without one). A temporary whose place is still taken (an iteration that differs from
/// the second) gets an allocation of its own: correct storage, only allocated.
///
/// Example (a recurrent loop that allocates nothing from its fifth step on):
///   core::IterationArena arena;
///   const core::ArenaScope scope(&arena);
///   for (int k = 0; k < n; ++k) {
///     arena.begin();
///     state = step(state);
///     arena.end();
///   }
class IterationArena final : public StorageSource {
 public:
  /// `carry_span` is 1 or 2.
  explicit IterationArena(std::size_t carry_span = 2);
  void begin();  ///< before an iteration, with this arena in scope for it
  void end();    ///< after it
  /// True once the iterations that the plan is learnt from have ended.
  bool planned() const noexcept { return planned_; }
  /// One block for the long-lived tensors of `iterations` more iterations (needs `planned()`).
  void reserve_kept(std::size_t iterations);
  /// Drops the blocks between loops (tensors carved from them keep theirs), keeping the plan.
  void trim();
  std::shared_ptr<detail::Storage> storage(std::size_t bytes) override;

 private:
  enum class Kind : std::uint8_t { temporary, carry, kept };
  Arena kept_, temporaries_;
  ArenaRing carries_;
  Arena* carry_ = nullptr;  // this iteration's arena for carries
  bool planned_ = false;
  std::size_t span_, iterations_ = 0;
  // Per tensor of an iteration, in order of creation:
  std::vector<Kind> kind_;
  std::vector<std::weak_ptr<detail::Storage>> noted_;  // the second iteration's tensors
  std::vector<std::size_t> noted_bytes_, died_;        // their sizes (kept), and when each died
  std::vector<std::size_t> offset_;                    // a temporary's place in its block
  std::vector<std::vector<std::uint32_t>> overlaps_;   // earlier temporaries that share its bytes
  std::vector<std::weak_ptr<detail::Storage>> live_;   // this iteration's temporaries
  std::size_t index_ = 0;
  std::array<std::size_t, 3> bytes_{};  // per iteration and kind (temporaries: their block)
  void lay_out_temporaries();
};

/// Routes this thread's Tensor::empty (and so every factory and kernel output) to `source` while it
/// lives; null suspends an outer scope. Scopes nest and restore the previous one.
class ArenaScope {
 public:
  explicit ArenaScope(StorageSource* source) noexcept;
  ~ArenaScope();
  ArenaScope(const ArenaScope&) = delete;
  ArenaScope& operator=(const ArenaScope&) = delete;

 private:
  StorageSource* previous_;
};


}  // namespace core
}  // namespace loom

namespace loom LOOM_API {
namespace detail {
/// This thread's active source (Tensor::empty asks it first), or null.
core::StorageSource* active_storage_source() noexcept;
/// Storage carved out of `block` at `data`, counted as no allocation.
std::shared_ptr<Storage> carved_storage(void* data, std::size_t bytes, std::shared_ptr<const Storage> block);
/// Storage of its own (an allocation).
std::shared_ptr<Storage> plain_storage(std::size_t bytes);

/// Memory from the calling thread's block cache, the one tensor storage comes from (64-byte
/// aligned, any thread may release it). For objects made and dropped at every RNN step (node
/// copies, their small vectors), which glibc's malloc serves slowly once its per-thread cache of a
/// size runs dry. Not counted by memory_stats(), which counts tensor storage.
void* cached_allocate(std::size_t bytes);
void cached_release(void* p, std::size_t bytes) noexcept;

/// A std allocator over cached_allocate.
template <class T>
struct CachedAllocator {
  using value_type = T;
  CachedAllocator() = default;
  template <class U>
  CachedAllocator(const CachedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(cached_allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { cached_release(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const CachedAllocator<U>&) const noexcept { return true; }
};
}  // namespace detail
}  // namespace loom
