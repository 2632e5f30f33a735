// Abstract syntax tree of an Alloy configuration file.
//
// Contract: the tree is produced by the parser and immutable afterwards; every node carries its
// source range. Comments are kept on the File (in source order) so the printer can reproduce them.
// Nodes own their children through unique_ptr; the tree is safe to read from several threads.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "src/syntax/position.h"
#include "src/syntax/value.h"

namespace telegate::syntax::ast {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  kLiteral,  // literal: value holds the number/string/bool/null; raw keeps the source text
  kIdent,    // name
  kArray,    // elements
  kObject,   // fields
  kAccess,   // target.name
  kIndex,    // target[index]
  kCall,     // target(args...)
  kUnary,    // op target
  kBinary,   // lhs op rhs
  kParen,    // (target)
};

enum class Op {
  kNone,
  kOr,
  kAnd,  // || &&
  kEq,
  kNeq,
  kLt,
  kLte,
  kGt,
  kGte,  // == != < <= > >=
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,  // + - * / % ^
  kNot,
  kNeg,  // unary ! -
};
std::string_view opText(Op op);

struct ObjectField {
  std::string key;
  bool quoted = false;  // key was written as a string literal
  Range key_range;
  ExprPtr value;
  std::string raw;  // key token as written (quotes included when quoted); used by the printer
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  Range range;

  Value value;        // kLiteral
  std::string raw;    // kLiteral: source text of the literal (kept for the printer)
  std::string name;   // kIdent, kAccess (field name)
  Op op = Op::kNone;  // kUnary, kBinary

  ExprPtr target;                   // kAccess, kIndex, kCall, kUnary, kParen; lhs for kBinary
  ExprPtr rhs;                      // kBinary; index for kIndex
  std::vector<ExprPtr> elems;       // kArray elements, kCall arguments
  std::vector<ObjectField> fields;  // kObject

  // Additions beyond the original contract (filled in by the parser):
  Pos open;          // kCall: position of '('; kIndex: position of '['
  Range name_range;  // kAccess: range of the field name
  int depth = 1;     // height of this subtree (1 for leaves); bounded by kMaxNesting
};

struct Block;
struct Attribute;

// A statement is an attribute or a block.
struct Stmt {
  std::unique_ptr<Attribute> attr;
  std::unique_ptr<Block> block;
  Range range() const;
};

struct Body {
  std::vector<Stmt> stmts;
};

struct Attribute {
  std::string name;
  Range name_range;
  ExprPtr value;
  Range range;  // whole statement
};

struct Block {
  std::vector<std::string> name_parts;  // e.g. {"otelcol","receiver","otlp"}
  std::string name;                     // dotted: "otelcol.receiver.otlp"
  std::optional<std::string> label;     // without quotes
  Range name_range;
  Range label_range;
  Range range;  // from the first name character to the closing brace
  Range lbrace, rbrace;
  Body body;
};

struct Comment {
  std::string text;  // including the // or /* */ markers
  Range range;
};

struct File {
  SourceFilePtr source;
  Body body;
  std::vector<Comment> comments;
};

// A dotted reference found in an expression: identifier followed by zero or more `.field`
// accesses, e.g. otelcol.auth.bearer.receiver_token.handler -> {"otelcol","auth","bearer",
// "receiver_token","handler"}. Used by the loader to build the component graph.
struct Traversal {
  std::vector<std::string> parts;
  Range range;
};

// Every maximal traversal inside the expression / body (blocks included, recursively).
void collectTraversals(const Expr& e, std::vector<Traversal>* out);
void collectTraversals(const Body& b, std::vector<Traversal>* out);

}  // namespace telegate::syntax::ast
