#include "src/common/log.h"

#include <mutex>
#include <thread>

#include "gtest/gtest.h"

namespace telegate::log {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    configure(Level::kInfo, Format::kLogfmt);
    setSinkForTest([this](std::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
    });
  }
  void TearDown() override {
    setSinkForTest(nullptr);
    configure(Level::kInfo, Format::kLogfmt);
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  // Checks and strips the leading timestamp field ("ts=YYYY-MM-DDTHH:MM:SS.uuuuuuZ ").
  std::string withoutTs(const std::string& line, bool json) {
    const std::string prefix = json ? "{\"ts\":\"" : "ts=";
    const std::string suffix = json ? "\"," : " ";
    const std::string pattern = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    bool ok = line.compare(0, prefix.size(), prefix) == 0 &&
              line.size() > prefix.size() + pattern.size() + suffix.size();
    for (size_t i = 0; ok && i < pattern.size(); ++i) {
      char c = line[prefix.size() + i];
      ok = pattern[i] == 'd' ? (c >= '0' && c <= '9') : c == pattern[i];
    }
    ok = ok && line.compare(prefix.size() + pattern.size(), suffix.size(), suffix) == 0;
    EXPECT_TRUE(ok) << line;
    if (!ok) return line;
    return line.substr(prefix.size() + pattern.size() + suffix.size());
  }

  std::mutex mu_;
  std::vector<std::string> lines_;
};

TEST_F(LogTest, ParseLevelAndFormat) {
  EXPECT_EQ(*parseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*parseLevel("info"), Level::kInfo);
  EXPECT_EQ(*parseLevel("warn"), Level::kWarn);
  EXPECT_EQ(*parseLevel("error"), Level::kError);
  auto bad = parseLevel("verbose");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "unrecognized log level \"verbose\"");
  EXPECT_EQ(*parseFormat("logfmt"), Format::kLogfmt);
  EXPECT_EQ(*parseFormat("json"), Format::kJson);
  EXPECT_FALSE(parseFormat("text").ok());
}

TEST_F(LogTest, LogfmtLine) {
  Logger l({{"component_id", "otelcol.receiver.otlp.default"}});
  l.info("listening", {{"addr", "0.0.0.0:4318"}});
  auto got = lines();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(withoutTs(got[0], false),
            "level=info msg=\"listening\" component_id=otelcol.receiver.otlp.default "
            "addr=0.0.0.0:4318\n");
}

TEST_F(LogTest, LogfmtQuoting) {
  root().warn("a \"b\"\nc", {{"empty", ""},
                             {"space", "a b"},
                             {"eq", "a=b"},
                             {"quote", "say \"hi\""},
                             {"backslash", "a\\b"},
                             {"backslash_sp", "a\\ b"},
                             {"nl", "x\ny"},
                             {"ctl", std::string("\x01", 1)},
                             {"plain", "/v1/traces"},
                             {"bad key", "v"}});
  auto got = lines();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(withoutTs(got[0], false),
            "level=warn msg=\"a \\\"b\\\"\\nc\" empty=\"\" space=\"a b\" eq=\"a=b\" "
            "quote=\"say \\\"hi\\\"\" backslash=a\\b backslash_sp=\"a\\\\ b\" nl=\"x\\ny\" "
            "ctl=\"\\u0001\" plain=/v1/traces bad_key=v\n");
}

TEST_F(LogTest, JsonEscaping) {
  configure(Level::kInfo, Format::kJson);
  Logger l = root().with("component_id", "c\"1");
  l.error("boom \\ \"x\"\n", {{"k", std::string("\t\x01\x7f", 3)},
                              {"utf8", "h\xc3\xa9llo"},
                              {"invalid",
                               "a\xff"
                               "b"}});
  auto got = lines();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(withoutTs(got[0], true),
            "\"level\":\"error\",\"msg\":\"boom \\\\ \\\"x\\\"\\n\",\"component_id\":\"c\\\"1\","
            "\"k\":\"\\t\\u0001\x7f\",\"utf8\":\"h\xc3\xa9llo\",\"invalid\":\"a\\ufffdb\"}\n");
}

TEST_F(LogTest, LevelFilter) {
  EXPECT_FALSE(enabled(Level::kDebug));
  EXPECT_TRUE(enabled(Level::kInfo));
  root().debug("hidden");
  root().info("shown");
  configure(Level::kError, Format::kLogfmt);
  root().warn("hidden");
  root().error("shown");
  configure(Level::kDebug, Format::kLogfmt);
  EXPECT_TRUE(enabled(Level::kDebug));
  root().debug("shown");
  auto got = lines();
  ASSERT_EQ(got.size(), 3u);
  for (const auto& line : got) EXPECT_NE(line.find("msg=\"shown\""), std::string::npos) << line;
}

TEST_F(LogTest, WithAppendsFieldsWithoutMutatingOriginal) {
  Logger a({{"x", "1"}});
  Logger b = a.with("y", "2");
  a.info("a");
  b.info("b");
  auto got = lines();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(withoutTs(got[0], false), "level=info msg=\"a\" x=1\n");
  EXPECT_EQ(withoutTs(got[1], false), "level=info msg=\"b\" x=1 y=2\n");
}

TEST_F(LogTest, ConcurrentLinesAreWhole) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      Logger l({{"thread", std::to_string(t)}});
      for (int i = 0; i < 500; ++i) l.info("line", {{"i", std::to_string(i)}});
    });
  }
  for (auto& t : threads) t.join();
  auto got = lines();
  ASSERT_EQ(got.size(), 2000u);
  for (const auto& line : got) {
    ASSERT_EQ(line.back(), '\n');
    ASSERT_EQ(line.find('\n'), line.size() - 1);
  }
}

TEST(OnceEveryTest, LimitsToOncePerPeriod) {
  OnceEvery once(std::chrono::seconds(60));
  EXPECT_TRUE(once.shouldLog());
  EXPECT_FALSE(once.shouldLog());
  EXPECT_FALSE(once.shouldLog());

  OnceEvery racing(std::chrono::seconds(60));
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (racing.shouldLog()) wins.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
}

TEST(OnceEveryTest, ZeroPeriodAlwaysLogs) {
  OnceEvery once(std::chrono::seconds(0));
  EXPECT_TRUE(once.shouldLog());
  EXPECT_TRUE(once.shouldLog());
}

}  // namespace
}  // namespace telegate::log
