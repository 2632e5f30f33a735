#include "src/common/crc32c.h"

#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace telegate {

namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

// Slicing-by-8 tables: t[0] is the classic byte table, t[k][b] advances t[k-1][b] by one byte.
struct Tables {
  uint32_t t[8][256];
  Tables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (kPoly & (0u - (c & 1u)));
      t[0][i] = c;
    }
    for (int k = 1; k < 8; ++k) {
      for (uint32_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
    }
  }
};

const Tables& tables() {
  static const Tables* t = new Tables();
  return *t;
}

uint64_t load64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

// Updates the raw (pre-inverted) register `s` with n bytes.
uint32_t rawPortable(uint32_t s, const uint8_t* p, size_t n) {
  const Tables& tb = tables();
  const auto& t = tb.t;
  while (n >= 8) {
    const uint64_t x = load64(p) ^ s;
    s = t[7][x & 0xff] ^ t[6][(x >> 8) & 0xff] ^ t[5][(x >> 16) & 0xff] ^ t[4][(x >> 24) & 0xff] ^
        t[3][(x >> 32) & 0xff] ^ t[2][(x >> 40) & 0xff] ^ t[1][(x >> 48) & 0xff] ^ t[0][x >> 56];
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    s = (s >> 8) ^ t[0][(s ^ *p++) & 0xff];
    --n;
  }
  return s;
}

#if defined(__x86_64__)

// Bytes per stream in one round of the three-stream loop (a multiple of 8).
constexpr size_t kBlock = 4096;

// Advancing the raw register over kBlock zero bytes is linear over GF(2); these tables apply it
// one register byte at a time.
struct ZeroShift {
  uint32_t t[4][256];
  ZeroShift() {
    static const uint8_t kZeros[kBlock] = {};
    uint32_t col[32];
    for (int i = 0; i < 32; ++i) col[i] = rawPortable(1u << i, kZeros, kBlock);
    for (int k = 0; k < 4; ++k) {
      for (uint32_t v = 0; v < 256; ++v) {
        uint32_t r = 0;
        for (int j = 0; j < 8; ++j) {
          if (v & (1u << j)) r ^= col[8 * k + j];
        }
        t[k][v] = r;
      }
    }
  }
  uint32_t apply(uint32_t x) const {
    return t[0][x & 0xff] ^ t[1][(x >> 8) & 0xff] ^ t[2][(x >> 16) & 0xff] ^ t[3][x >> 24];
  }
};

const ZeroShift& zeroShift() {
  static const ZeroShift* z = new ZeroShift();
  return *z;
}

__attribute__((target("sse4.2"))) uint32_t rawHardware(uint32_t s, const uint8_t* p, size_t n) {
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    s = _mm_crc32_u8(s, *p++);
    --n;
  }
  if (n >= 3 * kBlock) {
    const ZeroShift& z = zeroShift();
    while (n >= 3 * kBlock) {
      uint64_t a = s, b = 0, c = 0;
      for (size_t i = 0; i < kBlock; i += 8) {
        uint64_t wa, wb, wc;
        memcpy(&wa, p + i, 8);
        memcpy(&wb, p + kBlock + i, 8);
        memcpy(&wc, p + 2 * kBlock + i, 8);
        a = _mm_crc32_u64(a, wa);
        b = _mm_crc32_u64(b, wb);
        c = _mm_crc32_u64(c, wc);
      }
      // crc(A || B || C) = shift(shift(crc(A)) ^ crc(B)) ^ crc(C), each shift over kBlock zeros.
      s = z.apply(z.apply(static_cast<uint32_t>(a)) ^ static_cast<uint32_t>(b)) ^
          static_cast<uint32_t>(c);
      p += 3 * kBlock;
      n -= 3 * kBlock;
    }
  }
  uint64_t c = s;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  s = static_cast<uint32_t>(c);
  while (n > 0) {
    s = _mm_crc32_u8(s, *p++);
    --n;
  }
  return s;
}

bool detectHardware() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}

#endif

}  // namespace

bool crc32cHardware() {
#if defined(__x86_64__)
  static const bool hw = detectHardware();
  return hw;
#else
  return false;
#endif
}

uint32_t crc32cPortable(uint32_t crc, const void* data, size_t n) {
  return ~rawPortable(~crc, static_cast<const uint8_t*>(data), n);
}

uint32_t crc32c(uint32_t crc, const void* data, size_t n) {
#if defined(__x86_64__)
  if (crc32cHardware()) return ~rawHardware(~crc, static_cast<const uint8_t*>(data), n);
#endif
  return crc32cPortable(crc, data, n);
}

}  // namespace telegate
