// Expression evaluation.
//
// Contract: evaluate() computes the value of an expression in a scope. Identifiers resolve through
// the scope chain (innermost first); the root scope normally holds the stdlib (see stdlib.h) merged
// with component exports as nested objects (discovery.kubernetes.pods.targets is field access on
// the object tree). On error it returns a Status with Alloy's message and sets *err_range to the
// offending sub-expression. Deprecated functions add a warning to `warnings` (may be null).
// Pure: no I/O besides what stdlib functions do (env lookups, hostname). Thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/syntax/ast.h"
#include "src/syntax/diag.h"
#include "src/syntax/value.h"

namespace telegate::syntax {

class Scope {
 public:
  explicit Scope(const Object* vars, const Scope* parent = nullptr)
      : vars_(vars), parent_(parent) {}
  // Looks the identifier up in this scope and its parents; nullptr if absent.
  const Value* lookup(std::string_view name) const;

 private:
  const Object* vars_;
  const Scope* parent_;
};

struct EvalWarning {
  Range range;
  std::string message;
};

absl::StatusOr<Value> evaluate(const ast::Expr& expr, const Scope& scope, Range* err_range,
                               std::vector<EvalWarning>* warnings = nullptr);

}  // namespace telegate::syntax
