#include "src/syntax/printer.h"

#include <algorithm>
#include <limits>

#include "src/syntax/text.h"

namespace telegate::syntax {
namespace {

using ast::Expr;
using ast::ExprKind;

constexpr uint32_t kNoLimit = std::numeric_limits<uint32_t>::max();

bool isLineComment(std::string_view text) {
  return text.size() >= 2 && text[1] == '/';
}

// One entry of a statement list or a multi-line object: an attribute/field (key = value) or a
// block. Consecutive attributes form alignment runs.
struct Entry {
  std::string key;
  Range key_range;
  const Expr* value = nullptr;
  const ast::Block* block = nullptr;
  Pos begin;
};

// Rendered member of an alignment run.
struct RunMember {
  std::string key;
  std::string value;
  std::string trailing;  // trailing comment text ("" if none)
};

// Token-stream printer. Comments are interleaved by source position: before each positioned
// token, every comment that starts earlier is emitted, inline when it starts on the source line
// of the previously emitted token, on its own line otherwise. Layout decisions depend only on the
// AST and on line relations between tokens, which the output preserves; this makes the printer
// idempotent.
class Printer {
 public:
  explicit Printer(const std::vector<ast::Comment>* comments) : comments_(comments) {}

  std::string take() { return std::move(out_); }

  void printFile(const ast::File& file) {
    printBody(file.body, kNoLimit);
    flush(kNoLimit);
    if (!out_.empty()) breakLine();
  }

  void printExpr(const Expr& e) {
    switch (e.kind) {
      case ExprKind::kLiteral:
        emitTok(e.raw.empty() ? std::string_view("null") : std::string_view(e.raw), e.range);
        return;
      case ExprKind::kIdent:
        emitTok(e.name, e.range);
        return;
      case ExprKind::kAccess:
        if (e.target) {
          printExpr(*e.target);
          // "1 .a" must not become "1.a" (which scans as the float "1.").
          if (e.target->kind == ExprKind::kLiteral &&
              e.target->value.type() == ValueType::kNumber &&
              e.target->raw.find_first_not_of("0123456789") == std::string::npos) {
            write(" ");
          }
        }
        write(".");
        emitTok(e.name, e.name_range);
        return;
      case ExprKind::kIndex:
        if (e.target) printExpr(*e.target);
        write("[");
        if (e.rhs) printExpr(*e.rhs);
        emitTok("]", Range{e.range.end, e.range.end});
        return;
      case ExprKind::kCall:
        if (e.target) printExpr(*e.target);
        printList("(", ")", e.elems, e.open, e.range.end);
        return;
      case ExprKind::kArray:
        printList("[", "]", e.elems, e.range.begin, e.range.end);
        return;
      case ExprKind::kObject:
        printObject(e);
        return;
      case ExprKind::kUnary:
        emitTok(ast::opText(e.op), Range{e.range.begin, e.range.begin});
        if (e.target) printExpr(*e.target);
        return;
      case ExprKind::kBinary:
        if (e.target) printExpr(*e.target);
        write(" ");
        write(ast::opText(e.op));
        write(" ");
        if (e.rhs) printExpr(*e.rhs);
        return;
      case ExprKind::kParen:
        emitTok("(", Range{e.range.begin, e.range.begin});
        if (e.target) printExpr(*e.target);
        emitTok(")", Range{e.range.end, e.range.end});
        return;
    }
  }

 private:
  // ---- low-level output ----

  void write(std::string_view s) {
    if (need_newline_) newline();
    if (line_start_) {
      out_.append(static_cast<size_t>(indent_), '\t');
      line_start_ = false;
    } else if (pending_space_ && !s.empty() && s[0] != ' ') {
      out_.push_back(' ');
    }
    pending_space_ = false;
    out_.append(s);
    first_in_container_ = false;
  }

  void newline() {
    while (!out_.empty() && out_.back() == ' ') out_.pop_back();
    out_.push_back('\n');
    line_start_ = true;
    need_newline_ = false;
    pending_space_ = false;
  }

  void breakLine() {
    if (!line_start_) newline();
    need_newline_ = false;
  }

  void blankLine() {
    breakLine();
    if (out_.empty()) return;
    if (out_.size() >= 2 && out_[out_.size() - 1] == '\n' && out_[out_.size() - 2] == '\n') return;
    out_.push_back('\n');
  }

  void emitTok(std::string_view text, const Range& r) {
    flush(r.begin.offset);
    write(text);
    last_line_ = r.end.line;
  }

  bool commentBefore(uint32_t limit) const {
    return comments_ && ci_ < comments_->size() && (*comments_)[ci_].range.begin.offset < limit;
  }

