// otelcol.processor.batch: see batch.h for the contract.
//
// Structure: the component owns a Core shared with its `input` capsule (which may outlive the
// component while dependents still hold it; after shutdown it refuses with UNAVAILABLE). The Core
// keeps, per signal, an immutable map tenant → Batcher published through an atomic shared_ptr:
// consume() finds its batcher without locking anything but that batcher; creating a batcher
// (first request of a tenant) copies the map under create_mu_.
//
// A Batcher has two locks. `mu` guards the pending buffer and counters and is held only to append
// or to move the buffer out. `send_mu` is held by the one thread that sends for this batcher (a
// producer crossing send_batch_size, or the timer); it guards the retry list. Producers take it
// with try_lock, so they never wait for another thread's send; the sender loops while enough is
// pending, so data appended meanwhile is not stranded.
#include "src/components/otelcol/processor/batch/batch.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "src/common/log.h"
#include "src/common/memory_budget.h"
#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/otelcol/processor/batch/flush.h"
#include "src/pdata/otlp_split.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::processor_batch {

void Arguments::describe(Schema<Arguments>& s) {
  s.attr("timeout", &Arguments::timeout).doc("send what is pending after this long");
  s.attr("send_batch_size", &Arguments::send_batch_size).doc("items that trigger a send");
  s.attr("send_batch_max_size", &Arguments::send_batch_max_size).doc("upper bound of a batch");
  s.attr("metadata_keys", &Arguments::metadata_keys)
      .doc("telegate: \"tenant\" or \"x-scope-orgid\"; batching is always per tenant");
  s.attr("metadata_cardinality_limit", &Arguments::metadata_cardinality_limit)
      .doc("most tenants batched at once per signal");
  s.block("output", &Arguments::output).required();
}

absl::Status Arguments::validate() const {
  if (send_batch_size < 0 || send_batch_max_size < 0) {
    return absl::InvalidArgumentError("batch sizes must not be negative");
  }
  if (send_batch_max_size != 0 && send_batch_max_size < send_batch_size) {
    return absl::InvalidArgumentError(
        "send_batch_max_size must be greater or equal to send_batch_size when not 0");
  }
  if (timeout.value.count() < 0) return absl::InvalidArgumentError("timeout must not be negative");
  if (metadata_cardinality_limit < 0) {
    return absl::InvalidArgumentError("metadata_cardinality_limit must not be negative");
  }
  for (const auto& k : metadata_keys) {
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower != "tenant" && lower != "x-scope-orgid") {
      return absl::InvalidArgumentError(
          strCat("metadata_keys: telegate carries only the tenant bound to the client's "
                 "credential; use \"tenant\" or \"X-Scope-OrgID\", got \"",
                 k, "\""));
    }
  }
  return absl::OkStatus();
}

