// prometheus.scrape (see scrape.h for the contract).
#include "src/components/prometheus/scrape/scrape.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>

#include "src/common/decompress.h"
#include "src/common/log.h"
#include "src/common/metrics.h"
#include "src/components/all.h"
#include "src/net/http_client.h"
#include "src/runtime/registry.h"

namespace telegate::prometheus::scrape {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::nanoseconds;

constexpr size_t kDefaultBodyLimit = 128u << 20;
constexpr size_t kMinWorkers = 4;
constexpr size_t kMaxWorkers = 64;

struct ProtocolHeader {
  std::string_view name;
  std::string_view media_type;
  bool escaping;  // the newer text formats carry the escaping parameter
};
constexpr ProtocolHeader kProtocols[] = {
    {"PrometheusProto",
     "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
     false},
    {"PrometheusText0.0.4", "text/plain;version=0.0.4", false},
    {"PrometheusText1.0.0", "text/plain;version=1.0.0", true},
    {"OpenMetricsText0.0.1", "application/openmetrics-text;version=0.0.1", false},
    {"OpenMetricsText1.0.0", "application/openmetrics-text;version=1.0.0", true},
};

const ProtocolHeader* findProtocol(std::string_view name) {
  for (const auto& p : kProtocols) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

bool startsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

uint64_t fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// Go's url.QueryEscape.
void queryEscape(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out->push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out->push_back('+');
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

// Go's URL path escaping (url.URL.EscapedPath for a path without RawPath).
void pathEscape(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  static constexpr std::string_view kKeep = "-_.~$&+,/:;=@";
  for (unsigned char c : s) {
    if (std::isalnum(c) || kKeep.find(static_cast<char>(c)) != std::string_view::npos) {
      out->push_back(static_cast<char>(c));
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

const std::string* findLabel(const SeriesLabels& labels, std::string_view name) {
  auto it = std::lower_bound(labels.begin(), labels.end(), name,
                             [](const auto& l, std::string_view n) { return l.first < n; });
  if (it == labels.end() || it->first != name) return nullptr;
  return &it->second;
}

using LabelView = std::pair<std::string_view, std::string_view>;

void putVarint(std::string* out, size_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void encodeInto(std::string* out, const std::vector<LabelView>& labels) {
  out->clear();
  for (const auto& [k, v] : labels) {
    putVarint(out, k.size());
    out->append(k);
    putVarint(out, v.size());
    out->append(v);
  }
}

// Series labels of a scraped sample: its labels merged with the target labels (Prometheus'
// mutateSampleLabels without relabel rules), as views into `s`, `target` and `renamed`.
void buildLabels(const ParsedSample& s, const SeriesLabels& target, bool honor,
                 std::vector<LabelView>* out, std::vector<std::string>* renamed) {
  out->clear();
  out->emplace_back("__name__", s.name);
  if (honor) {
    for (const auto& l : s.labels) {
      if (l.first != "__name__") out->emplace_back(l.first, l.second);
    }
    for (const auto& l : target) {
      bool has = std::binary_search(s.labels.begin(), s.labels.end(), l,
                                    [](const auto& a, const auto& b) { return a.first < b.first; });
      if (!has) out->emplace_back(l.first, l.second);
    }
  } else {
    size_t conflicts = 0;
    for (const auto& l : s.labels) {
      if (l.first == "__name__" || l.second.empty()) continue;
      if (findLabel(target, l.first) != nullptr) {
        ++conflicts;
      } else {
        out->emplace_back(l.first, l.second);
      }
    }
    for (const auto& l : target) out->emplace_back(l.first, l.second);
    if (conflicts > 0) {
      // Shortest names first, as Prometheus resolves them.
      std::vector<const std::pair<std::string, std::string>*> c;
      for (const auto& l : s.labels) {
        if (l.first != "__name__" && !l.second.empty() && findLabel(target, l.first) != nullptr) {
          c.push_back(&l);
        }
      }
      std::stable_sort(c.begin(), c.end(), [](const auto* a, const auto* b) {
        return a->first.size() < b->first.size();
      });
      renamed->clear();
      renamed->reserve(c.size());  // views into it must stay valid
      for (const auto* l : c) {
        std::string name = strCat("exported_", l->first);
        auto has = [&](std::string_view n) {
          for (const auto& x : *out) {
            if (x.first == n) return true;
          }
          return false;
        };
        while (has(name)) name = strCat("exported_", name);
        renamed->push_back(std::move(name));
        out->emplace_back(renamed->back(), l->second);
      }
    }
  }
  std::erase_if(*out, [](const auto& l) { return l.second.empty(); });
  std::sort(out->begin(), out->end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
}

absl::Status checkLabelLimits(const std::vector<LabelView>& labels, const ProcessOptions& o) {
  auto metric = [&]() -> std::string_view {
    std::string_view n;
    for (const auto& l : labels) {
      if (l.first == "__name__") n = l.second;
    }
    return n.substr(0, 50);
  };
  if (o.label_limit > 0 && static_cast<int64_t>(labels.size()) > o.label_limit) {
    return absl::InvalidArgumentError(strCat("label_limit exceeded (metric: ", metric(),
                                             ", number of labels: ", labels.size(),
                                             ", limit: ", o.label_limit, ")"));
  }
  for (const auto& [k, v] : labels) {
    if (o.label_name_length_limit > 0 &&
        static_cast<int64_t>(k.size()) > o.label_name_length_limit) {
      return absl::InvalidArgumentError(strCat(
          "label_name_length_limit exceeded (metric: ", metric(), ", label name: ", k.substr(0, 50),
          ", length: ", k.size(), ", limit: ", o.label_name_length_limit, ")"));
    }
    if (o.label_value_length_limit > 0 &&
        static_cast<int64_t>(v.size()) > o.label_value_length_limit) {
      return absl::InvalidArgumentError(
          strCat("label_value_length_limit exceeded (metric: ", metric(),
                 ", label name: ", k.substr(0, 50), ", value: \"", v.substr(0, 50),
                 "\", length: ", v.size(), ", limit: ", o.label_value_length_limit, ")"));
    }
  }
  return absl::OkStatus();
}

std::string reportKey(const ScrapeTarget& t, std::string_view name) {
  SeriesLabels l = t.public_labels;
  l.emplace_back("__name__", std::string(name));
  std::sort(l.begin(), l.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return encodeLabels(l);
}

constexpr std::string_view kReportNames[] = {"up",
                                             "scrape_duration_seconds",
                                             "scrape_samples_scraped",
                                             "scrape_samples_post_metric_relabeling",
                                             "scrape_series_added",
                                             "scrape_timeout_seconds",
                                             "scrape_sample_limit",
                                             "scrape_body_size_bytes"};

int64_t unixMillis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

void Arguments::describe(Schema<Arguments>& s) {
  s.attr("targets", &Arguments::targets).required().doc("targets to scrape");
  s.attr("forward_to", &Arguments::forward_to).required().doc("receivers for the samples");
  s.attr("job_name", &Arguments::job_name).doc("default: the component ID");
  s.attr("params", &Arguments::params);
  s.attr("scrape_interval", &Arguments::scrape_interval);
  s.attr("scrape_timeout", &Arguments::scrape_timeout);
  s.attr("scrape_protocols", &Arguments::scrape_protocols)
      .doc("text formats only: PrometheusProto is accepted but not requested");
  s.attr("scrape_fallback_protocol", &Arguments::scrape_fallback_protocol);
  s.attr("metrics_path", &Arguments::metrics_path);
  s.attr("scheme", &Arguments::scheme);
  s.attr("honor_labels", &Arguments::honor_labels);
  s.attr("honor_timestamps", &Arguments::honor_timestamps);
  s.attr("track_timestamps_staleness", &Arguments::track_timestamps_staleness);
  s.attr("enable_compression", &Arguments::enable_compression);
  s.attr("body_size_limit", &Arguments::body_size_limit).doc("0: telegate bounds bodies at 128MiB");
  s.attr("sample_limit", &Arguments::sample_limit);
  s.attr("target_limit", &Arguments::target_limit);
  s.attr("label_limit", &Arguments::label_limit);
  s.attr("label_name_length_limit", &Arguments::label_name_length_limit);
  s.attr("label_value_length_limit", &Arguments::label_value_length_limit);
  s.attr("extra_metrics", &Arguments::extra_metrics);
  s.attr("scrape_native_histograms", &Arguments::scrape_native_histograms)
      .doc("accepted; no effect (native histograms are not scraped)");
  s.attr("scrape_classic_histograms", &Arguments::scrape_classic_histograms);
  s.attr("metric_name_validation_scheme", &Arguments::metric_name_validation_scheme)
      .doc("legacy or utf8; names are always parsed with the legacy character set");
  s.block("clustering", &Arguments::clustering)
      .doc("accepted; no effect: every instance scrapes all targets");
  components::describeHttpClient(s);
}

absl::Status Arguments::validate() const {
  if (scrape_interval.value <= std::chrono::nanoseconds::zero()) {
    return absl::InvalidArgumentError("scrape_interval must be greater than 0");
  }
  if (scrape_timeout.value > scrape_interval.value) {
    return absl::InvalidArgumentError(
        strCat("scrape_timeout (", runtime::formatDuration(scrape_timeout),
               ") greater than scrape_interval (", runtime::formatDuration(scrape_interval), ")"));
  }
  if (scheme != "http" && scheme != "https") {
    return absl::InvalidArgumentError(strCat("scheme must be http or https, got \"", scheme, "\""));
  }
  for (const auto& p : scrape_protocols) {
    if (findProtocol(p) == nullptr) {
      return absl::InvalidArgumentError(strCat("unknown scrape protocol \"", p, "\""));
    }
  }
  if (!scrape_fallback_protocol.empty() && findProtocol(scrape_fallback_protocol) == nullptr) {
    return absl::InvalidArgumentError(
        strCat("unknown scrape_fallback_protocol \"", scrape_fallback_protocol, "\""));
  }
  if (scrape_fallback_protocol == "PrometheusProto") {
    return absl::InvalidArgumentError(
        "scrape_fallback_protocol PrometheusProto is not supported; use a text format");
  }
  if (metric_name_validation_scheme != "legacy" && metric_name_validation_scheme != "utf8") {
    return absl::InvalidArgumentError(
        strCat("metric_name_validation_scheme must be legacy or utf8, got \"",
               metric_name_validation_scheme, "\""));
  }
  if (sample_limit < 0 || target_limit < 0 || label_limit < 0 || label_name_length_limit < 0 ||
      label_value_length_limit < 0) {
    return absl::InvalidArgumentError("limits must not be negative");
  }
  return HttpClientConfig::validate();
}

double staleNaN() {
  return std::bit_cast<double>(kStaleNaNBits);
}
bool isStaleNaN(double v) {
  return std::bit_cast<uint64_t>(v) == kStaleNaNBits;
}

absl::StatusOr<ScrapeTarget> populateTarget(const runtime::Target& target, const Arguments& args,
                                            const std::string& default_job) {
  std::map<std::string, std::string> lb(target.begin(), target.end());
  auto setDefault = [&](const std::string& k, std::string v) { lb.emplace(k, std::move(v)); };
  setDefault("job", args.job_name.empty() ? default_job : args.job_name);
  setDefault("__scrape_interval__", runtime::formatDuration(args.scrape_interval));
  setDefault("__scrape_timeout__", runtime::formatDuration(args.scrape_timeout));
  setDefault("__metrics_path__", args.metrics_path);
  setDefault("__scheme__", args.scheme);
  for (const auto& [k, v] : args.params) {
    if (!v.empty()) setDefault(strCat("__param_", k), v.front());
  }
  auto addr = lb.find("__address__");
  if (addr == lb.end() || addr->second.empty()) return absl::InvalidArgumentError("no address");
  if (addr->second.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(strCat("\"", addr->second, "\" is not a valid hostname"));
  }
  ScrapeTarget t;
  auto iv = runtime::parseDuration(lb["__scrape_interval__"]);
  if (!iv.ok()) {
    return absl::InvalidArgumentError(
        strCat("error parsing scrape interval: ", std::string(iv.status().message())));
  }
  auto to = runtime::parseDuration(lb["__scrape_timeout__"]);
  if (!to.ok()) {
    return absl::InvalidArgumentError(
        strCat("error parsing scrape timeout: ", std::string(to.status().message())));
  }
  if (iv->value <= nanoseconds::zero()) {
    return absl::InvalidArgumentError("scrape interval cannot be 0");
  }
  if (to->value <= nanoseconds::zero()) {
    return absl::InvalidArgumentError("scrape timeout cannot be 0");
  }
  if (to->value > iv->value) {
    return absl::InvalidArgumentError(
        strCat("scrape timeout cannot be greater than scrape interval (\"",
               lb["__scrape_timeout__"], "\" > \"", lb["__scrape_interval__"], "\")"));
  }
  t.interval = iv->value;
  t.timeout = to->value;
  for (auto it = lb.begin(); it != lb.end();) {
    it = startsWith(it->first, "__meta_") ? lb.erase(it) : std::next(it);
  }
  const std::string address = lb["__address__"];
  if (lb["instance"].empty()) lb["instance"] = address;
  uint64_t h = 14695981039346656037ULL;
  for (const auto& [k, v] : lb) {
    if (v.empty() && !startsWith(k, "__")) continue;  // an empty label is an absent label
    t.labels.emplace_back(k, v);
    if (k == "__scrape_interval__" || k == "__scrape_timeout__") continue;
    h = fnv1a(fnv1a(h, k), "\xff");
    h = fnv1a(fnv1a(h, v), "\xff");
    if (!startsWith(k, "__")) t.public_labels.emplace_back(k, v);
  }
  t.hash = h;

  // URL: params from the arguments, the first value of each replaced by __param_<k>.
  std::map<std::string, std::vector<std::string>> params = args.params;
  for (const auto& [k, v] : lb) {
    if (!startsWith(k, "__param_")) continue;
    auto& vals = params[k.substr(8)];
    if (vals.empty()) {
      vals.push_back(v);
    } else {
      vals[0] = v;
    }
  }
  t.url = strCat(lb["__scheme__"], "://", address);
  pathEscape(lb["__metrics_path__"], &t.url);
  bool first = true;
  for (const auto& [k, vals] : params) {
    for (const auto& v : vals) {
      t.url.push_back(first ? '?' : '&');
      first = false;
      queryEscape(k, &t.url);
      t.url.push_back('=');
      queryEscape(v, &t.url);
    }
  }
  return t;
}

std::chrono::nanoseconds scrapeOffset(uint64_t hash, std::chrono::nanoseconds interval) {
  if (interval <= nanoseconds::zero()) return nanoseconds::zero();
  return nanoseconds(static_cast<int64_t>(hash % static_cast<uint64_t>(interval.count())));
}

std::string acceptHeader(const std::vector<std::string>& protocols) {
  std::string out;
  int weight = static_cast<int>(std::size(kProtocols)) + 1;
  for (const auto& name : protocols) {
    const ProtocolHeader* p = findProtocol(name);
    if (p == nullptr || p->name == "PrometheusProto") continue;  // only text formats are parsed
    if (!out.empty()) out.push_back(',');
    strAppend(&out, p->media_type);
    if (p->escaping) out.append(";escaping=underscores");
    strAppend(&out, ";q=0.", weight);
    --weight;
  }
  if (!out.empty()) out.push_back(',');
  strAppend(&out, "*/*;q=0.", weight);
  return out;
}

std::string encodeLabels(const SeriesLabels& labels) {
  std::vector<LabelView> v(labels.begin(), labels.end());
  std::string out;
  encodeInto(&out, v);
  return out;
}

SeriesLabels decodeLabels(std::string_view key) {
  SeriesLabels out;
  forEachLabel(key, [&](std::string_view k, std::string_view v) {
    out.emplace_back(std::string(k), std::string(v));
  });
  return out;
}

ProcessResult processScrape(const Exposition* exp, const ScrapeTarget& target,
                            const ProcessOptions& opts, int64_t scrape_ms, SeriesState* state,
                            std::vector<ScrapedSample>* out) {
  ProcessResult r;
  const size_t base = out->size();
  TrackedSet& prev = state->tracked;  // what is left in it at the end vanished
  TrackedSet cur;
  std::vector<const TrackedKey*> fresh_keys;  // series of `cur` that were not in `prev`
  if (exp != nullptr) {
    r.scraped = static_cast<int64_t>(exp->samples.size());
    cur.reserve(prev.size() + 16);
    TrackedSet untracked;
    TrackedKey probe;
    std::vector<LabelView> lb;
    std::vector<std::string> renamed;
    const bool limits = opts.label_limit > 0 || opts.label_name_length_limit > 0 ||
                        opts.label_value_length_limit > 0;
    for (const ParsedSample& s : exp->samples) {
      buildLabels(s, target.public_labels, opts.honor_labels, &lb, &renamed);
      if (limits) {
        absl::Status st = checkLabelLimits(lb, opts);
        if (!st.ok()) {
          r.error = st;
          r.failure_reason = "label_limit";
          break;
        }
      }
      encodeInto(&probe.key, lb);
      probe.hash = std::hash<std::string_view>()(probe.key);
      const bool explicit_ts = opts.honor_timestamps && s.timestamp_ms.has_value();
      const bool track = !explicit_ts || opts.track_timestamps_staleness;
      if (cur.contains(probe) || (!untracked.empty() && untracked.contains(probe))) {
        ++r.duplicates;
        continue;
      }
      if (track) {
        auto it = prev.find(probe);
        if (it != prev.end()) {
          cur.insert(prev.extract(it));
        } else {
          fresh_keys.push_back(&*cur.insert(probe).first);
          ++r.series_added;
        }
      } else {
        untracked.insert(probe);
      }
      ++r.post_relabel;
      if (opts.sample_limit > 0 && r.post_relabel > opts.sample_limit) {
        r.error = absl::ResourceExhaustedError("sample limit exceeded");
        r.failure_reason = "sample_limit";
        break;
      }
      out->push_back({probe.key, explicit_ts ? *s.timestamp_ms : scrape_ms, s.value});
    }
    if (!r.error.ok()) {  // nothing of a failed scrape is kept: series of `prev` go stale
      out->resize(base);
      for (const TrackedKey* k : fresh_keys) cur.erase(cur.find(*k));
      while (!cur.empty()) prev.insert(cur.extract(cur.begin()));
      r.series_added = 0;
    }
  }
  for (const auto& k : prev) out->push_back({k.key, scrape_ms, staleNaN()});
  state->tracked = std::move(cur);
  return r;
}

void endOfRunStaleness(const ScrapeTarget& target, bool extra_metrics, int64_t ts_ms,
                       SeriesState* state, std::vector<ScrapedSample>* out) {
  for (const auto& k : state->tracked) out->push_back({k.key, ts_ms, staleNaN()});
  state->tracked.clear();
  if (state->reported) {
    size_t n = extra_metrics ? std::size(kReportNames) : 5;
    for (size_t i = 0; i < n; ++i) {
      out->push_back({reportKey(target, kReportNames[i]), ts_ms, staleNaN()});
    }
  }
  state->reported = false;
}

// The only code that knows the shape of the Appendable API: adapt here when it changes.
AppendBatch toAppendBatch(const std::vector<ScrapedSample>& samples) {
  AppendBatch b;
  size_t nlabels = 0;
  size_t nbytes = 0;
  for (const auto& s : samples) nbytes += s.key.size();
  nlabels = samples.size() * 4;
  b.reserve(samples.size(), nlabels, samples.size(), nbytes);
  for (const auto& s : samples) {
    b.beginSeries();
    forEachLabel(s.key, [&](std::string_view k, std::string_view v) { b.addLabel(k, v); });
    b.addSample(s.timestamp_ms, s.value);
  }
  return b;
}

absl::Status appendTo(Appendable& receiver, AppendBatch&& batch) {
  return receiver.append(std::move(batch));
}

// ---------------------------------------------------------------------------------------------

namespace {

struct Config {
  std::vector<std::shared_ptr<Appendable>> receivers;
  ProcessOptions popts;
  bool extra_metrics = false;
  std::shared_ptr<net::HttpClient> client;
  std::vector<std::pair<std::string, std::string>> headers;
  size_t body_limit = kDefaultBodyLimit;
  int64_t body_size_limit = 0;  // as configured (scrape_body_size_bytes reports it)
  ExpositionFormat fallback = ExpositionFormat::kText004;
  std::string target_limit_error;  // non-empty: every scrape fails with it
};

struct TargetState {
  enum class Phase { kActive, kRetiring };
  // Guarded by Scraper::mu_.
  std::shared_ptr<const ScrapeTarget> target;
  Phase phase = Phase::kActive;
  uint64_t gen = 0;
  bool running = false;
  bool scraped_once = false;
  Clock::time_point next_due{};
  int64_t next_due_ms = 0;
  int64_t stale_ms = 0;
  std::string last_error;
  int64_t last_scrape_ms = 0;
  double last_duration = 0;
  bool up = false;
  // Owned by the worker that set `running`.
  SeriesState series;
};

struct HeapEntry {
  Clock::time_point due;
  uint64_t gen;
  std::shared_ptr<TargetState> st;
  bool operator>(const HeapEntry& o) const { return due > o.due; }
};

}  // namespace

class Scraper {
 public:
  Scraper(std::string id, metrics::Registry& reg, log::Logger logger)
      : id_(std::move(id)), logger_(std::move(logger)) {
    auto& scrapes = reg.counter("telegate_scrape_scrapes_total",
                                "Scrapes performed by prometheus.scrape.", {"component_id"});
    scrapes_ = &scrapes.with({id_});
    auto& failed =
        reg.counter("telegate_scrape_failed_scrapes_total",
                    "Scrapes that failed (up = 0), by reason.", {"component_id", "reason"});
    for (std::string_view r : {"http_status", "transport", "body_size", "parse", "sample_limit",
                               "label_limit", "target_limit"}) {
      failed_[std::string(r)] = &failed.with({id_, std::string(r)});
    }
    samples_ = &reg.counter("telegate_scrape_samples_scraped_total",
                            "Samples read from scraped bodies.", {"component_id"})
                    .with({id_});
    auto& dropped =
        reg.counter("telegate_scrape_dropped_samples_total",
                    "Scraped samples not delivered, by reason.", {"component_id", "reason"});
    refused_ = &dropped.with({id_, "append_refused"});
    duplicates_ = &dropped.with({id_, "duplicate"});
    active_ =
        &reg.gauge("telegate_scrape_targets_active", "Targets being scraped.", {"component_id"})
             .with({id_});
    invalid_ = &reg.gauge("telegate_scrape_targets_invalid",
                          "Entries of `targets` skipped because their labels are invalid.",
                          {"component_id"})
                    .with({id_});
    duration_ =
        &reg.histogram("telegate_scrape_duration_seconds",
                       "Duration of scrapes (HTTP request and processing).", {"component_id"}, {})
             .with({id_});
  }

  ~Scraper() { stop(); }

  absl::Status configure(const Arguments& args) {
    auto cfg = std::make_shared<Config>();
    for (const auto& r : args.forward_to) {
      if (r.ptr) cfg->receivers.push_back(r.ptr);
    }
    cfg->popts.honor_labels = args.honor_labels;
    cfg->popts.honor_timestamps = args.honor_timestamps;
    cfg->popts.track_timestamps_staleness = args.track_timestamps_staleness;
    cfg->popts.sample_limit = args.sample_limit;
    cfg->popts.label_limit = args.label_limit;
    cfg->popts.label_name_length_limit = args.label_name_length_limit;
    cfg->popts.label_value_length_limit = args.label_value_length_limit;
    cfg->extra_metrics = args.extra_metrics;
    cfg->body_size_limit = static_cast<int64_t>(args.body_size_limit.bytes);
    if (args.body_size_limit.bytes > 0) cfg->body_limit = args.body_size_limit.bytes;
    cfg->fallback = startsWith(args.scrape_fallback_protocol, "OpenMetrics")
                        ? ExpositionFormat::kOpenMetrics
                        : ExpositionFormat::kText004;
    net::HttpClientOptions copts = components::clientOptions(args);
    copts.http2 = args.enable_http2 && args.scheme == "https";
    copts.max_response_body = cfg->body_limit + 1;
    cfg->client = std::make_shared<net::HttpClient>(copts);
    cfg->headers.emplace_back("Accept", acceptHeader(args.scrape_protocols));
    cfg->headers.emplace_back("Accept-Encoding", args.enable_compression ? "gzip" : "identity");
    absl::Status result;
    auto auth = components::authorizationHeader(args);
    if (!auth.ok()) {
      result = auth.status();
    } else if (!auth->empty()) {
      cfg->headers.emplace_back("Authorization", std::move(*auth));
    }

    std::map<uint64_t, ScrapeTarget> next;
    size_t invalid = 0;
    for (const auto& raw : args.targets) {
      auto t = populateTarget(raw, args, id_);
      if (!t.ok()) {
        ++invalid;
        if (invalid_log_.shouldLog()) {
          auto a = raw.find("__address__");
          logger_.warn("skipping an invalid target",
                       {{"target", a == raw.end() ? std::string() : a->second},
                        {"err", std::string(t.status().message())}});
        }
        continue;
      }
      uint64_t h = t->hash;
      next.emplace(h, std::move(*t));
    }
    invalid_->set(static_cast<double>(invalid));
    if (args.target_limit > 0 && static_cast<int64_t>(next.size()) > args.target_limit) {
      cfg->target_limit_error = strCat("target_limit exceeded (number of targets: ", next.size(),
                                       ", limit: ", args.target_limit, ")");
    }

    std::lock_guard<std::mutex> l(mu_);
    cfg_ = cfg;
    for (auto it = targets_.begin(); it != targets_.end();) {
      auto& st = it->second;
      if (next.contains(it->first) || st->phase == TargetState::Phase::kRetiring) {
        ++it;
        continue;
      }
      if (!st->scraped_once && !st->running) {  // nothing to mark stale
        st->gen++;
        it = targets_.erase(it);
        continue;
      }
      st->phase = TargetState::Phase::kRetiring;
      if (!st->running) scheduleRetirement(*st, st);
      ++it;
    }
    for (auto& [h, t] : next) {
      auto it = targets_.find(h);
      if (it == targets_.end()) {
        auto st = std::make_shared<TargetState>();
        st->target = std::make_shared<const ScrapeTarget>(std::move(t));
        targets_.emplace(h, st);
        scheduleScrape(st);
        continue;
      }
      auto& st = it->second;
      bool reschedule =
          st->target->interval != t.interval || st->phase == TargetState::Phase::kRetiring;
      st->target = std::make_shared<const ScrapeTarget>(std::move(t));
      st->phase = TargetState::Phase::kActive;
      if (reschedule && !st->running) scheduleScrape(st);
    }
    updateActiveLocked();
    ensureWorkersLocked();
    cv_.notify_all();
    return result;
  }

  void start() {
    std::lock_guard<std::mutex> l(mu_);
    started_ = true;
    ensureWorkersLocked();
  }

  void stop() {
    std::vector<std::thread> workers;
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
      workers.swap(workers_);
      cv_.notify_all();
    }
    for (auto& w : workers) w.join();
  }

  syntax::Value debugInfo() const {
    syntax::Array arr;
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [h, st] : targets_) {
      syntax::Object labels;
      for (const auto& [k, v] : st->target->public_labels) labels[k] = syntax::Value::string(v);
      std::string health = st->last_scrape_ms == 0 ? "unknown" : st->up ? "up" : "down";
      arr.push_back(syntax::Value::object(
          {{"url", syntax::Value::string(st->target->url)},
           {"labels", syntax::Value::object(std::move(labels))},
           {"health", syntax::Value::string(st->phase == TargetState::Phase::kRetiring ? "retiring"
                                                                                       : health)},
           {"last_error", syntax::Value::string(st->last_error)},
           {"last_scrape_unix_ms", syntax::Value::integer(st->last_scrape_ms)},
           {"last_scrape_duration_seconds", syntax::Value::floating(st->last_duration)}}));
    }
    return syntax::Value::object({{"targets", syntax::Value::array(std::move(arr))}});
  }

 private:
  // The next slot of `st` after now: Unix time congruent to the target's offset.
  void scheduleScrape(const std::shared_ptr<TargetState>& st) {
    const nanoseconds iv = st->target->interval;
    const nanoseconds off = scrapeOffset(st->target->hash, iv);
    const int64_t now_unix =
        std::chrono::duration_cast<nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    const auto now = Clock::now();
    int64_t next = now_unix - (now_unix % iv.count()) + off.count();
    while (next <= now_unix) next += iv.count();
    st->next_due = now + nanoseconds(next - now_unix);
    st->next_due_ms = next / 1000000;
    st->gen++;
    heap_.push({st->next_due, st->gen, st});
  }

  // End-of-run staleness: markers stamped with the next slot, written ~1.1 intervals after it.
  void scheduleRetirement(TargetState& st, const std::shared_ptr<TargetState>& ptr) {
    const nanoseconds iv = st.target->interval;
    st.stale_ms = st.next_due_ms;
    st.gen++;
    heap_.push({st.next_due + iv + iv / 10, st.gen, ptr});
  }

  // Counts active targets and the workers they need: enough that every target could time out
  // on every scrape and still be scraped on schedule (sum of timeout/interval), at least
  // kMinWorkers (or one per target when fewer), at most kMaxWorkers.
  void updateActiveLocked() {
    size_t n = 0;
    double busy = 0;
    for (const auto& [h, st] : targets_) {
      if (st->phase != TargetState::Phase::kActive) continue;
      ++n;
      busy += std::chrono::duration<double>(st->target->timeout).count() /
              std::chrono::duration<double>(st->target->interval).count();
    }
    active_->set(static_cast<double>(n));
    want_workers_ = std::min(
        kMaxWorkers, std::max(std::min(n, kMinWorkers), static_cast<size_t>(std::ceil(busy)) + 1));
  }

  // Workers are added when needed and kept until stop() (idle ones only wait on cv_).
  void ensureWorkersLocked() {
    if (!started_ || stopping_) return;
    size_t want = std::max<size_t>(1, want_workers_);
    while (workers_.size() < want) workers_.emplace_back([this] { workerLoop(); });
  }

  void workerLoop() {
    std::unique_lock<std::mutex> l(mu_);
    while (!stopping_) {
      if (heap_.empty()) {
        cv_.wait(l);
        continue;
      }
      HeapEntry top = heap_.top();
      if (top.gen != top.st->gen || top.st->running) {
        heap_.pop();
        continue;
      }
      if (top.due > Clock::now()) {
        cv_.wait_until(l, top.due);
        continue;
      }
      heap_.pop();
      auto st = top.st;
      st->running = true;
      auto cfg = cfg_;
      auto target = st->target;
      const bool retiring = st->phase == TargetState::Phase::kRetiring;
      const int64_t stale_ms = st->stale_ms;
      l.unlock();
      if (retiring) {
        std::vector<ScrapedSample> out;
        endOfRunStaleness(*target, cfg->extra_metrics, stale_ms, &st->series, &out);
        deliver(*cfg, std::move(out));
      } else {
        scrapeOnce(*st, *target, *cfg);
      }
      l.lock();
      st->running = false;
      if (retiring && st->phase == TargetState::Phase::kRetiring) {
        auto it = targets_.find(target->hash);
        if (it != targets_.end() && it->second == st) targets_.erase(it);
        st->gen++;
      } else if (st->phase == TargetState::Phase::kActive) {
        scheduleScrape(st);
      } else {  // removed while it was being scraped
        st->next_due_ms = 0;
        scheduleScrape(st);  // computes the slot the next scrape would have had
        scheduleRetirement(*st, st);
      }
      updateActiveLocked();
      cv_.notify_all();
    }
  }

  void scrapeOnce(TargetState& st, const ScrapeTarget& t, const Config& cfg) {
    const auto wall = std::chrono::system_clock::now();
    const int64_t scrape_ms = unixMillis(wall);
    const auto t0 = Clock::now();
    std::string err, reason;
    Exposition exp;
    bool ok = false;
    size_t body_bytes = 0;
    if (!cfg.target_limit_error.empty()) {
      err = cfg.target_limit_error;
      reason = "target_limit";
    } else {
      net::HttpClientRequest req;
      req.method = "GET";
      req.url = t.url;
      req.headers = cfg.headers;
      req.headers.emplace_back(
          "X-Prometheus-Scrape-Timeout-Seconds",
          metrics::formatValue(std::chrono::duration<double>(t.timeout).count()));
      req.timeout = std::max(std::chrono::milliseconds(1),
                             std::chrono::duration_cast<std::chrono::milliseconds>(t.timeout));
      auto resp = cfg.client->send(req);
      if (!resp.ok()) {
        err = std::string(resp.status().message());
        reason = "transport";
      } else if (resp->status < 200 || resp->status > 299) {
        err = strCat("server returned HTTP status ", resp->status);
        reason = "http_status";
      } else if (resp->body.size() > cfg.body_limit) {
        err = strCat("body size limit exceeded (limit: ", cfg.body_limit, " bytes)");
        reason = "body_size";
      } else {
        std::string_view enc = resp->header("content-encoding");
        std::string decoded;
        std::string_view body = resp->body;
        if (enc == "gzip") {
          auto d = decompress("gzip", resp->body, cfg.body_limit);
          if (!d.ok()) {
            err = isDecompressLimitError(d.status())
                      ? strCat("body size limit exceeded (limit: ", cfg.body_limit, " bytes)")
                      : std::string(d.status().message());
            reason = isDecompressLimitError(d.status()) ? "body_size" : "parse";
          } else {
            decoded = std::move(*d);
            body = decoded;
          }
        }
        if (err.empty()) {
          body_bytes = body.size();
          std::string_view ct = resp->header("content-type");
          ExpositionFormat fmt = cfg.fallback;
          if (ct.find("application/openmetrics-text") != std::string_view::npos) {
            fmt = ExpositionFormat::kOpenMetrics;
          } else if (startsWith(ct, "text/plain")) {
            fmt = ExpositionFormat::kText004;
          }
          absl::Status ps = parseExposition(body, fmt, &exp);
          if (!ps.ok()) {
            err = std::string(ps.message());
            reason = "parse";
          } else {
            ok = true;
          }
        }
      }
    }
    std::vector<ScrapedSample> out;
    ProcessResult r = processScrape(ok ? &exp : nullptr, t, cfg.popts, scrape_ms, &st.series, &out);
    if (ok && !r.error.ok()) {
      ok = false;
      err = std::string(r.error.message());
      reason = r.failure_reason;
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const double report[] = {ok ? 1.0 : 0.0,
                             secs,
                             static_cast<double>(r.scraped),
                             static_cast<double>(r.post_relabel),
                             static_cast<double>(r.series_added),
                             std::chrono::duration<double>(t.timeout).count(),
                             static_cast<double>(cfg.popts.sample_limit),
                             static_cast<double>(ok ? body_bytes : 0)};
    const size_t nreport = cfg.extra_metrics ? std::size(kReportNames) : 5;
    for (size_t i = 0; i < nreport; ++i) {
      out.push_back({reportKey(t, kReportNames[i]), scrape_ms, report[i]});
    }
    st.series.reported = true;

    scrapes_->inc();
    samples_->inc(static_cast<double>(r.scraped));
    if (r.duplicates > 0) duplicates_->inc(static_cast<double>(r.duplicates));
    duration_->observe(secs);
    if (!ok) {
      if (auto it = failed_.find(reason); it != failed_.end()) it->second->inc();
      if (scrape_fail_log_.shouldLog()) {
        logger_.warn("scrape failed", {{"target", t.url}, {"err", err}});
      }
    }
    deliver(cfg, std::move(out));
    std::lock_guard<std::mutex> l(mu_);
    st.scraped_once = true;
    st.up = ok;
    st.last_error = err;
    st.last_scrape_ms = scrape_ms;
    st.last_duration = secs;
  }

  void deliver(const Config& cfg, std::vector<ScrapedSample>&& out) {
    if (out.empty() || cfg.receivers.empty()) return;
    const size_t n = out.size();
    AppendBatch batch = toAppendBatch(out);
    out.clear();
    for (size_t i = 0; i < cfg.receivers.size(); ++i) {
      absl::Status st;
      if (i + 1 == cfg.receivers.size()) {
        st = appendTo(*cfg.receivers[i], std::move(batch));
      } else {
        AppendBatch copy = batch;
        st = appendTo(*cfg.receivers[i], std::move(copy));
      }
      if (!st.ok()) {
        refused_->inc(static_cast<double>(n));
        if (refused_log_.shouldLog()) {
          logger_.warn("a forward_to receiver refused scraped samples; they are dropped",
                       {{"receiver", cfg.receivers[i]->describe()},
                        {"samples", std::to_string(n)},
                        {"err", std::string(st.message())}});
        }
      }
    }
  }

  const std::string id_;
  const log::Logger logger_;
  metrics::Counter* scrapes_;
  std::map<std::string, metrics::Counter*> failed_;
  metrics::Counter* samples_;
  metrics::Counter* refused_;
  metrics::Counter* duplicates_;
  metrics::Gauge* active_;
  metrics::Gauge* invalid_;
  metrics::Histogram* duration_;
  log::OnceEvery refused_log_{std::chrono::seconds(60)};
  log::OnceEvery scrape_fail_log_{std::chrono::seconds(60)};
  log::OnceEvery invalid_log_{std::chrono::seconds(60)};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const Config> cfg_;
  std::map<uint64_t, std::shared_ptr<TargetState>> targets_;
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<HeapEntry>> heap_;
  std::vector<std::thread> workers_;
  size_t want_workers_ = 1;
  bool started_ = false;
  bool stopping_ = false;
};

Component::Component(runtime::Host& host, const Arguments& args)
    : host_(host), scraper_(std::make_shared<Scraper>(host.id(), host.metrics(), host.logger())) {
  absl::Status st = scraper_->configure(args);
  if (!st.ok()) {
    host_.logger().error("cannot configure the scrape client",
                         {{"err", std::string(st.message())}});
  }
}

Component::~Component() {
  scraper_->stop();
}

absl::Status Component::start() {
  scraper_->start();
  host_.setHealth(runtime::HealthState::kHealthy, "");
  return absl::OkStatus();
}

absl::Status Component::update(const Arguments& args) {
  absl::Status st = scraper_->configure(args);
  if (!st.ok()) return st;
  return absl::OkStatus();
}

void Component::shutdown(std::chrono::steady_clock::time_point) {
  scraper_->stop();
}

syntax::Value Component::debugInfo() const {
  return scraper_->debugInfo();
}

}  // namespace telegate::prometheus::scrape

namespace telegate::components {
void registerPrometheusScrape() {
  runtime::registerComponent<prometheus::scrape::Component>(
      "prometheus.scrape", "Scrapes Prometheus metrics from targets.", {});
}
}  // namespace telegate::components
