#include "src/common/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace telegate::metrics {

namespace {

[[noreturn]] void fatal(const std::string& msg) {
  std::fprintf(stderr, "telegate metrics: %s\n", msg.c_str());
  std::fflush(stderr);
  std::abort();
}

const char* typeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kUntyped:
      return "untyped";
  }
  return "untyped";
}

void appendEscapedLabelValue(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '"':
        out.append("\\\"");
        break;
      case '\n':
        out.append("\\n");
        break;
      default:
        out.push_back(c);
    }
  }
}

void appendEscapedHelp(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      default:
        out.push_back(c);
    }
  }
}

// Appends `name{k="v",...,extra_key="extra_value"} value\n`.
void appendSample(std::string& out, std::string_view name, const std::vector<std::string>& keys,
                  const std::vector<std::string>& values, std::string_view extra_key,
                  std::string_view extra_value, double v) {
  out.append(name);
  if (!keys.empty() || !extra_key.empty()) {
    out.push_back('{');
    bool first = true;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!first) out.push_back(',');
      first = false;
      out.append(keys[i]);
      out.append("=\"");
      appendEscapedLabelValue(out, values[i]);
      out.push_back('"');
    }
    if (!extra_key.empty()) {
      if (!first) out.push_back(',');
      out.append(extra_key);
      out.append("=\"");
      appendEscapedLabelValue(out, extra_value);
      out.push_back('"');
    }
    out.push_back('}');
  }
  out.push_back(' ');
  out.append(formatValue(v));
  out.push_back('\n');
}

}  // namespace

namespace internal {

// Accumulates rendered samples grouped by metric name (sorted).
class Exposition {
 public:
  struct Group {
    std::string help;
    MetricType type;
    std::string samples;
  };
  Group& group(const std::string& name, std::string_view help, MetricType type) {
    auto it = groups_.find(name);
    if (it == groups_.end()) {
      it = groups_.emplace(name, Group{std::string(help), type, {}}).first;
    }
    return it->second;
  }
  std::string render() const {
    std::string out;
    for (const auto& [name, g] : groups_) {
      if (g.samples.empty()) continue;
      out.append("# HELP ").append(name).push_back(' ');
      appendEscapedHelp(out, g.help);
      out.append("\n# TYPE ").append(name).push_back(' ');
      out.append(typeName(g.type));
      out.push_back('\n');
      out.append(g.samples);
    }
    return out;
  }

 private:
  std::map<std::string, Group> groups_;
};

}  // namespace internal

std::string formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

bool isValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool isValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  if (name.size() >= 2 && name[0] == '_' && name[1] == '_') return false;  // reserved
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Histogram

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  size_t idx;
  if (std::isnan(v)) {
    idx = bounds_.size();
  } else {
    idx =
        static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  }
  counts_[idx].fetch_add(1, std::memory_order_relaxed);
  sum_.add(v);
}

std::vector<uint64_t> Histogram::cumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += counts_[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  return out;
}

uint64_t Histogram::count() const {
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) acc += counts_[i].load(std::memory_order_relaxed);
  return acc;
}

std::vector<double> defaultBuckets() {
  return {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
}

std::vector<double> exponentialBuckets(double start, double factor, int count) {
  if (count < 1 || start <= 0 || factor <= 1) fatal("exponentialBuckets: invalid arguments");
  std::vector<double> out;
  out.reserve(static_cast<size_t>(count));
  double v = start;
  for (int i = 0; i < count; ++i) {
    out.push_back(v);
    v *= factor;
  }
  return out;
}

std::vector<double> linearBuckets(double start, double width, int count) {
  if (count < 1 || width <= 0) fatal("linearBuckets: invalid arguments");
  std::vector<double> out;
  out.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) out.push_back(start + width * i);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Families

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type,
                       std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)) {}

void FamilyBase::checkArity(const std::vector<std::string>& label_values) const {
  if (label_values.size() != label_names_.size()) {
    fatal(absl::StrCat("metric ", name_, ": got ", label_values.size(), " label values, want ",
                       label_names_.size()));
  }
}

