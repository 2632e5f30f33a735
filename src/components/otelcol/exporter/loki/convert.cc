// otelcol.exporter.loki's converter: OTLP log records -> Loki entries, exactly as the contrib
// Loki translator (pkg/translator/loki LogToLokiEntry) makes them; see loki.h for the labels,
// line formats and timestamps, and for convertLogs()/convertLogsInto().
//
// Contract: Converter is the sink of RequestReader (otlp_reader.h); it keeps per-resource and
// per-record scratch and appends the entries to one ConvertResult. One Converter per call,
// used by one thread; convertLogsInto() is thread-safe (no shared mutable state).
#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "src/common/label_name.h"
#include "src/common/strings.h"
#include "src/components/otelcol/exporter/loki/loki.h"
#include "src/components/otelcol/exporter/loki/otlp_reader.h"
#include "src/components/otelcol/exporter/loki/values.h"

namespace telegate::otelcol::exporter_loki {
namespace {

using namespace detail;  // NOLINT: the reader's and the value helpers' names

using ExportLogsServiceRequest =
    ::opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest;

constexpr std::string_view kHintAttributes = "loki.attribute.labels";
constexpr std::string_view kHintResources = "loki.resource.labels";
constexpr std::string_view kHintTenant = "loki.tenant";
constexpr std::string_view kHintFormat = "loki.format";
constexpr std::string_view kLevel = "level";

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool isHintKey(std::string_view k) {
  // Every hint key is "loki." + at least 6 bytes: most keys are rejected without a compare.
  if (k.size() < 11 || k[0] != 'l' || k[4] != '.') return false;
  return k == kHintAttributes || k == kHintResources || k == kHintTenant || k == kHintFormat;
}

// The AnyValues the converter adds to records: the "level" hint and the severity names.
struct StaticValues {
  AnyValue level_hint;
  AnyValue severity[25];
  StaticValues() {
    level_hint = AnyValue::string(kLevel);
    for (int i = 0; i < 25; ++i) severity[i] = AnyValue::string(severityLevel(i));
  }
};
const StaticValues& staticValues() {
  static const StaticValues v;
  return v;
}

using ViewPairs = std::vector<std::pair<std::string_view, std::string_view>>;

// Strings referenced by views for the duration of one record (stable addresses).
class StringPool {
 public:
  void reset() { used_ = 0; }
  std::string_view store(std::string s) {
    if (used_ == pool_.size()) pool_.emplace_back();
    std::string& slot = pool_[used_++];
    slot = std::move(s);
    return slot;
  }

