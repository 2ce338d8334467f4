// SPDX-License-Identifier: Apache-2.0
// MultiWorkerStrategy: loom's Strategy over MPI's non-blocking collectives.
#include "loom/distributed/multi_worker.hpp"

#include <mpi.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <sstream>
#include <thread>

#include "loom/core/check.hpp"

namespace loom::distributed {
namespace {

using Clock = std::chrono::steady_clock;

int world_rank() noexcept {
  int initialized = 0, rank = -1;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

[[noreturn]] void abort_job(const std::string& message, int code) noexcept {
  std::fprintf(stderr, "loom::distributed: rank %d: %s\n", world_rank(), message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::abort();  // MPI_Abort does not return; this keeps the compiler and a broken MPI honest
}

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i64: break;
  }
  return MPI_INT64_T;
}

int checked_count(std::int64_t n, const char* what) {
  LOOM_CHECK(n >= 0 && n <= INT_MAX, ResourceError, "MultiWorkerStrategy: ", what, " of ", n,
             " elements is more than one MPI message can carry (", INT_MAX, ").");
  return static_cast<int>(n);
}

double timeout_from(const MultiWorkerOptions& o) {
  if (o.timeout_seconds > 0) return o.timeout_seconds;
  if (const char* env = std::getenv("LOOM_DISTRIBUTED_TIMEOUT")) {
    char* end = nullptr;
    const double v = std::strtod(env, &end);
    LOOM_CHECK(end != env && *end == '\0' && v > 0, ValueError,
               "MultiWorkerStrategy: LOOM_DISTRIBUTED_TIMEOUT must be a positive number of seconds; got '", env, "'.");
    return v;
  }
  return 600;
}

std::uint64_t fnv1a(const void* data, std::size_t bytes) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t h = 1469598103934665603ull;
  for (std::size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace

// ---- Environment ------------------------------------------------------------------------------

Environment::Environment(int& argc, char**& argv) { init(&argc, &argv); }
Environment::Environment() { init(nullptr, nullptr); }

void Environment::init(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    owner_ = true;
    if (provided < MPI_THREAD_FUNNELED) abort_job("MPI does not support MPI_THREAD_FUNNELED, which loom needs", 3);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

Environment::~Environment() {
  if (std::uncaught_exceptions() > 0)
    abort_job("the program is ending with an exception; ending every rank of the job", 1);
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owner_ && !finalized) MPI_Finalize();
}

// ---- the strategy -------------------------------------------------------------------------------

struct MultiWorkerStrategy::Impl {
  MultiWorkerOptions options;
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0, size = 1;
  double timeout = 600;
  CommunicationStats stats;

  // Waits for `requests` (completed in any order), polling so that a stalled peer is noticed.
  void wait(MPI_Request* requests, int count, const char* what, double* also = nullptr) {
    const auto start = Clock::now();
    int done = 0;
    for (;;) {
      MPI_Testall(count, requests, &done, MPI_STATUSES_IGNORE);
      if (done) break;
      const double waited = std::chrono::duration<double>(Clock::now() - start).count();
      if (waited > timeout) {
        std::ostringstream m;
        m << what << " has waited " << waited << " s for the other ranks (timeout " << timeout
          << " s): a rank has died, stalled, or is running different code. Ending the job.";
        abort_job(m.str(), 2);
      }
      // Poll without pause for the first 2 ms (a collective between processes of one machine takes
      // microseconds, and each MPI_Testall moves it along), then give the core away between polls.
      if (waited > 2e-3) std::this_thread::sleep_for(std::chrono::microseconds(waited > 0.1 ? 200 : 20));
    }
    const double waited = std::chrono::duration<double>(Clock::now() - start).count();
    stats.wait_seconds += waited;
    if (also) *also += waited;
  }
  void wait1(MPI_Request& r, const char* what) { wait(&r, 1, what); }
};

MultiWorkerStrategy::MultiWorkerStrategy(MultiWorkerOptions options) : impl_(std::make_unique<Impl>()) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  LOOM_CHECK(initialized, StateError,
             "MultiWorkerStrategy: MPI is not initialised. Hint: create a loom::distributed::Environment at the top "
             "of main, and start the program with mpirun.");
  LOOM_CHECK(options.bucket_bytes > 0, ValueError, "MultiWorkerStrategy: bucket_bytes must be positive; got 0.");
  LOOM_CHECK(options.timeout_seconds >= 0, ValueError, "MultiWorkerStrategy: timeout_seconds must be >= 0; got ",
             options.timeout_seconds, ".");
  impl_->timeout = timeout_from(options);
  impl_->options = options;
  MPI_Comm_dup(MPI_COMM_WORLD, &impl_->comm);
  MPI_Comm_rank(impl_->comm, &impl_->rank);
  MPI_Comm_size(impl_->comm, &impl_->size);
}

MultiWorkerStrategy::~MultiWorkerStrategy() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && impl_->comm != MPI_COMM_NULL) MPI_Comm_free(&impl_->comm);
}

