#include "src/syntax/value.h"

#include <cassert>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "src/syntax/scanner.h"
#include "src/syntax/text.h"

namespace telegate::syntax {
namespace {

const std::string& emptyString() {
  static const std::string* s = new std::string();
  return *s;
}
const Array& emptyArray() {
  static const Array* a = new Array();
  return *a;
}
const Object& emptyObject() {
  static const Object* o = new Object();
  return *o;
}

// Go's float64 -> int64 conversion on amd64 yields INT64_MIN for NaN and out-of-range values.
int64_t floatToInt(double f) {
  if (std::isnan(f) || f >= 9223372036854775808.0 || f < -9223372036854775808.0) {
    return std::numeric_limits<int64_t>::min();
  }
  return static_cast<int64_t>(f);
}

uint64_t floatToUint(double f) {
  if (std::isnan(f)) return uint64_t{1} << 63;
  if (f < 0) return static_cast<uint64_t>(floatToInt(f));
  if (f >= 18446744073709551616.0) return uint64_t{1} << 63;
  return static_cast<uint64_t>(f);
}

int kindRank(NumberKind k) {
  switch (k) {
    case NumberKind::kUint:
      return 0;
    case NumberKind::kInt:
      return 1;
    case NumberKind::kFloat:
      return 2;
  }
  return 2;
}

}  // namespace

std::string_view typeName(ValueType t) {
  switch (t) {
    case ValueType::kNull:
      return "null";
    case ValueType::kNumber:
      return "number";
    case ValueType::kString:
      return "string";
    case ValueType::kBool:
      return "bool";
    case ValueType::kArray:
      return "array";
    case ValueType::kObject:
      return "object";
    case ValueType::kFunction:
      return "function";
    case ValueType::kCapsule:
      return "capsule";
  }
  return "null";
}

Value Value::boolean(bool b) {
  Value v;
  v.type_ = ValueType::kBool;
  v.num_.b_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.type_ = ValueType::kNumber;
  v.kind_ = NumberKind::kInt;
  v.num_.i_ = i;
  return v;
}

Value Value::uinteger(uint64_t u) {
  Value v;
  v.type_ = ValueType::kNumber;
  v.kind_ = NumberKind::kUint;
  v.num_.u_ = u;
  return v;
}

Value Value::floating(double f) {
  Value v;
  v.type_ = ValueType::kNumber;
  v.kind_ = NumberKind::kFloat;
  v.num_.f_ = f;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.type_ = ValueType::kString;
  v.str_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

Value Value::secret(std::string s) {
  Value v = string(std::move(s));
  v.secret_ = true;
  return v;
}

Value Value::array(Array items) {
  Value v;
  v.type_ = ValueType::kArray;
  v.arr_ = std::make_shared<const Array>(std::move(items));
  return v;
}

Value Value::object(Object fields) {
  Value v;
  v.type_ = ValueType::kObject;
  v.obj_ = std::make_shared<const Object>(std::move(fields));
  return v;
}

Value Value::function(FunctionPtr f) {
  Value v;
  v.type_ = ValueType::kFunction;
  v.func_ = std::move(f);
  return v;
}

Value Value::capsule(CapsulePtr c) {
  Value v;
  v.type_ = ValueType::kCapsule;
  v.capsule_ = std::move(c);
  return v;
}

bool Value::asBool() const {
  assert(type_ == ValueType::kBool);
  return type_ == ValueType::kBool && num_.b_;
}

int64_t Value::asInt() const {
  assert(type_ == ValueType::kNumber);
  if (type_ != ValueType::kNumber) return 0;
  switch (kind_) {
    case NumberKind::kInt:
      return num_.i_;
    case NumberKind::kUint:
      return static_cast<int64_t>(num_.u_);
    case NumberKind::kFloat:
      return floatToInt(num_.f_);
  }
  return 0;
}

uint64_t Value::asUint() const {
  assert(type_ == ValueType::kNumber);
  if (type_ != ValueType::kNumber) return 0;
  switch (kind_) {
    case NumberKind::kInt:
      return static_cast<uint64_t>(num_.i_);
    case NumberKind::kUint:
      return num_.u_;
    case NumberKind::kFloat:
      return floatToUint(num_.f_);
  }
  return 0;
}

double Value::asFloat() const {
  assert(type_ == ValueType::kNumber);
  if (type_ != ValueType::kNumber) return 0;
  switch (kind_) {
    case NumberKind::kInt:
      return static_cast<double>(num_.i_);
    case NumberKind::kUint:
      return static_cast<double>(num_.u_);
    case NumberKind::kFloat:
      return num_.f_;
  }
  return 0;
}

const std::string& Value::asString() const {
  assert(type_ == ValueType::kString);
  return str_ ? *str_ : emptyString();
}

const Array& Value::asArray() const {
  assert(type_ == ValueType::kArray);
  return arr_ ? *arr_ : emptyArray();
}

const Object& Value::asObject() const {
  assert(type_ == ValueType::kObject);
  return obj_ ? *obj_ : emptyObject();
}

bool Value::operator==(const Value& other) const {
  if (type_ != other.type_) return false;
  switch (type_) {
    case ValueType::kNull:
      return true;
    case ValueType::kNumber: {
      NumberKind k = kindRank(kind_) > kindRank(other.kind_) ? kind_ : other.kind_;
      switch (k) {
        case NumberKind::kUint:
          return asUint() == other.asUint();
        case NumberKind::kInt:
          return asInt() == other.asInt();
        case NumberKind::kFloat:
          return asFloat() == other.asFloat();
      }
      return false;
    }
    case ValueType::kString:
      return asString() == other.asString();
    case ValueType::kBool:
      return asBool() == other.asBool();
    case ValueType::kArray: {
      const Array& a = asArray();
      const Array& b = other.asArray();
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!(a[i] == b[i])) return false;
      }
      return true;
    }
    case ValueType::kObject: {
      const Object& a = asObject();
      const Object& b = other.asObject();
      if (a.size() != b.size()) return false;
      for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
        if (ia->first != ib->first || !(ia->second == ib->second)) return false;
      }
      return true;
    }
    case ValueType::kFunction:
      return false;
    case ValueType::kCapsule:
      return capsule_ == other.capsule_;
  }
  return false;
}

