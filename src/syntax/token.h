// Internal: lexical tokens of the Alloy configuration language (mirrors Alloy's syntax/token).
//
// Contract: Tok values and their names as used in parser messages ("IDENT", "TERMINATOR", "{").
// Not part of the public API; only the scanner, parser and their tests include this header.
#pragma once

#include <cstdint>
#include <string_view>

#include "src/syntax/position.h"

namespace telegate::syntax {

enum class Tok {
  kIllegal,
  kEof,
  kComment,
  kIdent,
  kNumber,
  kFloat,
  kString,
  kBool,
  kNull,
  kOr,
  kAnd,
  kNot,
  kAssign,
  kEq,
  kNeq,
  kLt,
  kLte,
  kGt,
  kGte,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kLCurly,
  kRCurly,
  kLParen,
  kRParen,
  kLBrack,
  kRBrack,
  kComma,
  kDot,
  kTerminator,
};

// Name as Alloy prints it in messages: "IDENT", "STRING", "TERMINATOR", "{", "+", ...
std::string_view tokName(Tok t);

// Binary operator precedence (1 = ||, ..., 6 = ^); 0 for non-operators.
int binaryPrecedence(Tok t);

struct Token {
  Tok tok = Tok::kEof;
  Pos pos;               // first byte
  uint32_t end = 0;      // offset one past the last byte
  std::string_view lit;  // source text (literals, identifiers, comments; "\n" for terminators)
};

}  // namespace telegate::syntax
