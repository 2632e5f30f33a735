// prometheus.remote_write: sends samples with the Prometheus remote-write protocol (see
// remote_write.h for the contract).
#include "src/components/prometheus/remote_write/remote_write.h"

#include <google/protobuf/arena.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <utility>

#include "prometheus/remote.pb.h"
#include "src/common/decompress.h"
#include "src/common/memory_budget.h"
#include "src/components/all.h"
#include "src/net/http_client.h"
#include "src/runtime/registry.h"

namespace telegate::prometheus::remote_write {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kUpdateFlush = std::chrono::seconds(5);

std::string_view firstLine(std::string_view body) {
  body = body.substr(0, 512);
  size_t nl = body.find('\n');
  return nl == std::string_view::npos ? body : body.substr(0, nl);
}

uint64_t hashLabels(const Labels& labels) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  auto mix = [&h](std::string_view s) {
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  for (const auto& [k, v] : labels) {
    mix(k);
    mix(v);
  }
  return h;
}

struct LabelsPtrHash {
  size_t operator()(const Labels* l) const { return hashLabels(*l); }
};
struct LabelsPtrEq {
  bool operator()(const Labels* a, const Labels* b) const { return *a == *b; }
};

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Adds the external labels the sample does not have; both lists are sorted by name.
void addExternalLabels(const Labels& external, Labels* labels) {
  if (external.empty()) return;
  Labels merged;
  merged.reserve(labels->size() + external.size());
  auto a = labels->begin();
  auto b = external.begin();
  while (a != labels->end() || b != external.end()) {
    if (b == external.end() || (a != labels->end() && a->first < b->first)) {
      merged.push_back(std::move(*a++));
    } else if (a == labels->end() || b->first < a->first) {
      merged.push_back(*b++);
    } else {  // same name: the sample's own label wins
      merged.push_back(std::move(*a++));
      ++b;
    }
  }
  *labels = std::move(merged);
}

}  // namespace

struct EndpointMetrics {
  metrics::Counter* sent_samples;
  metrics::Counter* sent_bytes;
  metrics::Counter* failed_requests;
  metrics::Counter* retried_samples;
  metrics::Counter* refused_samples;
  metrics::Gauge* queued_samples;
  metrics::Family<metrics::Counter>* dropped;
};

class Shard;

class Endpoint {
 public:
  Endpoint(std::string component_id, const EndpointBlock& cfg, EndpointMetrics m,
           log::Logger logger);
  ~Endpoint() { stop(Clock::now()); }

  const EndpointBlock& config() const { return cfg_; }
  void start();
  // An estimate of the memory one queued sample takes (labels included), charged to
  // globalMemoryBudget() from reserve() until release().
  static constexpr size_t kApproxSampleBytes = 512;
  enum class Room { kOk, kFull, kMemory };
  // Reserves room for n samples: kFull when the queue cannot take them, kMemory when the
  // process memory budget cannot.
  Room reserve(int64_t n) {
    int64_t cur = queued_.load(std::memory_order_relaxed);
    while (true) {
      // An empty queue takes any call, so a call larger than the queue is not refused forever.
      if (cur > 0 && cur + n > limit_) return Room::kFull;
      if (queued_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed)) break;
    }
    if (!globalMemoryBudget().tryReserve(static_cast<size_t>(n) * kApproxSampleBytes)) {
      queued_.fetch_sub(n, std::memory_order_relaxed);
      return Room::kMemory;
    }
    m_.queued_samples->add(static_cast<double>(n));
    return Room::kOk;
  }
  // Gives back what reserve() took for n samples (sent, dropped, or never pushed).
  void release(int64_t n) {
    queued_.fetch_sub(n, std::memory_order_relaxed);
    globalMemoryBudget().release(static_cast<size_t>(n) * kApproxSampleBytes);
    m_.queued_samples->sub(static_cast<double>(n));
  }
  int64_t queued() const { return queued_.load(std::memory_order_relaxed); }
  int64_t limit() const { return limit_; }
  // Enqueues samples whose room was reserved.
  void push(std::vector<Sample>&& samples);
  void push(const std::vector<Sample>& samples);
  void stop(Clock::time_point deadline);
  void refused(int64_t n) { m_.refused_samples->inc(static_cast<double>(n)); }

 private:
  friend class Shard;
  void send(std::vector<Sample>& batch, Shard& shard);
  void drop(uint64_t samples, const std::string& reason, std::string_view detail);

  std::string component_id_;
  EndpointBlock cfg_;
  EndpointMetrics m_;
  log::Logger logger_;
  net::HttpClient client_;
  std::vector<std::pair<std::string, std::string>> headers_;  // constant part of each request
  int64_t limit_ = 0;
  std::atomic<int64_t> queued_{0};
  std::vector<std::unique_ptr<Shard>> shards_;
  std::once_flag stop_once_;
  log::OnceEvery drop_log_{std::chrono::seconds(60)};
  log::OnceEvery retry_log_{std::chrono::seconds(60)};
};

