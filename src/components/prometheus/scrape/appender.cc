// prometheus.scrape: the series of one scrape (ScrapeAppender, see scrape.h), label encoding and
// staleness markers.
#include <algorithm>
#include <bit>
#include <functional>

#include "src/common/strings.h"
#include "src/components/prometheus/scrape/scrape.h"
#include "src/pdata/wire.h"

namespace telegate::prometheus::scrape {

namespace {

using LabelView = std::pair<std::string_view, std::string_view>;

// Estimated heap bytes of one entry of a TrackedSet (node, bucket share, the key's allocation).
size_t setEntryBytes(const std::string& key) {
  return sizeof(TrackedKey) + 2 * sizeof(void*) + 16 + (key.size() > 15 ? key.size() + 16 : 0);
}

const std::string* findLabel(const SeriesLabels& labels, std::string_view name) {
  auto it = std::lower_bound(labels.begin(), labels.end(), name,
                             [](const auto& l, std::string_view n) { return l.first < n; });
  if (it == labels.end() || it->first != name) return nullptr;
  return &it->second;
}

void encodeInto(std::string* out, const std::vector<LabelView>& labels) {
  out->clear();
  for (const auto& [k, v] : labels) {
    pdata::wire::appendVarint(out, k.size());
    out->append(k);
    pdata::wire::appendVarint(out, v.size());
    out->append(v);
  }
}

// Series labels of a scraped sample: its labels merged with the target labels (Prometheus'
// mutateSampleLabels without relabel rules), as views into `s`, `target` and `renamed`.
void buildLabels(const SampleView& s, const SeriesLabels& target, bool honor,
                 std::vector<LabelView>* out, std::vector<std::string>* renamed) {
  const LabelView* first = s.labels;
  const LabelView* last = s.labels + s.label_count;
  out->clear();
  out->emplace_back("__name__", s.name);
  if (honor) {
    for (const LabelView* l = first; l != last; ++l) {
      if (l->first != "__name__") out->emplace_back(*l);
    }
    for (const auto& l : target) {
      bool has = std::binary_search(
          first, last, LabelView(l.first, l.second),
          [](const LabelView& a, const LabelView& b) { return a.first < b.first; });
      if (!has) out->emplace_back(l.first, l.second);
    }
  } else {
    size_t conflicts = 0;
    for (const LabelView* l = first; l != last; ++l) {
      if (l->first == "__name__" || l->second.empty()) continue;
      if (findLabel(target, l->first) != nullptr) {
        ++conflicts;
      } else {
        out->emplace_back(*l);
      }
    }
    for (const auto& l : target) out->emplace_back(l.first, l.second);
    if (conflicts > 0) {
      // Shortest names first, as Prometheus resolves them.
      std::vector<const LabelView*> c;
      for (const LabelView* l = first; l != last; ++l) {
        if (l->first != "__name__" && !l->second.empty() &&
            findLabel(target, l->first) != nullptr) {
          c.push_back(l);
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

// Adds one series with one sample, labels from an encoded key.
void addEncoded(std::string_view key, int64_t ts, double value, SeriesBatch* out) {
  out->beginSeries();
  forEachLabel(key, [&](std::string_view k, std::string_view v) { out->addLabel(k, v); });
  out->addSample(ts, value);
}

absl::Status budgetError(size_t held) {
  return absl::ResourceExhaustedError(
      strCat("memory budget exhausted: the scrape holds ", held,
             " bytes and may not take more (one scrape may hold ", kOneScrapePercent,
             "% of --memory.limit, all scrapes together ", kAllScrapesPercent, "%)"));
}

}  // namespace

double staleNaN() {
  return std::bit_cast<double>(kStaleNaNBits);
}
bool isStaleNaN(double v) {
  return std::bit_cast<uint64_t>(v) == kStaleNaNBits;
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

ScrapeAppender::ScrapeAppender(const ScrapeTarget& target, const ProcessOptions& opts,
                               int64_t scrape_ms, SeriesState* state, SeriesBatch* out,
                               ScrapeCharge* charge)
    : target_(target),
      opts_(opts),
      scrape_ms_(scrape_ms),
      state_(state),
      out_(out),
      charge_(charge),
      label_limits_(opts.label_limit > 0 || opts.label_name_length_limit > 0 ||
                    opts.label_value_length_limit > 0) {}

bool ScrapeAppender::charge(size_t bytes) {
  return charge_ == nullptr || charge_->add(bytes);
}

bool ScrapeAppender::onBufferGrow(size_t bytes) {
  if (charge(bytes)) return true;
  result_.failure_reason = "memory_budget";
  return false;
}

absl::Status ScrapeAppender::fail(absl::Status st, std::string_view reason) {
  result_.error = st;
  result_.failure_reason = std::string(reason);
  return st;
}

// Makes room in the batch for one more series with `labels` labels of `bytes` bytes, charging
// the growth of its buffers first (they grow by half, so this runs O(log n) times per scrape and
// at most a third of what they hold is slack).
bool ScrapeAppender::reserveBatch(size_t labels, size_t bytes) {
  const size_t ns = out_->seriesRefs().size() + 1;
  const size_t nl = out_->labelRefs().size() + labels;
  const size_t np = out_->pointList().size() + 1;
  const size_t nb = out_->bytes().size() + bytes;
  if (ns <= out_->seriesRefs().capacity() && nl <= out_->labelRefs().capacity() &&
      np <= out_->pointList().capacity() && nb <= out_->bytes().capacity()) {
    return true;
  }
  auto grow = [](size_t need, size_t cap) {
    return need <= cap ? cap : std::max({need, cap + cap / 2, size_t{16}});
  };
  const size_t cs = grow(ns, out_->seriesRefs().capacity());
  const size_t cl = grow(nl, out_->labelRefs().capacity());
  const size_t cp = grow(np, out_->pointList().capacity());
  const size_t cb = grow(nb, out_->bytes().capacity());
  const size_t after = cb + cl * sizeof(SeriesBatch::LabelRef) +
                       cs * sizeof(SeriesBatch::SeriesRef) + cp * sizeof(SeriesBatch::Point);
  const size_t before = out_->memoryBytes();
  if (after > before && !charge(after - before)) return false;
  out_->reserve(cs, cl, cp, cb);
  return true;
}

absl::Status ScrapeAppender::onSample(const SampleView& s) {
  ++result_.scraped;
  // The same series written again on the next line (a repeated line): a duplicate, without
  // building its labels again.
  if (!s.series_text.empty() && s.series_text == last_series_text_) {
    ++result_.duplicates;
    return absl::OkStatus();
  }
  // Scratch for this sample's labels and key, charged before it grows (a line may carry any
  // number of labels).
  const size_t max_labels = s.label_count + target_.public_labels.size() + 1;
  if (max_labels > lb_.capacity()) {
    if (!charge((max_labels - lb_.capacity()) * sizeof(LabelView))) {
      return fail(budgetError(charge_->held()), "memory_budget");
    }
    lb_.reserve(max_labels);
  }
  buildLabels(s, target_.public_labels, opts_.honor_labels, &lb_, &renamed_);
  if (label_limits_) {
    absl::Status st = checkLabelLimits(lb_, opts_);
    if (!st.ok()) return fail(st, "label_limit");
  }
  size_t label_bytes = 0;
  for (const auto& [k, v] : lb_) label_bytes += k.size() + v.size();
  const size_t key_bytes = label_bytes + 20 * lb_.size();  // + varints
  if (key_bytes > probe_.key.capacity()) {
    if (!charge(key_bytes - probe_.key.capacity())) {
      return fail(budgetError(charge_->held()), "memory_budget");
    }
    probe_.key.reserve(key_bytes);
  }
  encodeInto(&probe_.key, lb_);
  probe_.hash = std::hash<std::string_view>()(probe_.key);
  const bool explicit_ts = opts_.honor_timestamps && s.timestamp_ms.has_value();
  const bool track = !explicit_ts || opts_.track_timestamps_staleness;
  if (cur_.contains(probe_) || (!untracked_.empty() && untracked_.contains(probe_))) {
    ++result_.duplicates;
    rememberSeriesText(s.series_text);
    return absl::OkStatus();
  }
  ++result_.post_relabel;
  if (opts_.sample_limit > 0 && result_.post_relabel > opts_.sample_limit) {
    return fail(absl::ResourceExhaustedError(
                    strCat("sample limit exceeded (limit: ", opts_.sample_limit, ")")),
                "sample_limit");
  }
  if (!reserveBatch(lb_.size(), label_bytes)) {
    return fail(budgetError(charge_->held()), "memory_budget");
  }
  TrackedSet& prev = state_->tracked;
  if (track) {
    auto it = prev.find(probe_);
    if (it != prev.end()) {
      cur_.insert(prev.extract(it));  // moves the node: no allocation
    } else {
      if (!charge(setEntryBytes(probe_.key) + sizeof(void*))) {
        return fail(budgetError(charge_->held()), "memory_budget");
      }
      fresh_keys_.push_back(&*cur_.insert(probe_).first);
      ++result_.series_added;
    }
  } else {
    if (!charge(setEntryBytes(probe_.key))) {
      return fail(budgetError(charge_->held()), "memory_budget");
    }
    untracked_.insert(probe_);
  }
  out_->beginSeries();
  for (const auto& [k, v] : lb_) out_->addLabel(k, v);
  out_->addSample(explicit_ts ? *s.timestamp_ms : scrape_ms_, s.value);
  rememberSeriesText(s.series_text);
  return absl::OkStatus();
}

// Keeps the text of the last series for the repeated-line check, within what is charged.
void ScrapeAppender::rememberSeriesText(std::string_view text) {
  if (text.size() > last_series_text_.capacity()) {
    if (text.size() > 256 || !charge(text.size())) {
      last_series_text_.clear();
      return;
    }
  }
  last_series_text_.assign(text);
}

ProcessResult ScrapeAppender::finish(bool ok) {
  TrackedSet& prev = state_->tracked;  // what is left in it at the end vanished
  if (!ok) {  // nothing of a failed scrape is kept: series of `prev` go stale
    out_->clear();
    for (const TrackedKey* k : fresh_keys_) cur_.erase(cur_.find(*k));
    while (!cur_.empty()) prev.insert(cur_.extract(cur_.begin()));
    result_.series_added = 0;
  }
  for (const auto& k : prev) {
    size_t labels = 0;
    forEachLabel(k.key, [&](std::string_view, std::string_view) { ++labels; });
    if (!reserveBatch(labels, k.key.size())) {
      ++result_.stale_dropped;
      continue;
    }
    addEncoded(k.key, scrape_ms_, staleNaN(), out_);
  }
  state_->tracked = std::move(cur_);
  return std::move(result_);
}

namespace {

// Feeds already parsed samples to an appender.
absl::Status replay(const Exposition& exp, ScrapeAppender& app) {
  std::vector<LabelView> labels;
  for (const ParsedSample& p : exp.samples) {
    labels.assign(p.labels.begin(), p.labels.end());
    SampleView v;
    v.name = p.name;
    v.labels = labels.data();
    v.label_count = labels.size();
    v.value = p.value;
    v.timestamp_ms = p.timestamp_ms;
    absl::Status st = app.onSample(v);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace

ProcessResult processScrape(const Exposition* exp, const ScrapeTarget& target,
                            const ProcessOptions& opts, int64_t scrape_ms, SeriesState* state,
                            SeriesBatch* out, ScrapeCharge* charge) {
  ScrapeAppender app(target, opts, scrape_ms, state, out, charge);
  bool ok = exp != nullptr && replay(*exp, app).ok();
  return app.finish(ok);
}

void addReportSample(const ScrapeTarget& target, std::string_view name, int64_t ts_ms, double value,
                     SeriesBatch* out) {
  // public_labels are sorted; __name__ goes where it sorts.
  out->beginSeries();
  bool named = false;
  for (const auto& [k, v] : target.public_labels) {
    if (!named && std::string_view(k) > "__name__") {
      out->addLabel("__name__", name);
      named = true;
    }
    out->addLabel(k, v);
  }
  if (!named) out->addLabel("__name__", name);
  out->addSample(ts_ms, value);
}

void endOfRunStaleness(const ScrapeTarget& target, bool extra_metrics, int64_t ts_ms,
                       SeriesState* state, SeriesBatch* out) {
  for (const auto& k : state->tracked) addEncoded(k.key, ts_ms, staleNaN(), out);
  state->tracked.clear();
  if (state->reported) {
    size_t n = extra_metrics ? std::size(kReportNames) : 5;
    for (size_t i = 0; i < n; ++i) addReportSample(target, kReportNames[i], ts_ms, staleNaN(), out);
  }
  state->reported = false;
}

}  // namespace telegate::prometheus::scrape
