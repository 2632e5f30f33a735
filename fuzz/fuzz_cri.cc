// Fuzz target: CRI container log lines (/var/log/pods files read by loki.source.file and parsed
// by loki.process stage.cri). The input is split at newlines into entries of two label sets and
// run through the stage with a small partial-line limit; nothing may crash, every output line is
// made of input bytes, and draining leaves no state behind.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "src/components/loki/process/cri.h"

using telegate::loki::Entry;
using telegate::loki::process::CriLine;
using telegate::loki::process::CriOptions;
using telegate::loki::process::CriStage;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<Entry> entries;
  size_t total = 0;
  while (!in.empty()) {
    size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    CriLine c;
    if (telegate::loki::process::parseCri(line, &c)) {
      if (c.content.size() > line.size()) __builtin_trap();
    }
    Entry e;
    e.labels = {{"f", (line.size() & 1) ? "a" : "b"}};
    e.line = std::string(line);
    total += line.size();
    entries.push_back(std::move(e));
    if (nl == std::string_view::npos) break;
    in.remove_prefix(nl + 1);
  }
  CriOptions o;
  o.max_partial_lines = 1;
  o.max_partial_line_size = 64;
  o.max_partial_line_size_truncate = (size & 1) != 0;
  CriStage stage(o);
  std::vector<Entry> out;
  stage.process(std::move(entries), &out);
  stage.drain(&out);
  if (!stage.snapshot().empty()) __builtin_trap();
  size_t out_total = 0;
  for (const auto& e : out) out_total += e.line.size();
  if (out_total > total) __builtin_trap();
  return 0;
}
