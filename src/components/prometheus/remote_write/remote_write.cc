// prometheus.remote_write: sends samples with the Prometheus remote-write protocol (see
// remote_write.h for the contract).
#include "src/components/prometheus/remote_write/remote_write.h"

#include <snappy.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "src/common/backoff.h"
#include "src/common/memory_budget.h"
#include "src/components/all.h"
#include "src/components/common/drain.h"
#include "src/net/http_client.h"
#include "src/pdata/wire.h"
#include "src/queue/disk_queue.h"
#include "src/runtime/registry.h"

namespace telegate::prometheus::remote_write {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kUpdateFlush = std::chrono::seconds(5);
constexpr std::chrono::milliseconds kPollWait{100};

std::string_view firstLine(std::string_view body) {
  body = body.substr(0, 512);
  size_t nl = body.find('\n');
  return nl == std::string_view::npos ? body : body.substr(0, nl);
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- protobuf wire encoding of prometheus.WriteRequest ----------------------------------------
//   WriteRequest { repeated TimeSeries timeseries = 1; }
//   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//   Label        { string name = 1; string value = 2; }
//   Sample       { double value = 1; int64 timestamp = 2; }

using pdata::wire::putVarint;
using pdata::wire::varintSize;

// Copies n bytes; label names and values are mostly short, and a memcpy call per string cost
// more than the copy: up to 32 bytes are moved with two overlapping fixed-size copies (which
// compile to plain loads and stores and never read outside [src, src + n)).
inline char* copyBytes(char* dst, const char* src, size_t n) {
  if (n >= 16 && n <= 32) {
    std::memcpy(dst, src, 16);
    std::memcpy(dst + n - 16, src + n - 16, 16);
  } else if (n >= 8 && n < 16) {
    std::memcpy(dst, src, 8);
    std::memcpy(dst + n - 8, src + n - 8, 8);
  } else if (n >= 4 && n < 8) {
    std::memcpy(dst, src, 4);
    std::memcpy(dst + n - 4, src + n - 4, 4);
  } else if (n < 4) {
    for (size_t i = 0; i < n; ++i) dst[i] = src[i];
  } else {
    std::memcpy(dst, src, n);
  }
  return dst + n;
}

size_t labelSize(std::string_view n, std::string_view v) {
  return 1 + varintSize(n.size()) + n.size() + 1 + varintSize(v.size()) + v.size();
}

size_t sampleSize(int64_t ts) {
  return 9 + 1 + varintSize(static_cast<uint64_t>(ts));
}

// ---- write-ahead record of a SeriesBatch ------------------------------------------------------
//   [magic u32 "TGRW"][series u32][labels u32][points u32][bytes u32]
//   [SeriesRef x series][LabelRef x labels][Point x points][label bytes]
// in the host's byte order (the queue is local to the machine).

constexpr uint32_t kRecordMagic = 0x57524754;  // "TGRW"
constexpr size_t kRecordHeader = 20;

std::string encodeRecord(const SeriesBatch& b) {
  const auto& series = b.seriesRefs();
  const auto& labels = b.labelRefs();
  const auto& points = b.pointList();
  const std::string& bytes = b.bytes();
  const uint32_t head[5] = {
      kRecordMagic, static_cast<uint32_t>(series.size()), static_cast<uint32_t>(labels.size()),
      static_cast<uint32_t>(points.size()), static_cast<uint32_t>(bytes.size())};
  std::string out;  // reserve + append: no zero-filling of a buffer about to be overwritten
  out.reserve(kRecordHeader + series.size() * sizeof(SeriesBatch::SeriesRef) +
              labels.size() * sizeof(SeriesBatch::LabelRef) +
              points.size() * sizeof(SeriesBatch::Point) + bytes.size());
  auto put = [&out](const void* src, size_t n) { out.append(static_cast<const char*>(src), n); };
  put(head, sizeof(head));
  put(series.data(), series.size() * sizeof(SeriesBatch::SeriesRef));
  put(labels.data(), labels.size() * sizeof(SeriesBatch::LabelRef));
  put(points.data(), points.size() * sizeof(SeriesBatch::Point));
  put(bytes.data(), bytes.size());
  return out;
}

absl::StatusOr<SeriesBatch> decodeRecord(std::string_view rec) {
  if (rec.size() < kRecordHeader) return absl::DataLossError("record too short");
  uint32_t head[5];
  std::memcpy(head, rec.data(), sizeof(head));
  if (head[0] != kRecordMagic) return absl::DataLossError("bad record magic");
  const uint64_t ns = head[1], nl = head[2], np = head[3], nb = head[4];
  const uint64_t want = kRecordHeader + ns * sizeof(SeriesBatch::SeriesRef) +
                        nl * sizeof(SeriesBatch::LabelRef) + np * sizeof(SeriesBatch::Point) + nb;
  if (want != rec.size()) return absl::DataLossError("record size mismatch");
  SeriesBatch b;
  const char* p = rec.data() + kRecordHeader;
  auto& series = b.mutableSeriesRefs();
  auto& labels = b.mutableLabelRefs();
  auto& points = b.mutablePointList();
  series.resize(ns);
  labels.resize(nl);
  points.resize(np);
  auto get = [&p](void* dst, size_t n) {
    if (n > 0) std::memcpy(dst, p, n);
    p += n;
  };
  get(series.data(), ns * sizeof(SeriesBatch::SeriesRef));
  get(labels.data(), nl * sizeof(SeriesBatch::LabelRef));
  get(points.data(), np * sizeof(SeriesBatch::Point));
  b.mutableBytes().assign(p, nb);
  for (const auto& s : series) {
    if (uint64_t{s.first_label} + s.label_count > nl ||
        uint64_t{s.first_sample} + s.sample_count > np) {
      return absl::DataLossError("series out of bounds");
    }
  }
  for (const auto& l : labels) {
    if (uint64_t{l.name_off} + l.name_len > nb || uint64_t{l.value_off} + l.value_len > nb) {
      return absl::DataLossError("label out of bounds");
    }
  }
  for (const auto& s : series) {  // SeriesBatch::hash() reads a series' label bytes as one range
    if (s.label_count == 0) continue;
    const auto& first = labels[s.first_label];
    const auto& last = labels[s.first_label + s.label_count - 1];
    if (uint64_t{last.value_off} + last.value_len < first.name_off) {
      return absl::DataLossError("label bytes out of order");
    }
  }
  return b;
}

// A batch accepted by append(); immutable, shared by the endpoints that queue it.
struct Chunk {
  explicit Chunk(SeriesBatch&& b) : data(std::move(b)) {}
  ~Chunk() {
    if (charged > 0) globalMemoryBudget().release(charged);
    SeriesBatch::recycle(std::move(data));  // its buffers serve the next conversion
  }
  SeriesBatch data;
  size_t charged = 0;  // bytes reserved in globalMemoryBudget()
};

// One endpoint's hold on a chunk. When the last reference goes, the write-ahead record (if any)
// is acknowledged, or made available again when some samples were neither delivered nor
// permanently dropped (shutdown).
struct Hold {
  Hold(std::shared_ptr<const Chunk> c, queue::DiskQueue* q, uint64_t i)
      : chunk(std::move(c)), wal(q), id(i) {}
  ~Hold() {
    if (wal == nullptr) return;
    if (undelivered.load(std::memory_order_relaxed)) {
      wal->nack(id);
    } else {
      wal->ack(id);
    }
  }
  std::shared_ptr<const Chunk> chunk;
  queue::DiskQueue* wal;
  uint64_t id;
  std::atomic<bool> undelivered{false};
};

// Part of a chunk queued on one shard: the listed series (or all of them, in order).
struct Work {
  std::shared_ptr<Hold> hold;
  std::vector<uint32_t> series;  // empty: every series of the chunk
  uint32_t pos = 0;              // next series (index into `series` or into the chunk)
  uint32_t sample_off = 0;       // samples of that series already taken
  uint64_t remaining = 0;        // samples not taken yet

  size_t seriesTotal() const {
    return series.empty() ? hold->chunk->data.seriesCount() : series.size();
  }
  uint32_t seriesAt(uint32_t i) const { return series.empty() ? i : series[i]; }
};

// Samples [first, first + n) of one series, for one request.
struct Piece {
  const SeriesBatch* batch;
  uint32_t series;
  uint32_t first;
  uint32_t n;
};

struct Ewma {
  double value = 0;
  bool set = false;
  void add(double x) {
    value = set ? 0.2 * x + 0.8 * value : x;
    set = true;
  }
};

}  // namespace

struct EndpointMetrics {
  std::string component_id;
  metrics::Counter* sent_samples;
  metrics::Counter* sent_bytes;
  metrics::Counter* failed_requests;
  metrics::Counter* retried_samples;
  metrics::Counter* refused_samples;
  metrics::Gauge* queued_samples;
  metrics::Gauge* shards;
  metrics::Family<metrics::Counter>* dropped;
  metrics::Registry* registry;
};

struct WalSettings {
  bool enabled = false;
  std::string dir;  // empty: no data directory
  uint64_t max_bytes = 0;
  queue::SyncPolicy sync = queue::SyncPolicy::kInterval;
};

class Shard;

class Endpoint {
 public:
  Endpoint(const EndpointBlock& cfg, std::shared_ptr<const Labels> external, EndpointMetrics m,
           log::Logger logger, WalSettings wal, std::chrono::milliseconds reshard_interval);
  ~Endpoint() { stop(Clock::now()); }

