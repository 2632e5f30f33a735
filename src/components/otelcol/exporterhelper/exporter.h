// The exporter chain shared by otelcol exporters, like the OTel Collector's exporterhelper:
// consume() -> sending_queue -> num_consumers sender threads -> retry_on_failure -> Sender.
//
// Contract:
//  * consume() (Consumer contract, src/components/otelcol/consumer.h) puts the batch into the
//    queue as it is (batches of different tenants are never merged) and returns OK, or
//    RESOURCE_EXHAUSTED "sending queue is full" when there is no room (with block_on_overflow it
//    first waits up to `overflow_wait`), or UNAVAILABLE once shutdown began. Nothing is dropped
//    silently: refused batches stay with the caller, which answers 429/503.
//    With sending_queue.enabled = false the batch is sent on the caller's thread (with retries)
//    and the outcome is returned: OK, UNAVAILABLE (retries exhausted) or the permanent error.
//  * Sender threads retry retryable failures with exponential backoff and jitter
//    (retry_on_failure), waiting at least the server's throttle delay; a failure once
//    max_elapsed_time would be exceeded, a permanent failure, or any failure with retries
//    disabled drops the batch. Every dropped item is counted in
//    telegate_exporter_send_failed_items_total{component_id,signal,reason} with reason
//    "retries_exhausted", "permanent", "send_failed" (retries disabled), "partial_success"
//    (items the server rejected) or "shutdown"; each reason is logged at most once per minute.
//  * Metrics: telegate_exporter_sent_items_total{component_id,signal},
//    telegate_exporter_retries_total{component_id,signal},
//    telegate_exporter_enqueue_failed_items_total{component_id,signal},
//    telegate_exporter_queue_size{component_id}, telegate_exporter_queue_capacity{component_id},
//    telegate_exporter_send_seconds{component_id,signal} (one observation per attempt).
//  * shutdown(deadline): stops accepting, wakes batches waiting for a retry, gives every batch
//    still queued or waiting one more attempt (bounded by the deadline), and counts what is left
//    at the deadline as dropped with reason "shutdown". Returns once the sender threads exited:
//    attempts started after shutdown began end by the deadline; an attempt already in flight
//    runs to its own timeout (it is not cancelled). Idempotent. With a durable queue
//    (sending_queue.storage = "disk") nothing is dropped at shutdown: batches not delivered by
//    the deadline are nacked and stay on disk, and queued ones are left for the next start.
//  * durable(): true when the queue is enabled and durable (storage = "disk", also while it could
//    not be opened: consume() then refuses everything). An OK from consume() then means the batch
//    is written to the disk queue (synced per its fsync policy), so otelcol.processor.batch in
//    front of it passes requests through instead of buffering them (consumer.h).
//  * Merging: a sender thread that takes a batch from a durable queue also takes the batches
//    queued right behind it, without waiting, while they have the same signal and tenant and the
//    sum stays within Settings::merge_max_items items and merge_max_bytes bytes (a single larger
//    batch is sent alone). OTLP Export*ServiceRequest wire bytes are concatenated (the top-level
//    field is repeated), the merged request is sent with retries as one batch, and every merged
//    record is settled with its outcome (all acked, or all nacked at a shutdown deadline). This is
//    the batching the processor no longer does in front of a durable queue. The first batch that
//    does not fit is kept by that thread as the start of its next request.
//  * update() swaps the Sender and the settings for batches attempted afterwards; a larger
//    num_consumers starts more threads (a smaller one takes effect at the next restart).
// Thread-safety: consume() from any thread; start/update/shutdown from the controller thread.
// The hot path takes only the queue's mutex.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "src/common/log.h"
#include "src/common/metrics.h"
#include "src/components/otelcol/config.h"
#include "src/components/otelcol/consumer.h"
#include "src/components/otelcol/exporterhelper/queue.h"
#include "src/components/otelcol/exporterhelper/sender.h"

