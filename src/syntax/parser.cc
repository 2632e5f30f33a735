#include "src/syntax/parser.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "src/syntax/scanner.h"
#include "src/syntax/text.h"
#include "src/syntax/token.h"

namespace telegate::syntax {
namespace {

using ast::Expr;
using ast::ExprKind;
using ast::ExprPtr;
using ast::Op;

// Value of a NUMBER literal following Go's ParseInt(lit, 0, 64) -> ParseUint -> ParseFloat chain:
// a leading 0 means octal; values beyond int64 become uint64, beyond that (or invalid octal such
// as "08") float.
Value numberLiteral(std::string_view lit) {
  unsigned base = (lit.size() > 1 && lit[0] == '0') ? 8 : 10;
  uint64_t u = 0;
  bool ok = !lit.empty();
  for (char c : lit) {
    unsigned d = static_cast<unsigned>(c - '0');
    if (c < '0' || c > '9' || d >= base) {
      ok = false;
      break;
    }
    if (u > (std::numeric_limits<uint64_t>::max() - d) / base) {
      ok = false;
      break;
    }
    u = u * base + d;
  }
  if (ok) {
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Value::integer(static_cast<int64_t>(u));
    }
    return Value::uinteger(u);
  }
  std::string s(lit);
  return Value::floating(std::strtod(s.c_str(), nullptr));
}

Value floatLiteral(std::string_view lit) {
  std::string s(lit);
  return Value::floating(std::strtod(s.c_str(), nullptr));
}

int hexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Value of a string literal (Go strconv.Unquote). Tolerates malformed input (already reported by
// the scanner): bad escapes are kept verbatim.
std::string stringLiteral(std::string_view lit) {
  if (lit.empty()) return {};
  char q = lit[0];
  std::string_view body = lit.substr(1);
  if (!body.empty() && body.back() == q) body.remove_suffix(1);
  std::string out;
  out.reserve(body.size());
  if (q == '`') {
    for (char c : body) {
      if (c != '\r') out.push_back(c);
    }
    return out;
  }
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out.push_back(c);
      continue;
    }
    char e = body[++i];
    switch (e) {
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '"':
        out.push_back('"');
        break;
      case '\'':
        out.push_back('\'');
        break;
      case 'x':
      case 'u':
      case 'U': {
        size_t n = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
        uint32_t v = 0;
        bool good = i + n < body.size();
        for (size_t k = 1; good && k <= n; ++k) {
          int h = hexVal(body[i + k]);
          if (h < 0) {
            good = false;
          } else {
            v = v * 16 + static_cast<uint32_t>(h);
          }
        }
        if (!good) {
          out.push_back('\\');
          out.push_back(e);
          break;
        }
        i += n;
        if (e == 'x') {
          out.push_back(static_cast<char>(v));
        } else {
          appendUtf8(&out, v);
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7' && i + 2 < body.size()) {
          uint32_t v = 0;
          bool good = true;
          for (size_t k = 0; k < 3; ++k) {
            char d = body[i + k];
            if (d < '0' || d > '7') good = false;
            v = v * 8 + static_cast<uint32_t>(d - '0');
          }
          if (good) {
            out.push_back(static_cast<char>(v & 0xFF));
            i += 2;
            break;
          }
        }
        out.push_back('\\');
        out.push_back(e);
        break;
    }
  }
  return out;
}

Op binaryOp(Tok t) {
  switch (t) {
    case Tok::kOr:
      return Op::kOr;
    case Tok::kAnd:
      return Op::kAnd;
    case Tok::kEq:
      return Op::kEq;
    case Tok::kNeq:
      return Op::kNeq;
    case Tok::kLt:
      return Op::kLt;
    case Tok::kLte:
      return Op::kLte;
    case Tok::kGt:
      return Op::kGt;
    case Tok::kGte:
      return Op::kGte;
    case Tok::kAdd:
      return Op::kAdd;
    case Tok::kSub:
      return Op::kSub;
    case Tok::kMul:
      return Op::kMul;
    case Tok::kDiv:
      return Op::kDiv;
    case Tok::kMod:
      return Op::kMod;
    case Tok::kPow:
      return Op::kPow;
    default:
      return Op::kNone;
  }
}

class Parser {
 public:
  Parser(SourceFilePtr source, Diagnostics* diags)
      : source_(std::move(source)),
        diags_(diags),
        scanner_(*source_, [this](Pos p, std::string msg) {
          Range r{p, p};
          diags_->addError(source_->name(), r, std::move(msg));
        }) {
    next();
  }

