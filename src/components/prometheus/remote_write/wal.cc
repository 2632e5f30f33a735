// Write-ahead driver of a prometheus.remote_write endpoint: writing records and the reader thread
// that hands them to the shards (see endpoint.h).
#include "src/components/prometheus/remote_write/encode.h"
#include "src/components/prometheus/remote_write/endpoint.h"

namespace telegate::prometheus::remote_write {
namespace {
constexpr std::chrono::milliseconds kPollWait{100};
}  // namespace

absl::Status Endpoint::walPush(std::string_view record, int64_t n) {
  if (!wal_q_) {
    return absl::UnavailableError(
        strCat("write-ahead queue unavailable: ", std::string(wal_status_.message())));
  }
  absl::Status st = wal_q_->push(record);
  if (st.ok()) {
    in_samples_.fetch_add(n, std::memory_order_relaxed);
    wal_backlog_.fetch_add(n, std::memory_order_relaxed);
    return st;
  }
  switch (st.code()) {
    case absl::StatusCode::kResourceExhausted:
      return absl::ResourceExhaustedError(strCat("the write-ahead queue for ", cfg_.url,
                                                 " is full (", wal_q_->liveBytes(), " bytes)"));
    case absl::StatusCode::kInvalidArgument:
      return absl::InvalidArgumentError(
          strCat("a batch of ", record.size(), " bytes is larger than wal max_size"));
    case absl::StatusCode::kFailedPrecondition:
      return absl::UnavailableError("prometheus.remote_write is shutting down");
    default:
      return absl::UnavailableError(
          strCat("write-ahead queue failed: ", std::string(st.message())));
  }
}

void Endpoint::readWal() {
  while (true) {
    {
      std::unique_lock<std::mutex> lk(reader_mu_);
      if (reader_stop_.load()) return;
      // Keep about capacity x shards samples in memory; the rest waits on disk.
      const int64_t window = cfg_.queue_config.capacity * std::max<int64_t>(1, shardCount());
      if (queued() >= window) {
        reader_cv_.wait_for(lk, kPollWait);
        continue;
      }
    }
    auto item = wal_q_->pop(kPollWait);
    if (!item) continue;
    auto batch = decodeRecord(item->record);
    if (!batch.ok()) {
      wal_q_->ack(item->id);  // can never be delivered
      drop(1, "corrupt_record", std::string(batch.status().message()));
      continue;
    }
    if (reader_stop_.load()) {
      wal_q_->nack(item->id);
      return;
    }
    const auto n = static_cast<int64_t>(batch->sampleCount());
    auto chunk = std::make_shared<Chunk>(std::move(*batch));
    auto hold = std::make_shared<Hold>(std::move(chunk), wal_q_.get(), item->id);
    if (n == 0) continue;  // acked by ~Hold
    queued_.fetch_add(n, std::memory_order_relaxed);
    m_.queued_samples->add(static_cast<double>(n));
    wal_backlog_.fetch_sub(n, std::memory_order_relaxed);  // below 0 for records from before
    push(std::move(hold), false);
  }
}

}  // namespace telegate::prometheus::remote_write