  const EndpointBlock& config() const { return cfg_; }
  const WalSettings& wal() const { return wal_; }
  // The configuration this endpoint was made from (endpoint and wal blocks, encoded).
  bool sameConfig(const syntax::Value& ep, const syntax::Value& wal) const {
    return key_ep_ == ep && key_wal_ == wal;
  }
  void setKey(syntax::Value ep, syntax::Value wal) {
    key_ep_ = std::move(ep);
    key_wal_ = std::move(wal);
  }
  absl::Status walStatus() const { return wal_status_; }
  void start();

  // Memory mode: reserves room for n samples; false when the queue is at its bound.
  bool reserve(int64_t n) {
    int64_t cur = queued_.load(std::memory_order_relaxed);
    while (true) {
      if (cur >= limit_) return false;
      if (queued_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed)) break;
    }
    m_.queued_samples->add(static_cast<double>(n));
    return true;
  }
  // Gives back what reserve() (or the write-ahead reader) took for n samples.
  void release(int64_t n) {
    if (n == 0) return;
    queued_.fetch_sub(n, std::memory_order_relaxed);
    m_.queued_samples->sub(static_cast<double>(n));
    if (wal_q_) {
      std::lock_guard<std::mutex> lk(reader_mu_);
      reader_cv_.notify_all();
    }
  }
  int64_t queued() const { return queued_.load(std::memory_order_relaxed); }
  int64_t limit() const { return limit_; }
  int64_t shardCount() const { return shard_count_.load(std::memory_order_relaxed); }
  // Hands a chunk whose room was reserved to the shards. `incoming`: count its samples in the
  // incoming rate (memory mode; the write-ahead mode counts them when written).
  void push(std::shared_ptr<Hold> hold, bool incoming);
  // Write-ahead mode: writes one record of n samples.
  absl::Status walPush(std::string_view record, int64_t n);
  void stop(Clock::time_point deadline);
  void refused(int64_t n) { m_.refused_samples->inc(static_cast<double>(n)); }
  // New external labels apply to requests built from now on.
  void setExternalLabels(std::shared_ptr<const Labels> l) {
    std::lock_guard<std::mutex> lk(ext_mu_);
    external_ = std::move(l);
  }

 private:
  friend class Shard;
  // Sends one request of `pieces` (holds keep their chunks alive). On a shutdown give-up the holds
  // are marked undelivered.
  void send(const std::vector<Piece>& pieces, const std::vector<std::shared_ptr<Hold>>& holds,
            Shard& shard);
  void drop(uint64_t samples, std::string_view reason, std::string_view detail);
  metrics::Counter* dropCounter(std::string_view reason);
  std::vector<std::shared_ptr<Shard>> makeShards(int64_t n, bool held);
  void readWal();
  void control();
  void reshard(int64_t n);

  EndpointBlock cfg_;
  syntax::Value key_ep_, key_wal_;
  mutable std::mutex ext_mu_;
  std::shared_ptr<const Labels> external_;  // sorted; guarded by ext_mu_
  EndpointMetrics m_;
  log::Logger logger_;
  WalSettings wal_;
  std::chrono::milliseconds reshard_interval_;
  net::HttpClient client_;
  std::vector<std::pair<std::string, std::string>> headers_;  // constant part of each request
  int64_t limit_ = 0;
  std::atomic<int64_t> queued_{0};

