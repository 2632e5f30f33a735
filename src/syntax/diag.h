// Diagnostics: positioned errors and warnings from scanning, parsing, evaluation and decoding.
//
// Contract: a Diagnostic names its file and range; Diagnostics collects them in order. Printing
// follows Alloy's layout: "Error: FILE:LINE:COL: message", a blank line, the source lines around
// the range with right-aligned line numbers and a caret underline. Cheap to copy; not thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "src/syntax/position.h"

namespace telegate::syntax {

enum class Severity { kWarning, kError };

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string file;  // file name as given to the SourceFile
  Range range;
  std::string message;

  // "FILE:LINE:COL: message" (column omitted when 0, "-" when the position is unknown).
  std::string toString() const;
};

class Diagnostics {
 public:
  void add(Diagnostic d) { items_.push_back(std::move(d)); }
  void addError(const std::string& file, Range r, std::string message);
  void addWarning(const std::string& file, Range r, std::string message);
  void append(const Diagnostics& other);

  bool hasErrors() const;
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  const std::vector<Diagnostic>& items() const { return items_; }

  // One line: first error, plus " (and N more diagnostics)" when there are several.
  std::string summary() const;

 private:
  std::vector<Diagnostic> items_;
};

// Renders every diagnostic with a source excerpt and caret underline. `files` maps file names to
// their sources; a diagnostic whose file is unknown is printed without an excerpt.
std::string formatDiagnostics(const Diagnostics& diags,
                              const std::map<std::string, SourceFilePtr>& files);

}  // namespace telegate::syntax
