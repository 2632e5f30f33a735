// Endpoint of prometheus.remote_write: construction, shard set, resharding, stop and drop
// accounting (see endpoint.h).
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "src/components/prometheus/remote_write/endpoint.h"

namespace telegate::prometheus::remote_write {

Endpoint::Endpoint(const EndpointBlock& cfg, std::shared_ptr<const Labels> external,
                   EndpointMetrics m, log::Logger logger, WalSettings wal,
                   std::chrono::milliseconds reshard_interval)
    : cfg_(cfg),
      external_(std::move(external)),
      m_(std::move(m)),
      logger_(std::move(logger)),
      wal_(std::move(wal)),
      reshard_interval_(reshard_interval),
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
  const auto& qc = cfg.queue_config;
  limit_ = qc.capacity * std::max<int64_t>(1, qc.max_shards);
  if (wal_.enabled) {
    if (wal_.dir.empty()) {
      wal_status_ = absl::FailedPreconditionError("no data directory for the write-ahead queue");
    } else {
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(wal_.dir).parent_path(), ec);
      queue::DiskQueueOptions o;
      o.dir = wal_.dir;
      o.max_bytes = wal_.max_bytes;
      o.sync = wal_.sync;
      o.registry = m_.registry;
      auto q = queue::DiskQueue::open(std::move(o));
      if (q.ok()) {
        wal_q_ = std::move(*q);
      } else {
        wal_status_ = q.status();
      }
    }
    if (!wal_status_.ok()) {
      logger_.error("cannot open the write-ahead queue; appends are refused",
                    {{"dir", wal_.dir}, {"err", std::string(wal_status_.message())}});
    }
  }
  shards_ = makeShards(std::max<int64_t>(1, qc.min_shards), false);
  shard_count_.store(static_cast<int64_t>(shards_.size()));
  m_.shards->add(static_cast<double>(shards_.size()));
}

std::vector<std::shared_ptr<Shard>> Endpoint::makeShards(int64_t n, bool held) {
  std::vector<std::shared_ptr<Shard>> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(std::make_shared<Shard>(this, held));
  return out;
}

void Endpoint::start() {
  {
    std::lock_guard<std::mutex> lk(ctl_mu_);
    if (started_ || stopping_) return;
    started_ = true;
  }
  {
    std::shared_lock<std::shared_mutex> lk(shards_mu_);
    for (auto& s : shards_) s->start();
  }
  control_ = std::thread([this] { control(); });
  if (wal_q_) reader_ = std::thread([this] { readWal(); });
}

void Endpoint::push(std::shared_ptr<Hold> hold, bool incoming) {
  const SeriesBatch& b = hold->chunk->data;
  const uint64_t n = b.sampleCount();
  if (incoming) in_samples_.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
  std::shared_lock<std::shared_mutex> lk(shards_mu_);
  const size_t k = shards_.size();
  if (k == 1) {
    Work w;
    w.hold = std::move(hold);
    w.remaining = n;
    shards_[0]->push(std::move(w));
    return;
  }
  std::vector<Work> parts(k);
  for (auto& w : parts) w.series.reserve(b.seriesCount() / k + b.seriesCount() / (4 * k) + 8);
  for (size_t i = 0; i < b.seriesCount(); ++i) {
    const auto& s = b.series(i);
    if (s.sample_count == 0) continue;
    Work& w = parts[b.hash(i) % k];
    w.series.push_back(static_cast<uint32_t>(i));
    w.remaining += s.sample_count;
  }
  for (size_t i = 0; i < k; ++i) {
    if (parts[i].remaining == 0) continue;
    parts[i].hold = hold;
    shards_[i]->push(std::move(parts[i]));
  }
}

