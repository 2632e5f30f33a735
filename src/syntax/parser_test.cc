#include "src/syntax/parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "src/syntax/printer.h"
#include "src/syntax/test_util.h"

namespace telegate::syntax {
namespace {

using ::testing::ElementsAre;
using testing::errorsOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::parse;
using testing::posOf;

// The seed configuration, verbatim (indented by four spaces as in the ConfigMap; note the line
// holding only whitespace).
constexpr char kSeed[] = R"(    logging {
      level  = "info"
      format = "logfmt"
    }

    discovery.kubernetes "pods" {
      role = "pod"
    }

    prometheus.scrape "default" {
      targets = discovery.kubernetes.pods.targets
      forward_to = [prometheus.remote_write.mimir.receiver]
    }

    prometheus.remote_write "mimir" {
      endpoint {
        url = "http://mimir-service.monitoring.svc.cluster.local:8080/api/v1/push"
      }
    }

    loki.source.kubernetes "pods" {
      targets = discovery.kubernetes.pods.targets
      forward_to = [loki.write.loki.receiver]
    }

    loki.write "loki" {
      endpoint {
        url = "http://loki-service.monitoring.svc.cluster.local:3100/loki/api/v1/push"
      }
    }

    otelcol.auth.bearer "receiver_token" {
      token = env("ALLOY_RECEIVER_TOKEN")
    }

    otelcol.receiver.otlp "default" {
      grpc {
        endpoint = "0.0.0.0:4317"
        auth = otelcol.auth.bearer.receiver_token.handler
      }
      http {
        endpoint = "0.0.0.0:4318"
        auth = otelcol.auth.bearer.receiver_token.handler
      }

      output {
        metrics = [otelcol.processor.batch.default.input]
        logs    = [otelcol.processor.batch.default.input]
        traces  = [otelcol.processor.batch.default.input]
      }
    }

    otelcol.processor.batch "default" {
      send_batch_size = 2000
      send_batch_max_size = 3000
      timeout = "10s"
      
      output {
        metrics = [otelcol.exporter.otlphttp.mimir.input]
        logs    = [otelcol.exporter.loki.default.input]
        traces  = [otelcol.exporter.otlp.tempo.input]
      }
    }

    otelcol.exporter.otlphttp "mimir" {
      client {
        endpoint = "http://mimir-service.monitoring.svc.cluster.local:8080"
      }
    }

    otelcol.exporter.loki "default" {
      forward_to = [loki.write.loki.receiver]
    }

    otelcol.exporter.otlp "tempo" {
      client {
        endpoint = "http://tempo-service.monitoring.svc.cluster.local:4317"
        tls {
          insecure = true
        }
      }
    }
)";

TEST(ParserTest, SeedConfigParses) {
  auto p = parse(kSeed);
  ASSERT_THAT(errorsOf(p.diags), IsEmpty());
  std::vector<std::string> names;
  for (const ast::Stmt& s : p.file->body.stmts) {
    ASSERT_NE(s.block, nullptr);
    names.push_back(s.block->name + (s.block->label ? "/" + *s.block->label : ""));
  }
  EXPECT_THAT(
      names,
      ElementsAre("logging", "discovery.kubernetes/pods", "prometheus.scrape/default",
                  "prometheus.remote_write/mimir", "loki.source.kubernetes/pods", "loki.write/loki",
                  "otelcol.auth.bearer/receiver_token", "otelcol.receiver.otlp/default",
                  "otelcol.processor.batch/default", "otelcol.exporter.otlphttp/mimir",
                  "otelcol.exporter.loki/default", "otelcol.exporter.otlp/tempo"));
  const ast::Block& otlp = *p.file->body.stmts[7].block;
  EXPECT_THAT(otlp.name_parts, ElementsAre("otelcol", "receiver", "otlp"));
  ASSERT_EQ(otlp.body.stmts.size(), 3u);
  EXPECT_EQ(otlp.body.stmts[0].block->name, "grpc");
  EXPECT_FALSE(otlp.body.stmts[0].block->label.has_value());
  EXPECT_EQ(otlp.body.stmts[2].block->name, "output");
  EXPECT_EQ(posOf(otlp.name_range.begin), "36:5");
  EXPECT_EQ(posOf(otlp.label_range.begin), "36:27");

  const ast::Block& batch = *p.file->body.stmts[8].block;
  ASSERT_EQ(batch.body.stmts.size(), 4u);
  EXPECT_EQ(batch.body.stmts[0].attr->name, "send_batch_size");
  EXPECT_EQ(batch.body.stmts[0].attr->value->value.asInt(), 2000);

  std::string once = format(*p.file);
  auto again = parse(once);
  ASSERT_THAT(errorsOf(again.diags), IsEmpty());
  EXPECT_EQ(format(*again.file), once);
}

