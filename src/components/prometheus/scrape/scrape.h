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
//  * Response: non-2xx is a failed scrape ("server returned HTTP status ..."). The body is read,
//    decompressed (gzip) and parsed while it arrives (body_reader.h, textparse.h, ScrapeAppender):
//    nothing but the piece in hand, the current line and the series being built is held. The
//    body, raw and decompressed, is bounded by body_size_limit, or kDefaultBodyLimit (128 MiB)
//    when unset: crossing it fails the scrape at once ("body size limit exceeded") and stops the
//    transfer. The parser is chosen from the Content-Type (application/openmetrics-text ->
//    OpenMetrics, text/plain -> text 0.0.4); a missing or other type uses
//    scrape_fallback_protocol. A parse error fails the scrape.
//  * Memory: every byte a scrape holds (decompressor, line buffer, the batch of series and the
//    staleness set being built) is charged to globalMemoryBudget() (--memory.limit) before it is
//    held (ScrapeCharge) and released after delivery; when the budget refuses, the scrape fails
//    ("memory budget exhausted", reason memory_budget). Peak memory of a scrape is therefore
//    bounded by the limits (body_size_limit, sample_limit) and the budget, never by what the
//    target sends.
//  * Series: honor_labels = false renames a scraped label that collides with a target label to
//    exported_<name> (repeated prefix while still colliding); true keeps the scraped value.
//    Empty label values are removed. honor_timestamps = false replaces exposed timestamps with the
//    scrape time. label_limit / label_name_length_limit / label_value_length_limit and
//    sample_limit (> 0) are checked at each sample as it is parsed; the first one crossed fails
//    the whole scrape and stops the transfer (nothing of it is appended, up = 0).
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
//  * Health: healthy while running; scrape errors are per target (debugInfo: last_error and
//    last_failure_reason; up = 0; metrics; a failure is logged at most once a minute).
//  * Metrics (label component_id): telegate_scrape_scrapes_total,
//    telegate_scrape_failed_scrapes_total{reason} (http_status, transport, body_size, parse,
//    sample_limit, label_limit, target_limit, memory_budget),
//    telegate_scrape_samples_scraped_total, telegate_scrape_dropped_samples_total{reason}
//    (append_refused, duplicate, memory_budget: stale markers the budget had no room for),
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
#include "src/components/prometheus/scrape/scrape_memory.h"
#include "src/components/prometheus/scrape/textparse.h"
#include "src/pdata/wire.h"
#include "src/runtime/component.h"

namespace telegate::prometheus::scrape {

using namespace std::chrono_literals;
using runtime::ByteSize;
using runtime::CapsuleRef;
using runtime::Duration;
using runtime::Schema;

// The bound of a scrape body (raw and decompressed) when body_size_limit is 0.
inline constexpr size_t kDefaultBodyLimit = size_t{128} << 20;

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
  int64_t scraped = 0;       // samples read from the body (up to where the scrape stopped)
  int64_t post_relabel = 0;  // samples kept
  int64_t series_added = 0;  // series not in the previous scrape
  int64_t duplicates = 0;
  int64_t stale_dropped = 0;  // stale markers not written: the memory budget refused them
  absl::Status error;         // the scrape failed here: nothing of the body was kept
  std::string failure_reason;
};

