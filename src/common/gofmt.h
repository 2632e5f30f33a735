// Go-compatible text formatting: what telegate's outputs must spell exactly as the Go programs
// they replace (Alloy, the OpenTelemetry Collector) do.
//
// Contract:
//  * UTF-8: decodeRune() is Go's utf8.DecodeRuneInString at byte offset i (i < s.size()):
//    (rune, width) for a valid sequence, (kRuneError, 1) for a byte that does not start one
//    (overlong forms, surrogates and values above U+10FFFF are invalid). appendRune() appends the
//    UTF-8 encoding of a valid rune.
//  * appendQuote() appends strconv.Quote(s): ASCII escapes (\a \b \f \n \r \t \v, \xNN for other
//    controls and DEL), valid non-ASCII runes kept except C1 controls, U+00AD, U+2028, U+2029 and
//    U+FEFF (as \uNNNN), invalid bytes as \xNN.
//  * Numbers, float64 as Go formats it with the shortest digits that round-trip:
//      formatFloatF  strconv.FormatFloat(f, 'f', -1, 64)  (finite values only)
//      formatFloatE  strconv.FormatFloat(f, 'e', -1, 64)  (finite values only)
//      formatFloatV  fmt.Sprint(f): %g with the shortest digits, the 'e' form when the decimal
//                    exponent is < -4 or >= 6; NaN, +Inf, -Inf, -0 spelled as Go does
//      appendJsonFloat encoding/json's float64 encoding; false (nothing appended) for NaN and
//                    the infinities, which encoding/json refuses.
//  * logfmt, as github.com/go-logfmt/logfmt (the encoder and decoder Loki's OTLP translator
//    uses):
//      encodeLogfmt    MarshalKeyvals of the pairs: invalid key runes (<= ' ', '=', '"', U+FFFD)
//                      dropped from keys, an empty key is an error ("invalid key"), a nil key
//                      too ("nil key"); values quoted when they hold such runes, a string value
//                      "null" quoted. Appends to *out (a space between pairs when *out is not
//                      empty); false with *err on an error (*out then holds a partial line).
//      parseLogfmtLine Decoder.ScanRecord + ScanKeyval over the first line of `text`; false on
//                      a syntax error (the pairs read until then are left in *out).
//  * Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace telegate::gofmt {

inline constexpr uint32_t kRuneError = 0xFFFD;

std::pair<uint32_t, size_t> decodeRune(std::string_view s, size_t i);
void appendRune(std::string* out, uint32_t r);
void appendQuote(std::string* out, std::string_view s);

std::string formatFloatF(double f);
std::string formatFloatE(double f);
std::string formatFloatV(double f);
bool appendJsonFloat(std::string* out, double f);

struct LogfmtKeyVal {
  std::string key;
  std::string value;
  bool is_bytes = false;  // []byte value: no "null" special case
  bool is_nil = false;    // nil key -> encoding error
};

bool encodeLogfmt(const std::vector<LogfmtKeyVal>& kvs, std::string* out, std::string* err);
bool parseLogfmtLine(std::string_view text, std::vector<LogfmtKeyVal>* out);

}  // namespace telegate::gofmt