namespace {

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

size_t idx(Signal s) {
  return static_cast<size_t>(s);
}

enum class Trigger { kSize, kTimeout, kShutdown, kUpdate, kPassThrough };
constexpr std::array<std::string_view, 5> kTriggerNames = {"size", "timeout", "shutdown", "update",
                                                           "pass_through"};

bool retryable(absl::StatusCode c) {
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

std::shared_ptr<const Live> makeLive(const Arguments& a) {
  auto l = std::make_shared<Live>();
  auto fill = [](std::vector<ConsumerPtr>& dst,
                 const std::vector<runtime::CapsuleRef<Consumer>>& src) {
    for (const auto& c : src) dst.push_back(c.ptr);
  };
  fill(l->outputs[idx(Signal::kTraces)], a.output.traces);
  fill(l->outputs[idx(Signal::kMetrics)], a.output.metrics);
  fill(l->outputs[idx(Signal::kLogs)], a.output.logs);
  l->timeout = std::chrono::duration_cast<Clock::duration>(a.timeout.value);
  l->send_batch_size = static_cast<uint64_t>(a.send_batch_size);
  l->send_batch_max_size = static_cast<uint64_t>(a.send_batch_max_size);
  uint64_t base = l->send_batch_max_size != 0 ? l->send_batch_max_size
                  : l->send_batch_size != 0   ? l->send_batch_size
                                              : 8192;
  l->max_pending = kPendingBoundFactor * base;
  l->cardinality_limit = static_cast<uint64_t>(a.metadata_cardinality_limit);
  return l;
}

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

}  // namespace

class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(std::string id, log::Logger logger, metrics::Registry& m, std::shared_ptr<const Live> live)
      : id_(std::move(id)), logger_(std::move(logger)), live_(std::move(live)) {
    for (auto& b : batchers_) b.store(std::make_shared<const BatcherMap>());
    auto& sends = m.counter("telegate_processor_batch_sends_total",
                            "Batches a batch processor sent, by what triggered the send.",
                            {"component_id", "signal", "trigger"});
    auto& sizes = m.histogram("telegate_processor_batch_send_size",
                              "Items (spans, data points, log records) per batch sent.",
                              {"component_id", "signal"},
                              {10, 50, 100, 250, 500, 1000, 2000, 3000, 5000, 10000, 50000});
    dropped_ = &m.counter("telegate_processor_dropped_items_total",
                          "Items a processor accepted and then dropped, by reason.",
                          {"component_id", "signal", "reason"});
    refused_ = &m.counter("telegate_processor_refused_items_total",
                          "Items a processor refused to accept, by reason.",
                          {"component_id", "signal", "reason"});
    auto& failures =
        m.counter("telegate_processor_batch_send_failures_total",
                  "Sends to an output that failed with a retryable error and will be retried.",
                  {"component_id", "signal"});
    for (Signal s : kSignals) {
      const std::string sig(pdata::signalName(s));
      for (size_t t = 0; t < kTriggerNames.size(); ++t) {
        sends_[idx(s)][t] = &sends.with({id_, sig, std::string(kTriggerNames[t])});
      }
      sizes_[idx(s)] = &sizes.with({id_, sig});
      failures_[idx(s)] = &failures.with({id_, sig});
    }
  }

  const std::string& id() const { return id_; }

  bool acceptsSignal(Signal s) const {
    return !stopped_.load() && !live_.load()->outputs[idx(s)].empty();
  }

  // Every output of `s` is durable: requests of `s` are passed through (batch.h).
  bool durable(Signal s) const { return allDurable(live_.load()->outputs[idx(s)], s); }

  absl::Status consume(pdata::Batch&& batch) {
    if (stopped_.load()) return absl::UnavailableError(id_ + " is shut down");
    auto live = live_.load();
    const Signal s = batch.signal;
    if (live->outputs[idx(s)].empty()) {
      return absl::UnimplementedError(strCat(id_, " has no output for ", pdata::signalName(s)));
    }
    if (batch.items == 0) return absl::OkStatus();
    if (allDurable(live->outputs[idx(s)], s)) return passOn(std::move(batch), *live);
    const std::string_view tenant = batch.client ? std::string_view(batch.client->tenant) : "";
    auto b = batcherFor(s, tenant, *live);
    if (!b) {
      refuse(s, "cardinality_limit", batch.items);
      return absl::InvalidArgumentError(
          strCat("too many batcher metadata-value combinations (metadata_cardinality_limit ",
                 live->cardinality_limit, ")"));
    }
    bool ready = false;
    {
      std::lock_guard<std::mutex> l(b->mu);
      if (stopped_.load()) return absl::UnavailableError(id_ + " is shut down");
      // While sends fail, the batcher may hold max_pending items; while they succeed (a burst
      // that the single sender has not caught up with yet) three times as many.
      const bool failing = b->backoff != Clock::duration::zero();
      const uint64_t limit = failing ? live->max_pending : live->max_pending * kHealthyBoundFactor;
      uint64_t held = b->pending_items + b->held_items;
      if (held > 0 && held + batch.items > limit) {
        refuse(s, "pending_limit", batch.items);
        if (refused_log_.shouldLog()) {
          logger_.warn(failing ? "refusing data: too much is pending while the outputs fail"
                               : "refusing data: the outputs do not keep up with the producers",
                       {{"signal", std::string(pdata::signalName(s))},
                        {"tenant", std::string(tenant)},
                        {"pending_items", std::to_string(held)}});
        }
        return absl::ResourceExhaustedError(
            strCat(id_, ": ", held, " items of tenant \"", tenant, "\" are pending",
                   failing ? " while the outputs refuse data" : "", "; retry later"));
      }
      if (!globalMemoryBudget().tryReserve(batch.payload.size(), kBudgetSharePercent)) {
        refuse(s, "memory_limit", batch.items);
        if (memory_log_.shouldLog()) {
          logger_.warn("refusing data: memory limit reached",
                       {{"signal", std::string(pdata::signalName(s))},
                        {"limit_bytes", std::to_string(globalMemoryBudget().limit())}});
        }
        return absl::ResourceExhaustedError(strCat(id_, ": memory limit reached"));
      }
      b->charged += batch.payload.size();
      auto now = Clock::now();
      if (b->pending_items == 0) {
        b->oldest = now;
        b->client = batch.client;
      }
      b->pending.push_back(Segment{std::move(batch.payload), batch.items, now});
      b->pending_items += batch.items;
      ready =
          b->pending_items >= std::max<uint64_t>(live->send_batch_size, 1) && now >= b->retry_at;
    }
    if (ready) {
      std::unique_lock<std::mutex> sl(b->send_mu, std::try_to_lock);
      if (sl.owns_lock()) sendLocked(*b, Trigger::kSize, /*all=*/false, /*force=*/false);
    }
    return absl::OkStatus();
  }

