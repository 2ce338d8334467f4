// SPDX-License-Identifier: Apache-2.0
// TensorBoard event files (against the committed decoding by Python's protobuf and an independent
// CRC-32C), records of a killed writer, the Keras TensorBoard callback's layout, and the SVG plot.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "loom/loom.hpp"
#include "support/reference.hpp"

using namespace loom;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("loom_tb_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path only_file(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  REQUIRE(files.size() == 1);
  CHECK(files[0].filename().string().rfind("events.out.tfevents.", 0) == 0);
  return files[0];
}

// The events of the fixture; tests/fixtures/gen_tensorboard_fixture.py decoded the same bytes.
void write_fixture_events(const fs::path& dir) {
  SummaryWriter w(dir.string(), 1700000000.0);
  w.add_scalar("loss", 0.5, 0, 1700000001.0);
  w.add_scalar("loss", 0.25, 1, 1700000002.5);
  w.add_scalar("epoch_accuracy", 0.875, 123456789012, 1700000003.25);
  w.add_histogram("dense/kernel_0", Tensor::of({-1.0, 0.0, 0.5, 2.0, 2.0, NAN}, {6}, DType::f64), 7, 4,
                  1700000004.0);
  w.add_histogram("constant", Tensor::full({3}, 1.5), 8, 30, 1700000005.0);
}

// A reader of the few protobuf fields the events use, for the callback tests (the fixture test
// relies on Python's protobuf instead).
struct Scalar {
  std::string tag;
  double value = 0;
  std::int64_t step = 0;
  bool histogram = false;
};

std::uint64_t varint(const std::string& s, std::size_t& at) {
  std::uint64_t v = 0;
  for (int shift = 0; at < s.size(); shift += 7) {
    const auto b = static_cast<unsigned char>(s[at++]);
    v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) break;
  }
  return v;
}

// Calls f(field, wire, payload) for each field of a message; payload is the raw bytes.
template <class F>
void fields(const std::string& msg, F f) {
  std::size_t at = 0;
  while (at < msg.size()) {
    const std::uint64_t key = varint(msg, at);
    const auto field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    std::string payload;
    if (wire == 0) {
      const std::size_t start = at;
      varint(msg, at);
      payload = msg.substr(start, at - start);
    } else if (wire == 1 || wire == 5) {
      const std::size_t n = wire == 1 ? 8 : 4;
      payload = msg.substr(at, n);
      at += n;
    } else {
      const auto n = static_cast<std::size_t>(varint(msg, at));
      payload = msg.substr(at, n);
      at += n;
    }
    f(field, wire, payload);
  }
}

