#include "src/syntax/scanner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace telegate::syntax {
namespace {

struct Scanned {
  std::vector<Token> tokens;
  std::vector<std::string> errors;  // "LINE:COL: message"
};

// Keeps the SourceFile alive for the token literals.
struct ScanRun {
  explicit ScanRun(std::string text) : file("t.alloy", std::move(text)) {
    Scanner s(file, [this](Pos p, std::string msg) {
      out.errors.push_back(std::to_string(p.line) + ":" + std::to_string(p.col) + ": " + msg);
    });
    for (int i = 0; i < 10000; ++i) {
      Token t = s.scan();
      out.tokens.push_back(t);
      if (t.tok == Tok::kEof) break;
    }
  }
  std::vector<Tok> kinds() const {
    std::vector<Tok> k;
    for (const Token& t : out.tokens) k.push_back(t.tok);
    return k;
  }
  SourceFile file;
  Scanned out;
};

TEST(ScannerTest, AttributeTokensAndPositions) {
  ScanRun r("a = 1\nbb = \"x\"\n");
  EXPECT_THAT(r.kinds(), ::testing::ElementsAre(Tok::kIdent, Tok::kAssign, Tok::kNumber,
                                                Tok::kTerminator, Tok::kIdent, Tok::kAssign,
                                                Tok::kString, Tok::kTerminator, Tok::kEof));
  const auto& t = r.out.tokens;
  EXPECT_EQ(t[0].pos.line, 1);
  EXPECT_EQ(t[0].pos.col, 1);
  EXPECT_EQ(t[1].pos.col, 3);
  EXPECT_EQ(t[2].pos.col, 5);
  EXPECT_EQ(t[3].pos.col, 6);  // the newline itself
  EXPECT_EQ(t[4].pos.line, 2);
  EXPECT_EQ(t[4].lit, "bb");
  EXPECT_EQ(t[6].lit, "\"x\"");
  EXPECT_EQ(t[6].pos.col, 6);
  EXPECT_TRUE(r.out.errors.empty());
}

TEST(ScannerTest, TerminatorOnlyAfterValueTokens) {
  // No terminator after '=', ',', '[', '(', '{' or operators.
  ScanRun r("a = [\n1,\n2 +\n3,\n]\n");
  EXPECT_THAT(r.kinds(),
              ::testing::ElementsAre(Tok::kIdent, Tok::kAssign, Tok::kLBrack, Tok::kNumber,
                                     Tok::kComma, Tok::kNumber, Tok::kAdd, Tok::kNumber,
                                     Tok::kComma, Tok::kRBrack, Tok::kTerminator, Tok::kEof));
}

TEST(ScannerTest, TerminatorAtEofAndAfterClosers) {
  ScanRun r("f()");
  EXPECT_THAT(r.kinds(), ::testing::ElementsAre(Tok::kIdent, Tok::kLParen, Tok::kRParen,
                                                Tok::kTerminator, Tok::kEof));
  ScanRun r2("}\n]\n");
  EXPECT_THAT(r2.kinds(), ::testing::ElementsAre(Tok::kRCurly, Tok::kTerminator, Tok::kRBrack,
                                                 Tok::kTerminator, Tok::kEof));
}

TEST(ScannerTest, TrailingCommentStillTerminates) {
  ScanRun r("a = 1 // note\nb");
  EXPECT_THAT(r.kinds(),
              ::testing::ElementsAre(Tok::kIdent, Tok::kAssign, Tok::kNumber, Tok::kTerminator,
                                     Tok::kComment, Tok::kIdent, Tok::kTerminator, Tok::kEof));
  EXPECT_EQ(r.out.tokens[3].pos.col, 7);  // terminator placed at the comment
  EXPECT_EQ(r.out.tokens[4].lit, "// note");
  EXPECT_EQ(r.out.tokens[5].pos.line, 2);
}

TEST(ScannerTest, BlockCommentMidLineDoesNotTerminate) {
  ScanRun r("a /* x */ b");
  EXPECT_THAT(r.kinds(), ::testing::ElementsAre(Tok::kIdent, Tok::kComment, Tok::kIdent,
                                                Tok::kTerminator, Tok::kEof));
  ScanRun r2("a /* x */ /* y */\nb");
  EXPECT_EQ(r2.kinds()[1], Tok::kTerminator);
}

TEST(ScannerTest, Numbers) {
  ScanRun r("1 1.5 .5 5. 1e3 1E+3 2e-2 010");
  EXPECT_THAT(r.kinds(), ::testing::ElementsAre(Tok::kNumber, Tok::kFloat, Tok::kFloat, Tok::kFloat,
                                                Tok::kFloat, Tok::kFloat, Tok::kFloat, Tok::kNumber,
                                                Tok::kTerminator, Tok::kEof));
  EXPECT_EQ(r.out.tokens[3].lit, "5.");
  EXPECT_EQ(r.out.tokens[7].lit, "010");
  ScanRun bad("x = 1e");
  EXPECT_THAT(bad.out.errors, ::testing::ElementsAre("1:5: exponent has no digits"));
}

TEST(ScannerTest, KeywordsAndIdentifiers) {
  ScanRun r("true false null t _x héllo x1");
  EXPECT_THAT(r.kinds(),
              ::testing::ElementsAre(Tok::kBool, Tok::kBool, Tok::kNull, Tok::kIdent, Tok::kIdent,
                                     Tok::kIdent, Tok::kIdent, Tok::kTerminator, Tok::kEof));
  EXPECT_EQ(r.out.tokens[5].lit, "héllo");
  EXPECT_TRUE(r.out.errors.empty());
}

TEST(ScannerTest, Operators) {
  ScanRun r("|| && ! != = == < <= > >= + - * / % ^ { } ( ) [ ] , .");
  EXPECT_THAT(r.kinds(),
              ::testing::ElementsAre(
                  Tok::kOr, Tok::kAnd, Tok::kNot, Tok::kNeq, Tok::kAssign, Tok::kEq, Tok::kLt,
                  Tok::kLte, Tok::kGt, Tok::kGte, Tok::kAdd, Tok::kSub, Tok::kMul, Tok::kDiv,
                  Tok::kMod, Tok::kPow, Tok::kLCurly, Tok::kRCurly, Tok::kLParen, Tok::kRParen,
                  Tok::kLBrack, Tok::kRBrack, Tok::kComma, Tok::kDot, Tok::kEof));
  EXPECT_TRUE(r.out.errors.empty());
}

TEST(ScannerTest, LoneBarAndAmpersand) {
  ScanRun r("a | b");
  EXPECT_THAT(r.out.errors, ::testing::ElementsAre("1:4: missing second | in ||"));
  ScanRun r2("a & b");
  EXPECT_THAT(r2.out.errors, ::testing::ElementsAre("1:4: missing second & in &&"));
}

TEST(ScannerTest, StringsAndEscapes) {
  ScanRun ok(R"("a\"b\\\n\t\x41\101\u00e9\U0001F600")");
  EXPECT_TRUE(ok.out.errors.empty());
  EXPECT_EQ(ok.out.tokens[0].tok, Tok::kString);

  EXPECT_THAT(ScanRun(R"(x = "\q")").out.errors,
              ::testing::ElementsAre("1:7: unknown escape sequence"));
  EXPECT_THAT(ScanRun(R"(x = "\'")").out.errors,
              ::testing::ElementsAre("1:7: unknown escape sequence"));
  EXPECT_THAT(ScanRun(R"(x = "\400")").out.errors,
              ::testing::ElementsAre("1:7: escape sequence is invalid Unicode code point"));
  EXPECT_THAT(ScanRun(R"(x = "\uD800")").out.errors,
              ::testing::ElementsAre("1:7: escape sequence is invalid Unicode code point"));
  EXPECT_THAT(ScanRun(R"(x = "\xZZ")").out.errors,
              ::testing::ElementsAre("1:7: illegal character U+005A 'Z' in escape sequence"));
  EXPECT_THAT(ScanRun("x = \"abc\ny").out.errors,
              ::testing::ElementsAre("1:5: string literal not terminated"));
  EXPECT_THAT(ScanRun("x = \"abc").out.errors,
              ::testing::ElementsAre("1:5: string literal not terminated"));
}

TEST(ScannerTest, RawStringsSpanLines) {
  ScanRun r("x = `a\nb\\n`\ny");
  EXPECT_TRUE(r.out.errors.empty());
  EXPECT_EQ(r.out.tokens[2].tok, Tok::kString);
  EXPECT_EQ(r.out.tokens[2].lit, "`a\nb\\n`");
  EXPECT_EQ(r.out.tokens[3].tok, Tok::kTerminator);
  EXPECT_EQ(r.out.tokens[4].pos.line, 3);
  EXPECT_THAT(ScanRun("x = `abc").out.errors,
              ::testing::ElementsAre("1:5: string literal not terminated"));
}

TEST(ScannerTest, SingleQuotedString) {
  ScanRun r("x = 'abc'");
  EXPECT_THAT(r.out.errors,
              ::testing::ElementsAre("1:5: illegal single-quoted string; use double quotes"));
  EXPECT_EQ(r.out.tokens[2].tok, Tok::kIllegal);
}

TEST(ScannerTest, IllegalCharacters) {
  EXPECT_THAT(ScanRun("  # comment").out.errors,
              ::testing::ElementsAre("1:3: illegal character U+0023 '#'"));
  EXPECT_THAT(
      ScanRun(std::string("a\0b", 3)).out.errors,
      ::testing::ElementsAre("1:2: illegal character NUL", "1:2: illegal character U+0000"));
  EXPECT_THAT(ScanRun("a \xff").out.errors, ::testing::Contains("1:3: illegal UTF-8 encoding"));
  EXPECT_THAT(ScanRun("\xEF\xBB\xBF"
                      "a = 1")
                  .out.errors,
              ::testing::IsEmpty());
  EXPECT_THAT(ScanRun("a\xEF\xBB\xBF").out.errors,
              ::testing::ElementsAre("1:2: illegal byte order mark"));
}

TEST(ScannerTest, BlockCommentNotTerminated) {
  ScanRun r("a = 1\n/* never closed");
  EXPECT_THAT(r.out.errors, ::testing::ElementsAre("2:1: block comment not terminated"));
}

TEST(ScannerTest, CommentsAreTokens) {
  ScanRun r("// one\n/* two\nlines */ x");
  ASSERT_GE(r.out.tokens.size(), 3u);
  EXPECT_EQ(r.out.tokens[0].tok, Tok::kComment);
  EXPECT_EQ(r.out.tokens[0].lit, "// one");
  EXPECT_EQ(r.out.tokens[1].tok, Tok::kComment);
  EXPECT_EQ(r.out.tokens[1].pos.line, 2);
  EXPECT_EQ(r.out.tokens[2].tok, Tok::kIdent);
  EXPECT_EQ(r.out.tokens[2].pos.line, 3);
}

TEST(ScannerTest, ValidIdentifier) {
  EXPECT_TRUE(isValidIdentifier("pods"));
  EXPECT_TRUE(isValidIdentifier("_a1"));
  EXPECT_TRUE(isValidIdentifier("ünïcode"));
  EXPECT_FALSE(isValidIdentifier(""));
  EXPECT_FALSE(isValidIdentifier("1a"));
  EXPECT_FALSE(isValidIdentifier("with space"));
  EXPECT_FALSE(isValidIdentifier("a-b"));
}

TEST(ScannerTest, TokenNames) {
  EXPECT_EQ(tokName(Tok::kIdent), "IDENT");
  EXPECT_EQ(tokName(Tok::kTerminator), "TERMINATOR");
  EXPECT_EQ(tokName(Tok::kLCurly), "{");
  EXPECT_EQ(binaryPrecedence(Tok::kOr), 1);
  EXPECT_EQ(binaryPrecedence(Tok::kPow), 6);
  EXPECT_EQ(binaryPrecedence(Tok::kComma), 0);
}

}  // namespace
}  // namespace telegate::syntax
