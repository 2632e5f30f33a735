// Argument value types shared by component schemas.
//
// Contract: plain value types used as fields of component Arguments. Duration parses Go duration
// strings ("10s", "1m30s", "500ms"); ByteSize parses base-2 sizes ("1MiB", "512KiB", "20MB" = 20e6)
// or plain numbers of bytes; Secret holds a string that is never rendered (admin API shows
// "(secret)"); CapsuleRef<C> holds a typed reference to a capsule exported by another component.
// All are immutable after decoding and safe to share between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/syntax/value.h"

namespace telegate::runtime {

struct Duration {
  std::chrono::nanoseconds value{0};
  Duration() = default;
  constexpr explicit Duration(std::chrono::nanoseconds v) : value(v) {}
  bool operator==(const Duration&) const = default;
  std::chrono::milliseconds millis() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(value);
  }
};
// Go time.ParseDuration syntax: sequence of decimal numbers with units ns, us, µs, ms, s, m, h.
absl::StatusOr<Duration> parseDuration(std::string_view s);
std::string formatDuration(Duration d);  // Go String() form: "1m30s", "500ms", "0s"

struct ByteSize {
  uint64_t bytes = 0;
  ByteSize() = default;
  constexpr explicit ByteSize(uint64_t b) : bytes(b) {}
  bool operator==(const ByteSize&) const = default;
};
// "1MiB", "512KiB", "1GiB", "10MB", "100kB", "1024", "1024B".
absl::StatusOr<ByteSize> parseByteSize(std::string_view s);
std::string formatByteSize(ByteSize b);

struct Secret {
  std::string value;
  bool operator==(const Secret&) const = default;
};

// A reference to a capsule of interface type C (C derives from syntax::Capsule and declares
// `static constexpr std::string_view kCapsuleType`).
template <class C>
struct CapsuleRef {
  std::shared_ptr<C> ptr;
  C* operator->() const { return ptr.get(); }
  C& operator*() const { return *ptr; }
  explicit operator bool() const { return ptr != nullptr; }
  bool operator==(const CapsuleRef& o) const { return ptr == o.ptr; }
};

}  // namespace telegate::runtime
