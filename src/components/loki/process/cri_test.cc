#include "src/components/loki/process/cri.h"

#include <gtest/gtest.h>

namespace telegate::loki::process {
namespace {

Entry entry(std::string line, LabelSet labels = {{"filename", "/var/log/pods/a/b/0.log"}}) {
  Entry e;
  e.labels = std::move(labels);
  e.timestamp_ns = 1;
  e.line = std::move(line);
  return e;
}

TEST(CriTest, ParseFollowsAlloy) {
  CriLine c;
  ASSERT_TRUE(parseCri("2024-01-02T03:04:05.123456789Z stdout F hello world", &c));
  EXPECT_EQ(c.time, "2024-01-02T03:04:05.123456789Z");
  EXPECT_EQ(c.stream, "stdout");
  EXPECT_FALSE(c.partial);
  EXPECT_EQ(c.content, "hello world");
  ASSERT_TRUE(parseCri("t stderr P part", &c));
  EXPECT_EQ(c.stream, "stderr");
  EXPECT_TRUE(c.partial);
  EXPECT_EQ(c.content, "part");
  ASSERT_TRUE(parseCri("t stdout no flag", &c));  // flag optional
  EXPECT_FALSE(c.partial);
  EXPECT_EQ(c.content, "no flag");
  ASSERT_TRUE(parseCri("t stdout F", &c));
  EXPECT_EQ(c.content, "");
  EXPECT_FALSE(parseCri("plain application line", &c));
  EXPECT_FALSE(parseCri("t stdin F x", &c));
  EXPECT_FALSE(parseCri("nospace", &c));
  EXPECT_FALSE(parseCri("t  stdout F x", &c));
}

TEST(CriTest, StageRewritesAndJoinsPartials) {
  CriStage stage(CriOptions{});
  std::vector<Entry> in;
  in.push_back(entry("2024-01-02T03:04:05Z stdout P first "));
  in.push_back(entry("2024-01-02T03:04:05.5Z stderr F an error"));
  in.push_back(entry("2024-01-02T03:04:06Z stdout P second "));
  in.push_back(entry("2024-01-02T03:04:07Z stdout F third"));
  in.push_back(entry("not cri at all"));
  std::vector<Entry> out;
  stage.process(std::move(in), &out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].line, "an error");
  EXPECT_EQ(out[0].timestamp_ns, 1704164645500000000LL);
  LabelSet want{{"filename", "/var/log/pods/a/b/0.log"}, {"stream", "stderr"}};
  EXPECT_EQ(out[0].labels, want);
  EXPECT_EQ(out[1].line, "first second third");
  EXPECT_EQ(out[1].timestamp_ns, 1704164647000000000LL);
  EXPECT_EQ(out[2].line, "not cri at all");
  EXPECT_TRUE(stage.snapshot().empty());
}

TEST(CriTest, PartialsSurviveAcrossCallsAndRollBack) {
  CriStage stage(CriOptions{});
  std::vector<Entry> out;
  stage.process({entry("t stdout P a")}, &out);
  EXPECT_TRUE(out.empty());
  auto saved = stage.snapshot();
  stage.process({entry("t stdout F b")}, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].line, "ab");
  // The output could not be delivered: roll back and process again.
  stage.restore(saved);
  out.clear();
  stage.process({entry("t stdout F b")}, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].line, "ab");
}

TEST(CriTest, MaxPartialLinesFlushesHeldPartials) {
  CriOptions o;
  o.max_partial_lines = 2;
  CriStage stage(o);
  std::vector<Entry> out;
  stage.process({entry("t stdout P a", {{"f", "1"}}), entry("t stdout P b", {{"f", "2"}}),
                 entry("t stdout P c", {{"f", "3"}})},
                &out);
  EXPECT_EQ(out.size(), 2u);  // a and b forwarded unjoined
  EXPECT_EQ(stage.flushedPartials(), 2u);
  stage.drain(&out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].line, "c");
}

TEST(CriTest, Truncation) {
  CriOptions o;
  o.max_partial_line_size = 4;
  o.max_partial_line_size_truncate = true;
  CriStage stage(o);
  std::vector<Entry> out;
  stage.process({entry("t stdout P abc"), entry("t stdout F def")}, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].line, "abcd");
  EXPECT_GE(stage.truncatedLines(), 1u);
}

}  // namespace
}  // namespace telegate::loki::process
