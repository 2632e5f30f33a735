// Canonical printer (`telegate fmt`).
//
// Contract: format() renders a parsed File in canonical layout: two-space indentation, one
// statement per line, aligned `=` within a run of consecutive single-line attributes, a blank line
// between top-level blocks kept as written (at most one), comments preserved in place, multi-line
// arrays/objects with one element per line and a trailing comma. format(parse(format(x))) ==
// format(x). Only called on files that parsed without errors.
#pragma once

#include <string>

#include "src/syntax/ast.h"

namespace telegate::syntax {

std::string format(const ast::File& file);
std::string formatExpr(const ast::Expr& e);

}  // namespace telegate::syntax
