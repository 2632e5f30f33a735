// libFuzzer target for src/common/decompress.
//
// Input: byte 0 picks the Content-Encoding, byte 1 the output cap, the rest is the body. Checks:
// decompress() never crashes, never returns more than the cap, and fails only with
// InvalidArgument or ResourceExhausted (the limit error). The rest of the input is then used as
// plain data for a round trip through compress()/compressSnappyFramed(): it must decode to itself
// with the cap equal to its size, and hit the limit error with one byte less.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "src/common/decompress.h"

namespace {

constexpr std::string_view kEncodings[] = {"",     "identity", "gzip",   "deflate",
                                           "zlib", "zstd",     "snappy", "br"};
constexpr size_t kCaps[] = {0, 1, 64, 1000, 4096, 65536, 1 << 20, 4 << 20};
constexpr size_t kMaxRoundTrip = 64 << 10;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void roundTrip(std::string_view enc, const std::string& encoded, std::string_view plain) {
  auto back = telegate::decompress(enc, encoded, plain.size());
  check(back.ok() && *back == plain);
  if (!plain.empty()) {
    auto over = telegate::decompress(enc, encoded, plain.size() - 1);
    check(!over.ok() && telegate::isDecompressLimitError(over.status()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string_view enc = kEncodings[data[0] % 8];
  const size_t cap = kCaps[data[1] % 8];
  const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);

  auto out = telegate::decompress(enc, body, cap);
  if (out.ok()) {
    check(out->size() <= cap);
  } else {
    const auto code = out.status().code();
    check(code == absl::StatusCode::kInvalidArgument ||
          (code == absl::StatusCode::kResourceExhausted &&
           telegate::isDecompressLimitError(out.status())));
    check(telegate::isSupportedEncoding(enc) || code == absl::StatusCode::kInvalidArgument);
  }

  if (body.size() <= kMaxRoundTrip && telegate::isSupportedEncoding(enc)) {
    auto encoded = telegate::compress(enc, body, /*level=*/1);
    check(encoded.ok());
    roundTrip(enc, *encoded, body);
    if (enc == "snappy") roundTrip(enc, telegate::compressSnappyFramed(body), body);
  }
  return 0;
}
