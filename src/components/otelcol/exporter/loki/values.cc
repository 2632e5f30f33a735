// Go semantics of OTLP values for otelcol.exporter.loki (see values.h for the contract).
#include "src/components/otelcol/exporter/loki/values.h"

#include <algorithm>
#include <map>

#include "absl/strings/escaping.h"
#include "src/common/gofmt.h"
#include "src/common/json_writer.h"
#include "src/common/strings.h"
#include "src/components/otelcol/exporter/loki/loki.h"

namespace telegate::otelcol::exporter_loki {

void appendJsonString(std::string* out, std::string_view s) {
  json::appendString(out, s, json::kJsonGo);
}

namespace detail {
namespace {

std::string base64(std::string_view in) {
  return absl::Base64Escape(absl::string_view(in.data(), in.size()));
}

}  // namespace

std::string hexId(std::string_view id, size_t want) {
  if (id.size() != want) return "";
  if (std::all_of(id.begin(), id.end(), [](char c) { return c == 0; })) return "";
  return absl::BytesToHexString(absl::string_view(id.data(), id.size()));
}

// ---- JSON (Go encoding/json of pcommon AsRaw values) ------------------------------------------

bool appendJsonValue(std::string* out, const AnyValue& v);

static bool appendJsonMap(std::string* out, std::string_view kvlist) {
  std::map<std::string_view, AnyValue> sorted;  // later duplicates win, like AsRaw
  trusted().forEachKv(kvlist, 0, [&](std::string_view k, const AnyValue& v) { sorted[k] = v; });
  out->push_back('{');
  bool first = true;
  for (const auto& [k, v] : sorted) {
    if (!first) out->push_back(',');
    first = false;
    appendJsonString(out, k);
    out->push_back(':');
    if (!appendJsonValue(out, v)) return false;
  }
  out->push_back('}');
  return true;
}

bool appendJsonValue(std::string* out, const AnyValue& v) {
  switch (v.value_case()) {
    case AnyValue::kStringValue:
      appendJsonString(out, v.string_value());
      return true;
    case AnyValue::kBoolValue:
      out->append(v.bool_value() ? "true" : "false");
      return true;
    case AnyValue::kIntValue:
      out->append(std::to_string(v.int_value()));
      return true;
    case AnyValue::kDoubleValue:
      return gofmt::appendJsonFloat(out, v.double_value());
    case AnyValue::kBytesValue:
      appendJsonString(out, base64(v.bytes_value()));
      return true;
    case AnyValue::kArrayValue: {
      out->push_back('[');
      bool first = true, ok = true;
      trusted().forEachItem(v.s, 0, [&](const AnyValue& item) {
        if (!ok) return;
        if (!first) out->push_back(',');
        first = false;
        ok = appendJsonValue(out, item);
      });
      if (!ok) return false;
      out->push_back(']');
      return true;
    }
    case AnyValue::kKvlistValue:
      return appendJsonMap(out, v.s);
    default:
      out->append("null");
      return true;
  }
}

// pcommon.Value.AsString().
std::string asString(const AnyValue& v) {
  switch (v.value_case()) {
    case AnyValue::kStringValue:
      return std::string(v.string_value());
    case AnyValue::kBoolValue:
      return v.bool_value() ? "true" : "false";
    case AnyValue::kIntValue:
      return std::to_string(v.int_value());
    case AnyValue::kDoubleValue:
      return gofmt::formatFloatF(v.double_value());
    case AnyValue::kBytesValue:
      return base64(v.bytes_value());
    case AnyValue::kArrayValue:
    case AnyValue::kKvlistValue: {
      std::string out;
      if (!appendJsonValue(&out, v)) return "";
      return out;
    }
    default:
      return "";
  }
}

// ---- Labels ----------------------------------------------------------------------------------

std::string_view trimSpace(std::string_view s) {
  auto sp = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!s.empty() && sp(s.front())) s.remove_prefix(1);
  while (!s.empty() && sp(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string> parseAttributeNames(const AnyValue& v) {
  std::vector<std::string> out;
  if (v.value_case() == AnyValue::kStringValue) {
    std::string_view s = v.string_value();
    size_t start = 0;
    while (true) {
      size_t comma = s.find(',', start);
      out.emplace_back(s.substr(start, comma == std::string_view::npos ? s.npos : comma - start));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  } else if (v.value_case() == AnyValue::kArrayValue) {
    trusted().forEachItem(v.s, 0, [&](const AnyValue& item) {
      // fmt.Sprintf("%v", raw): strings as is, numbers and bools in Go's default format.
      if (item.value_case() == AnyValue::kDoubleValue) {
        out.push_back(gofmt::formatFloatV(item.double_value()));
      } else {
        out.push_back(asString(item));
      }
    });
  } else {
    out.push_back(asString(v));
  }
  return out;
}

// getAttribute: the exact key, else the longest dotted prefix naming a map that holds the rest.
bool getAttributeNested(std::string_view attr, const AttrList& attrs, AnyValue* out) {
  if (const AnyValue* v = getAttr(attrs, attr)) {
    *out = *v;
    return true;
  }
  std::vector<size_t> dots;
  for (size_t i = 0; i < attr.size(); ++i) {
    if (attr[i] == '.') dots.push_back(i);
  }
  for (auto it = dots.rbegin(); it != dots.rend(); ++it) {
    std::string_view left = attr.substr(0, *it);
    std::string_view right = attr.substr(*it + 1);
    AnyValue lv;
    if (getAttributeNested(left, attrs, &lv) && lv.value_case() == AnyValue::kKvlistValue) {
      AttrList inner = toAttrList(lv.s);
      if (getAttributeNested(right, inner, out)) return true;
    }
  }
  return false;
}

const char* severityLevel(int n) {
  static constexpr const char* kNames[] = {
      "TRACE", "TRACE2", "TRACE3", "TRACE4", "DEBUG", "DEBUG2", "DEBUG3", "DEBUG4",
      "INFO",  "INFO2",  "INFO3",  "INFO4",  "WARN",  "WARN2",  "WARN3",  "WARN4",
      "ERROR", "ERROR2", "ERROR3", "ERROR4", "FATAL", "FATAL2", "FATAL3", "FATAL4"};
  if (n < 1 || n > 24) return "";
  return kNames[n - 1];
}

static void valueToKeyvals(const std::string& key, const AnyValue& v,
                           std::vector<gofmt::LogfmtKeyVal>* out) {
  switch (v.value_case()) {
    case AnyValue::kStringValue:
      out->push_back({key, std::string(v.string_value())});
      return;
    case AnyValue::kBoolValue:
      out->push_back({key, v.bool_value() ? "true" : "false"});
      return;
    case AnyValue::kIntValue:
      out->push_back({key, std::to_string(v.int_value())});
      return;
    case AnyValue::kDoubleValue:
      out->push_back({key, gofmt::formatFloatV(v.double_value()), true});
      return;
    case AnyValue::kKvlistValue: {
      std::string prefix = key.empty() ? "" : key + "_";
      trusted().forEachKv(v.s, 0, [&](std::string_view k, const AnyValue& item) {
        valueToKeyvals(strCat(prefix, k), item, out);
      });
      return;
    }
    case AnyValue::kArrayValue: {
      std::string prefix = key.empty() ? "" : key + "_";
      int i = 0;
      trusted().forEachItem(v.s, 0, [&](const AnyValue& item) {
        valueToKeyvals(prefix + std::to_string(i++), item, out);
      });
      return;
    }
    case AnyValue::kBytesValue:
      out->push_back({key, std::string(v.bytes_value()), true});
      return;
    default:
      return;  // empty value: nothing
  }
}

bool encodeLogfmtLine(const LogRecord& lr, const AttrList& attrs, const AttrList& res,
                      const Scope& scope, std::string* line, std::string* err) {
  std::vector<gofmt::LogfmtKeyVal> kvs;
  const AnyValue& body = lr.body;
  switch (body.value_case()) {
    case AnyValue::VALUE_NOT_SET:
      break;
    case AnyValue::kStringValue:
      if (!parseLogfmtLine(body.string_value(), &kvs)) {
        kvs.clear();
        kvs.push_back({"msg", std::string(body.string_value())});
      }
      break;
    case AnyValue::kKvlistValue:
      valueToKeyvals("", body, &kvs);
      break;
    case AnyValue::kArrayValue:
      valueToKeyvals("body", body, &kvs);
      break;
    default:
      valueToKeyvals("msg", body, &kvs);
      break;
  }
  std::string trace = hexId(lr.trace_id, 16);
  if (!trace.empty()) kvs.push_back({"traceID", trace});
  std::string span = hexId(lr.span_id, 8);
  if (!span.empty()) kvs.push_back({"spanID", span});
  if (!lr.severity_text.empty()) kvs.push_back({"severity", std::string(lr.severity_text)});
  if (lr.flags != 0) kvs.push_back({"flags", std::to_string(lr.flags)});
  for (const auto& [k, v] : attrs) valueToKeyvals(strCat("attribute_", k), v, &kvs);
  for (const auto& [k, v] : res) valueToKeyvals(strCat("resource_", k), v, &kvs);
  if (!scope.name.empty()) {
    kvs.push_back({"instrumentation_scope_name", std::string(scope.name)});
    if (!scope.version.empty())
      kvs.push_back({"instrumentation_scope_version", std::string(scope.version)});
  }
  return gofmt::encodeLogfmt(kvs, line, err);
}

// A non-empty trace/span id of the expected size that is not all zeros.
bool validId(std::string_view id, size_t want) {
  if (id.size() != want) return false;
  return std::any_of(id.begin(), id.end(), [](char c) { return c != 0; });
}

void appendHexQuoted(std::string* out, std::string_view id) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t at = out->size();
  out->resize(at + id.size() * 2 + 2);
  char* p = out->data() + at;
  *p++ = '"';
  for (char c : id) {
    *p++ = kHex[static_cast<unsigned char>(c) >> 4];
    *p++ = kHex[static_cast<unsigned char>(c) & 15];
  }
  *p = '"';
}

// JSON object of an attribute list: keys sorted, a later duplicate wins (pcommon AsRaw).
bool appendJsonSorted(std::string* out, const AttrList& attrs, AttrList* tmp) {
  tmp->assign(attrs.begin(), attrs.end());
  if (tmp->size() > 32) {
    std::stable_sort(tmp->begin(), tmp->end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  } else {
    sortByFirst(*tmp);
  }
  out->push_back('{');
  bool first = true;
  for (size_t i = 0; i < tmp->size(); ++i) {
    if (i + 1 < tmp->size() && (*tmp)[i + 1].first == (*tmp)[i].first) continue;
    if (!first) out->push_back(',');
    first = false;
    appendJsonString(out, (*tmp)[i].first);
    out->push_back(':');
    if (!appendJsonValue(out, (*tmp)[i].second)) return false;
  }
  out->push_back('}');
  return true;
}

}  // namespace detail
}  // namespace telegate::otelcol::exporter_loki
