// Tests for checkAndCount() (otlp_wire.cc): hand-made malformed inputs, and a differential test
// against protobuf's own parser on random OTLP messages and mutations of them.
//
// Known, intended differences from protobuf's C++ parser (we reject, protobuf accepts):
//   * trace/span ids whose length is neither 0 nor 16/8 (the Go collector rejects them too);
//   * groups (wire types 3/4) in unknown fields;
//   * varints whose 10th byte is > 1, and tags encoded in more than 5 bytes.
// The reverse (we accept what protobuf rejects) must never happen.
#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "src/pdata/otlp_decode.h"
#include "src/pdata/otlp_test_support.h"
#include "src/pdata/wire.h"

namespace telegate::pdata {

namespace col_logs = opentelemetry::proto::collector::logs::v1;
namespace col_metrics = opentelemetry::proto::collector::metrics::v1;
namespace col_trace = opentelemetry::proto::collector::trace::v1;
namespace common = opentelemetry::proto::common::v1;
namespace logs = opentelemetry::proto::logs::v1;
namespace metrics = opentelemetry::proto::metrics::v1;
namespace trace = opentelemetry::proto::trace::v1;

namespace {

using test_support::expectedItems;
using test_support::newRequest;
using test_support::randomRequest;

constexpr Signal kSignals[] = {Signal::kLogs, Signal::kTraces, Signal::kMetrics};

bool protobufAccepts(Signal s, std::string_view wire) {
  auto m = newRequest(s);
  return m->ParseFromArray(wire.data(), static_cast<int>(wire.size()));
}

// Wire-building helpers for hand-made inputs.
std::string varint(uint64_t v) {
  std::string s;
  wire::appendVarint(&s, v);
  return s;
}
std::string tag(uint32_t field, uint32_t wt) {
  return varint((field << 3) | wt);
}
std::string len(uint32_t field, std::string_view payload) {
  return tag(field, 2) + varint(payload.size()) + std::string(payload);
}
// ExportLogsServiceRequest{resource_logs{scope_logs{log_records{<record>}}}}
std::string logsWith(std::string_view record) {
  return len(1, len(2, len(2, record)));
}

TEST(CheckAndCountTest, EmptyRequestsHaveNoItems) {
  for (Signal s : kSignals) {
    auto n = checkAndCount(s, "");
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, 0u);
  }
}

TEST(CheckAndCountTest, CountsLogRecords) {
  col_logs::ExportLogsServiceRequest req;
  auto* rl = req.add_resource_logs();
  auto* kv = rl->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("django-app");
  auto* sl = rl->add_scope_logs();
  for (int i = 0; i < 3; ++i) sl->add_log_records()->mutable_body()->set_string_value("hi");
  req.add_resource_logs()->add_scope_logs()->add_log_records();
  auto n = checkAndCount(Signal::kLogs, req.SerializeAsString());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 4u);
}

TEST(CheckAndCountTest, ConcatenatedRequestsAddUp) {
  std::mt19937_64 rng(7);
  for (Signal s : kSignals) {
    auto a = randomRequest(s, rng, 3), b = randomRequest(s, rng, 3);
    auto n = checkAndCount(s, a->SerializeAsString() + b->SerializeAsString());
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, expectedItems(s, *a) + expectedItems(s, *b));
  }
}

TEST(CheckAndCountTest, MetricDataIsAOneof) {
  // gauge{2 points} then sum{1 point}: protobuf keeps only the sum.
  std::string gauge = len(5, len(1, "") + len(1, ""));
  std::string sum = len(7, len(1, ""));
  std::string wire = len(1, len(2, len(2, gauge + sum)));
  ASSERT_TRUE(protobufAccepts(Signal::kMetrics, wire));
  EXPECT_EQ(*checkAndCount(Signal::kMetrics, wire), 1u);
  // The same member twice merges.
  wire = len(1, len(2, len(2, gauge + gauge)));
  EXPECT_EQ(*checkAndCount(Signal::kMetrics, wire), 4u);
  // Back to the first member: only the last one counts.
  wire = len(1, len(2, len(2, gauge + sum + gauge)));
  EXPECT_EQ(*checkAndCount(Signal::kMetrics, wire), 2u);
}

