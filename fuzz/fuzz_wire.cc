// libFuzzer target for the protobuf wire codec's readers (src/pdata/wire.h).
//
// Reads arbitrary bytes as a sequence of fields with readField() and, from every offset, as a
// varint, a 32-bit varint and a tag. Never reads outside the input (ASan), and traps when a
// property of the contract fails: a read value re-encodes to the same value in no more bytes than
// it was read from, varints stay within 10 bytes (5 for 32-bit ones), zigzag round-trips, a
// field's `whole` is exactly the bytes consumed, and a payload lies inside the input.
#include <cstdint>
#include <string>
#include <string_view>

#include "src/pdata/wire.h"

namespace {

namespace wire = telegate::pdata::wire;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Writes `f` back with the codec's writers and reads it again: the same field must come out.
void roundTripField(const wire::Field& f) {
  std::string out;
  switch (f.wire_type) {
    case wire::kVarint:
      wire::appendTag(&out, f.number, f.wire_type);
      wire::appendVarint(&out, f.value);
      break;
    case wire::kI64:
      wire::appendTag(&out, f.number, f.wire_type);
      wire::appendFixed64(&out, f.value);
      break;
    case wire::kI32:
      check(f.value <= 0xffffffffu);
      wire::appendTag(&out, f.number, f.wire_type);
      wire::appendFixed32(&out, static_cast<uint32_t>(f.value));
      break;
    case wire::kLen:
      wire::appendLenField(&out, f.number, f.bytes);
      check(out.size() == wire::lenFieldSize(f.number, f.bytes.size()));
      break;
    default:
      check(false);  // readField accepts no other wire type
  }
  check(out.size() <= f.whole.size());
  size_t pos = 0;
  wire::Field g;
  check(wire::readField(out, &pos, &g) == wire::Status::kOk);
  check(pos == out.size());
  check(g.number == f.number && g.wire_type == f.wire_type && g.value == f.value &&
        g.bytes == f.bytes);
}

void fromOffset(const uint8_t* p0, const uint8_t* end) {
  const uint8_t* p = p0;
  uint64_t v = 0;
  if (wire::readVarint(p, end, &v) == wire::Status::kOk) {
    const size_t used = static_cast<size_t>(p - p0);
    check(used >= 1 && used <= wire::kMaxVarintBytes && p <= end);
    check(wire::varintSize(v) <= used);
    std::string enc;
    wire::appendVarint(&enc, v);
    check(enc.size() == wire::varintSize(v));
    const auto* e = reinterpret_cast<const uint8_t*>(enc.data());
    uint64_t back = 0;
    check(wire::readVarint(e, e + enc.size(), &back) == wire::Status::kOk && back == v);
    check(wire::zigzagEncode64(wire::zigzagDecode64(v)) == v);
    check(wire::zigzagDecode32(wire::zigzagEncode32(static_cast<int32_t>(v))) ==
          static_cast<int32_t>(v));
  }
  p = p0;
  if (wire::readVarint32(p, end, &v) == wire::Status::kOk) {
    check(v <= 0xffffffffu && p - p0 >= 1 && p - p0 <= 5);
  }
  p = p0;
  uint32_t number = 0;
  uint32_t type = 0;
  if (wire::readTag(p, end, &number, &type) == wire::Status::kOk) {
    check(number != 0 && number < (1u << 29) && type < 8);
  }
  p = p0;
  if (wire::readLength(p, end, &v) == wire::Status::kOk) check(v <= static_cast<uint64_t>(end - p));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t pos = 0;
  wire::Field f;
  while (pos < in.size()) {
    const size_t start = pos;
    const wire::Status s = wire::readField(in, &pos, &f);
    check(wire::statusText(s) != "unknown wire status");
    if (s != wire::Status::kOk) break;
    check(pos > start && pos <= in.size());
    check(f.whole.data() == in.data() + start && f.whole.size() == pos - start);
    if (f.wire_type == wire::kLen) {
      check(f.bytes.data() >= in.data() && f.bytes.data() + f.bytes.size() <= in.data() + pos);
    }
    roundTripField(f);
  }
  const uint8_t* end = data + size;
  for (size_t i = 0; i < size && i < 64; ++i) fromOffset(data + i, end);
  return 0;
}
