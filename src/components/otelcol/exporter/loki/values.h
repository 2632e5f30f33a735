// Go semantics of OTLP values for otelcol.exporter.loki: what the contrib Loki translator
// (pkg/translator/loki) makes of pcommon values, on the views of otlp_reader.h.
//
// Contract (all pure functions on views; thread-safe):
//  * appendJsonValue: Go encoding/json of Value.AsRaw() (maps with sorted keys, a later duplicate
//    key winning; bytes as base64; floats as encoding/json; HTML-safe strings); false (partial
//    output) when a NaN or infinity is met. appendJsonSorted: the same for an attribute list.
//  * asString: pcommon Value.AsString(). parseAttributeNames: the names a hint value selects
//    (comma-separated string, or the %v of each array element). getAttributeNested: the exact
//    key, else the longest dotted prefix naming a map that holds the rest.
//  * encodeLogfmtLine: the translator's logfmt line of a record (go-logfmt, src/common/gofmt.h).
//  * hexId / validId / appendHexQuoted: trace and span ids (empty or all-zero ids are absent).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "src/components/otelcol/exporter/loki/otlp_reader.h"

namespace telegate::otelcol::exporter_loki::detail {

bool appendJsonValue(std::string* out, const AnyValue& v);
bool appendJsonSorted(std::string* out, const AttrList& attrs, AttrList* tmp);
std::string asString(const AnyValue& v);

std::string_view trimSpace(std::string_view s);
std::vector<std::string> parseAttributeNames(const AnyValue& v);
bool getAttributeNested(std::string_view attr, const AttrList& attrs, AnyValue* out);
// The upper-case severity name of a severity number (1..24), "" otherwise.
const char* severityLevel(int n);

bool encodeLogfmtLine(const LogRecord& lr, const AttrList& attrs, const AttrList& res,
                      const Scope& scope, std::string* line, std::string* err);

std::string hexId(std::string_view id, size_t want);
bool validId(std::string_view id, size_t want);
void appendHexQuoted(std::string* out, std::string_view id);

// Stable insertion sort by key (the lists are a handful of attributes or labels).
template <class Vec>
void sortByFirst(Vec& v) {
  for (size_t i = 1; i < v.size(); ++i) {
    auto x = v[i];
    size_t j = i;
    while (j > 0 && x.first < v[j - 1].first) {
      v[j] = v[j - 1];
      --j;
    }
    v[j] = x;
  }
}

}  // namespace telegate::otelcol::exporter_loki::detail
