// The root-only `logging` block: the process log level and format, with Alloy's names and
// defaults.
//
//   logging {
//     level  = "info"     // debug, info, warn or error
//     format = "logfmt"   // logfmt or json
//   }
//
// Contract: decoded by the controller like `http` (at most once, no label; its expressions see
// only the standard library) and applied with log::configure() when a load commits; an absent
// block applies the defaults. validate() accepts only the levels and formats log.h parses.
// Immutable once decoded; safe to copy between threads.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "src/common/log.h"
#include "src/runtime/schema.h"

namespace telegate::runtime {

// The root-only `logging` block.
struct LoggingArgs {
  std::string level = "info";
  std::string format = "logfmt";
  static void describe(Schema<LoggingArgs>& s) {
    s.attr("level", &LoggingArgs::level).doc("debug, info, warn or error");
    s.attr("format", &LoggingArgs::format).doc("logfmt or json");
  }
  absl::Status validate() const {
    if (auto l = log::parseLevel(level); !l.ok()) return l.status();
    if (auto f = log::parseFormat(format); !f.ok()) return f.status();
    return absl::OkStatus();
  }
};

// Decodes a root `logging` block and runs validate(). Problems become positioned diagnostics;
// false when an error was added.
bool decodeLoggingBlock(const syntax::ast::Block& block, const std::string& file,
                        syntax::Diagnostics* diags, LoggingArgs* out);

}  // namespace telegate::runtime
