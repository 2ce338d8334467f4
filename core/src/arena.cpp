// SPDX-License-Identifier: Apache-2.0
// Arenas for tensor storage (see loom/core/arena.hpp).
#include "loom/core/arena.hpp"

#include <algorithm>
#include <atomic>

namespace loom::core {

namespace {
thread_local StorageSource* active_source = nullptr;
constexpr std::size_t kAlive = static_cast<std::size_t>(-1);

constexpr std::size_t rounded(std::size_t bytes) { return (std::max<std::size_t>(bytes, 1) + 63) / 64 * 64; }
}  // namespace

}  // namespace loom::core

loom::core::StorageSource* loom::detail::active_storage_source() noexcept { return loom::core::active_source; }

namespace loom::core {

ArenaScope::ArenaScope(StorageSource* source) noexcept : previous_(active_source) { active_source = source; }
ArenaScope::~ArenaScope() { active_source = previous_; }

// ---- Arena --------------------------------------------------------------------------------------

std::size_t Arena::capacity() const noexcept { return block_ ? block_->nbytes : 0; }

void Arena::reserve(std::size_t bytes) {
  if (bytes == 0 || offset_ + bytes <= capacity()) return;
  block_ = std::make_shared<detail::Storage>(bytes);  // tensors carved before keep the old one
  offset_ = 0;
}

void Arena::recycle() {
  const std::size_t want = std::max(demand_, capacity());
  demand_ = 0;
  offset_ = 0;
  if (block_ && block_.use_count() == 1) {
    // The last carved tensor may have died on another thread: see its writes before reusing them.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (block_->nbytes >= want) return;
  }
  block_.reset();
  if (want > 0) block_ = std::make_shared<detail::Storage>(want);
}

std::shared_ptr<detail::Storage> Arena::storage(std::size_t bytes) {
  const std::size_t size = rounded(bytes);
  demand_ += size;
  if (!block_ || offset_ + size > block_->nbytes) return nullptr;
  void* at = static_cast<char*>(block_->data) + offset_;
  offset_ += size;
  return loom::detail::carved_storage(at, bytes, block_);
}

std::shared_ptr<detail::Storage> Arena::storage_at(std::size_t offset, std::size_t bytes) {
  const std::size_t size = rounded(bytes);  // not demand: the caller sized the block to its layout
  if (!block_ || offset + size > block_->nbytes) return nullptr;
  return loom::detail::carved_storage(static_cast<char*>(block_->data) + offset, bytes, block_);
}

// ---- ArenaRing ----------------------------------------------------------------------------------

ArenaRing::ArenaRing(std::size_t size) : size_(std::clamp<std::size_t>(size, 1, 3)) {}


Arena& ArenaRing::next() {
  Arena& a = ring_[turn_++ % size_];
  a.recycle();
  return a;
}

void ArenaRing::reserve_each(std::size_t bytes) {
  for (std::size_t i = 0; i < size_; ++i) ring_[i].reserve(bytes);
}

void ArenaRing::clear() {
  for (Arena& a : ring_) a = Arena();
}

// ---- IterationArena -----------------------------------------------------------------------------

IterationArena::IterationArena(std::size_t carry_span)
    : carries_(std::clamp<std::size_t>(carry_span, 1, 2) + 1), span_(std::clamp<std::size_t>(carry_span, 1, 2)) {}

void IterationArena::begin() {
  index_ = 0;
  carry_ = nullptr;
  if (!planned_) return;
  temporaries_.recycle();
  temporaries_.reserve(bytes_[static_cast<std::size_t>(Kind::temporary)]);  // no-ops once sized
  carry_ = &carries_.next();
  carry_->reserve(bytes_[static_cast<std::size_t>(Kind::carry)]);
}

void IterationArena::end() {
  if (planned_) return;
  ++iterations_;
  if (iterations_ == 2) {  // the second iteration's tensors that died in it are temporaries
    kind_.assign(noted_.size(), Kind::carry);
    for (std::size_t i = 0; i < noted_.size(); ++i)
      if (noted_[i].expired()) {
        kind_[i] = Kind::temporary;
        if (died_[i] == kAlive) died_[i] = noted_.size();
      }
    lay_out_temporaries();
  } else if (iterations_ == 2 + span_) {  // and those that outlived the span after it are kept
    for (std::size_t i = 0; i < noted_.size(); ++i) {
      if (kind_[i] == Kind::carry && !noted_[i].expired()) kind_[i] = Kind::kept;
      if (kind_[i] != Kind::temporary) bytes_[static_cast<std::size_t>(kind_[i])] += noted_bytes_[i];
    }
    noted_.clear();
    died_.clear();
    planned_ = true;
    temporaries_.reserve(bytes_[static_cast<std::size_t>(Kind::temporary)]);  // the blocks, made now
    carries_.reserve_each(bytes_[static_cast<std::size_t>(Kind::carry)]);
  }
}

// Places each temporary, in order of creation, at the lowest offset where it overlaps no temporary
// still alive then (first fit); two that are never alive at once may share bytes.
void IterationArena::lay_out_temporaries() {
  const std::size_t n = kind_.size();
  offset_.assign(n, 0);
  overlaps_.assign(n, {});
  live_.assign(n, {});
  std::vector<std::size_t> placed, alive;  // temporaries so far; those alive at the current one
  std::size_t size = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (kind_[i] != Kind::temporary) continue;
    std::erase_if(alive, [&](std::size_t j) { return died_[j] <= i; });
    std::sort(alive.begin(), alive.end(), [&](std::size_t a, std::size_t b) { return offset_[a] < offset_[b]; });
    std::size_t at = 0;
    for (std::size_t j : alive) {
      if (at + noted_bytes_[i] <= offset_[j]) break;
      at = std::max(at, offset_[j] + noted_bytes_[j]);
    }
    offset_[i] = at;
    for (std::size_t j : placed)
      if (offset_[j] < at + noted_bytes_[i] && at < offset_[j] + noted_bytes_[j])
        overlaps_[i].push_back(static_cast<std::uint32_t>(j));
    placed.push_back(i);
    alive.push_back(i);
    size = std::max(size, at + noted_bytes_[i]);
  }
  bytes_[static_cast<std::size_t>(Kind::temporary)] = size;
}

void IterationArena::reserve_kept(std::size_t iterations) {
  kept_.reserve(bytes_[static_cast<std::size_t>(Kind::kept)] * iterations);
}

void IterationArena::trim() {
  kept_ = Arena();
  temporaries_ = Arena();
  carries_.clear();
}

std::shared_ptr<detail::Storage> IterationArena::storage(std::size_t bytes) {
  const std::size_t i = index_++;
  if (!planned_) {
    auto s = loom::detail::plain_storage(bytes);
    if (iterations_ == 1) {
      for (std::size_t j = 0; j < noted_.size(); ++j)
        if (died_[j] == kAlive && noted_[j].expired()) died_[j] = i;
      noted_.push_back(s);
      noted_bytes_.push_back(rounded(bytes));
      died_.push_back(kAlive);
    }
    return s;
  }
  if (i >= kind_.size()) return nullptr;  // more tensors than the plan knows
  switch (kind_[i]) {
    case Kind::temporary: {
      for (std::uint32_t j : overlaps_[i])
        if (!live_[j].expired()) return nullptr;  // its place is still taken
      auto s = rounded(bytes) == noted_bytes_[i] ? temporaries_.storage_at(offset_[i], bytes) : nullptr;
      live_[i] = s;
      return s;
    }
    case Kind::carry: return carry_->storage(bytes);
    case Kind::kept: break;
  }
  return kept_.storage(bytes);
}

}  // namespace loom::core
