// Prometheus metrics: counters, gauges and histograms grouped into labelled families, a registry
// that renders the text exposition format 0.0.4, and scrape-time collectors.
//
// Contract:
//  * Hot path: Counter::inc, Gauge::set/add and Histogram::observe are lock-free (atomic
//    compare-exchange on the bit pattern of a double; histogram buckets are atomic integers).
//  * Label lookup (Family::with) takes a mutex; callers look a child up once and cache the
//    returned reference. The reference stays valid for the lifetime of the family (= of the
//    registry that owns it) unless the same label values are passed to Family::remove, which
//    destroys the child: callers must stop using a reference before removing it.
//  * Registering the same name twice returns the same family when the type, label names (and
//    for histograms the buckets) agree; any mismatch, an invalid metric/label name, or a wrong
//    number of label values is a programming error and aborts the process with a message.
//  * exposition(): families and collector output sorted by metric name, one `# HELP` and
//    `# TYPE` line per name, samples of a family sorted by label values, label values escaped
//    (\\, \", \n), HELP escaped (\\, \n), histograms with cumulative `_bucket{le=...}` including
//    `le="+Inf"`, `_sum` and `_count`; NaN and infinities rendered as NaN, +Inf, -Inf. Families
//    that currently have no children are omitted. Collector samples with the same name are grouped
//    under one header (the first writer's help/type wins); a collector sample whose name equals a
//    registered family's name is appended to that family.
//  * A histogram's `_count` equals its `+Inf` bucket in every scrape; `_sum` is read separately
//    and may lag by in-flight observations.
//
// Thread-safety: all methods of all classes may be called concurrently, including with()/remove()/
// exposition() concurrently with inc()/observe(). Collector functions run while the registry
// holds its collector lock, serialised with each other and with add/removeCollector; so once
// removeCollector() returns the function is not running and will not run again. Collectors must
// not call addCollector/removeCollector/exposition themselves.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace telegate::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

namespace internal {
// A double stored as its bit pattern so that add() can be a CAS loop.
class AtomicDouble {
 public:
  explicit AtomicDouble(double v = 0.0) : bits_(std::bit_cast<uint64_t>(v)) {}
  double load() const { return std::bit_cast<double>(bits_.load(std::memory_order_relaxed)); }
  void store(double v) { bits_.store(std::bit_cast<uint64_t>(v), std::memory_order_relaxed); }
  void add(double v) {
    uint64_t cur = bits_.load(std::memory_order_relaxed);
    while (!bits_.compare_exchange_weak(
        cur, std::bit_cast<uint64_t>(std::bit_cast<double>(cur) + v), std::memory_order_relaxed)) {
    }
  }

 private:
  std::atomic<uint64_t> bits_;
};

struct Sample;  // defined in metrics.cc
class Exposition;
}  // namespace internal

enum class MetricType { kCounter, kGauge, kHistogram, kUntyped };

class Counter {
 public:
  // Negative increments are ignored (counters are monotonic).
  void inc(double v = 1.0) {
    if (v > 0) value_.add(v);
  }
  double value() const { return value_.load(); }

 private:
  internal::AtomicDouble value_;
};

class Gauge {
 public:
  void set(double v) { value_.store(v); }
  void add(double v) { value_.add(v); }
  void sub(double v) { value_.add(-v); }
  double value() const { return value_.load(); }

 private:
  internal::AtomicDouble value_;
};

class Histogram {
 public:
  // `bounds` are the upper bounds (inclusive) of the finite buckets, strictly increasing; the
  // +Inf bucket is implicit. Validated by Registry::histogram.
  explicit Histogram(std::vector<double> bounds);

  void observe(double v);

  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts, one per bound plus the final +Inf bucket.
  std::vector<uint64_t> cumulativeCounts() const;
  uint64_t count() const;
  double sum() const { return sum_.load(); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // non-cumulative, bounds_.size() + 1
  internal::AtomicDouble sum_;
};

// Common bucket layouts.
std::vector<double> defaultBuckets();  // .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10
std::vector<double> exponentialBuckets(double start, double factor, int count);
std::vector<double> linearBuckets(double start, double width, int count);

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type,
             std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& labelNames() const { return label_names_; }
  // Finite bucket bounds (histogram families only; empty otherwise).
  const std::vector<double>& buckets() const { return buckets_; }

