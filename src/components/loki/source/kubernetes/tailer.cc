// Pod log tailing (see tailer.h for the contract).
#include "src/components/loki/source/kubernetes/tailer.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <random>

#include "src/common/strings.h"
#include "src/components/loki/write/write.h"

namespace telegate::loki::source_kubernetes {
namespace {

std::string_view firstPresent(const runtime::Target& t, std::string_view a, std::string_view b) {
  for (std::string_view k : {a, b}) {
    auto it = t.find(std::string(k));
    if (it != t.end() && !it->second.empty()) return it->second;
  }
  return {};
}

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::StatusOr<TailTarget> prepareTarget(const runtime::Target& target,
                                         std::string_view component_id) {
  TailTarget t;
  t.pod.ns = std::string(firstPresent(target, "__pod_namespace__", "__meta_kubernetes_namespace"));
  if (t.pod.ns.empty()) return absl::InvalidArgumentError("missing pod namespace label");
  t.pod.pod = std::string(firstPresent(target, "__pod_name__", "__meta_kubernetes_pod_name"));
  if (t.pod.pod.empty()) return absl::InvalidArgumentError("missing pod name label");
  t.pod.container = std::string(
      firstPresent(target, "__pod_container_name__", "__meta_kubernetes_pod_container_name"));
  if (t.pod.container.empty()) return absl::InvalidArgumentError("missing pod container label");
  t.pod.uid = std::string(firstPresent(target, "__pod_uid__", "__meta_kubernetes_pod_uid"));
  if (t.pod.uid.empty()) return absl::InvalidArgumentError("missing pod UID label");

  runtime::Target labels;
  for (const auto& [k, v] : target) {
    if (k.rfind("__", 0) == 0) continue;
    labels.emplace(k, v);
  }
  if (labels.find("job") == labels.end()) labels["job"] = std::string(component_id);
  if (labels.find("instance") == labels.end()) labels["instance"] = t.pod.key();
  t.labels.assign(labels.begin(), labels.end());
  t.labels_text = loki::write::renderLabels(t.labels);
  return t;
}

absl::StatusOr<PodState> parsePodState(std::string_view pod_json, std::string_view container) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(pod_json.data(), pod_json.size());
  simdjson::dom::element pod;
  if (auto err = parser.parse(padded).get(pod); err != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(strCat("pod JSON: ", simdjson::error_message(err)));
  }
  PodState st;
  st.found = true;
  std::string_view sv;
  if (pod["metadata"]["uid"].get(sv) == simdjson::SUCCESS) st.uid = std::string(sv);
  if (pod["spec"]["restartPolicy"].get(sv) == simdjson::SUCCESS) st.restart_policy = sv;
  for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
    simdjson::dom::array arr;
    if (pod["status"][list].get(arr) != simdjson::SUCCESS) continue;
    for (simdjson::dom::element cs : arr) {
      if (cs["name"].get(sv) != simdjson::SUCCESS || sv != container) continue;
      simdjson::dom::object term;
      if (cs["state"]["terminated"].get(term) == simdjson::SUCCESS) {
        st.container_terminated = true;
        int64_t code = 0;
        if (term["exitCode"].get(code) == simdjson::SUCCESS) st.exit_code = code;
      }
    }
  }
  return st;
}

bool containerFinished(const PodState& s, std::string_view uid) {
  if (!s.found) return true;
  if (!uid.empty() && !s.uid.empty() && s.uid != uid) return true;
  if (!s.container_terminated) return false;
  if (s.restart_policy == "Never") return true;
  if (s.restart_policy == "OnFailure" && s.exit_code == 0) return true;
  return false;
}

// ---- Tailer ------------------------------------------------------------------------------------

Tailer::Tailer(TailTarget target, std::shared_ptr<PodLogApi> api,
               std::shared_ptr<loki::source::Positions> positions, ReceiversFn receivers,
               TailerMetrics metrics, const log::Logger& logger, TailerOptions opts)
    : target_(std::move(target)),
      api_(std::move(api)),
      positions_(std::move(positions)),
      receivers_(std::move(receivers)),
      metrics_(metrics),
      logger_(logger),
      opts_(opts),
      cursor_path_(strCat("cursor-", target_.pod.key(), ":", target_.pod.uid)) {}

Tailer::~Tailer() {
  stop();
}

void Tailer::start() {
  thread_ = std::thread([this] { run(); });
}

void Tailer::stop() {
  requestStop();
  if (thread_.joinable()) thread_.join();
}

void Tailer::requestStop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  cv_.notify_all();
  if (api_) api_->cancel();
}

bool Tailer::sleepFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return stop_.load(); });
  return !stop_.load();
}

void Tailer::loadCursor() {
  if (!positions_) return;
  auto v = positions_->get(cursor_path_, target_.labels_text);
  if (!v) return;
  std::string_view s = *v;
  size_t sp = s.find(' ');
  int64_t ns = 0;
  uint64_t count = 0;
  auto r1 = std::from_chars(s.data(), s.data() + (sp == s.npos ? s.size() : sp), ns);
  if (r1.ec != std::errc()) return;
  if (sp != s.npos) {
    auto r2 = std::from_chars(s.data() + sp + 1, s.data() + s.size(), count);
    if (r2.ec != std::errc()) count = 0;
  }
  cursor_ns_ = delivered_ns_ = ns;
  cursor_count_ = delivered_count_ = count;
}

