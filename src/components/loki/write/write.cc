// loki.write: sends log entries to Loki's push API (see write.h for the contract).
#include "src/components/loki/write/write.h"

#include <snappy-sinksource.h>
#include <snappy.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <utility>

#include "src/common/backoff.h"
#include "src/common/gofmt.h"
#include "src/common/memory_budget.h"
#include "src/components/all.h"
#include "src/components/common/drain.h"
#include "src/net/http_client.h"
#include "src/pdata/wire.h"
#include "src/queue/disk_queue.h"
#include "src/runtime/registry.h"

namespace telegate::loki::write {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kTenantLabel = "__tenant_id__";

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

// ---- logproto wire encoding ------------------------------------------------------------------
// PushRequest { repeated StreamAdapter streams = 1; }
// StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; }
// EntryAdapter { Timestamp timestamp = 1; string line = 2; repeated LabelPairAdapter
//                structuredMetadata = 3; }   Timestamp { int64 seconds = 1; int32 nanos = 2; }
// Encoded like protobuf's serializer: proto3 scalars and strings omitted when zero/empty, the
// timestamp always present.

using pdata::wire::putVarint;
using pdata::wire::varintSize;

using pdata::wire::appendVarint;

size_t stringFieldSize(size_t len) {
  return len == 0 ? 0 : 1 + varintSize(len) + len;
}

char* putStringField(char* p, char tag, std::string_view s) {
  if (s.empty()) return p;
  *p++ = tag;
  p = putVarint(p, s.size());
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// Appends one EntryAdapter as field 2 of a StreamAdapter.
void appendEntry(std::string* out, int64_t ts_ns, std::string_view line,
                 const std::pair<std::string, std::string>* md, size_t md_count) {
  int64_t secs = ts_ns / 1000000000;
  int64_t nanos = ts_ns % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --secs;
  }
  const size_t ts_len = (secs != 0 ? 1 + varintSize(static_cast<uint64_t>(secs)) : 0) +
                        (nanos != 0 ? 1 + varintSize(static_cast<uint64_t>(nanos)) : 0);
  size_t body = 1 + varintSize(ts_len) + ts_len + stringFieldSize(line.size());
  for (size_t i = 0; i < md_count; ++i) {
    size_t pl = stringFieldSize(md[i].first.size()) + stringFieldSize(md[i].second.size());
    body += 1 + varintSize(pl) + pl;
  }
  const size_t at = out->size();
  out->resize(at + 1 + varintSize(body) + body);
  char* p = out->data() + at;
  *p++ = 0x12;
  p = putVarint(p, body);
  *p++ = 0x0a;
  p = putVarint(p, ts_len);
  if (secs != 0) {
    *p++ = 0x08;
    p = putVarint(p, static_cast<uint64_t>(secs));
  }
  if (nanos != 0) {
    *p++ = 0x10;
    p = putVarint(p, static_cast<uint64_t>(nanos));
  }
  p = putStringField(p, 0x12, line);
  for (size_t i = 0; i < md_count; ++i) {
    size_t pl = stringFieldSize(md[i].first.size()) + stringFieldSize(md[i].second.size());
    *p++ = 0x1a;
    p = putVarint(p, pl);
    p = putStringField(p, 0x0a, md[i].first);
    p = putStringField(p, 0x12, md[i].second);
  }
}

// Line and structured metadata bytes of a record (what batch_size and capacity count).
uint64_t recordBytes(const EntryBatch& b, const EntryBatch::Record& r) {
  uint64_t n = r.line_size;
  for (uint32_t i = 0; i < r.metadata_count; ++i) {
    const auto& kv = b.metadata[r.metadata_begin + i];
    n += kv.first.size() + kv.second.size();
  }
  return n;
}

// Entries of one tenant, grouped by stream and already encoded: a request is the
// concatenation of the streams.
struct PendingBatch {
  struct Stream {
    std::string labels;
    std::string entries;  // encoded EntryAdapter fields
  };
  std::vector<Stream> streams;
  std::unordered_map<std::string, uint32_t> index;  // labels -> streams
  uint64_t bytes = 0;
  uint64_t entries = 0;
  Clock::time_point created{};

