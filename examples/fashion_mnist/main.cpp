// SPDX-License-Identifier: Apache-2.0
// Row-sequential Fashion-MNIST: each 28×28 image is a sequence of 28 rows of 28 pixels, read by an LSTM
// or GRU, classified by a Dense layer. Data from Debian's dataset-fashion-mnist package.
//
//   loom_example_fashion_mnist [--cell lstm|gru] [--units 128] [--epochs 3] [--batch-size 64] [--lr 0.002]
//                              [--threads 0] [--data-dir /usr/share/datasets/fashion-mnist] [--csv log.csv]
//                              [--checkpoint fashion_mnist.safetensors] [--schedule cosine|constant] [--smoke]
//                              [--tensorboard DIR] [--plot fashion_mnist_curves.svg] [--distributed]
//                              [--validation-split 0.1]
//
// The last --validation-split of the training images validate each epoch; the test set is scored
// once, at the end.
//
// With --distributed, run under MPI (`mpirun -np 2 loom_example_fashion_mnist --distributed`): each
// rank trains on its block of every batch of --batch-size samples (the global batch), and rank 0 alone
// prints, logs and writes the checkpoint.
#include <loom/loom.hpp>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "../common/cli.hpp"
#include "../common/distributed.hpp"

using namespace loom;

namespace {

// Reads a gzip'd IDX file, checking its magic number, dimensions and size.
std::vector<unsigned char> read_idx(const std::string& path, std::uint32_t magic, std::vector<std::uint32_t>& dims) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    throw std::runtime_error("cannot open " + path +
                             " (install the data with: apt-get install dataset-fashion-mnist, or pass --data-dir)");
  auto read_u32 = [&](const char* what) {
    unsigned char b[4];
    if (gzread(f, b, 4) != 4) throw std::runtime_error(path + ": truncated " + what);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
  };
  const std::uint32_t m = read_u32("magic number");
  if (m != magic) {
    gzclose(f);
    throw std::runtime_error(path + ": magic number " + std::to_string(m) + ", expected " + std::to_string(magic) +
                             " (not an IDX file of the expected kind)");
  }
  std::size_t total = 1;
  for (std::uint32_t d = 0; d < (magic & 0xff); ++d) {
    dims.push_back(read_u32("dimension"));
    total *= dims.back();
  }
  std::vector<unsigned char> data(total);
  const int got = total ? gzread(f, data.data(), static_cast<unsigned>(total)) : 0;
  unsigned char extra;
  const bool trailing = gzread(f, &extra, 1) == 1;
  gzclose(f);
  if (got != static_cast<int>(total) || trailing)
    throw std::runtime_error(path + ": holds " + (trailing ? "more" : "fewer") + " bytes than its header announces");
  return data;
}

struct Split {
  Tensor images;  // (n, 28, 28) in [0, 1]
  Tensor labels;  // (n,) i64
};

