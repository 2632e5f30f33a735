#include "src/syntax/stdlib.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "src/common/version.h"
#include "src/syntax/eval.h"
#include "src/syntax/test_util.h"

namespace telegate::syntax {
namespace {

using testing::errorsOf;
using ::testing::IsEmpty;

absl::StatusOr<Value> evalStr(const std::string& src) {
  auto p = testing::parseExpr(src);
  EXPECT_THAT(errorsOf(p.diags), IsEmpty()) << src;
  Scope root(&stdlib());
  Range r;
  return evaluate(*p.expr, root, &r);
}

std::string val(const std::string& src) {
  auto v = evalStr(src);
  return v.ok() ? printValue(*v, true) : "ERR: " + std::string(v.status().message());
}

// Shorthand for string.format(...).
std::string fmt(const std::string& args) {
  auto v = evalStr("string.format(" + args + ")");
  if (!v.ok()) return "ERR: " + std::string(v.status().message());
  return v->asString();
}

TEST(StdlibTest, Namespaces) {
  const Object& lib = stdlib();
  for (const char* name :
       {"sys",       "array",       "encoding",    "string",     "convert",     "file",
        "constants", "coalesce",    "env",         "concat",     "json_decode", "base64_decode",
        "format",    "join",        "split",       "replace",    "to_lower",    "to_upper",
        "trim",      "trim_prefix", "trim_suffix", "trim_space", "nonsensitive"}) {
    EXPECT_TRUE(lib.count(name)) << name;
  }
  EXPECT_TRUE(lib.at("env").asFunction()->deprecation.size() > 0);
  EXPECT_TRUE(lib.at("coalesce").asFunction()->deprecation.empty());
  EXPECT_TRUE(lib.at("sys").asObject().at("env").asFunction()->deprecation.empty());
}

TEST(StdlibTest, Constants) {
  EXPECT_EQ(val("constants.os"), "\"linux\"");
  EXPECT_EQ(val("constants.version"), "\"v" + std::string(telegate::kVersion) + "\"");
  std::string arch = val("constants.arch");
  EXPECT_TRUE(arch == "\"amd64\"" || arch == "\"arm64\"") << arch;
  EXPECT_NE(val("constants.hostname"), "\"\"");
}

TEST(StdlibTest, Env) {
  setenv("TELEGATE_STDLIB_TEST", "value-1", 1);
  unsetenv("TELEGATE_STDLIB_TEST_UNSET");
  EXPECT_EQ(val("sys.env(\"TELEGATE_STDLIB_TEST\")"), "\"value-1\"");
  EXPECT_EQ(val("env(\"TELEGATE_STDLIB_TEST\")"), "\"value-1\"");
  EXPECT_EQ(val("sys.env(\"TELEGATE_STDLIB_TEST_UNSET\")"), "\"\"");
  EXPECT_EQ(val("sys.env()"), "ERR: expected 1 args, got 0");
  EXPECT_EQ(val("sys.env(true)"), "ERR: expected string, got bool");
}

TEST(StdlibTest, Concat) {
  EXPECT_EQ(val("array.concat()"), "[]");
  EXPECT_EQ(val("array.concat([1])"), "[1]");
  EXPECT_EQ(val("array.concat([1, 2], [], [\"a\"])"), "[1, 2, \"a\"]");
  EXPECT_EQ(val("concat([1], 2)"), "ERR: expected array, got number");
}

TEST(StdlibTest, Coalesce) {
  EXPECT_EQ(val("coalesce()"), "null");
  EXPECT_EQ(val("coalesce(null, \"\", 0, 0.0, false, [], {}, \"x\", \"y\")"), "\"x\"");
  EXPECT_EQ(val("coalesce(\"\", [1])"), "[1]");
  EXPECT_EQ(val("coalesce({a = 1})"), "{ a = 1 }");
  EXPECT_EQ(val("coalesce(\"\", 0)"), "0");  // all empty: the last argument
  EXPECT_EQ(val("coalesce(null, false)"), "false");
  EXPECT_EQ(val("coalesce(true)"), "true");
}

TEST(StdlibTest, Json) {
  EXPECT_EQ(
      val("encoding.from_json(\"{\\\"a\\\": [1, 2.5, true, null, \\\"s\\\"], \\\"b\\\": {}}\")"),
      "{ a = [1, 2.5, true, null, \"s\"], b = {} }");
  auto v = evalStr("json_decode(\"[1]\")");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->asArray()[0].numberKind(), NumberKind::kFloat);
  EXPECT_EQ(val("json_decode(\"\\\"x\\\"\")"), "\"x\"");
  EXPECT_THAT(val("encoding.from_json(\"{bad\")"), ::testing::StartsWith("ERR: invalid JSON"));
  EXPECT_THAT(val("encoding.from_json(\"[1] 2\")"), ::testing::StartsWith("ERR: invalid JSON"));
  EXPECT_EQ(val("encoding.to_json({b = [1, \"<x>\"], a = null})"),
            "\"{\\\"a\\\":null,\\\"b\\\":[1,\\\"\\\\u003cx\\\\u003e\\\"]}\"");
  EXPECT_EQ(val("encoding.to_json([1])"), "ERR: jsonEncode only supports map");
}

TEST(StdlibTest, Base64AndUrl) {
  EXPECT_EQ(val("encoding.to_base64(\"hello\")"), "\"aGVsbG8=\"");
  EXPECT_EQ(val("encoding.from_base64(\"aGVsbG8=\")"), "\"hello\"");
  EXPECT_EQ(val("base64_decode(\"aGVsbG8=\")"), "\"hello\"");
  EXPECT_EQ(val("encoding.from_base64(\"!!\")"), "ERR: illegal base64 data");
  EXPECT_EQ(val("encoding.url_encode(\"a b&c=d/é\")"), "\"a+b%26c%3Dd%2F%C3%A9\"");
  EXPECT_EQ(val("encoding.url_decode(\"a+b%26c\")"), "\"a b&c\"");
  EXPECT_EQ(val("encoding.url_decode(\"%zz\")"), "ERR: invalid URL escape \"%zz\"");
}

TEST(StdlibTest, StringFunctions) {
  EXPECT_EQ(val("string.join([\"a\", \"b\", 3], \", \")"), "\"a, b, 3\"");
  EXPECT_EQ(val("join([], \",\")"), "\"\"");
  EXPECT_EQ(val("string.split(\"a,b,,c\", \",\")"), "[\"a\", \"b\", \"\", \"c\"]");
  EXPECT_EQ(val("split(\"\", \",\")"), "[\"\"]");
  EXPECT_EQ(val("split(\"abc\", \"\")"), "[\"a\", \"b\", \"c\"]");
  EXPECT_EQ(val("string.replace(\"aaa\", \"a\", \"bb\")"), "\"bbbbbb\"");
  EXPECT_EQ(val("replace(\"ab\", \"\", \"-\")"), "\"-a-b-\"");
  EXPECT_EQ(val("string.to_lower(\"HeLLo É\")"), "\"hello é\"");
  EXPECT_EQ(val("string.to_upper(\"hello é\")"), "\"HELLO É\"");
  EXPECT_EQ(val("string.trim(\"xxhixyx\", \"xy\")"), "\"hi\"");
  EXPECT_EQ(val("trim(\"  a  \", \" \")"), "\"a\"");
  EXPECT_EQ(val("string.trim_prefix(\"prefix-x\", \"prefix-\")"), "\"x\"");
  EXPECT_EQ(val("string.trim_prefix(\"x\", \"prefix-\")"), "\"x\"");
  EXPECT_EQ(val("string.trim_suffix(\"x.alloy\", \".alloy\")"), "\"x\"");
  EXPECT_EQ(val("string.trim_space(\" \\t a b \\n\")"), "\"a b\"");
  EXPECT_EQ(val("string.to_lower(1)"), "\"1\"");  // numbers convert to strings
  EXPECT_EQ(val("string.split(\"a\")"), "ERR: expected 2 args, got 1");
}

TEST(StdlibTest, NonsensitiveAndPathJoin) {
  EXPECT_EQ(val("convert.nonsensitive(\"plain\")"), "\"plain\"");
  EXPECT_EQ(val("nonsensitive([1])"), "ERR: expected secret, got array");
  EXPECT_EQ(val("file.path_join(\"/etc\", \"alloy\", \"../x\", \"config.alloy\")"),
            "\"/etc/x/config.alloy\"");
  EXPECT_EQ(val("file.path_join(\"a\", \"\", \"b/\")"), "\"a/b\"");
  EXPECT_EQ(val("file.path_join()"), "\"\"");
}

TEST(StdlibTest, FormatVerbs) {
  EXPECT_EQ(fmt("\"%s=%d\", \"a\", 5"), "a=5");
  EXPECT_EQ(fmt("\"%v %v %v %v %v\", 1, 2.5, \"s\", true, null"), "1 2.5 s true <nil>");
  EXPECT_EQ(fmt("\"%v\", [1, \"a\"]"), "[1 a]");
  EXPECT_EQ(fmt("\"%v\", {b = 1, a = 2}"), "map[a:2 b:1]");
  EXPECT_EQ(fmt("\"%q\", \"a\\\"b\""), "\"a\\\"b\"");
  EXPECT_EQ(fmt("\"%f|%.2f|%8.3f|%-8.1f|\", 3.14159, 3.14159, 3.14159, 2.0"),
            "3.141590|3.14|   3.142|2.0     |");
  EXPECT_EQ(fmt("\"%e|%.2E\", 123456.789, 0.000123"), "1.234568e+05|1.23E-04");
  EXPECT_EQ(fmt("\"%g|%g|%g|%.3g\", 100000.0, 1000000.0, 0.0001, 3.14159"),
            "100000|1e+06|0.0001|3.14");
  EXPECT_EQ(fmt("\"%v\", 1e21"), "1e+21");
  EXPECT_EQ(fmt("\"%x|%X|%x|%o|%b\", 255, 255, \"hi\", 8, 5"), "ff|FF|6869|10|101");
  EXPECT_EQ(fmt("\"%t %t\", true, false"), "true false");
  EXPECT_EQ(fmt("\"100%%\""), "100%");
  EXPECT_EQ(fmt("\"%5d|%-5d|%05d|%+d|%+d\", 42, 42, 42, 42, -42"), "   42|42   |00042|+42|-42");
  EXPECT_EQ(fmt("\"%6s|%-6s|%.2s\", \"ab\", \"ab\", \"abc\""), "    ab|ab    |ab");
  EXPECT_EQ(fmt("\"%*d\", 4, 7"), "   7");
  EXPECT_EQ(fmt("\"%c\", 65"), "A");
}

TEST(StdlibTest, FormatMismatchesRenderLikeGo) {
  EXPECT_EQ(fmt("\"%d\""), "%!d(MISSING)");
  EXPECT_EQ(fmt("\"%d\", \"x\""), "%!d(string=x)");
  EXPECT_EQ(fmt("\"%d\", 1.5"), "%!d(float64=1.5)");
  EXPECT_EQ(fmt("\"%s\", 1"), "%!s(int=1)");
  EXPECT_EQ(fmt("\"%s\", null"), "%!s(<nil>)");
  EXPECT_EQ(fmt("\"a\", \"x\", 2"), "a%!(EXTRA string=x, int=2)");
  EXPECT_EQ(fmt("\"%z\", 1"), "%!z(int=1)");
  EXPECT_EQ(fmt("\"%\""), "%!(NOVERB)");
  EXPECT_EQ(val("format(\"%s\", \"deprecated alias\")"), "\"deprecated alias\"");
  EXPECT_EQ(val("string.format()"), "ERR: expected at least 1 args, got 0");
}

TEST(StdlibTest, FormatSecrets) {
  Object vars{{"s", Value::secret("hidden")}};
  auto p = testing::parseExpr("string.format(\"%s\", s)");
  Scope root(&stdlib());
  Scope scope(&vars, &root);
  Range r;
  auto v = evaluate(*p.expr, scope, &r);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->asString(), "(secret)");
}

}  // namespace
}  // namespace telegate::syntax