TEST(ParserTest, BlocksLabelsAndAttributes) {
  auto p = parse("a = 1\nb.c \"lbl\" {\n  d { e = true }\n}\n");
  ASSERT_THAT(errorsOf(p.diags), IsEmpty());
  ASSERT_EQ(p.file->body.stmts.size(), 2u);
  const ast::Attribute& a = *p.file->body.stmts[0].attr;
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(posOf(a.range.begin), "1:1");
  EXPECT_EQ(posOf(a.range.end), "1:5");
  const ast::Block& b = *p.file->body.stmts[1].block;
  EXPECT_EQ(b.name, "b.c");
  EXPECT_EQ(*b.label, "lbl");
  EXPECT_EQ(posOf(b.label_range.begin), "2:5");
  EXPECT_EQ(posOf(b.label_range.end), "2:9");
  EXPECT_EQ(posOf(b.lbrace.begin), "2:11");
  EXPECT_EQ(posOf(b.rbrace.begin), "4:1");
  EXPECT_EQ(posOf(b.range.end), "4:1");
  const ast::Block& d = *b.body.stmts[0].block;
  EXPECT_EQ(d.name, "d");
  EXPECT_EQ(d.body.stmts[0].attr->name, "e");
  EXPECT_TRUE(d.body.stmts[0].attr->value->value.asBool());
}

TEST(ParserTest, TrailingCommasAllowed) {
  auto p = parse("a = [\n  1,\n  2,\n]\nb = {\n  x = 1,\n  \"y z\" = 2,\n}\nc = f(\n  1,\n)\n");
  ASSERT_THAT(errorsOf(p.diags), IsEmpty());
  const ast::Expr& obj = *p.file->body.stmts[1].attr->value;
  ASSERT_EQ(obj.fields.size(), 2u);
  EXPECT_FALSE(obj.fields[0].quoted);
  EXPECT_EQ(obj.fields[1].key, "y z");
  EXPECT_TRUE(obj.fields[1].quoted);
  EXPECT_EQ(obj.fields[1].raw, "\"y z\"");
}

TEST(ParserTest, TwoStatementsOnOneLine) {
  auto p = parse("a = 1 b = 2\n");
  EXPECT_THAT(errorsOf(p.diags), ElementsAre("1:7: expected TERMINATOR, got IDENT"));
  EXPECT_EQ(p.diags.items()[0].range.end.col, 7);
}

TEST(ParserTest, OneLineBlockIsFine) {
  auto p = parse("foo { a = 1 }\n");
  EXPECT_THAT(errorsOf(p.diags), IsEmpty());
  auto p2 = parse("foo { a = 1 b = 2 }\n");
  // Like Alloy, recovery skips to the end of the line (eating the '}').
  EXPECT_THAT(errorsOf(p2.diags),
              ElementsAre("1:13: expected TERMINATOR, got IDENT", "2:1: expected }, got EOF"));
}

TEST(ParserTest, MissingCommaInMultilineList) {
  auto p = parse("field = [\n  0,\n  1,\n  2\n]\n");
  EXPECT_THAT(errorsOf(p.diags), ElementsAre("4:4: missing ',' in expression list"));
  auto q = parse("obj = {\n  field_a = 0,\n  field_c = 2\n}\n");
  EXPECT_THAT(errorsOf(q.diags), ElementsAre("3:14: missing ',' in field list"));
  auto r = parse("x = f(\n  1\n)\n");
  EXPECT_THAT(errorsOf(r.diags), ElementsAre("2:4: missing ',' in expression list"));
}