  // Write-ahead queue (nullptr in memory mode or when it could not be opened).
  std::unique_ptr<queue::DiskQueue> wal_q_;
  absl::Status wal_status_;
  std::mutex reader_mu_;
  std::condition_variable reader_cv_;
  std::atomic<bool> reader_stop_{false};
  std::thread reader_;

  // Shards: shards_ takes new samples; old_shards_ are draining after a reshard.
  mutable std::shared_mutex shards_mu_;
  std::vector<std::shared_ptr<Shard>> shards_;
  std::atomic<int64_t> shard_count_{0};
  std::mutex ctl_mu_;
  std::condition_variable ctl_cv_;
  std::vector<std::shared_ptr<Shard>> old_shards_;  // guarded by ctl_mu_
  bool started_ = false;                            // guarded by ctl_mu_
  bool stopping_ = false;                           // guarded by ctl_mu_
  std::thread control_;

  // Resharding inputs, since the last control tick.
  std::atomic<int64_t> in_samples_{0};
  std::atomic<int64_t> out_samples_{0};
  std::atomic<int64_t> send_ns_{0};
  std::atomic<int64_t> failures_{0};
  std::atomic<int64_t> wal_backlog_{0};  // samples written to the write-ahead queue, not read yet
  Ewma in_rate_, out_rate_, busy_;

  std::once_flag stop_once_;
  std::mutex drop_mu_;
  std::map<std::string, metrics::Counter*, std::less<>> drop_counters_;  // guarded by drop_mu_
  log::OnceEvery drop_log_{std::chrono::seconds(60)};
  log::OnceEvery retry_log_{std::chrono::seconds(60)};
};

class Shard {
 public:
  Shard(Endpoint* ep, bool held) : ep_(ep), held_(held) {}
  ~Shard() { join(); }

  void start() {
    std::lock_guard<std::mutex> lk(mu_);
    if (started_) return;
    started_ = true;
    thread_ = std::thread([this] { run(); });
  }

  void push(Work&& w) {
    std::lock_guard<std::mutex> lk(mu_);
    const bool was_empty = waiting_ == 0;
    if (was_empty) oldest_ = Clock::now();
    waiting_ += w.remaining;
    queue_.push_back(std::move(w));
    // Wake the sender to arm the batch deadline, or because a full request is ready.
    if (was_empty ||
        waiting_ >= static_cast<uint64_t>(ep_->cfg_.queue_config.max_samples_per_send)) {
      cv_.notify_one();
    }
  }

  // Lets a shard created by a reshard send (the old shards have drained).
  void unhold() {
    std::lock_guard<std::mutex> lk(mu_);
    held_ = false;
    cv_.notify_all();
  }

  // Sends everything queued at once, until `deadline`, then the thread ends.
  void stop(Clock::time_point deadline) {
    std::lock_guard<std::mutex> lk(mu_);
    draining_ = true;
    deadline_ = std::min(deadline_, deadline);
    cv_.notify_all();
  }

  void join() {
    if (thread_.joinable()) thread_.join();
    // Never started, or stopped with samples left: dropped (memory) or left on disk (wal).
    std::lock_guard<std::mutex> lk(mu_);
    if (queue_.empty()) return;
    const uint64_t n = waiting_;
    for (auto& w : queue_) w.hold->undelivered.store(true, std::memory_order_relaxed);
    queue_.clear();
    waiting_ = 0;
    if (!ep_->wal_q_) ep_->drop(n, "shutdown", "the queue was not flushed before the deadline");
    ep_->release(static_cast<int64_t>(n));
  }

  // Sleeps up to `d`; false when draining and the deadline has passed (give up).
  bool sleepFor(std::chrono::nanoseconds d) {
    std::unique_lock<std::mutex> lk(mu_);
    return components::sleepOrGiveUp(lk, cv_, draining_, deadline_, d);
  }
  // The deadline of an attempt starting now (max when not draining), or nullopt when passed.
  std::optional<Clock::time_point> attemptDeadline() {
    std::lock_guard<std::mutex> lk(mu_);
    return components::attemptDeadline(draining_, deadline_);
  }

  // Reused encoding buffers (only the shard's thread uses them).
  std::string raw, body;
  std::vector<std::pair<std::string_view, std::string_view>> labels;
  std::vector<uint32_t> sizes;

 private:
  // mu_ held. Moves up to `max` samples from the queue into pieces/holds.
  uint64_t take(size_t max, std::vector<Piece>* pieces, std::vector<std::shared_ptr<Hold>>* holds) {
    uint64_t taken = 0;
    while (!queue_.empty() && taken < max) {
      Work& w = queue_.front();
      const SeriesBatch& b = w.hold->chunk->data;
      const size_t total = w.seriesTotal();
      bool used = false;
      while (w.pos < total && taken < max) {
        const uint32_t idx = w.seriesAt(w.pos);
        const auto& s = b.series(idx);
        const uint32_t n =
            static_cast<uint32_t>(std::min<uint64_t>(s.sample_count - w.sample_off, max - taken));
        if (n > 0) {
          pieces->push_back(Piece{&b, idx, w.sample_off, n});
          used = true;
          taken += n;
          w.sample_off += n;
          w.remaining -= n;
        }
        if (w.sample_off >= s.sample_count) {
          ++w.pos;
          w.sample_off = 0;
        }
      }
      if (w.pos >= total || w.remaining == 0) {
        holds->push_back(std::move(w.hold));
        queue_.pop_front();
      } else if (used) {
        holds->push_back(w.hold);
      }
    }
    waiting_ -= taken;
    return taken;
  }

