#include "src/common/json_writer.h"

#include <gtest/gtest.h>

namespace telegate::json {
namespace {

// Every byte class the styles treat differently: quote, backslash, the five short escapes,
// another control character, the HTML characters, DEL, a two-byte rune, U+2028 and an invalid
// byte.
const std::string kInput("a\"\\\b\f\n\r\t\x01<>&\x7f\xc3\xa9\xe2\x80\xa8\xff", 19);

TEST(JsonWriterTest, Rfc8259Style) {
  EXPECT_EQ(quote(kInput, kJsonRfc8259),
            std::string("\"a\\\"\\\\\\b\\f\\n\\r\\t\\u0001<>&\x7f\xc3\xa9\xe2\x80\xa8\\ufffd\""));
  EXPECT_EQ(quote(kInput), quote(kInput, kJsonRfc8259));
}

TEST(JsonWriterTest, GoStyleIsHtmlSafe) {
  EXPECT_EQ(quote(kInput, kJsonGo),
            std::string("\"a\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u003c\\u003e\\u0026\x7f\xc3\xa9"
                        "\\u2028\\ufffd\""));
}

TEST(JsonWriterTest, GoLegacyStyleSpellsBackspaceAndFormFeedInHex) {
  EXPECT_EQ(quote(kInput, kJsonGoLegacy),
            std::string("\"a\\\"\\\\\\u0008\\u000c\\n\\r\\t\\u0001\\u003c\\u003e\\u0026\x7f"
                        "\xc3\xa9\\u2028\\ufffd\""));
}

TEST(JsonWriterTest, MinimalStyleCopiesEveryOtherByte) {
  EXPECT_EQ(quote(kInput, kJsonMinimal),
            std::string("\"a\\\"\\\\\\u0008\\u000c\\u000a\\u000d\\u0009\\u0001<>&\x7f\xc3\xa9"
                        "\xe2\x80\xa8\xff\""));
}

TEST(JsonWriterTest, InvalidSequencesAreReplacedBytePerByte) {
  // Overlong, surrogate, above U+10FFFF, truncated: each byte that starts no rune -> \ufffd.
  EXPECT_EQ(quote(std::string("\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82", 14)),
            "\"\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\"");
  EXPECT_EQ(quote("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");
}

TEST(JsonWriterTest, AppendsAfterExistingText) {
  std::string out = "x=";
  appendString(&out, "", kJsonGo);
  appendString(&out, "plain text", kJsonMinimal);
  EXPECT_EQ(out, "x=\"\"\"plain text\"");
}

}  // namespace
}  // namespace telegate::json
