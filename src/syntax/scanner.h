// Internal: the lexical scanner for the Alloy configuration language.
//
// Contract: Scanner turns a SourceFile's text into Tokens following Alloy's rules (see
// syntax/scanner in Alloy): automatic TERMINATOR insertion after identifiers, literals, ) ] } at a
// newline or EOF (also before a trailing comment that runs to the end of the line), comments
// returned as kComment tokens, and lexical errors reported through the callback with their
// position. Never throws; always makes progress; linear in the input size. The SourceFile must
// outlive the scanner and the returned token literals.
#pragma once

#include <functional>
#include <string>

#include "src/syntax/position.h"
#include "src/syntax/token.h"

namespace telegate::syntax {

class Scanner {
 public:
  using ErrorFn = std::function<void(Pos pos, std::string msg)>;

  Scanner(const SourceFile& file, ErrorFn on_error);

  Token scan();
  int errorCount() const { return errors_; }

 private:
  void next();
  void error(uint32_t offset, std::string msg);
  void skipWhitespace();
  int digits();
  Tok scanNumber();
  void scanString(char32_t until, bool escape, bool multiline, uint32_t start);
  void scanEscape(char32_t quote);
  void scanComment(uint32_t start);
  bool findLineEnd();
  Tok switch2(Tok a, Tok b, char32_t next);
  Pos pos(uint32_t offset) const { return file_.posAt(offset); }

  const SourceFile& file_;
  std::string_view src_;
  ErrorFn on_error_;
  char32_t ch_ = 0;      // current character; kEofCh at end
  uint32_t offset_ = 0;  // offset of ch_
  uint32_t read_ = 0;    // offset after ch_
  bool insert_term_ = false;
  int errors_ = 0;
};

// True when s is a valid identifier (letter or '_' followed by letters, digits, '_').
bool isValidIdentifier(std::string_view s);

}  // namespace telegate::syntax