  std::unique_ptr<ast::File> parseFile() {
    auto file = std::make_unique<ast::File>();
    file->source = source_;
    file->body = parseBody(Tok::kEof);
    file->comments = std::move(comments_);
    return file;
  }

  ExprPtr parseStandaloneExpression() {
    ExprPtr e = parseExpression();
    expect(Tok::kTerminator);
    return e;
  }

 private:
  // ---- token handling ----

  void next() {
    if (tok_.tok != Tok::kTerminator && tok_.tok != Tok::kEof && tok_.end > 0) {
      prev_end_ = tok_.end;
    }
    if (aborted_) {
      setEof();
      return;
    }
    tok_ = scanner_.scan();
    while (tok_.tok == Tok::kComment) {
      ast::Comment c;
      c.text.reserve(tok_.lit.size());
      for (char ch : tok_.lit) {
        if (ch != '\r') c.text.push_back(ch);
      }
      c.range = tokRange(tok_);
      comments_.push_back(std::move(c));
      tok_ = scanner_.scan();
    }
  }

  void setEof() {
    uint32_t n = static_cast<uint32_t>(source_->text().size());
    tok_ = Token{};
    tok_.tok = Tok::kEof;
    tok_.pos = source_->posAt(n);
    tok_.end = n;
  }

  Range tokRange(const Token& t) const {
    Range r;
    r.begin = t.pos;
    r.end = t.end > t.pos.offset ? source_->posAt(t.end - 1) : t.pos;
    return r;
  }

  // Range from `begin` to the end of the last consumed token.
  Range rangeFrom(Pos begin) const {
    Range r;
    r.begin = begin;
    r.end = prev_end_ > begin.offset ? source_->posAt(prev_end_ - 1) : begin;
    return r;
  }

  void addError(std::string msg) {
    if (aborted_) return;
    if (tok_.pos.line == last_error_line_) return;
    last_error_line_ = tok_.pos.line;
    diags_->addError(source_->name(), tokRange(tok_), std::move(msg));
  }

  void addErrorAt(Range r, std::string msg) {
    if (aborted_) return;
    diags_->addError(source_->name(), r, std::move(msg));
  }

  Token expect(Tok t) {
    Token got = tok_;
    if (got.tok != t) addError(strCat("expected ", tokName(t), ", got ", tokName(got.tok)));
    next();
    return got;
  }

  void advance(Tok to) {
    while (tok_.tok != Tok::kEof && tok_.tok != to) next();
  }

  void advanceToStatementEnd() {
    while (tok_.tok != Tok::kEof) {
      switch (tok_.tok) {
        case Tok::kTerminator:
        case Tok::kRParen:
        case Tok::kRCurly:
        case Tok::kRBrack:
        case Tok::kComma:
          return;
        default:
          next();
      }
    }
  }

  void consumeStatement() {
    int curly = 0, brack = 0, paren = 0;
    while (tok_.tok != Tok::kEof) {
      switch (tok_.tok) {
        case Tok::kLCurly:
          ++curly;
          break;
        case Tok::kRCurly:
          --curly;
          break;
        case Tok::kLBrack:
          ++brack;
          break;
        case Tok::kRBrack:
          --brack;
          break;
        case Tok::kLParen:
          ++paren;
          break;
        case Tok::kRParen:
          --paren;
          break;
        default:
          break;
      }
      if (tok_.tok == Tok::kTerminator && curly <= 0 && brack <= 0 && paren <= 0) return;
      next();
    }
  }

