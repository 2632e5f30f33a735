#include "src/runtime/logging_block.h"

#include <vector>

#include "src/syntax/stdlib.h"

namespace telegate::runtime {

bool decodeLoggingBlock(const syntax::ast::Block& block, const std::string& file,
                        syntax::Diagnostics* diags, LoggingArgs* out) {
  syntax::Object root = syntax::stdlib();
  syntax::Scope scope(&root);
  std::vector<syntax::EvalWarning> warnings;
  DecodeContext ctx{&scope, file, diags, &warnings};
  bool ok = decodeBody(block.body, schemaOf<LoggingArgs>(), out, block.name_range, ctx);
  if (ok) {
    if (auto st = out->validate(); !st.ok()) {
      diags->addError(file, block.name_range, std::string(st.message()));
      ok = false;
    }
  }
  for (auto& w : warnings) diags->addWarning(file, w.range, w.message);
  return ok;
}

}  // namespace telegate::runtime