int MultiWorkerStrategy::rank() const noexcept { return impl_->rank; }
int MultiWorkerStrategy::world_size() const noexcept { return impl_->size; }
const MultiWorkerOptions& MultiWorkerStrategy::options() const noexcept { return impl_->options; }
const CommunicationStats& MultiWorkerStrategy::stats() const noexcept { return impl_->stats; }
void MultiWorkerStrategy::reset_stats() noexcept { impl_->stats = {}; }

void MultiWorkerStrategy::fail(const std::string& what) noexcept {
  abort_job("failed: " + what + (what.empty() || what.back() != '.' ? "." : "") + " Ending every rank of the job.", 1);
}

void MultiWorkerStrategy::broadcast(std::span<Tensor> tensors) {
  std::vector<MPI_Request> requests;
  requests.reserve(tensors.size());
  for (Tensor& t : tensors) {
    LOOM_CHECK(t.defined(), ValueError, "MultiWorkerStrategy.broadcast: a tensor is undefined.");
    // Receive into fresh storage: the tensor passed in may share its storage with others.
    if (impl_->rank != 0) t = t.clone();
    MPI_Request r;
    MPI_Ibcast(t.raw_data(), checked_count(t.numel(), "a broadcast"), mpi_type(t.dtype()), 0, impl_->comm, &r);
    requests.push_back(r);
    ++impl_->stats.collectives;
  }
  impl_->wait(requests.data(), static_cast<int>(requests.size()), "broadcast");
}

void MultiWorkerStrategy::all_reduce_sum(std::span<double> values) {
  MPI_Request r;
  MPI_Iallreduce(MPI_IN_PLACE, values.data(), checked_count(static_cast<std::int64_t>(values.size()), "an all-reduce"),
                 MPI_DOUBLE, MPI_SUM, impl_->comm, &r);
  ++impl_->stats.collectives;
  impl_->wait1(r, "an all-reduce of logs");
}

std::uint64_t MultiWorkerStrategy::all_reduce_max(std::uint64_t value) {
  MPI_Request r;
  MPI_Iallreduce(MPI_IN_PLACE, &value, 1, MPI_UINT64_T, MPI_MAX, impl_->comm, &r);
  ++impl_->stats.collectives;
  impl_->wait1(r, "an all-reduce (max)");
  return value;
}

void MultiWorkerStrategy::barrier() {
  MPI_Request r;
  MPI_Ibarrier(impl_->comm, &r);
  ++impl_->stats.collectives;
  impl_->wait1(r, "a barrier");
}

std::vector<std::string> MultiWorkerStrategy::all_gather(const std::string& local) {
  const int n = checked_count(static_cast<std::int64_t>(local.size()), "a gathered string");
  std::vector<int> sizes(static_cast<std::size_t>(impl_->size)), offsets(sizes.size());
  MPI_Request r;
  MPI_Iallgather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, impl_->comm, &r);
  impl_->wait1(r, "an all-gather of sizes");
  std::int64_t total = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    offsets[i] = static_cast<int>(total);
    total += sizes[i];
    checked_count(total, "an all-gather");
  }
  std::string all(static_cast<std::size_t>(total), '\0');
  MPI_Iallgatherv(local.data(), n, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR, impl_->comm, &r);
  impl_->stats.collectives += 2;
  impl_->wait1(r, "an all-gather");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < sizes.size(); ++i)
    out.push_back(all.substr(static_cast<std::size_t>(offsets[i]), static_cast<std::size_t>(sizes[i])));
  return out;
}

