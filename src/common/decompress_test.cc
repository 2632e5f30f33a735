#include "src/common/decompress.h"
#include "src/common/memory_budget.h"

#include <zlib.h>
#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace telegate {
namespace {

using Clock = std::chrono::steady_clock;

std::string msg(const absl::Status& s) {
  return std::string(s.message());
}

std::string sampleText(size_t n) {
  std::string s;
  std::mt19937 rng(42);
  static const char* words[] = {"alpha ", "beta ", "gamma ", "delta ", "{\"k\":1} ", "\x01\x02"};
  while (s.size() < n) s += words[rng() % 6];
  s.resize(n);
  return s;
}

std::string randomBytes(size_t n) {
  std::string s(n, '\0');
  std::mt19937 rng(7);
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string rawDeflate(std::string_view data) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 16, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// Streams `total` zero bytes through a compressor without materialising them.
std::string gzipZeros(size_t total) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
  const std::string zeros(1 << 20, '\0');
  std::string out;
  char buf[1 << 16];
  size_t left = total;
  for (;;) {
    const size_t feed = std::min(left, zeros.size());
    left -= feed;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
    zs.avail_in = static_cast<uInt>(feed);
    const int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    int rc;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf);
      zs.avail_out = sizeof(buf);
      rc = deflate(&zs, flush);
      out.append(buf, sizeof(buf) - zs.avail_out);
    } while (zs.avail_out == 0);
    if (flush == Z_FINISH) {
      EXPECT_EQ(rc, Z_STREAM_END);
      break;
    }
  }
  deflateEnd(&zs);
  return out;
}

std::string zstdZeros(size_t total, bool pledge) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
  if (pledge) ZSTD_CCtx_setPledgedSrcSize(cctx, total);
  const std::string zeros(1 << 20, '\0');
  std::string out;
  char buf[1 << 16];
  size_t left = total;
  for (;;) {
    const size_t feed = std::min(left, zeros.size());
    left -= feed;
    ZSTD_inBuffer in{zeros.data(), feed, 0};
    const auto mode = left == 0 ? ZSTD_e_end : ZSTD_e_continue;
    size_t rc;
    do {
      ZSTD_outBuffer ob{buf, sizeof(buf), 0};
      rc = ZSTD_compressStream2(cctx, &ob, &in, mode);
      EXPECT_FALSE(ZSTD_isError(rc));
      out.append(buf, ob.pos);
    } while (mode == ZSTD_e_end ? rc != 0 : in.pos < in.size);
    if (mode == ZSTD_e_end) break;
  }
  ZSTD_freeCCtx(cctx);
  return out;
}

// Peak RSS tracking: /proc/self/clear_refs "5" resets VmHWM (Linux >= 4.0).
bool resetPeakRss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

long peakRssKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

const std::vector<std::string> kCodecs = {"",        "identity", "gzip",  "zlib",
                                          "deflate", "zstd",     "snappy"};

TEST(Decompress, RoundTripsEveryEncoding) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{1000}, size_t{300000}}) {
    for (const std::string& data : {sampleText(n), randomBytes(n)}) {
      for (const auto& enc : kCodecs) {
        SCOPED_TRACE(enc + " n=" + std::to_string(n));
        auto c = compress(enc, data);
        ASSERT_TRUE(c.ok()) << c.status();
        auto d = decompress(enc, *c, 1 << 20);
        ASSERT_TRUE(d.ok()) << d.status();
        EXPECT_EQ(*d, data);
      }
      auto framed = decompress("snappy", compressSnappyFramed(data), 1 << 20);
      ASSERT_TRUE(framed.ok()) << framed.status();
      EXPECT_EQ(*framed, data);
    }
  }
}

TEST(Decompress, UnsupportedEncoding) {
  for (const char* enc : {"br", "GZIP", "x-gzip", "gzip ", "lz4"}) {
    auto r = decompress(enc, "abc", 100);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(msg(r.status()), std::string("unsupported Content-Encoding: ") + enc);
    EXPECT_FALSE(isSupportedEncoding(enc));
  }
  EXPECT_FALSE(compress("br", "x").ok());
}

