// Source positions and files for the Alloy configuration language.
//
// Contract: positions are 1-based (line, column in bytes). A default Pos (line 0) means "unknown".
// A SourceFile owns the text of one configuration file and answers line look-ups for diagnostics;
// it is immutable after construction and safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace telegate::syntax {

struct Pos {
  int line = 0;         // 1-based; 0 = unknown
  int col = 0;          // 1-based byte column; 0 = unknown
  uint32_t offset = 0;  // byte offset into the file
  bool valid() const { return line > 0; }
};

struct Range {
  Pos begin;
  Pos end;  // inclusive position of the last character of the range
};

class SourceFile {
 public:
  SourceFile(std::string name, std::string text);

  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }
  int lineCount() const { return static_cast<int>(line_starts_.size()); }
  // Text of the 1-based line without its newline; empty for an out-of-range line.
  std::string_view line(int line) const;
  // Position for a byte offset (clamped to the end of the file).
  Pos posAt(uint32_t offset) const;

 private:
  std::string name_;
  std::string text_;
  std::vector<uint32_t> line_starts_;
};

using SourceFilePtr = std::shared_ptr<const SourceFile>;

}  // namespace telegate::syntax
