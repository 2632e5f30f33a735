// Fuzz target: the Prometheus / OpenMetrics text parser used by prometheus.scrape. The first byte
// picks the format and the size of the pieces the body is fed in (as the network hands it over).
// Any input must be parsed or rejected without crashing; samples have sorted, unique label names;
// feeding the body whole or in pieces gives the same samples and the same verdict.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/components/prometheus/scrape/textparse.h"

namespace {

using telegate::prometheus::ExpositionParser;
using telegate::prometheus::ExpositionVisitor;
using telegate::prometheus::SampleView;

class Check : public ExpositionVisitor {
 public:
  absl::Status onSample(const SampleView& s) override {
    for (size_t i = 1; i < s.label_count; ++i) {
      if (!(s.labels[i - 1].first < s.labels[i].first)) __builtin_trap();
    }
    std::string key(s.name);
    for (size_t i = 0; i < s.label_count; ++i) {
      key.append("\xff").append(s.labels[i].first).append("\xfe").append(s.labels[i].second);
    }
    keys.push_back(std::move(key));
    return absl::OkStatus();
  }
  std::vector<std::string> keys;
};

bool run(std::string_view body, telegate::prometheus::ExpositionFormat f, size_t piece, Check* c) {
  ExpositionParser p(f);
  for (size_t off = 0; off < body.size(); off += piece) {
    if (!p.feed(body.substr(off, piece), *c).ok()) return false;
  }
  return p.finish(*c).ok();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto format = (data[0] & 1) ? telegate::prometheus::ExpositionFormat::kOpenMetrics
                              : telegate::prometheus::ExpositionFormat::kText004;
  const size_t piece = (data[0] >> 1) + 1;
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  Check whole, pieces;
  const bool ok_whole = run(body, format, body.size() + 1, &whole);
  const bool ok_pieces = run(body, format, piece, &pieces);
  if (ok_whole != ok_pieces || whole.keys != pieces.keys) __builtin_trap();
  telegate::prometheus::Exposition e;
  (void)telegate::prometheus::parseExposition(body, format, &e);
  return 0;
}