template <class M>
void Family<M>::collect(internal::Exposition& out) const {
  auto& g = out.group(name(), help(), type());
  std::lock_guard<std::mutex> lock(mu_);
  if constexpr (std::is_same_v<M, Histogram>) {
    const std::string bucket = name() + "_bucket";
    const std::string sum = name() + "_sum";
    const std::string count = name() + "_count";
    for (const auto& [values, h] : children_) {
      std::vector<uint64_t> cum = h->cumulativeCounts();
      const auto& bounds = h->bounds();
      for (size_t i = 0; i < bounds.size(); ++i) {
        appendSample(g.samples, bucket, labelNames(), values, "le", formatValue(bounds[i]),
                     static_cast<double>(cum[i]));
      }
      appendSample(g.samples, bucket, labelNames(), values, "le", "+Inf",
                   static_cast<double>(cum.back()));
      appendSample(g.samples, sum, labelNames(), values, {}, {}, h->sum());
      appendSample(g.samples, count, labelNames(), values, {}, {}, static_cast<double>(cum.back()));
    }
  } else {
    for (const auto& [values, m] : children_) {
      appendSample(g.samples, name(), labelNames(), values, {}, {}, m->value());
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---------------------------------------------------------------------------------------------
// Writer

void Writer::write(MetricType type, std::string_view name, std::string_view help,
                   const Labels& labels, double v) {
  if (!isValidMetricName(name)) fatal("invalid metric name \"" + std::string(name) + "\"");
  std::vector<std::string> keys;
  std::vector<std::string> values;
  keys.reserve(labels.size());
  values.reserve(labels.size());
  for (const auto& [k, val] : labels) {
    if (!isValidLabelName(k)) {
      fatal("metric " + std::string(name) + ": invalid label name \"" + k + "\"");
    }
    keys.push_back(k);
    values.push_back(val);
  }
  auto& g = out_->group(std::string(name), help, type);
  appendSample(g.samples, name, keys, values, {}, {}, v);
}

void Writer::counter(std::string_view name, std::string_view help, const Labels& labels, double v) {
  write(MetricType::kCounter, name, help, labels, v);
}
void Writer::gauge(std::string_view name, std::string_view help, const Labels& labels, double v) {
  write(MetricType::kGauge, name, help, labels, v);
}
void Writer::untyped(std::string_view name, std::string_view help, const Labels& labels, double v) {
  write(MetricType::kUntyped, name, help, labels, v);
}

// ---------------------------------------------------------------------------------------------
// Registry

Registry::~Registry() = default;

namespace {
void validateNames(const std::string& name, const std::vector<std::string>& label_names,
                   bool histogram) {
  if (!isValidMetricName(name)) fatal(absl::StrCat("invalid metric name \"", name, "\""));
  for (size_t i = 0; i < label_names.size(); ++i) {
    const auto& l = label_names[i];
    if (!isValidLabelName(l)) {
      fatal(absl::StrCat("metric ", name, ": invalid label name \"", l, "\""));
    }
    if (histogram && l == "le") fatal(absl::StrCat("metric ", name, ": label \"le\" is reserved"));
    for (size_t j = 0; j < i; ++j) {
      if (label_names[j] == l) {
        fatal(absl::StrCat("metric ", name, ": duplicate label name \"", l, "\""));
      }
    }
  }
}
}  // namespace

FamilyBase* Registry::findOrNull(const std::string& name, MetricType type,
                                 const std::vector<std::string>& label_names) const {
  auto it = families_.find(name);
  if (it == families_.end()) return nullptr;
  FamilyBase* f = it->second.get();
  if (f->type() != type || f->labelNames() != label_names) {
    fatal(absl::StrCat("metric ", name, " registered twice with a different type or labels (",
                       typeName(f->type()), "{", absl::StrJoin(f->labelNames(), ","), "} vs ",
                       typeName(type), "{", absl::StrJoin(label_names, ","), "})"));
  }
  return f;
}

Family<Counter>& Registry::counter(std::string name, std::string help,
                                   std::vector<std::string> label_names) {
  validateNames(name, label_names, false);
  std::lock_guard<std::mutex> lock(mu_);
  if (FamilyBase* f = findOrNull(name, MetricType::kCounter, label_names)) {
    return static_cast<Family<Counter>&>(*f);
  }
  auto fam = std::make_unique<Family<Counter>>(name, std::move(help), MetricType::kCounter,
                                               std::move(label_names),
                                               [] { return std::make_unique<Counter>(); });
  auto& ref = *fam;
  families_.emplace(std::move(name), std::move(fam));
  return ref;
}

Family<Gauge>& Registry::gauge(std::string name, std::string help,
                               std::vector<std::string> label_names) {
  validateNames(name, label_names, false);
  std::lock_guard<std::mutex> lock(mu_);
  if (FamilyBase* f = findOrNull(name, MetricType::kGauge, label_names)) {
    return static_cast<Family<Gauge>&>(*f);
  }
  auto fam = std::make_unique<Family<Gauge>>(name, std::move(help), MetricType::kGauge,
                                             std::move(label_names),
                                             [] { return std::make_unique<Gauge>(); });
  auto& ref = *fam;
  families_.emplace(std::move(name), std::move(fam));
  return ref;
}

Family<Histogram>& Registry::histogram(std::string name, std::string help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> buckets) {
  validateNames(name, label_names, true);
  if (buckets.empty()) buckets = defaultBuckets();
  // A trailing +Inf bound is implicit; drop it if given explicitly.
  if (std::isinf(buckets.back()) && buckets.back() > 0) buckets.pop_back();
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (std::isnan(buckets[i]) || (i > 0 && !(buckets[i - 1] < buckets[i]))) {
      fatal(absl::StrCat("metric ", name, ": histogram buckets must be strictly increasing"));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (FamilyBase* f = findOrNull(name, MetricType::kHistogram, label_names)) {
    auto& fam = static_cast<Family<Histogram>&>(*f);
    if (fam.buckets() != buckets) {
      fatal(absl::StrCat("metric ", name, " registered twice with different buckets"));
    }
    return fam;
  }
  auto fam = std::make_unique<Family<Histogram>>(
      name, std::move(help), MetricType::kHistogram, std::move(label_names),
      [buckets] { return std::make_unique<Histogram>(buckets); });
  fam->buckets_ = std::move(buckets);
  auto& ref = *fam;
  families_.emplace(std::move(name), std::move(fam));
  return ref;
}

uint64_t Registry::addCollector(CollectFn fn) {
  std::lock_guard<std::mutex> lock(collectors_mu_);
  uint64_t id = next_id_++;
  collectors_.emplace(id, std::move(fn));
  return id;
}

void Registry::removeCollector(uint64_t id) {
  CollectFn doomed;
  std::lock_guard<std::mutex> lock(collectors_mu_);
  auto it = collectors_.find(id);
  if (it == collectors_.end()) return;
  doomed = std::move(it->second);
  collectors_.erase(it);
}

std::string Registry::exposition() const {
  internal::Exposition out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, fam] : families_) fam->collect(out);
  }
  {
    std::lock_guard<std::mutex> lock(collectors_mu_);
    Writer w(&out);
    for (const auto& [id, fn] : collectors_) fn(w);
  }
  return out.render();
}

Registry& defaultRegistry() {
  static Registry* r = new Registry();
  return *r;
}

// ---------------------------------------------------------------------------------------------
// Process metrics

namespace {

bool readFile(const char* path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::vector<std::string_view> splitSpaces(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\n') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

double parseUint(std::string_view s) {
  uint64_t v = 0;
  auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  if (res.ec != std::errc()) return 0;
  return static_cast<double>(v);
}

// Fields of /proc/self/stat after the "(comm)" field; index 0 is field 3 ("state").
struct ProcStat {
  std::string text;
  std::vector<std::string_view> fields;
  // `field_number` as numbered in proc(5).
  double field(int field_number) const {
    return parseUint(fields[static_cast<size_t>(field_number - 3)]);
  }
};

bool readProcStat(ProcStat& st) {
  if (!readFile("/proc/self/stat", st.text)) return false;
  size_t close = st.text.rfind(')');
  if (close == std::string::npos) return false;
  st.fields = splitSpaces(std::string_view(st.text).substr(close + 1));
  return st.fields.size() >= 22;
}

double bootTimeSeconds() {
  std::string s;
  if (!readFile("/proc/stat", s)) return 0;
  size_t pos = s.find("\nbtime ");
  if (pos == std::string::npos) return 0;
  size_t start = pos + 7;
  size_t end = s.find('\n', start);
  return parseUint(std::string_view(s).substr(start, end == std::string::npos ? end : end - start));
}

double countOpenFds() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  double n = 0;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    ++n;
  }
  closedir(d);
  return n - 1;  // not counting the descriptor of the directory being read
}

}  // namespace

uint64_t registerProcessMetrics(Registry& r) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  double start_time = -1;
  {
    ProcStat st;
    double boot = bootTimeSeconds();
    if (readProcStat(st) && boot > 0 && ticks > 0) start_time = boot + st.field(22) / ticks;
  }
  return r.addCollector([ticks, page, start_time](Writer& w) {
    ProcStat st;
    if (readProcStat(st)) {
      if (ticks > 0) {
        w.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                  {}, (st.field(14) + st.field(15)) / ticks);
      }
      w.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", {}, st.field(23));
      w.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", {},
              st.field(24) * page);
    }
    double fds = countOpenFds();
    if (fds >= 0) w.gauge("process_open_fds", "Number of open file descriptors.", {}, fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
      double max = rl.rlim_cur == RLIM_INFINITY ? INFINITY : static_cast<double>(rl.rlim_cur);
      w.gauge("process_max_fds", "Maximum number of open file descriptors.", {}, max);
    }
    if (start_time >= 0) {
      w.gauge("process_start_time_seconds",
              "Start time of the process since unix epoch in seconds.", {}, start_time);
    }
  });
}

}  // namespace telegate::metrics
