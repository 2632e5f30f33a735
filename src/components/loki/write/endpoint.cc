// loki.write endpoint (see endpoint.h for the contract).
#include "src/components/loki/write/endpoint.h"

#include <algorithm>
#include <filesystem>

#include "src/common/backoff.h"
#include "src/components/loki/write/tenant_queue.h"
#include "src/components/loki/write/wal_sender.h"

namespace telegate::loki::write {
namespace {

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

}  // namespace

EndpointClient::EndpointClient(std::string component_id, const EndpointBlock& cfg, Metrics m,
                               log::Logger logger, const WalBlock& wal, std::string wal_dir,
                               metrics::Registry* registry)
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
  if (!wal.enabled) return;
  wal_enabled_ = true;
  if (wal_dir.empty()) {
    wal_status_ = absl::FailedPreconditionError("loki.write: no data directory for the WAL");
  } else {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(wal_dir).parent_path(), ec);
    queue::DiskQueueOptions o;
    o.dir = wal_dir;
    o.max_bytes = wal.max_size.bytes;
    o.sync = wal.fsync == "never"    ? queue::SyncPolicy::kNever
             : wal.fsync == "always" ? queue::SyncPolicy::kEveryBatch
                                     : queue::SyncPolicy::kInterval;
    o.registry = registry;
    auto q = queue::DiskQueue::open(std::move(o));
    if (q.ok()) {
      wal_ = std::move(*q);
    } else {
      wal_status_ = q.status();
    }
  }
  if (!wal_status_.ok()) {
    logger_.error("cannot open the WAL; pushes are refused",
                  {{"dir", wal_dir}, {"err", std::string(wal_status_.message())}});
    return;
  }
  wal_max_ = wal.max_size.bytes;
  wal_sender_ = std::make_unique<WalSender>(
      this, std::chrono::duration_cast<std::chrono::milliseconds>(wal.max_read_frequency.value));
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

metrics::Histogram* EndpointClient::durationFor(int status) {
  std::lock_guard<std::mutex> lk(duration_mu_);
  auto& h = duration_by_status_[status];
  if (h == nullptr) {
    h = &m_.duration->with({component_id_, status == 0 ? "error" : std::to_string(status)});
  }
  return h;
}

absl::Status EndpointClient::enqueue(const Prepared& p, std::chrono::milliseconds overflow_wait) {
  const EntryBatch& b = *p.batch;
  auto effective = [&](uint32_t stream) -> const std::string& {
    return p.tenant[stream].empty() ? cfg_.tenant_id : p.tenant[stream];
  };
  auto one = [&](const std::string& tenant, const std::vector<uint32_t>* records,
                 uint64_t bytes) -> absl::Status {
    if (wal_enabled_) return enqueueWal(p, tenant, records, overflow_wait);
    TenantQueue* q = queueFor(tenant);
    if (q == nullptr) return absl::UnavailableError("loki.write is shutting down");
    return q->enqueue(p, records, bytes, cfg_.queue_config.block_on_overflow, overflow_wait);
  };
  if (p.one_tenant) {
    uint64_t bytes = 0;
    for (const auto& r : b.records) bytes += recordBytes(b, r);
    return one(b.streams.empty() ? cfg_.tenant_id : effective(0), nullptr, bytes);
  }
  // Group by effective tenant, keeping push order within a tenant.
  std::map<std::string, std::pair<std::vector<uint32_t>, uint64_t>> by_tenant;
  for (uint32_t i = 0; i < b.records.size(); ++i) {
    auto& g = by_tenant[effective(b.records[i].stream)];
    g.first.push_back(i);
    g.second += recordBytes(b, b.records[i]);
  }
  for (auto& [tenant, g] : by_tenant) {
    auto st = one(tenant, &g.first, g.second);
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
  if (wal_sender_) {
    wal_sender_->stop(deadline);
    wal_sender_->join();
    wal_sender_.reset();
  }
  if (wal_) wal_->close();
  room_cv_.notify_all();
}

void EndpointClient::drop(uint64_t entries, const std::string& reason, std::string_view detail) {
  m_.dropped->with({component_id_, reason}).inc(static_cast<double>(entries));
  if (drop_log_.shouldLog()) {
    logger_.error(
        "final error sending batch, dropping data",
        {{"reason", reason}, {"entries", std::to_string(entries)}, {"err", std::string(detail)}});
  }
}

// Loki's retry waits: min_backoff_period doubling up to max_backoff_period, each wait uniform in
// [d, 2d) capped at the maximum, at most max_backoff_retries attempts (<= 0 = no limit), the
// server's Retry-After ignored (as Loki's client does).
namespace {
BackoffPolicy backoffPolicy(const EndpointBlock& cfg) {
  BackoffPolicy p;
  p.initial_interval = cfg.min_backoff_period.value;
  p.max_interval = cfg.max_backoff_period.value;
  p.multiplier = 2;
  p.randomization_factor = 1;
  p.jitter = BackoffPolicy::Jitter::kAbove;
  p.cap_wait_at_max_interval = true;
  p.server_delay = BackoffPolicy::ServerDelay::kIgnore;
  p.max_attempts = std::max<int64_t>(cfg.max_backoff_retries, 0);
  return p;
}
}  // namespace

Outcome EndpointClient::send(const std::vector<std::string_view>& pieces, std::string* scratch,
                             uint64_t entries, uint64_t bytes, const std::string& tenant,
                             StopState& stop, std::string* deadline_reason) {
  net::HttpClientRequest req;
  req.method = "POST";
  req.url = cfg_.url;
  req.body = snappyPieces(pieces, scratch);
  req.headers.emplace_back("Content-Type", "application/x-protobuf");
  req.headers.emplace_back("Content-Encoding", "snappy");
  if (!tenant.empty()) req.headers.emplace_back("X-Scope-OrgID", tenant);
  for (const auto& h : auth_headers_) req.headers.push_back(h);
  for (const auto& [k, v] : cfg_.headers) {
    bool present = components::equalsIgnoreCase(k, "User-Agent");
    for (const auto& h : req.headers) present = present || components::equalsIgnoreCase(h.first, k);
    if (!present) req.headers.emplace_back(k, v);
  }

  ExponentialBackoff backoff(backoffPolicy(cfg_));
  for (;;) {
    auto deadline = stop.attemptDeadline();
    if (!deadline) {
      *deadline_reason = "drain_timeout reached";
      return Outcome::kDeadline;
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
    durationFor(status)->observe(secs);
    if (status / 100 == 2) {
      m_.sent_entries->inc(static_cast<double>(entries));
      m_.sent_bytes->inc(static_cast<double>(bytes));
      return Outcome::kDelivered;
    }
    std::string detail =
        resp.ok() ? strCat("server returned HTTP status ", status, ": ", firstLine(resp->body))
                  : std::string(resp.status().message());
    bool retryable = status == 0 || status / 100 == 5 || (status == 429 && cfg_.retry_on_http_429);
    if (!retryable) {
      drop(entries, dropReason(status, resp.ok() ? firstLine(resp->body) : ""), detail);
      return Outcome::kDropped;
    }
    const auto wait = backoff.next();
    if (!wait) {
      drop(entries, "retries_exhausted", detail);
      return Outcome::kDropped;
    }
    m_.retries->inc();
    if (retry_log_.shouldLog()) {
      logger_.warn("error sending batch, will retry",
                   {{"status", std::to_string(status)}, {"err", detail}});
    }
    if (!stop.sleepFor(*wait)) {
      *deadline_reason = detail;
      return Outcome::kDeadline;
    }
  }
}

}  // namespace telegate::loki::write
