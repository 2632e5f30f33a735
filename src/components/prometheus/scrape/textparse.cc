#include "src/components/prometheus/scrape/textparse.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
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

bool parseFloat(std::string_view s, double* out) {
  if (s.empty()) return false;
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

absl::Status lineError(int line, std::string_view what) {
  return absl::InvalidArgumentError(strCat("line ", line, ": ", what));
}

// Parses `{a="b",...}` starting at s[*i] == '{'.
bool parseLabels(std::string_view s, size_t* i,
                 std::vector<std::pair<std::string, std::string>>* labels, std::string* err) {
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
    std::string name(s.substr(start, *i - start));
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
    std::string value;
    bool closed = false;
    while (*i < s.size()) {
      char c = s[(*i)++];
      if (c == '"') {
        closed = true;
        break;
      }
      if (c == '\\' && *i < s.size()) {
        char e = s[(*i)++];
        if (e == 'n') {
          value.push_back('\n');
        } else if (e == '\\' || e == '"') {
          value.push_back(e);
        } else {
          value.push_back('\\');
          value.push_back(e);
        }
        continue;
      }
      value.push_back(c);
    }
    if (!closed) {
      *err = "unterminated label value";
      return false;
    }
    for (const auto& [k, v] : *labels) {
      if (k == name) {
        *err = strCat("duplicate label name \"", name, "\"");
        return false;
      }
    }
    labels->emplace_back(std::move(name), std::move(value));
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

}  // namespace

ExpositionFormat formatFromContentType(std::string_view ct) {
  return ct.find("application/openmetrics-text") != std::string_view::npos
             ? ExpositionFormat::kOpenMetrics
             : ExpositionFormat::kText004;
}

absl::Status parseExposition(std::string_view body, ExpositionFormat format, Exposition* out) {
  int lineno = 0;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t nl = body.find('\n', pos);
    std::string_view line =
        body.substr(pos, nl == std::string_view::npos ? body.size() - pos : nl - pos);
    pos = nl == std::string_view::npos ? body.size() : nl + 1;
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t i = 0;
    skipBlanks(line, &i);
    if (i == line.size()) continue;
    if (line[i] == '#') {
      std::string_view rest = line.substr(i + 1);
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      if (rest == "EOF") {
        if (format == ExpositionFormat::kOpenMetrics) return absl::OkStatus();
        continue;
      }
      for (std::string_view kw : {"TYPE", "HELP", "UNIT"}) {
        if (rest.size() > kw.size() && rest.substr(0, kw.size()) == kw && rest[kw.size()] == ' ') {
          std::string_view r = rest.substr(kw.size() + 1);
          while (!r.empty() && r.front() == ' ') r.remove_prefix(1);
          size_t sp = r.find(' ');
          std::string name(r.substr(0, sp));
          std::string_view val = sp == std::string_view::npos ? "" : r.substr(sp + 1);
          if (name.empty() || !isNameStart(name[0]))
            return lineError(lineno, "invalid metric name");
          auto& fam = out->families[name];
          if (kw == "TYPE") {
            fam.type = std::string(val);
          } else if (kw == "HELP") {
            fam.help = std::string(val);
          } else {
            fam.unit = std::string(val);
          }
        }
      }
      continue;
    }
    ParsedSample smp;
    size_t start = i;
    if (!isNameStart(line[i])) return lineError(lineno, "expected a metric name");
    while (i < line.size() && isNameChar(line[i])) ++i;
    smp.name = std::string(line.substr(start, i - start));
    skipBlanks(line, &i);
    if (i < line.size() && line[i] == '{') {
      std::string err;
      if (!parseLabels(line, &i, &smp.labels, &err)) return lineError(lineno, err);
      std::sort(smp.labels.begin(), smp.labels.end());
    }
    skipBlanks(line, &i);
    size_t vstart = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (!parseFloat(line.substr(vstart, i - vstart), &smp.value)) {
      return lineError(lineno, strCat("invalid value \"", line.substr(vstart, i - vstart), "\""));
    }
    skipBlanks(line, &i);
    if (i < line.size() && line[i] != '#') {
      size_t tstart = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
      std::string_view ts = line.substr(tstart, i - tstart);
      if (format == ExpositionFormat::kOpenMetrics) {
        double secs = 0;
        if (!parseFloat(ts, &secs) || !std::isfinite(secs) || std::fabs(secs) > 9.2e15) {
          return lineError(lineno, "invalid timestamp");
        }
        smp.timestamp_ms = static_cast<int64_t>(std::llround(secs * 1000.0));
      } else {
        int64_t ms = 0;
        auto r = std::from_chars(ts.data(), ts.data() + ts.size(), ms);
        if (r.ec != std::errc() || r.ptr != ts.data() + ts.size()) {
          return lineError(lineno, "invalid timestamp");
        }
        smp.timestamp_ms = ms;
      }
      skipBlanks(line, &i);
    }
    if (i < line.size()) {
      // OpenMetrics exemplar: " # {labels} value [ts]". Anything else is garbage.
      if (format == ExpositionFormat::kOpenMetrics && line[i] == '#') {
        // skipped
      } else {
        return lineError(lineno, "unexpected text after the sample");
      }
    }
    out->samples.push_back(std::move(smp));
  }
  return absl::OkStatus();
}

}  // namespace telegate::prometheus