TEST(CheckAndCountTest, SkipsWellFormedUnknownFields) {
  std::string unknown = tag(99, 0) + varint(300) + tag(100, 1) + std::string(8, 'x') + tag(101, 5) +
                        std::string(4, 'y') + len(102, "\xff\xfe") + tag(1u << 28, 0) + varint(1);
  std::string record = unknown + len(5, len(1, "body") + unknown) + unknown;
  std::string wire = unknown + len(1, unknown + len(2, unknown + len(2, record)));
  ASSERT_TRUE(protobufAccepts(Signal::kLogs, wire));
  auto n = checkAndCount(Signal::kLogs, wire);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1u);
}

TEST(CheckAndCountTest, MismatchedWireTypeOfKnownFieldIsUnknown) {
  // log_records (2) as a varint and as fixed32: protobuf stores them as unknown fields.
  std::string wire = len(1, len(2, tag(2, 0) + varint(5) + tag(2, 5) + "abcd"));
  ASSERT_TRUE(protobufAccepts(Signal::kLogs, wire));
  EXPECT_EQ(*checkAndCount(Signal::kLogs, wire), 0u);
  // A string field sent as varint is unknown too, so no UTF-8 check applies.
  wire = logsWith(tag(3, 0) + varint(1));
  ASSERT_TRUE(protobufAccepts(Signal::kLogs, wire));
  EXPECT_EQ(*checkAndCount(Signal::kLogs, wire), 1u);
}

TEST(CheckAndCountTest, AcceptsPackedAndUnpackedRepeatedScalars) {
  auto fixed = [](uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
    return s;
  };
  std::string point_packed = len(6, fixed(1) + fixed(2)) + len(7, fixed(0));
  std::string point_unpacked = tag(6, 1) + fixed(1) + tag(6, 1) + fixed(2);
  std::string buckets =
      len(2, varint(1) + varint(300) + varint(1ull << 60)) + tag(2, 0) + varint(3);
  std::string exp_point = len(8, buckets);
  std::string metric = len(9, len(1, point_packed) + len(1, point_unpacked));
  std::string wire = len(1, len(2, len(2, metric) + len(2, len(10, len(1, exp_point)))));
  ASSERT_TRUE(protobufAccepts(Signal::kMetrics, wire));
  auto n = checkAndCount(Signal::kMetrics, wire);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 3u);
}

struct BadCase {
  const char* name;
  std::string wire;
  const char* want;  // substring of the error message
  Signal signal = Signal::kLogs;
};

TEST(CheckAndCountTest, RejectsMalformedInput) {
  const BadCase cases[] = {
      {"truncated tag", "\x80", "truncated tag"},
      {"truncated varint", logsWith(tag(2, 0) + "\x80"), "truncated varint"},
      {"11-byte varint", logsWith(tag(2, 0) + std::string(10, '\x80') + "\x01"), "varint"},
      {"varint overflow", logsWith(tag(2, 0) + std::string(9, '\xff') + "\x02"), "overflows"},
      {"field 0", logsWith(tag(0, 0) + varint(1)), "field number 0"},
      {"group", logsWith(tag(50, 3) + tag(50, 4)), "group"},
      {"wire type 6", logsWith(tag(50, 6)), "wire type"},
      {"wire type 7", logsWith(tag(50, 7)), "wire type"},
      {"length past end", tag(1, 2) + varint(5) + "abc", "past the end"},
      {"nested length past end", len(1, tag(2, 2) + varint(100)), "resource_logs"},
      {"truncated length", tag(1, 2) + "\x80", "truncated length"},
      {"6-byte length", tag(1, 2) + std::string(5, '\x80') + std::string(1, '\0'), "longer than 5"},
      {"truncated fixed64", logsWith(tag(1, 1) + "1234"), "truncated fixed64"},
      {"truncated fixed32", logsWith(tag(8, 5) + "12"), "truncated fixed32"},
      {"bad utf8 body", logsWith(len(5, len(1, "\xc3\x28"))), "invalid UTF-8"},
      {"surrogate utf8", logsWith(len(3, "\xed\xa0\x80")), "invalid UTF-8"},
      {"bad utf8 key", logsWith(len(6, len(1, "k\xff"))), "log_records.attributes.key"},
      {"short trace id", logsWith(len(9, std::string(15, 'a'))), "invalid length for ID"},
      {"long span id", logsWith(len(10, std::string(9, 'a'))), "span_id"},
      {"tag too long", std::string(6, '\x80') + "\x01", "invalid tag"},
      {"tag over 32 bits", varint(1ull << 33), "invalid tag"},
      {"packed fixed64 length",
       len(1, len(2, len(2, len(9, len(1, len(6, std::string(12, '\0'))))))), "multiple of 8",
       Signal::kMetrics},
  };
  for (const auto& c : cases) {
    auto n = checkAndCount(c.signal, c.wire);
    ASSERT_FALSE(n.ok()) << c.name;
    EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(std::string(n.status().message()).find(c.want), std::string::npos)
        << c.name << ": " << n.status();
  }
}

