// prometheus.scrape: reads one scrape's response body as it arrives from the network and feeds
// it to the exposition parser, so that nothing of the body is held beyond the piece in hand.
//
// Contract:
//  * begin(content_encoding): "gzip" bodies are inflated as they arrive (concatenated members one
//    after the other, as Go's gzip reader; trailing garbage or a truncated stream fail the
//    scrape); any other encoding is read as is (Prometheus only asks for gzip or identity).
//  * feed(piece): the raw bytes and the decoded bytes are each counted against `limit`
//    (body_size_limit, or telegate's own cap when it is 0); the scrape fails with reason
//    "body_size" ("body size limit exceeded") as soon as either crosses it, before the excess is
//    parsed. Inflating stops there too, so a gzip bomb costs the time to inflate `limit` bytes.
//  * Working memory: the inflate state and a fixed 64 KiB output buffer, charged to `charge`
//    before they are allocated (refusal: reason "memory_budget"); the parser's line buffer and
//    everything the visitor keeps are charged by the visitor.
//  * Errors from the parser or the visitor are returned as is; failureReason() is then empty
//    unless the reader itself failed ("body_size", "memory_budget", "parse" for a corrupt gzip
//    stream). After an error the reader must not be fed again.
//  * finish(): the end of the body (checks that a gzip stream was complete, parses a last line
//    without '\n'). bodyBytes() is the decoded size read so far.
// Used by one thread (the scrape's worker).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "src/components/prometheus/scrape/scrape_memory.h"
#include "src/components/prometheus/scrape/textparse.h"

namespace telegate::prometheus::scrape {

class BodyReader {
 public:
  BodyReader(size_t limit, ScrapeCharge* charge, ExpositionParser* parser,
             ExpositionVisitor* visitor);
  ~BodyReader();
  BodyReader(const BodyReader&) = delete;
  BodyReader& operator=(const BodyReader&) = delete;

  absl::Status begin(std::string_view content_encoding);
  absl::Status feed(std::string_view piece);
  absl::Status finish();
  size_t bodyBytes() const { return decoded_; }
  const std::string& failureReason() const { return reason_; }
  static constexpr size_t kInflateBuffer = 64 << 10;
  // Charged for zlib's inflate state and window.
  static constexpr size_t kInflateState = 48 << 10;

 private:
  absl::Status fail(std::string_view reason, std::string message);
  absl::Status parse(std::string_view decoded);
  absl::Status inflateSome(std::string_view piece);

  struct Inflater;
  const size_t limit_;
  ScrapeCharge* charge_;
  ExpositionParser* parser_;
  ExpositionVisitor* visitor_;
  std::unique_ptr<Inflater> gz_;  // null: identity
  size_t raw_ = 0;
  size_t decoded_ = 0;
  std::string reason_;
};

}  // namespace telegate::prometheus::scrape
