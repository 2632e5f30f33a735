// otelcol.processor.batch, Core (core.h): accepting requests (consume, pass-through to durable
// outputs, the pending and memory bounds), settings updates, the tenant → batcher maps and the
// metrics. Threading as in core.h: consume() runs on the callers' threads and locks only the
// batcher it appends to (and create_mu_ when a tenant's batcher is created).
#include <algorithm>

#include "src/common/memory_budget.h"
#include "src/common/strings.h"
#include "src/components/otelcol/processor/batch/core.h"
#include "src/components/otelcol/processor/batch/flush.h"

namespace telegate::otelcol::processor_batch {

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

Core::Core(std::string id, log::Logger logger, metrics::Registry& m,
           std::shared_ptr<const Live> live)
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

absl::Status Core::consume(pdata::Batch&& batch) {
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
    ready = b->pending_items >= std::max<uint64_t>(live->send_batch_size, 1) && now >= b->retry_at;
  }
  if (ready) {
    std::unique_lock<std::mutex> sl(b->send_mu, std::try_to_lock);
    if (sl.owns_lock()) sendLocked(*b, Trigger::kSize, /*all=*/false, /*force=*/false);
  }
  return absl::OkStatus();
}

void Core::update(std::shared_ptr<const Live> live) {
  bool outputs_changed = live_.load()->outputs != live->outputs;
  live_.store(std::move(live));
  std::lock_guard<std::mutex> l(timer_mu_);
  if (outputs_changed) flush_all_ = true;
  rescan_ = true;
  timer_cv_.notify_all();
}

std::array<uint64_t, 3> Core::pendingItems() const {
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

std::shared_ptr<Batcher> Core::batcherFor(Signal s, std::string_view tenant, const Live& live) {
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

absl::Status Core::passOn(pdata::Batch&& batch, const Live& live) {
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

void Core::refuse(Signal s, std::string_view reason, uint64_t items) {
  refused_->with({id_, std::string(pdata::signalName(s)), std::string(reason)})
      .inc(static_cast<double>(items));
}

void Core::countDrop(Signal s, std::string_view reason, uint64_t items, std::string_view err) {
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

}  // namespace telegate::otelcol::processor_batch