  // ---- nesting limits ----

  bool enter() {
    if (++depth_ > kMaxNesting) {
      abort();
      return false;
    }
    return true;
  }
  void leave() { --depth_; }

  void abort() {
    if (aborted_) return;
    addErrorAt(tokRange(tok_), strCat("nesting too deep (limit ", kMaxNesting, ")"));
    aborted_ = true;
    setEof();
  }

  // Computes the height of e from its children; aborts parsing when it exceeds kMaxNesting.
  void finish(Expr* e) {
    int d = 0;
    if (e->target) d = std::max(d, e->target->depth);
    if (e->rhs) d = std::max(d, e->rhs->depth);
    for (const ExprPtr& el : e->elems) {
      if (el) d = std::max(d, el->depth);
    }
    for (const ast::ObjectField& f : e->fields) {
      if (f.value) d = std::max(d, f.value->depth);
    }
    e->depth = d + 1;
    if (e->depth > kMaxNesting) abort();
  }

  ExprPtr nullLiteral(Pos at) {
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::kLiteral;
    e->raw = "null";
    e->range = Range{at, at};
    return e;
  }

  // ---- grammar ----

  ast::Body parseBody(Tok until) {
    ast::Body body;
    if (!enter()) {
      leave();
      return body;
    }
    while (tok_.tok != until && tok_.tok != Tok::kEof) {
      ast::Stmt stmt = parseStatement();
      if (stmt.attr || stmt.block) body.stmts.push_back(std::move(stmt));
      if (tok_.tok == until) break;
      if (tok_.tok != Tok::kTerminator) {
        addError(strCat("expected TERMINATOR, got ", tokName(tok_.tok)));
        consumeStatement();
      }
      next();
    }
    leave();
    return body;
  }

  struct BlockName {
    std::vector<std::string> parts;
    Pos start;
    Range name_range;
    std::optional<std::string> label;
    Range label_range;
  };

  ast::Stmt parseStatement() {
    ast::Stmt stmt;
    std::optional<BlockName> bn = parseBlockName();
    if (!bn) {
      advance(Tok::kIdent);
      return stmt;
    }
    switch (tok_.tok) {
      case Tok::kAssign: {
        next();
        if (bn->parts.size() != 1) {
          addErrorAt(bn->name_range,
                     "attribute names may only consist of a single identifier with no \".\"");
        } else if (bn->label) {
          addErrorAt(bn->label_range, "attribute names may not have labels");
        }
        auto attr = std::make_unique<ast::Attribute>();
        attr->name = bn->parts[0];
        attr->name_range = bn->name_range;
        attr->value = parseExpression();
        attr->range = rangeFrom(bn->start);
        stmt.attr = std::move(attr);
        return stmt;
      }
      case Tok::kLCurly: {
        auto block = std::make_unique<ast::Block>();
        block->name = absl::StrJoin(bn->parts, ".");
        block->name_parts = std::move(bn->parts);
        block->label = std::move(bn->label);
        block->name_range = bn->name_range;
        block->label_range = bn->label_range;
        block->lbrace = tokRange(expect(Tok::kLCurly));
        block->body = parseBody(Tok::kRCurly);
        Token rb = tok_;
        expect(Tok::kRCurly);
        block->rbrace = rb.tok == Tok::kRCurly ? tokRange(rb) : Range{rb.pos, rb.pos};
        block->range = rangeFrom(bn->start);
        stmt.block = std::move(block);
        return stmt;
      }
      default:
        if (bn->parts.size() == 1 && !bn->label) {
          addError(strCat("expected attribute assignment or block body, got ", tokName(tok_.tok)));
        } else {
          addError(strCat("expected block body, got ", tokName(tok_.tok)));
        }
        advance(Tok::kIdent);
        return stmt;
    }
  }