namespace {

std::string numberText(const Value& v) {
  switch (v.numberKind()) {
    case NumberKind::kInt:
      return absl::StrCat(v.asInt());
    case NumberKind::kUint:
      return absl::StrCat(v.asUint());
    case NumberKind::kFloat:
      return formatFloatShortest(v.asFloat());
  }
  return "0";
}

void printTo(std::string* out, const Value& v, bool reveal) {
  switch (v.type()) {
    case ValueType::kNull:
      *out += "null";
      return;
    case ValueType::kNumber:
      *out += numberText(v);
      return;
    case ValueType::kString:
      if (v.isSecret() && !reveal) {
        *out += "(secret)";
      } else {
        *out += goQuote(v.asString());
      }
      return;
    case ValueType::kBool:
      *out += v.asBool() ? "true" : "false";
      return;
    case ValueType::kArray: {
      *out += "[";
      bool first = true;
      for (const Value& e : v.asArray()) {
        if (!first) *out += ", ";
        first = false;
        printTo(out, e, reveal);
      }
      *out += "]";
      return;
    }
    case ValueType::kObject: {
      const Object& o = v.asObject();
      if (o.empty()) {
        *out += "{}";
        return;
      }
      *out += "{ ";
      bool first = true;
      for (const auto& [k, e] : o) {
        if (!first) *out += ", ";
        first = false;
        *out += isValidIdentifier(k) && k != "true" && k != "false" && k != "null" ? k : goQuote(k);
        *out += " = ";
        printTo(out, e, reveal);
      }
      *out += " }";
      return;
    }
    case ValueType::kFunction:
      *out += "function";
      return;
    case ValueType::kCapsule:
      *out += "capsule(";
      *out += goQuote(v.asCapsule() ? v.asCapsule()->describe() : std::string());
      *out += ")";
      return;
  }
}

void jsonTo(std::string* out, const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      *out += "null";
      return;
    case ValueType::kNumber:
      if (v.numberKind() == NumberKind::kFloat && !std::isfinite(v.asFloat())) {
        *out += "null";
      } else {
        *out += numberText(v);
      }
      return;
    case ValueType::kString:
      *out += jsonQuote(v.isSecret() ? std::string_view("(secret)") : v.asString());
      return;
    case ValueType::kBool:
      *out += v.asBool() ? "true" : "false";
      return;
    case ValueType::kArray: {
      *out += "[";
      bool first = true;
      for (const Value& e : v.asArray()) {
        if (!first) *out += ",";
        first = false;
        jsonTo(out, e);
      }
      *out += "]";
      return;
    }
    case ValueType::kObject: {
      *out += "{";
      bool first = true;
      for (const auto& [k, e] : v.asObject()) {
        if (!first) *out += ",";
        first = false;
        *out += jsonQuote(k);
        *out += ":";
        jsonTo(out, e);
      }
      *out += "}";
      return;
    }
    case ValueType::kFunction: {
      const FunctionPtr& f = v.asFunction();
      *out += jsonQuote(f && !f->name.empty() ? f->name : "function");
      return;
    }
    case ValueType::kCapsule:
      *out += jsonQuote(v.asCapsule() ? v.asCapsule()->describe() : "capsule");
      return;
  }
}

}  // namespace

std::string printValue(const Value& v, bool reveal_secrets) {
  std::string out;
  printTo(&out, v, reveal_secrets);
  return out;
}

std::string toJson(const Value& v) {
  std::string out;
  jsonTo(&out, v);
  return out;
}

}  // namespace telegate::syntax
