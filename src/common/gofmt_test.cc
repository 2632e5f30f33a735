#include "src/common/gofmt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace telegate::gofmt {
namespace {

TEST(GoFmtTest, DecodeRuneLikeGo) {
  EXPECT_EQ(decodeRune("a", 0), std::make_pair(uint32_t{'a'}, size_t{1}));
  EXPECT_EQ(decodeRune("\xc3\xa9", 0), std::make_pair(uint32_t{0xE9}, size_t{2}));
  EXPECT_EQ(decodeRune("\xe2\x80\xa8", 0), std::make_pair(uint32_t{0x2028}, size_t{3}));
  EXPECT_EQ(decodeRune("\xf0\x9f\x98\x80", 0), std::make_pair(uint32_t{0x1F600}, size_t{4}));
  for (const char* bad : {"\x80", "\xc0\xaf", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff"}) {
    EXPECT_EQ(decodeRune(bad, 0), std::make_pair(kRuneError, size_t{1})) << bad;
  }
  std::string enc;
  for (uint32_t r : {0x41u, 0xE9u, 0x2028u, 0x1F600u}) appendRune(&enc, r);
  EXPECT_EQ(enc, "A\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80");
}

TEST(GoFmtTest, FloatsLikeStrconvAndFmt) {
  EXPECT_EQ(formatFloatF(0.1), "0.1");
  EXPECT_EQ(formatFloatF(1e21), "1000000000000000000000");
  EXPECT_EQ(formatFloatE(1e21), "1e+21");
  EXPECT_EQ(formatFloatE(1.5e-7), "1.5e-07");
  EXPECT_EQ(formatFloatV(123456), "123456");
  EXPECT_EQ(formatFloatV(1234567), "1.234567e+06");
  EXPECT_EQ(formatFloatV(0.0001), "0.0001");
  EXPECT_EQ(formatFloatV(0.00001), "1e-05");
  EXPECT_EQ(formatFloatV(-0.0), "-0");
  EXPECT_EQ(formatFloatV(std::nan("")), "NaN");
  EXPECT_EQ(formatFloatV(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(GoFmtTest, JsonFloatsLikeEncodingJson) {
  auto json = [](double f) {
    std::string out;
    return appendJsonFloat(&out, f) ? out : std::string("error");
  };
  EXPECT_EQ(json(1.5), "1.5");
  EXPECT_EQ(json(1e20), "100000000000000000000");
  EXPECT_EQ(json(1e21), "1e+21");
  EXPECT_EQ(json(1e-6), "0.000001");
  EXPECT_EQ(json(1.5e-7), "1.5e-7");
  EXPECT_EQ(json(0), "0");
  EXPECT_EQ(json(std::nan("")), "error");
  EXPECT_EQ(json(std::numeric_limits<double>::infinity()), "error");
}

TEST(GoFmtTest, LogfmtEncodeQuotesAndDropsInvalidKeyRunes) {
  std::string out, err;
  ASSERT_TRUE(encodeLogfmt({{"a b", "x"},
                            {"msg", "hello world"},
                            {"n", "null"},
                            {"raw", "null", true},
                            {"q", "say \"hi\"\n\x01\xff"}},
                           &out, &err));
  EXPECT_EQ(out,
            "ab=x msg=\"hello world\" n=\"null\" raw=null "
            "q=\"say \\\"hi\\\"\\n\\u0001\\ufffd\"");
  out.clear();
  EXPECT_FALSE(encodeLogfmt({{"= \"", "v"}}, &out, &err));
  EXPECT_EQ(err, "invalid key");
  LogfmtKeyVal nil;
  nil.is_nil = true;
  EXPECT_FALSE(encodeLogfmt({nil}, &out, &err));
  EXPECT_EQ(err, "nil key");
}

TEST(GoFmtTest, LogfmtParseFirstLine) {
  std::vector<LogfmtKeyVal> kvs;
  ASSERT_TRUE(parseLogfmtLine("a=1 b=\"x \\\"y\\\" \\u00e9\" flag c=\r\nnext=line", &kvs));
  ASSERT_EQ(kvs.size(), 4u);
  EXPECT_EQ(kvs[0].key, "a");
  EXPECT_EQ(kvs[0].value, "1");
  EXPECT_EQ(kvs[1].value, "x \"y\" \xc3\xa9");
  EXPECT_EQ(kvs[2].key, "flag");
  EXPECT_EQ(kvs[2].value, "");
  EXPECT_EQ(kvs[3].key, "c");
  kvs.clear();
  EXPECT_FALSE(parseLogfmtLine("=x", &kvs));
  EXPECT_FALSE(parseLogfmtLine("a=\"open", &kvs));
  EXPECT_FALSE(parseLogfmtLine("a=b=c", &kvs));
}

TEST(GoFmtTest, QuoteLikeStrconvQuote) {
  auto quote = [](std::string_view s) {
    std::string out;
    appendQuote(&out, s);
    return out;
  };
  // Expected values are what Go's strconv.Quote returns for the same bytes.
  EXPECT_EQ(quote(""), "\"\"");
  EXPECT_EQ(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(quote("\a\b\f\n\r\t\v"), "\"\\a\\b\\f\\n\\r\\t\\v\"");
  EXPECT_EQ(quote(std::string("\x00\x1f\x7f", 3)), "\"\\x00\\x1f\\x7f\"");
  EXPECT_EQ(quote("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"");
  EXPECT_EQ(quote("\xc2\x85"), "\"\\u0085\"");      // C1 control
  EXPECT_EQ(quote("\xc2\xad"), "\"\\u00ad\"");      // soft hyphen
  EXPECT_EQ(quote("\xe2\x80\xa8"), "\"\\u2028\"");  // line separator
  EXPECT_EQ(quote("\xef\xbb\xbf"), "\"\\ufeff\"");  // byte order mark
  EXPECT_EQ(quote("\xff"
                  "a\xc3"),
            "\"\\xffa\\xc3\"");                          // invalid bytes
  EXPECT_EQ(quote("\xef\xbf\xbd"), "\"\xef\xbf\xbd\"");  // a valid U+FFFD is kept
}

}  // namespace
}  // namespace telegate::gofmt
