#include "src/syntax/ast.h"

namespace telegate::syntax::ast {

std::string_view opText(Op op) {
  switch (op) {
    case Op::kNone:
      return "";
    case Op::kOr:
      return "||";
    case Op::kAnd:
      return "&&";
    case Op::kEq:
      return "==";
    case Op::kNeq:
      return "!=";
    case Op::kLt:
      return "<";
    case Op::kLte:
      return "<=";
    case Op::kGt:
      return ">";
    case Op::kGte:
      return ">=";
    case Op::kAdd:
      return "+";
    case Op::kSub:
      return "-";
    case Op::kMul:
      return "*";
    case Op::kDiv:
      return "/";
    case Op::kMod:
      return "%";
    case Op::kPow:
      return "^";
    case Op::kNot:
      return "!";
    case Op::kNeg:
      return "-";
  }
  return "";
}

Range Stmt::range() const {
  if (attr) return attr->range;
  if (block) return block->range;
  return Range{};
}

namespace {

// If e is a chain Ident(.field)*, fills parts (root first) and returns true.
bool traversalChain(const Expr& e, std::vector<std::string>* parts) {
  if (e.kind == ExprKind::kIdent) {
    parts->push_back(e.name);
    return true;
  }
  if (e.kind == ExprKind::kAccess && e.target) {
    if (!traversalChain(*e.target, parts)) return false;
    parts->push_back(e.name);
    return true;
  }
  return false;
}

}  // namespace

void collectTraversals(const Expr& e, std::vector<Traversal>* out) {
  switch (e.kind) {
    case ExprKind::kLiteral:
      return;
    case ExprKind::kIdent:
    case ExprKind::kAccess: {
      Traversal t;
      if (traversalChain(e, &t.parts)) {
        t.range = e.range;
        out->push_back(std::move(t));
        return;
      }
      // Access on something other than a chain, e.g. f(x).a or a[0].b: descend into the base.
      const Expr* base = &e;
      while (base->kind == ExprKind::kAccess && base->target) base = base->target.get();
      if (base != &e) collectTraversals(*base, out);
      return;
    }
    default:
      break;
  }
  if (e.target) collectTraversals(*e.target, out);
  if (e.rhs) collectTraversals(*e.rhs, out);
  for (const ExprPtr& el : e.elems) {
    if (el) collectTraversals(*el, out);
  }
  for (const ObjectField& f : e.fields) {
    if (f.value) collectTraversals(*f.value, out);
  }
}

void collectTraversals(const Body& b, std::vector<Traversal>* out) {
  for (const Stmt& s : b.stmts) {
    if (s.attr && s.attr->value) collectTraversals(*s.attr->value, out);
    if (s.block) collectTraversals(s.block->body, out);
  }
}

}  // namespace telegate::syntax::ast
