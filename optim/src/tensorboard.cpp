// SPDX-License-Identifier: Apache-2.0
// TensorBoard event files: TFRecord framing, the few protobuf messages of event.proto and
// summary.proto encoded by hand, the SummaryWriter and the Keras TensorBoard callback.
#include "loom/optim/tensorboard.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "loom/core/check.hpp"

namespace loom {

// ---- CRC-32C ------------------------------------------------------------------------------------

namespace {

// The reflected Castagnoli polynomial (iSCSI), one table of 256 entries.
constexpr std::array<std::uint32_t, 256> crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<std::uint32_t, 256> kCrcTable = crc_table();

}  // namespace

std::uint32_t tensorboard::crc32c(const void* data, std::size_t size) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < size; ++i) c = kCrcTable[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::uint32_t tensorboard::masked_crc32c(const void* data, std::size_t size) noexcept {
  const std::uint32_t c = crc32c(data, size);
  return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

// ---- protobuf wire format (the subset the events need) -----------------------------------------

namespace {

enum Wire : std::uint32_t { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_tag(std::string& out, std::uint32_t field, Wire wire) { put_varint(out, (field << 3) | wire); }
template <class T>
void put_le(std::string& out, T v) {  // little-endian bytes of a float, double or integer
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) std::reverse(b, b + sizeof(T));
  out.append(reinterpret_cast<const char*>(b), sizeof(T));
}
void put_double(std::string& out, std::uint32_t field, double v) {
  put_tag(out, field, kFixed64);
  put_le(out, v);
}
void put_bytes(std::string& out, std::uint32_t field, const std::string& bytes) {
  put_tag(out, field, kBytes);
  put_varint(out, bytes.size());
  out += bytes;
}
void put_packed_doubles(std::string& out, std::uint32_t field, const std::vector<double>& v) {
  std::string body;
  for (double d : v) put_le(body, d);
  put_bytes(out, field, body);
}

// event.proto: Event {double wall_time = 1; int64 step = 2; oneof {string file_version = 3;
// Summary summary = 5;}}. summary.proto: Summary {repeated Value value = 1;} Value {string tag = 1;
// float simple_value = 2; HistogramProto histo = 5;} HistogramProto {double min = 1, max = 2,
// num = 3, sum = 4, sum_squares = 5; repeated double bucket_limit = 6, bucket = 7 (packed)}.
std::string event(double wall_time, std::int64_t step) {
  std::string e;
  put_double(e, 1, wall_time);
  put_tag(e, 2, kVarint);
  put_varint(e, static_cast<std::uint64_t>(step));
  return e;
}
std::string summary_event(double wall_time, std::int64_t step, const std::string& value) {
  std::string summary;
  put_bytes(summary, 1, value);
  std::string e = event(wall_time, step);
  put_bytes(e, 5, summary);
  return e;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

// ---- SummaryWriter -----------------------------------------------------------------------------

SummaryWriter::SummaryWriter(const std::string& log_dir, std::optional<double> start_time) {
  const double start = start_time.value_or(now_seconds());
  LOOM_CHECK(std::isfinite(start) && start >= 0, ValueError, "SummaryWriter: start_time must be finite and >= 0; got ",
             start, ".");
  std::error_code ec;
  std::filesystem::create_directories(log_dir, ec);
  LOOM_CHECK(!ec && std::filesystem::is_directory(log_dir), IOError, "SummaryWriter: cannot create the log directory '",
             log_dir, "': ", ec ? ec.message() : "not a directory", ".");
  const std::string stem = (std::filesystem::path(log_dir) / "events.out.tfevents.").string() +
                           std::to_string(static_cast<long long>(start)) + "." + host_name();
  // Exclusive creation: two writers started in the same second never share a file.
  for (int n = 0; n < 1000 && file_ == nullptr; ++n) {
    path_ = n == 0 ? stem : stem + "." + std::to_string(n);
    file_ = std::fopen(path_.c_str(), "wbx");
    if (file_ == nullptr && errno != EEXIST) break;
  }
  LOOM_CHECK(file_ != nullptr, IOError, "SummaryWriter: cannot create the event file '", path_, "': ",
             std::strerror(errno), ".");
  std::string first = event(start, 0);
  put_bytes(first, 3, "brain.Event:2");
  append_event(first);
  flush();
}

SummaryWriter::~SummaryWriter() {
  if (file_ == nullptr) return;
  if (!pending_.empty()) std::fwrite(pending_.data(), 1, pending_.size(), file_);
  std::fclose(file_);
}

void SummaryWriter::append_event(const std::string& e) {
  // TFRecord: uint64 length, masked CRC of the length's 8 bytes, the data, masked CRC of the data.
  std::string header;
  put_le(header, static_cast<std::uint64_t>(e.size()));
  const std::uint32_t length_crc = tensorboard::masked_crc32c(header.data(), header.size());
  put_le(header, length_crc);
  pending_ += header;
  pending_ += e;
  put_le(pending_, tensorboard::masked_crc32c(e.data(), e.size()));
}

void SummaryWriter::flush() {
  if (!pending_.empty()) {
    const std::size_t written = std::fwrite(pending_.data(), 1, pending_.size(), file_);
    LOOM_CHECK(written == pending_.size(), IOError, "SummaryWriter: cannot write to '", path_, "': ", std::strerror(errno),
               ".");
    pending_.clear();
  }
  LOOM_CHECK(std::fflush(file_) == 0, IOError, "SummaryWriter: cannot flush '", path_, "': ", std::strerror(errno), ".");
}

void SummaryWriter::add_scalar(const std::string& tag, double value, std::int64_t step) {
  add_scalar(tag, value, step, now_seconds());
}

void SummaryWriter::add_scalar(const std::string& tag, double value, std::int64_t step, double wall_time) {
  std::string v;
  put_bytes(v, 1, tag);
  put_tag(v, 2, kFixed32);
  put_le(v, static_cast<float>(value));
  append_event(summary_event(wall_time, step, v));
}

void SummaryWriter::add_histogram(const std::string& tag, const Tensor& values, std::int64_t step, int buckets) {
  add_histogram(tag, values, step, buckets, now_seconds());
}

void SummaryWriter::add_histogram(const std::string& tag, const Tensor& values, std::int64_t step, int buckets,
                                  double wall_time) {
  LOOM_CHECK(buckets >= 1, ValueError, "SummaryWriter.add_histogram: buckets must be >= 1; got ", buckets, ".");
  LOOM_CHECK(values.defined() && values.numel() > 0, ValueError, "SummaryWriter.add_histogram: '", tag,
             "' needs at least one value; got ", values.defined() ? values.numel() : 0, ".");
  LOOM_CHECK(values.dtype() != DType::i64, TypeError, "SummaryWriter.add_histogram: values must be f32 or f64; got ",
             values.dtype(), ".");
  const std::vector<double> all = values.to_vector<double>();
  double lo = std::numeric_limits<double>::infinity(), hi = -lo, num = 0, sum = 0, squares = 0;
  for (double x : all)
    if (std::isfinite(x)) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
      num += 1;
      sum += x;
      squares += x * x;
    }
  std::vector<double> limits, counts;
  if (num == 0) {
    lo = hi = 0;
  } else if (lo == hi) {  // one value: one bucket
    limits.push_back(hi);
    counts.push_back(num);
  } else {
    const double width = (hi - lo) / buckets;
    counts.assign(static_cast<std::size_t>(buckets), 0.0);
    for (int b = 0; b < buckets; ++b) limits.push_back(b + 1 == buckets ? hi : lo + width * (b + 1));
    for (double x : all)
      if (std::isfinite(x)) {
        const auto b = std::min<std::int64_t>(static_cast<std::int64_t>((x - lo) / width), buckets - 1);
        counts[static_cast<std::size_t>(b)] += 1;
      }
  }
  std::string h;
  put_double(h, 1, lo);
  put_double(h, 2, hi);
  put_double(h, 3, num);
  put_double(h, 4, sum);
  put_double(h, 5, squares);
  put_packed_doubles(h, 6, limits);
  put_packed_doubles(h, 7, counts);
  std::string v;
  put_bytes(v, 1, tag);
  put_bytes(v, 5, h);
  append_event(summary_event(wall_time, step, v));
}

// ---- reading records ---------------------------------------------------------------------------

tensorboard::RecordScan tensorboard::read_records(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  LOOM_CHECK(in.good(), IOError, "tensorboard::read_records: cannot open '", path, "'.");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  RecordScan scan;
  std::size_t at = 0;
  const auto u32 = [&](std::size_t pos) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[pos + static_cast<std::size_t>(i)]);
    return v;
  };
  while (at < bytes.size()) {
    if (bytes.size() - at < 12 || masked_crc32c(bytes.data() + at, 8) != u32(at + 8)) {
      scan.complete = false;
      break;
    }
    std::uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(i)]);
    const std::size_t body = at + 12;
    if (length > bytes.size() - body || bytes.size() - body - length < 4 ||
        masked_crc32c(bytes.data() + body, length) != u32(body + length)) {
      scan.complete = false;
      break;
    }
    scan.records.emplace_back(bytes.substr(body, length));
    at = body + length + 4;
  }
  return scan;
}