  uint32_t streamFor(const std::string& labels) {
    auto [it, inserted] = index.emplace(labels, static_cast<uint32_t>(streams.size()));
    if (inserted) streams.push_back({labels, {}});
    return it->second;
  }
  void add(uint32_t stream, const EntryBatch& b, const EntryBatch::Record& r, uint64_t size) {
    if (entries == 0) created = Clock::now();
    appendEntry(&streams[stream].entries, r.timestamp_ns, b.line(r),
                b.metadata.data() + r.metadata_begin, r.metadata_count);
    bytes += size;
    ++entries;
  }
  // The PushRequest encoding as pieces: per stream a header (kept in `headers`) and the
  // entries. The views stay valid while this batch and `headers` are unchanged.
  void segments(std::string* headers, std::vector<std::string_view>* out) const {
    headers->clear();
    std::vector<size_t> ends;
    ends.reserve(streams.size());
    for (const auto& s : streams) {
      size_t len = stringFieldSize(s.labels.size()) + s.entries.size();
      headers->push_back(0x0a);
      appendVarint(headers, len);
      if (!s.labels.empty()) {
        headers->push_back(0x0a);
        appendVarint(headers, s.labels.size());
        headers->append(s.labels);
      }
      ends.push_back(headers->size());
    }
    out->clear();
    size_t begin = 0;
    for (size_t i = 0; i < streams.size(); ++i) {
      out->push_back(std::string_view(*headers).substr(begin, ends[i] - begin));
      out->push_back(streams[i].entries);
      begin = ends[i];
    }
  }
  // Appends the PushRequest encoding (the `streams` fields).
  void encode(std::string* out) const {
    size_t total = 0;
    for (const auto& s : streams) {
      size_t len = stringFieldSize(s.labels.size()) + s.entries.size();
      total += 1 + varintSize(len) + len;
    }
    out->reserve(out->size() + total);
    for (const auto& s : streams) {
      size_t len = stringFieldSize(s.labels.size()) + s.entries.size();
      out->push_back(0x0a);
      appendVarint(out, len);
      if (!s.labels.empty()) {
        out->push_back(0x0a);
        appendVarint(out, s.labels.size());
        out->append(s.labels);
      }
      out->append(s.entries);
    }
  }
};

// WAL record: [version u8 = 1][entries u32][bytes u64] (little-endian), then the PushRequest
// encoding of the entries. meta = the tenant.
constexpr size_t kWalHeader = 13;

std::string walRecord(const PendingBatch& b) {
  std::string out;
  out.resize(kWalHeader);
  out[0] = 1;
  uint32_t n = static_cast<uint32_t>(b.entries);
  uint64_t bytes = b.bytes;
  std::memcpy(out.data() + 1, &n, 4);
  std::memcpy(out.data() + 5, &bytes, 8);
  b.encode(&out);
  return out;
}

bool parseWalRecord(std::string_view rec, uint64_t* entries, uint64_t* bytes,
                    std::string_view* body) {
  if (rec.size() < kWalHeader || rec[0] != 1) return false;
  uint32_t n;
  std::memcpy(&n, rec.data() + 1, 4);
  std::memcpy(bytes, rec.data() + 5, 8);
  *entries = n;
  *body = rec.substr(kWalHeader);
  return true;
}

// A push() prepared once for every endpoint: rendered labels and tenant of each stream.
struct Prepared {
  const EntryBatch* batch = nullptr;
  std::vector<std::string> labels;  // per batch stream
  std::vector<std::string> tenant;  // per batch stream, from __tenant_id__ (empty: none)
  bool one_tenant = true;           // every stream has the same tenant
};

// Draining state shared by a sender and its retry loop.
struct StopState {
  std::mutex mu;
  std::condition_variable cv;
  bool draining = false;
  Clock::time_point deadline = Clock::time_point::max();

