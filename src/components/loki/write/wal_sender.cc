// loki.write WAL writing side (see wal_sender.h).
#include "src/components/loki/write/wal_sender.h"

namespace telegate::loki::write {

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

}  // namespace telegate::loki::write
