// SPDX-License-Identifier: Apache-2.0
// Tensor memory accounting: bytes held by live tensor storage, and the peak since the last reset.
#pragma once

#include <cstddef>

#include "loom/core/export.hpp"

namespace loom LOOM_API {

/// Bytes of tensor storage (requested sizes) alive now, and the most alive at once since the last
/// `reset_peak_memory()`. Counts every Tensor, whoever holds it: values, saved tensors on tapes,
/// gradients. Used to compare the memory of training configurations (e.g. an RNN loop node against
/// its unrolled form, or with checkpointing).
///
/// `allocations` counts the tensor storages allocated since the process started (each Tensor with
/// storage of its own, each arena block and packed weight panel); views and tensors carved from an
/// arena (core/arena.hpp) do not count. The RNN loop's tests use it to show that steps allocate nothing.
struct MemoryStats {
  std::size_t current_bytes = 0;
  std::size_t peak_bytes = 0;
  std::size_t allocations = 0;
};

MemoryStats memory_stats() noexcept;

/// Sets the peak to the current value.
void reset_peak_memory() noexcept;

}  // namespace loom