TEST(ParserTest, AttributeNameErrors) {
  auto p = parse("invalid.attr = 20\n");
  EXPECT_THAT(errorsOf(p.diags),
              ElementsAre("1:1: attribute names may only consist of a single identifier with no "
                          "\".\""));
  EXPECT_EQ(posOf(p.diags.items()[0].range.end), "1:12");
  auto q = parse("invalid \"label\" = 20\n");
  EXPECT_THAT(errorsOf(q.diags), ElementsAre("1:9: attribute names may not have labels"));
}

TEST(ParserTest, BlockLabelErrors) {
  EXPECT_THAT(errorsOf(parse("invalid_block \"with space\" {\n}\n").diags),
              ElementsAre("1:15: expected block label to be a valid identifier, but got "
                          "\"with space\""));
  EXPECT_THAT(errorsOf(parse("invalid_block bad_label_name {\n}\n").diags),
              ElementsAre("1:15: expected block label, got IDENT"));
  EXPECT_THAT(
      errorsOf(parse("b `raw` {\n}\n").diags),
      ElementsAre("1:3: expected block label to be a double quoted string, but got \"`raw`\""));
}

TEST(ParserTest, BlockUsedAsExpression) {
  auto p = parse("rw = prometheus.remote_write \"default\" {\n  x = 1\n}\nattr = 15\n");
  EXPECT_THAT(errorsOf(p.diags), ElementsAre("1:6: cannot use a block as an expression"));
  EXPECT_EQ(posOf(p.diags.items()[0].range.end), "3:1");
  auto q = parse("rw = prometheus.remote_write \"other\" \"other\" 12345\n");
  EXPECT_THAT(errorsOf(q.diags), ElementsAre("1:38: expected {, got STRING"));
}

TEST(ParserTest, ExpressionErrors) {
  EXPECT_THAT(errorsOf(parse("attr = 1 + + 2\n").diags),
              ElementsAre("1:12: expected expression, got +"));
  EXPECT_THAT(errorsOf(parse("x = a(())\n").diags), ElementsAre("1:8: expected expression, got )"));
  EXPECT_THAT(errorsOf(parse("x = a.true\n").diags), ElementsAre("1:7: expected IDENT, got BOOL"));
  EXPECT_THAT(errorsOf(parse("m = {\n  1337 = \"baz\",\n}\n").diags),
              ElementsAre("2:3: expected field name (string or identifier), got NUMBER"));
  EXPECT_THAT(errorsOf(parse("a + 1\n").diags), ElementsAre("1:3: expected block label, got +"));
  EXPECT_THAT(errorsOf(parse("a\n").diags),
              ElementsAre("1:2: expected block label, got TERMINATOR",
                          "2:1: expected attribute assignment or block body, got EOF"));
  EXPECT_THAT(errorsOf(parse("a.b \"l\" + 1\n").diags),
              ElementsAre("1:9: expected block body, got +"));
  EXPECT_THAT(errorsOf(parse("= 1\n").diags), ElementsAre("1:1: expected identifier, got ="));
  EXPECT_THAT(errorsOf(parse("b {\n").diags), ElementsAre("2:1: expected }, got EOF"));
}

TEST(ParserTest, ScannerErrorsAreReported) {
  EXPECT_THAT(
      errorsOf(parse("# hello\n").diags),
      ElementsAre("1:1: illegal character U+0023 '#'", "1:1: expected identifier, got ILLEGAL"));
  auto p = parse("x = 'single'\n");
  EXPECT_THAT(errorsOf(p.diags), ElementsAre("1:5: illegal single-quoted string; use double quotes",
                                             "1:5: expected expression, got ILLEGAL"));
  EXPECT_THAT(errorsOf(parse("x = 1\n/* open").diags),
              ElementsAre("2:1: block comment not terminated"));
}

TEST(ParserTest, OnlyFirstParseErrorPerLine) {
  auto p = parse("a = 1 b = 2 c = 3\nd = + +\n");
  EXPECT_THAT(errorsOf(p.diags), ElementsAre("1:7: expected TERMINATOR, got IDENT",
                                             "2:5: expected expression, got +"));
}