namespace telegate::otelcol::exporterhelper {

struct Settings {
  QueueBlock queue;
  RetryBlock retry;
  std::chrono::nanoseconds timeout{std::chrono::seconds(5)};        // per attempt
  std::chrono::nanoseconds overflow_wait{std::chrono::seconds(5)};  // block_on_overflow bound
  // Durable queue: consecutive queued batches of one signal and tenant merged into one request
  // (not configurable; the defaults are otelcol.processor.batch's send_batch_max_size and gRPC's
  // default 4 MiB message limit).
  uint64_t merge_max_items = 3000;
  size_t merge_max_bytes = 4u << 20;
  // queue.storage = "disk": the queue directory (<host.dataPath()>/queue), used once, when the
  // Exporter is constructed. Empty with storage = "disk": the queue is unavailable.
  std::string queue_dir;
};

class Exporter final : public Consumer {
 public:
  // `queue` null: a MemoryQueue of settings.queue.queue_size, or with queue.storage = "disk" a
  // DiskSendQueue in settings.queue_dir. When the disk queue cannot be opened, queueStatus() is
  // the error and consume() returns UNAVAILABLE (no fallback to memory: accepted data is never
  // pretended durable). Storage settings changed by update() take effect at the next start.
  Exporter(std::string component_id, Settings settings, std::shared_ptr<Sender> sender,
           log::Logger logger, metrics::Registry& metrics,
           std::unique_ptr<SendQueue> queue = nullptr);
  ~Exporter() override;

  bool acceptsSignal(pdata::Signal) const override { return true; }
  absl::Status consume(pdata::Batch&& batch) override;
  std::string describe() const override { return id_ + ".input"; }
  bool durable(pdata::Signal) const override {
    return queue_enabled_.load(std::memory_order_relaxed) && queue_->durable();
  }

  void start();
  void update(Settings settings, std::shared_ptr<Sender> sender);
  void shutdown(std::chrono::steady_clock::time_point deadline);

  // OK, or why the disk queue could not be opened (the owner reports itself unhealthy).
  const absl::Status& queueStatus() const { return queue_status_; }
  size_t queueSize() const { return queue_->size(); }
  size_t queueCapacity() const { return queue_->capacity(); }
  // {queue_size, queue_capacity} for the admin API.
  syntax::Value debugInfo() const;

 private:
  struct SignalMetrics {
    metrics::Counter* sent = nullptr;
    metrics::Counter* retries = nullptr;
    metrics::Counter* enqueue_failed = nullptr;
    metrics::Histogram* latency = nullptr;
  };

  void worker();
  // Durable queue: appends to `first` the batches queued behind it that fit (see Merging above),
  // their ids to `ids`; the first one that does not fit goes to `*carry`.
  void mergeQueued(QueuedBatch* first, std::vector<uint64_t>* ids,
                   std::optional<QueuedBatch>* carry);
  // Sends with retries until delivered or dropped; counts and logs the outcome. Returns what a
  // synchronous caller (queue disabled) is told.
  // `requeue` (may be null): set instead of dropping when shutdown stops delivery and the queue
  // is durable; the caller then nacks the batch so it is sent after the next start.
  absl::Status process(pdata::Batch& batch, bool* requeue = nullptr);
  void drop(const pdata::Batch& batch, uint64_t items, const std::string& reason,
            const std::string& detail);
  std::shared_ptr<Sender> currentSender(Settings* settings) const;
  // Waits `d` or until shutdown begins; false when shutdown began.
  bool sleepFor(std::chrono::nanoseconds d);
  void updateGauges();

  const std::string id_;
  const log::Logger logger_;
  metrics::Registry& metrics_;
  std::unique_ptr<SendQueue> queue_;
  absl::Status queue_status_;

  mutable std::mutex cfg_mu_;  // guards settings_ and sender_
  Settings settings_;
  std::shared_ptr<Sender> sender_;
  std::atomic<bool> queue_enabled_{true};
  std::atomic<bool> block_on_overflow_{false};
  std::atomic<int64_t> overflow_wait_ns_{0};

  std::array<SignalMetrics, 3> signal_metrics_;
  metrics::Family<metrics::Counter>* failed_ = nullptr;
  metrics::Gauge* queue_size_ = nullptr;
  metrics::Gauge* queue_capacity_ = nullptr;

  std::mutex log_mu_;  // guards limiters_
  std::map<std::string, std::unique_ptr<log::OnceEvery>> limiters_;

  std::mutex stop_mu_;  // guards the fields below
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_deadline_{};
  std::vector<std::thread> threads_;
  bool started_ = false;
  std::atomic<bool> shut_down_{false};
};

}  // namespace telegate::otelcol::exporterhelper
