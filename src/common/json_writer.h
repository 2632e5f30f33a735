// One JSON string writer: a string escaped into a JSON string literal (RFC 8259), in the
// spellings the different outputs of telegate have always used.
//
// Contract:
//  * appendString() appends `"` + the escaped bytes of `s` + `"` to *out; quote() returns them.
//    '"' and '\\' are always escaped as \" and \\; control characters (< 0x20) as the short
//    escapes the style allows, else as \u00XX (lower-case hex); every other byte below 0x80 is
//    copied, except '<', '>' and '&' under html_safe.
//  * Bytes >= 0x80: with replace_invalid_utf8, valid UTF-8 sequences are copied and every byte
//    that does not start one (Go's utf8.DecodeRuneInString returning (RuneError, 1)) becomes
//    \ufffd; U+2028 and U+2029 become \u2028 / \u2029 under html_safe. Without
//    replace_invalid_utf8 the bytes are copied as they are (callers with valid UTF-8 or whose
//    readers accept any bytes).
//  * The named styles are the ones telegate's outputs use; each call site keeps its own:
//      kJsonRfc8259  short escapes \b \f \n \r \t, invalid UTF-8 -> \ufffd (log lines, OTLP/HTTP
//                    error bodies).
//      kJsonGo       Go encoding/json (Go >= 1.22): kJsonRfc8259 plus html_safe
//                    (\u003c \u003e \u0026 \u2028 \u2029) (otelcol.exporter.loki lines).
//      kJsonGoLegacy Go encoding/json before 1.22: as kJsonGo but \b and \f as \u0008 and \u000c
//                    (syntax toJson, the admin API).
//      kJsonMinimal  only '"', '\\' and control characters (all as \u00XX) escaped, other bytes
//                    copied (positions files, otelcol.exporter.prometheus label values).
//  * Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace telegate::json {

struct StringStyle {
  enum class Controls {
    kShort,      // \b \f \n \r \t, others \u00XX
    kShortNoBF,  // \n \r \t, others (\b, \f too) \u00XX
    kHex,        // every control character \u00XX
  };
  Controls controls = Controls::kShort;
  bool html_safe = false;            // <, >, &, U+2028, U+2029 as \uXXXX
  bool replace_invalid_utf8 = true;  // invalid UTF-8 byte -> \ufffd (else copied)
};

inline constexpr StringStyle kJsonRfc8259{StringStyle::Controls::kShort, false, true};
inline constexpr StringStyle kJsonGo{StringStyle::Controls::kShort, true, true};
inline constexpr StringStyle kJsonGoLegacy{StringStyle::Controls::kShortNoBF, true, true};
inline constexpr StringStyle kJsonMinimal{StringStyle::Controls::kHex, false, false};

void appendString(std::string* out, std::string_view s, const StringStyle& style = kJsonRfc8259);
std::string quote(std::string_view s, const StringStyle& style = kJsonRfc8259);

}  // namespace telegate::json
