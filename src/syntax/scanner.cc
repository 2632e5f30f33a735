#include "src/syntax/scanner.h"

#include "absl/strings/str_format.h"
#include "src/syntax/text.h"

namespace telegate::syntax {
namespace {

constexpr char32_t kEofCh = 0xFFFFFFFF;
constexpr char32_t kBom = 0xFEFF;

bool isLetter(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return isUnicodeLetter(c);
}

bool isDecimal(char32_t c) {
  return c >= '0' && c <= '9';
}

bool isDigit(char32_t c) {
  return isDecimal(c) || (c >= 0x80 && isUnicodeDigit(c));
}

int digitVal(char32_t c) {
  if (c >= '0' && c <= '9') return static_cast<int>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<int>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<int>(c - 'A' + 10);
  return 16;
}

// Go's %#U: "U+0023 '#'" for printable characters, "U+0000" otherwise.
std::string goRuneDescription(char32_t c) {
  std::string s = absl::StrFormat("U+%04X", static_cast<uint32_t>(c));
  if (isGoPrintable(c)) {
    s += " '";
    appendUtf8(&s, c);
    s += "'";
  }
  return s;
}

}  // namespace

bool isValidIdentifier(std::string_view s) {
  if (s.empty()) return false;
  size_t i = 0;
  bool first = true;
  while (i < s.size()) {
    int w;
    bool ok;
    char32_t c = decodeRune(s, i, &w, &ok);
    if (!ok) return false;
    if (first ? !isLetter(c) : !(isLetter(c) || isDigit(c))) return false;
    first = false;
    i += w;
  }
  return true;
}

Scanner::Scanner(const SourceFile& file, ErrorFn on_error)
    : file_(file), src_(file.text()), on_error_(std::move(on_error)) {
  next();
  if (ch_ == kBom) next();
}

void Scanner::error(uint32_t offset, std::string msg) {
  ++errors_;
  if (on_error_) on_error_(pos(offset), std::move(msg));
}

void Scanner::next() {
  if (read_ >= src_.size()) {
    offset_ = static_cast<uint32_t>(src_.size());
    ch_ = kEofCh;
    return;
  }
  offset_ = read_;
  unsigned char c = static_cast<unsigned char>(src_[read_]);
  char32_t r = c;
  int width = 1;
  if (c == 0) {
    error(offset_, "illegal character NUL");
  } else if (c >= 0x80) {
    bool ok;
    r = decodeRune(src_, read_, &width, &ok);
    if (!ok) {
      error(offset_, "illegal UTF-8 encoding");
    } else if (r == kBom && offset_ > 0) {
      error(offset_, "illegal byte order mark");
    }
  }
  read_ += width;
  ch_ = r;
}

void Scanner::skipWhitespace() {
  while (ch_ == ' ' || ch_ == '\t' || ch_ == '\r' || (ch_ == '\n' && !insert_term_)) next();
}

Tok Scanner::switch2(Tok a, Tok b, char32_t next_ch) {
  if (ch_ == next_ch) {
    next();
    return b;
  }
  return a;
}

int Scanner::digits() {
  int count = 0;
  while (isDecimal(ch_)) {
    next();
    ++count;
  }
  return count;
}

Tok Scanner::scanNumber() {
  Tok tok = Tok::kNumber;
  uint32_t off = offset_;
  if (ch_ != '.') digits();
  if (ch_ == '.') {
    tok = Tok::kFloat;
    next();
    digits();
  }
  if (ch_ == 'e' || ch_ == 'E') {
    tok = Tok::kFloat;
    next();
    if (ch_ == '+' || ch_ == '-') next();
    if (digits() == 0) error(off, "exponent has no digits");
  }
  return tok;
}

void Scanner::scanString(char32_t until, bool escape, bool multiline, uint32_t start) {
  for (;;) {
    char32_t ch = ch_;
    if ((!multiline && ch == '\n') || ch == kEofCh) {
      error(start, "string literal not terminated");
      break;
    }
    next();
    if (ch == until) break;
    if (escape && ch == '\\') scanEscape(until);
  }
}

void Scanner::scanEscape(char32_t /*quote*/) {
  uint32_t off = offset_;
  int n;
  uint32_t base, max;
  switch (ch_) {
    case 'a':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
    case 'v':
    case '\\':
    case '"':
      next();
      return;
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
      n = 3, base = 8, max = 255;
      break;
    case 'x':
      next();
      n = 2, base = 16, max = 255;
      break;
    case 'u':
      next();
      n = 4, base = 16, max = 0x10FFFF;
      break;
    case 'U':
      next();
      n = 8, base = 16, max = 0x10FFFF;
      break;
    default:
      error(off, ch_ == kEofCh ? "escape sequence not terminated" : "unknown escape sequence");
      return;
  }
  uint32_t x = 0;
  for (; n > 0; --n) {
    uint32_t d = static_cast<uint32_t>(digitVal(ch_));
    if (d >= base) {
      if (ch_ == kEofCh) {
        error(off, "escape sequence not terminated");
      } else {
        error(off,
              absl::StrFormat("illegal character %s in escape sequence", goRuneDescription(ch_)));
      }
      return;
    }
    x = x * base + d;
    next();
  }
  if (x > max || (x >= 0xD800 && x < 0xE000)) {
    error(off, "escape sequence is invalid Unicode code point");
  }
}

void Scanner::scanComment(uint32_t start) {
  // The first '/' is consumed; ch_ is '/' or '*'.
  if (ch_ == '/') {
    next();
    while (ch_ != '\n' && ch_ != kEofCh) next();
    return;
  }
  next();  // consume '*'
  while (ch_ != kEofCh) {
    char32_t ch = ch_;
    next();
    if (ch == '*' && ch_ == '/') {
      next();
      return;
    }
  }
  error(start, "block comment not terminated");
}

// Looks ahead (without consuming or reporting errors) from the comment starting at offset_ - 1
// to decide whether only comments follow up to the end of the line.
bool Scanner::findLineEnd() {
  size_t i = offset_ - 1;  // the first '/'
  const size_t n = src_.size();
  for (;;) {
    if (i + 1 >= n) return false;
    char c = src_[i + 1];
    if (c == '/') return true;
    if (c != '*') return false;
    size_t j = i + 2;
    bool closed = false;
    while (j < n) {
      if (src_[j] == '\n') return true;
      if (src_[j] == '*' && j + 1 < n && src_[j + 1] == '/') {
        j += 2;
        closed = true;
        break;
      }
      ++j;
    }
    if (!closed) return true;
    while (j < n && (src_[j] == ' ' || src_[j] == '\t' || src_[j] == '\r')) ++j;
    if (j >= n || src_[j] == '\n') return true;
    if (src_[j] != '/') return false;
    i = j;
  }
}

Token Scanner::scan() {
  for (;;) {
    skipWhitespace();
    Token t;
    uint32_t start = offset_;
    t.pos = pos(start);
    bool insert = false;
    char32_t ch = ch_;
    if (ch != kEofCh && isLetter(ch)) {
      while (isLetter(ch_) || isDigit(ch_)) next();
      t.lit = src_.substr(start, offset_ - start);
      t.tok = Tok::kIdent;
      if (t.lit == "true" || t.lit == "false") {
        t.tok = Tok::kBool;
      } else if (t.lit == "null") {
        t.tok = Tok::kNull;
      }
      insert = true;
    } else if (isDecimal(ch) || (ch == '.' && read_ < src_.size() &&
                                 isDecimal(static_cast<unsigned char>(src_[read_])))) {
      insert = true;
      t.tok = scanNumber();
      t.lit = src_.substr(start, offset_ - start);
    } else {
      next();  // make progress; ch is the first character, ch_ the second
      switch (ch) {
        case kEofCh:
          if (insert_term_) {
            insert_term_ = false;
            t.tok = Tok::kTerminator;
            t.lit = "\n";
            t.end = start;
            return t;
          }
          t.tok = Tok::kEof;
          t.end = start;
          return t;
        case '\n':
          insert_term_ = false;
          t.tok = Tok::kTerminator;
          t.lit = "\n";
          t.end = start + 1;
          return t;
        case '\'':
          error(start, "illegal single-quoted string; use double quotes");
          insert = true;
          t.tok = Tok::kIllegal;
          scanString('\'', true, false, start);
          break;
        case '"':
          insert = true;
          t.tok = Tok::kString;
          scanString('"', true, false, start);
          break;
        case '`':
          insert = true;
          t.tok = Tok::kString;
          scanString('`', false, true, start);
          break;
        case '|':
          if (ch_ != '|') {
            error(offset_, "missing second | in ||");
          } else {
            next();
          }
          t.tok = Tok::kOr;
          break;
        case '&':
          if (ch_ != '&') {
            error(offset_, "missing second & in &&");
          } else {
            next();
          }
          t.tok = Tok::kAnd;
          break;
        case '!':
          t.tok = switch2(Tok::kNot, Tok::kNeq, '=');
          break;
        case '=':
          t.tok = switch2(Tok::kAssign, Tok::kEq, '=');
          break;
        case '<':
          t.tok = switch2(Tok::kLt, Tok::kLte, '=');
          break;
        case '>':
          t.tok = switch2(Tok::kGt, Tok::kGte, '=');
          break;
        case '+':
          t.tok = Tok::kAdd;
          break;
        case '-':
          t.tok = Tok::kSub;
          break;
        case '*':
          t.tok = Tok::kMul;
          break;
        case '/':
          if (ch_ == '/' || ch_ == '*') {
            if (insert_term_ && findLineEnd()) {
              // Rewind to the comment; it is scanned again on the next call.
              offset_ = start;
              read_ = start + 1;
              ch_ = '/';
              insert_term_ = false;
              t.tok = Tok::kTerminator;
              t.lit = "\n";
              t.end = start;
              return t;
            }
            scanComment(start);
            insert_term_ = false;
            t.tok = Tok::kComment;
            t.lit = src_.substr(start, offset_ - start);
            t.end = offset_;
            return t;
          }
          t.tok = Tok::kDiv;
          break;
        case '%':
          t.tok = Tok::kMod;
          break;
        case '^':
          t.tok = Tok::kPow;
          break;
        case '{':
          t.tok = Tok::kLCurly;
          break;
        case '}':
          insert = true;
          t.tok = Tok::kRCurly;
          break;
        case '(':
          t.tok = Tok::kLParen;
          break;
        case ')':
          insert = true;
          t.tok = Tok::kRParen;
          break;
        case '[':
          t.tok = Tok::kLBrack;
          break;
        case ']':
          insert = true;
          t.tok = Tok::kRBrack;
          break;
        case ',':
          t.tok = Tok::kComma;
          break;
        case '.':
          t.tok = Tok::kDot;
          break;
        default:
          if (ch != kBom) error(start, "illegal character " + goRuneDescription(ch));
          insert = insert_term_;
          t.tok = Tok::kIllegal;
          break;
      }
      t.lit = src_.substr(start, offset_ - start);
    }
    t.end = offset_;
    insert_term_ = insert;
    return t;
  }
}

std::string_view tokName(Tok t) {
  switch (t) {
    case Tok::kIllegal:
      return "ILLEGAL";
    case Tok::kEof:
      return "EOF";
    case Tok::kComment:
      return "COMMENT";
    case Tok::kIdent:
      return "IDENT";
    case Tok::kNumber:
      return "NUMBER";
    case Tok::kFloat:
      return "FLOAT";
    case Tok::kString:
      return "STRING";
    case Tok::kBool:
      return "BOOL";
    case Tok::kNull:
      return "NULL";
    case Tok::kOr:
      return "||";
    case Tok::kAnd:
      return "&&";
    case Tok::kNot:
      return "!";
    case Tok::kAssign:
      return "=";
    case Tok::kEq:
      return "==";
    case Tok::kNeq:
      return "!=";
    case Tok::kLt:
      return "<";
    case Tok::kLte:
      return "<=";
    case Tok::kGt:
      return ">";
    case Tok::kGte:
      return ">=";
    case Tok::kAdd:
      return "+";
    case Tok::kSub:
      return "-";
    case Tok::kMul:
      return "*";
    case Tok::kDiv:
      return "/";
    case Tok::kMod:
      return "%";
    case Tok::kPow:
      return "^";
    case Tok::kLCurly:
      return "{";
    case Tok::kRCurly:
      return "}";
    case Tok::kLParen:
      return "(";
    case Tok::kRParen:
      return ")";
    case Tok::kLBrack:
      return "[";
    case Tok::kRBrack:
      return "]";
    case Tok::kComma:
      return ",";
    case Tok::kDot:
      return ".";
    case Tok::kTerminator:
      return "TERMINATOR";
  }
  return "ILLEGAL";
}

int binaryPrecedence(Tok t) {
  switch (t) {
    case Tok::kOr:
      return 1;
    case Tok::kAnd:
      return 2;
    case Tok::kEq:
    case Tok::kNeq:
    case Tok::kLt:
    case Tok::kLte:
    case Tok::kGt:
    case Tok::kGte:
      return 3;
    case Tok::kAdd:
    case Tok::kSub:
      return 4;
    case Tok::kMul:
    case Tok::kDiv:
    case Tok::kMod:
      return 5;
    case Tok::kPow:
      return 6;
    default:
      return 0;
  }
}

}  // namespace telegate::syntax
