// The batcher core of otelcol.processor.batch (batch.h has the component's contract). Internal to
// this directory: batch.cc (the component and its `input`), core.cc (consume, update, the
// batcher map, metrics), send.cc (cutting pieces off pending data and delivering them, retries,
// the memory charge) and drain.cc (the timer thread and shutdown) each define part of Core.
//
// Structure: the component owns a Core shared with its `input` capsule (which may outlive the
// component while dependents still hold it; after shutdown it refuses with UNAVAILABLE). The Core
// keeps, per signal, an immutable map tenant → Batcher published through an atomic shared_ptr:
// consume() finds its batcher without locking anything but that batcher; creating a batcher
// (first request of a tenant) copies the map under create_mu_.
//
// Threading: a Batcher has two locks. `mu` guards the pending buffer and counters and is held only
// to append or to move the buffer out. `send_mu` is held by the one thread that sends for this
// batcher (a producer crossing send_batch_size, or the timer); it guards the retry list. Producers
// take it with try_lock, so they never wait for another thread's send; the sender loops while
// enough is pending, so data appended meanwhile is not stranded. A single timer thread (drain.cc)
// sends what is due. Methods marked "send_mu held" need the caller to hold that batcher's send_mu,
// "b.mu held" its mu.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "src/common/log.h"
#include "src/common/metrics.h"
#include "src/components/otelcol/consumer.h"
#include "src/components/otelcol/processor/batch/batch.h"

namespace telegate::otelcol::processor_batch {

using Clock = std::chrono::steady_clock;
using pdata::Signal;

constexpr std::array<Signal, 3> kSignals = {Signal::kTraces, Signal::kMetrics, Signal::kLogs};
constexpr auto kInitialBackoff = std::chrono::milliseconds(200);
constexpr auto kMaxBackoff = std::chrono::seconds(5);
constexpr uint64_t kPendingBoundFactor = 10;
constexpr uint64_t kHealthyBoundFactor = 3;  // on top of max_pending while sends succeed
constexpr int kMaxSendRounds = 4;            // a producer sends at most this many rounds for others
// Share of the process memory budget pending data may take: the rest stays free for the
// exporters' queues, so pieces can always move on and release what the batcher holds.
constexpr unsigned kBudgetSharePercent = 75;

inline size_t idx(Signal s) {
  return static_cast<size_t>(s);
}

enum class Trigger { kSize, kTimeout, kShutdown, kUpdate, kPassThrough };
constexpr std::array<std::string_view, 5> kTriggerNames = {"size", "timeout", "shutdown", "update",
                                                           "pass_through"};

inline bool retryable(absl::StatusCode c) {
  return c == absl::StatusCode::kResourceExhausted || c == absl::StatusCode::kUnavailable;
}

// What a reload can change.
struct Live {
  std::array<std::vector<ConsumerPtr>, 3> outputs;
  Clock::duration timeout{};
  uint64_t send_batch_size = 0;
  uint64_t send_batch_max_size = 0;
  uint64_t max_pending = 0;  // per batcher
  uint64_t cardinality_limit = 0;
};

// The reloadable settings of `a`, with max_pending derived from the batch sizes.
std::shared_ptr<const Live> makeLive(const Arguments& a);

// A piece that could not be delivered to every output yet.
struct RetryEntry {
  pdata::Batch batch;
  std::vector<ConsumerPtr> done;  // outputs that accepted it already
  Trigger trigger = Trigger::kTimeout;
};

// One accepted request (or the part of one left after a cut), kept as it arrived: the pending
// data of a batcher is a queue of these, so appending and cutting move strings instead of copying
// bytes.
struct Segment {
  std::string wire;  // a whole Export<Signal>ServiceRequest
  uint64_t items = 0;
  Clock::time_point arrived{};
};

struct Batcher {
  explicit Batcher(Signal s) : signal(s) {}
  const Signal signal;

  std::mutex mu;                // guards the fields up to send_mu
  std::deque<Segment> pending;  // oldest first; producers push_back, the sender takes the front
  uint64_t pending_items = 0;
  Clock::time_point oldest{};  // when pending became non-empty (or the last size send)
  std::shared_ptr<const pdata::ClientInfo> client;
  uint64_t held_items = 0;  // taken out of pending: in flight or in `retry`
  // Bytes reserved in globalMemoryBudget() for pending and held data (approximate: splitting
  // re-encodes; whatever is left when the batcher empties is released then).
  size_t charged = 0;
  Clock::time_point retry_at{};
  Clock::duration backoff{};

  std::mutex send_mu;  // held by the single sender; guards `retry` and `parts`
  std::deque<RetryEntry> retry;
  std::vector<Segment> parts;  // scratch of cutPiece(), kept for its capacity
};

using BatcherMap = std::map<std::string, std::shared_ptr<Batcher>, std::less<>>;

class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(std::string id, log::Logger logger, metrics::Registry& m, std::shared_ptr<const Live> live);

  const std::string& id() const { return id_; }

  bool acceptsSignal(Signal s) const {
    return !stopped_.load() && !live_.load()->outputs[idx(s)].empty();
  }

  // Every output of `s` is durable: requests of `s` are passed through (batch.h).
  bool durable(Signal s) const { return allDurable(live_.load()->outputs[idx(s)], s); }

  // Accepts a request (batch.h): buffers it on its tenant's batcher and sends when
  // send_batch_size is reached, or passes it through to durable outputs. Any thread.
  absl::Status consume(pdata::Batch&& batch);