  std::optional<BlockName> parseBlockName() {
    if (tok_.tok != Tok::kIdent) {
      addError(strCat("expected identifier, got ", tokName(tok_.tok)));
      return std::nullopt;
    }
    BlockName bn;
    bn.parts.emplace_back(tok_.lit);
    bn.start = tok_.pos;
    bn.name_range = tokRange(tok_);
    next();
    while (tok_.tok == Tok::kDot) {
      next();
      if (tok_.tok != Tok::kIdent) {
        addError(strCat("expected identifier, got ", tokName(tok_.tok)));
      }
      bn.parts.emplace_back(tok_.tok == Tok::kEof ? std::string_view() : tok_.lit);
      if (tok_.tok != Tok::kEof) bn.name_range.end = tokRange(tok_).end;
      next();
    }
    if (tok_.tok != Tok::kAssign && tok_.tok != Tok::kLCurly) {
      if (tok_.tok == Tok::kString) {
        std::string_view lit = tok_.lit;
        if (lit[0] != '"') {
          addError(absl::StrFormat("expected block label to be a double quoted string, but got %s",
                                   goQuote(lit)));
        }
        std::string label;
        if (lit.size() > 2) {
          label = std::string(lit.substr(1, lit.size() - 2));
          if (!isValidIdentifier(label)) {
            addError(absl::StrFormat("expected block label to be a valid identifier, but got %s",
                                     goQuote(label)));
          }
        }
        bn.label = std::move(label);
        bn.label_range = tokRange(tok_);
      } else {
        addError(strCat("expected block label, got ", tokName(tok_.tok)));
      }
      next();
    }
    return bn;
  }

  ExprPtr parseExpression() {
    if (!enter()) {
      leave();
      return nullLiteral(tok_.pos);
    }
    ExprPtr e = parseBinOp(1);
    leave();
    return e;
  }

  ExprPtr parseBinOp(int in_prec) {
    ExprPtr lhs = parsePowExpr();
    for (;;) {
      Tok t = tok_.tok;
      int prec = binaryPrecedence(t);
      if (prec < in_prec || prec == 0) return lhs;
      next();
      ExprPtr rhs = parseBinOp(prec + 1);
      auto bin = std::make_unique<Expr>();
      bin->kind = ExprKind::kBinary;
      bin->op = binaryOp(t);
      bin->range = Range{lhs->range.begin, rhs->range.end};
      bin->target = std::move(lhs);
      bin->rhs = std::move(rhs);
      finish(bin.get());
      lhs = std::move(bin);
      if (aborted_) return lhs;
    }
  }

  ExprPtr parsePowExpr() {
    ExprPtr lhs = parseUnaryExpr();
    if (tok_.tok != Tok::kPow) return lhs;
    next();
    if (!enter()) {
      leave();
      return lhs;
    }
    ExprPtr rhs = parsePowExpr();
    leave();
    auto bin = std::make_unique<Expr>();
    bin->kind = ExprKind::kBinary;
    bin->op = Op::kPow;
    bin->range = Range{lhs->range.begin, rhs->range.end};
    bin->target = std::move(lhs);
    bin->rhs = std::move(rhs);
    finish(bin.get());
    return bin;
  }

