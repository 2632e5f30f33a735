// prometheus.scrape: scrapes Prometheus/OpenMetrics text endpoints and forwards the samples to
// storage.Appendable receivers (prometheus.remote_write.*.receiver), following Alloy's component
// (which embeds Prometheus' scrape manager).
//
// Contract:
//  * Arguments and defaults are Alloy's (job_name defaults to the component ID, interval 60s,
//    timeout 10s <= interval, metrics_path /metrics, scheme http, honor_timestamps true, ...).
//  * Targets (populateTarget): each `targets` entry gets job, __scrape_interval__,
//    __scrape_timeout__, __metrics_path__, __scheme__ and __param_<k> (first value of params[k])
//    unless already set; an empty __address__ ("no address") or one containing '/' is rejected
//    (the target is skipped, counted in telegate_scrape_targets_invalid and logged at most once
//    a minute); __meta_* labels are dropped; instance defaults to
//    __address__. Labels without a "__" prefix are the target labels added to every series.
//    Targets with the same labels (ignoring __scrape_interval__/__scrape_timeout__) are scraped
//    once. A target's own __scrape_interval__/__scrape_timeout__ override the arguments.
//  * URL: <__scheme__>://<__address__><__metrics_path__>?<query>; the query holds params with
//    __param_<k> replacing the first value of k, keys sorted, Go url.Values encoding. No default
//    port is added.
//  * Request: GET with Accept built from scrape_protocols (q=0.6 downwards, then */*;q=0.2;
//    PrometheusProto is not advertised: only text formats are parsed), Accept-Encoding gzip (or
//    identity when enable_compression = false), X-Prometheus-Scrape-Timeout-Seconds, the
//    configured credentials, User-Agent telegate/<version> (Alloy sends Alloy/<version>);
//    timeout = scrape_timeout. Redirects are not followed.
//  * Response: non-2xx is a failed scrape ("server returned HTTP status ..."). A gzip body is
//    decompressed. The body (compressed and decompressed) is bounded by body_size_limit, or
//    128 MiB when unset ("body size limit exceeded" fails the scrape). The parser is chosen from
//    the Content-Type (application/openmetrics-text -> OpenMetrics, text/plain -> text 0.0.4);
//    a missing or other type uses scrape_fallback_protocol. A parse error fails the scrape.
//  * Series: honor_labels = false renames a scraped label that collides with a target label to
//    exported_<name> (repeated prefix while still colliding); true keeps the scraped value.
//    Empty label values are removed. honor_timestamps = false replaces exposed timestamps with the
//    scrape time. label_limit / label_name_length_limit / label_value_length_limit and
//    sample_limit (> 0) fail the whole scrape when exceeded (nothing of it is appended, up = 0).
//    A series repeated within one scrape keeps its first sample (the rest are counted as
//    dropped, reason "duplicate").
//  * Every scrape, successful or not, appends up, scrape_duration_seconds,
//    scrape_samples_scraped, scrape_samples_post_metric_relabeling and scrape_series_added (and
//    scrape_timeout_seconds, scrape_sample_limit, scrape_body_size_bytes with extra_metrics) with
//    the target labels, stamped with the scrape start time.
//  * Staleness: a series (without an exposed timestamp, unless track_timestamps_staleness) seen in
//    the previous scrape of a target but not in this one gets a stale marker (NaN with bits
//    0x7ff0000000000002) at this scrape's time; a failed scrape marks all of them stale. A target
//    that leaves `targets` gets stale markers for all its series and its synthetic series
//    ~2.1 intervals later, stamped with the time its next scrape would have been (Prometheus'
//    end-of-run staleness; re-adding the target before that cancels them). Shutting the component
//    down writes no stale markers (like Alloy/Prometheus: the process is presumed to restart).
//  * Scheduling: each target is scraped every interval at a stable offset within it (hash of its
//    labels modulo the interval, pinned to wall-clock time), so targets are spread out. A pool
//    of worker threads waits for the earliest due target and performs the blocking HTTP GET
//    (pooled libcurl connections). Workers: enough that every target could use its whole
//    timeout every time and still be scraped on schedule (sum of timeout/interval, + 1), at
//    least 4 (or one per target when fewer), at most 64; added as targets come, kept until
//    shutdown. A target is never scraped twice concurrently; a missed slot is skipped.
//  * Delivery: the samples of a scrape are appended to every forward_to receiver in one call
//    each. A refusal is counted (telegate_scrape_dropped_samples_total{reason="append_refused"})
//    and logged at most once a minute; those samples are not retried (as in Prometheus, the
//    next scrape brings fresh values). Other receivers still get the samples.
//  * update(): targets that remain keep their loop, series state and schedule; new ones start,
//    removed ones retire as above. All other arguments take effect at each target's next scrape;
//    a changed interval re-plans the next scrape at once (new offset).
//  * shutdown() stops the workers; it waits for scrapes in flight (each bounded by its timeout)
//    and writes no stale markers.
//  * target_limit > 0 exceeded: every target's scrape fails with "target_limit exceeded" (up = 0)
//    without contacting it, as in Prometheus.
//  * Health: healthy while running; scrape errors are per target (debugInfo, up = 0, metrics).
//  * Metrics (label component_id): telegate_scrape_scrapes_total,
//    telegate_scrape_failed_scrapes_total{reason} (http_status, transport, body_size, parse,
//    sample_limit, label_limit, target_limit), telegate_scrape_samples_scraped_total,
//    telegate_scrape_dropped_samples_total{reason} (append_refused, duplicate),
//    telegate_scrape_targets_active, telegate_scrape_targets_invalid,
//    telegate_scrape_duration_seconds (histogram).
//  * Not implemented: the PrometheusProto format and native histograms, clustering (accepted,
//    ignored: every instance scrapes all targets), metric_name_validation_scheme "utf8" is
//    accepted but names are parsed with the legacy character set, follow_redirects, no_proxy,
//    proxy_from_environment.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/common/strings.h"
#include "src/components/common/http_client.h"
#include "src/components/prometheus/api.h"
#include "src/components/prometheus/scrape/textparse.h"
#include "src/runtime/component.h"

