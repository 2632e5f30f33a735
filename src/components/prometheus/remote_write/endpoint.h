// One endpoint block of prometheus.remote_write: its HTTP client, shards, resharding and (with
// wal.enabled) write-ahead queue and reader. See remote_write.h for the component contract.
//
// Contract:
//  * Chunk/Hold/Work/Piece: how an appended batch is shared by the endpoints, held by one
//    endpoint (acknowledging or nacking its write-ahead record when the last hold goes), queued on
//    one shard and cut into requests.
//  * Endpoint: reserve()/push() (memory mode) or walPush() (write-ahead mode) take samples; the
//    shards send them (send.cc), the control thread reshards (endpoint.cc), the reader thread
//    hands write-ahead records to the shards (wal.cc). stop(deadline) flushes until the deadline
//    and joins every thread; it runs once.
//  * Shard: one sender thread; a series always goes to the same shard, so it is sent in order.
//  * Threading: reserve/release/push/walPush/refused/setExternalLabels may be called from any
//    thread; push takes the shard set's shared lock (exclusive only while resharding) and the
//    per-shard mutex. The encoding buffers of a Shard are used only by its own thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "src/common/log.h"
#include "src/common/memory_budget.h"
#include "src/common/metrics.h"
#include "src/components/common/drain.h"
#include "src/components/prometheus/remote_write/remote_write.h"
#include "src/net/http_client.h"
#include "src/queue/disk_queue.h"

namespace telegate::prometheus::remote_write {

using Clock = std::chrono::steady_clock;

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

}  // namespace telegate::prometheus::remote_write
