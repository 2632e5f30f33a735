// loki.write: sends log entries to Loki's push API (see write.h for the contract).
#include "src/components/loki/write/write.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <utility>

#include "loki/push.pb.h"
#include "src/common/decompress.h"
#include "src/common/memory_budget.h"
#include "src/components/all.h"
#include "src/net/http_client.h"
#include "src/runtime/registry.h"

namespace telegate::loki::write {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kTenantLabel = "__tenant_id__";

std::pair<uint32_t, size_t> decodeRune(std::string_view s, size_t i) {
  auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  size_t n = 0;
  uint32_t r = 0, min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2, r = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3, r = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4, r = b0 & 0x07, min = 0x10000;
  } else {
    return {0xFFFD, 0};
  }
  if (i + n > s.size()) return {0xFFFD, 0};
  for (size_t k = 1; k < n; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return {0xFFFD, 0};
    r = (r << 6) | (b & 0x3F);
  }
  if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) return {0xFFFD, 0};
  return {r, n};
}

// strconv.Quote (valid non-ASCII runes are kept unless they are C1 controls or a few other
// non-printables; invalid bytes become \xNN).
void appendGoQuoted(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      switch (b) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\a':
          out->append("\\a");
          break;
        case '\b':
          out->append("\\b");
          break;
        case '\f':
          out->append("\\f");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        case '\t':
          out->append("\\t");
          break;
        case '\v':
          out->append("\\v");
          break;
        default:
          if (b < 0x20 || b == 0x7f) {
            out->append("\\x");
            out->push_back(kHex[b >> 4]);
            out->push_back(kHex[b & 15]);
          } else {
            out->push_back(static_cast<char>(b));
          }
      }
      ++i;
      continue;
    }
    auto [r, n] = decodeRune(s, i);
    if (n == 0) {
      out->append("\\x");
      out->push_back(kHex[b >> 4]);
      out->push_back(kHex[b & 15]);
      ++i;
      continue;
    }
    if ((r >= 0x80 && r < 0xA0) || r == 0xAD || r == 0x2028 || r == 0x2029 || r == 0xFEFF) {
      out->append("\\u");
      for (int sh = 12; sh >= 0; sh -= 4) out->push_back(kHex[(r >> sh) & 15]);
    } else {
      out->append(s.substr(i, n));
    }
    i += n;
  }
  out->push_back('"');
}

uint64_t entryBytes(const Entry& e) {
  uint64_t n = e.line.size();
  for (const auto& [k, v] : e.structured_metadata) n += k.size() + v.size();
  return n;
}

// A bounded class for the metric label; the text itself goes to the (rate-limited) log.
std::string dropReason(int status, std::string_view first_line) {
  std::string l(first_line);
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l.find("out of order") != std::string::npos) return "out_of_order";
  if (l.find("too old") != std::string::npos || l.find("too far behind") != std::string::npos) {
    return "too_old";
  }
  if (l.find("too far in the future") != std::string::npos || l.find("too new") != l.npos) {
    return "too_new";
  }
  if (l.find("max entry size") != std::string::npos || l.find("line too long") != l.npos) {
    return "line_too_long";
  }
  if (l.find("stream limit") != std::string::npos || l.find("max streams") != l.npos) {
    return "stream_limit";
  }
  if (l.find("rate limit") != std::string::npos) return "rate_limited";
  if (l.find("invalid label") != std::string::npos || l.find("parsing labels") != l.npos) {
    return "invalid_labels";
  }
  if (status == 429) return "rate_limited";
  return strCat("http_", status);
}

std::string_view firstLine(std::string_view body) {
  body = body.substr(0, 1024);
  size_t nl = body.find('\n');
  return nl == std::string_view::npos ? body : body.substr(0, nl);
}

// One request's worth of entries of one tenant.
struct PendingBatch {
  logproto::PushRequest req;
  std::unordered_map<std::string, int> streams;  // labels string -> index in req.streams
  uint64_t bytes = 0;
  uint64_t entries = 0;
  Clock::time_point created{};
  void add(const std::string& labels, Entry&& e, uint64_t size) {
    if (entries == 0) created = Clock::now();
    auto [it, inserted] = streams.emplace(labels, req.streams_size());
    logproto::StreamAdapter* s;
    if (inserted) {
      s = req.add_streams();
      s->set_labels(labels);
    } else {
      s = req.mutable_streams(it->second);
    }
    auto* ea = s->add_entries();
    ea->mutable_timestamp()->set_seconds(e.timestamp_ns / 1000000000);
    int64_t nanos = e.timestamp_ns % 1000000000;
    if (nanos < 0) {
      nanos += 1000000000;
      ea->mutable_timestamp()->set_seconds(ea->timestamp().seconds() - 1);
    }
    ea->mutable_timestamp()->set_nanos(static_cast<int32_t>(nanos));
    ea->set_line(std::move(e.line));
    for (auto& [k, v] : e.structured_metadata) {
      auto* sm = ea->add_structuredmetadata();
      sm->set_name(std::move(k));
      sm->set_value(std::move(v));
    }
    bytes += size;
    ++entries;
  }
};

}  // namespace

