#include "src/syntax/eval.h"

#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/syntax/printer.h"
#include "src/syntax/text.h"

namespace telegate::syntax {

const Value* Scope::lookup(std::string_view name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent_) {
    if (s->vars_ == nullptr) continue;
    auto it = s->vars_->find(name);
    if (it != s->vars_->end()) return &it->second;
  }
  return nullptr;
}

namespace {

using ast::Expr;
using ast::ExprKind;
using ast::Op;

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

NumberKind fitKinds(const Value& a, const Value& b) {
  return kindRank(a.numberKind()) > kindRank(b.numberKind()) ? a.numberKind() : b.numberKind();
}

// n^m with Go's wrapping integer semantics and Alloy's intPow rules (m <= 0 handled by callers).
uint64_t wrappingPow(uint64_t n, uint64_t m) {
  uint64_t result = 1;
  while (m > 0) {
    if (m & 1) result *= n;
    n *= n;
    m >>= 1;
  }
  return result;
}

int64_t intPow(int64_t n, int64_t m) {
  if (m == 0 || n == 1) return 1;
  if (n == 0 && m > 0) return 0;
  if (m < 2) return n;
  return static_cast<int64_t>(wrappingPow(static_cast<uint64_t>(n), static_cast<uint64_t>(m)));
}

uint64_t uintPow(uint64_t n, uint64_t m) {
  if (m == 0 || n == 1) return 1;
  if (n == 0) return 0;
  return wrappingPow(n, m);
}

std::string_view allowedTypes(Op op) {
  switch (op) {
    case Op::kOr:
    case Op::kAnd:
      return "[bool]";
    case Op::kAdd:
    case Op::kLt:
    case Op::kLte:
    case Op::kGt:
    case Op::kGte:
      return "[number string]";
    default:
      return "[number]";
  }
}

bool acceptable(Op op, ValueType t) {
  switch (op) {
    case Op::kOr:
    case Op::kAnd:
      return t == ValueType::kBool;
    case Op::kAdd:
    case Op::kLt:
    case Op::kLte:
    case Op::kGt:
    case Op::kGte:
      return t == ValueType::kNumber || t == ValueType::kString;
    default:
      return t == ValueType::kNumber;
  }
}

bool isZero(const Value& v) {
  switch (v.numberKind()) {
    case NumberKind::kInt:
      return v.asInt() == 0;
    case NumberKind::kUint:
      return v.asUint() == 0;
    case NumberKind::kFloat:
      return v.asFloat() == 0;
  }
  return false;
}

template <typename Cmp>
Value compareValues(const Value& l, const Value& r, Cmp cmp) {
  if (l.type() == ValueType::kString) return Value::boolean(cmp(l.asString(), r.asString()));
  switch (fitKinds(l, r)) {
    case NumberKind::kUint:
      return Value::boolean(cmp(l.asUint(), r.asUint()));
    case NumberKind::kInt:
      return Value::boolean(cmp(l.asInt(), r.asInt()));
    case NumberKind::kFloat:
      return Value::boolean(cmp(l.asFloat(), r.asFloat()));
  }
  return Value::boolean(false);
}

class Evaluator {
 public:
  Evaluator(Range* err_range, std::vector<EvalWarning>* warnings)
      : err_range_(err_range), warnings_(warnings) {}

  absl::StatusOr<Value> eval(const Expr& e, const Scope& scope) {
    if (!wellFormed(e)) return fail(e.range, "invalid expression");
    switch (e.kind) {
      case ExprKind::kLiteral:
        if (e.value.type() == ValueType::kNumber && e.value.numberKind() == NumberKind::kFloat &&
            std::isinf(e.value.asFloat())) {
          return fail(e.range, absl::StrFormat("strconv.ParseFloat: parsing %s: value out of range",
                                               goQuote(e.raw)));
        }
        return e.value;
      case ExprKind::kIdent: {
        const Value* v = scope.lookup(e.name);
        if (v == nullptr) {
          return fail(e.range, absl::StrFormat("identifier %s does not exist", goQuote(e.name)));
        }
        return *v;
      }
      case ExprKind::kArray: {
        Array items;
        items.reserve(e.elems.size());
        for (const ast::ExprPtr& el : e.elems) {
          absl::StatusOr<Value> v = eval(*el, scope);
          if (!v.ok()) return v.status();
          items.push_back(*std::move(v));
        }
        return Value::array(std::move(items));
      }
      case ExprKind::kObject: {
        Object fields;
        for (const ast::ObjectField& f : e.fields) {
          absl::StatusOr<Value> v = eval(*f.value, scope);
          if (!v.ok()) return v.status();
          fields[f.key] = *std::move(v);
        }
        return Value::object(std::move(fields));
      }
      case ExprKind::kAccess:
        return evalAccess(e, scope);
      case ExprKind::kIndex:
        return evalIndex(e, scope);
      case ExprKind::kCall:
        return evalCall(e, scope);
      case ExprKind::kParen:
        return eval(*e.target, scope);
      case ExprKind::kUnary:
        return evalUnary(e, scope);
      case ExprKind::kBinary:
        return evalBinary(e, scope);
    }
    return Value();
  }

