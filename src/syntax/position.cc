#include "src/syntax/position.h"

#include <algorithm>

namespace telegate::syntax {

SourceFile::SourceFile(std::string name, std::string text)
    : name_(std::move(name)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') line_starts_.push_back(static_cast<uint32_t>(i + 1));
  }
}

std::string_view SourceFile::line(int line) const {
  if (line < 1 || line > lineCount()) return {};
  size_t begin = line_starts_[line - 1];
  size_t end = line < lineCount() ? line_starts_[line] - 1 : text_.size();
  return std::string_view(text_).substr(begin, end - begin);
}

Pos SourceFile::posAt(uint32_t offset) const {
  if (offset > text_.size()) offset = static_cast<uint32_t>(text_.size());
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  int line = static_cast<int>(it - line_starts_.begin());  // >= 1 since line_starts_[0] == 0
  Pos p;
  p.line = line;
  p.col = static_cast<int>(offset - line_starts_[line - 1]) + 1;
  p.offset = offset;
  return p;
}

}  // namespace telegate::syntax
