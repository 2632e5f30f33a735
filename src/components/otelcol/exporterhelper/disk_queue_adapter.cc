#include "src/components/otelcol/exporterhelper/disk_queue_adapter.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "src/common/strings.h"

namespace telegate::otelcol::exporterhelper {

namespace {
using Clock = std::chrono::steady_clock;
constexpr size_t kV1Header = 1 + 8;                  // first format: signal u8 + items u64
constexpr char kMetaTag = '\xff';                    // current format: meta starts with 0xFF
constexpr size_t kMetaHeader = 1 + 1 + 8;            // tag + signal u8 + items u64
constexpr size_t kMaxMeta = 65535;                   // DiskQueue's meta limit
constexpr std::chrono::milliseconds kPollWait{100};  // pop(): how often close() is noticed

uint64_t getItems(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

absl::Status checkSignal(uint8_t sig) {
  if (sig > static_cast<uint8_t>(pdata::Signal::kLogs)) {
    return absl::InvalidArgumentError(strCat("queued record has unknown signal ", sig));
  }
  return absl::OkStatus();
}

void setTenant(pdata::Batch* b, std::string_view tenant) {
  if (tenant.empty()) return;
  auto c = std::make_shared<pdata::ClientInfo>();
  c->tenant.assign(tenant);
  b->client = std::move(c);
}
}  // namespace

std::string encodeBatchMeta(const pdata::Batch& batch) {
  const std::string_view tenant =
      batch.client != nullptr ? std::string_view(batch.client->tenant) : std::string_view();
  std::string out;
  out.reserve(kMetaHeader + tenant.size());
  out.push_back(kMetaTag);
  out.push_back(static_cast<char>(batch.signal));
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((batch.items >> (8 * i)) & 0xff));
  out.append(tenant);
  return out;
}

absl::StatusOr<pdata::Batch> decodeBatchRecord(std::string record, std::string_view meta) {
  pdata::Batch b;
  if (!meta.empty() && meta[0] == kMetaTag) {
    if (meta.size() < kMetaHeader) {
      return absl::InvalidArgumentError(strCat("queued record meta too short: ", meta.size()));
    }
    const auto sig = static_cast<uint8_t>(meta[1]);
    if (auto st = checkSignal(sig); !st.ok()) return st;
    b.signal = static_cast<pdata::Signal>(sig);
    b.items = getItems(meta.data() + 2);
    b.payload = std::move(record);
    setTenant(&b, meta.substr(kMetaHeader));
    return b;
  }
  // First format: the header is in the record, meta is the tenant.
  if (record.size() < kV1Header) {
    return absl::InvalidArgumentError(strCat("queued record too short: ", record.size(), " bytes"));
  }
  const auto sig = static_cast<uint8_t>(record[0]);
  if (auto st = checkSignal(sig); !st.ok()) return st;
  b.signal = static_cast<pdata::Signal>(sig);
  b.items = getItems(record.data() + 1);
  record.erase(0, kV1Header);
  b.payload = std::move(record);
  setTenant(&b, meta);
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
  if (batch.client != nullptr && batch.client->tenant.size() > kMaxMeta - kMetaHeader) {
    return absl::InvalidArgumentError("tenant id too long to queue");
  }
  const std::string meta = encodeBatchMeta(batch);
  for (;;) {
    absl::Status st = q_->push(batch.payload, meta);
    if (st.ok()) return st;
    switch (st.code()) {
      case absl::StatusCode::kResourceExhausted:
        break;  // full: maybe wait below
      case absl::StatusCode::kInvalidArgument:
        return absl::InvalidArgumentError(strCat("batch of ", batch.payload.size(),
                                                 " bytes is larger than sending_queue.max_size"));
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
    auto b = decodeBatchRecord(std::move(item->record), item->meta);
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
