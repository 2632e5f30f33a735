// loki.write endpoint: one `endpoint` block's HTTP client and request template, with its
// per-tenant memory queues (tenant_queue.h) or its WAL and WAL sender (wal_sender.h).
//
// Contract: enqueue() splits a prepared push by effective tenant (the stream's __tenant_id__,
// else tenant_id) and hands each part to that tenant's queue, or writes it to the WAL; send()
// performs one request with Loki's retry rules and counts delivery, retries and drops; stop()
// drains the queues and the WAL sender until the deadline.
// Threads: enqueue() is called concurrently by pushers (queues_mu_ guards the queue map, the
// DiskQueue its own append); send() and drop() are called by the sender threads; stop() once by
// the owning Writer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "src/components/common/drain.h"
#include "src/components/loki/write/encode.h"
#include "src/components/loki/write/write.h"
#include "src/net/http_client.h"
#include "src/queue/disk_queue.h"

namespace telegate::loki::write {

// A push() prepared once for every endpoint: rendered labels and tenant of each stream.
struct Prepared {
  const EntryBatch* batch = nullptr;
  std::vector<std::string> labels;  // per batch stream
  std::vector<std::string> tenant;  // per batch stream, from __tenant_id__ (empty: none)
  bool one_tenant = true;           // every stream has the same tenant
};

// Draining state shared by a sender and its retry loop.
struct StopState {
  std::mutex mu;
  std::condition_variable cv;
  bool draining = false;
  Clock::time_point deadline = Clock::time_point::max();

  void stop(Clock::time_point d) {
    std::lock_guard<std::mutex> lk(mu);
    if (!draining) {
      draining = true;
      deadline = d;
    }
    cv.notify_all();
  }
  // Sleeps up to `d`; false once draining and past the deadline (give up).
  bool sleepFor(std::chrono::nanoseconds d) {
    std::unique_lock<std::mutex> lk(mu);
    return components::sleepOrGiveUp(lk, cv, draining, deadline, d);
  }
  // The deadline for an attempt starting now, or nullopt when it has passed.
  std::optional<Clock::time_point> attemptDeadline() {
    std::lock_guard<std::mutex> lk(mu);
    return components::attemptDeadline(draining, deadline);
  }
};

enum class Outcome { kDelivered, kDropped, kDeadline };

class TenantQueue;
class WalSender;

// One `endpoint` block: HTTP client, request template and the per-tenant queues (memory) or
// the endpoint's WAL and its sender.
class EndpointClient {
 public:
  struct Metrics {
    metrics::Counter* sent_entries;
    metrics::Counter* sent_bytes;
    metrics::Counter* retries;
    metrics::Counter* refused;
    metrics::Gauge* queued_bytes;
    metrics::Family<metrics::Counter>* dropped;
    metrics::Family<metrics::Histogram>* duration;
  };

  EndpointClient(std::string component_id, const EndpointBlock& cfg, Metrics m, log::Logger logger,
                 const WalBlock& wal, std::string wal_dir, metrics::Registry* registry);
  ~EndpointClient();

  absl::Status enqueue(const Prepared& p, std::chrono::milliseconds overflow_wait);
  void stop(Clock::time_point deadline);
  const EndpointBlock& config() const { return cfg_; }
  bool walEnabled() const { return wal_enabled_; }
  const absl::Status& walStatus() const { return wal_status_; }

  // Sends one request (retries included). The uncompressed PushRequest is the concatenation
  // of `pieces`; `scratch` is the caller's reusable compression buffer.
  Outcome send(const std::vector<std::string_view>& pieces, std::string* scratch, uint64_t entries,
               uint64_t bytes, const std::string& tenant, StopState& stop,
               std::string* deadline_reason);
  void drop(uint64_t entries, const std::string& reason, std::string_view detail);

 private:
  friend class TenantQueue;
  friend class WalSender;
  TenantQueue* queueFor(const std::string& tenant);
  absl::Status enqueueWal(const Prepared& p, const std::string& tenant,
                          const std::vector<uint32_t>* records,
                          std::chrono::milliseconds overflow_wait);
  metrics::Histogram* durationFor(int status);

  std::string component_id_;
  EndpointBlock cfg_;
  Metrics m_;
  log::Logger logger_;
  net::HttpClient client_;
  std::vector<std::pair<std::string, std::string>> auth_headers_;
  std::mutex queues_mu_;  // guards queues_ (looked up once per push and tenant)
  std::map<std::string, std::unique_ptr<TenantQueue>> queues_;
  bool stopped_ = false;  // guarded by queues_mu_
  log::OnceEvery drop_log_{std::chrono::seconds(60)};
  log::OnceEvery retry_log_{std::chrono::seconds(60)};
  std::mutex duration_mu_;  // guards duration_by_status_ (resolved once per status code)
  std::unordered_map<int, metrics::Histogram*> duration_by_status_;
  // WAL mode.
  bool wal_enabled_ = false;
  absl::Status wal_status_;  // why the WAL could not be opened
  std::unique_ptr<queue::DiskQueue> wal_;
  uint64_t wal_max_ = 0;
  std::unique_ptr<WalSender> wal_sender_;
  std::mutex room_mu_;  // with room_cv_: pushers waiting for WAL space
  std::condition_variable room_cv_;
};

}  // namespace telegate::loki::write
