// String concatenation helpers that accept std::string_view.
//
// Contract: Debian's abseil is built with its own absl::string_view (not an alias of
// std::string_view), so absl::StrCat rejects std::string_view arguments. strCat/strAppend/strJoin
// accept std::string, std::string_view, absl::string_view, C strings, chars and integers.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/string_view.h"

namespace telegate {

namespace strings_detail {
inline void append(std::string& out, const std::string& s) {
  out.append(s);
}
inline void append(std::string& out, std::string_view s) {
  out.append(s.data(), s.size());
}
inline void append(std::string& out, absl::string_view s) {
  out.append(s.data(), s.size());
}
inline void append(std::string& out, const char* s) {
  out.append(s);
}
inline void append(std::string& out, char c) {
  out.push_back(c);
}
template <class T>
requires(std::is_integral_v<T> && !std::is_same_v<T, char> &&
         !std::is_same_v<T, bool>) inline void append(std::string& out, T v) {
  out += std::to_string(v);
}
}  // namespace strings_detail

template <class... A>
std::string strCat(const A&... a) {
  std::string out;
  (strings_detail::append(out, a), ...);
  return out;
}

template <class... A>
void strAppend(std::string* out, const A&... a) {
  (strings_detail::append(*out, a), ...);
}

template <class Range>
std::string strJoin(const Range& items, std::string_view sep) {
  std::string out;
  bool first = true;
  for (const auto& x : items) {
    if (!first) out.append(sep.data(), sep.size());
    first = false;
    strings_detail::append(out, x);
  }
  return out;
}

}  // namespace telegate
