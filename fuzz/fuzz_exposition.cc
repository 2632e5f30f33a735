// Fuzz target: the Prometheus / OpenMetrics text parser used by prometheus.scrape. The first byte
// picks the format. Any input must be parsed or rejected without crashing; parsed samples have
// sorted, unique label names.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "src/components/prometheus/scrape/textparse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto format = (data[0] & 1) ? telegate::prometheus::ExpositionFormat::kOpenMetrics
                              : telegate::prometheus::ExpositionFormat::kText004;
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  telegate::prometheus::Exposition e;
  (void)telegate::prometheus::parseExposition(body, format, &e);
  for (const auto& s : e.samples) {
    for (size_t i = 1; i < s.labels.size(); ++i) {
      if (!(s.labels[i - 1].first < s.labels[i].first)) __builtin_trap();
    }
  }
  return 0;
}
