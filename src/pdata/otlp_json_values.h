// Conversions of OTLP/JSON scalar texts for the streaming decoder (otlp_json_decode.cc): decimal
// integers in strings, numeric strings for doubles, hex ids and base64 bytes.
//
// Contract: pure functions over already-unescaped text; they never allocate or throw. Failures
// return a short problem text (or false) that the decoder turns into its error message with the
// JSON path. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "src/pdata/otlp_decode.h"

namespace telegate::pdata::json_values {

// An integer read from JSON (number or decimal string) as sign and magnitude.
struct JsonInt {
  bool negative = false;
  uint64_t magnitude = 0;
  uint64_t bits() const { return negative ? 0 - magnitude : magnitude; }
};

// A decimal integer text ("-12", leading zeros allowed): nullptr, or the problem.
const char* intText(std::string_view s, JsonInt* out);

// Range check for a field of an integer kind (int32/sint32/enum, uint32/fixed32, int64/sfixed64,
// uint64/fixed64). *bits = the value as the 64-bit two's complement pattern a varint or fixed
// field carries. False when out of range.
bool inRange(otlp_schema::Kind kind, const JsonInt& n, uint64_t* bits);

// A double in a string: "NaN", "Infinity", "-Infinity" or a decimal number (optionally signed,
// starting with a digit or '.'): nullptr, or the problem.
const char* doubleText(std::string_view s, double* out);

// Decodes hex.size() / 2 bytes (either case); false on a character that is not a hex digit.
bool hexBytes(std::string_view hex, char* bytes);

// Base64, standard or URL-safe alphabet, padding optional: *chars = the characters that carry
// data (padding removed), *decoded = the decoded size. False when no base64 text has that length.
bool base64Size(std::string_view b64, size_t* chars, size_t* decoded);
// Decodes the data characters (the first `chars` of the text) into dst, or only checks them when
// dst is nullptr. False on a character outside both alphabets.
bool base64Decode(std::string_view data_chars, char* dst);

}  // namespace telegate::pdata::json_values
