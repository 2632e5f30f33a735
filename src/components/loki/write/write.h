// loki.write: sends log entries to Loki's push API.
//
// Contract:
//  * Exports `receiver` (capsule loki.LogsReceiver). pushBatch() renders each stream's labels
//    once per call (external_labels merged under the stream's labels, names starting with "__"
//    removed, sorted, `{a="x", b="y"}` with Go-quoted values), picks its tenant (label
//    __tenant_id__, else the endpoint's tenant_id) and appends the entries, for every endpoint,
//    to that endpoint's queue for that tenant. It only reads the batch (never moves from it).
//    Entries are queued already encoded as logproto EntryAdapter bytes in per-stream buffers, so
//    a queued batch is compact bytes and a request is the concatenation of its streams.
//    OK means every endpoint queued the entries. When a queue holds queue_config.capacity bytes
//    (line + structured metadata bytes), push returns RESOURCE_EXHAUSTED at once, or with
//    block_on_overflow after waiting up to a bounded time (2 s) for room. Nothing is dropped
//    silently. With several endpoints or tenants a refusal can follow a partial acceptance; the
//    caller's retry may then duplicate entries on the queues that accepted.
//  * Isolation (memory queue): every (endpoint, tenant) pair has its own queue, capacity and
//    sender thread, so one tenant's outage (retries, full queue) never delays another tenant or
//    endpoint.
//  * Batching: a tenant's open batch is sealed when adding an entry would exceed batch_size (the
//    first entry is always accepted) or when it is batch_wait old. One sealed batch = one request:
//    POST url, body = snappy block of logproto.PushRequest (streams grouped by labels string,
//    entries in push order), headers Content-Type application/x-protobuf, Content-Encoding
//    snappy, User-Agent, X-Scope-OrgID (non-empty tenant), basic/bearer/authorization from the
//    endpoint, then configured headers that do not override those.
//  * Responses: 2xx delivered. 429 (unless retry_on_http_429 = false), 5xx and transport errors
//    are retried with jittered exponential backoff (min_backoff_period doubling up to
//    max_backoff_period, each wait uniform in [d, 2d) capped at the max) for at most
//    max_backoff_retries attempts (0 = no limit), then dropped. Other statuses are dropped at
//    once. Drops are counted in telegate_loki_write_dropped_entries_total{component_id,reason}
//    (reason: a bounded class: out_of_order, too_old, too_new, line_too_long, stream_limit,
//    rate_limited, invalid_labels, http_<status>, retries_exhausted, shutdown, encode_failed,
//    corrupt) and logged at most once per minute per endpoint with the first line of the
//    response body.
//  * shutdown(deadline) / reconfiguration (memory queue): open batches are sealed and sent
//    (retries included) until the deadline (update() uses the old endpoint's
//    queue_config.drain_timeout); what remains is dropped and counted with reason "shutdown".
//  * WAL (wal.enabled): each endpoint has a durable queue::DiskQueue in
//    <data dir>/wal/<endpoint name, unsafe bytes replaced by '_', or its index>, bounded by
//    wal.max_size bytes (telegate extension, default 1 GiB) and synced per wal.fsync (telegate
//    extension: "interval" (default) | "always" | "never", see src/queue/disk_queue.h). push
//    returns OK only once the entries are written to it: one record per tenant and batch_size
//    worth of entries = [version u8 = 1][entries u32][bytes u64] + the PushRequest encoding of
//    the entries, meta = the effective tenant. When the WAL is full push returns
//    RESOURCE_EXHAUSTED (after waiting up to 2 s for room with block_on_overflow), nothing
//    accepted is dropped; INVALID_ARGUMENT for entries larger than the whole bound; UNAVAILABLE
//    when the WAL could not be opened (component unhealthy) or on an I/O error. One sender
//    thread per endpoint reads the WAL oldest first, joins consecutive records of one tenant up
//    to batch_size (waiting up to batch_wait for more) into one request, and acknowledges them
//    after a 2xx or a counted drop (same rules as above). At-least-once: records not
//    acknowledged before a crash or shutdown are sent again after the next start (duplicates
//    possible). At shutdown the sender keeps sending until wal.drain_timeout (bounded by the
//    controller's deadline); what is unsent stays on disk, nothing is dropped. Reconfiguration
//    stops the old senders at once (their entries are on disk) and reopens the WALs; push()
//    answers UNAVAILABLE meanwhile. wal.max_read_frequency bounds a sender's idle wait;
//    max_segment_age and min_read_frequency are accepted with no effect. The WAL gives up
//    per-tenant isolation within an endpoint (one sender, FIFO).
//  * tls_config: every attribute of Alloy's block, through components::tlsSettings() and
//    net::HttpClient (CA, client certificate and key as file or PEM, insecure_skip_verify,
//    server_name, min_version); rotated certificate files are used by the next new connection.
//  * Not implemented: max_streams, no_proxy. Credential files are read when the endpoint is
//    (re)built.
// Thread-safety: push may be called concurrently; it takes the component's reader lock and the
// per-tenant queue mutex (memory) or the DiskQueue's append lock (WAL) only.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "src/common/strings.h"
#include "src/components/common/http_client.h"
#include "src/components/loki/api.h"
#include "src/runtime/component.h"