class Shard {
 public:
  explicit Shard(Endpoint* ep) : ep_(ep) {}
  ~Shard() { join(); }

  void start() {
    std::lock_guard<std::mutex> lk(mu_);
    if (started_ || draining_) return;
    started_ = true;
    thread_ = std::thread([this] { run(); });
  }

  void pushAll(std::vector<Sample>&& samples) {
    std::lock_guard<std::mutex> lk(mu_);
    const bool was_empty = queue_.empty();
    if (was_empty) oldest_ = Clock::now();
    for (auto& s : samples) queue_.push_back(std::move(s));
    // Wake the sender to arm the batch deadline, or because a full request is ready.
    if (was_empty ||
        queue_.size() >= static_cast<size_t>(ep_->cfg_.queue_config.max_samples_per_send)) {
      cv_.notify_one();
    }
  }

  void stop(Clock::time_point deadline) {
    std::lock_guard<std::mutex> lk(mu_);
    if (!draining_) {
      draining_ = true;
      deadline_ = deadline;
    }
    cv_.notify_all();
  }
  void join() {
    if (thread_.joinable()) thread_.join();
    // Never started, or stopped with samples left: they are dropped.
    std::lock_guard<std::mutex> lk(mu_);
    if (!queue_.empty()) {
      ep_->drop(queue_.size(), "shutdown", "the queue was not flushed before the deadline");
      ep_->release(static_cast<int64_t>(queue_.size()));
      queue_.clear();
    }
  }

  // Sleeps up to `d`; false when draining and the deadline has passed (give up).
  bool sleepFor(std::chrono::nanoseconds d) {
    std::unique_lock<std::mutex> lk(mu_);
    auto until = Clock::now() + d;
    while (true) {
      auto now = Clock::now();
      if (draining_ && now >= deadline_) return false;
      if (now >= until) return true;
      cv_.wait_until(lk, draining_ ? std::min(until, deadline_) : until);
    }
  }
  // The deadline of an attempt starting now (max when not draining), or nullopt when passed.
  std::optional<Clock::time_point> attemptDeadline() {
    std::lock_guard<std::mutex> lk(mu_);
    if (!draining_) return Clock::time_point::max();
    if (Clock::now() >= deadline_) return std::nullopt;
    return deadline_;
  }