void Tailer::storeCursor() {
  if (!positions_ || delivered_ns_ == 0) return;
  positions_->put(cursor_path_, target_.labels_text, strCat(delivered_ns_, " ", delivered_count_));
}

bool Tailer::onLine(std::string_view line) {
  int64_t ts = 0;
  std::string_view text;
  bool has_ts = parseLogLine(line, &ts, &text);
  if (has_ts) {
    if (ts < cursor_ns_) {
      // Before the first new line of a reopened stream this is the replay of what was already
      // delivered. After it, the container wrote an out-of-order line: it is delivered (Loki
      // accepts unordered writes) without moving the cursor; Alloy drops it.
      if (!delivered_this_stream_) return true;
      if (pending_.streams.empty()) pending_.addStream(target_.labels);
      pending_.add(0, ts, text);
      if (pending_.size() >= opts_.max_entries_per_push) return flush();
      return true;
    }
    if (ts == cursor_ns_) {
      if (skip_at_cursor_ > 0) {
        --skip_at_cursor_;
        return true;
      }
      ++cursor_count_;
    } else {
      cursor_ns_ = ts;
      cursor_count_ = 1;
      skip_at_cursor_ = 0;
    }
  } else {
    ts = nowNs();
  }
  delivered_this_stream_ = true;
  if (pending_.streams.empty()) pending_.addStream(target_.labels);
  pending_.add(0, ts, text);
  if (pending_.size() >= opts_.max_entries_per_push) return flush();
  return true;
}

bool Tailer::flush() {
  if (pending_.empty()) return !stop_.load();
  Receivers receivers = receivers_();
  const uint64_t bytes = pending_.text.size();
  const size_t n = pending_.size();
  std::vector<bool> done(receivers.size(), false);
  auto backoff = std::chrono::milliseconds(50);
  while (true) {
    bool all = true;
    for (size_t i = 0; i < receivers.size(); ++i) {
      if (done[i]) continue;
      // A copy per attempt: a refused push keeps nothing, and the entries stay here for the
      // retry.
      EntryBatch copy = pending_;
      absl::Status st = receivers[i]->pushBatch(std::move(copy));
      if (st.ok()) {
        done[i] = true;
        continue;
      }
      all = false;
      if (metrics_.refused) metrics_.refused->inc(static_cast<double>(n));
      if (refuse_log_.shouldLog()) {
        logger_.warn("a forward_to receiver refused pod log entries; retrying",
                     {{"target", target_.pod.key()}, {"err", std::string(st.message())}});
      }
    }
    if (all) break;
    if (!sleepFor(backoff)) return false;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
  pending_ = EntryBatch();
  delivered_ns_ = cursor_ns_;
  delivered_count_ = cursor_count_;
  if (metrics_.entries) metrics_.entries->inc(static_cast<double>(n));
  if (metrics_.bytes) metrics_.bytes->inc(static_cast<double>(bytes));
  storeCursor();
  return !stop_.load();
}

void Tailer::run() {
  loadCursor();
  auto backoff = opts_.min_backoff;
  while (!stop_.load()) {
    skip_at_cursor_ = cursor_count_;
    delivered_this_stream_ = false;
    std::optional<int64_t> since;
    if (cursor_ns_ > 0) since = cursor_ns_ / 1000000000;
    partial_.clear();
    bool got_data = false;
    auto on_chunk = [&](std::string_view chunk) {
      got_data = true;
      while (!chunk.empty()) {
        size_t nl = chunk.find('\n');
        if (nl == std::string_view::npos) {
          partial_.append(chunk);
          while (partial_.size() > opts_.max_line_bytes) {
            std::string piece = partial_.substr(0, opts_.max_line_bytes);
            partial_.erase(0, opts_.max_line_bytes);
            if (!onLine(piece)) return false;
          }
          break;
        }
        if (partial_.empty()) {
          if (!onLine(chunk.substr(0, nl + 1))) return false;
        } else {
          partial_.append(chunk.substr(0, nl + 1));
          std::string line = std::move(partial_);
          partial_.clear();
          if (!onLine(line)) return false;
        }
        chunk.remove_prefix(nl + 1);
      }
      return flush();
    };
    absl::Status st = api_->streamLogs(target_.pod, since, on_chunk);
    if (st.ok() && !partial_.empty()) {
      std::string line = std::move(partial_);
      partial_.clear();
      onLine(line);
    }
    if (!flush() || stop_.load()) break;
    if (got_data) backoff = opts_.min_backoff;
    if (st.code() == absl::StatusCode::kDeadlineExceeded) continue;  // reopened every hour
    if (!st.ok() && st.code() != absl::StatusCode::kCancelled) {
      if (metrics_.stream_errors) metrics_.stream_errors->inc();
      if (error_log_.shouldLog()) {
        logger_.warn("pod log stream failed; reopening",
                     {{"target", target_.pod.key()}, {"err", std::string(st.message())}});
      }
    }
    auto ps = api_->getPod(target_.pod);
    if (ps.ok() && containerFinished(*ps, target_.pod.uid)) {
      finished_.store(true);
      break;
    }
    if (!sleepFor(backoff)) break;
    backoff = std::min(backoff * 2, opts_.max_backoff);
  }
  storeCursor();
}

}  // namespace telegate::loki::source_kubernetes
