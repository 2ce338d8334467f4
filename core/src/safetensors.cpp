// SPDX-License-Identifier: Apache-2.0
// safetensors: a strict reader (validate everything, then copy) and an atomic writer.
#include "loom/core/safetensors.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "loom/core/check.hpp"
#include "loom/core/json_util.hpp"

namespace loom {
namespace {

constexpr std::uint64_t kMaxHeader = 100'000'000;

const char* st_dtype(DType d) {
  switch (d) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i64: return "I64";
  }
  return "F32";
}

bool parse_dtype(const std::string& s, DType& out) {
  if (s == "F32") out = DType::f32;
  else if (s == "F64") out = DType::f64;
  else if (s == "I64") out = DType::i64;
  else return false;
  return true;
}

std::uint64_t read_le64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void write_le64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin, end;
};

}  // namespace

const Tensor& TensorFile::at(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  LOOM_CHECK(false, FormatError, "TensorFile: no tensor named '", name, "'.");
  return tensors.front().second;
}

bool TensorFile::contains(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return true;
  return false;
}

TensorFile parse_safetensors(const std::string& bytes, const std::string& src) {
  LOOM_CHECK(bytes.size() >= 8, FormatError, "safetensors: ", src, ": the file has ", bytes.size(),
             " bytes; it must start with an 8-byte header size.");
  const std::uint64_t header_size = read_le64(bytes.data());
  LOOM_CHECK(header_size <= kMaxHeader, FormatError, "safetensors: ", src, ": header size ", header_size,
             " exceeds the limit of ", kMaxHeader, " bytes.");
  LOOM_CHECK(header_size <= bytes.size() - 8, FormatError, "safetensors: ", src, ": header size ", header_size,
             " exceeds the ", bytes.size() - 8, " bytes after the size field (truncated header).");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_size),
                                   detail::StrictJsonParse<nlohmann::json>("safetensors: " + src));
  } catch (const nlohmann::json::exception& e) {
    LOOM_CHECK(false, FormatError, "safetensors: ", src, ": the header is not valid JSON (", e.what(), ").");
  }
  LOOM_CHECK(header.is_object(), FormatError, "safetensors: ", src, ": the header must be a JSON object.");
  const std::uint64_t data_size = bytes.size() - 8 - header_size;

  TensorFile file;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      LOOM_CHECK(value.is_object(), FormatError, "safetensors: ", src, ": __metadata__ must be an object.");
      for (const auto& [k, v] : value.items()) {
        LOOM_CHECK(v.is_string(), FormatError, "safetensors: ", src, ": __metadata__ value '", k, "' must be a string.");
        file.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    LOOM_CHECK(value.is_object() && value.contains("dtype") && value.contains("shape") && value.contains("data_offsets"),
               FormatError, "safetensors: ", src, ": entry '", name, "' must have dtype, shape and data_offsets.");
    Entry e{name, DType::f32, {}, 0, 0};
    LOOM_CHECK(value["dtype"].is_string() && parse_dtype(value["dtype"].get<std::string>(), e.dtype), FormatError,
               "safetensors: ", src, ": entry '", name, "' has unsupported dtype ", detail::json_excerpt(value["dtype"]),
               " (loom reads F32, F64 and I64).");
    const auto& shape = value["shape"];
    LOOM_CHECK(shape.is_array() && shape.size() <= static_cast<std::size_t>(Shape::max_rank), FormatError,
               "safetensors: ", src, ": entry '", name, "' has a malformed shape ", detail::json_excerpt(shape), ".");
    std::uint64_t numel = 1;
    for (const auto& d : shape) {
      LOOM_CHECK(d.is_number_unsigned(), FormatError, "safetensors: ", src, ": entry '", name,
                 "' has a non-integer or negative extent in shape ", detail::json_excerpt(shape), ".");
      const std::uint64_t extent = d.get<std::uint64_t>();
      const auto limit = static_cast<std::uint64_t>(Shape::max_elements);
      LOOM_CHECK(extent <= limit && (extent == 0 || numel <= limit / extent), FormatError, "safetensors: ", src,
                 ": entry '", name, "' has a shape of more than 2^60 elements: ", detail::json_excerpt(shape), ".");
      numel *= extent;
      e.shape.push_back(static_cast<std::int64_t>(extent));
    }
    const auto& offsets = value["data_offsets"];
    LOOM_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                   offsets[1].is_number_unsigned(),
               FormatError, "safetensors: ", src, ": entry '", name, "' has malformed data_offsets ", detail::json_excerpt(offsets), ".");
    e.begin = offsets[0].get<std::uint64_t>();
    e.end = offsets[1].get<std::uint64_t>();
    LOOM_CHECK(e.begin <= e.end && e.end <= data_size, FormatError, "safetensors: ", src, ": entry '", name,
               "' has data_offsets [", e.begin, ", ", e.end, "] outside the ", data_size, "-byte data section.");
    LOOM_CHECK(e.end - e.begin == numel * itemsize(e.dtype), FormatError, "safetensors: ", src, ": entry '", name,
               "' spans ", e.end - e.begin, " bytes but shape ", e.shape, " of ", st_dtype(e.dtype), " needs ",
               numel * itemsize(e.dtype), ".");
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  std::uint64_t at = 0;
  for (const Entry& e : entries) {
    LOOM_CHECK(e.begin == at, FormatError, "safetensors: ", src, ": entry '", e.name, "' starts at byte ", e.begin,
               " but the previous entry ends at ", at, e.begin < at ? " (overlap)." : " (gap).");
    at = e.end;
  }
  LOOM_CHECK(at == data_size, FormatError, "safetensors: ", src, ": the tensors cover ", at, " of the ", data_size,
             " data bytes (trailing bytes).");
  const char* data = bytes.data() + 8 + header_size;
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.raw_data(), data + e.begin, e.end - e.begin);
    file.tensors.emplace_back(e.name, std::move(t));
  }
  return file;
}

