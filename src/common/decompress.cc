#include "src/common/decompress.h"

#include <snappy.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "src/common/crc32c.h"
#include "src/common/strings.h"

namespace telegate {
namespace {

constexpr std::string_view kLimitPrefix = "decompressed body exceeds the limit of ";
constexpr size_t kChunk = 64 << 10;

absl::Status limitError(size_t max_output) {
  return absl::ResourceExhaustedError(strCat(kLimitPrefix, max_output, " bytes"));
}

constexpr std::string_view kMemoryPrefix = "memory limit reached while decompressing";

absl::Status memoryError() {
  return absl::ResourceExhaustedError(std::string(kMemoryPrefix));
}

// Charges allocations to a MemoryBudget (none when the budget is null). What is still charged at
// destruction is given back unless take() moved it into a reservation.
class Charger {
 public:
  explicit Charger(MemoryBudget* budget) : budget_(budget) {}
  ~Charger() {
    if (budget_ != nullptr) budget_->release(charged_);
  }
  Charger(const Charger&) = delete;
  Charger& operator=(const Charger&) = delete;

  // False (and failed() from then on) when the budget has no room for n more bytes.
  bool add(size_t n) {
    if (budget_ == nullptr) return true;
    if (!budget_->tryReserve(n)) {
      failed_ = true;
      return false;
    }
    charged_ += n;
    return true;
  }
  void sub(size_t n) {
    if (budget_ == nullptr) return;
    n = std::min(n, charged_);
    budget_->release(n);
    charged_ -= n;
  }
  bool failed() const { return failed_; }
  MemoryReservation take() {
    MemoryReservation r(budget_, charged_);
    charged_ = 0;
    return r;
  }

 private:
  MemoryBudget* const budget_;
  size_t charged_ = 0;
  bool failed_ = false;
};

absl::Status corrupt(std::string_view codec, std::string_view what) {
  return absl::InvalidArgumentError(strCat("invalid ", codec, " body: ", what));
}

// Output collected in segments, so memory never exceeds max_output + 1 bytes in total (plus the
// final concatenation when there is more than one segment). Segments grow geometrically; a size
// hint (never trusted beyond the cap) lets typical bodies fit in one segment, which take()
// returns without copying. Every segment (and the concatenation) is charged to the Charger before
// it is allocated; when the charge fails nothing is allocated and room() is 0.
class BoundedOutput {
 public:
  BoundedOutput(size_t max_output, size_t hint, Charger* charger)
      : max_output_(max_output),
        cap_(max_output == SIZE_MAX ? SIZE_MAX : max_output + 1),
        charger_(charger) {
    startSegment(std::max(kChunk, hint));
  }
  // Why no more output could be produced: the memory budget or the size limit.
  absl::Status stopError() const {
    return charger_->failed() ? memoryError() : limitError(max_output_);
  }

  // Contiguous free space at tail(); zero only once cap_ bytes were produced.
  char* tail() { return cur_.data() + used_; }
  size_t room() {
    if (used_ == cur_.size()) startSegment(std::max(kChunk, total_));
    return cur_.size() - used_;
  }
  // Makes room() >= n contiguous bytes; requires size() + n <= cap.
  void ensure(size_t n) {
    if (cur_.size() - used_ < n) startSegment(std::max({n, kChunk, total_}));
  }
  // Records n bytes written at tail(); false when the limit was crossed.
  bool commit(size_t n) {
    used_ += n;
    total_ += n;
    return total_ <= max_output_;
  }
  size_t size() const { return total_; }
  // The output; an error when the budget cannot hold the concatenation.
  absl::StatusOr<std::string> take() {
    cur_.resize(used_);
    if (done_.empty()) return std::move(cur_);
    if (!charger_->add(total_)) return memoryError();
    std::string out;
    out.reserve(total_);
    for (const std::string& s : done_) out.append(s);
    out.append(cur_);
    size_t freed = cur_.capacity();
    for (const std::string& s : done_) freed += s.capacity();
    done_.clear();
    cur_ = std::string();
    charger_->sub(std::min(freed, segment_bytes_));
    return out;
  }