  void run() {
    const auto& qc = ep_->cfg_.queue_config;
    const size_t max = static_cast<size_t>(qc.max_samples_per_send);
    const auto wait = std::chrono::duration_cast<Clock::duration>(qc.batch_send_deadline.value);
    std::vector<Piece> pieces;
    std::vector<std::shared_ptr<Hold>> holds;
    std::unique_lock<std::mutex> lk(mu_);
    while (true) {
      const bool can_send = !held_;
      bool full = waiting_ >= max;
      bool due = waiting_ > 0 && (draining_ || Clock::now() >= oldest_ + wait);
      if (can_send && (full || due)) {
        if (draining_ && Clock::now() >= deadline_) return;  // join() counts the rest
        pieces.clear();
        const uint64_t n = take(max, &pieces, &holds);
        if (waiting_ > 0) oldest_ = Clock::now();  // the rest waits for its own deadline
        lk.unlock();
        const auto t0 = Clock::now();
        if (!pieces.empty()) ep_->send(pieces, holds, *this);
        ep_->send_ns_.fetch_add(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count(),
            std::memory_order_relaxed);
        ep_->out_samples_.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
        holds.clear();  // settles write-ahead records whose samples are all done
        ep_->release(static_cast<int64_t>(n));
        lk.lock();
        continue;
      }
      if (draining_ && waiting_ == 0) return;
      if (draining_ && Clock::now() >= deadline_) return;
      if (waiting_ == 0 || held_) {
        if (draining_) {
          cv_.wait_until(lk, deadline_);
        } else {
          cv_.wait(lk);
        }
      } else {
        cv_.wait_until(lk, oldest_ + wait);
      }
    }
  }

  Endpoint* ep_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Work> queue_;
  uint64_t waiting_ = 0;        // samples in queue_ not taken yet
  Clock::time_point oldest_{};  // when the first of the waiting samples arrived
  bool held_;
  bool started_ = false;
  bool draining_ = false;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::thread thread_;
};

Endpoint::Endpoint(const EndpointBlock& cfg, std::shared_ptr<const Labels> external,
                   EndpointMetrics m, log::Logger logger, WalSettings wal,
                   std::chrono::milliseconds reshard_interval)
    : cfg_(cfg),
      external_(std::move(external)),
      m_(std::move(m)),
      logger_(std::move(logger)),
      wal_(std::move(wal)),
      reshard_interval_(reshard_interval),
      client_(components::clientOptions(cfg)) {
  headers_ = {{"Content-Encoding", "snappy"},
              {"Content-Type", "application/x-protobuf"},
              {"X-Prometheus-Remote-Write-Version", "0.1.0"}};
  auto auth = components::authorizationHeader(cfg);
  if (!auth.ok()) {
    logger_.error("cannot build the Authorization header",
                  {{"err", std::string(auth.status().message())}});
  } else if (!auth->empty()) {
    headers_.emplace_back("Authorization", std::move(*auth));
  }
  for (const auto& [k, v] : cfg.headers) {
    bool reserved = components::equalsIgnoreCase(k, "User-Agent") ||
                    components::equalsIgnoreCase(k, "Retry-Attempt");
    for (const auto& h : headers_) reserved = reserved || components::equalsIgnoreCase(h.first, k);
    if (!reserved) headers_.emplace_back(k, v);
  }
  const auto& qc = cfg.queue_config;
  limit_ = qc.capacity * std::max<int64_t>(1, qc.max_shards);
  if (wal_.enabled) {
    if (wal_.dir.empty()) {
      wal_status_ = absl::FailedPreconditionError("no data directory for the write-ahead queue");
    } else {
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(wal_.dir).parent_path(), ec);
      queue::DiskQueueOptions o;
      o.dir = wal_.dir;
      o.max_bytes = wal_.max_bytes;
      o.sync = wal_.sync;
      o.registry = m_.registry;
      auto q = queue::DiskQueue::open(std::move(o));
      if (q.ok()) {
        wal_q_ = std::move(*q);
      } else {
        wal_status_ = q.status();
      }
    }
    if (!wal_status_.ok()) {
      logger_.error("cannot open the write-ahead queue; appends are refused",
                    {{"dir", wal_.dir}, {"err", std::string(wal_status_.message())}});
    }
  }
  shards_ = makeShards(std::max<int64_t>(1, qc.min_shards), false);
  shard_count_.store(static_cast<int64_t>(shards_.size()));
  m_.shards->add(static_cast<double>(shards_.size()));
}

std::vector<std::shared_ptr<Shard>> Endpoint::makeShards(int64_t n, bool held) {
  std::vector<std::shared_ptr<Shard>> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(std::make_shared<Shard>(this, held));
  return out;
}

void Endpoint::start() {
  {
    std::lock_guard<std::mutex> lk(ctl_mu_);
    if (started_ || stopping_) return;
    started_ = true;
  }
  {
    std::shared_lock<std::shared_mutex> lk(shards_mu_);
    for (auto& s : shards_) s->start();
  }
  control_ = std::thread([this] { control(); });
  if (wal_q_) reader_ = std::thread([this] { readWal(); });
}

void Endpoint::push(std::shared_ptr<Hold> hold, bool incoming) {
  const SeriesBatch& b = hold->chunk->data;
  const uint64_t n = b.sampleCount();
  if (incoming) in_samples_.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
  std::shared_lock<std::shared_mutex> lk(shards_mu_);
  const size_t k = shards_.size();
  if (k == 1) {
    Work w;
    w.hold = std::move(hold);
    w.remaining = n;
    shards_[0]->push(std::move(w));
    return;
  }
  std::vector<Work> parts(k);
  for (auto& w : parts) w.series.reserve(b.seriesCount() / k + b.seriesCount() / (4 * k) + 8);
  for (size_t i = 0; i < b.seriesCount(); ++i) {
    const auto& s = b.series(i);
    if (s.sample_count == 0) continue;
    Work& w = parts[b.hash(i) % k];
    w.series.push_back(static_cast<uint32_t>(i));
    w.remaining += s.sample_count;
  }
  for (size_t i = 0; i < k; ++i) {
    if (parts[i].remaining == 0) continue;
    parts[i].hold = hold;
    shards_[i]->push(std::move(parts[i]));
  }
}

absl::Status Endpoint::walPush(std::string_view record, int64_t n) {
  if (!wal_q_) {
    return absl::UnavailableError(
        strCat("write-ahead queue unavailable: ", std::string(wal_status_.message())));
  }
  absl::Status st = wal_q_->push(record);
  if (st.ok()) {
    in_samples_.fetch_add(n, std::memory_order_relaxed);
    wal_backlog_.fetch_add(n, std::memory_order_relaxed);
    return st;
  }
  switch (st.code()) {
    case absl::StatusCode::kResourceExhausted:
      return absl::ResourceExhaustedError(strCat("the write-ahead queue for ", cfg_.url,
                                                 " is full (", wal_q_->liveBytes(), " bytes)"));
    case absl::StatusCode::kInvalidArgument:
      return absl::InvalidArgumentError(
          strCat("a batch of ", record.size(), " bytes is larger than wal max_size"));
    case absl::StatusCode::kFailedPrecondition:
      return absl::UnavailableError("prometheus.remote_write is shutting down");
    default:
      return absl::UnavailableError(
          strCat("write-ahead queue failed: ", std::string(st.message())));
  }
}