 private:
  void run() {
    const auto& qc = ep_->cfg_.queue_config;
    const size_t max = static_cast<size_t>(qc.max_samples_per_send);
    const auto wait = std::chrono::duration_cast<Clock::duration>(qc.batch_send_deadline.value);
    std::unique_lock<std::mutex> lk(mu_);
    while (true) {
      bool full = queue_.size() >= max;
      bool due = !queue_.empty() && (draining_ || Clock::now() >= oldest_ + wait);
      if (full || due) {
        if (draining_ && Clock::now() >= deadline_) return;  // join() counts the rest
        std::vector<Sample> batch;
        size_t n = std::min(max, queue_.size());
        batch.reserve(n);
        for (size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        if (!queue_.empty()) oldest_ = Clock::now();  // the rest waits for its own deadline
        lk.unlock();
        ep_->send(batch, *this);
        ep_->release(static_cast<int64_t>(n));
        lk.lock();
        continue;
      }
      if (draining_) return;
      if (queue_.empty()) {
        cv_.wait(lk);
      } else {
        cv_.wait_until(lk, oldest_ + wait);
      }
    }
  }

  Endpoint* ep_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Sample> queue_;
  Clock::time_point oldest_{};  // when the first of the waiting samples arrived
  bool started_ = false;
  bool draining_ = false;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::thread thread_;
};

Endpoint::Endpoint(std::string component_id, const EndpointBlock& cfg, EndpointMetrics m,
                   log::Logger logger)
    : component_id_(std::move(component_id)),
      cfg_(cfg),
      m_(m),
      logger_(std::move(logger)),
      client_(components::clientOptions(cfg)) {
  headers_ = {{"Content-Encoding", "snappy"},
              {"Content-Type", "application/x-protobuf"},
              {"X-Prometheus-Remote-Write-Version", "0.1.0"}};
  auto auth = components::authorizationHeader(cfg);
  if (!auth.ok()) {
    logger_.error("cannot build the Authorization header",
                  {{"err", std::string(auth.status().message())}});
  } else if (!auth->empty()) {
    headers_.emplace_back("Authorization", std::move(*auth));
  }
  for (const auto& [k, v] : cfg.headers) {
    bool reserved = components::equalsIgnoreCase(k, "User-Agent") ||
                    components::equalsIgnoreCase(k, "Retry-Attempt");
    for (const auto& h : headers_) reserved = reserved || components::equalsIgnoreCase(h.first, k);
    if (!reserved) headers_.emplace_back(k, v);
  }
  const int64_t shards = std::max<int64_t>(1, cfg.queue_config.min_shards);
  limit_ = cfg.queue_config.capacity * shards;
  for (int64_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>(this));
}

void Endpoint::start() {
  for (auto& s : shards_) s->start();
}

void Endpoint::push(std::vector<Sample>&& samples) {
  if (shards_.size() == 1) {
    shards_[0]->pushAll(std::move(samples));
    return;
  }
  std::vector<std::vector<Sample>> parts(shards_.size());
  for (auto& x : samples) parts[hashLabels(x.labels) % shards_.size()].push_back(std::move(x));
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].empty()) shards_[i]->pushAll(std::move(parts[i]));
  }
}

void Endpoint::push(const std::vector<Sample>& samples) {
  std::vector<Sample> copy = samples;
  push(std::move(copy));
}

void Endpoint::stop(Clock::time_point deadline) {
  std::call_once(stop_once_, [&] {
    for (auto& s : shards_) s->stop(deadline);
    for (auto& s : shards_) s->join();
  });
}

void Endpoint::drop(uint64_t samples, const std::string& reason, std::string_view detail) {
  if (samples == 0) return;
  m_.dropped->with({component_id_, reason}).inc(static_cast<double>(samples));
  if (drop_log_.shouldLog()) {
    logger_.error(
        "non-recoverable error sending samples, dropping them",
        {{"reason", reason}, {"samples", std::to_string(samples)}, {"err", std::string(detail)}});
  }
}