// An entry ready for a queue: rendered labels, tenant and size.
struct Prepared {
  std::string labels;
  std::string tenant;  // from __tenant_id__; empty: the endpoint's tenant_id
  Entry entry;
  uint64_t size = 0;
};

class TenantQueue;

// One `endpoint` block: HTTP client, request template and the per-tenant queues.
class EndpointClient {
 public:
  struct Metrics {
    metrics::Counter* sent_entries;
    metrics::Counter* sent_bytes;
    metrics::Counter* retries;
    metrics::Counter* refused;
    metrics::Gauge* queued_bytes;
    metrics::Family<metrics::Counter>* dropped;
    metrics::Family<metrics::Histogram>* duration;
  };

  EndpointClient(std::string component_id, const EndpointBlock& cfg, Metrics m, log::Logger logger);
  ~EndpointClient();

  absl::Status enqueue(std::vector<Prepared>&& items, std::chrono::milliseconds overflow_wait);
  void stop(Clock::time_point deadline);
  const EndpointBlock& config() const { return cfg_; }

 private:
  friend class TenantQueue;
  TenantQueue* queueFor(const std::string& tenant);
  void send(PendingBatch& batch, const std::string& tenant, TenantQueue& q);
  void drop(uint64_t entries, const std::string& reason, std::string_view detail);

