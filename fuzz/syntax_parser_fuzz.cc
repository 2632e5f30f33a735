// libFuzzer target for the configuration-language front end.
//
// Parses arbitrary bytes (must never crash), renders the diagnostics, and for inputs that parse
// cleanly checks the printer: format() output must re-parse without errors and format to the same
// text (traps otherwise). Every attribute expression is then evaluated against the stdlib; the
// process environment is cleared first so env lookups are harmless and deterministic.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "src/syntax/ast.h"
#include "src/syntax/diag.h"
#include "src/syntax/eval.h"
#include "src/syntax/parser.h"
#include "src/syntax/printer.h"
#include "src/syntax/stdlib.h"

namespace {

using namespace telegate::syntax;

constexpr size_t kMaxInput = 64 * 1024;

void evaluateBody(const ast::Body& body, const Scope& scope) {
  for (const ast::Stmt& s : body.stmts) {
    if (s.attr && s.attr->value) {
      Range r;
      std::vector<EvalWarning> warnings;
      absl::StatusOr<Value> v = evaluate(*s.attr->value, scope, &r, &warnings);
      if (v.ok()) {
        (void)printValue(*v);
        (void)toJson(*v);
      }
    }
    if (s.block) evaluateBody(s.block->body, scope);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  clearenv();
  (void)stdlib();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput) return 0;
  auto source = std::make_shared<const SourceFile>(
      "fuzz.alloy", std::string(reinterpret_cast<const char*>(data), size));
  Diagnostics diags;
  std::unique_ptr<ast::File> file = parseFile(source, &diags);
  (void)formatDiagnostics(diags, {{"fuzz.alloy", source}});
  (void)diags.summary();
  if (file == nullptr) __builtin_trap();
  if (diags.hasErrors()) return 0;

  std::vector<ast::Traversal> traversals;
  ast::collectTraversals(file->body, &traversals);

  const std::string formatted = format(*file);
  auto source2 = std::make_shared<const SourceFile>("formatted.alloy", formatted);
  Diagnostics diags2;
  std::unique_ptr<ast::File> file2 = parseFile(source2, &diags2);
  if (diags2.hasErrors()) __builtin_trap();
  if (format(*file2) != formatted) __builtin_trap();

  Object empty;
  Scope root(&stdlib());
  Scope scope(&empty, &root);
  evaluateBody(file->body, scope);
  return 0;
}