  void stop(Clock::time_point d) {
    std::lock_guard<std::mutex> lk(mu);
    if (!draining) {
      draining = true;
      deadline = d;
    }
    cv.notify_all();
  }
  // Sleeps up to `d`; false once draining and past the deadline (give up).
  bool sleepFor(std::chrono::nanoseconds d) {
    std::unique_lock<std::mutex> lk(mu);
    return components::sleepOrGiveUp(lk, cv, draining, deadline, d);
  }
  // The deadline for an attempt starting now, or nullopt when it has passed.
  std::optional<Clock::time_point> attemptDeadline() {
    std::lock_guard<std::mutex> lk(mu);
    return components::attemptDeadline(draining, deadline);
  }
};

enum class Outcome { kDelivered, kDropped, kDeadline };

// snappy input read from several pieces without concatenating them first.
class PiecesSource : public snappy::Source {
 public:
  explicit PiecesSource(const std::vector<std::string_view>& pieces) : pieces_(pieces) {
    for (auto p : pieces_) left_ += p.size();
  }
  size_t Available() const override { return left_; }
  const char* Peek(size_t* len) override {
    while (i_ < pieces_.size() && off_ == pieces_[i_].size()) {
      ++i_;
      off_ = 0;
    }
    if (i_ == pieces_.size()) {
      *len = 0;
      return nullptr;
    }
    *len = pieces_[i_].size() - off_;
    return pieces_[i_].data() + off_;
  }
  void Skip(size_t n) override {
    left_ -= n;
    while (n > 0) {
      size_t k = std::min(n, pieces_[i_].size() - off_);
      off_ += k;
      n -= k;
      if (off_ == pieces_[i_].size()) {
        ++i_;
        off_ = 0;
      }
    }
  }

 private:
  const std::vector<std::string_view>& pieces_;
  size_t i_ = 0, off_ = 0, left_ = 0;
};

// Snappy block format of the concatenated pieces, compressed through `scratch` (reused).
std::string snappyPieces(const std::vector<std::string_view>& pieces, std::string* scratch) {
  size_t total = 0;
  for (auto p : pieces) total += p.size();
  const size_t max = snappy::MaxCompressedLength(total);
  if (scratch->size() < max) scratch->resize(max);
  PiecesSource src(pieces);
  snappy::UncheckedByteArraySink sink(scratch->data());
  size_t n = snappy::Compress(&src, &sink);
  return std::string(scratch->data(), n);
}

}  // namespace

class TenantQueue;
class WalSender;

