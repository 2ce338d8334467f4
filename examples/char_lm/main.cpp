// SPDX-License-Identifier: Apache-2.0
// A character-level LSTM language model trained statefully with truncated BPTT, on the King James Bible
// (Debian's bible-kjv) or any text file. Reports validation bits per character each epoch and samples text.
//
//   loom_example_char_lm [--text FILE] [--units 256] [--embedding 32] [--streams 64] [--bptt 100]
//                        [--epochs 30] [--minutes 14] [--lr 0.002] [--temperature 0.8]
//                        [--split verses|contiguous] [--smoke] [--tensorboard DIR] [--plot char_lm_curves.svg]
//                        [--distributed]
//
// With --distributed, run under MPI (`mpirun -np 2 loom_example_char_lm --distributed`): each rank
// trains its block of the --streams streams, and rank 0 alone prints and logs.
//
// --split verses (default) deals whole lines (verses) into train/valid/test at 90/5/5 with a fixed seed,
// so the three parts come from the same distribution — the setting bzip2's whole-text figure compares
// to. --split contiguous takes the last 10% as held-out text instead (for the Bible: New Testament
// books the training part barely covers), a harder, shifted benchmark.
#include <loom/loom.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "../common/cli.hpp"
#include "../common/distributed.hpp"

using namespace loom;

