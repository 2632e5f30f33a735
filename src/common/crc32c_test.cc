#include "src/common/crc32c.h"

#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace telegate {
namespace {

TEST(Crc32cTest, KnownValues) {
  EXPECT_EQ(crc32c(0, "", 0), 0u);
  EXPECT_EQ(crc32c(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32cPortable(0, "123456789", 9), 0xE3069283u);
  // RFC 3720 B.4: 32 bytes of zeros, 32 bytes of 0xff, 0..31.
  std::string zeros(32, '\0'), ones(32, '\xff'), inc(32, '\0');
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<char>(i);
  EXPECT_EQ(crc32c(0, zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c(0, ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c(0, inc.data(), 32), 0x46DD794Eu);
}

// Every length and alignment around the three-stream block boundaries matches the table version,
// also when a value is built up in pieces.
TEST(Crc32cTest, HardwareMatchesPortableAtAllSizesAndOffsets) {
  std::mt19937 rng(7);
  std::string buf(3 * 3 * 4096 + 64, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  std::vector<size_t> lengths;
  for (size_t n = 0; n < 80; ++n) lengths.push_back(n);
  for (size_t base : {size_t{4096}, size_t{3 * 4096}, size_t{6 * 4096}, size_t{9 * 4096}}) {
    for (size_t d = 0; d < 12; ++d) {
      lengths.push_back(base + d);
      if (base >= d) lengths.push_back(base - d);
    }
  }
  for (size_t off = 0; off < 9; ++off) {
    for (size_t n : lengths) {
      if (off + n > buf.size()) continue;
      const char* p = buf.data() + off;
      const uint32_t want = crc32cPortable(0, p, n);
      ASSERT_EQ(crc32c(0, p, n), want) << "off " << off << " n " << n;
      const size_t cut = n / 3;
      ASSERT_EQ(crc32c(crc32c(0, p, cut), p + cut, n - cut), want) << "off " << off << " n " << n;
    }
  }
}

// Manual: --gtest_also_run_disabled_tests --gtest_filter='*Crc32cSpeed*'
TEST(Crc32cTest, DISABLED_Crc32cSpeed) {
  std::string buf(1 << 20, 'x');
  uint32_t c = 0;
  const int rounds = 2000;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) c = crc32c(c, buf.data(), buf.size());
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("crc32c (%s): %.0f MB/s (%08x)\n", crc32cHardware() ? "hardware" : "portable",
              rounds * buf.size() / s / 1e6, c);
}

}  // namespace
}  // namespace telegate