void Endpoint::send(std::vector<Sample>& batch, Shard& shard) {
  // Build the request: one TimeSeries per distinct label set, in arrival order.
  google::protobuf::Arena arena;
  auto* req = google::protobuf::Arena::CreateMessage<::prometheus::WriteRequest>(&arena);
  std::unordered_map<const Labels*, ::prometheus::TimeSeries*, LabelsPtrHash, LabelsPtrEq> series;
  series.reserve(batch.size());
  const int64_t age_limit_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   cfg_.queue_config.sample_age_limit.value)
                                   .count();
  const int64_t oldest_ok = age_limit_ms > 0 ? nowMs() - age_limit_ms : INT64_MIN;
  uint64_t count = 0, too_old = 0;
  for (const auto& s : batch) {
    if (s.timestamp_ms < oldest_ok) {
      ++too_old;
      continue;
    }
    auto [it, inserted] = series.emplace(&s.labels, nullptr);
    if (inserted) {
      it->second = req->add_timeseries();
      for (const auto& [k, v] : s.labels) {
        auto* l = it->second->add_labels();
        l->set_name(k);
        l->set_value(v);
      }
    }
    auto* out = it->second->add_samples();
    out->set_value(s.value);
    out->set_timestamp(s.timestamp_ms);
    ++count;
  }
  drop(too_old, "too_old", "samples older than sample_age_limit");
  if (count == 0) return;
  std::string raw;
  if (!req->SerializeToString(&raw)) {
    drop(count, "encode_failed", "cannot serialize WriteRequest");
    return;
  }
  auto body = compress("snappy", raw);
  if (!body.ok()) {
    drop(count, "encode_failed", std::string(body.status().message()));
    return;
  }
  net::HttpClientRequest http;
  http.method = "POST";
  http.url = cfg_.url;
  http.body = std::move(*body);
  http.headers = headers_;

  auto delay =
      std::chrono::duration_cast<std::chrono::nanoseconds>(cfg_.queue_config.min_backoff.value);
  const auto max_delay =
      std::chrono::duration_cast<std::chrono::nanoseconds>(cfg_.queue_config.max_backoff.value);
  for (int64_t attempt = 0;; ++attempt) {
    auto deadline = shard.attemptDeadline();
    if (!deadline) {
      drop(count, "shutdown", "the shutdown deadline passed while retrying");
      return;
    }
    if (attempt > 0) {
      if (http.headers.back().first == "Retry-Attempt") http.headers.pop_back();
      http.headers.emplace_back("Retry-Attempt", std::to_string(attempt));
    }
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.remote_timeout.value);
    if (timeout.count() <= 0) timeout = std::chrono::milliseconds(30000);
    if (*deadline != Clock::time_point::max()) {
      timeout = std::min(
          timeout, std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()) +
                       std::chrono::milliseconds(1));
    }
    http.timeout = std::max(timeout, std::chrono::milliseconds(1));
    auto resp = client_.send(http);
    int status = resp.ok() ? resp->status : 0;
    if (status / 100 == 2) {
      m_.sent_samples->inc(static_cast<double>(count));
      m_.sent_bytes->inc(static_cast<double>(http.body.size()));
      return;
    }
    m_.failed_requests->inc();
    std::string detail =
        resp.ok() ? strCat("server returned HTTP status ", status, ": ", firstLine(resp->body))
                  : std::string(resp.status().message());
    bool retryable =
        status == 0 || status / 100 == 5 || (status == 429 && cfg_.queue_config.retry_on_http_429);
    if (!retryable) {
      drop(count, status == 429 ? "rate_limited" : strCat("http_", status), detail);
      return;
    }
    m_.retried_samples->inc(static_cast<double>(count));
    if (retry_log_.shouldLog()) {
      logger_.warn("failed to send samples, will retry",
                   {{"status", std::to_string(status)}, {"err", detail}});
    }
    std::chrono::nanoseconds wait = delay;
    if (resp.ok()) {
      auto ra = net::parseRetryAfter(resp->header("retry-after"));
      if (ra && ra->count() > 0) wait = *ra;
    }
    if (!shard.sleepFor(wait)) {
      drop(count, "shutdown", detail);
      return;
    }
    delay = std::min<std::chrono::nanoseconds>(delay * 2, max_delay);
    if (delay.count() <= 0) delay = std::chrono::milliseconds(1);
  }
}

// ---- Writer ----------------------------------------------------------------------------------

Writer::Writer(std::string id, metrics::Registry& metrics, const log::Logger& logger)
    : id_(std::move(id)), metrics_(metrics), logger_(logger) {}

Writer::~Writer() {
  shutdown(Clock::now());
}

absl::Status Writer::configure(const Arguments& args) {
  EndpointMetrics m;
  auto counter = [&](const char* name, const char* help) {
    return &metrics_.counter(name, help, {"component_id"}).with({id_});
  };
  m.sent_samples = counter("telegate_remote_write_sent_samples_total",
                           "Samples delivered to remote-write endpoints (2xx).");
  m.sent_bytes = counter("telegate_remote_write_sent_bytes_total",
                         "Compressed request bytes delivered to remote-write endpoints.");
  m.failed_requests = counter("telegate_remote_write_failed_requests_total",
                              "Remote-write requests that did not get a 2xx answer.");
  m.retried_samples = counter("telegate_remote_write_retried_samples_total",
                              "Samples in requests that are retried (5xx, 429, transport errors).");
  m.refused_samples = counter("telegate_remote_write_refused_samples_total",
                              "Samples refused by append() because a queue was full.");
  m.queued_samples = &metrics_
                          .gauge("telegate_remote_write_queued_samples",
                                 "Samples held in memory (queued or in flight).", {"component_id"})
                          .with({id_});
  m.dropped = &metrics_.counter("telegate_remote_write_dropped_samples_total",
                                "Samples dropped, by reason.", {"component_id", "reason"});

  const auto& schema = runtime::schemaOf<EndpointBlock>();
  std::vector<std::shared_ptr<Endpoint>> next;
  std::vector<std::shared_ptr<Endpoint>> old;
  {
    std::shared_lock<std::shared_mutex> lk(mu_);
    old = endpoints_;
  }
  for (const auto& e : args.endpoint) {
    std::shared_ptr<Endpoint> reuse;
    auto want = runtime::encodeObject(schema, &e);
    for (auto& o : old) {
      if (o && runtime::encodeObject(schema, &o->config()) == want) {
        reuse = std::move(o);
        break;
      }
    }
    if (!reuse) {
      reuse = std::make_shared<Endpoint>(id_, e, m,
                                         logger_.with("endpoint", e.name.empty() ? e.url : e.name));
    }
    next.push_back(std::move(reuse));
  }
  Labels ext(args.external_labels.begin(), args.external_labels.end());  // std::map: sorted
  bool started;
  {
    std::unique_lock<std::shared_mutex> lk(mu_);
    if (stopped_) return absl::OkStatus();
    endpoints_ = next;
    external_labels_ = std::move(ext);
    started = started_;
  }
  if (started) {
    for (auto& ep : next) ep->start();
  }
  for (auto& o : old) {
    if (o) o->stop(Clock::now() + kUpdateFlush);
  }
  return absl::OkStatus();
}