void Endpoint::readWal() {
  while (true) {
    {
      std::unique_lock<std::mutex> lk(reader_mu_);
      if (reader_stop_.load()) return;
      // Keep about capacity x shards samples in memory; the rest waits on disk.
      const int64_t window = cfg_.queue_config.capacity * std::max<int64_t>(1, shardCount());
      if (queued() >= window) {
        reader_cv_.wait_for(lk, kPollWait);
        continue;
      }
    }
    auto item = wal_q_->pop(kPollWait);
    if (!item) continue;
    auto batch = decodeRecord(item->record);
    if (!batch.ok()) {
      wal_q_->ack(item->id);  // can never be delivered
      drop(1, "corrupt_record", std::string(batch.status().message()));
      continue;
    }
    if (reader_stop_.load()) {
      wal_q_->nack(item->id);
      return;
    }
    const auto n = static_cast<int64_t>(batch->sampleCount());
    auto chunk = std::make_shared<Chunk>(std::move(*batch));
    auto hold = std::make_shared<Hold>(std::move(chunk), wal_q_.get(), item->id);
    if (n == 0) continue;  // acked by ~Hold
    queued_.fetch_add(n, std::memory_order_relaxed);
    m_.queued_samples->add(static_cast<double>(n));
    wal_backlog_.fetch_sub(n, std::memory_order_relaxed);  // below 0 for records from before
    push(std::move(hold), false);
  }
}

void Endpoint::control() {
  const auto& qc = cfg_.queue_config;
  const double interval_s = std::chrono::duration<double>(reshard_interval_).count();
  std::unique_lock<std::mutex> lk(ctl_mu_);
  while (!stopping_) {
    ctl_cv_.wait_for(lk, reshard_interval_);
    if (stopping_) return;
    const double in = static_cast<double>(in_samples_.exchange(0));
    const double out = static_cast<double>(out_samples_.exchange(0));
    const double busy_ns = static_cast<double>(send_ns_.exchange(0));
    const int64_t failures = failures_.exchange(0);
    in_rate_.add(in / interval_s);
    out_rate_.add(out / interval_s);
    busy_.add(busy_ns / 1e9 / interval_s);
    if (qc.min_shards == qc.max_shards || failures > 0) continue;
    const int64_t cur = shardCount();
    double desired = static_cast<double>(qc.min_shards);
    if (out_rate_.value > 0) {
      const double time_per_sample = busy_.value / out_rate_.value;
      const double backlog =
          static_cast<double>(queued() + std::max<int64_t>(0, wal_backlog_.load()));
      desired = time_per_sample * (in_rate_.value + backlog / 20.0);
    } else if (queued() > 0) {
      continue;  // nothing went out (e.g. one long request): no basis for a decision
    }
    int64_t want = static_cast<int64_t>(std::ceil(desired));
    want = std::clamp<int64_t>(want, qc.min_shards, qc.max_shards);
    if (want == cur) continue;
    const double lo = static_cast<double>(cur) * 0.7, hi = static_cast<double>(cur) * 1.3;
    if (desired >= lo && desired <= hi) continue;
    lk.unlock();
    reshard(want);
    lk.lock();
  }
}

void Endpoint::reshard(int64_t n) {
  auto fresh = makeShards(n, true);
  for (auto& s : fresh) s->start();
  std::vector<std::shared_ptr<Shard>> old;
  {
    std::unique_lock<std::shared_mutex> lk(shards_mu_);
    old.swap(shards_);
    shards_ = fresh;
    shard_count_.store(n);
  }
  m_.shards->add(static_cast<double>(n) - static_cast<double>(old.size()));
  logger_.info("resharding", {{"from", std::to_string(old.size())}, {"to", std::to_string(n)}});
  Clock::time_point deadline = Clock::time_point::max();
  {
    std::lock_guard<std::mutex> lk(ctl_mu_);
    old_shards_ = old;
    if (stopping_) deadline = Clock::now();
  }
  // The old shards send what they hold; only then may the new ones send (per-series order).
  for (auto& s : old) s->stop(deadline);
  for (auto& s : old) s->join();
  {
    std::lock_guard<std::mutex> lk(ctl_mu_);
    old_shards_.clear();
  }
  for (auto& s : fresh) s->unhold();
}

void Endpoint::stop(Clock::time_point deadline) {
  std::call_once(stop_once_, [&] {
    std::vector<std::shared_ptr<Shard>> old;
    {
      std::lock_guard<std::mutex> lk(ctl_mu_);
      stopping_ = true;
      old = old_shards_;
    }
    {
      std::lock_guard<std::mutex> lk(reader_mu_);
      reader_stop_.store(true);
      reader_cv_.notify_all();
    }
    if (reader_.joinable()) reader_.join();
    for (auto& s : old) s->stop(deadline);
    ctl_cv_.notify_all();
    if (control_.joinable()) control_.join();  // a reshard in progress ends with the old shards
    std::vector<std::shared_ptr<Shard>> cur;
    {
      std::shared_lock<std::shared_mutex> lk(shards_mu_);
      cur = shards_;
    }
    for (auto& s : cur) {
      s->unhold();
      s->start();  // samples queued before start() get their chance
      s->stop(deadline);
    }
    for (auto& s : cur) s->join();
    m_.shards->sub(static_cast<double>(cur.size()));
    if (wal_q_) wal_q_->close();
  });
}

// Only drops look counters up (and create their series, so that an endpoint that never dropped
// exposes none), once per reason: the send path itself does no metrics family lookup.
metrics::Counter* Endpoint::dropCounter(std::string_view reason) {
  std::lock_guard<std::mutex> lk(drop_mu_);
  auto it = drop_counters_.find(reason);
  if (it != drop_counters_.end()) return it->second;
  auto* c = &m_.dropped->with({m_.component_id, std::string(reason)});
  drop_counters_.emplace(std::string(reason), c);
  return c;
}

