#include "src/syntax/diag.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace telegate::syntax {
namespace {

std::string posString(const std::string& file, const Pos& p) {
  if (!p.valid()) return file.empty() ? std::string("-") : file;
  std::string s = file.empty() ? std::string() : file + ":";
  s += std::to_string(p.line);
  if (p.col != 0) s += ":" + std::to_string(p.col);
  return s;
}

constexpr int kTabWidth = 4;
constexpr int kContextBefore = 1;
constexpr int kContextAfter = 1;

bool inRange(int line, int col, const Pos& start, const Pos& end) {
  if (line < start.line || line > end.line) return false;
  if (line == start.line) {
    if (col < start.col) return false;
    return line != end.line || col <= end.col;
  }
  if (line == end.line) return col <= end.col;
  return true;
}

bool isContinuationByte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

void appendPadded(std::string* out, int width, int num) {
  std::string n = std::to_string(num);
  if (static_cast<int>(n.size()) < width) out->append(width - n.size(), ' ');
  out->append(n);
}

// Underline for one source line: '^' under every character inside the range; tabs widen to
// kTabWidth. On multi-line ranges the blank before the start / after the end is drawn with '_'.
void appendFocus(std::string* out, std::string_view text, int line, const Pos& start,
                 const Pos& end) {
  bool multiline = end.line > start.line;
  char blank = multiline ? '_' : ' ';
  for (size_t i = 0; i < text.size(); ++i) {
    if (isContinuationByte(text[i])) continue;
    int column = static_cast<int>(i) + 1;
    if (line == end.line && column > end.col) break;
    char ch = text[i];
    if (ch == '\t' || ch == '\v') {
      out->append(kTabWidth, blank);
    } else if (inRange(line, column, start, end)) {
      out->push_back('^');
    } else {
      out->push_back(blank);
    }
  }
}

void appendExcerpt(std::string* out, const SourceFile& file, Pos start, Pos end) {
  out->append("\n");
  int start_line = std::max(start.line - kContextBefore, 1);
  int end_line = std::min(end.line + kContextAfter, file.lineCount());
  bool multiline = end.line > start.line;
  int width = static_cast<int>(std::to_string(end_line).size());
  for (int ln = start_line; ln <= end_line; ++ln) {
    std::string_view text = file.line(ln);
    appendPadded(out, width, ln);
    out->append(" | ");
    if (multiline) out->append(inRange(ln, 0, start, end) ? "| " : "  ");
    for (char ch : text) {
      if (ch == '\r') continue;
      if (ch == '\t' || ch == '\v') {
        out->append(kTabWidth, ' ');
      } else {
        out->push_back(ch);
      }
    }
    out->push_back('\n');
    if (ln == start.line || (multiline && ln == end.line)) {
      out->append(width, ' ');
      if (multiline && ln == start.line) {
        out->append(" |  _");
      } else if (multiline && ln == end.line) {
        out->append(" | |_");
      } else {
        out->append(" | ");
      }
      appendFocus(out, text, ln, start, end);
      out->push_back('\n');
    }
  }
}

}  // namespace

std::string Diagnostic::toString() const {
  return absl::StrCat(posString(file, range.begin), ": ", message);
}

void Diagnostics::addError(const std::string& file, Range r, std::string message) {
  add(Diagnostic{Severity::kError, file, r, std::move(message)});
}

void Diagnostics::addWarning(const std::string& file, Range r, std::string message) {
  add(Diagnostic{Severity::kWarning, file, r, std::move(message)});
}

void Diagnostics::append(const Diagnostics& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

bool Diagnostics::hasErrors() const {
  return std::any_of(items_.begin(), items_.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::kError; });
}

std::string Diagnostics::summary() const {
  if (items_.empty()) return "no errors";
  auto first = std::find_if(items_.begin(), items_.end(),
                            [](const Diagnostic& d) { return d.severity == Severity::kError; });
  if (first == items_.end()) first = items_.begin();
  std::string s = first->toString();
  if (items_.size() > 1) absl::StrAppend(&s, " (and ", items_.size() - 1, " more diagnostics)");
  return s;
}

std::string formatDiagnostics(const Diagnostics& diags,
                              const std::map<std::string, SourceFilePtr>& files) {
  std::string out;
  const auto& items = diags.items();
  for (size_t i = 0; i < items.size(); ++i) {
    const Diagnostic& d = items[i];
    out += d.severity == Severity::kError ? "Error: " : "Warning: ";
    out += d.toString();
    out += "\n";
    Pos start = d.range.begin;
    Pos end = d.range.end.valid() ? d.range.end : start;
    if (end.line < start.line || (end.line == start.line && end.col < start.col)) end = start;
    auto it = files.find(d.file);
    if (it != files.end() && it->second && start.valid() && start.line <= it->second->lineCount()) {
      appendExcerpt(&out, *it->second, start, end);
    }
    if (i + 1 < items.size()) out += "\n";
  }
  return out;
}

}  // namespace telegate::syntax