namespace telegate::prometheus::scrape {

using namespace std::chrono_literals;
using runtime::ByteSize;
using runtime::CapsuleRef;
using runtime::Duration;
using runtime::Schema;

struct ClusteringBlock {
  bool enabled = false;
  static void describe(Schema<ClusteringBlock>& s) { s.attr("enabled", &ClusteringBlock::enabled); }
};

struct Arguments : components::HttpClientConfig {
  std::vector<runtime::Target> targets;
  std::vector<CapsuleRef<Appendable>> forward_to;
  std::string job_name;
  std::map<std::string, std::vector<std::string>> params;
  Duration scrape_interval{60s};
  Duration scrape_timeout{10s};
  std::vector<std::string> scrape_protocols = {"OpenMetricsText1.0.0", "OpenMetricsText0.0.1",
                                               "PrometheusText1.0.0", "PrometheusText0.0.4"};
  std::string scrape_fallback_protocol = "PrometheusText0.0.4";
  std::string metrics_path = "/metrics";
  std::string scheme = "http";
  bool honor_labels = false;
  bool honor_timestamps = true;
  bool track_timestamps_staleness = false;
  bool enable_compression = true;
  ByteSize body_size_limit;
  int64_t sample_limit = 0;
  int64_t target_limit = 0;
  int64_t label_limit = 0;
  int64_t label_name_length_limit = 0;
  int64_t label_value_length_limit = 0;
  bool extra_metrics = false;
  bool scrape_native_histograms = false;
  bool scrape_classic_histograms = false;
  std::string metric_name_validation_scheme = "legacy";
  std::optional<ClusteringBlock> clustering;
  static void describe(Schema<Arguments>& s);
  absl::Status validate() const;
};

// Labels of a series: sorted by name, including __name__ (the same shape as api.h's Labels).
using SeriesLabels = std::vector<std::pair<std::string, std::string>>;

// A label set encoded as one string: for each label (sorted by name) the varint length of the
// name, the name, the varint length of the value, the value. Also the identity of a series.
std::string encodeLabels(const SeriesLabels& labels);
SeriesLabels decodeLabels(std::string_view key);
// Calls fn(name, value) for each label of an encoded label set.
template <class Fn>
void forEachLabel(std::string_view key, Fn&& fn);

// One sample produced by a scrape, before it is handed to the receivers.
struct ScrapedSample {
  std::string key;  // encodeLabels() of the series' labels
  int64_t timestamp_ms = 0;
  double value = 0;
  SeriesLabels labels() const { return decodeLabels(key); }
};

// The Prometheus stale marker (a NaN with a specific bit pattern).
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;
double staleNaN();
bool isStaleNaN(double v);

// A target after label processing.
struct ScrapeTarget {
  SeriesLabels labels;         // all remaining labels, sorted (incl. __address__, __param_*)
  SeriesLabels public_labels;  // labels without the "__" prefix: added to every series
  std::string url;
  std::chrono::nanoseconds interval{};
  std::chrono::nanoseconds timeout{};
  uint64_t hash = 0;  // identity: all labels except __scrape_interval__/__scrape_timeout__
};

absl::StatusOr<ScrapeTarget> populateTarget(const runtime::Target& target, const Arguments& args,
                                            const std::string& default_job);

// Offset within `interval` at which a target with `hash` is scraped (Prometheus: hash % interval,
// pinned to Unix time).
std::chrono::nanoseconds scrapeOffset(uint64_t hash, std::chrono::nanoseconds interval);

// The Accept header for `protocols` (names as in scrape_protocols; unknown ones skipped).
std::string acceptHeader(const std::vector<std::string>& protocols);

// A tracked series: its encoded labels and their hash (computed once per sample).
struct TrackedKey {
  std::string key;
  size_t hash = 0;
  bool operator==(const TrackedKey& o) const { return hash == o.hash && key == o.key; }
};
struct TrackedKeyHash {
  size_t operator()(const TrackedKey& k) const { return k.hash; }
};
using TrackedSet = std::unordered_set<TrackedKey, TrackedKeyHash>;

// Series state of one target between scrapes (for staleness and scrape_series_added). Series
// seen again move from the previous scrape's set to the current one without allocating.
struct SeriesState {
  TrackedSet tracked;     // series of the last scrape tracked for staleness
  bool reported = false;  // synthetic series were appended at least once
};

struct ProcessOptions {
  bool honor_labels = false;
  bool honor_timestamps = true;
  bool track_timestamps_staleness = false;
  int64_t sample_limit = 0;
  int64_t label_limit = 0;
  int64_t label_name_length_limit = 0;
  int64_t label_value_length_limit = 0;
};

struct ProcessResult {
  int64_t scraped = 0;       // samples in the body
  int64_t post_relabel = 0;  // samples kept
  int64_t series_added = 0;  // series not in the previous scrape
  int64_t duplicates = 0;
  absl::Status error;  // limit violation: nothing of the body was kept
  std::string failure_reason;
};

// Turns a parsed body into samples for `target` (label handling, limits, timestamps), appending
// to `out` and the stale markers of series that vanished since the previous scrape; updates
// `state`. A null `exp` (failed scrape) marks every tracked series stale. `exp` is only read.
ProcessResult processScrape(const Exposition* exp, const ScrapeTarget& target,
                            const ProcessOptions& opts, int64_t scrape_ms, SeriesState* state,
                            std::vector<ScrapedSample>* out);

// Stale markers for every series of `state` plus the synthetic series (target retired).
void endOfRunStaleness(const ScrapeTarget& target, bool extra_metrics, int64_t ts_ms,
                       SeriesState* state, std::vector<ScrapedSample>* out);

// The only code that knows the shape of the Appendable API (api.h): one batch per scrape, one
// series per sample, built once and copied for each further receiver.
using AppendBatch = SeriesBatch;
AppendBatch toAppendBatch(const std::vector<ScrapedSample>& samples);
absl::Status appendTo(Appendable& receiver, AppendBatch&& batch);

namespace internal {
inline bool readVarint(std::string_view* s, size_t* out) {
  size_t v = 0;
  for (int shift = 0; shift < 64 && !s->empty(); shift += 7) {
    unsigned char c = static_cast<unsigned char>(s->front());
    s->remove_prefix(1);
    v |= static_cast<size_t>(c & 0x7f) << shift;
    if ((c & 0x80) == 0) {
      *out = v;
      return true;
    }
  }
  return false;
}
}  // namespace internal

template <class Fn>
void forEachLabel(std::string_view key, Fn&& fn) {
  while (!key.empty()) {
    size_t n = 0;
    if (!internal::readVarint(&key, &n) || n > key.size()) return;
    std::string_view name = key.substr(0, n);
    key.remove_prefix(n);
    if (!internal::readVarint(&key, &n) || n > key.size()) return;
    std::string_view value = key.substr(0, n);
    key.remove_prefix(n);
    fn(name, value);
  }
}

class Scraper;  // the worker pool and targets (scrape.cc)

class Component : public runtime::TypedComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments& args);
  ~Component() override;
  absl::Status start() override;
  absl::Status update(const Arguments& args) override;
  void shutdown(std::chrono::steady_clock::time_point deadline) override;
  syntax::Value debugInfo() const override;

 private:
  runtime::Host& host_;
  std::shared_ptr<Scraper> scraper_;
};

}  // namespace telegate::prometheus::scrape
