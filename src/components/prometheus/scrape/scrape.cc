// prometheus.scrape (see scrape.h for the contract).
#include "src/components/prometheus/scrape/scrape.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "src/common/metrics.h"
#include "src/components/all.h"
#include "src/runtime/registry.h"

namespace telegate::prometheus::scrape {

namespace {

using std::chrono::nanoseconds;

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
  s.attr("body_size_limit", &Arguments::body_size_limit)
      .doc(
          "0: 128MiB. Checked while the body is read and decompressed; over it the scrape fails "
          "(reason body_size)");
  s.attr("sample_limit", &Arguments::sample_limit)
      .doc(
          "0: no limit. Checked at each sample while parsing; over it the scrape fails "
          "(reason sample_limit)");
  s.attr("target_limit", &Arguments::target_limit);
  s.attr("label_limit", &Arguments::label_limit)
      .doc("0: no limit. Over it the scrape fails (reason label_limit)");
  s.attr("label_name_length_limit", &Arguments::label_name_length_limit)
      .doc("0: no limit. Over it the scrape fails (reason label_limit)");
  s.attr("label_value_length_limit", &Arguments::label_value_length_limit)
      .doc("0: no limit. Over it the scrape fails (reason label_limit)");
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

}  // namespace telegate::prometheus::scrape

namespace telegate::components {
void registerPrometheusScrape() {
  runtime::registerComponent<prometheus::scrape::Component>(
      "prometheus.scrape", "Scrapes Prometheus metrics from targets.", {});
}
}  // namespace telegate::components
