// Pod log tailing for loki.source.kubernetes: target preparation, log line parsing, and one tailer
// per container that follows its log through the Kubernetes API.
//
// Contract:
//  * prepareTarget() turns a discovery target into a tail target as Alloy does: the pod identity
//    comes from __pod_namespace__/__meta_kubernetes_namespace, __pod_name__/
//    __meta_kubernetes_pod_name, __pod_container_name__/__meta_kubernetes_pod_container_name and
//    __pod_uid__/__meta_kubernetes_pod_uid (a missing one is an error naming it); `job` defaults to
//    the component ID and `instance` to "<namespace>/<pod>:<container>"; every label starting with
//    "__" is removed. Targets with the same labels and container are one tail target (several
//    ports of one container are tailed once).
//  * Lines are split by parseLogLine() (logline.h).
//  * Tailer: follows one container's log. It opens the stream with sinceTime = the stored cursor
//    (second precision, so the server resends the rest of that second), drops every line older
//    than the cursor and, at the cursor's exact nanosecond, the lines already delivered there
//    (the cursor counts them), so a reopen or a restart repeats nothing and skips nothing that
//    the API server still has. A line older than the cursor that arrives after new lines of the
//    same stream (the container logged out of order) is delivered, not dropped. Entries are pushed
//    to every forward_to receiver; a refusal (backpressure) is retried for the receivers that
//    refused, with backoff, until accepted or the tailer stops: nothing read is dropped, the read
//    simply waits. The cursor is stored in the Positions store after every accepted push (the store
//    is synced to disk by the component). The stream is reopened after an error (backoff 10 ms
//    doubling to 1 min), after the server ends it, and every hour. After a stream ends, the pod is
//    fetched: the tailer stops for good when the pod is gone, its UID changed, or the container
//    terminated and will not restart (restart policy Never, or OnFailure with exit code 0).
//  * Thread-safety: a Tailer runs on its own thread; stop() may be called from any thread and
//    returns after the thread ended (it cancels the tailer's PodLogApi).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/common/log.h"
#include "src/common/metrics.h"
#include "src/components/loki/api.h"
#include "src/components/loki/source/kubernetes/logline.h"
#include "src/components/loki/source/positions.h"
#include "src/runtime/schema.h"

namespace telegate::loki::source_kubernetes {

struct PodContainer {
  std::string ns;
  std::string pod;
  std::string container;
  std::string uid;
  std::string key() const { return ns + "/" + pod + ":" + container; }
};

struct TailTarget {
  PodContainer pod;
  LabelSet labels;          // sorted, public labels only (job, instance, ...)
  std::string labels_text;  // `{a="x", b="y"}`, the positions key
  std::string id() const { return labels_text + "|" + pod.key() + "|" + pod.uid; }
};

absl::StatusOr<TailTarget> prepareTarget(const runtime::Target& target,
                                         std::string_view component_id);

// What a tailer learns about a pod after its log stream ended.
struct PodState {
  bool found = false;  // false: 404, the pod is gone
  std::string uid;
  std::string restart_policy;  // Always | OnFailure | Never
  bool container_terminated = false;
  int64_t exit_code = 0;
};
// Reads a Pod object (JSON) for `container`. INVALID_ARGUMENT on malformed JSON.
absl::StatusOr<PodState> parsePodState(std::string_view pod_json, std::string_view container);
// True when the container ended for good (see the file comment).
bool containerFinished(const PodState& s, std::string_view uid);

// The part of the Kubernetes API one tailer uses (one instance per tailer; implemented over the
// API client, faked in tests).
class PodLogApi {
 public:
  virtual ~PodLogApi() = default;
  // GET /api/v1/namespaces/{ns}/pods/{pod}/log?container=&follow=true&timestamps=true
  // [&sinceTime=<RFC 3339, seconds, UTC>]. Calls on_chunk with each piece of the body as it
  // arrives (pieces split lines anywhere). Returns OK when the server ends the stream,
  // DEADLINE_EXCEEDED when the stream reached its maximum age (the caller reopens it), CANCELLED
  // after cancel() or when on_chunk returned false, and another error on HTTP/transport failures.
  virtual absl::Status streamLogs(const PodContainer& pc, std::optional<int64_t> since_unix_s,
                                  const std::function<bool(std::string_view)>& on_chunk) = 0;
  // GET /api/v1/namespaces/{ns}/pods/{pod}; found = false on 404.
  virtual absl::StatusOr<PodState> getPod(const PodContainer& pc) = 0;
  // From any thread: aborts a running call within milliseconds; later calls return CANCELLED.
  virtual void cancel() = 0;
};

struct TailerMetrics {
  metrics::Counter* entries = nullptr;
  metrics::Counter* bytes = nullptr;
  metrics::Counter* stream_errors = nullptr;
  metrics::Counter* refused = nullptr;
};

struct TailerOptions {
  std::chrono::milliseconds min_backoff{10};
  std::chrono::milliseconds max_backoff{60000};
  size_t max_line_bytes = 256 << 10;  // longer lines are cut (counted in telegate metrics)
  size_t max_entries_per_push = 1000;
};

class Tailer {
 public:
  using Receivers = std::vector<std::shared_ptr<LogsReceiver>>;
  using ReceiversFn = std::function<Receivers()>;

  Tailer(TailTarget target, std::shared_ptr<PodLogApi> api,
         std::shared_ptr<loki::source::Positions> positions, ReceiversFn receivers,
         TailerMetrics metrics, const log::Logger& logger, TailerOptions opts = {});
  ~Tailer();
  void start();
  // Asks the thread to stop (cancels a running API call) without waiting.
  void requestStop();
  // requestStop() and waits for the thread.
  void stop();
  bool finished() const { return finished_.load(); }
  const TailTarget& target() const { return target_; }

 private:
  void run();
  // Handles one complete line. Returns false when the tailer is stopping.
  bool onLine(std::string_view line);
  bool flush();
  bool sleepFor(std::chrono::milliseconds d);
  void loadCursor();
  void storeCursor();

  TailTarget target_;
  std::shared_ptr<PodLogApi> api_;
  std::shared_ptr<loki::source::Positions> positions_;
  ReceiversFn receivers_;
  TailerMetrics metrics_;
  log::Logger logger_;
  TailerOptions opts_;
  std::string cursor_path_;

  // Cursor: the newest delivered time and how many lines were delivered at exactly that time.
  int64_t cursor_ns_ = 0;
  uint64_t cursor_count_ = 0;
  // The cursor of what the receivers accepted (stored in the positions).
  int64_t delivered_ns_ = 0;
  uint64_t delivered_count_ = 0;
  // While reading a reopened stream: lines at cursor_ns_ still to skip.
  uint64_t skip_at_cursor_ = 0;
  bool delivered_this_stream_ = false;

  std::string partial_;
  EntryBatch pending_;

  log::OnceEvery refuse_log_{std::chrono::minutes(1)};
  log::OnceEvery error_log_{std::chrono::minutes(1)};
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace telegate::loki::source_kubernetes
