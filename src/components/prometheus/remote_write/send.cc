// Request sending of a prometheus.remote_write endpoint: encodes a WriteRequest, compresses it
// with snappy and posts it with retries (see endpoint.h).
#include <snappy.h>

#include <cstring>

#include "src/common/backoff.h"
#include "src/components/prometheus/remote_write/encode.h"
#include "src/components/prometheus/remote_write/endpoint.h"

namespace telegate::prometheus::remote_write {
namespace {

std::string_view firstLine(std::string_view body) {
  body = body.substr(0, 512);
  size_t nl = body.find('\n');
  return nl == std::string_view::npos ? body : body.substr(0, nl);
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Prometheus's retry waits: min_backoff doubling up to max_backoff (a zero interval steps to
// 1ms), no jitter, no limit; the server's Retry-After replaces the wait when it sent one.
BackoffPolicy backoffPolicy(const QueueConfigBlock& q) {
  BackoffPolicy p;
  p.initial_interval = q.min_backoff.value;
  p.max_interval = q.max_backoff.value;
  p.multiplier = 2;
  p.randomization_factor = 0;
  p.server_delay = BackoffPolicy::ServerDelay::kReplace;
  p.zero_interval_step = std::chrono::milliseconds(1);
  return p;
}
}  // namespace

void Endpoint::send(const std::vector<Piece>& pieces,
                    const std::vector<std::shared_ptr<Hold>>& holds, Shard& shard) {
  const int64_t age_limit_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   cfg_.queue_config.sample_age_limit.value)
                                   .count();
  const int64_t oldest_ok = age_limit_ms > 0 ? nowMs() - age_limit_ms : INT64_MIN;
  auto abandon = [&holds] {
    for (const auto& h : holds) h->undelivered.store(true, std::memory_order_relaxed);
  };

  std::shared_ptr<const Labels> ext_holder;
  {
    std::lock_guard<std::mutex> lk(ext_mu_);
    ext_holder = external_;
  }
  const Labels& external = *ext_holder;
  // Pass 1: the merged label list and the encoded size of every series.
  auto& labels = shard.labels;
  auto& sizes = shard.sizes;  // per piece: TimeSeries size, 0 = skipped; then label count
  sizes.clear();
  labels.clear();
  uint64_t count = 0, too_old = 0;
  size_t total = 0;
  for (const Piece& pc : pieces) {
    const SeriesBatch& b = *pc.batch;
    const auto& s = b.series(pc.series);
    const auto* pts = b.points(s) + pc.first;
    size_t ts_size = 0;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < pc.n; ++i) {
      if (pts[i].timestamp_ms < oldest_ok) continue;
      const size_t ss = sampleSize(pts[i].timestamp_ms);
      ts_size += 1 + varintSize(ss) + ss;
      ++kept;
    }
    too_old += pc.n - kept;
    const size_t first_label = labels.size();
    if (kept > 0) {
      // Series labels merged with the external labels (the series' own label wins).
      const auto* ls = b.labels(s);
      uint32_t a = 0;
      size_t e = 0;
      while (a < s.label_count || e < external.size()) {
        std::string_view an = a < s.label_count ? b.labelName(ls[a]) : std::string_view();
        if (e == external.size() || (a < s.label_count && an < external[e].first)) {
          labels.emplace_back(an, b.labelValue(ls[a]));
          ++a;
        } else if (a == s.label_count || external[e].first < an) {
          labels.emplace_back(external[e].first, external[e].second);
          ++e;
        } else {
          labels.emplace_back(an, b.labelValue(ls[a]));
          ++a;
          ++e;
        }
      }
      for (size_t i = first_label; i < labels.size(); ++i) {
        const size_t ls_size = labelSize(labels[i].first, labels[i].second);
        ts_size += 1 + varintSize(ls_size) + ls_size;
      }
      total += 1 + varintSize(ts_size) + ts_size;
      count += kept;
    }
    sizes.push_back(kept > 0 ? static_cast<uint32_t>(ts_size) : 0);
    sizes.push_back(static_cast<uint32_t>(labels.size() - first_label));
  }
  drop(too_old, "too_old", "samples older than sample_age_limit");
  if (count == 0) return;

