// SPDX-License-Identifier: Apache-2.0
// TensorBoard event files: a SummaryWriter for any training loop, and the Keras `TensorBoard`
// callback for Model::fit. Files are TFRecord-framed `Event` protobufs, written without protobuf.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "loom/core/export.hpp"
#include "loom/optim/model.hpp"

namespace loom LOOM_API {

/// Writes one TensorBoard event file, `events.out.tfevents.<seconds>.<host>` in `log_dir` (made if
/// missing), which `tensorboard --logdir` reads. The first record says the file version; then each
/// `add_*` call appends one `Event`. Records are buffered and written whole by `flush()` (and by the
/// destructor), so a process killed at any moment leaves a file that readers accept up to its last
/// whole record. Like PyTorch's `torch.utils.tensorboard.SummaryWriter`.
///
/// Example:
///   SummaryWriter writer("runs/tbptt");
///   for (std::int64_t step = 0; step < steps; ++step) {
///     writer.add_scalar("loss", train_step(), step);
///     if (step % 100 == 0) writer.add_histogram("lstm/kernel", lstm.cell().kernel().value(), step);
///   }
///   writer.flush();
class SummaryWriter {
 public:
  /// IOError when the directory or the file cannot be made. `start_time` (seconds since 1970) is
  /// the file's creation time, in its name and first record: now unless given (to replay an old
  /// run's logs, or to write a reproducible file).
  explicit SummaryWriter(const std::string& log_dir, std::optional<double> start_time = std::nullopt);
  ~SummaryWriter();
  SummaryWriter(const SummaryWriter&) = delete;
  SummaryWriter& operator=(const SummaryWriter&) = delete;

  /// A scalar at `step`, stamped with the current time or with `wall_time` (seconds since 1970).
  void add_scalar(const std::string& tag, double value, std::int64_t step);
  void add_scalar(const std::string& tag, double value, std::int64_t step, double wall_time);
  /// A histogram of every element of `values` (f32 or f64) over `buckets` equal-width buckets
  /// between their minimum and maximum (Keras's default is 30). ValueError for no buckets or an
  /// empty tensor; non-finite elements are left out of the buckets and the sums.
  void add_histogram(const std::string& tag, const Tensor& values, std::int64_t step, int buckets = 30);
  void add_histogram(const std::string& tag, const Tensor& values, std::int64_t step, int buckets, double wall_time);
  /// Writes the buffered records and flushes them to the file. IOError when the write fails.
  void flush();
  const std::string& path() const noexcept { return path_; }

 private:
  void append_event(const std::string& event);
  std::string path_;
  std::FILE* file_ = nullptr;
  std::string pending_;  // whole records not yet written
};

/// Options of the `TensorBoard` callback (Keras's names and defaults where they apply).
struct TensorBoardOptions {
  std::string log_dir = "logs";
  /// Every this many epochs, histograms of the trainable weights (0: never).
  int histogram_freq = 0;
  /// "epoch": scalars at each epoch's end; "batch": also every batch's loss and metrics; a number
  /// N: every N batches.
  std::variant<std::string, std::int64_t> update_freq = std::string("epoch");
};

/// Logs `fit` for TensorBoard as Keras lays it out: `log_dir/train/` holds `epoch_loss`,
/// `epoch_<metric>` and `epoch_learning_rate` at step = epoch (0-based), the `batch_*` scalars at
/// step = batches so far when update_freq asks, and the weights' histograms; `log_dir/validation/`
/// holds `epoch_loss` and `epoch_<metric>` of the validation data. Both files are flushed at every
/// epoch's end. ValueError for an update_freq that is neither "epoch", "batch" nor positive, or a
/// negative histogram_freq.
class TensorBoard final : public Callback {
 public:
  explicit TensorBoard(TensorBoardOptions options = {});
  void on_train_begin(Model& model) override;
  void on_batch_end(Model& model, std::int64_t batch, const Logs& logs) override;
  void on_epoch_end(Model& model, int epoch, const Logs& logs) override;
  void on_train_end(Model& model) override;

 private:
  TensorBoardOptions options_;
  std::int64_t every_ = 0;  // batches between batch summaries (0: none)
  std::int64_t batches_ = 0;
  std::unique_ptr<SummaryWriter> train_, validation_;
};

namespace tensorboard {

/// CRC-32C (Castagnoli) of `size` bytes, and TFRecord's masked form of it.
std::uint32_t crc32c(const void* data, std::size_t size) noexcept;
std::uint32_t masked_crc32c(const void* data, std::size_t size) noexcept;

/// The records of a TFRecord file, in order, up to the first that is incomplete or fails its CRCs
/// (a writer killed mid-record leaves one). `complete` is false when such a tail was found.
struct RecordScan {
  std::vector<std::string> records;
  bool complete = true;
};
/// IOError when the file cannot be read.
RecordScan read_records(const std::string& path);

}  // namespace tensorboard

}  // namespace loom
