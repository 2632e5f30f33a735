#include "src/components/otelcol/exporterhelper/exporter.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "src/common/strings.h"
#include "src/components/otelcol/exporterhelper/backoff.h"
#include "src/components/otelcol/exporterhelper/disk_queue_adapter.h"

namespace telegate::otelcol::exporterhelper {

namespace {
using Clock = std::chrono::steady_clock;

const char* kDropMessages[][2] = {
    {"retries_exhausted", "dropping data: retries exhausted (retry_on_failure.max_elapsed_time)"},
    {"permanent", "dropping data: the server refused it permanently"},
    {"send_failed", "dropping data: export failed and retry_on_failure is disabled"},
    {"partial_success", "the server rejected part of an export (partial success)"},
    {"shutdown", "dropping data: not delivered before the shutdown deadline"},
};

std::string_view dropMessage(const std::string& reason) {
  for (const auto& m : kDropMessages) {
    if (reason == m[0]) return m[1];
  }
  return "dropping data";
}
std::unique_ptr<SendQueue> openDiskQueue(const Settings& s, metrics::Registry& metrics,
                                         absl::Status* status) {
  if (s.queue_dir.empty()) {
    *status = absl::FailedPreconditionError("no data directory for the disk queue");
    return std::make_unique<UnavailableQueue>(*status);
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(s.queue_dir).parent_path(), ec);
  if (ec) {
    *status = absl::InternalError(strCat("cannot create ", s.queue_dir, ": ", ec.message()));
    return std::make_unique<UnavailableQueue>(*status);
  }
  queue::DiskQueueOptions o;
  o.dir = s.queue_dir;
  o.max_bytes = s.queue.max_size.bytes;
  o.sync = s.queue.fsync == "never"    ? queue::SyncPolicy::kNever
           : s.queue.fsync == "always" ? queue::SyncPolicy::kEveryBatch
                                       : queue::SyncPolicy::kInterval;
  o.registry = &metrics;
  auto q = DiskSendQueue::open(std::move(o));
  if (!q.ok()) {
    *status = q.status();
    return std::make_unique<UnavailableQueue>(*status);
  }
  *status = absl::OkStatus();
  return std::move(*q);
}
}  // namespace

std::vector<std::pair<std::string, std::string>> requestHeaders(
    const std::map<std::string, std::string>& configured, const pdata::Batch& batch,
    bool lower_case_names) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(configured.size() + 1);
  bool has_org = false;
  for (const auto& [k, v] : configured) {
    std::string name = k;
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "x-scope-orgid") has_org = true;
    out.emplace_back(lower_case_names ? lower : name, v);
  }
  if (!has_org && batch.client != nullptr && !batch.client->tenant.empty()) {
    out.emplace_back(lower_case_names ? "x-scope-orgid" : "X-Scope-OrgID", batch.client->tenant);
  }
  return out;
}

