#include "src/syntax/diag.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/syntax/test_util.h"

namespace telegate::syntax {
namespace {

Range rng(int l1, int c1, int l2 = 0, int c2 = 0) {
  Range r;
  r.begin.line = l1;
  r.begin.col = c1;
  r.end.line = l2;
  r.end.col = c2;
  return r;
}

std::map<std::string, SourceFilePtr> files(const std::string& name, const std::string& text) {
  return {{name, std::make_shared<const SourceFile>(name, text)}};
}

TEST(SourceFileTest, LinesAndPositions) {
  SourceFile f("f", "ab\ncd\r\n\nlast");
  EXPECT_EQ(f.lineCount(), 4);
  EXPECT_EQ(f.line(1), "ab");
  EXPECT_EQ(f.line(2), "cd\r");
  EXPECT_EQ(f.line(3), "");
  EXPECT_EQ(f.line(4), "last");
  EXPECT_EQ(f.line(5), "");
  Pos p = f.posAt(4);
  EXPECT_EQ(p.line, 2);
  EXPECT_EQ(p.col, 2);
  EXPECT_EQ(p.offset, 4u);
  EXPECT_EQ(f.posAt(1000).offset, f.text().size());
}

TEST(DiagnosticTest, ToStringAndSummary) {
  Diagnostic d{Severity::kError, "config.alloy", rng(3, 7), "boom"};
  EXPECT_EQ(d.toString(), "config.alloy:3:7: boom");
  d.range.begin.col = 0;
  EXPECT_EQ(d.toString(), "config.alloy:3: boom");
  d.range.begin.line = 0;
  EXPECT_EQ(d.toString(), "config.alloy: boom");
  d.file.clear();
  EXPECT_EQ(d.toString(), "-: boom");

  Diagnostics ds;
  EXPECT_FALSE(ds.hasErrors());
  EXPECT_EQ(ds.summary(), "no errors");
  ds.addWarning("a", rng(1, 1), "careful");
  EXPECT_FALSE(ds.hasErrors());
  ds.addError("a", rng(2, 3), "first");
  ds.addError("a", rng(4, 5), "second");
  EXPECT_TRUE(ds.hasErrors());
  EXPECT_EQ(ds.size(), 3u);
  EXPECT_EQ(ds.summary(), "a:2:3: first (and 2 more diagnostics)");
  Diagnostics other;
  other.append(ds);
  EXPECT_EQ(other.size(), 3u);
}

TEST(DiagnosticTest, FormatSingleLine) {
  Diagnostics ds;
  ds.addError("testfile", rng(2, 2, 2, 5), "synthetic error");
  EXPECT_EQ(
      formatDiagnostics(
          ds, files("testfile", "test.block \"label\" {\n\tattr       = 1\n\tother_attr = 2\n}")),
      "Error: testfile:2:2: synthetic error\n"
      "\n"
      "1 | test.block \"label\" {\n"
      "2 |     attr       = 1\n"
      "  |     ^^^^\n"
      "3 |     other_attr = 2\n");
}

TEST(DiagnosticTest, EndPositionOptionalAndPadding) {
  Diagnostics ds;
  ds.addError("testfile", rng(1, 4), "synthetic error");
  EXPECT_EQ(formatDiagnostics(ds, files("testfile", "foo,bar")),
            "Error: testfile:1:4: synthetic error\n\n1 | foo,bar\n  |    ^\n");
  std::string text;
  for (int i = 1; i <= 11; ++i) text += "LINE_" + std::to_string(i) + (i < 11 ? "\n" : "");
  Diagnostics ds2;
  ds2.addError("testfile", rng(9, 1, 9, 6), "synthetic error");
  EXPECT_EQ(formatDiagnostics(ds2, files("testfile", text)),
            "Error: testfile:9:1: synthetic error\n\n"
            " 8 | LINE_8\n"
            " 9 | LINE_9\n"
            "   | ^^^^^^\n"
            "10 | LINE_10\n");
}

TEST(DiagnosticTest, MultiLineRange) {
  Diagnostics ds;
  ds.addError("testfile", rng(2, 8, 6, 7), "synthetic error");
  EXPECT_EQ(formatDiagnostics(ds, files("testfile",
                                        "FILE_BEGIN\nbefore START\nTEXT\n\tTEXT\n\t\tTEXT\n"
                                        "\t\t\tDONE after\nFILE_END")),
            "Error: testfile:2:8: synthetic error\n\n"
            "1 |   FILE_BEGIN\n"
            "2 |   before START\n"
            "  |  ________^^^^^\n"
            "3 | | TEXT\n"
            "4 | |     TEXT\n"
            "5 | |         TEXT\n"
            "6 | |             DONE after\n"
            "  | |_____________^^^^\n"
            "7 |   FILE_END\n");
}

TEST(DiagnosticTest, MultipleDiagnosticsAndUnknownFiles) {
  auto fs = files("file_a", "old_field = 15\n3 & 4");
  fs["file_b"] = std::make_shared<const SourceFile>("file_b", "old_field = 22");
  Diagnostics ds;
  ds.addWarning("file_a", rng(1, 1, 1, 9), "old_field is deprecated");
  ds.addError("file_a", rng(2, 3), "unrecognized operator &");
  ds.addWarning("file_b", rng(1, 1, 1, 9), "old_field is deprecated");
  ds.addError("elsewhere", rng(1, 1), "no excerpt");
  EXPECT_EQ(formatDiagnostics(ds, fs),
            "Warning: file_a:1:1: old_field is deprecated\n\n"
            "1 | old_field = 15\n"
            "  | ^^^^^^^^^\n"
            "2 | 3 & 4\n"
            "\n"
            "Error: file_a:2:3: unrecognized operator &\n\n"
            "1 | old_field = 15\n"
            "2 | 3 & 4\n"
            "  |   ^\n"
            "\n"
            "Warning: file_b:1:1: old_field is deprecated\n\n"
            "1 | old_field = 22\n"
            "  | ^^^^^^^^^\n"
            "\n"
            "Error: elsewhere:1:1: no excerpt\n");
}

TEST(DiagnosticTest, ParserErrorsRender) {
  auto p = testing::parse("a = 1 b = 2\n", "config.alloy");
  EXPECT_EQ(formatDiagnostics(p.diags, {{"config.alloy", p.source}}),
            "Error: config.alloy:1:7: expected TERMINATOR, got IDENT\n\n"
            "1 | a = 1 b = 2\n"
            "  |       ^\n"
            "2 | \n");
}

}  // namespace
}  // namespace telegate::syntax
