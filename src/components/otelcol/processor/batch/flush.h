// Two pieces of otelcol.processor.batch kept apart from the batcher (batch.cc):
//
// passThrough(outputs, batch, &refused_by): hands one request to every output synchronously, for
// outputs that are all durable (consumer.h): the client's answer then waits for the durable
// append instead of a memory buffer. Contract:
//   * An output listed twice is served once. Every output but the last gets a copy; the last gets
//     the batch itself unless an earlier output refused (the caller must then get its batch back
//     untouched).
//   * Stops at the first output that does not answer OK and returns that status with
//     *refused_by set to its index (outputs before it keep what they accepted: the client's retry
//     may deliver those items twice, the at-least-once contract). A retryable refusal
//     (RESOURCE_EXHAUSTED/UNAVAILABLE) leaves the batch as it was, so the caller may retry it;
//     an output that refused that way after moving from the batch breaks consumer.h, and the
//     refusal is turned into INTERNAL (permanent) so nobody retries an emptied batch.
//   * Returns OK when every output accepted. Blocks only as long as the outputs' consume() does.
//
// drainInParallel(n, attempt, deadline): the shutdown flush of n batchers. attempt(i) makes one
// try to deliver everything batcher i holds and returns true when nothing is left. Contract:
//   * Up to kMaxDrainThreads threads (never more than n) take batchers round robin: one that is
//     not done goes to the back of the line and is tried again `pause` later, so one output that
//     keeps refusing (or is slow) does not hold back the other signals and tenants; each batcher is
//     tried at least once, even with a deadline in the past.
//   * Returns when every batcher is done or the deadline passed; result[i] tells whether batcher i
//     is done. attempt() is never called for the same i on two threads at once.
//   * Threads are joined before returning; attempt() must not block past the deadline for long
//     (the batch processor's outputs never block for long, consumer.h).
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "src/common/strings.h"
#include "src/components/otelcol/consumer.h"

namespace telegate::otelcol::processor_batch {

inline absl::Status passThrough(const std::vector<ConsumerPtr>& outs, pdata::Batch&& batch,
                                size_t* refused_by) {
  auto servedBefore = [&](size_t i) {
    return std::find(outs.begin(), outs.begin() + static_cast<std::ptrdiff_t>(i), outs[i]) !=
           outs.begin() + static_cast<std::ptrdiff_t>(i);
  };
  size_t last = outs.size();
  for (size_t i = outs.size(); i-- > 0;) {
    if (!servedBefore(i)) {
      last = i;
      break;
    }
  }
  const uint64_t items = batch.items;
  const size_t bytes = batch.payload.size();
  for (size_t i = 0; i < outs.size(); ++i) {
    if (servedBefore(i)) continue;
    absl::Status st;
    const bool move = i == last;
    if (move) {
      st = outs[i]->consume(std::move(batch));
    } else {
      pdata::Batch copy = batch;
      st = outs[i]->consume(std::move(copy));
    }
    if (st.ok()) continue;
    *refused_by = i;
    const bool retryable = st.code() == absl::StatusCode::kResourceExhausted ||
                           st.code() == absl::StatusCode::kUnavailable;
    if (retryable && move && (batch.items != items || batch.payload.size() != bytes)) {
      return absl::InternalError(
          strCat(outs[i]->describe(), " refused a batch it had moved from: ", st.message()));
    }
    return st;
  }
  return absl::OkStatus();
}

constexpr size_t kMaxDrainThreads = 8;

inline std::vector<bool> drainInParallel(
    size_t n, const std::function<bool(size_t)>& attempt,
    std::chrono::steady_clock::time_point deadline,
    std::chrono::steady_clock::duration pause = std::chrono::milliseconds(100)) {
  using Clock = std::chrono::steady_clock;
  struct Turn {
    size_t index;
    Clock::time_point not_before;
  };
  std::vector<bool> done(n, false);
  std::mutex mu;  // guards line, done, tried
  std::condition_variable cv;
  std::deque<Turn> line;
  for (size_t i = 0; i < n; ++i) line.push_back(Turn{i, Clock::time_point{}});
  size_t busy = 0;
  auto work = [&] {
    std::unique_lock<std::mutex> l(mu);
    for (;;) {
      if (line.empty()) {
        if (busy == 0) break;
        cv.wait(l);  // a busy thread may put its batcher back
        continue;
      }
      Turn t = line.front();
      auto now = Clock::now();
      if (t.not_before > now) {
        if (now >= deadline) break;  // tried once already, and the time is up
        cv.wait_until(l, std::min(t.not_before, deadline));
        continue;
      }
      line.pop_front();
      ++busy;
      l.unlock();
      const bool ok = attempt(t.index);
      l.lock();
      --busy;
      if (ok) {
        done[t.index] = true;
      } else if (Clock::now() < deadline) {
        line.push_back(Turn{t.index, Clock::now() + pause});
      }
      cv.notify_all();
    }
    cv.notify_all();
  };
  std::vector<std::thread> threads;
  const size_t k = std::min(n, kMaxDrainThreads);
  for (size_t i = 1; i < k; ++i) threads.emplace_back(work);
  if (k > 0) work();
  for (auto& t : threads) t.join();
  return done;
}

}  // namespace telegate::otelcol::processor_batch