TEST(ParserTest, CommentsKept) {
  auto p = parse("// head\na = 1 // tail\n/* block\n comment */\nb { /* in */ }\n");
  ASSERT_THAT(errorsOf(p.diags), IsEmpty());
  ASSERT_EQ(p.file->comments.size(), 4u);
  EXPECT_EQ(p.file->comments[0].text, "// head");
  EXPECT_EQ(posOf(p.file->comments[1].range.begin), "2:7");
  EXPECT_EQ(p.file->comments[2].text, "/* block\n comment */");
  EXPECT_EQ(posOf(p.file->comments[2].range.end), "4:11");
  EXPECT_EQ(p.file->comments[3].text, "/* in */");
}

TEST(ParserTest, LiteralValues) {
  auto p = parse(
      "a = 010\nb = 08\nc = 9223372036854775808\nd = 18446744073709551616\ne = 1.5e3\n"
      "f = \"x\\ty\\u00e9\\x41\\101\"\ng = `r\r\naw`\nh = null\ni = .5\nj = 0\n");
  ASSERT_THAT(errorsOf(p.diags), IsEmpty());
  auto v = [&](int i) { return p.file->body.stmts[i].attr->value->value; };
  EXPECT_EQ(v(0).numberKind(), NumberKind::kInt);
  EXPECT_EQ(v(0).asInt(), 8);
  EXPECT_EQ(v(1).numberKind(), NumberKind::kFloat);
  EXPECT_EQ(v(1).asFloat(), 8.0);
  EXPECT_EQ(v(2).numberKind(), NumberKind::kUint);
  EXPECT_EQ(v(2).asUint(), 9223372036854775808u);
  EXPECT_EQ(v(3).numberKind(), NumberKind::kFloat);
  EXPECT_EQ(v(4).asFloat(), 1500.0);
  EXPECT_EQ(v(5).asString(),
            "x\ty\xc3\xa9"
            "AA");
  EXPECT_EQ(v(6).asString(), "r\naw");
  EXPECT_TRUE(v(7).isNull());
  EXPECT_EQ(v(8).asFloat(), 0.5);
  EXPECT_EQ(v(9).asInt(), 0);
  EXPECT_EQ(p.file->body.stmts[0].attr->value->raw, "010");
}

TEST(ParserTest, ExpressionStructureAndPrecedence) {
  auto e = testing::parseExpr("1 + 2 * 3 ^ 2 ^ 2 == x.y[0](a, b) || !c && -d");
  ASSERT_THAT(errorsOf(e.diags), IsEmpty());
  const ast::Expr& root = *e.expr;
  ASSERT_EQ(root.kind, ast::ExprKind::kBinary);
  EXPECT_EQ(root.op, ast::Op::kOr);
  const ast::Expr& eq = *root.target;
  EXPECT_EQ(eq.op, ast::Op::kEq);
  const ast::Expr& add = *eq.target;
  EXPECT_EQ(add.op, ast::Op::kAdd);
  const ast::Expr& mul = *add.rhs;
  EXPECT_EQ(mul.op, ast::Op::kMul);
  const ast::Expr& pow = *mul.rhs;
  EXPECT_EQ(pow.op, ast::Op::kPow);
  EXPECT_EQ(pow.rhs->op, ast::Op::kPow);  // right-associative
  const ast::Expr& call = *eq.rhs;
  EXPECT_EQ(call.kind, ast::ExprKind::kCall);
  EXPECT_EQ(call.elems.size(), 2u);
  EXPECT_EQ(call.target->kind, ast::ExprKind::kIndex);
  EXPECT_EQ(call.target->target->kind, ast::ExprKind::kAccess);
  EXPECT_EQ(call.target->target->name, "y");
  EXPECT_EQ(root.rhs->op, ast::Op::kAnd);
  EXPECT_EQ(root.rhs->target->kind, ast::ExprKind::kUnary);
  EXPECT_EQ(root.rhs->rhs->op, ast::Op::kNeg);
  EXPECT_EQ(posOf(root.range.begin), "1:1");
  EXPECT_EQ(posOf(root.range.end), "1:45");
  EXPECT_EQ(posOf(call.range.end), "1:33");
}

TEST(ParserTest, ParseExpressionRejectsTrailingTokens) {
  auto e = testing::parseExpr("a = 1");
  EXPECT_THAT(errorsOf(e.diags), ElementsAre("1:3: expected TERMINATOR, got ="));
}