std::vector<Scalar> summaries(const fs::path& file) {
  const tensorboard::RecordScan scan = tensorboard::read_records(file.string());
  CHECK(scan.complete);
  std::vector<Scalar> out;
  for (const std::string& record : scan.records) {
    std::int64_t step = 0;
    std::vector<Scalar> values;
    fields(record, [&](int field, int, const std::string& p) {
      if (field == 2) {
        std::size_t at = 0;
        step = static_cast<std::int64_t>(varint(p, at));
      }
      if (field != 5) return;
      fields(p, [&](int, int, const std::string& value) {  // Summary.value
        Scalar s;
        fields(value, [&](int f, int, const std::string& v) {
          if (f == 1) s.tag = v;
          if (f == 2) {
            float x;
            std::memcpy(&x, v.data(), 4);
            s.value = x;
          }
          if (f == 5) s.histogram = true;
        });
        values.push_back(s);
      });
    });
    for (Scalar& s : values) {
      s.step = step;
      out.push_back(s);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("SummaryWriter: the bytes Python's protobuf decoded (fixture), with valid CRCs", "[optim][tensorboard]") {
  const fs::path dir = fresh_dir("fixture");
  write_fixture_events(dir);
  const std::string bytes = read_file(only_file(dir));
  const fs::path fixture = fs::path(LOOM_FIXTURE_DIR) / "tensorboard";
  if (std::getenv("LOOM_WRITE_TENSORBOARD_FIXTURE")) {  // regenerate; then run gen_tensorboard_fixture.py
    std::ofstream(fixture / "events.fixture", std::ios::binary) << bytes;
    WARN("wrote " << (fixture / "events.fixture").string());
  }
  CHECK(bytes == read_file(fixture / "events.fixture"));

  // What the independent decoder read from those bytes.
  const nlohmann::json expected = nlohmann::json::parse(read_file(fixture / "expected.json"));
  REQUIRE(expected.at("records").size() == 6);
  CHECK(expected.at("all_crcs_valid") == true);
  const auto& r = expected.at("records");
  CHECK(r[0].at("file_version") == "brain.Event:2");
  CHECK(r[0].at("wall_time") == 1700000000.0);
  CHECK(r[1].at("step") == 0);
  CHECK(r[1].at("values")[0].at("tag") == "loss");
  CHECK(r[1].at("values")[0].at("simple_value") == 0.5);
  CHECK(r[2].at("wall_time") == 1700000002.5);
  CHECK(r[2].at("values")[0].at("simple_value") == 0.25);
  CHECK(r[3].at("step") == 123456789012);
  CHECK(r[3].at("values")[0].at("simple_value") == 0.875);
  const auto& h = r[4].at("values")[0].at("histo");  // -1, 0, 0.5, 2, 2 (NaN left out) in 4 buckets of 0.75
  CHECK(r[4].at("values")[0].at("tag") == "dense/kernel_0");
  CHECK(h.at("min") == -1.0);
  CHECK(h.at("max") == 2.0);
  CHECK(h.at("num") == 5.0);
  CHECK(h.at("sum") == 3.5);
  CHECK(h.at("sum_squares") == 9.25);
  CHECK(h.at("bucket_limit") == std::vector<double>{-0.25, 0.5, 1.25, 2.0});
  CHECK(h.at("bucket") == std::vector<double>{1, 1, 1, 2});
  const auto& c = r[5].at("values")[0].at("histo");
  CHECK(c.at("bucket_limit") == std::vector<double>{1.5});
  CHECK(c.at("bucket") == std::vector<double>{3});
  fs::remove_all(dir);
}

TEST_CASE("tensorboard: a cut file reads up to its last whole record", "[optim][tensorboard]") {
  const std::string bytes = read_file(fs::path(LOOM_FIXTURE_DIR) / "tensorboard" / "events.fixture");
  const fs::path dir = fresh_dir("cut");
  fs::create_directories(dir);
  // Record boundaries, from the framing: 8-byte length, 4-byte CRC, data, 4-byte CRC.
  std::vector<std::size_t> ends;
  for (std::size_t at = 0; at < bytes.size();) {
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data() + at, 8);
    at += 16 + n;
    ends.push_back(at);
  }
  REQUIRE(ends.back() == bytes.size());
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    std::ofstream(dir / "cut", std::ios::binary | std::ios::trunc) << bytes.substr(0, cut);
    const tensorboard::RecordScan scan = tensorboard::read_records((dir / "cut").string());
    const auto whole = static_cast<std::size_t>(std::count_if(ends.begin(), ends.end(), [&](std::size_t e) { return e <= cut; }));
    CAPTURE(cut);
    CHECK(scan.records.size() == whole);
    CHECK(scan.complete == (cut == 0 || std::find(ends.begin(), ends.end(), cut) != ends.end()));
  }
  std::string flipped = bytes;  // a corrupt byte ends the scan at its record
  flipped[ends[1] + 14] ^= 0x40;
  std::ofstream(dir / "cut", std::ios::binary | std::ios::trunc) << flipped;
  CHECK(tensorboard::read_records((dir / "cut").string()).records.size() == 2);
  fs::remove_all(dir);
}

TEST_CASE("SummaryWriter: a killed writer's file is readable up to its last record", "[optim][tensorboard]") {
  const fs::path dir = fresh_dir("killed");
  fs::create_directories(dir);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // write and flush until killed
    SummaryWriter w(dir.string());
    for (std::int64_t step = 0;; ++step) {
      w.add_scalar("loss", 1.0 / static_cast<double>(step + 1), step);
      w.add_histogram("w", Tensor::uniform({256}), step);
      if (step % 3 == 0) w.flush();
    }
  }
  fs::path file;
  for (int wait = 0; wait < 2000; ++wait) {  // until a few hundred records are on disk
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (const auto& e : fs::directory_iterator(dir)) file = e.path();
    if (!file.empty() && fs::file_size(file) > 200000) break;
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFSIGNALED(status));
  const tensorboard::RecordScan scan = tensorboard::read_records(file.string());
  CHECK(scan.records.size() > 100);
  // Every record read is a whole event (the file may end in a partial one: the scan stops there).
  for (std::size_t i = 1; i < scan.records.size(); ++i) {
    bool tagged = false;
    fields(scan.records[i], [&](int field, int, const std::string&) { tagged = tagged || field == 5; });
    CHECK(tagged);
  }
  fs::remove_all(dir);
}

