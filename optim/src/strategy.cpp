// SPDX-License-Identifier: Apache-2.0
// Per-rank random streams for data-parallel steps.
#include "loom/optim/strategy.hpp"

#include <algorithm>
#include <charconv>

#include "loom/core/check.hpp"

namespace loom {
namespace {

// Rank r's stream is the default stream plus this base plus r: far from the small stream numbers
// users pick for their own generators.
constexpr std::uint64_t kRankStreamBase = 0x6c6f6f6d00000000ull;  // "loom"

// Restores the default generator when the step leaves, by return or by throw.
class DefaultSwap {
 public:
  explicit DefaultSwap(Generator& replacement) : replacement_(replacement), saved_(default_generator()) {
    default_generator() = replacement_;
  }
  ~DefaultSwap() {
    replacement_ = default_generator();
    default_generator() = saved_;
  }
  DefaultSwap(const DefaultSwap&) = delete;
  DefaultSwap& operator=(const DefaultSwap&) = delete;

 private:
  Generator& replacement_;
  Generator saved_;
};

}  // namespace

void ReplicaRandom::key(const Strategy& strategy) {
  const Generator& d = default_generator();
  if (keyed_ && seed_ == d.seed() && stream_ == d.stream()) return;
  // A re-seeded default generator (manual_seed between runs) starts the rank streams afresh.
  seed_ = d.seed();
  stream_ = d.stream();
  gen_ = Generator(seed_, stream_ + kRankStreamBase + static_cast<std::uint64_t>(strategy.rank()));
  keyed_ = true;
}

Generator& ReplicaRandom::generator(const Strategy& strategy) {
  key(strategy);
  return gen_;
}

void ReplicaRandom::run(Strategy* strategy, const std::function<void()>& step) {
  if (strategy == nullptr) {
    step();
    return;
  }
  key(*strategy);
  if (strategy->rank() == 0) {
    step();
  } else {
    DefaultSwap swap(gen_);
    step();
  }
  // Rank 0's default generator moved by its own draws; the others' did not move at all. The offset
  // only grows, so the maximum is rank 0's.
  default_generator().set_offset(strategy->all_reduce_max(default_generator().offset()));
}

std::string ReplicaRandom::save(Strategy& strategy) {
  key(strategy);
  std::string joined;
  for (const std::string& part : strategy.all_gather(std::to_string(gen_.offset()))) {
    if (!joined.empty()) joined += ',';
    joined += part;
  }
  return joined;
}

std::vector<std::uint64_t> ReplicaRandom::parse(const std::string& saved) {
  // One whole number per rank, separated by single commas: "12,0,7".
  std::vector<std::uint64_t> offsets;
  std::size_t at = 0;
  bool ok = !saved.empty();
  while (ok) {
    const std::size_t comma = std::min(saved.find(',', at), saved.size());
    std::uint64_t v = 0;
    const auto [next, ec] = std::from_chars(saved.data() + at, saved.data() + comma, v);
    ok = comma > at && ec == std::errc() && next == saved.data() + comma;
    if (!ok) break;
    offsets.push_back(v);
    if (comma == saved.size()) break;
    at = comma + 1;
  }
  LOOM_CHECK(ok, FormatError, "checkpoint: the ranks' generator positions must be comma-separated whole numbers; got '",
             saved.substr(0, 60), "'.");
  return offsets;
}

void ReplicaRandom::restore(const Strategy& strategy, const std::vector<std::uint64_t>& offsets) {
  key(strategy);
  if (offsets.size() == static_cast<std::size_t>(strategy.world_size()))
    gen_.set_offset(offsets[static_cast<std::size_t>(strategy.rank())]);
  else
    gen_.set_offset(0);
}

}  // namespace loom