void Writer::start() {
  std::vector<std::shared_ptr<Endpoint>> eps;
  {
    std::unique_lock<std::shared_mutex> lk(mu_);
    if (stopped_) return;
    started_ = true;
    eps = endpoints_;
  }
  for (auto& ep : eps) ep->start();
}

void Writer::shutdown(Clock::time_point deadline) {
  std::vector<std::shared_ptr<Endpoint>> eps;
  {
    std::unique_lock<std::shared_mutex> lk(mu_);
    stopped_ = true;
    eps.swap(endpoints_);
  }
  for (auto& ep : eps) {
    if (ep->queued() > 0) ep->start();  // samples queued before start() get their chance
  }
  for (auto& ep : eps) ep->stop(deadline);
}

int64_t Writer::queued() const {
  std::shared_lock<std::shared_mutex> lk(mu_);
  int64_t n = 0;
  for (const auto& ep : endpoints_) n += ep->queued();
  return n;
}

absl::Status Writer::append(std::vector<Sample>&& samples) {
  if (samples.empty()) return absl::OkStatus();
  std::shared_lock<std::shared_mutex> lk(mu_);
  if (stopped_) return absl::UnavailableError(strCat(describe(), " is shut down"));
  if (endpoints_.empty()) return absl::OkStatus();
  const auto n = static_cast<int64_t>(samples.size());
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const Endpoint::Room room = endpoints_[i]->reserve(n);
    if (room != Endpoint::Room::kOk) {
      for (size_t j = 0; j < i; ++j) endpoints_[j]->release(n);
      endpoints_[i]->refused(n);
      if (room == Endpoint::Room::kMemory) {
        return absl::ResourceExhaustedError(strCat(describe(), ": memory limit reached"));
      }
      return absl::ResourceExhaustedError(
          strCat(describe(), ": the queue for ", endpoints_[i]->config().url, " is full (",
                 endpoints_[i]->queued(), " of ", endpoints_[i]->limit(), " samples)"));
    }
  }
  for (auto& s : samples) addExternalLabels(external_labels_, &s.labels);
  for (size_t i = 0; i + 1 < endpoints_.size(); ++i) endpoints_[i]->push(samples);
  endpoints_.back()->push(std::move(samples));
  return absl::OkStatus();
}

// ---- Component -------------------------------------------------------------------------------

Component::Component(runtime::Host& host, const Arguments& args)
    : host_(host), writer_(std::make_shared<Writer>(host.id(), host.metrics(), host.logger())) {
  writer_->configure(args).IgnoreError();
  host_.setExports({{"receiver", syntax::Value::capsule(writer_)}});
}

absl::Status Component::start() {
  writer_->start();
  host_.setHealth(runtime::HealthState::kHealthy, "");
  return absl::OkStatus();
}

absl::Status Component::update(const Arguments& args) {
  return writer_->configure(args);
}

void Component::shutdown(Clock::time_point deadline) {
  writer_->shutdown(deadline);
}

syntax::Value Component::debugInfo() const {
  return syntax::Value::object({{"queued_samples", syntax::Value::integer(writer_->queued())}});
}

}  // namespace telegate::prometheus::remote_write

namespace telegate::components {
void registerPrometheusRemoteWrite() {
  runtime::registerComponent<prometheus::remote_write::Component>(
      "prometheus.remote_write", "Sends samples with the Prometheus remote-write protocol.",
      {{"receiver", "capsule(storage.Appendable)", "where to send samples"}});
}
}  // namespace telegate::components
