#include "src/components/prometheus/scrape/textparse.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "src/common/strings.h"

namespace telegate::prometheus {

namespace {

bool isNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool isNameChar(char c) {
  return isNameStart(c) || std::isdigit(static_cast<unsigned char>(c));
}
bool isLabelStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool isLabelChar(char c) {
  return isLabelStart(c) || std::isdigit(static_cast<unsigned char>(c));
}

void skipBlanks(std::string_view s, size_t* i) {
  while (*i < s.size() && (s[*i] == ' ' || s[*i] == '\t')) ++*i;
}

// The general path: special values, '_' digit separators and out-of-range values.
bool parseFloatSlow(std::string_view s, double* out) {
  std::string_view t = s;
  bool neg = false;
  if (t[0] == '+' || t[0] == '-') {
    neg = t[0] == '-';
    t.remove_prefix(1);
  }
  auto ieq = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    }
    return true;
  };
  if (ieq(t, "inf") || ieq(t, "infinity")) {
    *out = neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return true;
  }
  if (ieq(t, "nan")) {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  for (char c : t) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' ||
          c == '+' || c == '-' || c == '_')) {
      return false;
    }
  }
  std::string buf(s);
  buf.erase(std::remove(buf.begin(), buf.end(), '_'), buf.end());
  char* end = nullptr;
  double v = std::strtod(buf.c_str(), &end);
  if (end != buf.c_str() + buf.size()) return false;
  *out = v;
  return true;
}

bool parseFloat(std::string_view s, double* out) {
  if (s.empty()) return false;
  // Plain decimal numbers (nearly all values) without a copy.
  const char* b = s.data();
  const char* e = b + s.size();
  const bool neg = *b == '-';
  if (*b == '+' || *b == '-') ++b;
  if (b < e && (std::isdigit(static_cast<unsigned char>(*b)) || *b == '.')) {
    double v = 0;
    auto r = std::from_chars(b, e, v, std::chars_format::general);
    if (r.ec == std::errc() && r.ptr == e) {
      *out = neg ? -v : v;
      return true;
    }
  }
  return parseFloatSlow(s, out);
}

absl::Status lineError(int line, std::string_view what) {
  return absl::InvalidArgumentError(strCat("line ", line, ": ", what));
}

absl::Status bufferRefused() {
  return absl::ResourceExhaustedError("memory budget exhausted while buffering a line");
}

}  // namespace

ExpositionFormat formatFromContentType(std::string_view ct) {
  return ct.find("application/openmetrics-text") != std::string_view::npos
             ? ExpositionFormat::kOpenMetrics
             : ExpositionFormat::kText004;
}

absl::Status ExpositionParser::feed(std::string_view piece, ExpositionVisitor& visitor) {
  size_t pos = 0;
  while (pos < piece.size() && !done_) {
    const void* nlp = std::memchr(piece.data() + pos, '\n', piece.size() - pos);
    if (nlp == nullptr) {  // unterminated: keep it for the next piece
      const size_t n = piece.size() - pos;
      if (carry_.size() + n > carry_.capacity()) {
        const size_t cap = std::max(carry_.size() + n, carry_.capacity() * 2);
        if (!visitor.onBufferGrow(cap - carry_.capacity())) return bufferRefused();
        carry_.reserve(cap);
      }
      carry_.append(piece.substr(pos));
      return absl::OkStatus();
    }
    const size_t nl = static_cast<const char*>(nlp) - piece.data();
    absl::Status st;
    if (!carry_.empty()) {
      const size_t n = nl - pos;
      if (carry_.size() + n > carry_.capacity()) {
        if (!visitor.onBufferGrow(carry_.size() + n - carry_.capacity())) return bufferRefused();
        carry_.reserve(carry_.size() + n);
      }
      carry_.append(piece.substr(pos, n));
      st = parseLine(carry_, visitor);
      carry_.clear();
    } else {
      st = parseLine(piece.substr(pos, nl - pos), visitor);
    }
    if (!st.ok()) return st;
    pos = nl + 1;
  }
  return absl::OkStatus();
}

absl::Status ExpositionParser::finish(ExpositionVisitor& visitor) {
  if (done_ || carry_.empty()) return absl::OkStatus();
  absl::Status st = parseLine(carry_, visitor);
  carry_.clear();
  return st;
}

