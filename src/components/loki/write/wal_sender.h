// loki.write WAL driver: the sender thread reading an endpoint's WAL.
//
// Contract: see the class comment; EndpointClient::enqueueWal() (wal_sender.cc) is the writing
// side: one WAL record per tenant and batch_size worth of entries, waiting for room with
// block_on_overflow.
// Threads: one sender thread per endpoint; stop() and join() from the owning EndpointClient.
#pragma once

#include <algorithm>
#include <thread>

#include "src/components/loki/write/endpoint.h"

namespace telegate::loki::write {

// Reads an endpoint's WAL: groups consecutive records of one tenant up to batch_size (waiting
// up to batch_wait for more), sends them as one request and acknowledges them after a 2xx or a
// permanent drop. Records still unsent at the shutdown deadline are released (nack) and stay on
// disk for the next start.
class WalSender {
 public:
  WalSender(EndpointClient* ep, std::chrono::milliseconds read_wait)
      : ep_(ep), read_wait_(read_wait) {
    thread_ = std::thread([this] { run(); });
  }
  ~WalSender() {
    stop(Clock::now());
    if (thread_.joinable()) thread_.join();
  }
  void stop(Clock::time_point deadline) { stop_.stop(deadline); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  bool draining() {
    std::lock_guard<std::mutex> lk(stop_.mu);
    return stop_.draining;
  }
  bool pastDeadline() {
    std::lock_guard<std::mutex> lk(stop_.mu);
    return stop_.draining && Clock::now() >= stop_.deadline;
  }

  void run() {
    queue::DiskQueue& q = *ep_->wal_;
    const uint64_t limit = ep_->cfg_.batch_size.bytes;
    const auto batch_wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(ep_->cfg_.batch_wait.value);
    const auto idle_wait = std::max<std::chrono::milliseconds>(
        std::chrono::milliseconds(1),
        std::min<std::chrono::milliseconds>(std::chrono::milliseconds(200), read_wait_));
    std::optional<queue::DiskQueue::Item> carry;
    std::vector<queue::DiskQueue::Item> group;
    std::vector<std::string_view> pieces;
    std::string scratch;
    while (true) {
      if (pastDeadline()) break;
      const bool drain = draining();
      std::optional<queue::DiskQueue::Item> first;
      if (carry) {
        first = std::move(carry);
        carry.reset();
      } else {
        first = q.pop(drain ? std::chrono::milliseconds(0) : idle_wait);
      }
      if (!first) {
        if (drain) break;  // nothing left to send
        continue;
      }
      group.clear();
      uint64_t entries = 0, bytes = 0;
      auto take = [&](queue::DiskQueue::Item&& it) {
        uint64_t n = 0, b = 0;
        std::string_view part;
        if (!parseWalRecord(it.record, &n, &b, &part)) {
          ep_->drop(1, "corrupt", "unreadable WAL record");
          q.ack(it.id);
          return;
        }
        entries += n;
        bytes += b;
        group.push_back(std::move(it));
      };
      const std::string tenant = first->meta;
      take(std::move(*first));
      auto until = Clock::now() + batch_wait;
      while (bytes < limit) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
        if (draining()) left = std::chrono::milliseconds(0);
        auto next = q.pop(std::max(left, std::chrono::milliseconds(0)));
        if (!next) break;
        if (next->meta != tenant) {
          carry = std::move(next);
          break;
        }
        take(std::move(*next));
      }
      if (group.empty()) continue;
      pieces.clear();
      for (const auto& it : group) pieces.push_back(std::string_view(it.record).substr(kWalHeader));
      std::string reason;
      Outcome o = ep_->send(pieces, &scratch, entries, bytes, tenant, stop_, &reason);
      if (o == Outcome::kDeadline) {
        for (const auto& it : group) q.nack(it.id);
        break;
      }
      for (const auto& it : group) q.ack(it.id);
      {
        std::lock_guard<std::mutex> lk(ep_->room_mu_);
        ep_->room_cv_.notify_all();
      }
      if (scratch.size() > (16u << 20)) std::string().swap(scratch);
    }
    if (carry) q.nack(carry->id);
  }

 private:
  EndpointClient* ep_;
  const std::chrono::milliseconds read_wait_;
  StopState stop_;
  std::thread thread_;
};

}  // namespace telegate::loki::write
