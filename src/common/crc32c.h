// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of disk queue frames
// (src/queue/disk_queue.cc) and of snappy framing-format chunks (src/common/decompress.cc).
//
// Contract:
//  * crc32c(crc, data, n) extends `crc`, the CRC-32C of some bytes A (0 for no bytes), to the
//    CRC-32C of A followed by the n bytes at `data`: crc32c(crc32c(0, a, na), b, nb) ==
//    crc32c(0, a || b, na + nb). crc32c(0, "123456789", 9) == 0xE3069283 (the check value).
//  * On x86-64 CPUs with SSE4.2 it uses the crc32 instruction on three interleaved streams (about
//    8 bytes per cycle on large inputs); elsewhere a table-driven (slicing-by-8) version. Both give
//    identical results; crc32cPortable() is the table version, exposed for tests.
// Thread-safety: pure functions; the tables are built once, on first use, thread-safely.
#pragma once

#include <cstddef>
#include <cstdint>

namespace telegate {

uint32_t crc32c(uint32_t crc, const void* data, size_t n);
uint32_t crc32cPortable(uint32_t crc, const void* data, size_t n);
// True when crc32c() uses the CPU's crc32 instruction.
bool crc32cHardware();

}  // namespace telegate