  // Emits every pending comment that starts before `limit`.
  void flush(uint32_t limit) {
    while (commentBefore(limit)) {
      const ast::Comment& c = (*comments_)[ci_++];
      if (c.range.begin.line == last_line_ && !line_start_) {
        if (!need_newline_ && !out_.empty() && out_.back() != ' ') out_.push_back(' ');
        pending_space_ = false;
        write(c.text);
      } else {
        breakLine();
        if (!first_in_container_ && c.range.begin.line > last_line_ + 1) blankLine();
        write(c.text);
        need_newline_ = true;
      }
      if (isLineComment(c.text)) {
        need_newline_ = true;
      } else if (!need_newline_) {
        pending_space_ = true;
      }
      last_line_ = c.range.end.line;
    }
  }

  // Starts a new list item (statement, element, field) beginning at `begin`.
  void beginItem(Pos begin) {
    flush(begin.offset);
    breakLine();
    if (!first_in_container_ && begin.line > last_line_ + 1) blankLine();
  }

  // Comments on the current source line before `limit`, joined; consumed.
  std::string collectTrailing(uint32_t limit) {
    std::string text;
    while (commentBefore(limit) && (*comments_)[ci_].range.begin.line == last_line_) {
      const ast::Comment& c = (*comments_)[ci_++];
      if (!text.empty()) text.push_back(' ');
      text += c.text;
      last_line_ = c.range.end.line;
    }
    return text;
  }

  template <typename F>
  std::string renderSub(F f) {
    std::string saved = std::move(out_);
    out_.clear();
    bool ls = line_start_, nn = need_newline_, ps = pending_space_;
    line_start_ = false;
    need_newline_ = false;
    pending_space_ = false;
    f();
    std::string r = std::move(out_);
    out_ = std::move(saved);
    line_start_ = ls;
    need_newline_ = nn;
    pending_space_ = ps;
    return r;
  }

  // ---- structure ----

  void printBody(const ast::Body& body, uint32_t limit) {
    std::vector<Entry> entries;
    entries.reserve(body.stmts.size());
    for (const ast::Stmt& s : body.stmts) {
      Entry en;
      if (s.attr) {
        en.key = s.attr->name;
        en.key_range = s.attr->name_range;
        en.value = s.attr->value.get();
        en.begin = s.attr->range.begin;
      } else if (s.block) {
        en.block = s.block.get();
        en.begin = s.block->range.begin;
      } else {
        continue;
      }
      entries.push_back(std::move(en));
    }
    printEntries(entries, "", limit);
  }

  void printEntries(const std::vector<Entry>& entries, std::string_view suffix, uint32_t limit) {
    size_t i = 0;
    while (i < entries.size()) {
      beginItem(entries[i].begin);
      if (entries[i].block) {
        printBlock(*entries[i].block);
        write(suffix);
        ++i;
        continue;
      }
      std::vector<RunMember> run;
      size_t j = i;
      for (;;) {
        const Entry& en = entries[j];
        uint32_t next_limit = j + 1 < entries.size() ? entries[j + 1].begin.offset : limit;
        RunMember m;
        m.key = en.key;
        last_line_ = en.key_range.end.line;
        first_in_container_ = false;
        m.value = renderSub([&] {
          if (en.value) {
            printExpr(*en.value);
          } else {
            write("null");
          }
        });
        m.trailing = collectTrailing(next_limit);
        bool multiline = m.value.find('\n') != std::string::npos;
        run.push_back(std::move(m));
        if (multiline || j + 1 >= entries.size()) break;
        const Entry& nx = entries[j + 1];
        if (nx.block || nx.begin.line > last_line_ + 1 || commentBefore(nx.begin.offset)) break;
        ++j;
      }
      emitRun(run, suffix);
      i = j + 1;
    }
  }

  void emitRun(const std::vector<RunMember>& run, std::string_view suffix) {
    size_t key_width = 0;
    for (const RunMember& m : run) key_width = std::max(key_width, runeCount(m.key));
    // Trailing comments of consecutive single-line members are aligned.
    std::vector<size_t> comment_col(run.size(), 0);
    auto alignable = [&](const RunMember& m) {
      return !m.trailing.empty() && m.value.find('\n') == std::string::npos &&
             m.trailing.find('\n') == std::string::npos;
    };
    for (size_t k = 0; k < run.size();) {
      if (!alignable(run[k])) {
        ++k;
        continue;
      }
      size_t e = k;
      size_t width = 0;
      while (e < run.size() && alignable(run[e])) {
        width = std::max(width, runeCount(run[e].value) + suffix.size());
        ++e;
      }
      for (size_t x = k; x < e; ++x) comment_col[x] = width;
      k = e;
    }
    for (size_t k = 0; k < run.size(); ++k) {
      const RunMember& m = run[k];
      if (k > 0) breakLine();
      std::string head = m.key;
      head.append(key_width - runeCount(m.key), ' ');
      head += " =";
      if (m.value.empty() || m.value[0] != '\n') head += ' ';
      write(head);
      out_ += m.value;
      out_ += suffix;
      if (!m.trailing.empty()) {
        size_t pad = 1;
        if (comment_col[k] > 0) pad += comment_col[k] - (runeCount(m.value) + suffix.size());
        out_.append(pad, ' ');
        out_ += m.trailing;
        need_newline_ = true;
      }
    }
  }

