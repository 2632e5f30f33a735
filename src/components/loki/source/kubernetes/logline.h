// Lines of a Kubernetes pod log read with `timestamps=true`.
//
// Contract: parseLogLine() splits a line at the first space; a prefix that parses as RFC 3339
// (with or without a fraction of up to nine digits, `Z` or a numeric offset) is the entry time in
// Unix nanoseconds and the rest is the text. Without a parsable prefix the whole line is the text
// and the result is false. A trailing "\n" or "\r\n" is not part of the text (Alloy keeps the
// "\n"; telegate does not send it to Loki). parseRfc3339() accepts exactly one timestamp and
// nothing else. Both are pure, never fail on any input and are fuzzed (fuzz/fuzz_k8s_logline).
#pragma once

#include <cstdint>
#include <string_view>

namespace telegate::loki::source_kubernetes {

bool parseRfc3339(std::string_view s, int64_t* unix_ns);
bool parseLogLine(std::string_view line, int64_t* ts_ns, std::string_view* text);

}  // namespace telegate::loki::source_kubernetes