// The series of one scrape, built while the body is parsed (it is the parser's visitor): each
// sample gets its series labels (target labels, honor_labels, empty values removed), is checked
// against the label limits and sample_limit at once, and goes straight into `out` (a SeriesBatch,
// the shape the receivers take; nothing else is kept per sample but the series' key in the
// staleness set). Every byte it is about to hold (batch buffers, set entries, the parser's line
// buffer) is first charged to `charge` (may be null: no accounting).
//  * onSample() returns an error as soon as a limit is crossed (label_limit,
//    label_name_length_limit, label_value_length_limit: reason "label_limit"; sample_limit:
//    "sample_limit") or the budget refuses (RESOURCE_EXHAUSTED, "memory_budget"); the parse
//    stops there. failureReason() names it.
//  * A series repeated within the scrape keeps its first sample (the rest count as duplicates).
//  * finish(ok): ok = false (failed here or elsewhere: transport, body size, parse) discards
//    every sample of the body (`out` is cleared; it must be empty when the appender is made).
//    Then stale markers for series of the previous scrape not seen in this one (all of them
//    when !ok) are added (those the budget has no room for are dropped and counted in
//    stale_dropped) and `state` becomes this scrape's series.
// Used by one thread; `state` and `out` must not be touched by others until finish() returns.
class ScrapeAppender final : public ExpositionVisitor {
 public:
  ScrapeAppender(const ScrapeTarget& target, const ProcessOptions& opts, int64_t scrape_ms,
                 SeriesState* state, SeriesBatch* out, ScrapeCharge* charge);
  absl::Status onSample(const SampleView& s) override;
  bool onBufferGrow(size_t bytes) override;
  const std::string& failureReason() const { return result_.failure_reason; }
  ProcessResult finish(bool ok);

 private:
  bool charge(size_t bytes);
  void rememberSeriesText(std::string_view text);
  bool reserveBatch(size_t labels, size_t bytes);
  absl::Status fail(absl::Status st, std::string_view reason);

  const ScrapeTarget& target_;
  const ProcessOptions& opts_;
  const int64_t scrape_ms_;
  SeriesState* state_;
  SeriesBatch* out_;
  ScrapeCharge* charge_;
  const bool label_limits_;
  ProcessResult result_;
  TrackedSet cur_;
  TrackedSet untracked_;                       // series with exposed timestamps (duplicates)
  std::vector<const TrackedKey*> fresh_keys_;  // series of cur_ that were not in state_
  TrackedKey probe_;
  std::vector<std::pair<std::string_view, std::string_view>> lb_;
  std::vector<std::string> renamed_;
  std::string last_series_text_;  // of the last sample kept or counted as a duplicate
};

// Runs a ScrapeAppender over an already parsed body (tests, benchmarks). A null `exp` is a
// failed scrape: every tracked series gets a stale marker.
ProcessResult processScrape(const Exposition* exp, const ScrapeTarget& target,
                            const ProcessOptions& opts, int64_t scrape_ms, SeriesState* state,
                            SeriesBatch* out, ScrapeCharge* charge = nullptr);

// Stale markers for every series of `state` plus the synthetic series (target retired).
void endOfRunStaleness(const ScrapeTarget& target, bool extra_metrics, int64_t ts_ms,
                       SeriesState* state, SeriesBatch* out);

// The synthetic series reported after every scrape (up, scrape_duration_seconds, ...): the first
// five always, all eight with extra_metrics.
inline constexpr std::string_view kReportNames[] = {"up",
                                                    "scrape_duration_seconds",
                                                    "scrape_samples_scraped",
                                                    "scrape_samples_post_metric_relabeling",
                                                    "scrape_series_added",
                                                    "scrape_timeout_seconds",
                                                    "scrape_sample_limit",
                                                    "scrape_body_size_bytes"};
// Adds one sample of the synthetic series `name` of `target` to `out`.
void addReportSample(const ScrapeTarget& target, std::string_view name, int64_t ts_ms, double value,
                     SeriesBatch* out);

template <class Fn>
void forEachLabel(std::string_view key, Fn&& fn) {
  size_t pos = 0;
  uint64_t n = 0;
  while (pos < key.size()) {
    if (pdata::wire::readVarint(key, &pos, &n) != pdata::wire::Status::kOk ||
        n > key.size() - pos) {
      return;
    }
    const std::string_view name = key.substr(pos, n);
    pos += n;
    if (pdata::wire::readVarint(key, &pos, &n) != pdata::wire::Status::kOk ||
        n > key.size() - pos) {
      return;
    }
    const std::string_view value = key.substr(pos, n);
    pos += n;
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