void Endpoint::drop(uint64_t samples, std::string_view reason, std::string_view detail) {
  if (samples == 0) return;
  dropCounter(reason)->inc(static_cast<double>(samples));
  if (drop_log_.shouldLog()) {
    logger_.error("non-recoverable error sending samples, dropping them",
                  {{"reason", std::string(reason)},
                   {"samples", std::to_string(samples)},
                   {"err", std::string(detail)}});
  }
}

// Prometheus's retry waits: min_backoff doubling up to max_backoff (a zero interval steps to
// 1ms), no jitter, no limit; the server's Retry-After replaces the wait when it sent one.
namespace {
BackoffPolicy backoffPolicy(const QueueConfigBlock& q) {
  BackoffPolicy p;
  p.initial_interval = q.min_backoff.value;
  p.max_interval = q.max_backoff.value;
  p.multiplier = 2;
  p.randomization_factor = 0;
  p.server_delay = BackoffPolicy::ServerDelay::kReplace;
  p.zero_interval_step = std::chrono::milliseconds(1);
  return p;
}
}  // namespace

void Endpoint::send(const std::vector<Piece>& pieces,
                    const std::vector<std::shared_ptr<Hold>>& holds, Shard& shard) {
  const int64_t age_limit_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   cfg_.queue_config.sample_age_limit.value)
                                   .count();
  const int64_t oldest_ok = age_limit_ms > 0 ? nowMs() - age_limit_ms : INT64_MIN;
  auto abandon = [&holds] {
    for (const auto& h : holds) h->undelivered.store(true, std::memory_order_relaxed);
  };

  std::shared_ptr<const Labels> ext_holder;
  {
    std::lock_guard<std::mutex> lk(ext_mu_);
    ext_holder = external_;
  }
  const Labels& external = *ext_holder;
  // Pass 1: the merged label list and the encoded size of every series.
  auto& labels = shard.labels;
  auto& sizes = shard.sizes;  // per piece: TimeSeries size, 0 = skipped; then label count
  sizes.clear();
  labels.clear();
  uint64_t count = 0, too_old = 0;
  size_t total = 0;
  for (const Piece& pc : pieces) {
    const SeriesBatch& b = *pc.batch;
    const auto& s = b.series(pc.series);
    const auto* pts = b.points(s) + pc.first;
    size_t ts_size = 0;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < pc.n; ++i) {
      if (pts[i].timestamp_ms < oldest_ok) continue;
      const size_t ss = sampleSize(pts[i].timestamp_ms);
      ts_size += 1 + varintSize(ss) + ss;
      ++kept;
    }
    too_old += pc.n - kept;
    const size_t first_label = labels.size();
    if (kept > 0) {
      // Series labels merged with the external labels (the series' own label wins).
      const auto* ls = b.labels(s);
      uint32_t a = 0;
      size_t e = 0;
      while (a < s.label_count || e < external.size()) {
        std::string_view an = a < s.label_count ? b.labelName(ls[a]) : std::string_view();
        if (e == external.size() || (a < s.label_count && an < external[e].first)) {
          labels.emplace_back(an, b.labelValue(ls[a]));
          ++a;
        } else if (a == s.label_count || external[e].first < an) {
          labels.emplace_back(external[e].first, external[e].second);
          ++e;
        } else {
          labels.emplace_back(an, b.labelValue(ls[a]));
          ++a;
          ++e;
        }
      }
      for (size_t i = first_label; i < labels.size(); ++i) {
        const size_t ls_size = labelSize(labels[i].first, labels[i].second);
        ts_size += 1 + varintSize(ls_size) + ls_size;
      }
      total += 1 + varintSize(ts_size) + ts_size;
      count += kept;
    }
    sizes.push_back(kept > 0 ? static_cast<uint32_t>(ts_size) : 0);
    sizes.push_back(static_cast<uint32_t>(labels.size() - first_label));
  }
  drop(too_old, "too_old", "samples older than sample_age_limit");
  if (count == 0) return;

  // Pass 2: write.
  std::string& raw = shard.raw;
  raw.resize(total);
  char* p = raw.data();
  size_t li = 0;
  for (size_t k = 0; k < pieces.size(); ++k) {
    const size_t ts_size = sizes[2 * k];
    const size_t nl = sizes[2 * k + 1];
    if (ts_size == 0) continue;
    *p++ = 0x0a;  // WriteRequest.timeseries
    p = putVarint(p, ts_size);
    for (size_t i = 0; i < nl; ++i, ++li) {
      const auto& [n, v] = labels[li];
      *p++ = 0x0a;  // TimeSeries.labels
      p = putVarint(p, labelSize(n, v));
      *p++ = 0x0a;  // Label.name
      p = putVarint(p, n.size());
      p = copyBytes(p, n.data(), n.size());
      *p++ = 0x12;  // Label.value
      p = putVarint(p, v.size());
      p = copyBytes(p, v.data(), v.size());
    }
    const Piece& pc = pieces[k];
    const auto* pts = pc.batch->points(pc.batch->series(pc.series)) + pc.first;
    for (uint32_t i = 0; i < pc.n; ++i) {
      if (pts[i].timestamp_ms < oldest_ok) continue;
      *p++ = 0x12;  // TimeSeries.samples
      p = putVarint(p, sampleSize(pts[i].timestamp_ms));
      *p++ = 0x09;  // Sample.value (fixed64)
      std::memcpy(p, &pts[i].value, 8);
      p += 8;
      *p++ = 0x10;  // Sample.timestamp
      p = putVarint(p, static_cast<uint64_t>(pts[i].timestamp_ms));
    }
  }
  if (static_cast<size_t>(p - raw.data()) != total) {
    drop(count, "encode_failed", "WriteRequest size mismatch");
    return;
  }
  std::string& body = shard.body;
  body.resize(snappy::MaxCompressedLength(raw.size()));
  size_t body_len = 0;
  snappy::RawCompress(raw.data(), raw.size(), body.data(), &body_len);
  body.resize(body_len);

  net::HttpClientRequest http;
  http.method = "POST";
  http.url = cfg_.url;
  http.body = std::move(body);
  http.headers = headers_;
  struct GiveBack {  // the body buffer goes back to the shard for reuse
    std::string& to;
    std::string& from;
    ~GiveBack() { to = std::move(from); }
  } give_back{body, http.body};

  ExponentialBackoff backoff(backoffPolicy(cfg_.queue_config));
  for (int64_t attempt = 0;; ++attempt) {
    auto deadline = shard.attemptDeadline();
    if (!deadline) {
      abandon();
      if (!wal_q_) drop(count, "shutdown", "the shutdown deadline passed while retrying");
      return;
    }
    if (attempt > 0) {
      if (http.headers.back().first == "Retry-Attempt") http.headers.pop_back();
      http.headers.emplace_back("Retry-Attempt", std::to_string(attempt));
    }
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.remote_timeout.value);
    if (timeout.count() <= 0) timeout = std::chrono::milliseconds(30000);
    if (*deadline != Clock::time_point::max()) {
      timeout = std::min(
          timeout, std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()) +
                       std::chrono::milliseconds(1));
    }
    http.timeout = std::max(timeout, std::chrono::milliseconds(1));
    auto resp = client_.send(http);
    int status = resp.ok() ? resp->status : 0;
    if (status / 100 == 2) {
      m_.sent_samples->inc(static_cast<double>(count));
      m_.sent_bytes->inc(static_cast<double>(http.body.size()));
      return;
    }
    m_.failed_requests->inc();
    failures_.fetch_add(1, std::memory_order_relaxed);
    std::string detail =
        resp.ok() ? strCat("server returned HTTP status ", status, ": ", firstLine(resp->body))
                  : std::string(resp.status().message());
    bool retryable =
        status == 0 || status / 100 == 5 || (status == 429 && cfg_.queue_config.retry_on_http_429);
    if (!retryable) {
      drop(count, status == 429 ? std::string("rate_limited") : strCat("http_", status), detail);
      return;
    }
    m_.retried_samples->inc(static_cast<double>(count));
    if (retry_log_.shouldLog()) {
      logger_.warn("failed to send samples, will retry",
                   {{"status", std::to_string(status)}, {"err", detail}});
    }
    std::chrono::nanoseconds server_delay{0};
    if (resp.ok()) {
      auto ra = net::parseRetryAfter(resp->header("retry-after"));
      if (ra) server_delay = *ra;
    }
    // The policy sets no attempt or time limit, so there is always a wait.
    if (!shard.sleepFor(*backoff.next(server_delay))) {
      abandon();
      if (!wal_q_) drop(count, "shutdown", detail);
      return;
    }
  }
}

