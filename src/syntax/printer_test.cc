#include "src/syntax/printer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/syntax/test_util.h"

namespace telegate::syntax {
namespace {

using testing::errorsOf;
using ::testing::IsEmpty;
using testing::parse;

// Formats `in`, checks the output re-parses cleanly and is a fixed point, and returns it.
std::string fmt(const std::string& in) {
  auto p = parse(in);
  EXPECT_THAT(errorsOf(p.diags), IsEmpty()) << in;
  std::string out = format(*p.file);
  auto again = parse(out);
  EXPECT_THAT(errorsOf(again.diags), IsEmpty()) << out;
  EXPECT_EQ(format(*again.file), out) << "not idempotent for:\n" << in;
  return out;
}

TEST(PrinterTest, SpacingAndIndentation) {
  EXPECT_EQ(fmt("attr_1=15\nattr_2=30*2+5\nattr_3=field.access*2\n"),
            "attr_1 = 15\nattr_2 = 30 * 2 + 5\nattr_3 = field.access * 2\n");
  EXPECT_EQ(fmt("some_block {\nattr = 15\n\ninner_block {\nattr = 20\n}\n}\n"),
            "some_block {\n\tattr = 15\n\n\tinner_block {\n\t\tattr = 20\n\t}\n}\n");
  EXPECT_EQ(fmt("a = !b && -c || (d ^ -2)"), "a = !b && -c || (d ^ -2)\n");
}

TEST(PrinterTest, EmptyBlocks) {
  EXPECT_EQ(fmt("empty.block {\n\n}\n\nempty.block \"labeled\" {\n\n}\n"),
            "empty.block { }\n\nempty.block \"labeled\" { }\n");
}

TEST(PrinterTest, AlignsEqualsInRuns) {
  EXPECT_EQ(fmt("short_name = true\nreally_long_name = true\n\nextremely_long_name = true\n"),
            "short_name       = true\nreally_long_name = true\n\nextremely_long_name = true\n");
  // Blocks and comments break runs.
  EXPECT_EQ(fmt("a = 1\nbbb = 2\nc { }\nddddd = 3\n// x\nee = 4\n"),
            "a   = 1\nbbb = 2\nc { }\nddddd = 3\n// x\nee = 4\n");
}

TEST(PrinterTest, AlignsTrailingComments) {
  EXPECT_EQ(fmt("short_name = \"short value\" // Align me\n"
                "really_long_name = \"really long value\" // Align me\n\n"
                "extremely_long_name = true // Unaligned\n"),
            "short_name       = \"short value\"       // Align me\n"
            "really_long_name = \"really long value\" // Align me\n\n"
            "extremely_long_name = true // Unaligned\n");
}

TEST(PrinterTest, MultilineListsAndObjects) {
  EXPECT_EQ(fmt("multiline_array = [\n0,\n1,\n]\n\nmulitiline_object = {\nfoo = \"bar\",\n}\n"),
            "multiline_array = [\n\t0,\n\t1,\n]\n\nmulitiline_object = {\n\tfoo = \"bar\",\n}\n");
  // A list broken anywhere prints one element per line with trailing commas.
  EXPECT_EQ(fmt("a = [1, 2,\n3]\nb = f(1,\n2)\n"),
            "a = [\n\t1,\n\t2,\n\t3,\n]\nb = f(\n\t1,\n\t2,\n)\n");
  // Single-line lists stay on one line; trailing commas dropped.
  EXPECT_EQ(fmt("a = [ 1 ,2, ]\nb = {x=1,\"y\"=2,}\nc = f( )\nd = []\ne = {}\n"),
            "a = [1, 2]\nb = { x = 1, \"y\" = 2 }\nc = f()\nd = []\ne = {}\n");
  EXPECT_EQ(fmt("mixed_list = [0, true, {\n\tkey_1 = true,\n\tkey_2 = true,\n}, \"Hello!\"]\n"),
            "mixed_list = [0, true, {\n\tkey_1 = true,\n\tkey_2 = true,\n}, \"Hello!\"]\n");
  EXPECT_EQ(fmt("func_with_obj = some_func({\n  key1 = \"value1\",\n})\n"),
            "func_with_obj = some_func({\n\tkey1 = \"value1\",\n})\n");
}

TEST(PrinterTest, ObjectFieldAlignment) {
  EXPECT_EQ(fmt("block {\n"
                "some_object = {\n"
                "key_1 = 5,\n"
                "long_key = 10,\n"
                "longer_key = {\n"
                "inner_key = true,\n"
                "inner_key_2 = false,\n"
                "},\n"
                "other_key = [0, 1, 2],\n"
                "}\n"
                "}\n"),
            "block {\n"
            "\tsome_object = {\n"
            "\t\tkey_1      = 5,\n"
            "\t\tlong_key   = 10,\n"
            "\t\tlonger_key = {\n"
            "\t\t\tinner_key   = true,\n"
            "\t\t\tinner_key_2 = false,\n"
            "\t\t},\n"
            "\t\tother_key = [0, 1, 2],\n"
            "\t}\n"
            "}\n");
}

TEST(PrinterTest, CommentsPreserved) {
  const std::string in =
      "// file header\n"
      "\n"
      "/* block */\n"
      "block { // on brace\n"
      "  attr = 5 // trailing\n"
      "// alone\n"
      "  list = [ // open\n"
      "    0,\n"
      "    // element-level\n"
      "    1, // after one\n"
      "    // before close\n"
      "  ]\n"
      "  x = 1 + /* inline */ 2\n"
      "}\n"
      "\n"
      "\n"
      "// trailing file comment\n";
  EXPECT_EQ(fmt(in),
            "// file header\n"
            "\n"
            "/* block */\n"
            "block { // on brace\n"
            "\tattr = 5 // trailing\n"
            "\t// alone\n"
            "\tlist = [ // open\n"
            "\t\t0,\n"
            "\t\t// element-level\n"
            "\t\t1, // after one\n"
            "\t\t// before close\n"
            "\t]\n"
            "\tx = 1 + /* inline */ 2\n"
            "}\n"
            "\n"
            "// trailing file comment\n");
}

TEST(PrinterTest, CommentsInEmptyBlocks) {
  EXPECT_EQ(fmt("block { // comment\n}\n"), "block { // comment\n}\n");
  EXPECT_EQ(fmt("block {\n// comment\n}\n"), "block {\n\t// comment\n}\n");
  EXPECT_EQ(fmt("block {\n  attr = 5\n// comment\n}\n"), "block {\n\tattr = 5\n\t// comment\n}\n");
}

TEST(PrinterTest, BlankLinesCollapsed) {
  EXPECT_EQ(fmt("\n\n\na = 1\n\n\n\nb = 2\n\n\n"), "a = 1\n\nb = 2\n");
  EXPECT_EQ(fmt("b {\n\n  a = 1\n\n}\n"), "b {\n\ta = 1\n}\n");
}

TEST(PrinterTest, KeepsLiteralsVerbatim) {
  EXPECT_EQ(fmt("a = 010\nb = 1.50\nc = \"\\u00e9\\n\"\nd = `raw\n  text`\ne = 1 .field\n"),
            "a = 010\nb = 1.50\nc = \"\\u00e9\\n\"\nd = `raw\n  text`\ne = 1 .field\n");
}

TEST(PrinterTest, OneLineBlockExpands) {
  EXPECT_EQ(fmt("foo \"l\" { a = 1 }\n"), "foo \"l\" {\n\ta = 1\n}\n");
}

TEST(PrinterTest, FormatExpr) {
  auto e = testing::parseExpr("f( a ,b )[ 0 ].c+-1");
  ASSERT_THAT(errorsOf(e.diags), IsEmpty());
  EXPECT_EQ(formatExpr(*e.expr), "f(a, b)[0].c + -1");
}

TEST(PrinterTest, IdempotentOnAssortedInputs) {
  const char* inputs[] = {
      "a = [\n  1, // one\n  2,\n] // after\nb = 2\n",
      "a = 1 /* x\n y */ b = 2\n",
      "a = // lead\n  1\nbb = 2\n",
      "p { a./* c */b { } }\n",
      "a = [a + // c\n b, 2]\n",
      "x = {\n  \"k\" /* c */ = 1,\n  long = 2,\n}\n",
      "a = f(/* c */)\nb = [\n  // only a comment\n]\n",
      "a = (\n  1 + 2)\n",
      "a = x. // c\n  y\n",
      "/* a */ /* b */\nb = 1\n",
  };
  for (const char* in : inputs) fmt(in);
}

}  // namespace
}  // namespace telegate::syntax
