#include "src/runtime/types.h"

#include <gtest/gtest.h>

namespace telegate::runtime {
namespace {

using namespace std::chrono_literals;

TEST(DurationTest, ParsesGoSyntax) {
  EXPECT_EQ(parseDuration("10s")->value, 10s);
  EXPECT_EQ(parseDuration("1m30s")->value, 90s);
  EXPECT_EQ(parseDuration("500ms")->value, 500ms);
  EXPECT_EQ(parseDuration("2h")->value, 2h);
  EXPECT_EQ(parseDuration("1.5s")->value, 1500ms);
  EXPECT_EQ(parseDuration("0")->value, 0s);
  EXPECT_EQ(parseDuration("-1s")->value, -1s);
  EXPECT_EQ(parseDuration("100us")->value, 100us);
}

TEST(DurationTest, RejectsWithGoMessages) {
  EXPECT_EQ(parseDuration("10").status().message(), "time: missing unit in duration \"10\"");
  EXPECT_EQ(parseDuration("1d").status().message(), "time: unknown unit \"d\" in duration \"1d\"");
  EXPECT_EQ(parseDuration("").status().message(), "time: invalid duration \"\"");
  EXPECT_EQ(parseDuration("s").status().message(), "time: invalid duration \"s\"");
}

TEST(DurationTest, FormatsLikeGo) {
  EXPECT_EQ(formatDuration(Duration(90s)), "1m30s");
  EXPECT_EQ(formatDuration(Duration(500ms)), "500ms");
  EXPECT_EQ(formatDuration(Duration(0s)), "0s");
  EXPECT_EQ(formatDuration(Duration(2h)), "2h0m0s");
  EXPECT_EQ(formatDuration(Duration(1500ms)), "1.5s");
  EXPECT_EQ(formatDuration(Duration(5min)), "5m0s");
}

TEST(ByteSizeTest, ParsesUnits) {
  EXPECT_EQ(parseByteSize("1MiB")->bytes, 1u << 20);
  EXPECT_EQ(parseByteSize("512KiB")->bytes, 512u << 10);
  EXPECT_EQ(parseByteSize("10MB")->bytes, 10000000u);
  EXPECT_EQ(parseByteSize("1024")->bytes, 1024u);
  EXPECT_FALSE(parseByteSize("1XB").ok());
  EXPECT_FALSE(parseByteSize("MiB").ok());
  EXPECT_EQ(formatByteSize(ByteSize(1 << 20)), "1MiB");
  EXPECT_EQ(formatByteSize(ByteSize(1000)), "1000B");
}

}  // namespace
}  // namespace telegate::runtime