 private:
  // Guards against partial trees (parsers with errors leave holes); evaluate() is normally only
  // called on error-free files.
  static bool wellFormed(const Expr& e) {
    switch (e.kind) {
      case ExprKind::kLiteral:
      case ExprKind::kIdent:
        return true;
      case ExprKind::kArray:
      case ExprKind::kCall:
        for (const ast::ExprPtr& el : e.elems) {
          if (!el) return false;
        }
        return e.kind == ExprKind::kArray || e.target != nullptr;
      case ExprKind::kObject:
        for (const ast::ObjectField& f : e.fields) {
          if (!f.value) return false;
        }
        return true;
      case ExprKind::kIndex:
      case ExprKind::kBinary:
        return e.target && e.rhs;
      default:
        return e.target != nullptr;
    }
  }

  absl::Status fail(const Range& r, std::string msg) {
    if (err_range_) *err_range_ = r;
    return absl::InvalidArgumentError(std::move(msg));
  }

  // A value error: the message is prefixed with the offending expression, as Alloy prints it.
  absl::Status valueError(const Expr& node, std::string_view msg) {
    return fail(node.range, strCat(formatExpr(node), " ", msg));
  }

  absl::StatusOr<Value> evalAccess(const Expr& e, const Scope& scope) {
    absl::StatusOr<Value> target = eval(*e.target, scope);
    if (!target.ok()) return target.status();
    if (target->type() == ValueType::kObject) {
      const Object& o = target->asObject();
      auto it = o.find(e.name);
      if (it == o.end()) {
        return fail(e.name_range, absl::StrFormat("field %s does not exist", goQuote(e.name)));
      }
      return it->second;
    }
    if (target->type() == ValueType::kCapsule) {
      return valueError(*e.target,
                        "expected object or array or a capsule convertible to an object, got "
                        "capsule");
    }
    return valueError(*e.target, absl::StrFormat("cannot access field %s on value of type %s",
                                                 goQuote(e.name), typeName(target->type())));
  }

  absl::StatusOr<Value> evalIndex(const Expr& e, const Scope& scope) {
    absl::StatusOr<Value> target = eval(*e.target, scope);
    if (!target.ok()) return target.status();
    absl::StatusOr<Value> idx = eval(*e.rhs, scope);
    if (!idx.ok()) return idx.status();
    switch (target->type()) {
      case ValueType::kArray: {
        if (idx->type() != ValueType::kNumber) {
          return valueError(*e.rhs, strCat("should be number, got ", typeName(idx->type())));
        }
        int64_t i = idx->asInt();
        const Array& a = target->asArray();
        if (i < 0 || static_cast<uint64_t>(i) >= a.size()) {
          return valueError(
              *e.rhs,
              absl::StrFormat("index %d is out of range of array with length %d", i, a.size()));
        }
        return a[static_cast<size_t>(i)];
      }
      case ValueType::kObject: {
        if (idx->type() != ValueType::kString) {
          return valueError(*e.rhs, strCat("should be string, got ", typeName(idx->type())));
        }
        const Object& o = target->asObject();
        auto it = o.find(idx->asString());
        if (it == o.end()) return Value();
        return it->second;
      }
      case ValueType::kCapsule:
        return valueError(*e.target,
                          "expected object or array or a capsule convertible to an object, got "
                          "capsule");
      default:
        return valueError(*e.target,
                          strCat("expected object or array, got ", typeName(target->type())));
    }
  }

  absl::StatusOr<Value> evalCall(const Expr& e, const Scope& scope) {
    absl::StatusOr<Value> callee = eval(*e.target, scope);
    if (!callee.ok()) return callee.status();
    if (callee->type() != ValueType::kFunction || !callee->asFunction()) {
      return valueError(*e.target, strCat("should be function, got ", typeName(callee->type())));
    }
    Array args;
    args.reserve(e.elems.size());
    for (const ast::ExprPtr& a : e.elems) {
      absl::StatusOr<Value> v = eval(*a, scope);
      if (!v.ok()) return v.status();
      args.push_back(*std::move(v));
    }
    const Function& fn = *callee->asFunction();
    if (!fn.deprecation.empty() && warnings_ != nullptr) {
      warnings_->push_back(
          EvalWarning{e.range, strCat("this stdlib function is deprecated; ", fn.deprecation)});
    }
    if (!fn.call) return fail(e.range, "function is not callable");
    absl::StatusOr<Value> result = fn.call(std::span<const Value>(args));
    if (!result.ok()) return fail(e.range, std::string(result.status().message()));
    return result;
  }

  absl::StatusOr<Value> evalUnary(const Expr& e, const Scope& scope) {
    absl::StatusOr<Value> v = eval(*e.target, scope);
    if (!v.ok()) return v.status();
    if (e.op == Op::kNot) {
      if (v->type() != ValueType::kBool) {
        return valueError(*e.target, strCat("should be bool, got ", typeName(v->type())));
      }
      return Value::boolean(!v->asBool());
    }
    if (v->type() != ValueType::kNumber) {
      return valueError(*e.target, strCat("should be number, got ", typeName(v->type())));
    }
    if (v->numberKind() == NumberKind::kFloat) return Value::floating(-v->asFloat());
    return Value::integer(static_cast<int64_t>(0 - static_cast<uint64_t>(v->asInt())));
  }