// One `endpoint` block: HTTP client, request template and the per-tenant queues (memory) or
// the endpoint's WAL and its sender.
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

  EndpointClient(std::string component_id, const EndpointBlock& cfg, Metrics m, log::Logger logger,
                 const WalBlock& wal, std::string wal_dir, metrics::Registry* registry);
  ~EndpointClient();

  absl::Status enqueue(const Prepared& p, std::chrono::milliseconds overflow_wait);
  void stop(Clock::time_point deadline);
  const EndpointBlock& config() const { return cfg_; }
  bool walEnabled() const { return wal_enabled_; }
  const absl::Status& walStatus() const { return wal_status_; }

  // Sends one request (retries included). The uncompressed PushRequest is the concatenation
  // of `pieces`; `scratch` is the caller's reusable compression buffer.
  Outcome send(const std::vector<std::string_view>& pieces, std::string* scratch, uint64_t entries,
               uint64_t bytes, const std::string& tenant, StopState& stop,
               std::string* deadline_reason);
  void drop(uint64_t entries, const std::string& reason, std::string_view detail);

 private:
  friend class TenantQueue;
  friend class WalSender;
  TenantQueue* queueFor(const std::string& tenant);
  absl::Status enqueueWal(const Prepared& p, const std::string& tenant,
                          const std::vector<uint32_t>* records,
                          std::chrono::milliseconds overflow_wait);
  metrics::Histogram* durationFor(int status);

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
  std::mutex duration_mu_;  // guards duration_by_status_ (resolved once per status code)
  std::unordered_map<int, metrics::Histogram*> duration_by_status_;
  // WAL mode.
  bool wal_enabled_ = false;
  absl::Status wal_status_;  // why the WAL could not be opened
  std::unique_ptr<queue::DiskQueue> wal_;
  uint64_t wal_max_ = 0;
  std::unique_ptr<WalSender> wal_sender_;
  std::mutex room_mu_;  // with room_cv_: pushers waiting for WAL space
  std::condition_variable room_cv_;
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
  // `records`: indices of the batch's records for this tenant (nullptr: all).
  absl::Status enqueue(const Prepared& p, const std::vector<uint32_t>* records, uint64_t bytes,
                       bool block, std::chrono::milliseconds wait) {
    const size_t count = records != nullptr ? records->size() : p.batch->size();
    std::unique_lock<std::mutex> lk(mu_);
    const uint64_t cap = ep_->cfg_.queue_config.capacity.bytes;
    auto fits = [&] { return draining_ || queued_ == 0 || queued_ + bytes <= cap; };
    if (!fits()) {
      if (block) space_cv_.wait_for(lk, wait, fits);
      if (!fits()) {
        ep_->m_.refused->inc(static_cast<double>(count));
        return absl::ResourceExhaustedError(
            strCat("loki.write queue for ", ep_->cfg_.url,
                   tenant_.empty() ? std::string() : strCat(" tenant \"", tenant_, "\""),
                   " is full (", queued_, " of ", cap, " bytes)"));
      }
    }
    if (draining_) return absl::UnavailableError("loki.write is shutting down");
    if (!globalMemoryBudget().tryReserve(bytes)) {
      ep_->m_.refused->inc(static_cast<double>(count));
      return absl::ResourceExhaustedError(
          strCat("loki.write queue for ", ep_->cfg_.url, ": memory limit reached"));
    }
    const uint64_t limit = ep_->cfg_.batch_size.bytes;
    const EntryBatch& b = *p.batch;
    // Batch stream -> stream of current_ (reset when current_ is sealed).
    stream_map_.assign(b.streams.size(), UINT32_MAX);
    for (size_t i = 0; i < count; ++i) {
      const auto& r = b.records[records != nullptr ? (*records)[i] : i];
      uint64_t size = recordBytes(b, r);
      if (current_.entries > 0 && current_.bytes + size > limit) {
        seal();
        stream_map_.assign(b.streams.size(), UINT32_MAX);
      }
      uint32_t& s = stream_map_[r.stream];
      if (s == UINT32_MAX) s = current_.streamFor(p.labels[r.stream]);
      current_.add(s, b, r, size);
    }
    queued_ += bytes;
    ep_->m_.queued_bytes->add(static_cast<double>(bytes));
    cv_.notify_one();
    return absl::OkStatus();
  }

  void stop(Clock::time_point deadline) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      draining_ = true;
      cv_.notify_all();
      space_cv_.notify_all();
    }
    stop_.stop(deadline);
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  void seal() {
    ready_.push_back(std::move(current_));
    current_ = PendingBatch();
  }

  void run() {
    std::unique_lock<std::mutex> lk(mu_);
    std::string headers, scratch;
    std::vector<std::string_view> pieces;
    while (true) {
      if (!ready_.empty()) {
        PendingBatch b = std::move(ready_.front());
        ready_.pop_front();
        lk.unlock();
        b.segments(&headers, &pieces);
        const uint64_t entries = b.entries, bytes = b.bytes;
        std::string reason;
        Outcome o = ep_->send(pieces, &scratch, entries, bytes, tenant_, stop_, &reason);
        if (o == Outcome::kDeadline) ep_->drop(entries, "shutdown", reason);
        b = PendingBatch();
        if (scratch.size() > (16u << 20)) std::string().swap(scratch);
        lk.lock();
        queued_ -= bytes;
        globalMemoryBudget().release(bytes);
        ep_->m_.queued_bytes->sub(static_cast<double>(bytes));
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
  std::vector<uint32_t> stream_map_;  // guarded by mu_
  uint64_t queued_ = 0;               // bytes in current_, ready_ and in flight
  bool draining_ = false;
  StopState stop_;
  std::thread thread_;
};

// Reads an endpoint's WAL: groups consecutive records of one tenant up to batch_size (waiting
// up to batch_wait for more), sends them as one request and acknowledges them after a 2xx or a
// permanent drop. Records still unsent at the shutdown deadline are released (nack) and stay on
// disk for the next start.
class WalSender {
 public:
  WalSender(EndpointClient* ep, std::chrono::milliseconds read_wait)
      : ep_(ep), read_wait_(read_wait) {
    thread_ = std::thread([this] { run(); });
  }
  ~WalSender() {
    stop(Clock::now());
    if (thread_.joinable()) thread_.join();
  }
  void stop(Clock::time_point deadline) { stop_.stop(deadline); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  bool draining() {
    std::lock_guard<std::mutex> lk(stop_.mu);
    return stop_.draining;
  }
  bool pastDeadline() {
    std::lock_guard<std::mutex> lk(stop_.mu);
    return stop_.draining && Clock::now() >= stop_.deadline;
  }

  void run() {
    queue::DiskQueue& q = *ep_->wal_;
    const uint64_t limit = ep_->cfg_.batch_size.bytes;
    const auto batch_wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(ep_->cfg_.batch_wait.value);
    const auto idle_wait = std::max<std::chrono::milliseconds>(
        std::chrono::milliseconds(1),
        std::min<std::chrono::milliseconds>(std::chrono::milliseconds(200), read_wait_));
    std::optional<queue::DiskQueue::Item> carry;
    std::vector<queue::DiskQueue::Item> group;
    std::vector<std::string_view> pieces;
    std::string scratch;
    while (true) {
      if (pastDeadline()) break;
      const bool drain = draining();
      std::optional<queue::DiskQueue::Item> first;
      if (carry) {
        first = std::move(carry);
        carry.reset();
      } else {
        first = q.pop(drain ? std::chrono::milliseconds(0) : idle_wait);
      }
      if (!first) {
        if (drain) break;  // nothing left to send
        continue;
      }
      group.clear();
      uint64_t entries = 0, bytes = 0;
      auto take = [&](queue::DiskQueue::Item&& it) {
        uint64_t n = 0, b = 0;
        std::string_view part;
        if (!parseWalRecord(it.record, &n, &b, &part)) {
          ep_->drop(1, "corrupt", "unreadable WAL record");
          q.ack(it.id);
          return;
        }
        entries += n;
        bytes += b;
        group.push_back(std::move(it));
      };
      const std::string tenant = first->meta;
      take(std::move(*first));
      auto until = Clock::now() + batch_wait;
      while (bytes < limit) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
        if (draining()) left = std::chrono::milliseconds(0);
        auto next = q.pop(std::max(left, std::chrono::milliseconds(0)));
        if (!next) break;
        if (next->meta != tenant) {
          carry = std::move(next);
          break;
        }
        take(std::move(*next));
      }
      if (group.empty()) continue;
      pieces.clear();
      for (const auto& it : group) pieces.push_back(std::string_view(it.record).substr(kWalHeader));
      std::string reason;
      Outcome o = ep_->send(pieces, &scratch, entries, bytes, tenant, stop_, &reason);
      if (o == Outcome::kDeadline) {
        for (const auto& it : group) q.nack(it.id);
        break;
      }
      for (const auto& it : group) q.ack(it.id);
      {
        std::lock_guard<std::mutex> lk(ep_->room_mu_);
        ep_->room_cv_.notify_all();
      }
      if (scratch.size() > (16u << 20)) std::string().swap(scratch);
    }
    if (carry) q.nack(carry->id);
  }

 private:
  EndpointClient* ep_;
  const std::chrono::milliseconds read_wait_;
  StopState stop_;
  std::thread thread_;
};

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

absl::Status EndpointClient::enqueueWal(const Prepared& p, const std::string& tenant,
                                        const std::vector<uint32_t>* records,
                                        std::chrono::milliseconds overflow_wait) {
  if (!wal_status_.ok()) {
    return absl::UnavailableError(
        strCat("loki.write WAL unavailable: ", std::string(wal_status_.message())));
  }
  const EntryBatch& b = *p.batch;
  const size_t count = records != nullptr ? records->size() : b.size();
  const uint64_t limit = cfg_.batch_size.bytes;
  auto write = [&](const PendingBatch& pb) -> absl::Status {
    std::string rec = walRecord(pb);
    auto until = Clock::now() + overflow_wait;
    while (true) {
      absl::Status st = wal_->push(rec, tenant);
      if (st.ok()) return st;
      if (st.code() != absl::StatusCode::kResourceExhausted) {
        if (st.code() == absl::StatusCode::kInvalidArgument) return st;
        return absl::UnavailableError(
            strCat("loki.write WAL write failed: ", std::string(st.message())));
      }
      std::unique_lock<std::mutex> lk(room_mu_);
      if (!cfg_.queue_config.block_on_overflow || Clock::now() >= until) {
        m_.refused->inc(static_cast<double>(pb.entries));
        return absl::ResourceExhaustedError(strCat("loki.write WAL for ", cfg_.url, " is full (",
                                                   wal_->liveBytes(), " of ", wal_max_, " bytes)"));
      }
      room_cv_.wait_until(lk, std::min(until, Clock::now() + std::chrono::milliseconds(50)));
    }
  };
  PendingBatch pb;
  std::vector<uint32_t> stream_map(b.streams.size(), UINT32_MAX);
  for (size_t i = 0; i < count; ++i) {
    const auto& r = b.records[records != nullptr ? (*records)[i] : i];
    uint64_t size = recordBytes(b, r);
    if (pb.entries > 0 && pb.bytes + size > limit) {
      auto st = write(pb);
      if (!st.ok()) return st;
      pb = PendingBatch();
      stream_map.assign(b.streams.size(), UINT32_MAX);
    }
    uint32_t& s = stream_map[r.stream];
    if (s == UINT32_MAX) s = pb.streamFor(p.labels[r.stream]);
    pb.add(s, b, r, size);
  }
  if (pb.entries > 0) return write(pb);
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
    gofmt::appendQuote(&out, l->second);
  }
  out.push_back('}');
  return out;
}

// ---- Writer ----------------------------------------------------------------------------------

Writer::Writer(std::string id, metrics::Registry& metrics, const log::Logger& logger,
               std::string data_dir)
    : id_(std::move(id)), metrics_(metrics), logger_(logger), data_dir_(std::move(data_dir)) {}

Writer::~Writer() {
  shutdown(Clock::now());
}

namespace {
// A directory name for an endpoint's WAL: its name (unsafe bytes replaced) or its index.
std::string walDirName(const EndpointBlock& e, size_t index) {
  if (e.name.empty()) return std::to_string(index);
  std::string out = e.name;
  for (char& c : out) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) c = '_';
  }
  if (out == "." || out == "..") out = "_" + out;
  return out;
}
}  // namespace

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
  std::vector<std::shared_ptr<EndpointClient>> old;
  // A WAL directory can be open once: the old endpoints release theirs before the new ones
  // open them. Their entries are on disk, so they stop at once; push() meanwhile answers
  // UNAVAILABLE.
  bool wal_involved;
  {
    std::shared_lock<std::shared_mutex> lk(mu_);
    wal_involved = wal_ || args.wal.enabled;
  }
  if (wal_involved) {
    {
      std::unique_lock<std::shared_mutex> lk(mu_);
      old.swap(endpoints_);
      reconfiguring_ = true;
    }
    for (auto& ep : old) {
      ep->stop(ep->walEnabled()
                   ? Clock::now()
                   : Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        ep->config().queue_config.drain_timeout.value));
    }
    old.clear();
  }
  std::vector<std::shared_ptr<EndpointClient>> eps;
  for (size_t i = 0; i < args.endpoint.size(); ++i) {
    const auto& e = args.endpoint[i];
    std::string dir;
    if (args.wal.enabled && !data_dir_.empty()) {
      dir = strCat(data_dir_, "/wal/", walDirName(e, i));
    }
    eps.push_back(std::make_shared<EndpointClient>(
        id_, e, m,
        e.name.empty() ? logger_.with("host", e.url)
                       : logger_.with("host", e.url).with("endpoint", e.name),
        args.wal, dir, &metrics_));
  }
  absl::Status st = absl::OkStatus();
  for (const auto& ep : eps) {
    if (st.ok() && !ep->walStatus().ok()) st = ep->walStatus();
  }
  LabelSet ext(args.external_labels.begin(), args.external_labels.end());
  {
    std::unique_lock<std::shared_mutex> lk(mu_);
    old.swap(endpoints_);
    endpoints_ = std::move(eps);
    external_labels_ = std::move(ext);
    active_ = true;
    reconfiguring_ = false;
    wal_ = args.wal.enabled;
  }
  for (auto& ep : old) {
    ep->stop(Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                ep->config().queue_config.drain_timeout.value));
  }
  return st;
}

