// telegate_payload_gen: writes a realistic OTLP request body for load generators.
//
//   telegate_payload_gen --signal logs|traces|metrics --items N --format proto|json|gzip|grpc
//                        --out FILE
// proto: Export*ServiceRequest protobuf; json: OTLP/JSON; gzip: gzip-compressed protobuf;
// grpc: a gRPC length-prefixed message (uncompressed), as h2load sends it with -d.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "bench/otlp_payloads.h"
#include "src/common/decompress.h"
#include "src/pdata/otlp_json.h"

int main(int argc, char** argv) {
  std::string signal = "logs", format = "proto", out;
  int items = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--signal") {
      signal = v;
    } else if (k == "--items") {
      items = std::stoi(v);
    } else if (k == "--format") {
      format = v;
    } else if (k == "--out") {
      out = v;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  telegate::pdata::Signal s = signal == "traces"    ? telegate::pdata::Signal::kTraces
                              : signal == "metrics" ? telegate::pdata::Signal::kMetrics
                                                    : telegate::pdata::Signal::kLogs;
  std::string body = telegate::bench::makeRequest(s, items, 42);
  if (format == "json") {
    auto j = telegate::pdata::toOtlpJson(s, body);
    if (!j.ok()) return 1;
    body = *j;
  } else if (format == "gzip") {
    auto z = telegate::compress("gzip", body);
    if (!z.ok()) return 1;
    body = *z;
  } else if (format == "grpc") {
    uint32_t n = static_cast<uint32_t>(body.size());
    char hdr[5] = {0, static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                   static_cast<char>(n >> 8), static_cast<char>(n)};
    body = std::string(hdr, 5) + body;
  } else if (format != "proto") {
    std::fprintf(stderr, "unknown format %s\n", format.c_str());
    return 2;
  }
  std::ofstream o(out, std::ios::binary);
  o << body;
  return o ? 0 : 1;
}
