// Tests for the protobuf wire codec (wire.h): round trips at every varint length boundary,
// zigzag and fixed values, byte-exact encodings, and every error status of the readers on
// truncated, overlong and malformed input.
#include "src/pdata/wire.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace telegate::pdata::wire {
namespace {

const uint8_t* bytes(const std::string& s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

Status readAll(const std::string& s, uint64_t* v, size_t* used) {
  const uint8_t* p = bytes(s);
  const Status st = readVarint(p, bytes(s) + s.size(), v);
  *used = static_cast<size_t>(p - bytes(s));
  return st;
}

TEST(WireTest, VarintRoundTripsAtEveryLengthBoundary) {
  std::vector<uint64_t> values = {0, 1, 127, 128, 300, std::numeric_limits<uint64_t>::max()};
  for (int bits = 7; bits < 64; bits += 7) {
    values.push_back((uint64_t{1} << bits) - 1);
    values.push_back(uint64_t{1} << bits);
  }
  for (uint64_t v : values) {
    std::string s;
    appendVarint(&s, v);
    EXPECT_EQ(s.size(), varintSize(v)) << v;
    uint64_t got = 0;
    size_t used = 0;
    ASSERT_EQ(readAll(s, &got, &used), Status::kOk) << v;
    EXPECT_EQ(got, v);
    EXPECT_EQ(used, s.size());
  }
}

TEST(WireTest, VarintEncodingsAreByteExact) {
  std::string s;
  appendVarint(&s, 300);
  EXPECT_EQ(s, "\xac\x02");
  s.clear();
  appendVarint(&s, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(s, std::string(9, '\xff') + "\x01");
  EXPECT_EQ(s.size(), kMaxVarintBytes);
  char buf[kMaxVarintBytes];
  EXPECT_EQ(putVarint(buf, 0) - buf, 1);
  EXPECT_EQ(buf[0], 0);
}

TEST(WireTest, VarintReaderErrors) {
  uint64_t v = 0;
  size_t used = 0;
  EXPECT_EQ(readAll("", &v, &used), Status::kTruncated);
  EXPECT_EQ(readAll("\x80", &v, &used), Status::kTruncated);
  EXPECT_EQ(readAll(std::string(9, '\xff'), &v, &used), Status::kTruncated);
  // The 10th byte may carry only the 64th bit.
  EXPECT_EQ(readAll(std::string(9, '\xff') + "\x02", &v, &used), Status::kOverflow);
  // An 11-byte varint.
  EXPECT_EQ(readAll(std::string(10, '\x80') + "\x01", &v, &used), Status::kOverflow);
  // Overlong but within 10 bytes: accepted, as protobuf does.
  ASSERT_EQ(readAll(std::string("\x81\x80\x00", 3), &v, &used), Status::kOk);
  EXPECT_EQ(v, 1u);
  EXPECT_EQ(used, 3u);
}

TEST(WireTest, StringViewReaderAdvancesOnlyOnSuccess) {
  const std::string s = std::string("\x05\x96\x01", 3) + "\x80";
  size_t pos = 0;
  uint64_t v = 0;
  ASSERT_EQ(readVarint(s, &pos, &v), Status::kOk);
  EXPECT_EQ(v, 5u);
  ASSERT_EQ(readVarint(s, &pos, &v), Status::kOk);
  EXPECT_EQ(v, 150u);
  EXPECT_EQ(pos, 3u);
  EXPECT_EQ(readVarint(s, &pos, &v), Status::kTruncated);
  EXPECT_EQ(pos, 3u);
}

TEST(WireTest, Varint32LimitsLengthAndValue) {
  uint64_t v = 0;
  std::string s;
  appendVarint(&s, 0xffffffffu);
  const uint8_t* p = bytes(s);
  ASSERT_EQ(readVarint32(p, bytes(s) + s.size(), &v), Status::kOk);
  EXPECT_EQ(v, 0xffffffffu);
  s.clear();
  appendVarint(&s, uint64_t{1} << 32);
  p = bytes(s);
  EXPECT_EQ(readVarint32(p, bytes(s) + s.size(), &v), Status::kOverflow);
  s = std::string(5, '\x80') + "\x00";  // overlong zero in 6 bytes
  p = bytes(s);
  EXPECT_EQ(readVarint32(p, bytes(s) + s.size(), &v), Status::kTooLong);
}

TEST(WireTest, ZigzagRoundTrips) {
  EXPECT_EQ(zigzagEncode64(0), 0u);
  EXPECT_EQ(zigzagEncode64(-1), 1u);
  EXPECT_EQ(zigzagEncode64(1), 2u);
  EXPECT_EQ(zigzagEncode64(std::numeric_limits<int64_t>::min()),
            std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(zigzagEncode32(std::numeric_limits<int32_t>::max()), 0xfffffffeu);
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{63}, int64_t{-64},
                    std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    EXPECT_EQ(zigzagDecode64(zigzagEncode64(v)), v);
  }
  for (int32_t v :
       {0, -1, 1, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()}) {
    EXPECT_EQ(zigzagDecode32(zigzagEncode32(v)), v);
  }
}

TEST(WireTest, FixedValuesAreLittleEndian) {
  std::string s;
  appendFixed32(&s, 0x04030201u);
  appendFixed64(&s, 0x0807060504030201ull);
  EXPECT_EQ(s, std::string("\x01\x02\x03\x04\x01\x02\x03\x04\x05\x06\x07\x08", 12));
  const uint8_t* p = bytes(s);
  const uint8_t* end = p + s.size();
  uint32_t a = 0;
  uint64_t b = 0;
  ASSERT_EQ(readFixed32(p, end, &a), Status::kOk);
  ASSERT_EQ(readFixed64(p, end, &b), Status::kOk);
  EXPECT_EQ(a, 0x04030201u);
  EXPECT_EQ(b, 0x0807060504030201ull);
  EXPECT_EQ(readFixed32(p, end, &a), Status::kTruncated);
  p = bytes(s);
  end = p + 7;
  EXPECT_EQ(readFixed64(p, end, &b), Status::kTruncated);
}

TEST(WireTest, TagReader) {
  uint32_t number = 0;
  uint32_t type = 0;
  std::string s;
  appendTag(&s, (1u << 29) - 1, kI32);  // the largest field number
  const uint8_t* p = bytes(s);
  ASSERT_EQ(readTag(p, bytes(s) + s.size(), &number, &type), Status::kOk);
  EXPECT_EQ(number, (1u << 29) - 1);
  EXPECT_EQ(type, kI32);
  s.clear();
  appendVarint(&s, uint64_t{1} << 33);
  p = bytes(s);
  EXPECT_EQ(readTag(p, bytes(s) + s.size(), &number, &type), Status::kBadTag);
  s = std::string(5, '\x80') + "\x01";
  p = bytes(s);
  EXPECT_EQ(readTag(p, bytes(s) + s.size(), &number, &type), Status::kBadTag);
  s = "\x80";
  p = bytes(s);
  EXPECT_EQ(readTag(p, bytes(s) + s.size(), &number, &type), Status::kTruncated);
  s = std::string("\x02", 1);  // field 0, wire type 2
  p = bytes(s);
  EXPECT_EQ(readTag(p, bytes(s) + s.size(), &number, &type), Status::kFieldZero);
}

TEST(WireTest, LenFieldRoundTrip) {
  std::string s;
  appendLenField(&s, 3, "ab", "cde");
  EXPECT_EQ(s,
            "\x1a\x05"
            "abcde");
  EXPECT_EQ(s.size(), lenFieldSize(3, 5));
  EXPECT_EQ(lenFieldSize(16, 200), 2u + 2u + 200u);
  size_t pos = 0;
  Field f;
  ASSERT_EQ(readField(s, &pos, &f), Status::kOk);
  EXPECT_EQ(f.number, 3u);
  EXPECT_EQ(f.wire_type, kLen);
  EXPECT_EQ(f.bytes, "abcde");
  EXPECT_EQ(f.whole, s);
  EXPECT_EQ(pos, s.size());
}

TEST(WireTest, ReadFieldEveryWireType) {
  std::string s;
  appendTag(&s, 1, kVarint);
  appendVarint(&s, 300);
  appendTag(&s, 2, kI64);
  appendFixed64(&s, 7);
  appendTag(&s, 3, kI32);
  appendFixed32(&s, 0xffffffffu);
  appendLenField(&s, 4, "");
  size_t pos = 0;
  Field f;
  ASSERT_EQ(readField(s, &pos, &f), Status::kOk);
  EXPECT_EQ(f.value, 300u);
  EXPECT_EQ(f.whole, "\x08\xac\x02");
  ASSERT_EQ(readField(s, &pos, &f), Status::kOk);
  EXPECT_EQ(f.value, 7u);
  ASSERT_EQ(readField(s, &pos, &f), Status::kOk);
  EXPECT_EQ(f.value, 0xffffffffu);
  ASSERT_EQ(readField(s, &pos, &f), Status::kOk);
  EXPECT_EQ(f.number, 4u);
  EXPECT_TRUE(f.bytes.empty());
  EXPECT_EQ(pos, s.size());
}

TEST(WireTest, ReadFieldErrors) {
  struct Case {
    std::string wire;
    Status want;
  };
  const Case cases[] = {
      {"\x08", Status::kTruncated},          // varint value missing
      {"\x08\x80", Status::kTruncated},      // varint value cut short
      {"\x09\x01\x02", Status::kTruncated},  // fixed64 cut short
      {"\x0d\x01", Status::kTruncated},      // fixed32 cut short
      {"\x0a\x05"
       "abc",
       Status::kLengthPastEnd},
      {"\x0a\x80\x80\x80\x80\x80\x01", Status::kTooLong},  // 6-byte length prefix
      {"\x0b", Status::kGroup},
      {"\x0c", Status::kGroup},
      {"\x0e", Status::kBadWireType},
      {"\x0f", Status::kBadWireType},
      {std::string("\x00\x01", 2), Status::kFieldZero},
      {std::string("\x08", 1) + std::string(10, '\xff'), Status::kOverflow},
  };
  for (const Case& c : cases) {
    size_t pos = 0;
    Field f;
    EXPECT_EQ(readField(c.wire, &pos, &f), c.want) << statusText(c.want);
  }
}

TEST(WireTest, StatusTextNamesEveryStatus) {
  for (int i = 0; i <= static_cast<int>(Status::kLengthPastEnd); ++i) {
    EXPECT_NE(statusText(static_cast<Status>(i)), "unknown wire status") << i;
  }
}

}  // namespace
}  // namespace telegate::pdata::wire