// ---- the TensorBoard callback ------------------------------------------------------------------

TensorBoard::TensorBoard(TensorBoardOptions options) : options_(std::move(options)) {
  LOOM_CHECK(options_.histogram_freq >= 0, ValueError, "TensorBoard: histogram_freq must be >= 0; got ",
             options_.histogram_freq, ".");
  if (const auto* word = std::get_if<std::string>(&options_.update_freq)) {
    LOOM_CHECK(*word == "epoch" || *word == "batch", ValueError,
               "TensorBoard: update_freq must be \"epoch\", \"batch\" or a positive number of batches; got \"", *word,
               "\".");
    every_ = *word == "batch" ? 1 : 0;
  } else {
    every_ = std::get<std::int64_t>(options_.update_freq);
    LOOM_CHECK(every_ > 0, ValueError,
               "TensorBoard: update_freq must be \"epoch\", \"batch\" or a positive number of batches; got ", every_, ".");
  }
}

void TensorBoard::on_train_begin(Model& model) {
  if (!model.is_chief()) return;  // distributed: rank 0 writes the event files
  const std::filesystem::path dir(options_.log_dir);
  train_ = std::make_unique<SummaryWriter>((dir / "train").string());
  validation_.reset();
  batches_ = 0;
}

void TensorBoard::on_batch_end(Model&, std::int64_t, const Logs& logs) {
  ++batches_;
  if (every_ == 0 || batches_ % every_ != 0 || !train_) return;
  for (const auto& [key, value] : logs) train_->add_scalar("batch_" + key, value, batches_);
}

void TensorBoard::on_epoch_end(Model& model, int epoch, const Logs& logs) {
  if (!train_) on_train_begin(model);
  if (!train_) return;
  for (const auto& [key, value] : logs) {
    if (key.rfind("val_", 0) == 0) {
      if (!validation_)
        validation_ = std::make_unique<SummaryWriter>((std::filesystem::path(options_.log_dir) / "validation").string());
      validation_->add_scalar("epoch_" + key.substr(4), value, epoch);
    } else {
      train_->add_scalar("epoch_" + key, value, epoch);
    }
  }
  train_->add_scalar("epoch_learning_rate", model.optimizer().learning_rate(), epoch);
  if (options_.histogram_freq > 0 && epoch % options_.histogram_freq == 0)
    for (const Var& w : model.network().trainable_weights()) {
      std::string tag = w.name();
      std::replace(tag.begin(), tag.end(), ':', '_');
      train_->add_histogram(tag, w.value(), epoch);
    }
  train_->flush();
  if (validation_) validation_->flush();
}

void TensorBoard::on_train_end(Model&) {
  if (train_) train_->flush();
  if (validation_) validation_->flush();
  train_.reset();
  validation_.reset();
}

}  // namespace loom
