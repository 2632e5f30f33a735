// Test-only helpers shared by the syntax unit tests.
//
// Contract: parse() keeps the SourceFile alive inside the returned Parsed; errorsOf() renders
// diagnostics as "LINE:COL: message" for compact assertions.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/syntax/ast.h"
#include "src/syntax/diag.h"
#include "src/syntax/parser.h"

namespace telegate::syntax::testing {

struct Parsed {
  SourceFilePtr source;
  Diagnostics diags;
  std::unique_ptr<ast::File> file;
};

inline Parsed parse(std::string text, std::string name = "test.alloy") {
  Parsed p;
  p.source = std::make_shared<const SourceFile>(std::move(name), std::move(text));
  p.file = parseFile(p.source, &p.diags);
  return p;
}

inline std::string posOf(const Pos& p) {
  return std::to_string(p.line) + ":" + std::to_string(p.col);
}

inline std::vector<std::string> errorsOf(const Diagnostics& d) {
  std::vector<std::string> out;
  for (const Diagnostic& x : d.items()) out.push_back(posOf(x.range.begin) + ": " + x.message);
  return out;
}

struct ParsedExpr {
  SourceFilePtr source;
  Diagnostics diags;
  ast::ExprPtr expr;
};

inline ParsedExpr parseExpr(std::string text) {
  ParsedExpr p;
  p.source = std::make_shared<const SourceFile>("expr", std::move(text));
  p.expr = parseExpression(p.source, &p.diags);
  return p;
}

}  // namespace telegate::syntax::testing
