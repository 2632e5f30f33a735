#include "src/runtime/types.h"

#include <cmath>
#include <cstdio>

#include "src/common/strings.h"

namespace telegate::runtime {

absl::StatusOr<Duration> parseDuration(std::string_view s) {
  const std::string quoted = strCat("\"", s, "\"");
  std::string_view in = s;
  bool neg = false;
  if (!in.empty() && (in[0] == '-' || in[0] == '+')) {
    neg = in[0] == '-';
    in.remove_prefix(1);
  }
  if (in == "0") return Duration{};
  if (in.empty()) return absl::InvalidArgumentError("time: invalid duration " + quoted);
  long double total = 0;
  while (!in.empty()) {
    size_t i = 0;
    long double whole = 0;
    bool digits = false;
    while (i < in.size() && in[i] >= '0' && in[i] <= '9') {
      whole = whole * 10 + (in[i] - '0');
      ++i;
      digits = true;
    }
    long double frac = 0, scale = 1;
    if (i < in.size() && in[i] == '.') {
      ++i;
      while (i < in.size() && in[i] >= '0' && in[i] <= '9') {
        frac = frac * 10 + (in[i] - '0');
        scale *= 10;
        ++i;
        digits = true;
      }
    }
    if (!digits) return absl::InvalidArgumentError("time: invalid duration " + quoted);
    size_t u = i;
    while (u < in.size() && !(in[u] == '.' || (in[u] >= '0' && in[u] <= '9'))) ++u;
    std::string_view unit = in.substr(i, u - i);
    if (unit.empty()) return absl::InvalidArgumentError("time: missing unit in duration " + quoted);
    long double mult;
    if (unit == "ns") {
      mult = 1;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
      mult = 1e3;
    } else if (unit == "ms") {
      mult = 1e6;
    } else if (unit == "s") {
      mult = 1e9;
    } else if (unit == "m") {
      mult = 60e9;
    } else if (unit == "h") {
      mult = 3600e9;
    } else {
      return absl::InvalidArgumentError(
          strCat("time: unknown unit \"", unit, "\" in duration ", quoted));
    }
    total += (whole + frac / scale) * mult;
    if (total > 9.2e18L) return absl::InvalidArgumentError("time: invalid duration " + quoted);
    in.remove_prefix(u);
  }
  auto ns = static_cast<int64_t>(std::llround(static_cast<double>(total)));
  return Duration(std::chrono::nanoseconds(neg ? -ns : ns));
}

std::string formatDuration(Duration d) {
  int64_t ns = d.value.count();
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = ns < 0 ? static_cast<uint64_t>(-ns) : static_cast<uint64_t>(ns);
  auto fracStr = [](uint64_t v, uint64_t unit) {
    // Renders v/unit with trailing zeros of the fraction removed.
    std::string s = std::to_string(v / unit);
    uint64_t rem = v % unit;
    if (rem != 0) {
      std::string f = std::to_string(rem);
      size_t width = std::to_string(unit).size() - 1;
      f = std::string(width - f.size(), '0') + f;
      while (!f.empty() && f.back() == '0') f.pop_back();
      s += "." + f;
    }
    return s;
  };
  if (u < 1000) return sign + std::to_string(u) + "ns";
  if (u < 1000000) return sign + fracStr(u, 1000) + "us";
  if (u < 1000000000) return sign + fracStr(u, 1000000) + "ms";
  std::string out = sign;
  uint64_t h = u / 3600000000000ULL;
  u %= 3600000000000ULL;
  uint64_t m = u / 60000000000ULL;
  u %= 60000000000ULL;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += fracStr(u, 1000000000ULL) + "s";
  return out;
}

absl::StatusOr<ByteSize> parseByteSize(std::string_view s) {
  size_t i = 0;
  long double num = 0;
  bool digits = false;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    num = num * 10 + (s[i] - '0');
    ++i;
    digits = true;
  }
  if (i < s.size() && s[i] == '.') {
    long double scale = 0.1L;
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      num += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
      digits = true;
    }
  }
  if (!digits) return absl::InvalidArgumentError(strCat("invalid byte size \"", s, "\""));
  std::string_view unit = s.substr(i);
  struct U {
    std::string_view name;
    long double mult;
  };
  static constexpr U kUnits[] = {
      {"", 1},
      {"B", 1},
      {"KiB", 1024.0L},
      {"MiB", 1048576.0L},
      {"GiB", 1073741824.0L},
      {"TiB", 1099511627776.0L},
      {"KB", 1e3L},
      {"kB", 1e3L},
      {"MB", 1e6L},
      {"GB", 1e9L},
      {"TB", 1e12L},
      {"K", 1024.0L},
      {"M", 1048576.0L},
      {"G", 1073741824.0L},
  };
  for (const auto& u : kUnits) {
    if (u.name == unit) {
      long double v = num * u.mult;
      if (v > 1.8e19L) return absl::InvalidArgumentError(strCat("byte size \"", s, "\" too large"));
      return ByteSize(static_cast<uint64_t>(v));
    }
  }
  return absl::InvalidArgumentError(
      strCat("invalid byte size \"", s, "\": unknown unit \"", unit, "\""));
}

std::string formatByteSize(ByteSize b) {
  static constexpr std::pair<uint64_t, const char*> kUnits[] = {
      {1ULL << 40, "TiB"}, {1ULL << 30, "GiB"}, {1ULL << 20, "MiB"}, {1ULL << 10, "KiB"}};
  for (const auto& [mult, name] : kUnits) {
    if (b.bytes >= mult && b.bytes % mult == 0) return std::to_string(b.bytes / mult) + name;
  }
  return std::to_string(b.bytes) + "B";
}

}  // namespace telegate::runtime
