// Canonical printer (`telegate fmt`).
//
// Contract: format() renders a parsed File in canonical layout like `alloy fmt`: one tab per
// indentation level, one statement per line, aligned `=` within a run of consecutive attributes
// (a run ends at a blank line, a comment line, a block or after a multi-line value), aligned
// trailing comments, blank lines kept as written (at most one), comments preserved in place,
// arrays/objects/call arguments written across lines (a line break after the opening bracket,
// between elements or before the closing one) printed one element per line with a trailing comma,
// others on one line. format(parse(format(x))) == format(x). Only called on files that parsed
// without errors. formatExpr() renders a single expression the same way (no comments).
#pragma once

#include <string>

#include "src/syntax/ast.h"

namespace telegate::syntax {

std::string format(const ast::File& file);
std::string formatExpr(const ast::Expr& e);

}  // namespace telegate::syntax