  ExprPtr parseUnaryExpr() {
    if (tok_.tok == Tok::kNot || tok_.tok == Tok::kSub) {
      Pos at = tok_.pos;
      Op op = tok_.tok == Tok::kNot ? Op::kNot : Op::kNeg;
      next();
      if (!enter()) {
        leave();
        return nullLiteral(at);
      }
      ExprPtr target = parseUnaryExpr();
      leave();
      auto u = std::make_unique<Expr>();
      u->kind = ExprKind::kUnary;
      u->op = op;
      u->range = Range{at, target->range.end};
      u->target = std::move(target);
      finish(u.get());
      return u;
    }

    ExprPtr primary = parsePrimaryExpr();
    while (!aborted_) {
      switch (tok_.tok) {
        case Tok::kDot: {
          next();
          Token name = expect(Tok::kIdent);
          auto a = std::make_unique<Expr>();
          a->kind = ExprKind::kAccess;
          a->name = name.tok == Tok::kEof ? std::string() : std::string(name.lit);
          a->name_range = tokRange(name);
          a->range = rangeFrom(primary->range.begin);
          a->target = std::move(primary);
          finish(a.get());
          primary = std::move(a);
          break;
        }
        case Tok::kLBrack: {
          Pos open = tok_.pos;
          expect(Tok::kLBrack);
          ExprPtr index = parseExpression();
          expect(Tok::kRBrack);
          auto ix = std::make_unique<Expr>();
          ix->kind = ExprKind::kIndex;
          ix->open = open;
          ix->range = rangeFrom(primary->range.begin);
          ix->target = std::move(primary);
          ix->rhs = std::move(index);
          finish(ix.get());
          primary = std::move(ix);
          break;
        }
        case Tok::kLParen: {
          Pos open = tok_.pos;
          expect(Tok::kLParen);
          std::vector<ExprPtr> args;
          if (tok_.tok != Tok::kRParen) args = parseExpressionList(Tok::kRParen);
          expect(Tok::kRParen);
          auto call = std::make_unique<Expr>();
          call->kind = ExprKind::kCall;
          call->open = open;
          call->range = rangeFrom(primary->range.begin);
          call->target = std::move(primary);
          call->elems = std::move(args);
          finish(call.get());
          primary = std::move(call);
          break;
        }
        case Tok::kString:
        case Tok::kLCurly: {
          // Looks like a block assigned to an attribute: parse it as one to report it.
          if (tok_.tok == Tok::kString) next();
          Token lc = expect(Tok::kLCurly);
          if (lc.tok != Tok::kLCurly) {
            consumeStatement();
            return primary;
          }
          parseBody(Tok::kRCurly);
          Token rc = expect(Tok::kRCurly);
          if (rc.tok != Tok::kRCurly) {
            consumeStatement();
            return primary;
          }
          addErrorAt(Range{primary->range.begin, tokRange(rc).end},
                     "cannot use a block as an expression");
          break;
        }
        default:
          return primary;
      }
    }
    return primary;
  }

  ExprPtr parsePrimaryExpr() {
    switch (tok_.tok) {
      case Tok::kIdent: {
        auto e = std::make_unique<Expr>();
        e->kind = ExprKind::kIdent;
        e->name = std::string(tok_.lit);
        e->range = tokRange(tok_);
        next();
        return e;
      }
      case Tok::kString:
      case Tok::kNumber:
      case Tok::kFloat:
      case Tok::kBool:
      case Tok::kNull: {
        auto e = std::make_unique<Expr>();
        e->kind = ExprKind::kLiteral;
        e->raw = std::string(tok_.lit);
        e->range = tokRange(tok_);
        switch (tok_.tok) {
          case Tok::kString:
            e->value = Value::string(stringLiteral(tok_.lit));
            break;
          case Tok::kNumber:
            e->value = numberLiteral(tok_.lit);
            break;
          case Tok::kFloat:
            e->value = floatLiteral(tok_.lit);
            break;
          case Tok::kBool:
            e->value = Value::boolean(tok_.lit == "true");
            break;
          default:
            break;
        }
        next();
        return e;
      }
      case Tok::kLParen: {
        Pos open = tok_.pos;
        expect(Tok::kLParen);
        ExprPtr inner = parseExpression();
        expect(Tok::kRParen);
        auto e = std::make_unique<Expr>();
        e->kind = ExprKind::kParen;
        e->range = rangeFrom(open);
        e->target = std::move(inner);
        finish(e.get());
        return e;
      }
      case Tok::kLBrack: {
        Pos open = tok_.pos;
        expect(Tok::kLBrack);
        auto e = std::make_unique<Expr>();
        e->kind = ExprKind::kArray;
        if (tok_.tok != Tok::kRBrack) e->elems = parseExpressionList(Tok::kRBrack);
        expect(Tok::kRBrack);
        e->range = rangeFrom(open);
        finish(e.get());
        return e;
      }
      case Tok::kLCurly: {
        Pos open = tok_.pos;
        expect(Tok::kLCurly);
        auto e = std::make_unique<Expr>();
        e->kind = ExprKind::kObject;
        // Alloy checks for ']' here (not '}'); kept for identical error messages.
        if (tok_.tok != Tok::kRBrack) e->fields = parseFieldList(Tok::kRCurly);
        expect(Tok::kRCurly);
        e->range = rangeFrom(open);
        finish(e.get());
        return e;
      }
      default: {
        addError(strCat("expected expression, got ", tokName(tok_.tok)));
        ExprPtr e = nullLiteral(tok_.pos);
        advanceToStatementEnd();
        return e;
      }
    }
  }