 private:
  void startSegment(size_t want) {
    const size_t n = std::min(want, cap_ - total_);
    if (n == 0 || !charger_->add(n)) return;
    segment_bytes_ += n;
    if (used_ > 0) {
      cur_.resize(used_);
      done_.push_back(std::move(cur_));
    }
    cur_ = std::string();
    cur_.resize(n);
    used_ = 0;
  }

  size_t max_output_;
  size_t cap_;
  size_t total_ = 0;
  size_t used_ = 0;  // bytes used in cur_
  std::string cur_;
  std::vector<std::string> done_;
  Charger* const charger_;
  size_t segment_bytes_ = 0;  // charged for segments
};

// ---- zlib family ----

enum class ZFormat { kGzip, kZlib, kRaw };

bool hasZlibHeader(std::string_view b) {
  if (b.size() < 2) return false;
  const auto c0 = static_cast<unsigned char>(b[0]);
  const auto c1 = static_cast<unsigned char>(b[1]);
  return (c0 & 0x0f) == Z_DEFLATED && (c0 >> 4) <= 7 && ((c0 << 8) | c1) % 31 == 0;
}

absl::StatusOr<std::string> inflateBody(ZFormat fmt, std::string_view codec, std::string_view body,
                                        size_t max_output, Charger* charger) {
  z_stream zs{};
  const int wbits = fmt == ZFormat::kGzip ? 15 + 16 : fmt == ZFormat::kZlib ? 15 : -15;
  if (inflateInit2(&zs, wbits) != Z_OK) return absl::InternalError("inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);

  // gzip's trailer holds the size mod 2^32: a hint for the first allocation, never trusted.
  size_t hint = 4 * body.size();
  if (fmt == ZFormat::kGzip && body.size() >= 18) {
    const auto* t = reinterpret_cast<const unsigned char*>(body.data() + body.size() - 4);
    const size_t isize = t[0] | (t[1] << 8) | (t[2] << 16) | (uint32_t{t[3]} << 24);
    // Deflate cannot expand more than ~1032:1, which bounds what a forged trailer can ask for.
    hint = std::max(hint, std::min(isize, body.size() * 1032));
  }
  BoundedOutput out(max_output, hint, charger);

  auto* in = reinterpret_cast<const Bytef*>(body.data());
  size_t in_left = body.size();
  for (;;) {
    const uInt feed = static_cast<uInt>(std::min<size_t>(in_left, UINT_MAX));
    zs.next_in = const_cast<Bytef*>(in);
    zs.avail_in = feed;
    const size_t room = out.room();
    if (room == 0) return out.stopError();
    zs.next_out = reinterpret_cast<Bytef*>(out.tail());
    zs.avail_out = static_cast<uInt>(std::min<size_t>(room, UINT_MAX));
    const uInt out_before = zs.avail_out;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const size_t consumed = feed - zs.avail_in;
    in += consumed;
    in_left -= consumed;
    if (!out.commit(out_before - zs.avail_out)) return limitError(max_output);
    switch (rc) {
      case Z_OK:
        break;
      case Z_STREAM_END:
        if (in_left == 0) return out.take();
        if (fmt != ZFormat::kGzip) return corrupt(codec, "trailing data after the end of stream");
        if (inflateReset(&zs) != Z_OK) return absl::InternalError("inflateReset failed");
        break;
      case Z_BUF_ERROR:
        // No progress possible: the output has room, so the input ran out.
        if (in_left == 0) return corrupt(codec, "unexpected end of data");
        break;
      case Z_NEED_DICT:
        return corrupt(codec, "a preset dictionary is required");
      case Z_MEM_ERROR:
        return absl::ResourceExhaustedError(strCat(codec, ": out of memory"));
      default:
        return corrupt(codec, zs.msg != nullptr ? zs.msg : "corrupt data");
    }
    if (rc == Z_OK && in_left == 0 && zs.avail_out != 0) {
      return corrupt(codec, "unexpected end of data");
    }
  }
}

// ---- zstd ----

uint32_t le32(const char* p);

// The window the first frame declares (RFC 8878 3.1.1.1): from its Window_Descriptor, or its
// content size for a single-segment frame. 0 when unknown (skippable frame, short input).
size_t zstdWindowSize(std::string_view b) {
  if (b.size() < 6 || le32(b.data()) != 0xFD2FB528u) return 0;
  const auto fhd = static_cast<unsigned char>(b[4]);
  if ((fhd & 0x20) == 0) {
    const auto wd = static_cast<unsigned char>(b[5]);
    const size_t base = size_t{1} << (10 + (wd >> 3));
    return base + (base / 8) * (wd & 7);
  }
  const unsigned long long declared = ZSTD_getFrameContentSize(b.data(), b.size());
  if (declared == ZSTD_CONTENTSIZE_UNKNOWN || declared == ZSTD_CONTENTSIZE_ERROR) return 0;
  return static_cast<size_t>(std::min<unsigned long long>(declared, SIZE_MAX));
}

absl::StatusOr<std::string> zstdBody(std::string_view body, size_t max_output, Charger* charger) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!dctx) return absl::ResourceExhaustedError("zstd: cannot create a decoder");
  int wlog = 24;  // 16 MiB, enough for any streaming compressor's default window
  while (wlog < 27 && (size_t{1} << wlog) < max_output) ++wlog;
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, wlog);