Tensor MultiWorkerStrategy::all_gather_rows(const Tensor& local) {
  // First every rank's shape and dtype, so that a mismatch is an error on every rank, not a hang.
  std::ostringstream meta;
  if (local.defined()) {
    LOOM_CHECK(local.dimension() >= 1, ValueError, "MultiWorkerStrategy.all_gather_rows: the tensor needs a row axis; got shape ",
               local.shape(), ".");
    meta << static_cast<int>(local.dtype());
    for (std::int64_t d : local.shape()) meta << ' ' << d;
  }
  const std::vector<std::string> metas = all_gather(meta.str());
  std::string ref;  // dtype and trailing shape, from the first rank that has rows
  std::vector<std::int64_t> rows(metas.size(), 0);
  Shape trailing;
  int dtype_code = -1;
  for (std::size_t r = 0; r < metas.size(); ++r) {
    if (metas[r].empty()) continue;
    std::istringstream in(metas[r]);
    int code = 0;
    in >> code;
    Shape shape;
    for (std::int64_t d; in >> d;) shape.push_back(d);
    rows[r] = shape.empty() ? 0 : shape[0];
    Shape tail;
    for (int d = 1; d < shape.rank(); ++d) tail.push_back(shape[d]);
    if (dtype_code < 0) {
      dtype_code = code;
      trailing = tail;
    }
    LOOM_CHECK(code == dtype_code && tail == trailing, DistributedError,
               "MultiWorkerStrategy.all_gather_rows: rank ", r, " has rows of shape ", tail, " and dtype code ", code,
               " where rank 0's first are ", trailing, " and ", dtype_code, ".");
  }
  if (dtype_code < 0) return Tensor();  // no rank has any rows
  const auto dtype = static_cast<DType>(dtype_code);
  std::int64_t row_elems = 1;
  for (std::int64_t d : trailing) row_elems *= d;
  std::vector<int> counts(metas.size()), offsets(metas.size());
  std::int64_t total = 0;
  for (std::size_t r = 0; r < metas.size(); ++r) {
    counts[r] = checked_count(rows[r] * row_elems, "an all-gather");
    offsets[r] = checked_count(total * row_elems, "an all-gather");
    total += rows[r];
  }
  Shape shape{total};
  for (std::int64_t d : trailing) shape.push_back(d);
  Tensor out = Tensor::empty(shape, dtype);
  const Tensor send = local.defined() ? local : Tensor();
  MPI_Request r;
  MPI_Iallgatherv(send.defined() ? send.raw_data() : nullptr, counts[static_cast<std::size_t>(impl_->rank)],
                  mpi_type(dtype), out.raw_data(), counts.data(), offsets.data(), mpi_type(dtype), impl_->comm, &r);
  ++impl_->stats.collectives;
  impl_->wait1(r, "an all-gather of rows");
  return out;
}

// ---- gradients in buckets -----------------------------------------------------------------------

namespace {

struct Bucket {
  DType dtype = DType::f32;
  std::vector<std::size_t> members;     // weight indices
  std::vector<std::int64_t> offsets;    // element offset of each member in `buffer`
  std::int64_t elements = 0;
  Tensor buffer;
  int pending = 0;
  MPI_Request request = MPI_REQUEST_NULL;
};

class BucketExchange final : public Strategy::GradientExchange {
 public:
  BucketExchange(MultiWorkerStrategy::Impl& s, const std::vector<Var>& weights, double scale)
      : s_(s), weights_(weights), scale_(scale), where_(weights.size()), seen_(weights.size(), 0) {
    // Reverse weight order: the backward pass tends to finish the last layers first. A bucket holds
    // one dtype and closes at bucket_bytes; every rank cuts the same buckets, so they line up.
    for (std::size_t k = weights.size(); k-- > 0;) {
      const Var& w = weights[k];
      const auto bytes = static_cast<std::size_t>(w.numel()) * itemsize(w.dtype());
      if (buckets_.empty() || buckets_.back().dtype != w.dtype() ||
          (buckets_.back().elements > 0 &&
           static_cast<std::size_t>(buckets_.back().elements) * itemsize(w.dtype()) + bytes > s_.options.bucket_bytes)) {
        buckets_.emplace_back();
        buckets_.back().dtype = w.dtype();
      }
      Bucket& b = buckets_.back();
      where_[k] = {buckets_.size() - 1, b.members.size()};
      b.members.push_back(k);
      b.offsets.push_back(b.elements);
      b.elements += w.numel();
      ++b.pending;
    }
    for (Bucket& b : buckets_) b.buffer = Tensor::empty({b.elements}, b.dtype);
  }

  ~BucketExchange() override {
    // Abandoned with buckets in flight (an exception in the backward pass): MPI would go on writing
    // into freed buffers, and the other ranks wait for buckets this one will not send. End the job.
    for (const Bucket& b : buckets_)
      if (b.request != MPI_REQUEST_NULL)
        abort_job("a training step was abandoned with gradient all-reduces in flight. Ending every rank of the job.", 1);
  }