absl::Status ExpositionParser::parseLine(std::string_view line, ExpositionVisitor& visitor) {
  ++lineno_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  size_t i = 0;
  skipBlanks(line, &i);
  if (i == line.size()) return absl::OkStatus();
  if (line[i] != '#') return parseSample(line.substr(i), visitor);
  std::string_view rest = line.substr(i + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest == "EOF") {
    if (format_ == ExpositionFormat::kOpenMetrics) done_ = true;
    return absl::OkStatus();
  }
  static constexpr std::pair<std::string_view, MetadataKind> kKeywords[] = {
      {"TYPE", MetadataKind::kType}, {"HELP", MetadataKind::kHelp}, {"UNIT", MetadataKind::kUnit}};
  for (const auto& [kw, kind] : kKeywords) {
    if (rest.size() > kw.size() && rest.substr(0, kw.size()) == kw && rest[kw.size()] == ' ') {
      std::string_view r = rest.substr(kw.size() + 1);
      while (!r.empty() && r.front() == ' ') r.remove_prefix(1);
      size_t sp = r.find(' ');
      std::string_view name = r.substr(0, sp);
      std::string_view val = sp == std::string_view::npos ? "" : r.substr(sp + 1);
      if (name.empty() || !isNameStart(name[0])) return lineError(lineno_, "invalid metric name");
      visitor.onMetadata(kind, name, val);
    }
  }
  return absl::OkStatus();
}

// Parses `{a="b",...}` starting at s[*i] == '{' into labels_ (values with escapes are resolved
// into unescaped_, which the caller reserved to the line's length so that views stay valid).
bool ExpositionParser::parseLabels(std::string_view s, size_t* i, std::string* err,
                                   ExpositionVisitor& visitor) {
  ++*i;  // '{'
  while (true) {
    skipBlanks(s, i);
    if (*i < s.size() && s[*i] == '}') {
      ++*i;
      return true;
    }
    size_t start = *i;
    if (*i >= s.size() || !isLabelStart(s[*i])) {
      *err = "expected a label name";
      return false;
    }
    while (*i < s.size() && isLabelChar(s[*i])) ++*i;
    std::string_view name = s.substr(start, *i - start);
    skipBlanks(s, i);
    if (*i >= s.size() || s[*i] != '=') {
      *err = "expected '=' after a label name";
      return false;
    }
    ++*i;
    skipBlanks(s, i);
    if (*i >= s.size() || s[*i] != '"') {
      *err = "expected a quoted label value";
      return false;
    }
    ++*i;
    const size_t vstart = *i;
    bool closed = false;
    bool escaped = false;
    while (*i < s.size()) {
      char c = s[(*i)++];
      if (c == '"') {
        closed = true;
        break;
      }
      if (c == '\\' && *i < s.size()) {
        escaped = true;
        ++*i;
      }
    }
    if (!closed) {
      *err = "unterminated label value";
      return false;
    }
    std::string_view raw = s.substr(vstart, *i - 1 - vstart);
    std::string_view value = raw;
    if (escaped) {
      const size_t off = unescaped_.size();
      for (size_t k = 0; k < raw.size(); ++k) {
        char c = raw[k];
        if (c == '\\' && k + 1 < raw.size()) {
          char e = raw[++k];
          if (e == 'n') {
            unescaped_.push_back('\n');
          } else if (e == '\\' || e == '"') {
            unescaped_.push_back(e);
          } else {
            unescaped_.push_back('\\');
            unescaped_.push_back(e);
          }
          continue;
        }
        unescaped_.push_back(c);
      }
      value = std::string_view(unescaped_.data() + off, unescaped_.size() - off);
    }
    if (labels_.size() == labels_.capacity()) {  // grows by half, charged first
      const size_t cap = std::max<size_t>(16, labels_.capacity() + labels_.capacity() / 2);
      if (!visitor.onBufferGrow((cap - labels_.capacity()) * sizeof(LabelPairView))) {
        *err = "";
        return false;
      }
      labels_.reserve(cap);
    }
    labels_.emplace_back(name, value);
    skipBlanks(s, i);
    if (*i < s.size() && s[*i] == ',') {
      ++*i;
      continue;
    }
    if (*i < s.size() && s[*i] == '}') {
      ++*i;
      return true;
    }
    *err = "expected ',' or '}' in a label set";
    return false;
  }
}