  void update(std::shared_ptr<const Live> live) {
    bool outputs_changed = live_.load()->outputs != live->outputs;
    live_.store(std::move(live));
    std::lock_guard<std::mutex> l(timer_mu_);
    if (outputs_changed) flush_all_ = true;
    rescan_ = true;
    timer_cv_.notify_all();
  }

  void startTimer() {
    std::lock_guard<std::mutex> l(timer_mu_);
    if (timer_.joinable() || stop_timer_) return;
    timer_ = std::thread([self = shared_from_this()] { self->timerLoop(); });
  }

  void shutdown(Clock::time_point deadline) {
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

  // Items pending per signal (for the collector and debugInfo).
  std::array<uint64_t, 3> pendingItems() const {
    std::array<uint64_t, 3> out{};
    for (Signal s : kSignals) {
      auto map = batchers_[idx(s)].load();
      for (const auto& [tenant, b] : *map) {
        std::lock_guard<std::mutex> l(b->mu);
        out[idx(s)] += b->pending_items + b->held_items;
      }
    }
    return out;
  }

  size_t batcherCount(Signal s) const { return batchers_[idx(s)].load()->size(); }

 private:
  std::shared_ptr<Batcher> batcherFor(Signal s, std::string_view tenant, const Live& live) {
    auto& slot = batchers_[idx(s)];
    {
      auto map = slot.load();
      auto it = map->find(tenant);
      if (it != map->end()) return it->second;
    }
    std::lock_guard<std::mutex> l(create_mu_);
    auto map = slot.load();
    auto it = map->find(tenant);
    if (it != map->end()) return it->second;
    if (map->size() >= live.cardinality_limit) return nullptr;
    auto next = std::make_shared<BatcherMap>(*map);
    auto b = std::make_shared<Batcher>(s);
    next->emplace(std::string(tenant), b);
    slot.store(std::move(next));
    return b;
  }

  // Pass-through to durable outputs: the caller's answer is the outputs' answer; nothing is held.
  absl::Status passOn(pdata::Batch&& batch, const Live& live) {
    const Signal s = batch.signal;
    const uint64_t items = batch.items;
    const auto& outs = live.outputs[idx(s)];
    size_t refused_by = 0;
    absl::Status st = passThrough(outs, std::move(batch), &refused_by);
    if (st.ok()) {
      sends_[idx(s)][static_cast<size_t>(Trigger::kPassThrough)]->inc();
      sizes_[idx(s)]->observe(static_cast<double>(items));
      return st;
    }
    refuse(s, "output_refused", items);
    if (retryable(st.code())) failures_[idx(s)]->inc();
    if (refused_log_.shouldLog()) {
      logger_.warn("a durable output refused data; returning the error to the sender",
                   {{"signal", std::string(pdata::signalName(s))},
                    {"output", outs[refused_by]->describe()},
                    {"err", std::string(st.message())}});
    }
    return st;
  }

  void refuse(Signal s, std::string_view reason, uint64_t items) {
    refused_->with({id_, std::string(pdata::signalName(s)), std::string(reason)})
        .inc(static_cast<double>(items));
  }

  void countDrop(Signal s, std::string_view reason, uint64_t items, std::string_view err) {
    if (items == 0) return;
    dropped_->with({id_, std::string(pdata::signalName(s)), std::string(reason)})
        .inc(static_cast<double>(items));
    if (drop_log_.shouldLog()) {
      logger_.error("dropped data", {{"signal", std::string(pdata::signalName(s))},
                                     {"reason", std::string(reason)},
                                     {"items", std::to_string(items)},
                                     {"err", std::string(err)}});
    }
  }

  enum class Delivery { kDone, kRetry };

  // Sends `e` to every current output that has not accepted it yet. send_mu held.
  //
  // Every output but the last one still to be served gets a copy; the last one gets the batch
  // itself unless an output before it refused (then the batch is needed for the retry). A
  // consumer that refuses with RESOURCE_EXHAUSTED/UNAVAILABLE leaves the batch untouched
  // (consumer.h), so after such a refusal `e.batch` is still whole and is retried as it is; after
  // kDone it may have been moved from. `items` and `bytes` are e.batch's before the call.
  Delivery deliver(RetryEntry& e, const Live& live, uint64_t items, size_t bytes) {
    const Signal s = e.batch.signal;
    const auto& outs = live.outputs[idx(s)];
    if (outs.empty()) {
      countDrop(s, "no_consumer", items, "the output list of this signal is empty");
      return Delivery::kDone;
    }
    auto served = [&](size_t i) {
      if (std::find(e.done.begin(), e.done.end(), outs[i]) != e.done.end()) return true;
      // An output listed twice is served once, at its first place.
      return std::find(outs.begin(), outs.begin() + static_cast<std::ptrdiff_t>(i), outs[i]) !=
             outs.begin() + static_cast<std::ptrdiff_t>(i);
    };
    size_t last = outs.size();
    for (size_t i = outs.size(); i-- > 0;) {
      if (!served(i)) {
        last = i;
        break;
      }
    }
    bool retry = false;
    std::string first_err;
    for (size_t i = 0; i < outs.size(); ++i) {
      if (served(i)) continue;
      const auto& out = outs[i];
      const bool move = i == last && !retry;
      absl::Status st;
      if (move) {
        st = out->consume(std::move(e.batch));
      } else {
        pdata::Batch copy = e.batch;
        st = out->consume(std::move(copy));
      }
      if (st.ok()) {
        e.done.push_back(out);
      } else if (retryable(st.code()) &&
                 (!move || (e.batch.payload.size() == bytes && e.batch.items == items))) {
        retry = true;
        failures_[idx(s)]->inc();
        if (first_err.empty()) first_err = std::string(st.message());
      } else if (retryable(st.code())) {
        // The output refused a batch it had already taken apart: nothing is left to retry.
        e.done.push_back(out);
        countDrop(s, "permanent_error", items,
                  strCat(out->describe(), " refused a batch it had moved from: ", st.message()));
      } else {
        e.done.push_back(out);  // permanent for this output: never retried
        countDrop(s, "permanent_error", items, strCat(out->describe(), ": ", st.message()));
      }
    }
    if (retry) {
      if (retry_log_.shouldLog()) {
        logger_.warn("an output refused a batch; keeping it and retrying",
                     {{"signal", std::string(pdata::signalName(s))}, {"err", first_err}});
      }
      return Delivery::kRetry;
    }
    sends_[idx(s)][static_cast<size_t>(e.trigger)]->inc();
    sizes_[idx(s)]->observe(static_cast<double>(items));
    return Delivery::kDone;
  }

  // Delivers the queued pieces in order. Returns false (and schedules the retry) when one is
  // refused: it and those after it stay queued. send_mu held.
  bool drainRetries(Batcher& b, const Live& live) {
    while (!b.retry.empty()) {
      RetryEntry& e = b.retry.front();
      const uint64_t items = e.batch.items;
      const size_t bytes = e.batch.payload.size();
      if (deliver(e, live, items, bytes) == Delivery::kRetry) {
        noteFailure(b);
        return false;
      }
      noteSuccess(b, items, bytes);
      b.retry.pop_front();
    }
    return true;
  }

  void noteFailure(Batcher& b) {
    {
      std::lock_guard<std::mutex> l(b.mu);
      b.backoff = b.backoff == Clock::duration::zero()
                      ? Clock::duration(kInitialBackoff)
                      : std::min<Clock::duration>(b.backoff * 2, kMaxBackoff);
      b.retry_at = Clock::now() + b.backoff;
    }
    std::lock_guard<std::mutex> l(timer_mu_);
    rescan_ = true;
    timer_cv_.notify_all();
  }

  void noteSuccess(Batcher& b, uint64_t items, size_t bytes) {
    std::lock_guard<std::mutex> l(b.mu);
    b.held_items -= items;
    releaseLocked(b, bytes);
    b.backoff = Clock::duration::zero();
    b.retry_at = Clock::time_point{};
  }

  // Gives back the memory charge of `bytes` that left the batcher (all of it once the batcher
  // holds nothing). b.mu held.
  static void releaseLocked(Batcher& b, size_t bytes) {
    size_t n = std::min(bytes, b.charged);
    if (b.pending_items == 0 && b.held_items == 0) n = b.charged;
    b.charged -= n;
    globalMemoryBudget().release(n);
  }

  // Sends retries, then pending data. `all`: send everything pending; otherwise only while at
  // least send_batch_size items are pending. `force`: ignore the backoff. Returns true when
  // nothing is left to retry (pending data below send_batch_size may remain unless `all`).
  // send_mu held.
  bool sendLocked(Batcher& b, Trigger trigger, bool all, bool force) {
    // `all` takes what is pending when it starts (the timer must not be captured by a steady
    // stream); a size-triggered sender picks up what others appended meanwhile, a few rounds at
    // most.
    for (int round = 0; round < (all ? 1 : kMaxSendRounds); ++round) {
      auto live = live_.load();
      if (!force) {
        std::lock_guard<std::mutex> l(b.mu);
        if (Clock::now() < b.retry_at) return b.retry.empty();
      }
      if (!drainRetries(b, *live)) return false;
      const uint64_t min_items = all ? 1 : std::max<uint64_t>(live->send_batch_size, 1);
      uint64_t avail;  // items of this round's share of pending not cut yet
      {
        std::lock_guard<std::mutex> l(b.mu);
        avail = b.pending_items;
      }
      if (avail < min_items) return true;
      // Cut pieces of send_batch_max_size items off the front while enough is left (5000 →
      // 3000 + 2000; 4500 → 3000, and 1500 stay pending), delivering each before the next cut.
      while (avail >= min_items) {
        const uint64_t want =
            live->send_batch_max_size == 0 ? avail : std::min(avail, live->send_batch_max_size);
        RetryEntry e;
        const uint64_t consumed = cutPiece(b, want, &avail, &e.batch);
        if (consumed == 0) break;          // nothing left to cut (only after a miscount)
        if (e.batch.items == 0) continue;  // dropped as malformed
        e.trigger = trigger;
        b.retry.push_back(std::move(e));
        if (!drainRetries(b, *live)) return false;
      }
    }
    return true;
  }

  // Takes the first `want` items off the front of b.pending into `out`: whole segments while
  // they fit (a single one is moved, several are concatenated once), and the first part of the
  // segment that does not fit, cut with pdata::splitRequest; the rest of that segment goes back
  // to the front of pending, so only the segment at the cut is re-encoded and nothing behind it
  // is touched. Updates the counters, the memory charge of malformed data and `*avail` (the
  // round's items not cut yet); returns the items that left pending. send_mu held.
  uint64_t cutPiece(Batcher& b, uint64_t want, uint64_t* avail, pdata::Batch* out) {
    std::vector<Segment>& parts = b.parts;
    parts.clear();
    std::optional<Segment> cut;  // the segment that does not fit whole
    uint64_t got = 0;            // items in `parts`
    size_t bytes = 0;            // bytes in `parts`
    std::shared_ptr<const pdata::ClientInfo> client;
    {
      std::lock_guard<std::mutex> l(b.mu);
      client = b.client;
      while (got < want && !b.pending.empty()) {
        Segment& seg = b.pending.front();
        if (got + seg.items > want) {
          cut.emplace(std::move(seg));
        } else {
          got += seg.items;
          bytes += seg.wire.size();
          parts.push_back(std::move(seg));
        }
        b.pending.pop_front();
        if (cut) break;
      }
      b.pending_items -= got + (cut ? cut->items : 0);
      b.held_items += got + (cut ? cut->items : 0);
    }
    const uint64_t taken = got + (cut ? cut->items : 0);
    out->signal = b.signal;
    out->client = std::move(client);
    out->items = got;

    std::vector<pdata::SplitPiece> rest;    // the part of `cut` that goes back to pending
    std::optional<absl::Status> malformed;  // set when `cut` could not be split
    bool parts_lost = false;                // the failed split covered `parts` too
    if (!cut) {
      concat(parts, bytes, 0, &out->payload);
    } else if (cut->items <= 2 * (want - got)) {
      // The room left is at least half the segment: cutting it with the room as the piece
      // size gives exactly two pieces, the room's worth and the rest.
      auto split = pdata::splitRequest(b.signal, cut->wire, want - got);
      if (split.ok() && !split->empty()) {
        rest.assign(std::make_move_iterator(split->begin() + 1),
                    std::make_move_iterator(split->end()));
        pdata::SplitPiece& first = split->front();
        out->items += first.items;
        if (parts.empty()) {
          out->payload = std::move(first.wire);
        } else {
          concat(parts, bytes, first.wire.size(), &out->payload);
          out->payload.append(first.wire);
        }
      } else {
        malformed = split.ok() ? absl::InvalidArgumentError("no items") : split.status();
        concat(parts, bytes, 0, &out->payload);
      }
    } else {
      // A large segment and little room: cutting the segment alone at the room would give many
      // small pieces, so cut the concatenation at `want` instead (pieces of `want` items; the
      // ones after the first go back to pending).
      std::string joined;
      std::string_view whole = cut->wire;
      if (!parts.empty()) {
        concat(parts, bytes, cut->wire.size(), &joined);
        joined.append(cut->wire);
        whole = joined;
      }
      auto split = pdata::splitRequest(b.signal, whole, want);
      if (split.ok() && !split->empty()) {
        rest.assign(std::make_move_iterator(split->begin() + 1),
                    std::make_move_iterator(split->end()));
        out->items = split->front().items;
        out->payload = std::move(split->front().wire);
      } else {
        malformed = split.ok() ? absl::InvalidArgumentError("no items") : split.status();
        parts_lost = !parts.empty();
        out->items = 0;
        out->payload.clear();
      }
    }
    parts.clear();

    uint64_t back_items = 0;
    for (const auto& p : rest) back_items += p.items;
    const uint64_t consumed = taken > back_items ? taken - back_items : 0;
    *avail -= std::min(*avail, consumed);
    {
      std::lock_guard<std::mutex> l(b.mu);
      if (cut) {
        for (auto it = rest.rbegin(); it != rest.rend(); ++it) {
          b.pending.push_front(Segment{std::move(it->wire), it->items, cut->arrived});
        }
        if (b.pending_items == 0 && back_items > 0) b.client = out->client;
        b.pending_items += back_items;
        // What is held from here on is the piece, with its items as the split counted them
        // (the wire is trusted over a sender's count).
        b.held_items = b.held_items + out->items - taken;
        if (malformed) releaseLocked(b, cut->wire.size() + (parts_lost ? bytes : 0));
      }
      // As Alloy, a size-triggered send restarts the timer for what it leaves of the data it
      // looked at; data that arrived after that keeps its own age.
      if (!b.pending.empty()) b.oldest = *avail > 0 ? Clock::now() : b.pending.front().arrived;
    }
    if (malformed) {
      countDrop(b.signal, "malformed", parts_lost ? taken : cut->items,
                std::string(malformed->message()));
    }
    return consumed;
  }

  // Concatenates the segments' wire bytes (`bytes` in all) into `*dst`, with room for `extra`
  // more; moves a single segment when no room is asked for.
  static void concat(std::vector<Segment>& parts, size_t bytes, size_t extra, std::string* dst) {
    if (parts.empty()) {
      dst->clear();
      dst->reserve(extra);
      return;
    }
    *dst = std::move(parts.front().wire);
    if (parts.size() == 1 && extra == 0) return;
    dst->reserve(bytes + extra);
    for (size_t i = 1; i < parts.size(); ++i) dst->append(parts[i].wire);
  }

  // Counts everything the batcher still holds as dropped. send_mu held.
  void dropEverything(Batcher& b, std::string_view reason) {
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

  void timerLoop() {
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
              Clock::time_point t =
                  timed ? b->oldest + live->timeout
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

namespace {

class Input : public Consumer {
 public:
  explicit Input(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  bool acceptsSignal(Signal s) const override { return core_->acceptsSignal(s); }
  absl::Status consume(pdata::Batch&& batch) override { return core_->consume(std::move(batch)); }
  bool durable(Signal s) const override { return core_->durable(s); }
  std::string describe() const override { return core_->id() + ".input"; }

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace

Component::Component(runtime::Host& host, const Arguments& args)
    : host_(host),
      core_(std::make_shared<Core>(host.id(), host.logger(), host.metrics(), makeLive(args))) {
  input_ = std::make_shared<Input>(core_);
  collector_ = host.metrics().addCollector([core = core_](metrics::Writer& w) {
    auto pending = core->pendingItems();
    for (Signal s : kSignals) {
      w.gauge("telegate_processor_batch_pending_items",
              "Items a batch processor holds: waiting for a batch to fill or for a retry.",
              {{"component_id", core->id()}, {"signal", std::string(pdata::signalName(s))}},
              static_cast<double>(pending[idx(s)]));
    }
  });
  host.setExports({{"input", syntax::Value::capsule(input_)}});
}

Component::~Component() {
  host_.metrics().removeCollector(collector_);
  core_->shutdown(Clock::now());
}

absl::Status Component::start() {
  core_->startTimer();
  host_.setHealth(runtime::HealthState::kHealthy, "started");
  return absl::OkStatus();
}

absl::Status Component::update(const Arguments& args) {
  core_->update(makeLive(args));
  return absl::OkStatus();
}

void Component::shutdown(Clock::time_point deadline) {
  core_->shutdown(deadline);
}

syntax::Value Component::debugInfo() const {
  auto pending = core_->pendingItems();
  syntax::Object o;
  for (Signal s : kSignals) {
    o.emplace(
        std::string(pdata::signalName(s)),
        syntax::Value::object({{"pending_items", syntax::Value::uinteger(pending[idx(s)])},
                               {"tenants", syntax::Value::uinteger(core_->batcherCount(s))}}));
  }
  return syntax::Value::object(std::move(o));
}

}  // namespace telegate::otelcol::processor_batch

namespace telegate::components {
void registerOtelcolProcessorBatch() {
  runtime::registerComponent<otelcol::processor_batch::Component>(
      "otelcol.processor.batch", "Batches telemetry before it is exported.",
      {{"input", "capsule(otelcol.Consumer)", "where to send data to be batched"}});
}
}  // namespace telegate::components