 private:
  std::deque<std::string> pool_;
  size_t used_ = 0;
};

// model.LabelSet before normalisation: assigning a name again replaces its value.
void setLabel(ViewPairs* raw, std::string_view k, std::string_view v) {
  for (auto& [rk, rv] : *raw) {
    if (rk == k) {
      rv = v;
      return;
    }
  }
  raw->emplace_back(k, v);
}

std::string_view valueView(const AnyValue& v, StringPool* pool) {
  if (v.value_case() == AnyValue::kStringValue) return v.string_value();
  return pool->store(asString(v));
}

// convertAttributes: promotes the attributes named by `selector` from `attrs`.
void mergeLabels(const AttrList& attrs, const AnyValue& selector, ViewPairs* raw,
                 StringPool* pool) {
  auto one = [&](std::string_view name) {
    std::string_view attr = trimSpace(name);
    AnyValue v;
    if (getAttributeNested(attr, attrs, &v)) setLabel(raw, attr, valueView(v, pool));
  };
  if (selector.value_case() == AnyValue::kStringValue) {
    std::string_view s = selector.string_value();
    size_t start = 0;
    while (true) {
      size_t comma = s.find(',', start);
      one(s.substr(start, comma == std::string_view::npos ? s.npos : comma - start));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  } else {
    for (auto& n : parseAttributeNames(selector)) one(pool->store(std::move(n)));
  }
}

bool inRaw(const ViewPairs& raw, std::string_view k) {
  for (const auto& [rk, rv] : raw) {
    if (rk == k) return true;
  }
  return false;
}

// Everything of a ResourceLogs that does not depend on the record.
struct ResourceCtx {
  AttrList res;
  const AnyValue* service_name = nullptr;
  std::string service_name_value;
  const AnyValue* format = nullptr;
  const AnyValue* hint_tenant = nullptr;
  std::string job, instance;
  ViewPairs base;   // exporter, job, instance, loki.resource.labels of the resource
  StringPool pool;  // values of `base`
  // Rendered `"resources":{...}` by the mask of removed resource attributes ("" when every
  // attribute is removed; ok=false when it cannot be encoded).
  struct Fragment {
    uint64_t mask;
    bool ok;
    std::string json;
  };
  std::vector<Fragment> fragments;
};

class Converter {
 public:
  Converter(const ConvertOptions& opts, ConvertResult* out) : opts_(opts), out_(out) {
    now_ = opts.now_ns != 0 ? opts.now_ns : nowNs();
  }

  // The attribute list of the next resource, to be filled before resource() is called.
  AttrList& resourceAttributes() { return ctx_.res; }
  // The attribute list of the next record, to be filled before record() is called.
  AttrList& recordAttributes() { return attrs_; }

  void resource() {
    ResourceCtx& c = ctx_;
    memo_used_ = memo_next_ = 0;  // the service_name label depends on the resource
    c.base.clear();
    c.pool.reset();
    c.fragments.clear();
    c.format = getAttr(c.res, kHintFormat);
    c.hint_tenant = getAttr(c.res, kHintTenant);
    c.base.emplace_back("exporter", "OTLP");
    c.service_name = getAttr(c.res, "service.name");
    c.service_name_value.clear();
    if (c.service_name != nullptr) {
      c.service_name_value = asString(*c.service_name);
      c.job = c.service_name_value;
      if (const AnyValue* ns = getAttr(c.res, "service.namespace")) {
        c.job = strCat(asString(*ns), "/", c.service_name_value);
      }
      setLabel(&c.base, "job", c.job);
    }
    if (const AnyValue* inst = getAttr(c.res, "service.instance.id")) {
      c.instance = asString(*inst);
      setLabel(&c.base, "instance", c.instance);
    }
    if (const AnyValue* h = getAttr(c.res, kHintResources))
      mergeLabels(c.res, *h, &c.base, &c.pool);
  }

  void scope(const Scope& scope) {
    scope_ = scope;
    scope_json_.clear();
    if (!scope.name.empty()) {
      scope_json_.append("\"instrumentation_scope\":{\"name\":");
      appendJsonString(&scope_json_, scope.name);
      if (!scope.version.empty()) {
        scope_json_.append(",\"version\":");
        appendJsonString(&scope_json_, scope.version);
      }
      scope_json_.push_back('}');
    }
  }

  void record(const LogRecord& lr) {
    std::string err;
    if (!convert(lr, &err)) {
      if (out_->dropped == 0) out_->first_error = std::move(err);
      ++out_->dropped;
    }
  }

 private:
  // LogToLokiEntry for one record. False (with `err`) when the record cannot be converted.
  bool convert(const LogRecord& lr, std::string* err) {
    ResourceCtx& c = ctx_;
    const StaticValues& sv = staticValues();
    pool_.reset();

    // addLogLevelAttributeAndHint.
    if (lr.severity_number != 0) {
      const AnyValue* hint = getAttr(attrs_, kHintAttributes);
      AnyValue new_hint = sv.level_hint;
      if (hint != nullptr) {
        std::string cur = asString(*hint);
        if (cur.find(kLevel) == std::string::npos) {
          new_hint = AnyValue::string(pool_.store(strCat(cur, ",", kLevel)));
        }
      }
      putAttr(attrs_, kHintAttributes, new_hint);
      if (getAttr(attrs_, kLevel) == nullptr) {
        int n = lr.severity_number;
        putAttr(attrs_, kLevel, sv.severity[n >= 1 && n <= 24 ? n : 0]);
      }
    }

    std::string_view format = "json";
    if (c.format != nullptr) {
      format = valueView(*c.format, &pool_);
    } else if (const AnyValue* f = getAttr(attrs_, kHintFormat)) {
      format = valueView(*f, &pool_);
    }

    // convertAttributesAndMerge.
    raw_.assign(c.base.begin(), c.base.end());
    if (const AnyValue* h = getAttr(attrs_, kHintResources)) mergeLabels(c.res, *h, &raw_, &pool_);
    if (const AnyValue* h = getAttr(attrs_, kHintAttributes))
      mergeLabels(attrs_, *h, &raw_, &pool_);
    if (c.hint_tenant != nullptr) {
      mergeLabels(c.res, *c.hint_tenant, &raw_, &pool_);
    } else if (const AnyValue* h = getAttr(attrs_, kHintTenant)) {
      mergeLabels(attrs_, *h, &raw_, &pool_);
    }

    // removeAttributes on the record and (as a mask) on the resource.
    std::erase_if(attrs_,
                  [&](const auto& kv) { return isHintKey(kv.first) || inRaw(raw_, kv.first); });
    uint64_t mask = 0;
    const bool cacheable = c.res.size() <= 64;
    if (cacheable) {
      for (size_t i = 0; i < c.res.size(); ++i) {
        std::string_view k = c.res[i].first;
        if (isHintKey(k) || inRaw(raw_, k)) mask |= uint64_t{1} << i;
      }
    }

    std::string& text = out_->batch.text;
    const uint64_t offset = text.size();
    if (format == "json") {
      const ResourceCtx::Fragment* frag = nullptr;
      std::string uncached;
      if (cacheable) {
        frag = fragment(mask);
      } else {
        AttrList res = c.res;
        std::erase_if(res,
                      [&](const auto& kv) { return isHintKey(kv.first) || inRaw(raw_, kv.first); });
        ResourceCtx::Fragment f{0, true, {}};
        if (!res.empty()) {
          f.json = "\"resources\":";
          f.ok = appendJsonSorted(&f.json, res, &tmp_);
        }
        uncached_ = std::move(f);
        frag = &uncached_;
      }
      if (!frag->ok || !encodeJson(lr, frag->json, &text)) {
        text.resize(offset);
        *err = "json: unsupported value (NaN or Inf)";
        return false;
      }
    } else if (format == "logfmt") {
      AttrList res = c.res;
      std::erase_if(res,
                    [&](const auto& kv) { return isHintKey(kv.first) || inRaw(raw_, kv.first); });
      std::string line;
      if (!encodeLogfmtLine(lr, attrs_, res, scope_, &line, err)) return false;
      text.append(line);
    } else if (format == "raw") {
      text.append(asString(lr.body));
    } else {
      *err = strCat("invalid format ", format, ". Expected one of: json, logfmt, raw");
      return false;
    }

    int64_t ts = now_;
    if (lr.time_unix_nano != 0) {
      ts = static_cast<int64_t>(lr.time_unix_nano);
    } else if (lr.observed_time_unix_nano != 0) {
      ts = static_cast<int64_t>(lr.observed_time_unix_nano);
    }
    out_->batch.addAppended(streamIndex(), ts, offset);
    return true;
  }

  // The batch's stream for the labels in raw_ (normalised, service_name, tenant).
  uint32_t streamIndex() {
    sortByFirst(raw_);  // model.LabelSet iteration order: by raw name
    // Records of a resource mostly repeat a few raw label sets (e.g. one per level).
    for (size_t i = 0; i < memo_used_; ++i) {
      const Memo& m = memo_[i];
      if (m.raw.size() == raw_.size() &&
          std::equal(raw_.begin(), raw_.end(), m.raw.begin(), [](const auto& a, const auto& b) {
            return a.first == b.first && a.second == b.second;
          })) {
        return m.idx;
      }
    }
    const uint32_t idx = streamIndexOf();
    Memo& m = memo_[memo_next_];
    memo_next_ = (memo_next_ + 1) % memo_.size();
    memo_used_ = std::max(memo_used_, memo_next_ == 0 ? memo_.size() : memo_next_);
    m.raw.resize(raw_.size());
    for (size_t i = 0; i < raw_.size(); ++i) {
      m.raw[i].first.assign(raw_[i].first);
      m.raw[i].second.assign(raw_[i].second);
    }
    m.idx = idx;
    return idx;
  }

  // streamIndex() without the memo (raw_ sorted).
  uint32_t streamIndexOf() {
    const ResourceCtx& c = ctx_;
    labels_.clear();
    for (const auto& [k, v] : raw_) {
      std::string_view name =
          labels::isNormalLabelName(k) ? k : pool_.store(labels::normalizeLabelName(k));
      labels_.emplace_back(name, v);
    }
    sortByFirst(labels_);
    // Equal normalised names: the later raw name wins.
    size_t w = 0;
    for (size_t i = 0; i < labels_.size(); ++i) {
      if (i + 1 < labels_.size() && labels_[i + 1].first == labels_[i].first) continue;
      labels_[w++] = labels_[i];
    }
    labels_.resize(w);
    // The tenant comes from the client's credential only: a `__tenant_id__` made from client
    // attributes (by any hint, or by normalisation such as "__tenant.id__") is dropped.
    std::erase_if(labels_, [](const auto& kv) { return kv.first == "__tenant_id__"; });
    auto upsert = [&](std::string_view k, std::string_view v, bool replace) {
      for (auto& [lk, lv] : labels_) {
        if (lk == k) {
          if (replace) lv = v;
          return;
        }
      }
      labels_.emplace_back(k, v);
      sortByFirst(labels_);
    };
    if (opts_.service_name_label && c.service_name != nullptr) {
      upsert("service_name", c.service_name_value, false);
    }
    if (!opts_.tenant.empty()) upsert("__tenant_id__", opts_.tenant, true);

    key_.clear();
    for (const auto& [k, v] : labels_) {
      key_.append(k);
      key_.push_back('\0');
      uint32_t n = static_cast<uint32_t>(v.size());
      key_.append(reinterpret_cast<const char*>(&n), sizeof(n));
      key_.append(v);
    }
    auto it = streams_.find(key_);
    if (it != streams_.end()) return it->second;
    loki::LabelSet ls;
    ls.reserve(labels_.size());
    for (const auto& [k, v] : labels_) ls.emplace_back(std::string(k), std::string(v));
    uint32_t idx = out_->batch.addStream(std::move(ls));
    streams_.emplace(key_, idx);
    return idx;
  }

  const ResourceCtx::Fragment* fragment(uint64_t mask) {
    ResourceCtx& c = ctx_;
    for (const auto& f : c.fragments) {
      if (f.mask == mask) return &f;
    }
    AttrList res;
    for (size_t i = 0; i < c.res.size(); ++i) {
      if ((mask & (uint64_t{1} << i)) == 0) res.push_back(c.res[i]);
    }
    ResourceCtx::Fragment f{mask, true, {}};
    if (!res.empty()) {
      f.json = "\"resources\":";
      f.ok = appendJsonSorted(&f.json, res, &tmp_);
    }
    c.fragments.push_back(std::move(f));
    return &c.fragments.back();
  }

  // Go encoding/json of the record: body, traceid, spanid, severity, flags, attributes,
  // resources (pre-rendered), instrumentation_scope (pre-rendered).
  bool encodeJson(const LogRecord& lr, const std::string& resources, std::string* out) {
    out->push_back('{');
    bool first = true;
    auto field = [&](std::string_view name) {
      if (!first) out->push_back(',');
      first = false;
      out->push_back('"');
      out->append(name);
      out->append("\":");
    };
    if (lr.body.value_case() != AnyValue::VALUE_NOT_SET) {
      field("body");
      if (!appendJsonValue(out, lr.body)) return false;
    }
    if (validId(lr.trace_id, 16)) {
      field("traceid");
      appendHexQuoted(out, lr.trace_id);
    }
    if (validId(lr.span_id, 8)) {
      field("spanid");
      appendHexQuoted(out, lr.span_id);
    }
    if (!lr.severity_text.empty()) {
      field("severity");
      appendJsonString(out, lr.severity_text);
    }
    if (lr.flags != 0) {
      field("flags");
      char buf[16];
      auto r = std::to_chars(buf, buf + sizeof(buf), lr.flags);
      out->append(buf, r.ptr);
    }
    if (!attrs_.empty()) {
      field("attributes");
      if (!appendJsonSorted(out, attrs_, &tmp_)) return false;
    }
    if (!resources.empty()) {
      if (!first) out->push_back(',');
      first = false;
      out->append(resources);
    }
    if (!scope_json_.empty()) {
      if (!first) out->push_back(',');
      first = false;
      out->append(scope_json_);
    }
    out->push_back('}');
    return true;
  }

  const ConvertOptions& opts_;
  ConvertResult* out_;
  int64_t now_ = 0;
  ResourceCtx ctx_;
  Scope scope_;
  std::string scope_json_;
  ResourceCtx::Fragment uncached_{0, true, {}};
  // Per-record scratch, reused.
  AttrList attrs_, tmp_;
  ViewPairs raw_, labels_;
  StringPool pool_;
  std::string key_;
  std::unordered_map<std::string, uint32_t> streams_;  // label set key -> batch stream
  // The last raw label sets of the current resource and their streams.
  struct Memo {
    std::vector<std::pair<std::string, std::string>> raw;
    uint32_t idx = 0;
  };
  std::array<Memo, 4> memo_;
  size_t memo_used_ = 0, memo_next_ = 0;
};

bool readInto(std::string_view payload, bool check, const ConvertOptions& opts,
              ConvertResult* result) {
  result->batch.clear();
  result->dropped = 0;
  result->first_error.clear();
  result->batch.text.reserve(payload.size() * 2);
  Reader reader(check);
  Converter conv(opts, result);
  RequestReader<Converter> rr(reader, &conv);
  return rr.request(payload);
}

}  // namespace

absl::Status convertLogsInto(std::string_view payload, const ConvertOptions& opts,
                             ConvertResult* result) {
  if (payload.size() <= static_cast<size_t>(INT32_MAX) &&
      readInto(payload, /*check=*/true, opts, result)) {
    return absl::OkStatus();
  }
  // Malformed, or valid in a way the reader leaves to protobuf (merged repeated messages,
  // groups, odd encodings): protobuf decides, and its own encoding of what it parsed (unknown
  // fields dropped) is read instead.
  const auto malformed = [] {
    return absl::InvalidArgumentError("otelcol.exporter.loki: malformed ExportLogsServiceRequest");
  };
  ExportLogsServiceRequest req;
  if (payload.size() > static_cast<size_t>(INT32_MAX) ||
      !req.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    result->batch.clear();
    return malformed();
  }
  req.DiscardUnknownFields();
  std::string canonical = req.SerializeAsString();
  if (!readInto(canonical, /*check=*/false, opts, result)) {
    result->batch.clear();
    return malformed();
  }
  // The batch's strings are copies (labels) or encoded text: nothing refers to `canonical`.
  return absl::OkStatus();
}

absl::StatusOr<ConvertResult> convertLogs(std::string_view payload, const ConvertOptions& opts) {
  ConvertResult result;
  absl::Status st = convertLogsInto(payload, opts, &result);
  if (!st.ok()) return st;
  return result;
}

}  // namespace telegate::otelcol::exporter_loki
