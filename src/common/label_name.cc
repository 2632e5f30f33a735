// Prometheus-style label name normalisation (see label_name.h for the contract).
#include "src/common/label_name.h"

#include "src/common/gofmt.h"

namespace telegate::labels {
namespace {

bool isAsciiLetterOrDigit(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

bool singleUnderscore(std::string_view n) {
  return n[0] == '_' && !(n.size() > 1 && n[1] == '_');
}

}  // namespace

std::string normalizeLabelName(std::string_view name) {
  if (name.empty()) return std::string();
  std::string out;
  out.reserve(name.size() + 4);
  for (size_t i = 0; i < name.size();) {
    auto [r, n] = gofmt::decodeRune(name, i);
    out.push_back(r < 0x80 && isAsciiLetterOrDigit(static_cast<char>(r)) ? static_cast<char>(r)
                                                                         : '_');
    i += n;
  }
  if (isDigit(out[0])) return "key_" + out;
  if (singleUnderscore(out)) return "key" + out;
  return out;
}

bool isNormalLabelName(std::string_view n) {
  if (n.empty()) return true;
  for (char c : n) {
    if (!(isAsciiLetterOrDigit(c) || c == '_')) return false;
  }
  return !isDigit(n[0]) && !singleUnderscore(n);
}

}  // namespace telegate::labels
