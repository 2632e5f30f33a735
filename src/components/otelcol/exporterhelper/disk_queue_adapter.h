// A SendQueue kept on disk (sending_queue { storage = "disk" }): batches accepted by consume()
// survive a backend outage and a restart or crash of telegate, up to a byte bound.
//
// Contract:
//  * Storage: one queue::DiskQueue (src/queue/disk_queue.h) per exporter, in its own directory
//    (`<storage.path>/<component id>/queue`). A batch is one record:
//      record = the payload (OTLP protobuf request), written and read back without a copy
//      meta   = [0xFF][signal u8][items u64 little-endian][tenant of batch.client]
//    An empty tenant means no client info; auth_name is not kept. Records of the first format,
//    written by older versions, are still decoded: record = [signal u8][items u64][payload], meta =
//    the tenant. The two are told apart by the first meta byte: 0xFF never starts a UTF-8 tenant.
//    Records found on disk at open() (not acknowledged before a restart or crash) are delivered
//    first, oldest first: they are ordinary queued items.
//  * push() returns once the record is written (and synced per `fsync`). RESOURCE_EXHAUSTED
//    "sending queue is full" when the byte bound is reached (consume() callers answer 429/503);
//    with a `deadline` in the future it first waits for room until then (block_on_overflow).
//    INVALID_ARGUMENT for a batch larger than the whole bound or a tenant longer than 65525
//    bytes; UNAVAILABLE after close() or on
//    an I/O error (e.g. a full file system): accepted data is never pretended durable.
//  * pop(wait) hands out the oldest record not with another consumer, decoded into a Batch with
//    the DiskQueue record id. A record that does not decode (unknown signal, too short) is
//    acknowledged, skipped and counted in corruptRecords(). pop() returns nullopt once close()
//    was called (records left stay on disk for the next start) or when `wait` is false and
//    nothing is ready.
//  * ack(id) frees the record (space is reclaimed a segment at a time); nack(id) makes it
//    available again (also after a restart). Every popped item must be settled, else its
//    segment and all later ones cannot be reclaimed.
//  * size() is the number of records on disk not acknowledged (including popped ones);
//    capacity() is the bound IN BYTES (sending_queue.max_size), not in batches; setCapacity()
//    is ignored (the bound is fixed at open; a new max_size takes effect at the next start).
//  * close() stops accepting and wakes pop(); the DiskQueue itself is closed (checkpoint written,
//    directory lock released) by the destructor, so acks of batches still being sent after
//    close() are recorded. durable() is true: the exporter nacks, rather than drops, batches it
//    could not deliver before a shutdown deadline.
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/components/otelcol/exporterhelper/queue.h"
#include "src/pdata/batch.h"
#include "src/queue/disk_queue.h"

namespace telegate::otelcol::exporterhelper {

// The meta of a batch's DiskSendQueue record (see the file comment); the record is the payload.
std::string encodeBatchMeta(const pdata::Batch& batch);
// Decodes a record and its meta, of either format; the payload is moved out of `record` (current
// format). INVALID_ARGUMENT (DATA_LOSS-like damage) when malformed.
absl::StatusOr<pdata::Batch> decodeBatchRecord(std::string record, std::string_view meta);

class DiskSendQueue final : public SendQueue {
 public:
  // Opens (creating if needed) the queue directory `opts.dir` and recovers what is there.
  // Fails like queue::DiskQueue::open (e.g. FAILED_PRECONDITION: the directory is locked by
  // another open queue; INTERNAL: I/O error).
  static absl::StatusOr<std::unique_ptr<DiskSendQueue>> open(queue::DiskQueueOptions opts);
  ~DiskSendQueue() override;

  absl::Status push(pdata::Batch&& batch, std::chrono::steady_clock::time_point deadline) override;
  std::optional<QueuedBatch> pop(bool wait) override;
  void ack(uint64_t id) override;
  void nack(uint64_t id) override;
  void close() override;
  size_t size() const override;
  size_t capacity() const override;  // bytes
  void setCapacity(size_t) override {}
  bool durable() const override { return true; }

  uint64_t liveBytes() const { return q_->liveBytes(); }
  uint64_t corruptRecords() const { return corrupt_.load(); }

 private:
  explicit DiskSendQueue(std::unique_ptr<queue::DiskQueue> q, uint64_t max_bytes);

  std::unique_ptr<queue::DiskQueue> q_;
  const uint64_t max_bytes_;
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> corrupt_{0};
  std::mutex room_mu_;  // with room_cv_: block_on_overflow pushers wait for an ack
  std::condition_variable room_cv_;
};

// A SendQueue standing in for a disk queue that could not be opened: push() always returns
// UNAVAILABLE with `why` (fail safe: never accept data that would not be durable), pop() blocks
// until close(). Thread-safe.
class UnavailableQueue final : public SendQueue {
 public:
  explicit UnavailableQueue(absl::Status why) : why_(std::move(why)) {}
  absl::Status push(pdata::Batch&& batch, std::chrono::steady_clock::time_point deadline) override;
  std::optional<QueuedBatch> pop(bool wait) override;
  void ack(uint64_t) override {}
  void nack(uint64_t) override {}
  void close() override;
  size_t size() const override { return 0; }
  size_t capacity() const override { return 0; }
  void setCapacity(size_t) override {}
  bool durable() const override { return true; }

 private:
  const absl::Status why_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
};

}  // namespace telegate::otelcol::exporterhelper