TEST_CASE("TensorBoard: fit writes Keras's train/ and validation/ layout", "[optim][tensorboard]") {
  manual_seed(3);
  const fs::path dir = fresh_dir("fit");
  Model model(std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<Dense>(4, DenseOptions{.activation = Activation::tanh, .name = "hidden"}),
      std::make_shared<Dense>(1, DenseOptions{.name = "out"})}));
  model.compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.05}), losses::mse(), {"mae"});
  const Tensor x = Tensor::uniform({40, 3}), y = Tensor::uniform({40, 1});
  auto tb = std::make_shared<TensorBoard>(TensorBoardOptions{.log_dir = dir.string(), .histogram_freq = 2, .update_freq = 3});
  const History h = model.fit(x, y, {.epochs = 3, .batch_size = 8, .validation_split = 0.2, .callbacks = {tb}, .verbose = 0});

  const std::vector<Scalar> train = summaries(only_file(dir / "train")), val = summaries(only_file(dir / "validation"));
  std::map<std::string, std::vector<std::pair<std::int64_t, double>>> t, v;
  int histograms = 0;
  for (const Scalar& s : train) {
    if (s.histogram) {
      ++histograms;
      continue;
    }
    t[s.tag].emplace_back(s.step, s.value);
  }
  for (const Scalar& s : val) v[s.tag].emplace_back(s.step, s.value);
  // 32 training samples in batches of 8: 4 batches per epoch, 12 in all; every third is logged.
  REQUIRE(t["batch_loss"].size() == 4);
  CHECK(t["batch_loss"][0].first == 3);
  CHECK(t["batch_loss"][3].first == 12);
  for (const char* tag : {"epoch_loss", "epoch_mae", "epoch_learning_rate"}) {
    CAPTURE(tag);
    REQUIRE(t[tag].size() == 3);
    for (int e = 0; e < 3; ++e) CHECK(t[tag][static_cast<std::size_t>(e)].first == e);
  }
  for (int e = 0; e < 3; ++e) {
    CHECK(t["epoch_loss"][static_cast<std::size_t>(e)].second == Approx(h.history.at("loss")[static_cast<std::size_t>(e)]));
    CHECK(v["epoch_loss"][static_cast<std::size_t>(e)].second ==
          Approx(h.history.at("val_loss")[static_cast<std::size_t>(e)]));
    CHECK(t["epoch_learning_rate"][static_cast<std::size_t>(e)].second == Approx(0.05));
  }
  CHECK(v.size() == 2);  // epoch_loss and epoch_mae; no "val_" prefixes, no learning rate
  CHECK(v.count("epoch_mae") == 1);
  CHECK(histograms == 2 * 4);  // epochs 0 and 2, four weights
  fs::remove_all(dir);
}

