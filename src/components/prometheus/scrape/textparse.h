// Parser for the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text (the bodies
// prometheus.scrape reads from targets).
//
// Contract:
//  * ExpositionParser is incremental: feed() takes the body in pieces of any size (as they come
//    off the network or out of the decompressor) and hands every complete sample line to the
//    visitor at once; finish() parses a last line without '\n'. The parser keeps nothing per
//    sample: its only working memory is the part of a line not yet terminated (copied once, when
//    a line spans two pieces) and the label list of the line being parsed. Before its line buffer
//    grows it asks the visitor (onBufferGrow); a refusal fails the parse with RESOURCE_EXHAUSTED.
//  * A sample is passed as a SampleView: the metric name, its labels sorted by name (escapes \\,
//    \", \n resolved; duplicate label names rejected), the value (Go strconv rules: decimal,
//    exponent, NaN, +Inf, -Inf) and the optional timestamp (milliseconds in 0.0.4, seconds with
//    fraction in OpenMetrics). The views are valid only during the onSample() call.
//  * Metadata lines (# TYPE, # HELP, # UNIT) go to onMetadata(); OpenMetrics exemplars
//    (" # {...} v [ts]") are skipped; "# EOF" ends an OpenMetrics body (done() turns true and
//    the rest is ignored).
//  * Errors: a malformed line fails with INVALID_ARGUMENT naming the line number (as Prometheus
//    fails a scrape); an error returned by the visitor is returned as is. After an error the
//    parser must not be fed again.
//  * parseExposition() is a convenience over the parser for tests and tools: it collects every
//    sample (one ParsedSample each, with its own strings) and the metadata per family.
// Never throws, never crashes on any input (fuzzed). A parser is used by one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace telegate::prometheus {

using LabelPairView = std::pair<std::string_view, std::string_view>;

struct SampleView {
  std::string_view
      series_text;  // the line's name and label set as written (same text: same series)
  std::string_view name;
  const LabelPairView* labels = nullptr;  // sorted by name, without __name__
  size_t label_count = 0;
  double value = 0;
  std::optional<int64_t> timestamp_ms;
};

enum class MetadataKind { kType, kHelp, kUnit };

class ExpositionVisitor {
 public:
  virtual ~ExpositionVisitor() = default;
  // A non-OK status stops the parse and is returned by feed()/finish().
  virtual absl::Status onSample(const SampleView& sample) = 0;
  virtual void onMetadata(MetadataKind, std::string_view /*family*/, std::string_view /*value*/) {}
  // The parser is about to hold `bytes` more bytes of an unterminated line; false refuses.
  virtual bool onBufferGrow(size_t /*bytes*/) { return true; }
};

enum class ExpositionFormat { kText004, kOpenMetrics };

// Picks the format from a Content-Type header (OpenMetrics for application/openmetrics-text).
ExpositionFormat formatFromContentType(std::string_view content_type);

class ExpositionParser {
 public:
  explicit ExpositionParser(ExpositionFormat format) : format_(format) {}
  absl::Status feed(std::string_view piece, ExpositionVisitor& visitor);
  absl::Status finish(ExpositionVisitor& visitor);
  // "# EOF" was seen (OpenMetrics): the rest of the body is ignored.
  bool done() const { return done_; }
  // Bytes of working memory held (line buffer and scratch capacity).
  size_t memoryBytes() const {
    return carry_.capacity() + unescaped_.capacity() + labels_.capacity() * sizeof(LabelPairView);
  }

 private:
  absl::Status parseLine(std::string_view line, ExpositionVisitor& visitor);
  absl::Status parseSample(std::string_view line, ExpositionVisitor& visitor);
  // False with an empty *err: the visitor refused memory.
  bool parseLabels(std::string_view s, size_t* i, std::string* err, ExpositionVisitor& visitor);

  ExpositionFormat format_;
  bool done_ = false;
  int lineno_ = 0;
  std::string carry_;                  // an unterminated line from the previous piece
  std::string unescaped_;              // label values with escapes, for the current line
  std::vector<LabelPairView> labels_;  // labels of the current line
};

// ---- convenience (tests, tools) ----

struct ParsedSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by name, without __name__
  double value = 0;
  std::optional<int64_t> timestamp_ms;
};

struct FamilyMeta {
  std::string type;  // counter, gauge, histogram, summary, untyped, info, stateset, ...
  std::string help;
  std::string unit;
};

struct Exposition {
  std::vector<ParsedSample> samples;
  std::map<std::string, FamilyMeta> families;
};

// Parses a whole body; on error `out` keeps what was parsed before the bad line.
absl::Status parseExposition(std::string_view body, ExpositionFormat format, Exposition* out);

}  // namespace telegate::prometheus