TEST(CheckAndCountTest, ErrorNamesTheFieldPath) {
  auto n = checkAndCount(Signal::kTraces,
                         len(1, len(2, len(2, len(11, len(3, len(2, len(1, "\xff"))))))));
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(std::string(n.status().message()),
            "invalid UTF-8 in string field in "
            "resource_spans.scope_spans.spans.events.attributes.value.string_value at byte "
            "offset 12");
  n = checkAndCount(Signal::kTraces, len(1, len(2, len(2, len(13, len(1, "abc"))))));
  ASSERT_FALSE(n.ok());
  EXPECT_NE(std::string(n.status().message())
                .find("invalid length for ID (3) in resource_spans.scope_spans.spans.links."
                      "trace_id"),
            std::string::npos)
      << n.status();
}

TEST(CheckAndCountTest, LengthPrefixesLikeProtobuf) {
  // protobuf's ReadSize() takes at most 5 bytes, even for a padded (non-minimal) zero.
  for (int pad = 0; pad <= 9; ++pad) {
    std::string wire = tag(1, 2) + std::string(pad, '\x80') + std::string(1, '\0');
    for (Signal s : kSignals) {
      EXPECT_EQ(checkAndCount(s, wire).ok(), protobufAccepts(s, wire)) << "pad=" << pad;
      EXPECT_EQ(checkAndCount(s, wire).ok(), pad < 5) << "pad=" << pad;
    }
  }
}

TEST(CheckAndCountTest, WrongIdLengthsAreOursAloneToReject) {
  // Documented difference: protobuf accepts any bytes, the Go collector and we do not.
  std::string wire = logsWith(len(9, "abc"));
  EXPECT_TRUE(protobufAccepts(Signal::kLogs, wire));
  EXPECT_FALSE(checkAndCount(Signal::kLogs, wire).ok());
  EXPECT_TRUE(checkAndCount(Signal::kLogs, logsWith(len(9, std::string(16, 'a')))).ok());
  EXPECT_TRUE(checkAndCount(Signal::kLogs, logsWith(len(9, ""))).ok());
}

// body = AnyValue{array_value{values{...}}} nested `levels` times.
std::string nestedArrays(int levels) {
  std::string v = len(1, "leaf");
  for (int i = 0; i < levels; ++i) v = len(5, len(1, v));
  return v;
}
std::string nestedKvlists(int levels) {
  std::string v = len(1, "leaf");
  for (int i = 0; i < levels; ++i) v = len(6, len(1, len(1, "k") + len(2, v)));
  return v;
}