  // Pass 2: write.
  std::string& raw = shard.raw;
  raw.resize(total);
  char* p = raw.data();
  size_t li = 0;
  for (size_t k = 0; k < pieces.size(); ++k) {
    const size_t ts_size = sizes[2 * k];
    const size_t nl = sizes[2 * k + 1];
    if (ts_size == 0) continue;
    *p++ = 0x0a;  // WriteRequest.timeseries
    p = putVarint(p, ts_size);
    for (size_t i = 0; i < nl; ++i, ++li) {
      const auto& [n, v] = labels[li];
      *p++ = 0x0a;  // TimeSeries.labels
      p = putVarint(p, labelSize(n, v));
      *p++ = 0x0a;  // Label.name
      p = putVarint(p, n.size());
      p = copyBytes(p, n.data(), n.size());
      *p++ = 0x12;  // Label.value
      p = putVarint(p, v.size());
      p = copyBytes(p, v.data(), v.size());
    }
    const Piece& pc = pieces[k];
    const auto* pts = pc.batch->points(pc.batch->series(pc.series)) + pc.first;
    for (uint32_t i = 0; i < pc.n; ++i) {
      if (pts[i].timestamp_ms < oldest_ok) continue;
      *p++ = 0x12;  // TimeSeries.samples
      p = putVarint(p, sampleSize(pts[i].timestamp_ms));
      *p++ = 0x09;  // Sample.value (fixed64)
      std::memcpy(p, &pts[i].value, 8);
      p += 8;
      *p++ = 0x10;  // Sample.timestamp
      p = putVarint(p, static_cast<uint64_t>(pts[i].timestamp_ms));
    }
  }
  if (static_cast<size_t>(p - raw.data()) != total) {
    drop(count, "encode_failed", "WriteRequest size mismatch");
    return;
  }
  std::string& body = shard.body;
  body.resize(snappy::MaxCompressedLength(raw.size()));
  size_t body_len = 0;
  snappy::RawCompress(raw.data(), raw.size(), body.data(), &body_len);
  body.resize(body_len);

  net::HttpClientRequest http;
  http.method = "POST";
  http.url = cfg_.url;
  http.body = std::move(body);
  http.headers = headers_;
  struct GiveBack {  // the body buffer goes back to the shard for reuse
    std::string& to;
    std::string& from;
    ~GiveBack() { to = std::move(from); }
  } give_back{body, http.body};

  ExponentialBackoff backoff(backoffPolicy(cfg_.queue_config));
  for (int64_t attempt = 0;; ++attempt) {
    auto deadline = shard.attemptDeadline();
    if (!deadline) {
      abandon();
      if (!wal_q_) drop(count, "shutdown", "the shutdown deadline passed while retrying");
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
    failures_.fetch_add(1, std::memory_order_relaxed);
    std::string detail =
        resp.ok() ? strCat("server returned HTTP status ", status, ": ", firstLine(resp->body))
                  : std::string(resp.status().message());
    bool retryable =
        status == 0 || status / 100 == 5 || (status == 429 && cfg_.queue_config.retry_on_http_429);
    if (!retryable) {
      drop(count, status == 429 ? std::string("rate_limited") : strCat("http_", status), detail);
      return;
    }
    m_.retried_samples->inc(static_cast<double>(count));
    if (retry_log_.shouldLog()) {
      logger_.warn("failed to send samples, will retry",
                   {{"status", std::to_string(status)}, {"err", detail}});
    }
    std::chrono::nanoseconds server_delay{0};
    if (resp.ok()) {
      auto ra = net::parseRetryAfter(resp->header("retry-after"));
      if (ra) server_delay = *ra;
    }
    // The policy sets no attempt or time limit, so there is always a wait.
    if (!shard.sleepFor(*backoff.next(server_delay))) {
      abandon();
      if (!wal_q_) drop(count, "shutdown", detail);
      return;
    }
  }
}

}  // namespace telegate::prometheus::remote_write