namespace {

// The KJV text from `bible`, one verse per line: chapter headers, blank lines and verse numbers removed.
std::string bible_text() {
  FILE* pipe = ::popen("bible -l1000 Genesis1:1-Revelation22:21 2>/dev/null", "r");
  if (!pipe) throw std::runtime_error("cannot run `bible` (apt-get install bible-kjv, or pass --text FILE)");
  std::string raw;
  char buf[1 << 16];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) raw.append(buf, n);
  const int status = ::pclose(pipe);
  if (status != 0 || raw.size() < 1000)
    throw std::runtime_error("`bible` produced no text (apt-get install bible-kjv, or pass --text FILE)");
  std::istringstream lines(raw);
  std::string line, text;
  while (std::getline(lines, line)) {
    std::size_t i = 0;
    while (i < line.size() && line[i] == ' ') ++i;
    if (i == 0) continue;  // a chapter header ("Genesis 1") or a blank line: verses are indented
    while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
    while (i < line.size() && line[i] == ' ') ++i;
    text += line.substr(i);
    text += '\n';
  }
  return text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct CharLM {
  std::shared_ptr<Embedding> embedding;
  std::shared_ptr<RNN> lstm;
  std::shared_ptr<Dense> head;
  SequenceOutput operator()(const Var& ids, const std::vector<Var>& states, bool training) const {
    const RNNOutput out = lstm->call((*embedding)(ids), {.training = training, .initial_state = states});
    return {(*head)(out.output), out.states};
  }
  std::vector<Var> weights() const {
    std::vector<Var> w;
    for (const Layer* l : std::initializer_list<const Layer*>{embedding.get(), lstm.get(), head.get()})
      for (const Var& v : l->trainable_weights()) w.push_back(v);
    return w;
  }
};

Tensor ids_of(const std::string& text, const std::map<char, std::int64_t>& vocab) {
  std::vector<std::int64_t> ids;
  ids.reserve(text.size());
  for (char c : text) ids.push_back(vocab.at(c));
  return Tensor::from_vector(ids, {static_cast<std::int64_t>(ids.size())});
}

// Bits per character over a token stream, run statefully in chunks without a tape. Distributed, each
// rank scores its block of the streams and the sums are added up.
double bits_per_char(const CharLM& model, const Tensor& ids, std::int64_t all_streams, std::int64_t chunk,
                     std::int64_t units, Strategy* strategy) {
  NoGrad inference;
  Tensor s = batchify(ids, all_streams);
  if (strategy) {
    const auto [begin, end] = strategy->shard(all_streams);
    s = s.slice0(begin, end - begin);
  }
  const std::int64_t streams = s.shape(0);
  std::vector<Var> states{Var(Tensor::zeros({streams, units})), Var(Tensor::zeros({streams, units}))};
  double nats = 0;
  std::int64_t count = 0;
  for (std::int64_t t = 0; t + 1 < s.shape(1); t += chunk) {
    const std::int64_t len = std::min(chunk, s.shape(1) - 1 - t);
    const SequenceOutput out = model(Var(core::slice(s, 1, t, len)), states, false);
    states = out.states;
    const Var loss = sparse_categorical_crossentropy(core::slice(s, 1, t + 1, len), out.outputs, true);
    nats += loss.value().item() * static_cast<double>(streams * len);
    count += streams * len;
  }
  double sums[2] = {nats, static_cast<double>(count)};
  if (strategy) strategy->all_reduce_sum(sums);
  return sums[0] / sums[1] / std::log(2.0);
}

std::string sample(const CharLM& model, const std::string& prompt, std::int64_t length, double temperature,
                   const std::map<char, std::int64_t>& vocab, const std::string& chars, std::int64_t units) {
  NoGrad inference;
  Generator gen(12345);
  std::vector<Var> states{Var(Tensor::zeros({1, units})), Var(Tensor::zeros({1, units}))};
  std::string out = prompt;
  std::int64_t next = vocab.at(prompt[0]);
  for (std::size_t i = 0; i < prompt.size() + static_cast<std::size_t>(length); ++i) {
    const SequenceOutput o = model(Var(Tensor::from_vector<std::int64_t>({next}, {1, 1})), states, false);
    states = o.states;
    if (i + 1 < prompt.size()) {
      next = vocab.at(prompt[i + 1]);
      continue;
    }
    const Tensor p = core::softmax(core::mul(o.outputs.value().reshape({-1}), 1.0 / temperature));
    const double u = Tensor::uniform({1}, 0, 1, DType::f64, &gen).item();
    double acc = 0;
    next = p.numel() - 1;
    for (std::int64_t c = 0; c < p.numel(); ++c)
      if ((acc += p.get({c})) > u) {
        next = c;
        break;
      }
    out += chars[static_cast<std::size_t>(next)];
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const loom_examples::Args args(argc, argv,
                                 {{"text", ""}, {"units", "256"}, {"embedding", "32"}, {"streams", "64"}, {"bptt", "100"},
                                  {"epochs", "30"}, {"minutes", "14"}, {"lr", "0.002"}, {"lr-decay", "1"}, {"dropout", "0"}, {"temperature", "0.8"},
                                  {"threads", "0"}, {"seed", "1"}, {"split", "verses"}, {"smoke", "false"}, {"tensorboard", ""},
                                  {"plot", "char_lm_curves.svg"}, {"distributed", "false"}},
                                 "A character-level LSTM language model trained with truncated BPTT.");
  loom_examples::Distribution dist;
  try {
    dist.start(argc, argv, args.flag("distributed"));
    Strategy* const strategy = dist.strategy().get();
    set_num_threads(static_cast<int>(args.integer("threads")));
    manual_seed(static_cast<std::uint64_t>(args.integer("seed")));
    const bool smoke = args.flag("smoke");
    std::string text = args.str("text").empty() ? bible_text() : read_text(args.str("text"));
    if (smoke) text = text.substr(0, 60000);
    std::string chars;
    std::map<char, std::int64_t> vocab;
    for (char c : text) vocab[c] = 0;
    for (auto& [c, id] : vocab) {
      id = static_cast<std::int64_t>(chars.size());
      chars += c;
    }
    const auto n = static_cast<std::int64_t>(text.size());
    Tensor train, valid, test;
    if (args.str("split") == "contiguous") {
      const Tensor all = ids_of(text, vocab);
      train = all.slice0(0, n * 90 / 100);
      valid = all.slice0(n * 90 / 100, n * 5 / 100);
      test = all.slice0(n * 95 / 100, n - n * 95 / 100);
    } else if (args.str("split") == "verses") {
      // Deal lines into the three parts by a seeded uniform draw per line (90 / 5 / 5).
      std::string parts[3];
      Generator dealer(2024);
      std::size_t begin = 0;
      while (begin < text.size()) {
        const std::size_t end = std::min(text.find('\n', begin), text.size() - 1) + 1;
        const double u = Tensor::uniform({1}, 0, 1, DType::f64, &dealer).item();
        parts[u < 0.9 ? 0 : u < 0.95 ? 1 : 2] += text.substr(begin, end - begin);
        begin = end;
      }
      train = ids_of(parts[0], vocab);
      valid = ids_of(parts[1], vocab);
      test = ids_of(parts[2], vocab);
    } else {
      throw std::runtime_error("--split must be verses or contiguous");
    }
    const std::int64_t units = smoke ? 32 : args.integer("units"), streams = smoke ? 8 : args.integer("streams");
    const std::int64_t bptt = smoke ? 20 : args.integer("bptt");
    const auto vocab_size = static_cast<std::int64_t>(chars.size());

    CharLM model{std::make_shared<Embedding>(vocab_size, args.integer("embedding"), EmbeddingOptions{.name = "embedding"}),
                 std::make_shared<RNN>(std::make_shared<LSTMCell>(units, LSTMCellOptions{.dropout = args.number("dropout")}),
                                       RNNOptions{.return_sequences = true, .name = "lstm"}),
                 std::make_shared<Dense>(vocab_size, DenseOptions{.name = "logits"})};
    model.embedding->build_for({streams, bptt});
    model.lstm->build_for({streams, bptt, args.integer("embedding")});
    model.head->build_for({streams, bptt, units});
    // The rate falls by --lr-decay per epoch of windows (1: constant).
    const std::int64_t steps_per_epoch = std::max<std::int64_t>(1, (train.shape(0) - 1) / streams / bptt);
    Adam adam(AdamOptions{
        .learning_rate = std::make_shared<ExponentialDecay>(args.number("lr"), steps_per_epoch, args.number("lr-decay")),
        .clipnorm = 5.0});
    const LossFunction loss = [](const Tensor& y, const Var& logits) { return sparse_categorical_crossentropy(y, logits, true); };
    TruncatedBPTT tbptt([&](const Var& x, const std::vector<Var>& s, bool tr) { return model(x, s, tr); }, model.weights(),
                        adam, loss, {.k1 = bptt, .strategy = dist.strategy()});
    const Tensor streams_in = batchify(train.slice0(0, train.shape(0) - 1), streams);
    const Tensor streams_out = batchify(train.slice0(1, train.shape(0) - 1), streams);
    if (dist.chief())
    std::printf("char_lm: %lld characters (vocabulary %lld), %s split: train %lld, valid %lld, test %lld; LSTM(%lld), %lld "
                "streams × windows of %lld, %d thread(s) × %d process(es)\n",
                static_cast<long long>(n), static_cast<long long>(vocab_size), args.str("split").c_str(),
                static_cast<long long>(train.shape(0)),
                static_cast<long long>(valid.shape(0)), static_cast<long long>(test.shape(0)), static_cast<long long>(units),
                static_cast<long long>(streams), static_cast<long long>(bptt), num_threads(), dist.world_size());
    const auto start = std::chrono::steady_clock::now();
    const double budget = smoke ? 1e9 : args.number("minutes") * 60.0;
    const std::int64_t epochs = smoke ? 2 : args.integer("epochs");
    const std::int64_t window_cols = smoke ? 4 * bptt : streams_in.shape(1);
    double first_loss = 0, last_loss = 0;
    // The custom loop logs like fit: a SummaryWriter per split (view with: tensorboard --logdir DIR)
    // and a History for the plot.
    std::unique_ptr<SummaryWriter> tb_train, tb_valid;
    if (!args.str("tensorboard").empty()) {
      if (dist.chief()) {
        tb_train = std::make_unique<SummaryWriter>(args.str("tensorboard") + "/train");
        tb_valid = std::make_unique<SummaryWriter>(args.str("tensorboard") + "/validation");
      }
    }
    History history;
    for (std::int64_t epoch = 0; epoch < epochs; ++epoch) {
      tbptt.reset({Tensor::zeros({streams, units}), Tensor::zeros({streams, units})});
      // One TBPTT pass per chunk of windows, so the time budget is checked often.
      const std::int64_t chunk = 20 * bptt;
      double sum = 0;
      int chunks = 0;
      for (std::int64_t c = 0; c < window_cols; c += chunk) {
        const std::int64_t len = std::min(chunk, window_cols - c);
        sum += tbptt.train(core::slice(streams_in, 1, c, len), core::slice(streams_out, 1, c, len));
        ++chunks;
        // Distributed, the ranks must agree to stop, or one would wait for the others' next window.
        double over = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > budget;
        if (strategy) strategy->all_reduce_sum(std::span<double>(&over, 1));
        if (over > 0) break;
      }
      last_loss = sum / chunks;
      if (epoch == 0) first_loss = last_loss;
      const double bpc = bits_per_char(model, smoke ? valid.slice0(0, 2000) : valid, streams, bptt, units, strategy);
      double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (strategy) {  // rank 0's clock decides, for every rank alike
        std::vector<Tensor> clock{Tensor::full({1}, elapsed, DType::f64)};
        strategy->broadcast(clock);
        elapsed = clock[0].item();
      }
      if (dist.chief())
        std::printf("epoch %lld: train loss %.4f nats, validation %.4f bits/char (%.0f s)\n",
                    static_cast<long long>(epoch + 1), last_loss, bpc, elapsed);
      std::fflush(stdout);
      // Both curves in bits per character (the training loss is in nats).
      const double train_bpc = last_loss / std::log(2.0);
      history.epoch.push_back(static_cast<int>(epoch));
      history.history["bits_per_char"].push_back(train_bpc);
      history.history["val_bits_per_char"].push_back(bpc);
      if (tb_train && dist.chief()) {
        tb_train->add_scalar("epoch_bits_per_char", train_bpc, epoch);
        tb_train->add_scalar("epoch_learning_rate", adam.learning_rate(), epoch);
        tb_valid->add_scalar("epoch_bits_per_char", bpc, epoch);
        tb_train->flush();
        tb_valid->flush();
      }
      if (!args.str("plot").empty() && dist.chief()) plot_history(history, args.str("plot"), {.title = "char_lm on the KJV Bible"});
      if (elapsed > budget) {
        if (dist.chief()) std::printf("time budget of %.0f minutes reached\n", budget / 60);
        break;
      }
    }
    const double test_bpc = bits_per_char(model, smoke ? test.slice0(0, 2000) : test, streams, bptt, units, strategy);
    if (dist.chief()) std::printf("test: %.4f bits/char (bzip2 reaches 1.68 on this text)\n", test_bpc);
    if (dist.chief())
      std::printf("sample (temperature %.2f):\n%s\n", args.number("temperature"),
                sample(model, "And God said", smoke ? 60 : 400, args.number("temperature"), vocab, chars, units).c_str());
    if (smoke && !(last_loss < first_loss)) {
      std::fprintf(stderr, "smoke check failed: the training loss did not decrease\n");
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "char_lm: %s\n", e.what());
    dist.end_job_after(e);
    return 1;
  }
}