absl::Status ExpositionParser::parseSample(std::string_view line, ExpositionVisitor& visitor) {
  SampleView smp;
  size_t i = 0;
  if (!isNameStart(line[i])) return lineError(lineno_, "expected a metric name");
  while (i < line.size() && isNameChar(line[i])) ++i;
  smp.name = line.substr(0, i);
  skipBlanks(line, &i);
  labels_.clear();
  if (i < line.size() && line[i] == '{') {
    // Working memory for this line: unescaped values (at most the line's length) and the label
    // list, both charged before they grow.
    unescaped_.clear();
    if (line.find('\\', i) != std::string_view::npos && unescaped_.capacity() < line.size()) {
      if (!visitor.onBufferGrow(line.size() - unescaped_.capacity())) return bufferRefused();
      unescaped_.reserve(line.size());
    }
    std::string err;
    if (!parseLabels(line, &i, &err, visitor)) {
      return err.empty() ? bufferRefused() : lineError(lineno_, err);
    }
    std::sort(labels_.begin(), labels_.end(),
              [](const LabelPairView& a, const LabelPairView& b) { return a.first < b.first; });
    for (size_t k = 1; k < labels_.size(); ++k) {
      if (labels_[k - 1].first == labels_[k].first) {
        return lineError(lineno_, strCat("duplicate label name \"", labels_[k].first, "\""));
      }
    }
  }
  smp.series_text = line.substr(0, i);
  skipBlanks(line, &i);
  size_t vstart = i;
  while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
  if (!parseFloat(line.substr(vstart, i - vstart), &smp.value)) {
    return lineError(lineno_, strCat("invalid value \"", line.substr(vstart, i - vstart), "\""));
  }
  skipBlanks(line, &i);
  if (i < line.size() && line[i] != '#') {
    size_t tstart = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    std::string_view ts = line.substr(tstart, i - tstart);
    if (format_ == ExpositionFormat::kOpenMetrics) {
      double secs = 0;
      if (!parseFloat(ts, &secs) || !std::isfinite(secs) || std::fabs(secs) > 9.2e15) {
        return lineError(lineno_, "invalid timestamp");
      }
      smp.timestamp_ms = static_cast<int64_t>(std::llround(secs * 1000.0));
    } else {
      int64_t ms = 0;
      auto r = std::from_chars(ts.data(), ts.data() + ts.size(), ms);
      if (r.ec != std::errc() || r.ptr != ts.data() + ts.size()) {
        return lineError(lineno_, "invalid timestamp");
      }
      smp.timestamp_ms = ms;
    }
    skipBlanks(line, &i);
  }
  // OpenMetrics exemplar: " # {labels} value [ts]" is skipped. Anything else is garbage.
  if (i < line.size() && !(format_ == ExpositionFormat::kOpenMetrics && line[i] == '#')) {
    return lineError(lineno_, "unexpected text after the sample");
  }
  smp.labels = labels_.data();
  smp.label_count = labels_.size();
  return visitor.onSample(smp);
}

namespace {

class Collector : public ExpositionVisitor {
 public:
  explicit Collector(Exposition* out) : out_(out) {}
  absl::Status onSample(const SampleView& s) override {
    ParsedSample p;
    p.name = std::string(s.name);
    p.labels.reserve(s.label_count);
    for (size_t i = 0; i < s.label_count; ++i) {
      p.labels.emplace_back(std::string(s.labels[i].first), std::string(s.labels[i].second));
    }
    p.value = s.value;
    p.timestamp_ms = s.timestamp_ms;
    out_->samples.push_back(std::move(p));
    return absl::OkStatus();
  }
  void onMetadata(MetadataKind kind, std::string_view family, std::string_view value) override {
    FamilyMeta& f = out_->families[std::string(family)];
    (kind == MetadataKind::kType   ? f.type
     : kind == MetadataKind::kHelp ? f.help
                                   : f.unit) = std::string(value);
  }

 private:
  Exposition* out_;
};

}  // namespace

absl::Status parseExposition(std::string_view body, ExpositionFormat format, Exposition* out) {
  ExpositionParser p(format);
  Collector c(out);
  absl::Status st = p.feed(body, c);
  if (!st.ok()) return st;
  return p.finish(c);
}

}  // namespace telegate::prometheus
