// SPDX-License-Identifier: Apache-2.0
// A character-level LSTM language model trained statefully with truncated BPTT, on the King James Bible
// (Debian's bible-kjv) or any text file. Reports validation bits per character each epoch, the test
// figure once at the end, and samples text.
//
//   loom_example_char_lm [--text FILE] [--units 256] [--embedding 32] [--streams 64] [--bptt 100]
//                        [--epochs 30] [--minutes 13] [--lr 0.006] [--schedule cosine|exponential]
//                        [--lr-floor 0.05] [--lr-decay 1] [--dropout 0] [--output-dropout 0]
//                        [--dynamic-rate 0.0002] [--dynamic-streams 1] [--dynamic-window 25]
//                        [--split contiguous|verses] [--seed 1] [--save FILE] [--load FILE]
//                        [--temperature 0.8] [--smoke] [--tensorboard DIR] [--plot char_lm_curves.svg]
//                        [--distributed]
//
// With --distributed, run under MPI (`mpirun -np 2 loom_example_char_lm --distributed`): each rank
// trains its block of the --streams streams, and rank 0 alone prints and logs.
//
// --split contiguous (default) holds out the end of the text: the last 10%, cut into validation and
// test halves. For the Bible, training ends in Acts 21, validation runs from there to Colossians 1 and
// test on to Revelation: mostly letters, a genre the training text hardly contains, so the held-out
// figures measure how the model carries over to new books. --split verses deals whole lines (verses)
// into train/valid/test at 90/5/5 with a fixed seed instead, so the three parts come from the same
// distribution: an in-distribution figure, easier, and the setting bzip2's whole-text figure compares to.
//
// The training time is a budget (--minutes): the first epoch is timed, and the cosine schedule is
// planned over the updates the rest of the budget holds. After training, the held-out text is scored
// twice: as is (static), and with dynamic evaluation (--dynamic-rate > 0; see dynamic_bits_per_char),
// the model learning on each window of held-out text once it has been scored. Both are reported.
#include <loom/loom.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
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
  std::shared_ptr<Dropout> dropout;  // on the LSTM's outputs, before the head
  std::shared_ptr<Dense> head;
  SequenceOutput operator()(const Var& ids, const std::vector<Var>& states, bool training) const {
    const RNNOutput out = lstm->call((*embedding)(ids), {.training = training, .initial_state = states});
    return {(*head)(dropout->call(out.output, CallContext(Tensor(), training))), out.states};
  }
  /// The LSTM's zero states for `streams` streams (the cell protocol's get_initial_state).
  std::vector<Tensor> initial_states(std::int64_t streams) const {
    return lstm->cell()->get_initial_state(streams, DType::f32);
  }
  std::vector<Var> initial_state_vars(std::int64_t streams) const {
    std::vector<Var> v;
    for (const Tensor& t : initial_states(streams)) v.emplace_back(t);
    return v;
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

// The loss of every trainer here: cross-entropy of the next character, from the logits, in nats.
Var next_char_loss(const Tensor& next_ids, const Var& logits) {
  return sparse_categorical_crossentropy(next_ids, logits, true);
}

// Bits per character over a token stream, run statefully in chunks without a tape. Distributed, each
// rank scores its block of the streams and the sums are added up.
double bits_per_char(const CharLM& model, const Tensor& ids, std::int64_t all_streams, std::int64_t chunk,
                     Strategy* strategy) {
  NoGrad inference;
  Tensor s = batchify(ids, all_streams);
  if (strategy) {
    const auto [begin, end] = strategy->shard(all_streams);
    s = s.slice0(begin, end - begin);
  }
  const std::int64_t streams = s.shape(0);
  std::vector<Var> states = model.initial_state_vars(streams);
  double nats = 0;
  std::int64_t count = 0;
  for (std::int64_t t = 0; t + 1 < s.shape(1); t += chunk) {
    const std::int64_t len = std::min(chunk, s.shape(1) - 1 - t);
    const SequenceOutput out = model(Var(core::slice(s, 1, t, len)), states, false);
    states = out.states;
    const Var loss = next_char_loss(core::slice(s, 1, t + 1, len), out.outputs);
    nats += loss.value().item() * static_cast<double>(streams * len);
    count += streams * len;
  }
  double sums[2] = {nats, static_cast<double>(count)};
  if (strategy) strategy->all_reduce_sum(sums);
  return sums[0] / sums[1] / std::log(2.0);
}

// Keras's CosineDecay from `initial` to `initial`·alpha over a number of updates that is known only
// once the first epoch has been timed against the time budget (`plan`); until then, the initial rate.
class BudgetCosine final : public LearningRateSchedule {
 public:
  BudgetCosine(double initial, double alpha) : initial_(initial), alpha_(alpha) {}
  void plan(std::int64_t updates) {
    updates_ = updates;
    cosine_.emplace(initial_, std::max<std::int64_t>(updates, 1), alpha_);
  }
  std::int64_t planned() const { return updates_; }
  double operator()(std::int64_t step) const override { return cosine_ ? (*cosine_)(step) : initial_; }

 private:
  double initial_, alpha_;
  std::int64_t updates_ = 0;
  std::optional<CosineDecay> cosine_;
};

// Dynamic evaluation (Krause et al., 2018): the held-out text, cut into `streams` streams, is scored
// window by window, and once a window has been scored the model takes one Adam step on it, so that it
// adapts to the books it is reading. Every character is predicted before the model has trained on it
// (characters are taken window by window, stream after stream within a window), so the figure is the
// code length an adaptive coder would reach, as a compressor's is. The weights are restored after.
double dynamic_bits_per_char(const CharLM& model, const Tensor& ids, std::int64_t streams, std::int64_t bptt,
                             double lr) {
  // The trained weights come back however this ends.
  struct Restore {
    std::vector<Var> weights;
    std::vector<Tensor> saved;
    ~Restore() {
      for (std::size_t i = 0; i < weights.size(); ++i) weights[i].assign(saved[i]);
    }
  } restore{model.weights(), {}};
  for (const Var& w : restore.weights) restore.saved.push_back(w.value().clone());
  std::vector<Var>& weights = restore.weights;
  Adam adam(AdamOptions{.learning_rate = lr, .clipnorm = 5.0});
  // Scored without dropout, whatever the training used.
  TruncatedBPTT adapt([&](const Var& x, const std::vector<Var>& s, bool) { return model(x, s, false); }, weights, adam,
                      next_char_loss, {.k1 = bptt});
  adapt.reset(model.initial_states(streams));
  const Tensor s = batchify(ids, streams);
  const std::int64_t steps = s.shape(1) - 1;
  if (steps < 1) throw std::runtime_error("dynamic evaluation: the held-out text is too short for --dynamic-streams");
  // TruncatedBPTT returns the mean window loss; weight it back by the window lengths.
  double nats = 0;
  for (std::int64_t t = 0; t < steps; t += bptt) {
    const std::int64_t len = std::min(bptt, steps - t);
    nats += adapt.train(core::slice(s, 1, t, len), core::slice(s, 1, t + 1, len)) * static_cast<double>(len);
  }
  return nats / static_cast<double>(steps) / std::log(2.0);
}

std::string sample(const CharLM& model, const std::string& prompt, std::int64_t length, double temperature,
                   const std::map<char, std::int64_t>& vocab, const std::string& chars) {
  NoGrad inference;
  Generator gen(12345);
  std::vector<Var> states = model.initial_state_vars(1);
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
                                  {"epochs", "30"}, {"minutes", "13"}, {"lr", "0.006"}, {"schedule", "cosine"},
                                  {"lr-floor", "0.05"}, {"lr-decay", "1"}, {"dropout", "0"}, {"output-dropout", "0"},
                                  {"dynamic-rate", "0.0002"}, {"dynamic-streams", "1"}, {"dynamic-window", "25"},
                                  {"save", ""}, {"load", ""}, {"temperature", "0.8"}, {"threads", "0"}, {"seed", "1"},
                                  {"split", "contiguous"}, {"smoke", "false"}, {"tensorboard", ""},
                                  {"plot", "char_lm_curves.svg"}, {"distributed", "false"}},
                                 "A character-level LSTM language model trained with truncated BPTT.");
  loom_examples::Distribution dist;
  try {
    dist.start(argc, argv, args.flag("distributed"));
    Strategy* const strategy = dist.strategy().get();
    set_num_threads(static_cast<int>(args.integer("threads")));
    manual_seed(static_cast<std::uint64_t>(args.integer("seed")));
    const bool smoke = args.flag("smoke");
    // Every option is checked before any work.
    const auto refuse_unless = [&](bool ok, const std::string& option, const std::string& expected) {
      if (!ok) throw std::runtime_error("--" + option + " must be " + expected + "; got '" + args.str(option) + "'");
    };
    refuse_unless(args.number("dynamic-rate") >= 0, "dynamic-rate", ">= 0 (0: no dynamic evaluation)");
    refuse_unless(args.integer("dynamic-streams") >= 1, "dynamic-streams", ">= 1");
    refuse_unless(args.integer("dynamic-window") >= 1, "dynamic-window", ">= 1");
    refuse_unless(args.number("lr-floor") >= 0 && args.number("lr-floor") <= 1, "lr-floor", "in [0, 1]");
    refuse_unless(args.number("lr") > 0, "lr", "> 0");
    refuse_unless(args.number("minutes") > 0, "minutes", "> 0");
    refuse_unless(args.str("schedule") == "cosine" || args.str("schedule") == "exponential", "schedule",
                  "cosine or exponential");
    refuse_unless(args.str("split") == "contiguous" || args.str("split") == "verses", "split", "contiguous or verses");
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
    const bool contiguous = args.str("split") == "contiguous";
    if (contiguous) {
      const Tensor all = ids_of(text, vocab);
      train = all.slice0(0, n * 90 / 100);
      valid = all.slice0(n * 90 / 100, n * 5 / 100);
      test = all.slice0(n * 95 / 100, n - n * 95 / 100);
    } else {  // verses
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
    }
    const std::int64_t units = smoke ? 32 : args.integer("units"), streams = smoke ? 8 : args.integer("streams");
    const std::int64_t bptt = smoke ? 20 : args.integer("bptt");
    const auto vocab_size = static_cast<std::int64_t>(chars.size());

    CharLM model{std::make_shared<Embedding>(vocab_size, args.integer("embedding"), EmbeddingOptions{.name = "embedding"}),
                 std::make_shared<RNN>(std::make_shared<LSTMCell>(units, LSTMCellOptions{.dropout = args.number("dropout")}),
                                       RNNOptions{.return_sequences = true, .name = "lstm"}),
                 std::make_shared<Dropout>(args.number("output-dropout"), "output_dropout"),
                 std::make_shared<Dense>(vocab_size, DenseOptions{.name = "logits"})};
    model.embedding->build_for({streams, bptt});
    model.lstm->build_for({streams, bptt, args.integer("embedding")});
    model.head->build_for({streams, bptt, units});
    // --schedule cosine: the rate follows a cosine down to --lr-floor × --lr over the updates the time
    // budget allows, planned once the first epoch has been timed. --schedule exponential: it falls by
    // --lr-decay per epoch (1: constant), with no plan.
    const std::int64_t steps_per_epoch = std::max<std::int64_t>(1, (train.shape(0) - 1) / streams / bptt);
    std::shared_ptr<BudgetCosine> cosine;
    std::shared_ptr<LearningRateSchedule> schedule;
    if (args.str("schedule") == "cosine") {
      cosine = std::make_shared<BudgetCosine>(args.number("lr"), args.number("lr-floor"));
      schedule = cosine;
    } else {  // exponential
      schedule = std::make_shared<ExponentialDecay>(args.number("lr"), steps_per_epoch, args.number("lr-decay"));
    }
    Adam adam(AdamOptions{.learning_rate = schedule, .clipnorm = 5.0});
    TruncatedBPTT tbptt([&](const Var& x, const std::vector<Var>& s, bool tr) { return model(x, s, tr); }, model.weights(),
                        adam, next_char_loss, {.k1 = bptt, .strategy = dist.strategy()});
    const Tensor streams_in = batchify(train.slice0(0, train.shape(0) - 1), streams);
    const Tensor streams_out = batchify(train.slice0(1, train.shape(0) - 1), streams);
    if (dist.chief())
    std::printf("char_lm: %lld characters (vocabulary %lld), %s split: train %lld, valid %lld, test %lld; LSTM(%lld), %lld "
                "streams × windows of %lld, %d thread(s) × %d process(es)\n",
                static_cast<long long>(n), static_cast<long long>(vocab_size), args.str("split").c_str(),
                static_cast<long long>(train.shape(0)),
                static_cast<long long>(valid.shape(0)), static_cast<long long>(test.shape(0)), static_cast<long long>(units),
                static_cast<long long>(streams), static_cast<long long>(bptt), num_threads(), dist.world_size());
    if (!args.str("load").empty()) {  // trained weights from --save, instead of training
      const TensorFile file = load_safetensors(args.str("load"));
      // Every weight is checked before any is assigned, so a wrong file leaves the model as it was.
      const std::vector<Var> weights = model.weights();
      for (const Var& w : weights) {
        if (!file.contains(w.name()))
          throw std::runtime_error(args.str("load") + " has no weight '" + w.name() + "' (saved from another model: other --units, --embedding or --text?)");
        const Tensor& t = file.at(w.name());
        if (t.shape() != w.shape() || t.dtype() != w.dtype())
          throw std::runtime_error(args.str("load") + ": weight '" + w.name() + "' is " + t.shape().to_string() +
                                   "; this model's is " + w.shape().to_string() + " (other --units, --embedding or --text?)");
      }
      for (Var w : weights) w.assign(file.at(w.name()));
    }
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
    const auto planned_done = [&] { return cosine && cosine->planned() > 0 && adam.iterations() >= cosine->planned(); };
    for (std::int64_t epoch = 0; epoch < epochs; ++epoch) {
      tbptt.reset(model.initial_states(streams));
      // One TBPTT pass per chunk of windows, so the time budget is checked often.
      const std::int64_t chunk = 20 * bptt;
      double sum = 0;
      int chunks = 0;
      for (std::int64_t c = 0; c < window_cols && !planned_done(); c += chunk) {
        std::int64_t len = std::min(chunk, window_cols - c);
        if (cosine && cosine->planned() > 0) len = std::min(len, (cosine->planned() - adam.iterations()) * bptt);
        sum += tbptt.train(core::slice(streams_in, 1, c, len), core::slice(streams_out, 1, c, len));
        ++chunks;
        // Distributed, the ranks must agree to stop, or one would wait for the others' next window.
        double over = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > budget;
        if (strategy) strategy->all_reduce_sum(std::span<double>(&over, 1));
        if (over > 0) break;
      }
      if (chunks == 0) break;
      last_loss = sum / chunks;
      if (epoch == 0) first_loss = last_loss;
      const double bpc = bits_per_char(model, smoke ? valid.slice0(0, 2000) : valid, streams, bptt, strategy);
      double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (strategy) {  // rank 0's clock decides, for every rank alike
        std::vector<Tensor> clock{Tensor::full({1}, elapsed, DType::f64)};
        strategy->broadcast(clock);
        elapsed = clock[0].item();
      }
      if (cosine && epoch == 0 && !smoke) {
        // The plan: as many more epochs as the rest of the budget holds at this epoch's pace.
        const double more = std::max(0.0, (budget - elapsed) / elapsed);
        cosine->plan(adam.iterations() + static_cast<std::int64_t>(more * static_cast<double>(adam.iterations())));
        if (dist.chief())
          std::printf("planned %lld updates (%.1f epochs) for the cosine schedule\n", static_cast<long long>(cosine->planned()),
                      static_cast<double>(cosine->planned()) / static_cast<double>(steps_per_epoch));
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
      if (planned_done()) {
        if (dist.chief()) std::printf("the %lld planned updates are done\n", static_cast<long long>(cosine->planned()));
        break;
      }
      if (elapsed > budget) {
        if (dist.chief()) std::printf("time budget of %.0f minutes reached\n", budget / 60);
        break;
      }
    }
    if (!args.str("save").empty() && dist.chief()) {
      TensorFile file;
      for (const Var& w : model.weights()) file.tensors.emplace_back(w.name(), w.value());
      save_safetensors(args.str("save"), file);
    }
    const double test_bpc = bits_per_char(model, smoke ? test.slice0(0, 2000) : test, streams, bptt, strategy);
    // What general-purpose compressors reach on the same held-out text of the Bible, for scale.
    const char* compressors = !args.str("text").empty() || smoke ? ""
                              : contiguous ? " (xz -9e, having read all the text before it: 1.88; bzip2 -9 on the test text alone: 2.03)"
                                           : " (bzip2 -9 on the whole text: 1.68)";
    if (dist.chief()) std::printf("test: %.4f bits/char%s\n", test_bpc, compressors);
    if (const double rate = args.number("dynamic-rate"); rate > 0 && dist.chief()) {
      const std::int64_t dyn_streams = args.integer("dynamic-streams"), window = args.integer("dynamic-window");
      const Tensor v = smoke ? valid.slice0(0, 2000) : valid, t = smoke ? test.slice0(0, 2000) : test;
      const double dyn_valid = dynamic_bits_per_char(model, v, dyn_streams, window, rate);
      const double dyn_test = dynamic_bits_per_char(model, t, dyn_streams, window, rate);
      std::printf("dynamic evaluation (rate %g, %lld stream(s), windows of %lld): validation %.4f, test %.4f bits/char\n", rate,
                  static_cast<long long>(dyn_streams), static_cast<long long>(window), dyn_valid, dyn_test);
      if (smoke && !strategy) {
        if (bits_per_char(model, t, streams, bptt, nullptr) != test_bpc) {
          std::fprintf(stderr, "smoke check failed: dynamic evaluation did not restore the trained weights\n");
          return 1;
        }
        // At rate 0 nothing adapts, so the two evaluations (a taped TBPTT walk and a tape-free one)
        // must score the same characters against the same targets.
        const double frozen = dynamic_bits_per_char(model, t, streams, bptt, 0.0);
        if (std::abs(frozen - test_bpc) > 1e-6 * test_bpc) {
          std::fprintf(stderr, "smoke check failed: dynamic evaluation at rate 0 gives %.9f, the static one %.9f\n", frozen,
                       test_bpc);
          return 1;
        }
      }
    }
    if (dist.chief())
      std::printf("sample (temperature %.2f):\n%s\n", args.number("temperature"),
                sample(model, "And God said", smoke ? 60 : 400, args.number("temperature"), vocab, chars).c_str());
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