Exporter::Exporter(std::string component_id, Settings settings, std::shared_ptr<Sender> sender,
                   log::Logger logger, metrics::Registry& metrics, std::unique_ptr<SendQueue> queue)
    : id_(std::move(component_id)),
      logger_(std::move(logger)),
      metrics_(metrics),
      queue_(std::move(queue)),
      settings_(std::move(settings)),
      sender_(std::move(sender)) {
  if (queue_ == nullptr && settings_.queue.storage == "disk") {
    queue_ = openDiskQueue(settings_, metrics_, &queue_status_);
    if (!queue_status_.ok()) {
      logger_.error(
          "cannot open the sending queue on disk; refusing data until it is fixed",
          {{"dir", settings_.queue_dir}, {"error", std::string(queue_status_.message())}});
    }
  }
  if (queue_ == nullptr) {
    queue_ = std::make_unique<MemoryQueue>(
        static_cast<size_t>(std::max<int64_t>(1, settings_.queue.queue_size)));
  }
  auto& sent = metrics_.counter("telegate_exporter_sent_items_total",
                                "Items (spans, data points, log records) an exporter delivered.",
                                {"component_id", "signal"});
  auto& retries = metrics_.counter("telegate_exporter_retries_total",
                                   "Export attempts an exporter retried after a failure.",
                                   {"component_id", "signal"});
  auto& enqueue_failed = metrics_.counter(
      "telegate_exporter_enqueue_failed_items_total",
      "Items an exporter refused because its sending queue was full.", {"component_id", "signal"});
  auto& latency =
      metrics_.histogram("telegate_exporter_send_seconds", "Duration of one export attempt.",
                         {"component_id", "signal"}, {});
  for (int i = 0; i < 3; ++i) {
    std::string sig(pdata::signalName(static_cast<pdata::Signal>(i)));
    signal_metrics_[i] = SignalMetrics{&sent.with({id_, sig}), &retries.with({id_, sig}),
                                       &enqueue_failed.with({id_, sig}), &latency.with({id_, sig})};
  }
  failed_ = &metrics_.counter("telegate_exporter_send_failed_items_total",
                              "Items an exporter failed to deliver.",
                              {"component_id", "signal", "reason"});
  queue_size_ = &metrics_
                     .gauge("telegate_exporter_queue_size",
                            "Batches waiting in an exporter's sending queue.", {"component_id"})
                     .with({id_});
  queue_capacity_ =
      &metrics_
           .gauge("telegate_exporter_queue_capacity",
                  "Capacity of an exporter's sending queue, in batches.", {"component_id"})
           .with({id_});
  queue_capacity_->set(static_cast<double>(queue_->capacity()));
  queue_size_->set(static_cast<double>(queue_->size()));
  queue_enabled_.store(settings_.queue.enabled);
  block_on_overflow_.store(settings_.queue.block_on_overflow);
  overflow_wait_ns_.store(settings_.overflow_wait.count());
}

Exporter::~Exporter() {
  shutdown(Clock::now());
}

absl::Status Exporter::consume(pdata::Batch&& batch) {
  if (shut_down_.load(std::memory_order_acquire)) {
    return absl::UnavailableError(strCat(id_, " is shutting down"));
  }
  if (!queue_enabled_.load(std::memory_order_relaxed)) return process(batch);
  const auto sig = static_cast<size_t>(batch.signal);
  const uint64_t items = batch.items;
  Clock::time_point deadline = Clock::time_point::min();
  if (block_on_overflow_.load(std::memory_order_relaxed)) {
    deadline = Clock::now() + std::chrono::nanoseconds(overflow_wait_ns_.load());
  }
  queue_size_->add(1);  // before push: a worker may pop (and subtract) before push() returns
  auto st = queue_->push(std::move(batch), deadline);
  if (!st.ok()) {
    queue_size_->sub(1);
    if (sig < signal_metrics_.size()) {
      signal_metrics_[sig].enqueue_failed->inc(static_cast<double>(items));
    }
    return st;
  }
  return absl::OkStatus();
}

void Exporter::start() {
  std::lock_guard<std::mutex> l(stop_mu_);
  if (started_ || stopping_) return;
  started_ = true;
  int64_t n;
  {
    std::lock_guard<std::mutex> c(cfg_mu_);
    n = settings_.queue.enabled ? std::max<int64_t>(1, settings_.queue.num_consumers) : 0;
  }
  if (n == 0 && queue_->size() > 0) n = 1;  // drain batches a disk queue kept from a past run
  for (int64_t i = 0; i < n; ++i) threads_.emplace_back([this] { worker(); });
}