TEST(Decompress, EmptyBodyIsEmptyForAllEncodings) {
  for (const auto& enc : kCodecs) {
    auto r = decompress(enc, "", 0);
    ASSERT_TRUE(r.ok()) << enc << ": " << r.status();
    EXPECT_EQ(*r, "");
  }
}

TEST(Decompress, ExactLimitIsAcceptedOneMoreIsNot) {
  const std::string data = sampleText(100000);
  std::vector<std::pair<std::string, std::string>> bodies;
  for (const auto& enc : kCodecs) bodies.emplace_back(enc, *compress(enc, data));
  bodies.emplace_back("snappy", compressSnappyFramed(data));
  for (const auto& [enc, body] : bodies) {
    SCOPED_TRACE(enc);
    auto ok = decompress(enc, body, data.size());
    ASSERT_TRUE(ok.ok()) << ok.status();
    EXPECT_EQ(*ok, data);
    auto over = decompress(enc, body, data.size() - 1);
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(msg(over.status()), "decompressed body exceeds the limit of 99999 bytes");
    EXPECT_TRUE(isDecompressLimitError(over.status()));
  }
  EXPECT_FALSE(isDecompressLimitError(absl::InvalidArgumentError("x")));
  EXPECT_FALSE(isDecompressLimitError(absl::ResourceExhaustedError("queue full")));
}

TEST(Decompress, DeflateAcceptsZlibAndRawZlibDoesNot) {
  const std::string data = sampleText(5000);
  const std::string raw = rawDeflate(data);
  auto d = decompress("deflate", raw, 1 << 20);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, data);
  auto z = decompress("zlib", raw, 1 << 20);
  EXPECT_EQ(z.status().code(), absl::StatusCode::kInvalidArgument);
  auto g = decompress("gzip", raw, 1 << 20);
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Decompress, GzipConcatenatedMembers) {
  const std::string a = sampleText(1000), b = randomBytes(777);
  const std::string body = *compress("gzip", a) + *compress("gzip", b);
  auto d = decompress("gzip", body, 1 << 20);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, a + b);
  // Trailing garbage after a member is an error.
  auto bad = decompress("gzip", *compress("gzip", a) + "garbage!", 1 << 20);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  // zlib has no members: trailing data is an error.
  auto zbad = decompress("zlib", *compress("zlib", a) + "x", 1 << 20);
  EXPECT_EQ(zbad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Decompress, ZstdMultipleFramesAndSkippable) {
  const std::string a = sampleText(1000), b = randomBytes(500);
  std::string skippable("\x50\x2a\x4d\x18\x03\x00\x00\x00xyz", 11);
  const std::string body = *compress("zstd", a) + skippable + *compress("zstd", b);
  auto d = decompress("zstd", body, 1 << 20);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, a + b);
}

