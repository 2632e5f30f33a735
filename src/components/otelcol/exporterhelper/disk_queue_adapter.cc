#include "src/components/otelcol/exporterhelper/disk_queue_adapter.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "src/common/strings.h"

namespace telegate::otelcol::exporterhelper {

namespace {
using Clock = std::chrono::steady_clock;
constexpr size_t kHeader = 1 + 8;                    // signal u8 + items u64
constexpr std::chrono::milliseconds kPollWait{100};  // pop(): how often close() is noticed
}  // namespace

std::string encodeBatchRecord(const pdata::Batch& batch) {
  std::string out;
  out.reserve(kHeader + batch.payload.size());
  out.push_back(static_cast<char>(batch.signal));
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((batch.items >> (8 * i)) & 0xff));
  out.append(batch.payload);
  return out;
}

absl::StatusOr<pdata::Batch> decodeBatchRecord(std::string_view record, std::string_view meta) {
  if (record.size() < kHeader) {
    return absl::InvalidArgumentError(strCat("queued record too short: ", record.size(), " bytes"));
  }
  const auto sig = static_cast<uint8_t>(record[0]);
  if (sig > static_cast<uint8_t>(pdata::Signal::kLogs)) {
    return absl::InvalidArgumentError(strCat("queued record has unknown signal ", sig));
  }
  pdata::Batch b;
  b.signal = static_cast<pdata::Signal>(sig);
  for (int i = 0; i < 8; ++i) {
    b.items |= static_cast<uint64_t>(static_cast<uint8_t>(record[1 + i])) << (8 * i);
  }
  b.payload.assign(record.substr(kHeader));
  if (!meta.empty()) {
    auto c = std::make_shared<pdata::ClientInfo>();
    c->tenant.assign(meta);
    b.client = std::move(c);
  }
  return b;
}

absl::StatusOr<std::unique_ptr<DiskSendQueue>> DiskSendQueue::open(queue::DiskQueueOptions opts) {
  const uint64_t max_bytes = opts.max_bytes;
  auto q = queue::DiskQueue::open(std::move(opts));
  if (!q.ok()) return q.status();
  return std::unique_ptr<DiskSendQueue>(new DiskSendQueue(std::move(*q), max_bytes));
}

DiskSendQueue::DiskSendQueue(std::unique_ptr<queue::DiskQueue> q, uint64_t max_bytes)
    : q_(std::move(q)), max_bytes_(max_bytes) {}

DiskSendQueue::~DiskSendQueue() {
  close();
  q_->close();
}

absl::Status DiskSendQueue::push(pdata::Batch&& batch, Clock::time_point deadline) {
  if (closed_.load()) return absl::UnavailableError("exporter is shutting down");
  const std::string record = encodeBatchRecord(batch);
  const std::string_view tenant =
      batch.client != nullptr ? std::string_view(batch.client->tenant) : std::string_view();
  // DiskQueue meta is limited to 65535 bytes; a longer tenant cannot be stored faithfully.
  if (tenant.size() > 65535) return absl::InvalidArgumentError("tenant id too long to queue");
  for (;;) {
    absl::Status st = q_->push(record, tenant);
    if (st.ok()) return st;
    switch (st.code()) {
      case absl::StatusCode::kResourceExhausted:
        break;  // full: maybe wait below
      case absl::StatusCode::kInvalidArgument:
        return absl::InvalidArgumentError(
            strCat("batch of ", record.size(), " bytes is larger than sending_queue.max_size"));
      case absl::StatusCode::kFailedPrecondition:
        return absl::UnavailableError("exporter is shutting down");
      default:
        return absl::UnavailableError(
            strCat("sending queue on disk failed: ", std::string(st.message())));
    }
    if (closed_.load()) return absl::UnavailableError("exporter is shutting down");
    auto now = Clock::now();
    if (now >= deadline) return absl::ResourceExhaustedError("sending queue is full");
    std::unique_lock<std::mutex> l(room_mu_);
    room_cv_.wait_until(l, std::min(deadline, now + kPollWait));
  }
}

std::optional<QueuedBatch> DiskSendQueue::pop(bool wait) {
  for (;;) {
    if (closed_.load()) return std::nullopt;
    auto item = q_->pop(wait ? kPollWait : std::chrono::milliseconds(0));
    if (!item) {
      if (!wait) return std::nullopt;
      continue;
    }
    auto b = decodeBatchRecord(item->record, item->meta);
    if (!b.ok()) {
      corrupt_.fetch_add(1);
      q_->ack(item->id);  // undecodable: can never be delivered
      continue;
    }
    if (closed_.load()) {  // keep it for the next start
      q_->nack(item->id);
      return std::nullopt;
    }
    return QueuedBatch{item->id, std::move(*b)};
  }
}

void DiskSendQueue::ack(uint64_t id) {
  q_->ack(id);
  room_cv_.notify_all();
}

void DiskSendQueue::nack(uint64_t id) {
  q_->nack(id);
}

void DiskSendQueue::close() {
  closed_.store(true);
  room_cv_.notify_all();
}

size_t DiskSendQueue::size() const {
  return static_cast<size_t>(q_->liveRecords());
}

size_t DiskSendQueue::capacity() const {
  return static_cast<size_t>(max_bytes_);
}

absl::Status UnavailableQueue::push(pdata::Batch&&, Clock::time_point) {
  return absl::UnavailableError(
      strCat("sending queue on disk is unavailable: ", std::string(why_.message())));
}

std::optional<QueuedBatch> UnavailableQueue::pop(bool wait) {
  std::unique_lock<std::mutex> l(mu_);
  if (wait) cv_.wait(l, [&] { return closed_; });
  return std::nullopt;
}

void UnavailableQueue::close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

}  // namespace telegate::otelcol::exporterhelper