  // Appends this family's samples to `out` (used by Registry::exposition).
  virtual void collect(internal::Exposition& out) const = 0;

 protected:
  void checkArity(const std::vector<std::string>& label_values) const;

 private:
  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
  std::vector<double> buckets_;
  friend class Registry;
};

// One metric name with a fixed list of label names.
template <class M>
class Family final : public FamilyBase {
 public:
  using Factory = std::function<std::unique_ptr<M>()>;
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         Factory factory)
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
        factory_(std::move(factory)) {}

  // Returns the child for these label values (same count and order as the label names), creating
  // it on first use. Stable reference until remove() with the same values.
  M& with(const std::vector<std::string>& label_values) {
    checkArity(label_values);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = children_.find(label_values);
    if (it == children_.end()) it = children_.emplace(label_values, factory_()).first;
    return *it->second;
  }
  // Shorthand for a family without labels.
  M& get() { return with({}); }

  // Destroys the child (no-op if absent). References to it become dangling.
  void remove(const std::vector<std::string>& label_values) {
    std::unique_ptr<M> doomed;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = children_.find(label_values);
    if (it == children_.end()) return;
    doomed = std::move(it->second);
    children_.erase(it);
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return children_.size();
  }

  void collect(internal::Exposition& out) const override;

 private:
  Factory factory_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> children_;
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// Sink for collector samples. Only valid during the collector call.
class Writer {
 public:
  void counter(std::string_view name, std::string_view help, const Labels& labels, double v);
  void gauge(std::string_view name, std::string_view help, const Labels& labels, double v);
  void untyped(std::string_view name, std::string_view help, const Labels& labels, double v);

 private:
  friend class Registry;
  explicit Writer(internal::Exposition* out) : out_(out) {}
  void write(MetricType type, std::string_view name, std::string_view help, const Labels& labels,
             double v);
  internal::Exposition* out_;
};

class Registry {
 public:
  Registry() = default;
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Family<Counter>& counter(std::string name, std::string help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(std::string name, std::string help,
                       std::vector<std::string> label_names = {});
  // Empty `buckets` means defaultBuckets().
  Family<Histogram>& histogram(std::string name, std::string help,
                               std::vector<std::string> label_names, std::vector<double> buckets);

  using CollectFn = std::function<void(Writer&)>;
  // Returns an id for removeCollector (ids start at 1 and are never reused).
  uint64_t addCollector(CollectFn fn);
  // Blocks while the collector is running in a concurrent exposition(). Unknown ids are ignored.
  void removeCollector(uint64_t id);

  // Prometheus text format 0.0.4 (Content-Type: text/plain; version=0.0.4; charset=utf-8).
  std::string exposition() const;

 private:
  FamilyBase* findOrNull(const std::string& name, MetricType type,
                         const std::vector<std::string>& label_names) const;

  mutable std::mutex mu_;  // guards families_
  std::map<std::string, std::unique_ptr<FamilyBase>> families_;

  mutable std::mutex collectors_mu_;  // guards collectors_ and next_id_; held while collecting
  std::map<uint64_t, CollectFn> collectors_;
  uint64_t next_id_ = 1;
};

inline constexpr std::string_view kExpositionContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// The process-wide registry (never destroyed).
Registry& defaultRegistry();

// Registers a collector for process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds and process_start_time_seconds,
// read from /proc at scrape time (Linux). Metrics whose source is unreadable are skipped.
// Returns the collector id.
uint64_t registerProcessMetrics(Registry& r);

// Formats a sample value like the Prometheus Go client: shortest round-trip representation,
// NaN, +Inf, -Inf.
std::string formatValue(double v);

// Validation helpers (exposed for tests and for other components that build names).
bool isValidMetricName(std::string_view name);
bool isValidLabelName(std::string_view name);

}  // namespace telegate::metrics
