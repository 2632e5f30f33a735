#include "src/syntax/eval.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/syntax/stdlib.h"
#include "src/syntax/test_util.h"

namespace telegate::syntax {
namespace {

using ::testing::ElementsAre;
using testing::errorsOf;
using ::testing::IsEmpty;
using testing::posOf;

struct Eval {
  absl::StatusOr<Value> value;
  Range err;
  std::vector<EvalWarning> warnings;
  std::string text() const { return value.ok() ? printValue(*value, true) : "ERR"; }
  std::string error() const {
    return value.ok() ? "OK" : posOf(err.begin) + ": " + std::string(value.status().message());
  }
};

Eval run(const std::string& src, const Object* vars = nullptr) {
  auto p = testing::parseExpr(src);
  EXPECT_THAT(errorsOf(p.diags), IsEmpty()) << src;
  Eval e;
  Scope root(&stdlib());
  Scope scope(vars, &root);
  e.value = evaluate(*p.expr, scope, &e.err, &e.warnings);
  return e;
}

std::string val(const std::string& src, const Object* vars = nullptr) {
  return run(src, vars).text();
}
std::string err(const std::string& src, const Object* vars = nullptr) {
  return run(src, vars).error();
}

TEST(EvalTest, Literals) {
  EXPECT_EQ(val("1"), "1");
  EXPECT_EQ(val("1.5"), "1.5");
  EXPECT_EQ(val("\"a\\nb\""), "\"a\\nb\"");
  EXPECT_EQ(val("true"), "true");
  EXPECT_EQ(val("null"), "null");
  EXPECT_EQ(val("[1, \"a\", [true]]"), "[1, \"a\", [true]]");
  EXPECT_EQ(val("{b = 2, a = 1, \"c d\" = 3}"), "{ a = 1, b = 2, \"c d\" = 3 }");
  EXPECT_EQ(val("010"), "8");
  EXPECT_EQ(val("08"), "8");
  EXPECT_EQ(run("08").value->numberKind(), NumberKind::kFloat);
  EXPECT_EQ(err("1e400"), "1:1: strconv.ParseFloat: parsing \"1e400\": value out of range");
}

TEST(EvalTest, Precedence) {
  EXPECT_EQ(val("1 + 2 * 3"), "7");
  EXPECT_EQ(val("(1 + 2) * 3"), "9");
  EXPECT_EQ(val("2 ^ 3 ^ 2"), "512");
  EXPECT_EQ(val("(2 ^ 3) ^ 2"), "64");
  EXPECT_EQ(val("-2 ^ 2"), "4");
  EXPECT_EQ(val("10 - 2 - 3"), "5");
  EXPECT_EQ(val("100 / 10 / 5"), "2");
  EXPECT_EQ(val("1 + 2 == 3 && 2 < 3 || false"), "true");
  EXPECT_EQ(val("!false == true"), "true");
}

TEST(EvalTest, Arithmetic) {
  EXPECT_EQ(val("7 / 2"), "3");
  EXPECT_EQ(val("-7 / 2"), "-3");
  EXPECT_EQ(val("7.0 / 2"), "3.5");
  EXPECT_EQ(val("7 % 3"), "1");
  EXPECT_EQ(val("7.5 % 2"), "1.5");
  EXPECT_EQ(val("2 ^ 10"), "1024");
  EXPECT_EQ(val("2 ^ 0.5"), "1.4142135623730951");
  EXPECT_EQ(val("1 + 1.5"), "2.5");
  EXPECT_EQ(val("9223372036854775807 + 1"), "-9223372036854775808");  // wraps like Go
  EXPECT_EQ(run("9223372036854775808 + 9223372036854775808").value->numberKind(),
            NumberKind::kUint);
  EXPECT_EQ(run("9223372036854775808 + 1").value->numberKind(), NumberKind::kInt);
  EXPECT_EQ(run("1 + 1.0").value->numberKind(), NumberKind::kFloat);
  EXPECT_EQ(run("-9223372036854775808").value->numberKind(), NumberKind::kInt);
  EXPECT_EQ(val("\"a\" + \"b\""), "\"ab\"");
}

TEST(EvalTest, Comparisons) {
  EXPECT_EQ(val("3 == 3.0"), "true");
  EXPECT_EQ(val("1 != \"1\""), "true");
  EXPECT_EQ(val("[1, {a = 2}] == [1, {a = 2.0}]"), "true");
  EXPECT_EQ(val("{a = 1} == {a = 1, b = 2}"), "false");
  EXPECT_EQ(val("null == null"), "true");
  EXPECT_EQ(val("\"abc\" < \"abd\""), "true");
  EXPECT_EQ(val("2 >= 2.5"), "false");
  EXPECT_EQ(val("2 <= 2"), "true");
  EXPECT_EQ(val("3 > 2"), "true");
  EXPECT_EQ(val("sys.env == sys.env"), "false");  // functions never equal
}

TEST(EvalTest, NoShortCircuit) {
  EXPECT_EQ(err("false && missing"), "1:10: identifier \"missing\" does not exist");
  EXPECT_EQ(err("true || 1"), "1:9: 1 should be one of [bool] for binop ||, got number");
}

TEST(EvalTest, TypeErrors) {
  EXPECT_EQ(err("1 + true"), "1:5: true should be one of [number string] for binop +, got bool");
  EXPECT_EQ(err("true + 1"), "1:1: true should be one of [number string] for binop +, got bool");
  EXPECT_EQ(err("1 + \"a\""), "1:5: \"a\" should be number, got string");
  EXPECT_EQ(err("\"a\" - \"b\""), "1:1: \"a\" should be one of [number] for binop -, got string");
  EXPECT_EQ(err("[1] < [2]"), "1:1: [1] should be one of [number string] for binop <, got array");
  EXPECT_EQ(err("!1"), "1:2: 1 should be bool, got number");
  EXPECT_EQ(err("-\"a\""), "1:2: \"a\" should be number, got string");
  EXPECT_EQ(err("1(2)"), "1:1: 1 should be function, got number");
}

TEST(EvalTest, DivideByZero) {
  EXPECT_EQ(err("1 / 0"), "1:5: 0 divide by zero error");
  EXPECT_EQ(err("1 % 0"), "1:5: 0 divide by zero error");
  EXPECT_EQ(err("1.0 / 0.0"), "1:7: 0.0 divide by zero error");
  EXPECT_EQ(val("-9223372036854775808 / -1"), "-9223372036854775808");
  EXPECT_EQ(val("-9223372036854775808 % -1"), "0");
}

TEST(EvalTest, IdentifiersAndScopes) {
  Object outer{{"x", Value::integer(1)}, {"y", Value::integer(2)}};
  Object inner{{"x", Value::integer(10)}};
  Scope so(&outer);
  Scope si(&inner, &so);
  EXPECT_EQ(si.lookup("x")->asInt(), 10);
  EXPECT_EQ(si.lookup("y")->asInt(), 2);
  EXPECT_EQ(si.lookup("z"), nullptr);
  EXPECT_EQ(val("x + y", &outer), "3");
  EXPECT_EQ(err("nope"), "1:1: identifier \"nope\" does not exist");
}

TEST(EvalTest, AccessAndIndex) {
  Object vars{{"obj", Value::object({{"a", Value::object({{"b", Value::integer(7)}})}})},
              {"arr", Value::array({Value::integer(1), Value::string("x")})}};
  EXPECT_EQ(val("obj.a.b", &vars), "7");
  EXPECT_EQ(val("obj[\"a\"][\"b\"]", &vars), "7");
  EXPECT_EQ(val("obj[\"missing\"]", &vars), "null");
  EXPECT_EQ(val("arr[1]", &vars), "\"x\"");
  EXPECT_EQ(val("arr[1.9]", &vars), "\"x\"");
  EXPECT_EQ(err("obj.a.c", &vars), "1:7: field \"c\" does not exist");
  EXPECT_EQ(run("obj.a.c", &vars).err.end.col, 7);
  EXPECT_EQ(err("obj.a.b.c", &vars),
            "1:1: obj.a.b cannot access field \"c\" on value of type number");
  EXPECT_EQ(err("arr[5]", &vars), "1:5: 5 index 5 is out of range of array with length 2");
  EXPECT_EQ(err("arr[-1]", &vars), "1:5: -1 index -1 is out of range of array with length 2");
  EXPECT_EQ(err("arr[\"a\"]", &vars), "1:5: \"a\" should be number, got string");
  EXPECT_EQ(err("obj[1]", &vars), "1:5: 1 should be string, got number");
  EXPECT_EQ(err("1[0]"), "1:1: 1 expected object or array, got number");
}

TEST(EvalTest, CallsAndDeprecation) {
  auto e = run("to_upper(\"abc\")");
  EXPECT_EQ(e.text(), "\"ABC\"");
  ASSERT_EQ(e.warnings.size(), 1u);
  EXPECT_EQ(e.warnings[0].message,
            "this stdlib function is deprecated; please refer to the documentation for updated "
            "usage and alternatives");
  EXPECT_EQ(posOf(e.warnings[0].range.begin), "1:1");
  auto e2 = run("string.to_upper(\"abc\")");
  EXPECT_TRUE(e2.warnings.empty());
  // Function errors are positioned at the call.
  EXPECT_EQ(err("[1, string.to_upper(true)]"), "1:5: expected string, got bool");
  EXPECT_EQ(run("[1, string.to_upper(true)]").err.end.col, 25);
  EXPECT_EQ(err("string.to_upper()"), "1:1: expected 1 args, got 0");
}

TEST(EvalTest, Secrets) {
  Object vars{{"s", Value::secret("tok")}};
  auto e = run("\"Bearer \" + s", &vars);
  ASSERT_TRUE(e.value.ok());
  EXPECT_TRUE(e.value->isSecret());
  EXPECT_EQ(e.value->asString(), "Bearer tok");
  EXPECT_EQ(printValue(*e.value), "(secret)");
  EXPECT_EQ(printValue(*e.value, true), "\"Bearer tok\"");
  EXPECT_EQ(val("s == \"tok\"", &vars), "true");
  EXPECT_EQ(val("convert.nonsensitive(s)", &vars), "\"tok\"");
  EXPECT_EQ(err("string.to_upper(s)", &vars), "1:1: expected string, got secret");
}

TEST(ValueTest, PrintAndJson) {
  Value v = Value::object({{"b", Value::array({Value::integer(1), Value::floating(2.5),
                                               Value::uinteger(3), Value::null()})},
                           {"a", Value::string("q\"")},
                           {"s", Value::secret("x")},
                           {"t", Value::boolean(true)},
                           {"z-z", Value::object({})}});
  EXPECT_EQ(printValue(v),
            "{ a = \"q\\\"\", b = [1, 2.5, 3, null], s = (secret), t = true, "
            "\"z-z\" = {} }");
  EXPECT_EQ(toJson(v),
            "{\"a\":\"q\\\"\",\"b\":[1,2.5,3,null],\"s\":\"(secret)\",\"t\":true,\"z-z\":{}}");
  EXPECT_EQ(printValue(Value::floating(1e21)), "1000000000000000000000");
  EXPECT_EQ(printValue(Value::floating(3)), "3");
  EXPECT_EQ(typeName(ValueType::kCapsule), "capsule");
}

TEST(ValueTest, Equality) {
  EXPECT_EQ(Value::integer(3), Value::floating(3.0));
  EXPECT_EQ(Value::uinteger(3), Value::integer(3));
  EXPECT_FALSE(Value::integer(3) == Value::string("3"));
  EXPECT_EQ(Value::array({Value::integer(1)}), Value::array({Value::floating(1)}));
  EXPECT_EQ(Value::secret("a"), Value::string("a"));
  auto f = std::make_shared<Function>();
  EXPECT_FALSE(Value::function(f) == Value::function(f));
  EXPECT_EQ(Value::floating(2.9).asInt(), 2);
  EXPECT_EQ(Value::integer(-1).asUint(), UINT64_MAX);
}

struct TestCapsule : Capsule {
  std::string_view capsuleType() const override { return "test.Capsule"; }
  std::string describe() const override { return "my.capsule"; }
};

TEST(ValueTest, Capsules) {
  auto c = std::make_shared<TestCapsule>();
  Value a = Value::capsule(c);
  EXPECT_EQ(a, Value::capsule(c));
  EXPECT_FALSE(a == Value::capsule(std::make_shared<TestCapsule>()));
  EXPECT_EQ(printValue(a), "capsule(\"my.capsule\")");
  EXPECT_EQ(toJson(a), "\"my.capsule\"");
  Object vars{{"c", a}};
  EXPECT_EQ(err("c.x", &vars),
            "1:1: c expected object or array or a capsule convertible to an object, got capsule");
}

}  // namespace
}  // namespace telegate::syntax