  std::string component_id_;
  EndpointBlock cfg_;
  Metrics m_;
  log::Logger logger_;
  net::HttpClient client_;
  std::vector<std::pair<std::string, std::string>> auth_headers_;
  std::mutex queues_mu_;  // guards queues_ (looked up once per push and tenant)
  std::map<std::string, std::unique_ptr<TenantQueue>> queues_;
  bool stopped_ = false;  // guarded by queues_mu_
  log::OnceEvery drop_log_{std::chrono::seconds(60)};
  log::OnceEvery retry_log_{std::chrono::seconds(60)};
};

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
  absl::Status enqueue(std::vector<Prepared*>& items, uint64_t bytes, bool block,
                       std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lk(mu_);
    const uint64_t cap = ep_->cfg_.queue_config.capacity.bytes;
    auto fits = [&] { return draining_ || queued_ == 0 || queued_ + bytes <= cap; };
    if (!fits()) {
      if (block) space_cv_.wait_for(lk, wait, fits);
      if (!fits()) {
        ep_->m_.refused->inc(static_cast<double>(items.size()));
        return absl::ResourceExhaustedError(
            strCat("loki.write queue for ", ep_->cfg_.url,
                   tenant_.empty() ? std::string() : strCat(" tenant \"", tenant_, "\""),
                   " is full (", queued_, " of ", cap, " bytes)"));
      }
    }
    if (draining_) return absl::UnavailableError("loki.write is shutting down");
    if (!globalMemoryBudget().tryReserve(bytes)) {
      ep_->m_.refused->inc(static_cast<double>(items.size()));
      return absl::ResourceExhaustedError(
          strCat("loki.write queue for ", ep_->cfg_.url, ": memory limit reached"));
    }
    const uint64_t limit = ep_->cfg_.batch_size.bytes;
    for (Prepared* p : items) {
      if (current_.entries > 0 && current_.bytes + p->size > limit) seal();
      current_.add(p->labels, std::move(p->entry), p->size);
    }
    queued_ += bytes;
    ep_->m_.queued_bytes->add(static_cast<double>(bytes));
    cv_.notify_one();
    return absl::OkStatus();
  }

  void stop(Clock::time_point deadline) {
    std::lock_guard<std::mutex> lk(mu_);
    if (!draining_) {
      draining_ = true;
      deadline_ = deadline;
    }
    cv_.notify_all();
    space_cv_.notify_all();
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

  // Sleeps up to `d`; returns early once draining and past the deadline. Returns false when
  // the deadline has passed (give up).
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
  // The deadline for an attempt starting now, or nullopt when it has passed.
  std::optional<Clock::time_point> attemptDeadline() {
    std::lock_guard<std::mutex> lk(mu_);
    if (!draining_) return Clock::time_point::max();
    if (Clock::now() >= deadline_) return std::nullopt;
    return deadline_;
  }

 private:
  void seal() {
    ready_.push_back(std::move(current_));
    current_ = PendingBatch();
  }

  void run() {
    std::unique_lock<std::mutex> lk(mu_);
    while (true) {
      if (!ready_.empty()) {
        PendingBatch b = std::move(ready_.front());
        ready_.pop_front();
        lk.unlock();
        ep_->send(b, tenant_, *this);
        lk.lock();
        queued_ -= b.bytes;
        globalMemoryBudget().release(b.bytes);
        ep_->m_.queued_bytes->sub(static_cast<double>(b.bytes));
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
  uint64_t queued_ = 0;  // bytes in current_, ready_ and in flight
  bool draining_ = false;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::thread thread_;
};

EndpointClient::EndpointClient(std::string component_id, const EndpointBlock& cfg, Metrics m,
                               log::Logger logger)
    : component_id_(std::move(component_id)),
      cfg_(cfg),
      m_(m),
      logger_(std::move(logger)),
      client_(components::clientOptions(cfg)) {
  auto auth = components::authorizationHeader(cfg);
  if (!auth.ok()) {
    logger_.error("cannot build the Authorization header",
                  {{"err", std::string(auth.status().message())}});
  } else if (!auth->empty()) {
    auth_headers_.emplace_back("Authorization", std::move(*auth));
  }
}

EndpointClient::~EndpointClient() {
  stop(Clock::now());
}

TenantQueue* EndpointClient::queueFor(const std::string& tenant) {
  std::lock_guard<std::mutex> lk(queues_mu_);
  if (stopped_) return nullptr;
  auto& q = queues_[tenant];
  if (!q) q = std::make_unique<TenantQueue>(this, tenant);
  return q.get();
}

absl::Status EndpointClient::enqueue(std::vector<Prepared>&& items,
                                     std::chrono::milliseconds overflow_wait) {
  // Group by effective tenant, keeping push order within a tenant.
  std::map<std::string, std::pair<std::vector<Prepared*>, uint64_t>> by_tenant;
  for (auto& p : items) {
    auto& g = by_tenant[p.tenant.empty() ? cfg_.tenant_id : p.tenant];
    g.first.push_back(&p);
    g.second += p.size;
  }
  for (auto& [tenant, g] : by_tenant) {
    TenantQueue* q = queueFor(tenant);
    if (q == nullptr) return absl::UnavailableError("loki.write is shutting down");
    auto st = q->enqueue(g.first, g.second, cfg_.queue_config.block_on_overflow, overflow_wait);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

void EndpointClient::stop(Clock::time_point deadline) {
  std::map<std::string, std::unique_ptr<TenantQueue>> queues;
  {
    std::lock_guard<std::mutex> lk(queues_mu_);
    stopped_ = true;
    for (auto& [t, q] : queues_) q->stop(deadline);
    queues.swap(queues_);
  }
  for (auto& [t, q] : queues) q->join();
}

void EndpointClient::drop(uint64_t entries, const std::string& reason, std::string_view detail) {
  m_.dropped->with({component_id_, reason}).inc(static_cast<double>(entries));
  if (drop_log_.shouldLog()) {
    logger_.error(
        "final error sending batch, dropping data",
        {{"reason", reason}, {"entries", std::to_string(entries)}, {"err", std::string(detail)}});
  }
}

void EndpointClient::send(PendingBatch& batch, const std::string& tenant, TenantQueue& q) {
  std::string raw;
  if (!batch.req.SerializeToString(&raw)) {
    drop(batch.entries, "encode_failed", "cannot serialize PushRequest");
    return;
  }
  auto body = compress("snappy", raw);
  if (!body.ok()) {
    drop(batch.entries, "encode_failed", std::string(body.status().message()));
    return;
  }
  net::HttpClientRequest req;
  req.method = "POST";
  req.url = cfg_.url;
  req.body = std::move(*body);
  req.headers.emplace_back("Content-Type", "application/x-protobuf");
  req.headers.emplace_back("Content-Encoding", "snappy");
  if (!tenant.empty()) req.headers.emplace_back("X-Scope-OrgID", tenant);
  for (const auto& h : auth_headers_) req.headers.push_back(h);
  for (const auto& [k, v] : cfg_.headers) {
    bool present = components::equalsIgnoreCase(k, "User-Agent");
    for (const auto& h : req.headers) present = present || components::equalsIgnoreCase(h.first, k);
    if (!present) req.headers.emplace_back(k, v);
  }

  static thread_local std::mt19937_64 rng{std::random_device{}()};
  auto delay = cfg_.min_backoff_period.value;
  const auto max_delay = cfg_.max_backoff_period.value;
  for (int64_t attempt = 1;; ++attempt) {
    auto deadline = q.attemptDeadline();
    if (!deadline) {
      drop(batch.entries, "shutdown", "drain_timeout reached");
      return;
    }
    auto timeout = cfg_.remote_timeout.millis();
    if (*deadline != Clock::time_point::max()) {
      timeout = std::min(
          timeout, std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()) +
                       std::chrono::milliseconds(1));
    }
    req.timeout = std::max(timeout, std::chrono::milliseconds(1));
    auto t0 = Clock::now();
    auto resp = client_.send(req);
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    int status = resp.ok() ? resp->status : 0;
    m_.duration->with({component_id_, resp.ok() ? std::to_string(status) : "error"}).observe(secs);
    if (status / 100 == 2) {
      m_.sent_entries->inc(static_cast<double>(batch.entries));
      m_.sent_bytes->inc(static_cast<double>(batch.bytes));
      return;
    }
    std::string detail =
        resp.ok() ? strCat("server returned HTTP status ", status, ": ", firstLine(resp->body))
                  : std::string(resp.status().message());
    bool retryable = status == 0 || status / 100 == 5 || (status == 429 && cfg_.retry_on_http_429);
    if (!retryable) {
      drop(batch.entries, dropReason(status, resp.ok() ? firstLine(resp->body) : ""), detail);
      return;
    }
    if (cfg_.max_backoff_retries > 0 && attempt >= cfg_.max_backoff_retries) {
      drop(batch.entries, "retries_exhausted", detail);
      return;
    }
    m_.retries->inc();
    if (retry_log_.shouldLog()) {
      logger_.warn("error sending batch, will retry",
                   {{"status", std::to_string(status)}, {"err", detail}});
    }
    // Jittered: uniform in [delay, 2*delay), capped at the maximum.
    auto jitter = std::chrono::nanoseconds(
        delay.count() > 0 ? static_cast<int64_t>(rng() % static_cast<uint64_t>(delay.count())) : 0);
    auto wait = std::min<std::chrono::nanoseconds>(delay + jitter, max_delay);
    if (!q.sleepFor(wait)) {
      drop(batch.entries, "shutdown", detail);
      return;
    }
    delay = std::min<std::chrono::nanoseconds>(delay * 2, max_delay);
  }
}

std::string renderLabels(const LabelSet& labels) {
  std::vector<const std::pair<std::string, std::string>*> sorted;
  sorted.reserve(labels.size());
  for (const auto& l : labels) {
    if (l.first.size() >= 2 && l.first[0] == '_' && l.first[1] == '_') continue;
    sorted.push_back(&l);
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto* a, const auto* b) { return a->first < b->first; });
  std::string out = "{";
  const std::string* prev = nullptr;
  for (const auto* l : sorted) {
    if (prev != nullptr && *prev == l->first) continue;
    if (prev != nullptr) out.append(", ");
    prev = &l->first;
    out.append(l->first);
    out.push_back('=');
    appendGoQuoted(&out, l->second);
  }
  out.push_back('}');
  return out;
}

// ---- Writer ----------------------------------------------------------------------------------

Writer::Writer(std::string id, metrics::Registry& metrics, const log::Logger& logger)
    : id_(std::move(id)), metrics_(metrics), logger_(logger) {}

Writer::~Writer() {
  shutdown(Clock::now());
}

absl::Status Writer::configure(const Arguments& args) {
  EndpointClient::Metrics m;
  m.sent_entries = &metrics_
                        .counter("telegate_loki_write_sent_entries_total",
                                 "Entries delivered to Loki (2xx).", {"component_id"})
                        .with({id_});
  m.sent_bytes =
      &metrics_
           .counter("telegate_loki_write_sent_bytes_total",
                    "Line and structured metadata bytes delivered to Loki.", {"component_id"})
           .with({id_});
  m.retries = &metrics_
                   .counter("telegate_loki_write_batch_retries_total",
                            "Push requests retried (429, 5xx, transport errors).", {"component_id"})
                   .with({id_});
  m.refused = &metrics_
                   .counter("telegate_loki_write_refused_entries_total",
                            "Entries refused by push() because a queue was full.", {"component_id"})
                   .with({id_});
  m.queued_bytes = &metrics_
                        .gauge("telegate_loki_write_queued_bytes",
                               "Bytes held in memory waiting to be delivered.", {"component_id"})
                        .with({id_});
  m.dropped = &metrics_.counter("telegate_loki_write_dropped_entries_total",
                                "Entries dropped, by reason.", {"component_id", "reason"});
  m.duration =
      &metrics_.histogram("telegate_loki_write_request_duration_seconds",
                          "Duration of push requests.", {"component_id", "status_code"}, {});
  std::vector<std::shared_ptr<EndpointClient>> eps;
  for (const auto& e : args.endpoint) {
    eps.push_back(std::make_shared<EndpointClient>(
        id_, e, m,
        e.name.empty() ? logger_.with("host", e.url)
                       : logger_.with("host", e.url).with("endpoint", e.name)));
  }
  LabelSet ext(args.external_labels.begin(), args.external_labels.end());
  std::vector<std::shared_ptr<EndpointClient>> old;
  {
    std::unique_lock<std::shared_mutex> lk(mu_);
    old.swap(endpoints_);
    endpoints_ = std::move(eps);
    external_labels_ = std::move(ext);
    active_ = true;
  }
  for (auto& ep : old) {
    ep->stop(Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                ep->config().queue_config.drain_timeout.value));
  }
  return absl::OkStatus();
}

absl::Status Writer::push(std::vector<Entry>&& entries) {
  std::shared_lock<std::shared_mutex> lk(mu_);
  if (!active_) return absl::UnavailableError(strCat(describe(), " is not running"));
  if (endpoints_.empty()) return absl::OkStatus();  // no endpoint block: nothing to send to
  std::vector<Prepared> prepared;
  prepared.reserve(entries.size());
  for (auto& e : entries) {
    Prepared p;
    for (const auto& [k, v] : e.labels) {
      if (k == kTenantLabel) p.tenant = v;
    }
    if (external_labels_.empty()) {
      p.labels = renderLabels(e.labels);
    } else {
      LabelSet merged = e.labels;  // entry labels first: they win on duplicates
      merged.insert(merged.end(), external_labels_.begin(), external_labels_.end());
      p.labels = renderLabels(merged);
    }
    p.size = entryBytes(e);
    p.entry = std::move(e);
    prepared.push_back(std::move(p));
  }
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    absl::Status st;
    if (i + 1 == endpoints_.size()) {
      st = endpoints_[i]->enqueue(std::move(prepared), overflow_wait_);
    } else {
      std::vector<Prepared> copy = prepared;
      st = endpoints_[i]->enqueue(std::move(copy), overflow_wait_);
    }
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

void Writer::shutdown(Clock::time_point deadline) {
  std::vector<std::shared_ptr<EndpointClient>> eps;
  {
    std::unique_lock<std::shared_mutex> lk(mu_);
    eps.swap(endpoints_);
    active_ = false;
  }
  for (auto& ep : eps) ep->stop(deadline);
}

// ---- Component -------------------------------------------------------------------------------

Component::Component(runtime::Host& host, const Arguments& args)
    : host_(host),
      writer_(std::make_shared<Writer>(host.id(), host.metrics(), host.logger())),
      args_(args) {
  // Builds clients only: sender threads start with the first entry of each tenant.
  writer_->configure(args_).IgnoreError();
  host_.setExports({{"receiver", syntax::Value::capsule(writer_)}});
}

absl::Status Component::start() {
  absl::Status st = absl::OkStatus();
  if (args_.wal.enabled) {
    host_.logger().warn(
        "wal.enabled is not supported by telegate; entries are buffered in memory only");
  }
  host_.setHealth(st.ok() ? runtime::HealthState::kHealthy : runtime::HealthState::kUnhealthy,
                  st.ok() ? "" : std::string(st.message()));
  return st;
}

absl::Status Component::update(const Arguments& args) {
  const auto& schema = runtime::schemaOf<Arguments>();
  bool same = runtime::encodeObject(schema, &args) == runtime::encodeObject(schema, &args_);
  args_ = args;
  if (same) return absl::OkStatus();
  return writer_->configure(args_);
}

void Component::shutdown(Clock::time_point deadline) {
  // Each endpoint gets its drain_timeout, bounded by the controller's deadline.
  Clock::time_point d = deadline;
  for (const auto& e : args_.endpoint) {
    d = std::min(d, Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       e.queue_config.drain_timeout.value));
  }
  writer_->shutdown(d);
}

}  // namespace telegate::loki::write

namespace telegate::components {
void registerLokiWrite() {
  runtime::registerComponent<loki::write::Component>(
      "loki.write", "Sends log entries to Loki.",
      {{"receiver", "capsule(loki.LogsReceiver)", "where to send log entries"}});
}
}  // namespace telegate::components
