#include "src/components/otelcol/exporterhelper/queue.h"

namespace telegate::otelcol::exporterhelper {

absl::Status MemoryQueue::push(pdata::Batch&& batch,
                               std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> l(mu_);
  while (!closed_ && items_.size() >= capacity_) {
    if (not_full_.wait_until(l, deadline) == std::cv_status::timeout) break;
  }
  if (closed_) return absl::UnavailableError("exporter is shutting down");
  if (items_.size() >= capacity_) return absl::ResourceExhaustedError("sending queue is full");
  const size_t bytes = batch.payload.size();
  if (!budget_->tryReserve(bytes)) {
    return absl::ResourceExhaustedError("memory limit reached");
  }
  const uint64_t id = next_id_++;
  if (bytes > 0) {
    charged_.emplace(id, bytes);
    charged_total_ += bytes;
  }
  items_.push_back(QueuedBatch{id, std::move(batch)});
  l.unlock();
  not_empty_.notify_one();
  return absl::OkStatus();
}

MemoryQueue::~MemoryQueue() {
  budget_->release(charged_total_);
}

void MemoryQueue::settle(uint64_t id) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = charged_.find(id);
  if (it == charged_.end()) return;  // settled already, or an empty payload
  budget_->release(it->second);
  charged_total_ -= it->second;
  charged_.erase(it);
}

size_t MemoryQueue::chargedBytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return charged_total_;
}

std::optional<QueuedBatch> MemoryQueue::pop(bool wait) {
  std::unique_lock<std::mutex> l(mu_);
  if (wait) not_empty_.wait(l, [&] { return closed_ || !items_.empty(); });
  if (items_.empty()) return std::nullopt;
  QueuedBatch q = std::move(items_.front());
  items_.pop_front();
  l.unlock();
  not_full_.notify_one();
  return q;
}

void MemoryQueue::close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
  }
  not_empty_.notify_all();
  not_full_.notify_all();
}

size_t MemoryQueue::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return items_.size();
}

size_t MemoryQueue::capacity() const {
  std::lock_guard<std::mutex> l(mu_);
  return capacity_;
}

void MemoryQueue::setCapacity(size_t capacity) {
  {
    std::lock_guard<std::mutex> l(mu_);
    capacity_ = capacity;
  }
  not_full_.notify_all();
}

}  // namespace telegate::otelcol::exporterhelper