  void ready(std::size_t index, const Tensor& g) override {
    LOOM_CHECK(index < weights_.size() && !seen_[index], StateError,
               "MultiWorkerStrategy: gradient ", index, " was announced twice or does not exist.");
    LOOM_CHECK(g.shape() == weights_[index].shape() && g.dtype() == weights_[index].dtype(), ValueError,
               "MultiWorkerStrategy: the gradient of '", weights_[index].name(), "' is ", g.shape(), " ", g.dtype(),
               "; the weight is ", weights_[index].shape(), " ", weights_[index].dtype(), ".");
    seen_[index] = 1;
    const auto [bi, mi] = where_[index];
    Bucket& b = buckets_[bi];
    const Tensor src = g;
    const std::int64_t n = src.numel(), at = b.offsets[mi];
    if (b.dtype == DType::f32) {
      const float* in = src.data<float>();
      float* out = b.buffer.data<float>() + at;
      const auto k = static_cast<float>(scale_);
      for (std::int64_t i = 0; i < n; ++i) out[i] = in[i] * k;
    } else {
      const double* in = src.data<double>();
      double* out = b.buffer.data<double>() + at;
      for (std::int64_t i = 0; i < n; ++i) out[i] = in[i] * scale_;
    }
    --b.pending;
    // Buckets start in the same order on every rank (MPI requires it of collectives on one
    // communicator): the next one, then any that were waiting behind it.
    while (next_ < buckets_.size() && buckets_[next_].pending == 0) {
      Bucket& ready_bucket = buckets_[next_++];
      MPI_Iallreduce(MPI_IN_PLACE, ready_bucket.buffer.raw_data(), checked_count(ready_bucket.elements, "a gradient bucket"),
                     mpi_type(ready_bucket.dtype), MPI_SUM, s_.comm, &ready_bucket.request);
      ++s_.stats.gradient_buckets;
      ++s_.stats.collectives;
      s_.stats.gradient_bytes += static_cast<std::uint64_t>(ready_bucket.elements) * itemsize(ready_bucket.dtype);
    }
    // Let MPI move the started ones along (Open MPI progresses non-blocking collectives inside calls).
    for (std::size_t i = 0; i < next_; ++i)
      if (buckets_[i].request != MPI_REQUEST_NULL) {
        int done = 0;
        MPI_Test(&buckets_[i].request, &done, MPI_STATUS_IGNORE);
      }
  }

  std::vector<Tensor> finish() override {
    for (std::size_t i = 0; i < weights_.size(); ++i)
      LOOM_CHECK(seen_[i], StateError, "MultiWorkerStrategy: the gradient of '", weights_[i].name(),
                 "' was never announced before finish().");
    std::vector<MPI_Request> requests;
    for (Bucket& b : buckets_) requests.push_back(b.request);
    s_.wait(requests.data(), static_cast<int>(requests.size()), "the gradient all-reduce", &s_.stats.gradient_wait_seconds);
    for (Bucket& b : buckets_) b.request = MPI_REQUEST_NULL;
    std::vector<Tensor> out(weights_.size());
    for (const Bucket& b : buckets_)
      for (std::size_t m = 0; m < b.members.size(); ++m) {
        const Var& w = weights_[b.members[m]];
        out[b.members[m]] = b.buffer.slice0(b.offsets[m], w.numel()).reshape(w.shape());
      }
    return out;
  }

 private:
  MultiWorkerStrategy::Impl& s_;
  std::vector<Var> weights_;
  double scale_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<std::size_t, std::size_t>> where_;  // weight → (bucket, member)
  std::vector<std::uint8_t> seen_;
  std::size_t next_ = 0;
};

}  // namespace

std::unique_ptr<Strategy::GradientExchange> MultiWorkerStrategy::reduce_gradients(const std::vector<Var>& weights,
                                                                                  double scale) {
  return std::make_unique<BucketExchange>(*impl_, weights, scale);
}

void MultiWorkerStrategy::check_replicas(const std::vector<Var>& weights) {
  std::vector<std::uint64_t> low(weights.size()), high(weights.size());
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const Tensor v = weights[i].value();
    low[i] = high[i] = fnv1a(v.raw_data(), static_cast<std::size_t>(v.numel()) * itemsize(v.dtype()));
  }
  MPI_Request r[2];
  const int n = checked_count(static_cast<std::int64_t>(weights.size()), "a replica check");
  MPI_Iallreduce(MPI_IN_PLACE, low.data(), n, MPI_UINT64_T, MPI_MIN, impl_->comm, &r[0]);
  MPI_Iallreduce(MPI_IN_PLACE, high.data(), n, MPI_UINT64_T, MPI_MAX, impl_->comm, &r[1]);
  impl_->stats.collectives += 2;
  impl_->wait(r, 2, "the replica check");
  for (std::size_t i = 0; i < weights.size(); ++i)
    LOOM_CHECK(low[i] == high[i], DistributedError, "MultiWorkerStrategy: the replicas have diverged: weight '",
               weights[i].name(), "' differs between ranks (hashes ", low[i], " and ", high[i], ").");
}

void MultiWorkerStrategy::end_epoch(const std::vector<Var>& weights) {
  if (impl_->options.check_replicas) check_replicas(weights);
}

}  // namespace loom::distributed