TensorFile load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  LOOM_CHECK(in.good(), FormatError, "safetensors: cannot open '", path, "' for reading.");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return parse_safetensors(buffer.str(), path);
}

void save_safetensors(const std::string& path, const TensorFile& file) {
  nlohmann::json header = nlohmann::json::object();
  std::set<std::string> names;
  std::uint64_t at = 0;
  for (const auto& [name, t] : file.tensors) {
    LOOM_CHECK(!name.empty() && name != "__metadata__", ValueError, "save_safetensors: invalid tensor name '", name, "'.");
    LOOM_CHECK(names.insert(name).second, ValueError, "save_safetensors: duplicate tensor name '", name, "'.");
    LOOM_CHECK(t.defined(), ValueError, "save_safetensors: tensor '", name, "' is undefined.");
    header[name] = {{"dtype", st_dtype(t.dtype())}, {"shape", t.shape().to_vector()}, {"data_offsets", {at, at + t.nbytes()}}};
    at += t.nbytes();
  }
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + text.size() + at);
  write_le64(out, text.size());
  out += text;
  for (const auto& [name, t] : file.tensors) out.append(static_cast<const char*>(t.raw_data()), t.nbytes());

  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  LOOM_CHECK(fd >= 0, IOError, "save_safetensors: cannot create '", tmp, "': ", std::strerror(errno), ".");
  std::size_t written = 0;
  while (written < out.size()) {
    const ssize_t n = ::write(fd, out.data() + written, out.size() - written);
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      LOOM_CHECK(false, IOError, "save_safetensors: writing '", tmp, "' failed: ", std::strerror(errno), ".");
    }
    written += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    LOOM_CHECK(false, IOError, "save_safetensors: cannot move '", tmp, "' to '", path, "': ", std::strerror(err), ".");
  }
  // The rename lives in the directory's entries: sync them too, or a power loss may lose it.
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  const bool dir_synced = dfd >= 0 && ::fsync(dfd) == 0;
  if (dfd >= 0) ::close(dfd);
  LOOM_CHECK(dir_synced, IOError, "save_safetensors: wrote '", path, "' but cannot sync its directory '",
             dir.empty() ? "." : dir, "': ", std::strerror(errno), ".");
}

}  // namespace loom
