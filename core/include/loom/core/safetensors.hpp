// SPDX-License-Identifier: Apache-2.0
// The safetensors file layout: 8-byte little-endian header size, JSON header, raw little-endian data.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "loom/core/export.hpp"
#include "loom/core/tensor.hpp"

namespace loom LOOM_API {

/// Named tensors plus the string metadata of a safetensors file (`__metadata__`).
struct TensorFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  ///< in data order
  std::map<std::string, std::string> metadata;
  /// The tensor named `name`; FormatError if absent.
  const Tensor& at(const std::string& name) const;
  bool contains(const std::string& name) const;
};

/// Writes `file` in the safetensors layout (dtypes F32, F64, I64; the header padded with spaces to a
/// multiple of 8 bytes). Writes to `<path>.tmp`, flushes it to disk (fsync), then renames it over
/// `path`, so a crash never leaves a half-written file under the real name. ValueError for a duplicate
/// or empty name; FormatError (naming the path) when the file cannot be written.
void save_safetensors(const std::string& path, const TensorFile& file);

/// Reads and validates a safetensors file before returning anything: the header size (capped at
/// 100 MB and within the file), the JSON, every entry's dtype, shape (non-negative, no overflow) and
/// data_offsets (ordered, shape × dtype = byte span, covering the data exactly, no overlap, no gap),
/// and `__metadata__` (strings only). Any problem is a FormatError that names the path and the entry.
TensorFile load_safetensors(const std::string& path);

/// The same checks on bytes in memory (used by load_safetensors; handy for tests and streams).
TensorFile parse_safetensors(const std::string& bytes, const std::string& source = "<memory>");

}  // namespace loom