  // The declared content size is only a hint for the first segment, and only up to a ratio
  // typical of real payloads; the decoder checks it against the actual content.
  size_t hint = 4 * body.size();
  const unsigned long long declared = ZSTD_getFrameContentSize(body.data(), body.size());
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR) {
    hint = std::max<size_t>(hint, std::min<unsigned long long>(declared, 64ull * body.size()));
  }
  // The decoder's window, as the first frame declares it (the decoder refuses larger ones).
  // Charged while decoding only.
  struct WindowCharge {
    Charger* charger;
    size_t bytes = 0;
    ~WindowCharge() { charger->sub(bytes); }
  } window{charger};
  if (const size_t w = std::min(zstdWindowSize(body), size_t{1} << wlog); w > 0) {
    if (!charger->add(w)) return memoryError();
    window.bytes = w;
  }
  BoundedOutput out(max_output, hint, charger);
  ZSTD_inBuffer in{body.data(), body.size(), 0};
  for (;;) {
    const size_t room = out.room();
    if (room == 0) return out.stopError();
    ZSTD_outBuffer ob{out.tail(), room, 0};
    const size_t in_before = in.pos;
    const size_t rc = ZSTD_decompressStream(dctx.get(), &ob, &in);
    if (ZSTD_isError(rc)) {
      if (ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge) {
        return corrupt("zstd", strCat("frame window larger than ", size_t{1} << wlog, " bytes"));
      }
      return corrupt("zstd", ZSTD_getErrorName(rc));
    }
    if (!out.commit(ob.pos)) return limitError(max_output);
    if (in.pos == in.size) {
      if (rc == 0) return out.take();  // last frame complete and fully flushed
      // Not stopped by a full buffer, so the decoder has flushed all it can: input is missing.
      if (ob.pos < ob.size) return corrupt("zstd", "unexpected end of data");
    }
    if (in.pos == in_before && ob.pos == 0) return corrupt("zstd", "decoder made no progress");
  }
}

// ---- snappy ----

constexpr std::string_view kSnappyStreamId("\xff\x06\x00\x00sNaPpY", 10);
constexpr size_t kSnappyMaxFrameBlock = 65536;