  std::vector<ExprPtr> parseExpressionList(Tok until) {
    std::vector<ExprPtr> exprs;
    while (tok_.tok != until && tok_.tok != Tok::kEof) {
      exprs.push_back(parseExpression());
      if (tok_.tok == until) break;
      if (tok_.tok != Tok::kComma) addError("missing ',' in expression list");
      next();
    }
    return exprs;
  }

  std::vector<ast::ObjectField> parseFieldList(Tok until) {
    std::vector<ast::ObjectField> fields;
    while (tok_.tok != until && tok_.tok != Tok::kEof) {
      fields.push_back(parseField());
      if (tok_.tok == until) break;
      if (tok_.tok != Tok::kComma) addError("missing ',' in field list");
      next();
    }
    return fields;
  }

  ast::ObjectField parseField() {
    ast::ObjectField f;
    if (tok_.tok == Tok::kString || tok_.tok == Tok::kIdent) {
      f.key = std::string(tok_.lit);
      f.raw = f.key;
      f.key_range = tokRange(tok_);
      if (tok_.tok == Tok::kString && tok_.lit.size() > 2) {
        f.key = std::string(tok_.lit.substr(1, tok_.lit.size() - 2));
        f.quoted = true;
      }
      next();
    } else {
      addError(strCat("expected field name (string or identifier), got ", tokName(tok_.tok)));
      f.key_range = tokRange(tok_);
      advance(Tok::kAssign);
    }
    expect(Tok::kAssign);
    f.value = parseExpression();
    return f;
  }

  SourceFilePtr source_;
  Diagnostics* diags_;
  Scanner scanner_;
  Token tok_;
  std::vector<ast::Comment> comments_;
  uint32_t prev_end_ = 0;
  int last_error_line_ = 0;
  int depth_ = 0;
  bool aborted_ = false;
};

bool checkSize(const SourceFilePtr& source, Diagnostics* diags) {
  if (source->text().size() <= kMaxSourceBytes) return true;
  Pos p = source->posAt(0);
  diags->addError(source->name(), Range{p, p},
                  absl::StrFormat("file is too large: %d bytes exceeds the limit of %d bytes",
                                  source->text().size(), kMaxSourceBytes));
  return false;
}

}  // namespace

std::unique_ptr<ast::File> parseFile(SourceFilePtr source, Diagnostics* diags) {
  if (!source) source = std::make_shared<const SourceFile>("", "");
  if (!checkSize(source, diags)) {
    auto file = std::make_unique<ast::File>();
    file->source = source;
    return file;
  }
  Parser p(source, diags);
  return p.parseFile();
}

ast::ExprPtr parseExpression(SourceFilePtr source, Diagnostics* diags) {
  if (!source) source = std::make_shared<const SourceFile>("", "");
  if (!checkSize(source, diags)) {
    auto e = std::make_unique<ast::Expr>();
    e->raw = "null";
    return e;
  }
  Parser p(source, diags);
  return p.parseStandaloneExpression();
}

}  // namespace telegate::syntax
