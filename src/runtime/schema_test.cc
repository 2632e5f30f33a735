#include "src/runtime/schema.h"

#include <gtest/gtest.h>

#include "src/syntax/parser.h"
#include "src/syntax/stdlib.h"

namespace telegate::runtime {
namespace {

using namespace std::chrono_literals;

struct Inner {
  bool insecure = false;
  std::string name = "x";
  static void describe(Schema<Inner>& s) {
    s.attr("insecure", &Inner::insecure);
    s.attr("name", &Inner::name);
  }
};

struct Args {
  std::string url;
  int64_t count = 3;
  Duration timeout{5s};
  ByteSize size{1024};
  Secret token;
  std::vector<std::string> tags;
  std::map<std::string, std::string> headers;
  Inner tls;
  std::optional<Inner> extra;
  std::vector<Inner> endpoint;
  static void describe(Schema<Args>& s) {
    s.attr("url", &Args::url).required();
    s.attr("count", &Args::count);
    s.attr("timeout", &Args::timeout);
    s.attr("size", &Args::size);
    s.attr("token", &Args::token);
    s.attr("tags", &Args::tags);
    s.attr("headers", &Args::headers);
    s.block("tls", &Args::tls);
    s.block("extra", &Args::extra);
    s.block("endpoint", &Args::endpoint);
  }
  absl::Status validate() const {
    if (count < 0) return absl::InvalidArgumentError("count must not be negative");
    return absl::OkStatus();
  }
};

struct Decoded {
  Args args;
  syntax::Diagnostics diags;
  bool ok;
};

Decoded decode(const std::string& text) {
  Decoded d;
  auto src = std::make_shared<syntax::SourceFile>("t.alloy", "c \"x\" {\n" + text + "\n}\n");
  auto file = syntax::parseFile(src, &d.diags);
  EXPECT_FALSE(d.diags.hasErrors()) << d.diags.summary();
  const auto& block = *file->body.stmts.at(0).block;
  syntax::Object root = syntax::stdlib();
  syntax::Scope scope(&root);
  DecodeContext ctx{&scope, "t.alloy", &d.diags, nullptr};
  d.ok = decodeBody(block.body, schemaOf<Args>(), &d.args, block.name_range, ctx);
  if (d.ok) {
    auto st = schemaOf<Args>().validate(&d.args);
    if (!st.ok()) {
      d.diags.addError("t.alloy", block.name_range, std::string(st.message()));
      d.ok = false;
    }
  }
  return d;
}

TEST(SchemaTest, DecodesEveryFieldKind) {
  auto d = decode(R"(
url = "http://x"
count = "7"
timeout = "1m"
size = "2MiB"
token = "s3cret"
tags = ["a", 1]
headers = { "X-A" = "b" }
tls { insecure = true }
extra { name = "e" }
endpoint { name = "one" }
endpoint { name = "two" }
)");
  ASSERT_TRUE(d.ok) << d.diags.summary();
  EXPECT_EQ(d.args.url, "http://x");
  EXPECT_EQ(d.args.count, 7);
  EXPECT_EQ(d.args.timeout.value, 1min);
  EXPECT_EQ(d.args.size.bytes, 2u << 20);
  EXPECT_EQ(d.args.token.value, "s3cret");
  EXPECT_EQ(d.args.tags, (std::vector<std::string>{"a", "1"}));
  EXPECT_EQ(d.args.headers.at("X-A"), "b");
  EXPECT_TRUE(d.args.tls.insecure);
  EXPECT_EQ(d.args.tls.name, "x");  // default kept
  ASSERT_TRUE(d.args.extra.has_value());
  EXPECT_EQ(d.args.extra->name, "e");
  ASSERT_EQ(d.args.endpoint.size(), 2u);
  EXPECT_EQ(d.args.endpoint[1].name, "two");
}

TEST(SchemaTest, DefaultsApplyWhenAbsent) {
  auto d = decode("url = \"u\"");
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.args.count, 3);
  EXPECT_EQ(d.args.timeout.value, 5s);
  EXPECT_FALSE(d.args.extra.has_value());
}

std::string firstError(const Decoded& d) {
  for (const auto& x : d.diags.items()) {
    if (x.severity == syntax::Severity::kError) return x.toString();
  }
  return "";
}

TEST(SchemaTest, ReportsPositionedErrors) {
  EXPECT_EQ(firstError(decode("count = 1")), "t.alloy:1:1: missing required attribute \"url\"");
  EXPECT_EQ(firstError(decode("url = \"u\"\nbogus = 1")),
            "t.alloy:3:1: unrecognized attribute name \"bogus\"");
  EXPECT_EQ(firstError(decode("url = \"u\"\nurl = \"v\"")),
            "t.alloy:3:1: attribute \"url\" may only be provided once");
  EXPECT_EQ(firstError(decode("url = \"u\"\ntls = 1")),
            "t.alloy:3:1: \"tls\" must be a block, but is used as an attribute");
  EXPECT_EQ(firstError(decode("url = \"u\"\ncount { }")),
            "t.alloy:3:1: \"count\" must be an attribute, but is used as a block");
  EXPECT_EQ(firstError(decode("url = \"u\"\ntls { }\ntls { }")),
            "t.alloy:4:1: block \"tls\" may only be specified once");
  EXPECT_EQ(firstError(decode("url = \"u\"\nnope { }")),
            "t.alloy:3:1: unrecognized block name \"nope\"");
  EXPECT_EQ(firstError(decode("url = true")), "t.alloy:2:7: true should be string, got bool");
  EXPECT_EQ(firstError(decode("url = \"u\"\ntimeout = 10")),
            "t.alloy:3:11: 10 time: missing unit in duration \"10\"");
  EXPECT_EQ(firstError(decode("url = \"u\"\ncount = -1")),
            "t.alloy:1:1: count must not be negative");
  EXPECT_EQ(firstError(decode("url = \"u\"\ntls { insecure = \"yes\" }")),
            "t.alloy:3:18: \"yes\" should be bool, got string");
}

TEST(SchemaTest, EncodesArgumentsWithSecretsHidden) {
  auto d = decode("url = \"u\"\ntoken = \"hunter2\"");
  ASSERT_TRUE(d.ok);
  std::string json = syntax::toJson(encodeObject(schemaOf<Args>(), &d.args));
  EXPECT_EQ(json.find("hunter2"), std::string::npos) << json;
  EXPECT_NE(json.find("(secret)"), std::string::npos) << json;
  EXPECT_NE(json.find("\"timeout\":\"5s\""), std::string::npos) << json;
}

}  // namespace
}  // namespace telegate::runtime