// ---- Writer ----------------------------------------------------------------------------------

Writer::Writer(std::string id, metrics::Registry& metrics, const log::Logger& logger,
               std::string data_dir)
    : id_(std::move(id)), metrics_(metrics), logger_(logger), data_dir_(std::move(data_dir)) {}

Writer::~Writer() {
  shutdown(Clock::now());
}

namespace {

// A directory name for an endpoint's write-ahead queue: its name (made file-name safe) or a hash
// of its url.
std::string walDirName(const EndpointBlock& e) {
  if (!e.name.empty()) {
    std::string out = e.name;
    for (char& c : out) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.';
      if (!ok) c = '_';
    }
    if (out == "." || out == "..") out = "_";
    return out;
  }
  char buf[17];
  snprintf(buf, sizeof(buf), "%016llx",
           static_cast<unsigned long long>(SeriesBatch::hashBytes(e.url)));
  return buf;
}

}  // namespace

absl::Status Writer::configure(const Arguments& args) {
  EndpointMetrics m;
  m.component_id = id_;
  m.registry = &metrics_;
  auto counter = [&](const char* name, const char* help) {
    return &metrics_.counter(name, help, {"component_id"}).with({id_});
  };
  m.sent_samples = counter("telegate_remote_write_sent_samples_total",
                           "Samples delivered to remote-write endpoints (2xx).");
  m.sent_bytes = counter("telegate_remote_write_sent_bytes_total",
                         "Compressed request bytes delivered to remote-write endpoints.");
  m.failed_requests = counter("telegate_remote_write_failed_requests_total",
                              "Remote-write requests that did not get a 2xx answer.");
  m.retried_samples = counter("telegate_remote_write_retried_samples_total",
                              "Samples in requests that are retried (5xx, 429, transport errors).");
  m.refused_samples = counter("telegate_remote_write_refused_samples_total",
                              "Samples refused by append() because a queue was full.");
  m.queued_samples = &metrics_
                          .gauge("telegate_remote_write_queued_samples",
                                 "Samples held in memory (queued or in flight).", {"component_id"})
                          .with({id_});
  m.shards = &metrics_
                  .gauge("telegate_remote_write_shards",
                         "Shards (parallel senders) over all endpoints.", {"component_id"})
                  .with({id_});
  m.dropped = &metrics_.counter("telegate_remote_write_dropped_samples_total",
                                "Samples dropped, by reason.", {"component_id", "reason"});

  auto ext = std::make_shared<const Labels>(args.external_labels.begin(),
                                            args.external_labels.end());  // std::map: sorted
  const auto& schema = runtime::schemaOf<EndpointBlock>();
  const auto& wal_schema = runtime::schemaOf<WalBlock>();
  std::vector<std::shared_ptr<Endpoint>> next;
  std::vector<std::shared_ptr<Endpoint>> old;
  {
    std::shared_lock<std::shared_mutex> lk(mu_);
    old = endpoints_;
  }
  const auto wal_key = runtime::encodeObject(wal_schema, &args.wal);
  std::vector<syntax::Value> keys;
  for (const auto& e : args.endpoint) keys.push_back(runtime::encodeObject(schema, &e));
  // Reuse endpoints whose configuration is unchanged.
  std::vector<std::shared_ptr<Endpoint>> reuse(args.endpoint.size());
  for (size_t i = 0; i < args.endpoint.size(); ++i) {
    for (auto& o : old) {
      if (o && o->sameConfig(keys[i], wal_key)) {
        reuse[i] = std::move(o);
        break;
      }
    }
  }
  // Write-ahead endpoints that go away stop now, so their directories can be reopened.
  for (auto& o : old) {
    if (o && o->wal().enabled) o->stop(Clock::now());
  }
  std::map<std::string, int> dirs;
  for (size_t i = 0; i < args.endpoint.size(); ++i) {
    const auto& e = args.endpoint[i];
    std::string dir_name = walDirName(e);
    if (dirs[dir_name]++ > 0) dir_name = strCat(dir_name, "-", dirs[dir_name] - 1);
    if (reuse[i]) {
      reuse[i]->setExternalLabels(ext);
      next.push_back(std::move(reuse[i]));
      continue;
    }
    WalSettings wal;
    wal.enabled = args.wal.enabled;
    if (!data_dir_.empty()) wal.dir = strCat(data_dir_, "/wal/", dir_name);
    wal.max_bytes = args.wal.max_size.bytes;
    wal.sync = args.wal.fsync == "never"    ? queue::SyncPolicy::kNever
               : args.wal.fsync == "always" ? queue::SyncPolicy::kEveryBatch
                                            : queue::SyncPolicy::kInterval;
    auto ep = std::make_shared<Endpoint>(e, ext, m,
                                         logger_.with("endpoint", e.name.empty() ? e.url : e.name),
                                         std::move(wal), reshard_interval_);
    ep->setKey(keys[i], wal_key);
    next.push_back(std::move(ep));
  }
  bool started;
  {
    std::unique_lock<std::shared_mutex> lk(mu_);
    if (stopped_) return absl::OkStatus();
    endpoints_ = next;
    started = started_;
  }
  if (started) {
    for (auto& ep : next) ep->start();
  }
  for (auto& o : old) {
    if (o) o->stop(Clock::now() + kUpdateFlush);
  }
  return absl::OkStatus();
}