namespace telegate::loki::write {

using namespace std::chrono_literals;
using runtime::ByteSize;
using runtime::Duration;
using runtime::Schema;

struct QueueConfigBlock {
  ByteSize capacity{10 << 20};
  int64_t min_shards = 1;
  Duration drain_timeout{15s};
  bool block_on_overflow = true;
  static void describe(Schema<QueueConfigBlock>& s) {
    s.attr("capacity", &QueueConfigBlock::capacity);
    s.attr("min_shards", &QueueConfigBlock::min_shards);
    s.attr("drain_timeout", &QueueConfigBlock::drain_timeout);
    s.attr("block_on_overflow", &QueueConfigBlock::block_on_overflow);
  }
};

struct EndpointBlock : components::HttpClientConfig {
  std::string name;
  std::string url;
  std::map<std::string, std::string> headers;
  Duration batch_wait{1s};
  ByteSize batch_size{1 << 20};
  Duration remote_timeout{10s};
  Duration min_backoff_period{500ms};
  Duration max_backoff_period{5min};
  int64_t max_backoff_retries = 10;
  bool retry_on_http_429 = true;
  std::string tenant_id;
  QueueConfigBlock queue_config;
  static void describe(Schema<EndpointBlock>& s) {
    s.attr("name", &EndpointBlock::name);
    s.attr("url", &EndpointBlock::url).required().doc("Loki push URL, .../loki/api/v1/push");
    s.attr("headers", &EndpointBlock::headers);
    s.attr("batch_wait", &EndpointBlock::batch_wait);
    s.attr("batch_size", &EndpointBlock::batch_size);
    s.attr("remote_timeout", &EndpointBlock::remote_timeout);
    s.attr("min_backoff_period", &EndpointBlock::min_backoff_period);
    s.attr("max_backoff_period", &EndpointBlock::max_backoff_period);
    s.attr("max_backoff_retries", &EndpointBlock::max_backoff_retries);
    s.attr("retry_on_http_429", &EndpointBlock::retry_on_http_429);
    s.attr("tenant_id", &EndpointBlock::tenant_id).doc("sent as X-Scope-OrgID");
    s.block("queue_config", &EndpointBlock::queue_config);
    components::describeHttpClient(s);
  }
  absl::Status validate() const {
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      return absl::InvalidArgumentError(
          strCat("url must be an http:// or https:// URL, got \"", url, "\""));
    }
    return HttpClientConfig::validate();
  }
};