void Endpoint::control() {
  const auto& qc = cfg_.queue_config;
  const double interval_s = std::chrono::duration<double>(reshard_interval_).count();
  std::unique_lock<std::mutex> lk(ctl_mu_);
  while (!stopping_) {
    ctl_cv_.wait_for(lk, reshard_interval_);
    if (stopping_) return;
    const double in = static_cast<double>(in_samples_.exchange(0));
    const double out = static_cast<double>(out_samples_.exchange(0));
    const double busy_ns = static_cast<double>(send_ns_.exchange(0));
    const int64_t failures = failures_.exchange(0);
    in_rate_.add(in / interval_s);
    out_rate_.add(out / interval_s);
    busy_.add(busy_ns / 1e9 / interval_s);
    if (qc.min_shards == qc.max_shards || failures > 0) continue;
    const int64_t cur = shardCount();
    double desired = static_cast<double>(qc.min_shards);
    if (out_rate_.value > 0) {
      const double time_per_sample = busy_.value / out_rate_.value;
      const double backlog =
          static_cast<double>(queued() + std::max<int64_t>(0, wal_backlog_.load()));
      desired = time_per_sample * (in_rate_.value + backlog / 20.0);
    } else if (queued() > 0) {
      continue;  // nothing went out (e.g. one long request): no basis for a decision
    }
    int64_t want = static_cast<int64_t>(std::ceil(desired));
    want = std::clamp<int64_t>(want, qc.min_shards, qc.max_shards);
    if (want == cur) continue;
    const double lo = static_cast<double>(cur) * 0.7, hi = static_cast<double>(cur) * 1.3;
    if (desired >= lo && desired <= hi) continue;
    lk.unlock();
    reshard(want);
    lk.lock();
  }
}

void Endpoint::reshard(int64_t n) {
  auto fresh = makeShards(n, true);
  for (auto& s : fresh) s->start();
  std::vector<std::shared_ptr<Shard>> old;
  {
    std::unique_lock<std::shared_mutex> lk(shards_mu_);
    old.swap(shards_);
    shards_ = fresh;
    shard_count_.store(n);
  }
  m_.shards->add(static_cast<double>(n) - static_cast<double>(old.size()));
  logger_.info("resharding", {{"from", std::to_string(old.size())}, {"to", std::to_string(n)}});
  Clock::time_point deadline = Clock::time_point::max();
  {
    std::lock_guard<std::mutex> lk(ctl_mu_);
    old_shards_ = old;
    if (stopping_) deadline = Clock::now();
  }
  // The old shards send what they hold; only then may the new ones send (per-series order).
  for (auto& s : old) s->stop(deadline);
  for (auto& s : old) s->join();
  {
    std::lock_guard<std::mutex> lk(ctl_mu_);
    old_shards_.clear();
  }
  for (auto& s : fresh) s->unhold();
}

void Endpoint::stop(Clock::time_point deadline) {
  std::call_once(stop_once_, [&] {
    std::vector<std::shared_ptr<Shard>> old;
    {
      std::lock_guard<std::mutex> lk(ctl_mu_);
      stopping_ = true;
      old = old_shards_;
    }
    {
      std::lock_guard<std::mutex> lk(reader_mu_);
      reader_stop_.store(true);
      reader_cv_.notify_all();
    }
    if (reader_.joinable()) reader_.join();
    for (auto& s : old) s->stop(deadline);
    ctl_cv_.notify_all();
    if (control_.joinable()) control_.join();  // a reshard in progress ends with the old shards
    std::vector<std::shared_ptr<Shard>> cur;
    {
      std::shared_lock<std::shared_mutex> lk(shards_mu_);
      cur = shards_;
    }
    for (auto& s : cur) {
      s->unhold();
      s->start();  // samples queued before start() get their chance
      s->stop(deadline);
    }
    for (auto& s : cur) s->join();
    m_.shards->sub(static_cast<double>(cur.size()));
    if (wal_q_) wal_q_->close();
  });
}

// Only drops look counters up (and create their series, so that an endpoint that never dropped
// exposes none), once per reason: the send path itself does no metrics family lookup.
metrics::Counter* Endpoint::dropCounter(std::string_view reason) {
  std::lock_guard<std::mutex> lk(drop_mu_);
  auto it = drop_counters_.find(reason);
  if (it != drop_counters_.end()) return it->second;
  auto* c = &m_.dropped->with({m_.component_id, std::string(reason)});
  drop_counters_.emplace(std::string(reason), c);
  return c;
}

void Endpoint::drop(uint64_t samples, std::string_view reason, std::string_view detail) {
  if (samples == 0) return;
  dropCounter(reason)->inc(static_cast<double>(samples));
  if (drop_log_.shouldLog()) {
    logger_.error("non-recoverable error sending samples, dropping them",
                  {{"reason", std::string(reason)},
                   {"samples", std::to_string(samples)},
                   {"err", std::string(detail)}});
  }
}

}  // namespace telegate::prometheus::remote_write
