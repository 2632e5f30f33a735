// Protobuf wire-format encoding primitives shared by the hand-written encoders (loki.write's
// PushRequest, prometheus.remote_write's WriteRequest, the OTLP request splitter).
//
// Contract: base-128 varints as protobuf writes them (7 bits a byte, least significant first,
// the high bit set on all but the last byte; at most 10 bytes). putVarint() writes into a buffer
// the caller sized with varintSize() and returns the position after the varint. Pure, inline,
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace telegate::pdata {

inline size_t varintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

inline char* putVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

inline void appendVarint(std::string* out, uint64_t v) {
  char buf[10];
  out->append(buf, static_cast<size_t>(putVarint(buf, v) - buf));
}

}  // namespace telegate::pdata
