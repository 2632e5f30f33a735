// otelcol.processor.batch, Core (core.h): flushes that no producer drives. The timer thread
// (startTimer, timerLoop) sends what has been pending for `timeout`, retries refused pieces when
// their backoff ends and flushes everything after update() changed the outputs. shutdown() stops
// intake and the timer, then flushes every batcher holding data in parallel (flush.h,
// drainInParallel) until the deadline and counts what is left as dropped (reason "shutdown").
// Threading: the timer takes a batcher's send_mu with try_lock and skips a batcher a producer is
// sending for; shutdown() joins the timer before it flushes.
#include <algorithm>

#include "src/components/otelcol/processor/batch/core.h"
#include "src/components/otelcol/processor/batch/flush.h"

namespace telegate::otelcol::processor_batch {

void Core::startTimer() {
  std::lock_guard<std::mutex> l(timer_mu_);
  if (timer_.joinable() || stop_timer_) return;
  timer_ = std::thread([self = shared_from_this()] { self->timerLoop(); });
}

void Core::shutdown(Clock::time_point deadline) {
  stopped_.store(true);
  {
    std::lock_guard<std::mutex> l(timer_mu_);
    stop_timer_ = true;
    timer_cv_.notify_all();
  }
  if (timer_.joinable()) timer_.join();
  // Every batcher (signal x tenant) that holds data is flushed in parallel, round robin, so an
  // output that keeps refusing does not use up the deadline of the others.
  std::vector<std::shared_ptr<Batcher>> holding;
  for (Signal s : kSignals) {
    auto map = batchers_[idx(s)].load();
    for (const auto& [tenant, b] : *map) {
      std::lock_guard<std::mutex> l(b->mu);
      if (b->pending_items > 0 || b->held_items > 0) holding.push_back(b);
    }
  }
  drainInParallel(
      holding.size(),
      [&](size_t i) {
        std::lock_guard<std::mutex> sl(holding[i]->send_mu);
        return sendLocked(*holding[i], Trigger::kShutdown, /*all=*/true, /*force=*/true);
      },
      deadline);
  for (const auto& b : holding) {
    std::lock_guard<std::mutex> sl(b->send_mu);
    dropEverything(*b, "shutdown");
  }
}

void Core::dropEverything(Batcher& b, std::string_view reason) {
  uint64_t items = 0;
  for (const auto& e : b.retry) items += e.batch.items;
  b.retry.clear();
  {
    std::lock_guard<std::mutex> l(b.mu);
    items += b.pending_items;
    b.pending.clear();
    b.pending_items = 0;
    b.held_items = 0;
    releaseLocked(b, b.charged);
  }
  countDrop(b.signal, reason, items, "the outputs did not accept the data before the deadline");
}

void Core::timerLoop() {
  std::unique_lock<std::mutex> tl(timer_mu_);
  while (!stop_timer_) {
    bool flush_all = flush_all_;
    flush_all_ = false;
    rescan_ = false;
    tl.unlock();
    auto live = live_.load();
    auto now = Clock::now();
    const bool timed = live->timeout > Clock::duration::zero() && live->send_batch_size > 0;
    Clock::duration idle = std::chrono::seconds(1);
    if (timed) idle = std::min<Clock::duration>(idle, live->timeout);
    auto next = now + idle;
    for (Signal s : kSignals) {
      auto map = batchers_[idx(s)].load();
      for (const auto& [tenant, b] : *map) {
        bool due = false;
        {
          std::lock_guard<std::mutex> l(b->mu);
          bool has_data = b->pending_items > 0 || b->held_items > 0;
          if (!has_data) continue;
          Clock::time_point when = Clock::time_point::max();
          if (b->held_items > 0) when = b->retry_at;
          if (b->pending_items > 0) {
            Clock::time_point t = timed ? b->oldest + live->timeout
                                  : b->pending_items >= std::max<uint64_t>(live->send_batch_size, 1)
                                      ? now
                                      : Clock::time_point::max();
            when = std::min(when, std::max(t, b->retry_at));
          }
          if (flush_all) when = std::min(when, std::max(now, b->retry_at));
          due = when <= now;
          if (!due && when < next) next = when;
        }
        if (!due) continue;
        std::unique_lock<std::mutex> sl(b->send_mu, std::try_to_lock);
        if (!sl.owns_lock()) continue;  // a producer is sending for it right now
        sendLocked(*b, flush_all ? Trigger::kUpdate : Trigger::kTimeout, /*all=*/true,
                   /*force=*/false);
      }
    }
    tl.lock();
    if (stop_timer_ || flush_all_ || rescan_) continue;
    timer_cv_.wait_until(tl, next);
  }
}

}  // namespace telegate::otelcol::processor_batch