TEST_CASE("TensorBoard and SummaryWriter: bad options and arguments are refused", "[optim][tensorboard]") {
  CHECK_THROWS_AS(TensorBoard(TensorBoardOptions{.update_freq = "sometimes"}), ValueError);
  CHECK_THROWS_WITH(TensorBoard(TensorBoardOptions{.update_freq = 0}), Catch::Matchers::Contains("update_freq"));
  CHECK_THROWS_AS(TensorBoard(TensorBoardOptions{.histogram_freq = -1}), ValueError);
  const fs::path dir = fresh_dir("bad");
  fs::create_directories(dir);
  std::ofstream(dir / "a_file") << "x";
  CHECK_THROWS_AS(SummaryWriter((dir / "a_file").string()), IOError);
  CHECK_THROWS_AS(SummaryWriter((dir / "w").string(), -1.0), ValueError);
  CHECK_FALSE(fs::exists(dir / "w"));  // refused before anything was made
  SummaryWriter w((dir / "ok").string());
  CHECK_THROWS_AS(w.add_histogram("h", Tensor::zeros({0}), 0), ValueError);
  CHECK_THROWS_AS(w.add_histogram("h", Tensor::zeros({3}), 0, 0), ValueError);
  CHECK_THROWS_AS(w.add_histogram("h", Tensor::zeros({3}, DType::i64), 0), TypeError);
  fs::remove_all(dir);
}

namespace {

// Checks that `xml` is well formed as far as plot_history uses XML (declaration, elements with
// quoted attributes, text, self-closing tags): every element closes in order.
bool well_formed(const std::string& xml) {
  std::vector<std::string> open;
  std::size_t at = 0;
  if (xml.rfind("<?xml", 0) == 0) at = xml.find("?>") + 2;
  while ((at = xml.find('<', at)) != std::string::npos) {
    const std::size_t end = xml.find('>', at);
    if (end == std::string::npos) return false;
    std::string tag = xml.substr(at + 1, end - at - 1);
    at = end + 1;
    if (std::count(tag.begin(), tag.end(), '"') % 2 != 0) return false;
    if (tag[0] == '/') {
      if (open.empty() || open.back() != tag.substr(1)) return false;
      open.pop_back();
    } else if (tag.back() != '/') {
      open.push_back(tag.substr(0, tag.find(' ')));
    }
  }
  return open.empty();
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("plot_history: one panel per metric, train and validation curves, gaps at NaN", "[optim][plot]") {
  History h;
  h.epoch = {0, 1, 2, 3, 4};
  h.history["loss"] = {1.0, 0.6, 0.4, 0.35, 0.3};
  h.history["val_loss"] = {1.1, 0.7, NAN, 0.5, 0.45};
  h.history["accuracy"] = {0.5, 0.7, 0.8, 0.85, 0.9};
  h.history["val_accuracy"] = {0.45, 0.65, 0.75, 0.8, 0.82};
  h.history["lr"] = {1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4};
  const std::string svg = history_svg(h, {.title = "run <1> & co"});
  CHECK(well_formed(svg));
  CHECK(count(svg, "<g class=\"panel\"") == 3);
  CHECK(svg.find("data-metric=\"loss\"") < svg.find("data-metric=\"accuracy\""));  // loss first
  CHECK(count(svg, "data-series=\"train\"") == 3);
  CHECK(count(svg, "data-series=\"validation\"") == 3);  // loss's is cut in two by the NaN, lr has none
  CHECK(svg.find("run &lt;1&gt; &amp; co") != std::string::npos);
  // The training loss: five points, at x = epochs 1…5.
  const std::size_t start = svg.find("points=\"", svg.find("data-series=\"train\"")) + 8;
  const std::string points = svg.substr(start, svg.find('"', start) - start);
  CHECK(count(points, ",") == 5);

  const fs::path dir = fresh_dir("plot");
  fs::create_directories(dir);
  plot_history(h, (dir / "curves.svg").string());
  CHECK(read_file(dir / "curves.svg") == history_svg(h));
  CHECK_THROWS_AS(plot_history(h, (dir / "missing" / "x.svg").string()), IOError);
  CHECK_THROWS_AS(history_svg(History{}), ValueError);
  fs::remove_all(dir);
}
