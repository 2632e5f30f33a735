// Bounded decompression of HTTP bodies (Content-Encoding) and the matching compressors.
//
// Contract:
//  * decompress(encoding, body, max_output) decodes `body` according to an HTTP Content-Encoding
//    value, matched exactly (case-sensitive, like Go's confighttp):
//      ""/"identity"  the body as is (still subject to max_output)
//      "gzip"         RFC 1952; concatenated members are decoded one after the other (like Go's
//                     multistream gzip.Reader); trailing garbage is an error
//      "zlib"         RFC 1950 (zlib-wrapped deflate)
//      "deflate"      RFC 1950 like "zlib"; a body without a valid zlib header is decoded as raw
//                     RFC 1951 deflate (what some clients send)
//      "zstd"         RFC 8878 frames (several frames and skippable frames allowed), decoded with
//                     the streaming API: the frame's declared content size is never trusted, and
//                     the window is limited to max(16 MiB, next power of two >= max_output), at
//                     most 128 MiB, so a frame cannot make the decoder allocate a huge window
//                     (a larger window -> InvalidArgument)
//      "snappy"       the framing format when the body starts with the stream identifier chunk
//                     (ff 06 00 00 "sNaPpY"; chunk CRC-32C checked), otherwise the block format;
//                     declared uncompressed lengths are checked against the limit BEFORE anything
//                     is allocated
//    An empty body decodes to an empty string for every supported encoding.
//  * Errors:
//      unsupported encoding          -> InvalidArgument "unsupported Content-Encoding: <enc>"
//      output would exceed max_output -> ResourceExhausted
//                                        "decompressed body exceeds the limit of <N> bytes"
//      corrupt or truncated data     -> InvalidArgument naming the encoding and the problem
//      a codec cannot allocate its state -> ResourceExhausted/Internal (not the limit error)
//    Memory stays bounded by the limit: output is produced incrementally into segments that grow
//    geometrically and total at most max_output + 1 bytes (plus the decoder's fixed state and,
//    for zstd, its window), and decoding stops as soon as the limit is crossed. A successful
//    result spread over several segments is concatenated once (transiently twice its size).
//    Size hints only choose the first segment's size, never beyond the cap: gzip's ISIZE
//    (at most 1032x the body, deflate's maximum ratio), zstd's declared content size (at most 64x
//    the body). A 1 GiB bomb costs O(max_output) memory and the time to inflate max_output bytes.
//  * decompress(encoding, body, max_output, budget, charge) is the same, charging the memory it
//    allocates to `budget` (null: nothing charged) BEFORE allocating it: every output segment,
//    the final concatenation and, for zstd, the window the first frame declares. When the budget
//    has no room the call stops -> ResourceExhausted "memory limit reached while decompressing"
//    (isDecompressMemoryError()), and nothing stays charged. On success `*charge` (if non-null)
//    holds the reservation covering the returned string (its capacity, at least its size); with
//    a null `charge` the charge is released when the call returns. The transient window and
//    segment charges are released before returning.
//  * compress(encoding, data) produces a body for "", "identity", "gzip", "zlib", "deflate"
//    (zlib-wrapped, the HTTP meaning), "zstd" and "snappy" (block format);
//    compressSnappyFramed() produces the snappy framing format. Unsupported encoding ->
//    InvalidArgument.
//  * isSupportedEncoding() tells whether decompress() knows an encoding.
// All functions are pure and thread-safe; they never throw (allocation failure aside).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/common/memory_budget.h"

namespace telegate {

absl::StatusOr<std::string> decompress(std::string_view encoding, std::string_view body,
                                       size_t max_output);
absl::StatusOr<std::string> decompress(std::string_view encoding, std::string_view body,
                                       size_t max_output, MemoryBudget* budget,
                                       MemoryReservation* charge);

bool isSupportedEncoding(std::string_view encoding);

// level: codec-specific; 0 = the codec's default.
absl::StatusOr<std::string> compress(std::string_view encoding, std::string_view data,
                                     int level = 0);

std::string compressSnappyFramed(std::string_view data);

// True when `err` is decompress()'s "output exceeds the limit" error.
bool isDecompressLimitError(const absl::Status& err);
// True when `err` is decompress()'s "memory limit reached" error (the budget had no room).
bool isDecompressMemoryError(const absl::Status& err);

}  // namespace telegate