// The framing format's masked CRC-32C of the uncompressed bytes.
uint32_t maskedCrc(const char* p, size_t n) {
  const uint32_t c = crc32c(0, p, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

uint32_t le32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return u[0] | (u[1] << 8) | (u[2] << 16) | (uint32_t{u[3]} << 24);
}

void putLe32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

absl::StatusOr<std::string> snappyBlock(std::string_view body, size_t max_output,
                                        Charger* charger) {
  size_t n = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &n)) {
    return corrupt("snappy", "bad uncompressed length");
  }
  if (n > max_output) return limitError(max_output);
  if (!charger->add(n)) return memoryError();
  std::string out;
  out.resize(n);
  if (!snappy::RawUncompress(body.data(), body.size(), out.data())) {
    return corrupt("snappy", "corrupt input");
  }
  return out;
}

absl::StatusOr<std::string> snappyFramed(std::string_view body, size_t max_output,
                                         Charger* charger) {
  BoundedOutput out(max_output, 0, charger);
  while (!body.empty()) {
    if (body.size() < 4) return corrupt("snappy", "truncated chunk header");
    const auto type = static_cast<unsigned char>(body[0]);
    const size_t len = le32(body.data()) >> 8;
    body.remove_prefix(4);
    if (body.size() < len) return corrupt("snappy", "truncated chunk");
    std::string_view chunk = body.substr(0, len);
    body.remove_prefix(len);
    if (type == 0xff) {
      if (chunk != kSnappyStreamId.substr(4)) return corrupt("snappy", "bad stream identifier");
      continue;
    }
    if (type >= 0x80) continue;  // reserved skippable chunks and padding
    if (type > 0x01) return corrupt("snappy", "reserved unskippable chunk");
    if (chunk.size() < 4) return corrupt("snappy", "chunk too short for its checksum");
    const uint32_t want_crc = le32(chunk.data());
    chunk.remove_prefix(4);
    size_t n = chunk.size();
    if (type == 0x00 && !snappy::GetUncompressedLength(chunk.data(), chunk.size(), &n)) {
      return corrupt("snappy", "bad uncompressed length");
    }
    if (n > kSnappyMaxFrameBlock) return corrupt("snappy", "chunk larger than 65536 bytes");
    if (n > max_output - out.size()) return limitError(max_output);
    out.ensure(n);  // n <= max_output - size(), so this stays within the cap
    if (charger->failed()) return memoryError();
    if (type == 0x00) {
      if (!snappy::RawUncompress(chunk.data(), chunk.size(), out.tail())) {
        return corrupt("snappy", "corrupt input");
      }
    } else {
      std::memcpy(out.tail(), chunk.data(), n);
    }
    if (maskedCrc(out.tail(), n) != want_crc) return corrupt("snappy", "checksum mismatch");
    out.commit(n);
  }
  return out.take();
}

}  // namespace

bool isSupportedEncoding(std::string_view e) {
  return e.empty() || e == "identity" || e == "gzip" || e == "deflate" || e == "zlib" ||
         e == "zstd" || e == "snappy";
}

bool isDecompressLimitError(const absl::Status& err) {
  if (err.code() != absl::StatusCode::kResourceExhausted) return false;
  const auto msg = err.message();
  return std::string_view(msg.data(), msg.size()).starts_with(kLimitPrefix);
}

bool isDecompressMemoryError(const absl::Status& err) {
  if (err.code() != absl::StatusCode::kResourceExhausted) return false;
  const auto msg = err.message();
  return std::string_view(msg.data(), msg.size()).starts_with(kMemoryPrefix);
}

absl::StatusOr<std::string> decompress(std::string_view encoding, std::string_view body,
                                       size_t max_output, MemoryBudget* budget,
                                       MemoryReservation* charge) {
  if (!isSupportedEncoding(encoding)) {
    return absl::InvalidArgumentError(strCat("unsupported Content-Encoding: ", encoding));
  }
  Charger charger(budget);
  absl::StatusOr<std::string> out;
  if (encoding.empty() || encoding == "identity") {
    if (body.size() > max_output) return limitError(max_output);
    if (!charger.add(body.size())) return memoryError();
    out = std::string(body);
  } else if (body.empty()) {
    out = std::string();
  } else if (encoding == "gzip") {
    out = inflateBody(ZFormat::kGzip, "gzip", body, max_output, &charger);
  } else if (encoding == "zlib") {
    out = inflateBody(ZFormat::kZlib, "zlib", body, max_output, &charger);
  } else if (encoding == "deflate") {
    out = inflateBody(hasZlibHeader(body) ? ZFormat::kZlib : ZFormat::kRaw, "deflate", body,
                      max_output, &charger);
  } else if (encoding == "zstd") {
    out = zstdBody(body, max_output, &charger);
  } else if (body.starts_with(kSnappyStreamId)) {
    out = snappyFramed(body, max_output, &charger);
  } else {
    out = snappyBlock(body, max_output, &charger);
  }
  if (out.ok() && charge != nullptr) *charge = charger.take();
  return out;
}