struct WalBlock {
  bool enabled = false;
  Duration max_segment_age{1h};
  Duration min_read_frequency{250ms};
  Duration max_read_frequency{1s};
  Duration drain_timeout{15s};
  ByteSize max_size{1ull << 30};
  std::string fsync = "interval";
  static void describe(Schema<WalBlock>& s) {
    s.attr("enabled", &WalBlock::enabled)
        .doc("keep the queue on disk: push() succeeds once entries are written (survives a crash)");
    s.attr("max_segment_age", &WalBlock::max_segment_age).doc("accepted; no effect");
    s.attr("min_read_frequency", &WalBlock::min_read_frequency).doc("accepted; no effect");
    s.attr("max_read_frequency", &WalBlock::max_read_frequency)
        .doc("longest wait of a sender for new entries");
    s.attr("drain_timeout", &WalBlock::drain_timeout)
        .doc("at shutdown, how long senders keep sending; the rest stays on disk");
    s.attr("max_size", &WalBlock::max_size)
        .doc("telegate: bound of each endpoint's WAL; when full, push() is refused");
    s.attr("fsync", &WalBlock::fsync).doc("telegate: \"interval\", \"always\" or \"never\"");
  }
  absl::Status validate() const {
    if (fsync != "interval" && fsync != "always" && fsync != "never") {
      return absl::InvalidArgumentError(
          strCat("wal fsync must be \"interval\", \"always\" or \"never\", got \"", fsync, "\""));
    }
    if (enabled && max_size.bytes < (64u << 10)) {
      return absl::InvalidArgumentError("wal max_size must be at least 64KiB");
    }
    return absl::OkStatus();
  }
};

struct Arguments {
  std::vector<EndpointBlock> endpoint;
  std::map<std::string, std::string> external_labels;
  int64_t max_streams = 0;
  WalBlock wal;
  static void describe(Schema<Arguments>& s) {
    s.block("endpoint", &Arguments::endpoint).doc("one per Loki to send to");
    s.attr("external_labels", &Arguments::external_labels);
    s.attr("max_streams", &Arguments::max_streams);
    s.block("wal", &Arguments::wal);
  }
};

// Renders a stream's labels like Loki's model.LabelSet.String(): names starting with "__"
// removed, sorted by name, `{a="x", b="y"}`, values quoted like Go's strconv.Quote. `labels`
// need not be sorted; on duplicate names the first wins.
std::string renderLabels(const LabelSet& labels);

class EndpointClient;

// The exported receiver. Holds the endpoints of the current configuration.
class Writer : public LogsReceiver {
 public:
  // `data_dir`: where the WAL lives (<data_dir>/wal/<endpoint name or index>); empty: no WAL
  // can be opened (wal.enabled then makes push() return UNAVAILABLE).
  Writer(std::string id, metrics::Registry& metrics, const log::Logger& logger,
         std::string data_dir = "");
  ~Writer() override;

  // Replaces the endpoints. The previous ones flush until their drain_timeout (blocking); with
  // the WAL involved they stop at once (their entries are on disk) and push() answers
  // UNAVAILABLE meanwhile. Returns the first WAL that could not be opened (the endpoints are
  // installed anyway; pushes for that endpoint are refused).
  absl::Status configure(const Arguments& args);
  absl::Status pushBatch(EntryBatch&& batch) override;  // reads the batch, never moves from it
  std::string describe() const override { return id_ + ".receiver"; }
  // The current endpoints write every push to their WAL before answering OK.
  bool durable() const override {
    std::shared_lock<std::shared_mutex> lk(mu_);
    return wal_ && !endpoints_.empty();
  }
  // Flushes and stops every endpoint by `deadline`.
  void shutdown(std::chrono::steady_clock::time_point deadline);
  // How long push() waits for room with block_on_overflow (default 2 s).
  void setOverflowWaitForTest(std::chrono::milliseconds d) { overflow_wait_ = d; }

 private:
  std::string id_;
  metrics::Registry& metrics_;
  log::Logger logger_;
  const std::string data_dir_;
  std::chrono::milliseconds overflow_wait_{2000};
  mutable std::shared_mutex mu_;  // guards the fields below (writers: configure, shutdown)
  std::vector<std::shared_ptr<EndpointClient>> endpoints_;
  LabelSet external_labels_;
  bool active_ = false;         // configured and not shut down
  bool reconfiguring_ = false;  // old WAL endpoints stopped, new ones not installed yet
  bool wal_ = false;            // the current endpoints use the WAL
};

class Component : public runtime::TypedComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments& args);
  absl::Status start() override;
  absl::Status update(const Arguments& args) override;
  void shutdown(std::chrono::steady_clock::time_point deadline) override;

 private:
  runtime::Host& host_;
  std::shared_ptr<Writer> writer_;
  Arguments args_;
  absl::Status configure_status_;
};

}  // namespace telegate::loki::write