TEST(CheckAndCountTest, NestingLimitMatchesProtobuf) {
  google::protobuf::LogSilencer silence;
  int ours_max = -1;
  for (int levels = 0; levels < 80; ++levels) {
    for (int kv = 0; kv < 2; ++kv) {
      std::string wire = logsWith(len(5, kv ? nestedKvlists(levels) : nestedArrays(levels)));
      auto n = checkAndCount(Signal::kLogs, wire);
      bool pb = protobufAccepts(Signal::kLogs, wire);
      EXPECT_EQ(n.ok(), pb) << "levels=" << levels << " kvlist=" << kv << " " << n.status();
      if (!n.ok()) {
        EXPECT_NE(std::string(n.status().message()).find("nesting too deep"), std::string::npos);
      } else if (!kv) {
        ours_max = levels;
      }
    }
  }
  EXPECT_EQ(ours_max, 48);  // the body is at depth 4, each array level adds 2: 4 + 2 * 48 = 100
}

TEST(CheckAndCountTest, RandomRequestsMatchProtobuf) {
  std::mt19937_64 rng(1);
  for (Signal s : kSignals) {
    for (int i = 0; i < 300; ++i) {
      auto msg = randomRequest(s, rng, 4);
      std::string wire = msg->SerializeAsString();
      auto n = checkAndCount(s, wire);
      ASSERT_TRUE(n.ok()) << signalName(s) << " #" << i << ": " << n.status();
      EXPECT_EQ(*n, expectedItems(s, *msg));
    }
  }
}

// Byte offsets where top-level fields end.
std::vector<size_t> topLevelBoundaries(std::string_view request) {
  std::vector<size_t> out{0};
  size_t p = 0;
  wire::Field f;
  while (p < request.size() && wire::readField(request, &p, &f) == wire::Status::kOk) {
    out.push_back(p);
  }
  return out;
}

TEST(CheckAndCountTest, TruncationAtEveryPosition) {
  google::protobuf::LogSilencer silence;
  std::mt19937_64 rng(2);
  for (Signal s : kSignals) {
    for (int i = 0; i < 20; ++i) {
      auto msg = randomRequest(s, rng, 2);
      std::string wire = msg->SerializeAsString();
      auto bounds = topLevelBoundaries(wire);
      for (size_t cut = 0; cut < wire.size(); ++cut) {
        std::string_view prefix(wire.data(), cut);
        auto n = checkAndCount(s, prefix);
        bool at_boundary = std::find(bounds.begin(), bounds.end(), cut) != bounds.end();
        EXPECT_EQ(n.ok(), at_boundary) << signalName(s) << " cut=" << cut;
        if (n.ok()) {
          EXPECT_TRUE(protobufAccepts(s, prefix));
        }
      }
    }
  }
}

TEST(CheckAndCountTest, MutationsNeverAcceptWhatProtobufRejects) {
  google::protobuf::LogSilencer silence;
  std::mt19937_64 rng(3);
  int accepted = 0, rejected = 0;
  for (Signal s : kSignals) {
    for (int i = 0; i < 60; ++i) {
      auto msg = randomRequest(s, rng, 3);
      const std::string wire = msg->SerializeAsString();
      if (wire.empty()) continue;
      for (int m = 0; m < 100; ++m) {
        std::string w = wire;
        const int edits = 1 + static_cast<int>(rng() % 3);
        for (int e = 0; e < edits; ++e) {
          size_t pos = rng() % w.size();
          switch (rng() % 4) {
            case 0:
              w[pos] = static_cast<char>(rng());
              break;
            case 1:
              w[pos] ^= static_cast<char>(1u << (rng() % 8));
              break;
            case 2:
              w.erase(pos, 1 + rng() % 3);
              break;
            default:
              w.insert(pos, 1, static_cast<char>(rng()));
              break;
          }
          if (w.empty()) w = "\x0a";
        }
        auto n = checkAndCount(s, w);
        auto parsed = newRequest(s);
        const bool pb = parsed->ParseFromString(w);
        if (n.ok()) {
          ++accepted;
          ASSERT_TRUE(pb) << signalName(s) << ": we accepted what protobuf rejects";
          EXPECT_EQ(*n, expectedItems(s, *parsed));
        } else {
          ++rejected;
        }
      }
    }
  }
  EXPECT_GT(accepted, 100);
  EXPECT_GT(rejected, 100);
}

}  // namespace
}  // namespace telegate::pdata