absl::StatusOr<std::string> decompress(std::string_view encoding, std::string_view body,
                                       size_t max_output) {
  return decompress(encoding, body, max_output, nullptr, nullptr);
}

namespace {

absl::StatusOr<std::string> deflateBody(std::string_view data, int wbits, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level == 0 ? Z_DEFAULT_COMPRESSION : level, Z_DEFLATED, wbits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InvalidArgumentError(strCat("deflateInit2 failed for level ", level));
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, deflateEnd);
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(std::min<size_t>(data.size(), ULONG_MAX))) + 64);
  size_t produced = 0;
  auto* in = reinterpret_cast<const Bytef*>(data.data());
  size_t in_left = data.size();
  for (;;) {
    const uInt feed = static_cast<uInt>(std::min<size_t>(in_left, 1u << 30));
    zs.next_in = const_cast<Bytef*>(in);
    zs.avail_in = feed;
    if (produced == out.size()) out.resize(out.size() * 2);
    const size_t room = std::min<size_t>(out.size() - produced, 1u << 30);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(room);
    const int flush = in_left == feed ? Z_FINISH : Z_NO_FLUSH;
    const int rc = deflate(&zs, flush);
    in += feed - zs.avail_in;
    in_left -= feed - zs.avail_in;
    produced += room - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) return absl::InternalError("deflate failed");
  }
  out.resize(produced);
  return out;
}

}  // namespace

absl::StatusOr<std::string> compress(std::string_view encoding, std::string_view data, int level) {
  if (encoding.empty() || encoding == "identity") return std::string(data);
  if (encoding == "gzip") return deflateBody(data, 15 + 16, level);
  if (encoding == "zlib" || encoding == "deflate") return deflateBody(data, 15, level);
  if (encoding == "zstd") {
    std::string out;
    out.resize(ZSTD_compressBound(data.size()));
    const size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(),
                                   level == 0 ? ZSTD_CLEVEL_DEFAULT : level);
    if (ZSTD_isError(n)) return absl::InternalError(strCat("zstd: ", ZSTD_getErrorName(n)));
    out.resize(n);
    return out;
  }
  if (encoding == "snappy") {
    std::string out;
    snappy::Compress(data.data(), data.size(), &out);
    return out;
  }
  return absl::InvalidArgumentError(strCat("unsupported Content-Encoding: ", encoding));
}

std::string compressSnappyFramed(std::string_view data) {
  std::string out(kSnappyStreamId);
  std::string block;
  do {
    const std::string_view piece = data.substr(0, kSnappyMaxFrameBlock);
    data.remove_prefix(piece.size());
    snappy::Compress(piece.data(), piece.size(), &block);
    const uint32_t crc = maskedCrc(piece.data(), piece.size());
    const bool use_compressed = block.size() < piece.size();
    const size_t len = 4 + (use_compressed ? block.size() : piece.size());
    out.push_back(use_compressed ? '\x00' : '\x01');
    out.push_back(static_cast<char>(len & 0xff));
    out.push_back(static_cast<char>((len >> 8) & 0xff));
    out.push_back(static_cast<char>((len >> 16) & 0xff));
    putLe32(out, crc);
    if (use_compressed) {
      out.append(block);
    } else {
      out.append(piece.data(), piece.size());
    }
  } while (!data.empty());
  return out;
}

}  // namespace telegate