TEST(Decompress, TruncatedAndCorruptBodiesAreInvalidArgument) {
  const std::string data = sampleText(50000) + randomBytes(20000);
  for (const auto& enc : {"gzip", "zlib", "deflate", "zstd", "snappy"}) {
    SCOPED_TRACE(enc);
    const std::string body = *compress(enc, data);
    for (size_t cut : {size_t{1}, size_t{2}, body.size() / 2, body.size() - 1}) {
      auto r = decompress(enc, body.substr(0, cut), 1 << 20);
      ASSERT_FALSE(r.ok()) << "cut=" << cut;
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    }
    std::string flipped = body;
    for (size_t i = 10; i < flipped.size(); i += 97) flipped[i] ^= 0x5a;
    auto r = decompress(enc, flipped, 1 << 20);
    if (r.ok()) {
      EXPECT_NE(*r, data);  // snappy blocks carry no checksum
    } else {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    }
  }
  auto junk = decompress("gzip", "this is not gzip", 100);
  EXPECT_EQ(junk.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(msg(junk.status()).find("gzip"), std::string::npos);
}

TEST(Decompress, SnappyFramedChecksAndChunkTypes) {
  const std::string data = sampleText(200000);
  std::string body = compressSnappyFramed(data);
  // Padding and reserved skippable chunks are skipped; a repeated stream identifier is allowed.
  std::string extra = std::string("\xfe\x03\x00\x00pad", 7) + std::string("\x80\x01\x00\x00z", 5) +
                      std::string("\xff\x06\x00\x00sNaPpY", 10);
  auto d = decompress("snappy", body + extra + compressSnappyFramed("tail"), 1 << 20);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, data + "tail");

  std::string bad_crc = body;
  bad_crc[14] ^= 1;  // first chunk's checksum
  auto c = decompress("snappy", bad_crc, 1 << 20);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(msg(c.status()).find("checksum"), std::string::npos);

  auto unskippable = decompress("snappy", body + std::string("\x02\x01\x00\x00z", 5), 1 << 20);
  EXPECT_EQ(unskippable.status().code(), absl::StatusCode::kInvalidArgument);

  auto bad_id = decompress("snappy", body + std::string("\xff\x06\x00\x00sNaPpX", 10), 1 << 20);
  EXPECT_EQ(bad_id.status().code(), absl::StatusCode::kInvalidArgument);

  auto truncated = decompress("snappy", body.substr(0, body.size() - 3), 1 << 20);
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Decompress, SnappyBlockDeclaredLengthCheckedBeforeAllocation) {
  // varint 1 GiB, then a few literal bytes: rejected on the declared length.
  const std::string body("\x80\x80\x80\x80\x04\x00x", 7);
  auto r = decompress("snappy", body, 20 << 20);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  // A bad varint is corrupt.
  auto v = decompress("snappy", std::string("\xff\xff\xff\xff\xff\xff", 6), 20 << 20);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  // A framed chunk declaring more than 64 KiB is corrupt.
  std::string block;
  const std::string big = sampleText(70000);
  block = *compress("snappy", big);
  std::string framed("\xff\x06\x00\x00sNaPpY", 10);
  const size_t len = block.size() + 4;
  framed += std::string{'\x00', static_cast<char>(len & 0xff), static_cast<char>(len >> 8 & 0xff),
                        static_cast<char>(len >> 16 & 0xff)};
  framed += std::string(4, '\0') + block;
  auto f = decompress("snappy", framed, 1 << 20);
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Decompress, ZstdLargeWindowRejected) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 27);
  const std::string data = sampleText(1000);
  std::string out(ZSTD_compressBound(data.size()) + 64, '\0');
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  ZSTD_compressStream2(cctx, &ob, &in, ZSTD_e_continue);  // size unknown: window stays 128 MiB
  size_t rc;
  do {
    rc = ZSTD_compressStream2(cctx, &ob, &in, ZSTD_e_end);
    ASSERT_FALSE(ZSTD_isError(rc));
  } while (rc != 0);
  out.resize(ob.pos);
  ZSTD_freeCCtx(cctx);
  auto r = decompress("zstd", out, 1 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(msg(r.status()).find("window"), std::string::npos) << r.status();
  // The same frame is fine when the limit is large enough to justify the window.
  auto ok = decompress("zstd", out, 128 << 20);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, data);
}

// ---- bombs ----

struct BombResult {
  absl::Status status;
  double seconds;
  long peak_delta_kib;  // -1 when peak RSS cannot be measured
};

BombResult runBomb(std::string_view enc, const std::string& body, size_t limit) {
  const bool can_measure = resetPeakRss();
  const long before = peakRssKiB();
  const auto t0 = Clock::now();
  auto r = decompress(enc, body, limit);
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const long after = peakRssKiB();
  return {r.status(), secs, can_measure && before > 0 ? after - before : -1};
}