  // Publishes new settings; when the outputs changed, the timer flushes everything pending at
  // once.
  void update(std::shared_ptr<const Live> live);

  // Starts the timer thread (once; not after shutdown).
  void startTimer();

  // Refuses new data, stops the timer and flushes every batcher in parallel until `deadline`;
  // what is still held then is counted as dropped (reason "shutdown").
  void shutdown(Clock::time_point deadline);

  // Items pending per signal (for the collector and debugInfo).
  std::array<uint64_t, 3> pendingItems() const;

  size_t batcherCount(Signal s) const { return batchers_[idx(s)].load()->size(); }

 private:
  // The batcher of (s, tenant), created on first use; nullptr past the cardinality limit.
  std::shared_ptr<Batcher> batcherFor(Signal s, std::string_view tenant, const Live& live);

  // Pass-through to durable outputs: the caller's answer is the outputs' answer; nothing is held.
  absl::Status passOn(pdata::Batch&& batch, const Live& live);

  // Counts `items` refused for `reason`.
  void refuse(Signal s, std::string_view reason, uint64_t items);

  // Counts `items` dropped for `reason` and logs it at most once a minute.
  void countDrop(Signal s, std::string_view reason, uint64_t items, std::string_view err);

  enum class Delivery { kDone, kRetry };

  // Sends `e` to every current output that has not accepted it yet. send_mu held.
  //
  // Every output but the last one still to be served gets a copy; the last one gets the batch
  // itself unless an output before it refused (then the batch is needed for the retry). A
  // consumer that refuses with RESOURCE_EXHAUSTED/UNAVAILABLE leaves the batch untouched
  // (consumer.h), so after such a refusal `e.batch` is still whole and is retried as it is; after
  // kDone it may have been moved from. `items` and `bytes` are e.batch's before the call.
  Delivery deliver(RetryEntry& e, const Live& live, uint64_t items, size_t bytes);

  // Delivers the queued pieces in order. Returns false (and schedules the retry) when one is
  // refused: it and those after it stay queued. send_mu held.
  bool drainRetries(Batcher& b, const Live& live);

  // A send failed: starts or doubles the batcher's backoff (200ms up to 5s) and wakes the timer
  // to schedule the retry.
  void noteFailure(Batcher& b);

  // A piece of `items` items and `bytes` bytes was delivered: releases it, resets the backoff.
  void noteSuccess(Batcher& b, uint64_t items, size_t bytes);

  // Gives back the memory charge of `bytes` that left the batcher (all of it once the batcher
  // holds nothing). b.mu held.
  static void releaseLocked(Batcher& b, size_t bytes);

  // Sends retries, then pending data. `all`: send everything pending; otherwise only while at
  // least send_batch_size items are pending. `force`: ignore the backoff. Returns true when
  // nothing is left to retry (pending data below send_batch_size may remain unless `all`).
  // send_mu held.
  bool sendLocked(Batcher& b, Trigger trigger, bool all, bool force);

  // Takes the first `want` items off the front of b.pending into `out`: whole segments while
  // they fit (a single one is moved, several are concatenated once), and the first part of the
  // segment that does not fit, cut with pdata::splitRequest; the rest of that segment goes back
  // to the front of pending, so only the segment at the cut is re-encoded and nothing behind it
  // is touched. Updates the counters, the memory charge of malformed data and `*avail` (the
  // round's items not cut yet); returns the items that left pending. send_mu held.
  uint64_t cutPiece(Batcher& b, uint64_t want, uint64_t* avail, pdata::Batch* out);

  // Concatenates the segments' wire bytes (`bytes` in all) into `*dst`, with room for `extra`
  // more; moves a single segment when no room is asked for.
  static void concat(std::vector<Segment>& parts, size_t bytes, size_t extra, std::string* dst);

  // Counts everything the batcher still holds as dropped. send_mu held.
  void dropEverything(Batcher& b, std::string_view reason);

  // The timer thread: sends what is due (timeout, retry, flush after update) until shutdown.
  void timerLoop();

  const std::string id_;
  const log::Logger logger_;
  std::atomic<std::shared_ptr<const Live>> live_;
  std::array<std::atomic<std::shared_ptr<const BatcherMap>>, 3> batchers_;
  std::mutex create_mu_;
  std::atomic<bool> stopped_{false};

  std::mutex timer_mu_;  // guards stop_timer_, flush_all_, rescan_, starting timer_
  std::condition_variable timer_cv_;
  bool stop_timer_ = false;
  bool flush_all_ = false;
  bool rescan_ = false;  // a retry time or the settings changed while the timer was scanning
  std::thread timer_;

  std::array<std::array<metrics::Counter*, kTriggerNames.size()>, 3> sends_{};
  std::array<metrics::Histogram*, 3> sizes_{};
  std::array<metrics::Counter*, 3> failures_{};
  metrics::Family<metrics::Counter>* dropped_;
  metrics::Family<metrics::Counter>* refused_;
  log::OnceEvery drop_log_{std::chrono::seconds(60)};
  log::OnceEvery retry_log_{std::chrono::seconds(60)};
  log::OnceEvery refused_log_{std::chrono::seconds(60)};
  log::OnceEvery memory_log_{std::chrono::seconds(60)};
};

}  // namespace telegate::otelcol::processor_batch