absl::Status Writer::pushBatch(EntryBatch&& batch) {
  std::shared_lock<std::shared_mutex> lk(mu_);
  if (!active_) return absl::UnavailableError(strCat(describe(), " is not running"));
  if (reconfiguring_) return absl::UnavailableError(strCat(describe(), " is being reconfigured"));
  if (endpoints_.empty() || batch.empty()) return absl::OkStatus();  // nothing to send to
  Prepared p;
  p.batch = &batch;
  p.labels.resize(batch.streams.size());
  p.tenant.resize(batch.streams.size());
  LabelSet merged;
  for (size_t i = 0; i < batch.streams.size(); ++i) {
    const LabelSet& labels = batch.streams[i];
    for (const auto& [k, v] : labels) {
      if (k == kTenantLabel) p.tenant[i] = v;
    }
    if (external_labels_.empty()) {
      p.labels[i] = renderLabels(labels);
    } else {
      merged = labels;  // entry labels first: they win on duplicates
      merged.insert(merged.end(), external_labels_.begin(), external_labels_.end());
      p.labels[i] = renderLabels(merged);
    }
    if (p.tenant[i] != p.tenant[0]) p.one_tenant = false;
  }
  for (const auto& ep : endpoints_) {
    absl::Status st = ep->enqueue(p, overflow_wait_);
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
      writer_(std::make_shared<Writer>(host.id(), host.metrics(), host.logger(), host.dataPath())),
      args_(args) {
  // Builds clients (and opens WALs); memory-queue sender threads start with the first entry of
  // each tenant.
  configure_status_ = writer_->configure(args_);
  host_.setExports({{"receiver", syntax::Value::capsule(writer_)}});
}

absl::Status Component::start() {
  const absl::Status& st = configure_status_;
  host_.setHealth(st.ok() ? runtime::HealthState::kHealthy : runtime::HealthState::kUnhealthy,
                  st.ok() ? "" : std::string(st.message()));
  return absl::OkStatus();
}

absl::Status Component::update(const Arguments& args) {
  const auto& schema = runtime::schemaOf<Arguments>();
  bool same = runtime::encodeObject(schema, &args) == runtime::encodeObject(schema, &args_);
  args_ = args;
  if (same) return absl::OkStatus();
  configure_status_ = writer_->configure(args_);
  const absl::Status& st = configure_status_;
  host_.setHealth(st.ok() ? runtime::HealthState::kHealthy : runtime::HealthState::kUnhealthy,
                  st.ok() ? "" : std::string(st.message()));
  return absl::OkStatus();
}

void Component::shutdown(Clock::time_point deadline) {
  // Each endpoint gets its drain_timeout (wal.drain_timeout with the WAL: what is not sent by
  // then stays on disk), bounded by the controller's deadline.
  Clock::time_point d = deadline;
  for (const auto& e : args_.endpoint) {
    auto drain =
        args_.wal.enabled ? args_.wal.drain_timeout.value : e.queue_config.drain_timeout.value;
    d = std::min(d, Clock::now() + std::chrono::duration_cast<Clock::duration>(drain));
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
