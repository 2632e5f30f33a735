// Fuzz target: pod log lines as the Kubernetes API returns them with timestamps=true (parsed by
// loki.source.kubernetes). Any input must parse or be rejected without crashing; the text is
// always a part of the input, and an accepted timestamp round-trips its own prefix.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "src/components/loki/source/kubernetes/logline.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  int64_t ns = 0;
  std::string_view text;
  bool has_ts = telegate::loki::source_kubernetes::parseLogLine(line, &ns, &text);
  if (text.data() < line.data() || text.data() + text.size() > line.data() + line.size()) {
    __builtin_trap();
  }
  if (has_ts) {
    int64_t again = 0;
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos ||
        !telegate::loki::source_kubernetes::parseRfc3339(line.substr(0, sp), &again) ||
        again != ns) {
      __builtin_trap();
    }
  }
  return 0;
}