void Writer::start() {
  std::vector<std::shared_ptr<Endpoint>> eps;
  {
    std::unique_lock<std::shared_mutex> lk(mu_);
    if (stopped_) return;
    started_ = true;
    eps = endpoints_;
  }
  for (auto& ep : eps) ep->start();
}

void Writer::shutdown(Clock::time_point deadline) {
  std::vector<std::shared_ptr<Endpoint>> eps;
  {
    std::unique_lock<std::shared_mutex> lk(mu_);
    stopped_ = true;
    eps.swap(endpoints_);
  }
  for (auto& ep : eps) ep->stop(deadline);
}

int64_t Writer::queued() const {
  std::shared_lock<std::shared_mutex> lk(mu_);
  int64_t n = 0;
  for (const auto& ep : endpoints_) n += ep->queued();
  return n;
}

int64_t Writer::shards() const {
  std::shared_lock<std::shared_mutex> lk(mu_);
  int64_t n = 0;
  for (const auto& ep : endpoints_) n += ep->shardCount();
  return n;
}

bool Writer::durable() const {
  std::shared_lock<std::shared_mutex> lk(mu_);
  return !endpoints_.empty() && endpoints_.front()->wal().enabled;
}

absl::Status Writer::walStatus() const {
  std::shared_lock<std::shared_mutex> lk(mu_);
  for (const auto& ep : endpoints_) {
    if (!ep->walStatus().ok()) return ep->walStatus();
  }
  return absl::OkStatus();
}

absl::Status Writer::append(SeriesBatch&& batch) {
  if (batch.empty()) return absl::OkStatus();
  if (!batch.valid()) {
    return absl::InvalidArgumentError(
        strCat(describe(), ": labels must be non-empty and sorted by name without duplicates"));
  }
  std::shared_lock<std::shared_mutex> lk(mu_);
  if (stopped_) return absl::UnavailableError(strCat(describe(), " is shut down"));
  if (endpoints_.empty()) return absl::OkStatus();
  const auto n = static_cast<int64_t>(batch.sampleCount());
  if (endpoints_.front()->wal().enabled) {
    const std::string record = encodeRecord(batch);
    for (auto& ep : endpoints_) {
      absl::Status st = ep->walPush(record, n);
      if (!st.ok()) {
        ep->refused(n);
        return absl::Status(st.code(), strCat(describe(), ": ", std::string(st.message())));
      }
    }
    return absl::OkStatus();
  }
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    if (!endpoints_[i]->reserve(n)) {
      for (size_t j = 0; j < i; ++j) endpoints_[j]->release(n);
      endpoints_[i]->refused(n);
      return absl::ResourceExhaustedError(
          strCat(describe(), ": the queue for ", endpoints_[i]->config().url, " is full (",
                 endpoints_[i]->queued(), " of ", endpoints_[i]->limit(), " samples)"));
    }
  }
  auto chunk = std::make_shared<Chunk>(std::move(batch));
  const size_t bytes = chunk->data.memoryBytes() + sizeof(Chunk);
  if (!globalMemoryBudget().tryReserve(bytes)) {
    for (auto& ep : endpoints_) {
      ep->release(n);
      ep->refused(n);
    }
    return absl::ResourceExhaustedError(strCat(describe(), ": memory limit reached"));
  }
  chunk->charged = bytes;
  for (auto& ep : endpoints_) ep->push(std::make_shared<Hold>(chunk, nullptr, 0), true);
  return absl::OkStatus();
}

// ---- Component -------------------------------------------------------------------------------

Component::Component(runtime::Host& host, const Arguments& args)
    : host_(host),
      writer_(std::make_shared<Writer>(host.id(), host.metrics(), host.logger(), host.dataPath())) {
  writer_->configure(args).IgnoreError();
  host_.setExports({{"receiver", syntax::Value::capsule(writer_)}});
}

absl::Status Component::start() {
  writer_->start();
  absl::Status wal = writer_->walStatus();
  if (wal.ok()) {
    host_.setHealth(runtime::HealthState::kHealthy, "");
  } else {
    host_.setHealth(runtime::HealthState::kUnhealthy,
                    strCat("write-ahead queue unavailable: ", std::string(wal.message())));
  }
  return absl::OkStatus();
}

absl::Status Component::update(const Arguments& args) {
  return writer_->configure(args);
}

void Component::shutdown(Clock::time_point deadline) {
  writer_->shutdown(deadline);
}

syntax::Value Component::debugInfo() const {
  return syntax::Value::object({{"queued_samples", syntax::Value::integer(writer_->queued())},
                                {"shards", syntax::Value::integer(writer_->shards())}});
}

}  // namespace telegate::prometheus::remote_write

namespace telegate::components {
void registerPrometheusRemoteWrite() {
  runtime::registerComponent<prometheus::remote_write::Component>(
      "prometheus.remote_write", "Sends samples with the Prometheus remote-write protocol.",
      {{"receiver", "capsule(storage.Appendable)", "where to send samples"}});
}
}  // namespace telegate::components
