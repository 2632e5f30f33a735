// Output sinks of the streaming OTLP/JSON decoder (otlp_json_decode.cc): WriteSink appends
// protobuf wire bytes to a bounded buffer, CountSink only adds up their size. Both do the same
// size arithmetic, so a CountSink pass yields the exact size that a WriteSink pass then writes.
//
// Length-delimited fields are written as tag + one placeholder byte + payload; endLen() then
// stores the payload length, shifting the payload when the length varint needs more than one byte.
// Callers ask room(n) before writing n bytes (tail()/advance() or the put* helpers).
// Threading: one sink per call.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "src/pdata/wire.h"

namespace telegate::pdata::json_sink {

using wire::kI32;
using wire::kI64;
using wire::kLen;
using wire::kVarint;
using wire::putVarint;
using wire::varintSize;

class CountSink {
 public:
  static constexpr bool kWrites = false;
  size_t size() const { return n_; }
  bool room(size_t) { return true; }
  char* tail() { return nullptr; }
  void advance(size_t k) { n_ += k; }
  void truncate(size_t len) { n_ = len; }
  void varint(uint64_t v) { n_ += varintSize(v); }
  void tag(uint32_t number, uint32_t wire_type) { varint(wire::makeTag(number, wire_type)); }
  void fixed32(uint32_t) { n_ += 4; }
  void fixed64(uint64_t) { n_ += 8; }
  void bytes(const char*, size_t k) { n_ += k; }
  size_t beginLen(uint32_t number) {
    tag(number, kLen);
    return ++n_;
  }
  bool endLen(size_t start) {
    n_ += varintSize(n_ - start) - 1;
    return true;
  }

 private:
  size_t n_ = 0;
};

// A std::string buffer with a hard capacity limit. Capacity is reserved (not touched) and the
// string's size is extended (zero-filled) in kCommitStep steps just ahead of the writes, so bytes
// never written are never touched. Growth past the initial capacity reallocates at most up to
// `hard_cap`; room() fails (overflowed() becomes true) when a write would pass it.
class WriteSink {
 public:
  static constexpr bool kWrites = true;
  static constexpr size_t kCommitStep = 64 << 10;

  WriteSink(size_t initial, size_t hard_cap) : hard_cap_(std::max(initial, hard_cap)) {
    buf_.reserve(initial);
  }
  size_t size() const { return len_; }
  size_t capacity() const { return buf_.capacity(); }
  bool overflowed() const { return overflowed_; }
  bool room(size_t n) { return n <= buf_.size() - len_ || grow(n); }
  char* tail() { return buf_.data() + len_; }
  void advance(size_t k) { len_ += k; }
  void truncate(size_t len) { len_ = len; }
  void varint(uint64_t v) { len_ = static_cast<size_t>(putVarint(tail(), v) - buf_.data()); }
  void tag(uint32_t number, uint32_t wire_type) { varint(wire::makeTag(number, wire_type)); }
  void fixed32(uint32_t v) {
    len_ = static_cast<size_t>(wire::putFixed32(tail(), v) - buf_.data());
  }
  void fixed64(uint64_t v) {
    len_ = static_cast<size_t>(wire::putFixed64(tail(), v) - buf_.data());
  }
  void bytes(const char* data, size_t k) {
    std::memcpy(tail(), data, k);
    len_ += k;
  }
  // Needs room(6).
  size_t beginLen(uint32_t number) {
    tag(number, kLen);
    buf_[len_] = 0;
    return ++len_;
  }
  bool endLen(size_t start) {
    const size_t len = len_ - start;
    if (len < 0x80) {
      buf_[start - 1] = static_cast<char>(len);
      return true;
    }
    char v[wire::kMaxVarintBytes];
    const size_t n = static_cast<size_t>(putVarint(v, len) - v);
    if (!room(n - 1)) return false;
    char* d = buf_.data();
    std::memmove(d + start + n - 1, d + start, len);
    std::memcpy(d + start - 1, v, n);
    len_ += n - 1;
    return true;
  }
  // The contents; copied into a right-sized string when more than half the capacity is unused
  // (e.g. pretty-printed bodies), so the caller does not keep the slack.
  std::string release() {
    if (buf_.capacity() > 2 * len_ + 4096) return std::string(buf_.data(), len_);
    buf_.resize(len_);
    return std::move(buf_);
  }

 private:
  bool grow(size_t n) {
    const size_t need = len_ + n;
    if (need > buf_.capacity()) {
      if (need > hard_cap_) {
        overflowed_ = true;
        return false;
      }
      std::string next;
      next.reserve(std::min(std::max(buf_.capacity() * 2, need), hard_cap_));
      next.append(buf_.data(), len_);
      buf_.swap(next);
    }
    buf_.resize(std::min(buf_.capacity(), std::max(need, buf_.size() + kCommitStep)));
    return true;
  }

  std::string buf_;
  size_t len_ = 0;
  size_t hard_cap_;
  bool overflowed_ = false;
};

}  // namespace telegate::pdata::json_sink