void Exporter::update(Settings settings, std::shared_ptr<Sender> sender) {
  int64_t n;
  {
    std::lock_guard<std::mutex> l(cfg_mu_);
    const QueueBlock& was = settings_.queue;
    if (settings.queue.storage != was.storage || settings.queue.max_size != was.max_size ||
        settings.queue.fsync != was.fsync) {
      logger_.warn(
          "sending_queue storage, max_size and fsync changes take effect at the next restart",
          {{"storage", was.storage}});
    }
    settings.queue.storage = was.storage;  // what is in use, for the next comparison
    settings.queue.max_size = was.max_size;
    settings.queue.fsync = was.fsync;
    settings_ = std::move(settings);
    sender_ = std::move(sender);
    n = settings_.queue.enabled ? std::max<int64_t>(1, settings_.queue.num_consumers) : 0;
    queue_->setCapacity(static_cast<size_t>(std::max<int64_t>(1, settings_.queue.queue_size)));
    queue_capacity_->set(static_cast<double>(queue_->capacity()));
    block_on_overflow_.store(settings_.queue.block_on_overflow);
    overflow_wait_ns_.store(settings_.overflow_wait.count());
    // Batches queued before the queue was disabled are still sent by the running workers.
    queue_enabled_.store(settings_.queue.enabled);
  }
  std::lock_guard<std::mutex> l(stop_mu_);
  if (!started_ || stopping_) return;
  // With the queue disabled, keep at least one worker to finish batches queued before.
  n = std::max<int64_t>(n, 1);
  while (static_cast<int64_t>(threads_.size()) < n) threads_.emplace_back([this] { worker(); });
}

void Exporter::shutdown(Clock::time_point deadline) {
  if (shut_down_.exchange(true)) return;
  queue_->close();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> l(stop_mu_);
    stopping_ = true;
    stop_deadline_ = deadline;
    threads.swap(threads_);
  }
  stop_cv_.notify_all();
  if (threads.empty()) worker();  // never started: one attempt each on this thread
  for (auto& t : threads) t.join();
  // Workers drain the closed queue; anything still there (none expected) is dropped here.
  while (auto q = queue_->pop(false)) {
    queue_size_->sub(1);
    drop(q->batch, q->batch.items, "shutdown", "");
    queue_->ack(q->id);
  }
}

syntax::Value Exporter::debugInfo() const {
  return syntax::Value::object(
      {{"queue_size", syntax::Value::integer(static_cast<int64_t>(queue_->size()))},
       {"queue_capacity", syntax::Value::integer(static_cast<int64_t>(queue_->capacity()))}});
}

void Exporter::worker() {
  const bool merge = queue_->durable();
  std::optional<QueuedBatch> carry;  // popped by the last merge, not part of it
  std::vector<uint64_t> ids;
  for (;;) {
    std::optional<QueuedBatch> q;
    if (carry) {
      q.swap(carry);
    } else {
      q = queue_->pop(true);
      if (!q) break;
      queue_size_->sub(1);
    }
    ids.assign(1, q->id);
    if (merge) mergeQueued(&*q, &ids, &carry);
    bool requeue = false;
    process(q->batch, &requeue).IgnoreError();  // counted and logged by process()
    for (uint64_t id : ids) {
      if (requeue) {
        queue_->nack(id);  // durable queue: delivered after the next start
      } else {
        queue_->ack(id);
      }
    }
  }
}

void Exporter::mergeQueued(QueuedBatch* first, std::vector<uint64_t>* ids,
                           std::optional<QueuedBatch>* carry) {
  uint64_t max_items;
  size_t max_bytes;
  {
    std::lock_guard<std::mutex> l(cfg_mu_);
    max_items = settings_.merge_max_items;
    max_bytes = settings_.merge_max_bytes;
  }
  pdata::Batch& b = first->batch;
  const std::string_view tenant =
      b.client != nullptr ? std::string_view(b.client->tenant) : std::string_view();
  while (b.items < max_items && b.payload.size() < max_bytes) {
    auto next = queue_->pop(false);
    if (!next) return;
    queue_size_->sub(1);
    const pdata::Batch& n = next->batch;
    const std::string_view t =
        n.client != nullptr ? std::string_view(n.client->tenant) : std::string_view();
    if (n.signal != b.signal || t != tenant || b.items + n.items > max_items ||
        b.payload.size() + n.payload.size() > max_bytes) {
      *carry = std::move(next);
      return;
    }
    b.payload.append(n.payload);
    b.items += n.items;
    ids->push_back(next->id);
  }
}

std::shared_ptr<Sender> Exporter::currentSender(Settings* settings) const {
  std::lock_guard<std::mutex> l(cfg_mu_);
  *settings = settings_;
  return sender_;
}

