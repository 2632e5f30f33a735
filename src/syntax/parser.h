// Scanner and parser for the Alloy configuration language.
//
// Contract: parseFile never throws and never aborts on bad input (it is fuzzed). It returns a File
// (possibly partial) and adds every syntax error to `diags` with its position, following Alloy's
// rules: newline terminators after identifiers, literals, ) ] }; trailing commas required before a
// closing bracket on its own line; only the first error per line reported. Input larger than
// kMaxSourceBytes or nested deeper than kMaxNesting is rejected with a diagnostic.
#pragma once

#include <memory>
#include <string>

#include "src/syntax/ast.h"
#include "src/syntax/diag.h"

namespace telegate::syntax {

inline constexpr size_t kMaxSourceBytes = 16u << 20;
inline constexpr int kMaxNesting = 200;

std::unique_ptr<ast::File> parseFile(SourceFilePtr source, Diagnostics* diags);

// Parses a single expression (used by tests and the stdlib's tooling). Errors go to diags.
ast::ExprPtr parseExpression(SourceFilePtr source, Diagnostics* diags);

}  // namespace telegate::syntax