TEST(ParserTest, Traversals) {
  auto p = parse(
      "x = discovery.kubernetes.pods.targets\n"
      "b \"l\" {\n"
      "  y = [a.b, {k = c.d.e}, f.g(h.i, 1) + j[0].k, (m).n, -o.p]\n"
      "}\n");
  ASSERT_THAT(errorsOf(p.diags), IsEmpty());
  std::vector<ast::Traversal> ts;
  ast::collectTraversals(p.file->body, &ts);
  std::vector<std::string> joined;
  for (const auto& t : ts) {
    std::string s;
    for (const auto& part : t.parts) s += (s.empty() ? "" : ".") + part;
    joined.push_back(s);
  }
  EXPECT_THAT(joined, ElementsAre("discovery.kubernetes.pods.targets", "a.b", "c.d.e", "f.g", "h.i",
                                  "j", "m", "o.p"));
  EXPECT_EQ(posOf(ts[0].range.begin), "1:5");
  EXPECT_EQ(posOf(ts[0].range.end), "1:37");
}

TEST(ParserTest, NestingLimits) {
  auto expect_too_deep = [](const std::string& src) {
    auto p = parse(src);
    ASSERT_FALSE(p.diags.empty()) << src.substr(0, 40);
    bool found = false;
    for (const auto& d : p.diags.items()) found |= d.message.find("nesting too deep") == 0;
    EXPECT_TRUE(found) << p.diags.summary();
  };
  int n = 5000;
  expect_too_deep("a = " + std::string(n, '(') + "1" + std::string(n, ')') + "\n");
  expect_too_deep("a = " + std::string(n, '[') + std::string(n, ']') + "\n");
  expect_too_deep("a = " + std::string(n, '-') + "1\n");
  std::string chain = "a = 1";
  for (int i = 0; i < n; ++i) chain += " + 1";
  expect_too_deep(chain + "\n");
  std::string pow = "a = 2";
  for (int i = 0; i < n; ++i) pow += " ^ 2";
  expect_too_deep(pow + "\n");
  std::string access = "a = x";
  for (int i = 0; i < n; ++i) access += ".y";
  expect_too_deep(access + "\n");
  std::string blocks;
  for (int i = 0; i < n; ++i) blocks += "b {\n";
  expect_too_deep(blocks);
  // Moderate nesting is fine.
  auto ok = parse("a = " + std::string(50, '(') + "1" + std::string(50, ')') + "\n");
  EXPECT_THAT(errorsOf(ok.diags), IsEmpty());
}

TEST(ParserTest, LargeInputsAreLinear) {
  std::string big;
  for (int i = 0; i < 20000; ++i) big += "b \"l" + std::to_string(i) + "\" { a = [1, 2, \"x\"] }\n";
  auto start = std::chrono::steady_clock::now();
  auto p = parse(big);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  EXPECT_THAT(errorsOf(p.diags), IsEmpty());
  EXPECT_EQ(p.file->body.stmts.size(), 20000u);
  EXPECT_LT(ms, 5000);
  // Many errors on many lines stay cheap as well.
  std::string bad(200000, '#');
  auto q = parse(bad);
  EXPECT_FALSE(q.diags.empty());
}

TEST(ParserTest, SizeLimit) {
  auto p = parse(std::string(kMaxSourceBytes + 1, ' '));
  EXPECT_THAT(errorsOf(p.diags), ElementsAre(HasSubstr("too large")));
  ASSERT_NE(p.file, nullptr);
  EXPECT_TRUE(p.file->body.stmts.empty());
}

TEST(ParserTest, NeverCrashesOnGarbage) {
  const char* inputs[] = {"",      "{",       "}",         "a = ",   "a = [",
                          "a = {", "a = f(",  "a.",        "a \"",   "\"",
                          "`",     "a = 1 +", "b { c { d", "a = {]", "a = x \"y\" {",
                          "/*",    "a = (1",  "a = 1[",    "a = .",  "\xff\xfe"};
  for (const char* in : inputs) {
    auto p = parse(in);
    EXPECT_NE(p.file, nullptr) << in;
  }
  EXPECT_THAT(errorsOf(parse("").diags), IsEmpty());
  EXPECT_THAT(errorsOf(parse("a = {]").diags), ElementsAre("1:6: expected }, got ]"));
}

}  // namespace
}  // namespace telegate::syntax