bool Exporter::sleepFor(std::chrono::nanoseconds d) {
  std::unique_lock<std::mutex> l(stop_mu_);
  return !stop_cv_.wait_for(l, d, [&] { return stopping_; });
}

absl::Status Exporter::process(pdata::Batch& batch, bool* requeue) {
  const bool keep_on_shutdown = requeue != nullptr && queue_->durable();
  Settings s;
  std::shared_ptr<Sender> sender = currentSender(&s);
  const auto sig = std::min<size_t>(static_cast<size_t>(batch.signal), 2);
  SignalMetrics& m = signal_metrics_[sig];
  Backoff backoff(s.retry);
  const auto first = Clock::now();
  for (;;) {
    bool stopping;
    Clock::time_point stop_deadline;
    {
      std::lock_guard<std::mutex> l(stop_mu_);
      stopping = stopping_;
      stop_deadline = stop_deadline_;
    }
    auto now = Clock::now();
    if (stopping && now >= stop_deadline) {
      if (keep_on_shutdown) {
        *requeue = true;
        return absl::UnavailableError(strCat(id_, " is shutting down"));
      }
      drop(batch, batch.items, "shutdown", "");
      return absl::UnavailableError(strCat(id_, " is shutting down"));
    }
    auto attempt_deadline = now + s.timeout;
    if (stopping) attempt_deadline = std::min(attempt_deadline, stop_deadline);
    SendResult r = sender ? sender->send(batch, attempt_deadline)
                          : SendResult{absl::UnavailableError("exporter has no client")};
    auto done = Clock::now();
    m.latency->observe(std::chrono::duration<double>(done - now).count());
    if (r.status.ok()) {
      uint64_t rejected = std::min(r.rejected_items, batch.items);
      m.sent->inc(static_cast<double>(batch.items - rejected));
      if (r.rejected_items > 0 || !r.detail.empty()) {
        drop(batch, rejected, "partial_success", r.detail);
      }
      return absl::OkStatus();
    }
    std::string detail(r.status.message());
    if (r.permanent) {
      drop(batch, batch.items, "permanent", detail);
      if (r.status.code() == absl::StatusCode::kUnavailable ||
          r.status.code() == absl::StatusCode::kResourceExhausted) {
        return absl::InternalError(detail);
      }
      return r.status;
    }
    if (stopping) {
      if (keep_on_shutdown) {
        *requeue = true;
        return absl::UnavailableError(detail);
      }
      drop(batch, batch.items, "shutdown", detail);
      return absl::UnavailableError(detail);
    }
    if (!s.retry.enabled) {
      drop(batch, batch.items, "send_failed", detail);
      return absl::UnavailableError(detail);
    }
    auto wait = backoff.next(done - first, r.retry_after);  // at least the server's delay
    if (!wait) {
      drop(batch, batch.items, "retries_exhausted", detail);
      return absl::UnavailableError(strCat("retries exhausted: ", detail));
    }
    m.retries->inc();
    sleepFor(*wait);  // wakes early when shutdown begins: one more attempt follows
  }
}

void Exporter::drop(const pdata::Batch& batch, uint64_t items, const std::string& reason,
                    const std::string& detail) {
  std::string sig(pdata::signalName(batch.signal));
  if (items > 0) failed_->with({id_, sig, reason}).inc(static_cast<double>(items));
  log::OnceEvery* limiter;
  {
    std::lock_guard<std::mutex> l(log_mu_);
    auto& p = limiters_[reason];
    if (p == nullptr) p = std::make_unique<log::OnceEvery>(std::chrono::minutes(1));
    limiter = p.get();
  }
  if (limiter->shouldLog()) {
    logger_.warn(dropMessage(reason), {{"reason", reason},
                                       {"signal", sig},
                                       {"items", std::to_string(items)},
                                       {"error", detail},
                                       {"note", "logged at most once per minute per reason"}});
  }
}

}  // namespace telegate::otelcol::exporterhelper
