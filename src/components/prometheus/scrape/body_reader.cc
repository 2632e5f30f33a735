// prometheus.scrape: streaming body reader (see body_reader.h).
#include "src/components/prometheus/scrape/body_reader.h"

#include <zlib.h>

#include "src/common/strings.h"

namespace telegate::prometheus::scrape {

struct BodyReader::Inflater {
  z_stream z{};
  bool initialized = false;
  bool member_done = false;  // the last member ended; more input starts another one
  bool any_input = false;
  std::unique_ptr<char[]> out;
  ~Inflater() {
    if (initialized) inflateEnd(&z);
  }
};

BodyReader::BodyReader(size_t limit, ScrapeCharge* charge, ExpositionParser* parser,
                       ExpositionVisitor* visitor)
    : limit_(limit), charge_(charge), parser_(parser), visitor_(visitor) {}

BodyReader::~BodyReader() = default;

absl::Status BodyReader::fail(std::string_view reason, std::string message) {
  reason_ = std::string(reason);
  return absl::ResourceExhaustedError(std::move(message));
}

absl::Status BodyReader::begin(std::string_view content_encoding) {
  if (content_encoding != "gzip") return absl::OkStatus();
  if (charge_ != nullptr && !charge_->add(kInflateState + kInflateBuffer)) {
    return fail("memory_budget",
                "memory budget exhausted: no room to decompress the body (--memory.limit)");
  }
  gz_ = std::make_unique<Inflater>();
  gz_->out = std::make_unique<char[]>(kInflateBuffer);
  if (inflateInit2(&gz_->z, 16 + MAX_WBITS) != Z_OK) {  // gzip wrapper only
    reason_ = "parse";
    return absl::InternalError("gzip: cannot initialize the decompressor");
  }
  gz_->initialized = true;
  return absl::OkStatus();
}

absl::Status BodyReader::parse(std::string_view decoded) {
  if (decoded.empty()) return absl::OkStatus();
  if (decoded.size() > limit_ - decoded_) {
    decoded_ = limit_ + 1;
    return fail("body_size", strCat("body size limit exceeded (limit: ", limit_, " bytes)"));
  }
  decoded_ += decoded.size();
  if (parser_->done()) return absl::OkStatus();  // after "# EOF"
  return parser_->feed(decoded, *visitor_);
}

absl::Status BodyReader::inflateSome(std::string_view piece) {
  z_stream& z = gz_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(piece.data()));
  z.avail_in = static_cast<uInt>(piece.size());
  gz_->any_input = gz_->any_input || !piece.empty();
  while (true) {
    if (gz_->member_done) {
      if (z.avail_in == 0) return absl::OkStatus();
      inflateReset(&z);  // a further gzip member
      gz_->member_done = false;
    }
    z.next_out = reinterpret_cast<Bytef*>(gz_->out.get());
    z.avail_out = static_cast<uInt>(kInflateBuffer);
    const int rc = inflate(&z, Z_NO_FLUSH);
    const size_t produced = kInflateBuffer - z.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      reason_ = "parse";
      return absl::InvalidArgumentError(
          strCat("gzip: ", z.msg != nullptr ? z.msg : "corrupt stream"));
    }
    absl::Status st = parse(std::string_view(gz_->out.get(), produced));
    if (!st.ok()) return st;
    if (rc == Z_STREAM_END) {
      gz_->member_done = true;
      continue;
    }
    // More output may be pending only when the buffer was filled.
    if (z.avail_in == 0 && z.avail_out != 0) return absl::OkStatus();
    if (rc == Z_BUF_ERROR && produced == 0) return absl::OkStatus();
  }
}

absl::Status BodyReader::feed(std::string_view piece) {
  if (piece.size() > limit_ - std::min(raw_, limit_)) {
    return fail("body_size", strCat("body size limit exceeded (limit: ", limit_, " bytes)"));
  }
  raw_ += piece.size();
  if (gz_ == nullptr) return parse(piece);
  // zlib takes at most 4 GiB per call.
  while (!piece.empty()) {
    const size_t n = std::min<size_t>(piece.size(), 1u << 30);
    absl::Status st = inflateSome(piece.substr(0, n));
    if (!st.ok()) return st;
    piece.remove_prefix(n);
  }
  return absl::OkStatus();
}

absl::Status BodyReader::finish() {
  if (gz_ != nullptr && gz_->any_input && !gz_->member_done) {
    reason_ = "parse";
    return absl::InvalidArgumentError("gzip: unexpected end of the compressed body");
  }
  return parser_->finish(*visitor_);
}

}  // namespace telegate::prometheus::scrape
