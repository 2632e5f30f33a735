// Runtime values of the Alloy configuration language.
//
// Contract: a Value is an immutable, cheaply copyable variant (arrays and objects share their
// storage through shared_ptr). Types and their names as used in messages: null, number, string,
// bool, array, object, function, capsule. Numbers keep a kind (int, uint, float). A string may be
// flagged secret: it behaves as a string in the language but is printed as "(secret)" and is never
// rendered in the admin API or logs. Capsules carry opaque host objects (consumers, handlers).
// Values are safe to read from several threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace telegate::syntax {

class Value;
using Array = std::vector<Value>;
using Object = std::map<std::string, Value, std::less<>>;

enum class ValueType { kNull, kNumber, kString, kBool, kArray, kObject, kFunction, kCapsule };
enum class NumberKind { kInt, kUint, kFloat };

std::string_view typeName(ValueType t);

// Opaque host object exported by a component (e.g. an otelcol consumer, a Loki receiver).
class Capsule {
 public:
  virtual ~Capsule() = default;
  // Stable type name, e.g. "otelcol.Consumer"; used in type-mismatch messages.
  virtual std::string_view capsuleType() const = 0;
  // Short human description for the admin API, e.g. "otelcol.processor.batch.default.input".
  virtual std::string describe() const { return std::string(capsuleType()); }
};
using CapsulePtr = std::shared_ptr<Capsule>;

// A native (stdlib) function. Errors are returned as a Status whose message is shown to the user;
// the evaluator positions it at the call.
struct Function {
  std::string name;
  std::string deprecation;  // non-empty: use is reported as a warning with this text
  std::function<absl::StatusOr<Value>(std::span<const Value> args)> call;
};
using FunctionPtr = std::shared_ptr<const Function>;

class Value {
 public:
  Value() = default;  // null

  static Value null() { return Value(); }
  static Value boolean(bool b);
  static Value integer(int64_t v);
  static Value uinteger(uint64_t v);
  static Value floating(double v);
  static Value string(std::string s);
  static Value secret(std::string s);
  static Value array(Array items);
  static Value object(Object fields);
  static Value function(FunctionPtr f);
  static Value capsule(CapsulePtr c);

  ValueType type() const { return type_; }
  bool isNull() const { return type_ == ValueType::kNull; }
  bool isSecret() const { return type_ == ValueType::kString && secret_; }

  // Accessors; calling one that does not match type() is a programming error (asserts).
  bool asBool() const;
  NumberKind numberKind() const { return kind_; }
  int64_t asInt() const;    // converts from any number kind (truncating floats)
  uint64_t asUint() const;  // converts from any number kind
  double asFloat() const;   // converts from any number kind
  const std::string& asString() const;
  const Array& asArray() const;
  const Object& asObject() const;
  const FunctionPtr& asFunction() const { return func_; }
  const CapsulePtr& asCapsule() const { return capsule_; }

  // Deep equality with Alloy's rules: numbers compare across kinds, functions never equal,
  // capsules equal when they are the same object.
  bool operator==(const Value& other) const;

 private:
  ValueType type_ = ValueType::kNull;
  NumberKind kind_ = NumberKind::kInt;
  bool secret_ = false;
  union {
    bool b_;
    int64_t i_;
    uint64_t u_;
    double f_;
  } num_{};
  std::shared_ptr<const std::string> str_;
  std::shared_ptr<const Array> arr_;
  std::shared_ptr<const Object> obj_;
  FunctionPtr func_;
  CapsulePtr capsule_;
};

// Renders a value in Alloy syntax (as `telegate fmt` and messages show it). Secrets render as
// "(secret)" unless reveal_secrets is set; capsules as "capsule(\"<describe>\")".
std::string printValue(const Value& v, bool reveal_secrets = false);

// Renders a value as JSON for the admin API. Secrets become "(secret)", functions and capsules
// become their description string.
std::string toJson(const Value& v);

}  // namespace telegate::syntax
