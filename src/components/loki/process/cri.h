// The CRI log format (container runtime log files under /var/log/pods) and the `stage.cri`
// processing stage of loki.process.
//
// Contract:
//  * parseCri() reads `<time> <stream> [<flag>] <content>` as Alloy does: the time is the text up
//    to the first whitespace (not validated), the stream must be "stdout" or "stderr" preceded by
//    one space, the flag ("F" full, "P" partial) is optional (missing = F), and the content starts
//    after one optional space. False when the stream is missing: the line is not CRI. Pure; the
//    views point into the input. Fuzzed (fuzz/fuzz_cri).
//  * CriStage::process() rewrites each entry in place: line = content, timestamp = the CRI time
//    when it parses as RFC 3339, label `stream` = stdout|stderr. Non-CRI lines pass unchanged.
//    Partial (P) lines are held per label set and joined with the following pieces until a full
//    (F) line completes them; the joined entry is emitted then. When max_partial_lines label sets
//    hold partials and another one arrives, every held partial is emitted as it is (counted in
//    flushedPartials()). With max_partial_line_size_truncate, a line longer than
//    max_partial_line_size is cut to it (counted in truncatedLines()).
//  * The stage keeps state between calls; snapshot()/restore() let a caller undo a call whose
//    output could not be delivered. Not thread-safe: the owner serialises calls.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "src/components/loki/api.h"

namespace telegate::loki::process {

struct CriLine {
  std::string_view time;
  std::string_view stream;  // "stdout" or "stderr"
  bool partial = false;
  std::string_view content;
};

bool parseCri(std::string_view line, CriLine* out);

struct CriOptions {
  int64_t max_partial_lines = 100;
  uint64_t max_partial_line_size = 0;
  bool max_partial_line_size_truncate = false;
};

class CriStage {
 public:
  explicit CriStage(CriOptions opts) : opts_(opts) {}
  // Processes `in` in order; the entries to pass on are appended to *out.
  void process(std::vector<Entry>&& in, std::vector<Entry>* out);
  // Emits every held partial line (at shutdown).
  void drain(std::vector<Entry>* out);

  using State = std::map<LabelSet, Entry>;
  const State& snapshot() const { return partials_; }
  void restore(State s) { partials_ = std::move(s); }

  uint64_t flushedPartials() const { return flushed_; }
  uint64_t truncatedLines() const { return truncated_; }

 private:
  void truncate(Entry* e);

  CriOptions opts_;
  State partials_;  // keyed by the entry's labels (including `stream`)
  uint64_t flushed_ = 0;
  uint64_t truncated_ = 0;
};

}  // namespace telegate::loki::process
