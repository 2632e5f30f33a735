#include "src/k8s/watch.h"

#include <gtest/gtest.h>

namespace telegate::k8s {
namespace {

TEST(WatchTest, DecodesEventsSplitAcrossChunks) {
  std::string stream =
      "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\","
      "\"uid\":\"u1\",\"resourceVersion\":\"101\"}}}\n"
      "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":"
      "\"150\",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}\n"
      "{\"type\":\"DELETED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\","
      "\"uid\":\"u1\",\"resourceVersion\":\"160\"}}}\n"
      "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"
      "\"Failure\",\"message\":\"too old resource version: 1 (150)\",\"reason\":\"Expired\","
      "\"code\":410}}\n";
  WatchDecoder d;
  std::vector<WatchEvent> events;
  for (size_t i = 0; i < stream.size(); i += 7) {
    ASSERT_TRUE(d.feed(std::string_view(stream).substr(i, 7), &events).ok());
  }
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].type, EventType::kAdded);
  EXPECT_EQ(events[0].uid, "u1");
  EXPECT_EQ(events[0].resource_version, "101");
  EXPECT_EQ(events[1].type, EventType::kBookmark);
  EXPECT_EQ(events[1].resource_version, "150");
  EXPECT_EQ(events[2].type, EventType::kDeleted);
  EXPECT_EQ(events[3].type, EventType::kError);
  EXPECT_EQ(events[3].error_code, 410);
  EXPECT_NE(events[0].object_json.find("\"name\":\"a\""), std::string::npos);
}

TEST(WatchTest, RejectsMalformedAndOversized) {
  WatchDecoder d(64);
  std::vector<WatchEvent> events;
  EXPECT_FALSE(d.feed("{\"type\":\"ADDED\"}\n", &events).ok());
  WatchDecoder d2(64);
  EXPECT_FALSE(d2.feed(std::string(100, 'x'), &events).ok());
  WatchDecoder d3;
  EXPECT_FALSE(d3.feed("{\"type\":\"EXPLODED\",\"object\":{}}\n", &events).ok());
  EXPECT_FALSE(d3.feed("not json\n", &events).ok());
}

TEST(WatchTest, ParsesLists) {
  auto r = parseList(
      R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"42","continue":"c1"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->items.size(), 2u);
  EXPECT_EQ(r->resource_version, "42");
  EXPECT_EQ(r->continue_token, "c1");
  EXPECT_EQ(r->keys, (std::vector<std::string>{"a", "b"}));
  auto empty = parseList(R"({"kind":"PodList","metadata":{"resourceVersion":"7"},"items":null})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->items.empty());
  EXPECT_FALSE(parseList("{}").ok());
}

TEST(WatchTest, EventsCarryTheStoreKey) {
  auto ns = parseWatchEvent(
      R"({"type":"ADDED","object":{"metadata":{"name":"web-0","namespace":"shop","uid":"u"}}})");
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_EQ(ns->key, "shop/web-0");
  auto cluster = parseWatchEvent(R"({"type":"DELETED","object":{"metadata":{"name":"node-a"}}})");
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_EQ(cluster->key, "node-a");
}

}  // namespace
}  // namespace telegate::k8s