  absl::StatusOr<Value> evalBinary(const Expr& e, const Scope& scope) {
    // Both sides are always evaluated (no short-circuit).
    absl::StatusOr<Value> lv = eval(*e.target, scope);
    if (!lv.ok()) return lv.status();
    absl::StatusOr<Value> rv = eval(*e.rhs, scope);
    if (!rv.ok()) return rv.status();
    const Value& l = *lv;
    const Value& r = *rv;
    Op op = e.op;
    if (op == Op::kEq) return Value::boolean(l == r);
    if (op == Op::kNeq) return Value::boolean(!(l == r));
    if (!acceptable(op, l.type())) {
      return valueError(
          *e.target, absl::StrFormat("should be one of %s for binop %s, got %s", allowedTypes(op),
                                     ast::opText(op), typeName(l.type())));
    }
    if (!acceptable(op, r.type())) {
      return valueError(
          *e.rhs, absl::StrFormat("should be one of %s for binop %s, got %s", allowedTypes(op),
                                  ast::opText(op), typeName(r.type())));
    }
    if (l.type() != r.type()) {
      return valueError(
          *e.rhs, absl::StrFormat("should be %s, got %s", typeName(l.type()), typeName(r.type())));
    }
    switch (op) {
      case Op::kOr:
        return Value::boolean(l.asBool() || r.asBool());
      case Op::kAnd:
        return Value::boolean(l.asBool() && r.asBool());
      case Op::kAdd:
        if (l.type() == ValueType::kString) {
          std::string s = l.asString() + r.asString();
          return l.isSecret() || r.isSecret() ? Value::secret(std::move(s))
                                              : Value::string(std::move(s));
        }
        return arith(l, r, op);
      case Op::kSub:
      case Op::kMul:
      case Op::kPow:
        return arith(l, r, op);
      case Op::kDiv:
      case Op::kMod:
        if (isZero(r)) return valueError(*e.rhs, "divide by zero error");
        return arith(l, r, op);
      case Op::kLt:
        return compareValues(l, r, [](const auto& a, const auto& b) { return a < b; });
      case Op::kLte:
        return compareValues(l, r, [](const auto& a, const auto& b) { return a <= b; });
      case Op::kGt:
        return compareValues(l, r, [](const auto& a, const auto& b) { return a > b; });
      case Op::kGte:
        return compareValues(l, r, [](const auto& a, const auto& b) { return a >= b; });
      default:
        return fail(e.range, strCat("unsupported operator ", ast::opText(op)));
    }
  }

  static Value arith(const Value& l, const Value& r, Op op) {
    switch (fitKinds(l, r)) {
      case NumberKind::kUint: {
        uint64_t a = l.asUint(), b = r.asUint();
        switch (op) {
          case Op::kAdd:
            return Value::uinteger(a + b);
          case Op::kSub:
            return Value::uinteger(a - b);
          case Op::kMul:
            return Value::uinteger(a * b);
          case Op::kDiv:
            return Value::uinteger(b == 0 ? 0 : a / b);
          case Op::kMod:
            return Value::uinteger(b == 0 ? 0 : a % b);
          default:
            return Value::uinteger(uintPow(a, b));
        }
      }
      case NumberKind::kInt: {
        int64_t a = l.asInt(), b = r.asInt();
        uint64_t ua = static_cast<uint64_t>(a), ub = static_cast<uint64_t>(b);
        switch (op) {
          case Op::kAdd:
            return Value::integer(static_cast<int64_t>(ua + ub));
          case Op::kSub:
            return Value::integer(static_cast<int64_t>(ua - ub));
          case Op::kMul:
            return Value::integer(static_cast<int64_t>(ua * ub));
          case Op::kDiv:
            if (b == 0) return Value::integer(0);
            if (b == -1) return Value::integer(static_cast<int64_t>(0 - ua));
            return Value::integer(a / b);
          case Op::kMod:
            if (b == 0 || b == -1) return Value::integer(0);
            return Value::integer(a % b);
          default:
            return Value::integer(intPow(a, b));
        }
      }
      case NumberKind::kFloat: {
        double a = l.asFloat(), b = r.asFloat();
        switch (op) {
          case Op::kAdd:
            return Value::floating(a + b);
          case Op::kSub:
            return Value::floating(a - b);
          case Op::kMul:
            return Value::floating(a * b);
          case Op::kDiv:
            return Value::floating(a / b);
          case Op::kMod:
            return Value::floating(std::fmod(a, b));
          default:
            return Value::floating(std::pow(a, b));
        }
      }
    }
    return Value();
  }

  Range* err_range_;
  std::vector<EvalWarning>* warnings_;
};

}  // namespace

absl::StatusOr<Value> evaluate(const ast::Expr& expr, const Scope& scope, Range* err_range,
                               std::vector<EvalWarning>* warnings) {
  Evaluator ev(err_range, warnings);
  return ev.eval(expr, scope);
}

}  // namespace telegate::syntax