void expectBombRejected(const BombResult& r, size_t limit) {
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted) << r.status;
  EXPECT_TRUE(isDecompressLimitError(r.status));
  EXPECT_LT(r.seconds, 10.0);
  ::testing::Test::RecordProperty("peak_rss_delta_kib", std::to_string(r.peak_delta_kib));
  std::printf("bomb: %.3f s, peak RSS delta %ld KiB\n", r.seconds, r.peak_delta_kib);
  if (r.peak_delta_kib >= 0) {
    // Output buffer <= limit + 1 plus the transient copy when it grows; far below 1 GiB.
    EXPECT_LT(r.peak_delta_kib, static_cast<long>(3 * limit / 1024 + 32 * 1024))
        << "peak RSS grew by " << r.peak_delta_kib << " KiB";
  }
}

TEST(DecompressBomb, Gzip1GiB) {
  const std::string bomb = gzipZeros(size_t{1} << 30);
  ASSERT_LT(bomb.size(), size_t{2} << 20);  // ~1 MiB on the wire
  const size_t limit = 20 << 20;
  const BombResult r = runBomb("gzip", bomb, limit);
  expectBombRejected(r, limit);
  // Same bomb labelled deflate-as-gzip is corrupt, not a bomb (sanity of the label).
  EXPECT_EQ(decompress("zlib", bomb, limit).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DecompressBomb, Zstd1GiBWithAndWithoutDeclaredSize) {
  const size_t limit = 20 << 20;
  for (bool pledge : {true, false}) {
    SCOPED_TRACE(pledge ? "declared size" : "no declared size");
    const std::string bomb = zstdZeros(size_t{1} << 30, pledge);
    ASSERT_LT(bomb.size(), size_t{1} << 20);
    expectBombRejected(runBomb("zstd", bomb, limit), limit);
  }
}

TEST(DecompressBomb, SnappyBlockAndFramed) {
  const size_t limit = 20 << 20;
  // Block: a real 64 MiB block of zeros (snappy's ratio is ~21:1, so ~3 MiB on the wire).
  const std::string zeros(64 << 20, '\0');
  const std::string block = *compress("snappy", zeros);
  expectBombRejected(runBomb("snappy", block, limit), limit);
  const std::string framed = compressSnappyFramed(zeros);
  expectBombRejected(runBomb("snappy", framed, limit), limit);
}

TEST(DecompressBudget, OutputIsChargedAsItGrowsAndRefusedOverTheBudget) {
  const std::string plain(3 << 20, 'z');
  for (const char* enc : {"gzip", "zlib", "deflate", "zstd", "snappy", ""}) {
    SCOPED_TRACE(enc);
    const std::string body = *compress(enc, plain);
    MemoryBudget small(1 << 20);
    MemoryReservation charge;
    auto out = decompress(enc, body, 8 << 20, &small, &charge);
    ASSERT_FALSE(out.ok());
    EXPECT_TRUE(isDecompressMemoryError(out.status())) << out.status();
    EXPECT_FALSE(isDecompressLimitError(out.status()));
    EXPECT_EQ(small.used(), 0u);
    EXPECT_EQ(charge.bytes(), 0u);

    MemoryBudget big(64 << 20);
    out = decompress(enc, body, 8 << 20, &big, &charge);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, plain);
    EXPECT_GE(charge.bytes(), plain.size());
    EXPECT_LE(charge.bytes(), 2 * plain.size() + (64 << 10));
    EXPECT_EQ(big.used(), charge.bytes());
    charge.reset();
    EXPECT_EQ(big.used(), 0u);
  }
}

TEST(DecompressBudget, SnappyFramedAndNullChargeReleaseEverything) {
  const std::string plain(1 << 20, 'q');
  MemoryBudget b(8 << 20);
  auto out = decompress("snappy", compressSnappyFramed(plain), 4 << 20, &b, nullptr);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, plain);
  EXPECT_EQ(b.used(), 0u);
}

}  // namespace
}  // namespace telegate
