// The sending queue of otelcol exporters: where consume() leaves batches for the sender threads.
//
// Contract:
//  * push() takes a batch if there is room and returns OK; when full it returns
//    RESOURCE_EXHAUSTED "sending queue is full" at once, or, with a `deadline` in the future,
//    waits for room until then (block_on_overflow). After close() it returns UNAVAILABLE.
//    A batch is never dropped by the queue itself: refused batches stay with the caller.
//  * pop() blocks until a batch is available and returns it with an id, or returns nullopt once
//    the queue is closed and empty (or `wait` is false and nothing is queued).
//  * Every popped item is settled exactly once: ack(id) when it was delivered or deliberately
//    dropped (the exporter counted it), nack(id) when it could not be handled and a durable queue
//    should offer it again after a restart. The in-memory queue forgets items on pop, so both are
//    no-ops there; a disk queue (src/queue/DiskQueue: push(record, meta)/pop(wait)/ack/nack) can
//    implement this interface by serialising the Batch (payload, signal, items, tenant).
//  * size() counts batches waiting (not those being sent); capacity() is the bound.
//  * MemoryQueue charges each batch's payload size to a MemoryBudget (the process-wide one by
//    default) from push() until the popped item is settled (ack or nack); items never popped are
//    released when the queue is destroyed. When the budget cannot take a batch, push() returns
//    RESOURCE_EXHAUSTED "memory limit reached" at once (the caller keeps the batch).
// Thread-safety: all methods may be called concurrently from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "absl/status/status.h"
#include "src/common/memory_budget.h"
#include "src/pdata/batch.h"

namespace telegate::otelcol::exporterhelper {

struct QueuedBatch {
  uint64_t id = 0;
  pdata::Batch batch;
};

class SendQueue {
 public:
  virtual ~SendQueue() = default;
  virtual absl::Status push(pdata::Batch&& batch,
                            std::chrono::steady_clock::time_point deadline) = 0;
  virtual std::optional<QueuedBatch> pop(bool wait) = 0;
  virtual void ack(uint64_t id) = 0;
  virtual void nack(uint64_t id) = 0;
  // Stops accepting: push() fails, pop() returns what is left and then nullopt. Wakes waiters.
  virtual void close() = 0;
  virtual size_t size() const = 0;
  virtual size_t capacity() const = 0;
  // Changes the bound (a reload); batches beyond a smaller bound stay queued.
  virtual void setCapacity(size_t capacity) = 0;
  // True when queued batches outlive the process (storage = "disk"): the exporter then nacks,
  // instead of dropping, batches it could not deliver before a shutdown deadline.
  virtual bool durable() const { return false; }
};

// A bounded FIFO of batches in memory (sizer "requests": one batch counts one).
class MemoryQueue final : public SendQueue {
 public:
  explicit MemoryQueue(size_t capacity, MemoryBudget* budget = &globalMemoryBudget())
      : capacity_(capacity), budget_(budget) {}
  ~MemoryQueue() override;
  absl::Status push(pdata::Batch&& batch, std::chrono::steady_clock::time_point deadline) override;
  std::optional<QueuedBatch> pop(bool wait) override;
  // Both release the item's memory charge; the in-memory queue has nothing else to settle.
  void ack(uint64_t id) override { settle(id); }
  void nack(uint64_t id) override { settle(id); }
  void close() override;
  size_t size() const override;
  size_t capacity() const override;
  void setCapacity(size_t capacity) override;

  // Bytes this queue holds charged to its budget (queued and popped but not yet settled).
  size_t chargedBytes() const;

 private:
  void settle(uint64_t id);

  mutable std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<QueuedBatch> items_;
  size_t capacity_;
  MemoryBudget* const budget_;
  std::unordered_map<uint64_t, size_t> charged_;  // id → bytes, from push() until settled
  size_t charged_total_ = 0;
  uint64_t next_id_ = 1;
  bool closed_ = false;
};

}  // namespace telegate::otelcol::exporterhelper