  void printBlock(const ast::Block& b) {
    // Comments inside the block name (between its parts) move in front of the block.
    if (commentBefore(b.name_range.end.offset + 1)) {
      flush(b.name_range.end.offset + 1);
      breakLine();
    }
    write(b.name);
    last_line_ = b.name_range.end.line;
    if (b.label) {
      write(" ");
      emitTok("\"" + *b.label + "\"", b.label_range);
    }
    write(" ");
    emitTok("{", b.lbrace);
    if (b.body.stmts.empty() && !commentBefore(b.rbrace.begin.offset)) {
      write(" ");
      emitTok("}", b.rbrace);
      return;
    }
    ++indent_;
    first_in_container_ = true;
    printBody(b.body, b.rbrace.begin.offset);
    flush(b.rbrace.begin.offset);
    --indent_;
    breakLine();
    emitTok("}", b.rbrace);
  }

  static bool isBroken(int open_line, const std::vector<std::pair<Pos, Pos>>& items,
                       int close_line) {
    if (items.empty()) return false;
    if (items.front().first.line > open_line) return true;
    for (size_t k = 0; k + 1 < items.size(); ++k) {
      if (items[k + 1].first.line > items[k].second.line) return true;
    }
    return close_line > items.back().second.line;
  }

  void printEmptyContents(Pos close) {
    ++indent_;
    first_in_container_ = true;
    flush(close.offset);
    --indent_;
    if (!line_start_ && need_newline_) breakLine();
  }

  void printList(std::string_view open, std::string_view close,
                 const std::vector<ast::ExprPtr>& elems, Pos open_pos, Pos close_pos) {
    emitTok(open, Range{open_pos, open_pos});
    if (elems.empty()) {
      printEmptyContents(close_pos);
      emitTok(close, Range{close_pos, close_pos});
      return;
    }
    std::vector<std::pair<Pos, Pos>> spans;
    for (const auto& el : elems) spans.emplace_back(el->range.begin, el->range.end);
    if (!isBroken(open_pos.line, spans, close_pos.line)) {
      for (size_t k = 0; k < elems.size(); ++k) {
        if (k > 0) write(", ");
        printExpr(*elems[k]);
      }
      emitTok(close, Range{close_pos, close_pos});
      return;
    }
    ++indent_;
    first_in_container_ = true;
    for (const auto& el : elems) {
      beginItem(el->range.begin);
      printExpr(*el);
      write(",");
    }
    flush(close_pos.offset);
    --indent_;
    breakLine();
    emitTok(close, Range{close_pos, close_pos});
  }

  void printObject(const Expr& e) {
    emitTok("{", Range{e.range.begin, e.range.begin});
    Pos close = e.range.end;
    if (e.fields.empty()) {
      printEmptyContents(close);
      emitTok("}", Range{close, close});
      return;
    }
    std::vector<std::pair<Pos, Pos>> spans;
    for (const ast::ObjectField& f : e.fields) {
      spans.emplace_back(f.key_range.begin, f.value ? f.value->range.end : f.key_range.end);
    }
    if (!isBroken(e.range.begin.line, spans, close.line)) {
      write(" ");
      for (size_t k = 0; k < e.fields.size(); ++k) {
        const ast::ObjectField& f = e.fields[k];
        if (k > 0) write(", ");
        emitTok(f.raw.empty() ? f.key : f.raw, f.key_range);
        write(" = ");
        if (f.value) printExpr(*f.value);
      }
      write(" ");
      emitTok("}", Range{close, close});
      return;
    }
    std::vector<Entry> entries;
    for (const ast::ObjectField& f : e.fields) {
      Entry en;
      en.key = f.raw.empty() ? f.key : f.raw;
      en.key_range = f.key_range;
      en.value = f.value.get();
      en.begin = f.key_range.begin;
      entries.push_back(std::move(en));
    }
    ++indent_;
    first_in_container_ = true;
    printEntries(entries, ",", close.offset);
    flush(close.offset);
    --indent_;
    breakLine();
    emitTok("}", Range{close, close});
  }

  const std::vector<ast::Comment>* comments_;
  size_t ci_ = 0;
  std::string out_;
  int indent_ = 0;
  bool line_start_ = true;
  bool need_newline_ = false;
  bool pending_space_ = false;
  bool first_in_container_ = true;
  int last_line_ = 0;
};

}  // namespace

std::string format(const ast::File& file) {
  Printer p(&file.comments);
  p.printFile(file);
  return p.take();
}

std::string formatExpr(const ast::Expr& e) {
  Printer p(nullptr);
  p.printExpr(e);
  return p.take();
}

}  // namespace telegate::syntax
