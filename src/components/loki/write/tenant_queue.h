// loki.write memory queue: one (endpoint, tenant) pair's batches and its sender thread.
//
// Contract: enqueue() appends entries to the open batch (sealed at batch_size or batch_wait),
// bounded by queue_config.capacity bytes and globalMemoryBudget(); the sender thread sends
// sealed batches one at a time through EndpointClient::send() and releases their bytes.
// stop(deadline) seals what is open and lets the sender drain until the deadline (then drops
// with reason "shutdown"); join() waits for the sender.
// Threads: enqueue() from any pusher thread (mu_); one sender thread per queue.
#pragma once

#include <deque>
#include <thread>

#include "src/common/memory_budget.h"
#include "src/components/loki/write/endpoint.h"

namespace telegate::loki::write {

class TenantQueue {
 public:
  TenantQueue(EndpointClient* ep, std::string tenant) : ep_(ep), tenant_(std::move(tenant)) {
    thread_ = std::thread([this] { run(); });
  }
  ~TenantQueue() {
    if (thread_.joinable()) {
      stop(Clock::now());
      thread_.join();
    }
    // The sender exits only when everything was sent or dropped; give back any remainder.
    globalMemoryBudget().release(queued_);
  }

  // `bytes` (line and structured metadata sizes) is also charged to globalMemoryBudget() until
  // the batch holding the entries was sent or dropped; when it cannot be, RESOURCE_EXHAUSTED.
  // `records`: indices of the batch's records for this tenant (nullptr: all).
  absl::Status enqueue(const Prepared& p, const std::vector<uint32_t>* records, uint64_t bytes,
                       bool block, std::chrono::milliseconds wait) {
    const size_t count = records != nullptr ? records->size() : p.batch->size();
    std::unique_lock<std::mutex> lk(mu_);
    const uint64_t cap = ep_->cfg_.queue_config.capacity.bytes;
    auto fits = [&] { return draining_ || queued_ == 0 || queued_ + bytes <= cap; };
    if (!fits()) {
      if (block) space_cv_.wait_for(lk, wait, fits);
      if (!fits()) {
        ep_->m_.refused->inc(static_cast<double>(count));
        return absl::ResourceExhaustedError(
            strCat("loki.write queue for ", ep_->cfg_.url,
                   tenant_.empty() ? std::string() : strCat(" tenant \"", tenant_, "\""),
                   " is full (", queued_, " of ", cap, " bytes)"));
      }
    }
    if (draining_) return absl::UnavailableError("loki.write is shutting down");
    if (!globalMemoryBudget().tryReserve(bytes)) {
      ep_->m_.refused->inc(static_cast<double>(count));
      return absl::ResourceExhaustedError(
          strCat("loki.write queue for ", ep_->cfg_.url, ": memory limit reached"));
    }
    const uint64_t limit = ep_->cfg_.batch_size.bytes;
    const EntryBatch& b = *p.batch;
    // Batch stream -> stream of current_ (reset when current_ is sealed).
    stream_map_.assign(b.streams.size(), UINT32_MAX);
    for (size_t i = 0; i < count; ++i) {
      const auto& r = b.records[records != nullptr ? (*records)[i] : i];
      uint64_t size = recordBytes(b, r);
      if (current_.entries > 0 && current_.bytes + size > limit) {
        seal();
        stream_map_.assign(b.streams.size(), UINT32_MAX);
      }
      uint32_t& s = stream_map_[r.stream];
      if (s == UINT32_MAX) s = current_.streamFor(p.labels[r.stream]);
      current_.add(s, b, r, size);
    }
    queued_ += bytes;
    ep_->m_.queued_bytes->add(static_cast<double>(bytes));
    cv_.notify_one();
    return absl::OkStatus();
  }

  void stop(Clock::time_point deadline) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      draining_ = true;
      cv_.notify_all();
      space_cv_.notify_all();
    }
    stop_.stop(deadline);
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  void seal() {
    ready_.push_back(std::move(current_));
    current_ = PendingBatch();
  }

  void run() {
    std::unique_lock<std::mutex> lk(mu_);
    std::string headers, scratch;
    std::vector<std::string_view> pieces;
    while (true) {
      if (!ready_.empty()) {
        PendingBatch b = std::move(ready_.front());
        ready_.pop_front();
        lk.unlock();
        b.segments(&headers, &pieces);
        const uint64_t entries = b.entries, bytes = b.bytes;
        std::string reason;
        Outcome o = ep_->send(pieces, &scratch, entries, bytes, tenant_, stop_, &reason);
        if (o == Outcome::kDeadline) ep_->drop(entries, "shutdown", reason);
        b = PendingBatch();
        if (scratch.size() > (16u << 20)) std::string().swap(scratch);
        lk.lock();
        queued_ -= bytes;
        globalMemoryBudget().release(bytes);
        ep_->m_.queued_bytes->sub(static_cast<double>(bytes));
        space_cv_.notify_all();
        continue;
      }
      const auto wait = ep_->cfg_.batch_wait.value;
      if (current_.entries > 0 && (draining_ || Clock::now() >= current_.created + wait)) {
        seal();
        continue;
      }
      if (draining_) return;
      if (current_.entries > 0) {
        cv_.wait_until(lk, current_.created + std::chrono::duration_cast<Clock::duration>(wait));
      } else {
        cv_.wait(lk);
      }
    }
  }

  EndpointClient* ep_;
  const std::string tenant_;
  std::mutex mu_;
  std::condition_variable cv_;        // work arrived / draining started
  std::condition_variable space_cv_;  // bytes were released
  PendingBatch current_;
  std::deque<PendingBatch> ready_;
  std::vector<uint32_t> stream_map_;  // guarded by mu_
  uint64_t queued_ = 0;               // bytes in current_, ready_ and in flight
  bool draining_ = false;
  StopState stop_;
  std::thread thread_;
};

}  // namespace telegate::loki::write