Split load(const std::string& dir, const std::string& prefix, std::int64_t limit) {
  std::vector<std::uint32_t> idims, ldims;
  const auto pixels = read_idx(dir + "/" + prefix + "-images-idx3-ubyte.gz", 2051, idims);
  const auto labels = read_idx(dir + "/" + prefix + "-labels-idx1-ubyte.gz", 2049, ldims);
  if (idims.size() != 3 || idims[1] != 28 || idims[2] != 28 || ldims.size() != 1 || ldims[0] != idims[0])
    throw std::runtime_error(dir + "/" + prefix + ": expected n×28×28 images and n labels");
  const std::int64_t n = std::min<std::int64_t>(idims[0], limit);
  Split s{Tensor::empty({n, 28, 28}), Tensor::empty({n}, DType::i64)};
  float* img = s.images.data<float>();
  for (std::int64_t i = 0; i < n * 28 * 28; ++i) img[i] = static_cast<float>(pixels[static_cast<std::size_t>(i)]) / 255.0f;
  std::int64_t* lab = s.labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    if (labels[static_cast<std::size_t>(i)] > 9) throw std::runtime_error(prefix + ": label out of range at " + std::to_string(i));
    lab[i] = labels[static_cast<std::size_t>(i)];
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const loom_examples::Args args(argc, argv,
                                 {{"cell", "lstm"}, {"units", "128"}, {"epochs", "3"}, {"batch-size", "64"},
                                  {"lr", "0.002"}, {"threads", "0"}, {"data-dir", "/usr/share/datasets/fashion-mnist"},
                                  {"csv", "fashion_mnist_log.csv"}, {"checkpoint", "fashion_mnist.safetensors"},
                                  {"seed", "1"}, {"schedule", "cosine"}, {"smoke", "false"}, {"tensorboard", ""},
                                  {"plot", "fashion_mnist_curves.svg"}, {"distributed", "false"},
                                  {"validation-split", "0.1"}},
                                 "Row-sequential Fashion-MNIST with an LSTM or GRU.");
  loom_examples::Distribution dist;
  try {
    dist.start(argc, argv, args.flag("distributed"));
    set_num_threads(static_cast<int>(args.integer("threads")));
    manual_seed(static_cast<std::uint64_t>(args.integer("seed")));
    const bool smoke = args.flag("smoke");
    const Split train = load(args.str("data-dir"), "train", smoke ? 512 : 60000);
    const Split test = load(args.str("data-dir"), "t10k", smoke ? 256 : 10000);
    const std::int64_t units = args.integer("units");
    std::shared_ptr<Layer> rnn;
    if (args.str("cell") == "lstm")
      rnn = std::make_shared<LSTM>(units, LSTMCellOptions{}, RNNOptions{.name = "rnn"});
    else if (args.str("cell") == "gru")
      rnn = std::make_shared<GRU>(units, GRUCellOptions{}, RNNOptions{.name = "rnn"});
    else
      throw std::runtime_error("--cell must be lstm or gru");
    Model model(std::make_shared<Sequential>(
        std::vector<std::shared_ptr<Layer>>{rnn, std::make_shared<Dense>(10, DenseOptions{.name = "classifier"})}));
    // Cosine decay of the learning rate over the whole run (to 5% of it): the last epochs settle the weights.
    const int epochs = static_cast<int>(args.integer("epochs"));
    const std::int64_t batch_size = args.integer("batch-size");
    const auto fitted = train.images.shape(0) - static_cast<std::int64_t>(static_cast<double>(train.images.shape(0)) *
                                                                          args.number("validation-split"));
    const std::int64_t total_steps = epochs * ((fitted + batch_size - 1) / batch_size);
    LearningRate lr = args.number("lr");
    if (args.str("schedule") == "cosine")
      lr = std::make_shared<CosineDecay>(args.number("lr"), std::max<std::int64_t>(total_steps, 1), 0.05);
    else if (args.str("schedule") != "constant")
      throw std::runtime_error("--schedule must be cosine or constant");
    model.compile(std::make_shared<Adam>(AdamOptions{.learning_rate = lr}),
                  losses::sparse_categorical_crossentropy(/*from_logits=*/true), {"accuracy"});
    model.distribute(dist.strategy());
    if (dist.chief())
      std::printf("Fashion-MNIST: %lld training images (%lld of them for validation) and %lld test images; %s(%lld) + "
                  "Dense(10), Adam(lr %g, %s), %d thread(s) × %d process(es)\n",
                  static_cast<long long>(train.images.shape(0)), static_cast<long long>(train.images.shape(0) - fitted),
                  static_cast<long long>(test.images.shape(0)),
                  args.str("cell").c_str(), static_cast<long long>(units), args.number("lr"), args.str("schedule").c_str(),
                  num_threads(), dist.world_size());
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<Callback>> callbacks{std::make_shared<CSVLogger>(args.str("csv"))};
    if (!args.str("tensorboard").empty())  // view with: tensorboard --logdir DIR
      callbacks.push_back(std::make_shared<TensorBoard>(TensorBoardOptions{.log_dir = args.str("tensorboard"), .histogram_freq = 1}));
    // Validation on the last part of the training set (Keras's validation_split): the test set is
    // looked at once, after training.
    const History h = model.fit(train.images, train.labels,
                                {.epochs = epochs,
                                 .batch_size = batch_size,
                                 .validation_split = args.number("validation-split"),
                                 .callbacks = callbacks});
    if (!args.str("plot").empty() && dist.chief())
      plot_history(h, args.str("plot"), {.title = "Fashion-MNIST, " + args.str("cell") + "(" + std::to_string(units) + ")"});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    model.save_checkpoint(args.str("checkpoint"));
    const Logs result = model.evaluate(test.images, test.labels, 256);
    if (dist.chief())
      std::printf("test accuracy %.4f, test loss %.4f; %.1f s per epoch (%d epochs); log %s, checkpoint %s%s%s\n",
                result.at("accuracy"), result.at("loss"), seconds / static_cast<double>(h.epoch.size()),
                static_cast<int>(h.epoch.size()), args.str("csv").c_str(), args.str("checkpoint").c_str(),
                args.str("plot").empty() ? "" : ", curves ", args.str("plot").c_str());
    if (smoke && h.history.at("loss").back() >= h.history.at("loss").front() && h.epoch.size() > 1) {
      std::fprintf(stderr, "smoke check failed: the training loss did not decrease\n");
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_mnist: %s\n", e.what());
    dist.end_job_after(e);
    return 1;
  }
}
