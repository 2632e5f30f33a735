// Micro-benchmarks of the protobuf wire codec (src/pdata/wire.h): writing and reading varints
// of a given encoded length (1, 2, 5 and 10 bytes), and reading a message of length-delimited
// and varint fields with readField(). Reports bytes per second, so the figures compare across
// lengths.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "src/pdata/wire.h"

namespace telegate::pdata::wire {
namespace {

constexpr int kValues = 4096;

// kValues values whose varints take `bytes` bytes each.
std::vector<uint64_t> valuesOfLength(int bytes) {
  const uint64_t lo = bytes == 1 ? 0 : uint64_t{1} << (7 * (bytes - 1));
  const uint64_t span = bytes == 10 ? uint64_t{1} << 63 : (uint64_t{1} << (7 * bytes)) - lo;
  std::vector<uint64_t> v(kValues);
  for (int i = 0; i < kValues; ++i) v[i] = lo + (static_cast<uint64_t>(i) * 7919) % span;
  return v;
}

void BM_AppendVarint(benchmark::State& state) {
  const auto values = valuesOfLength(static_cast<int>(state.range(0)));
  std::string out;
  out.reserve(kValues * kMaxVarintBytes);
  for (auto _ : state) {
    out.clear();
    for (uint64_t v : values) appendVarint(&out, v);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(out.size()));
}
BENCHMARK(BM_AppendVarint)->Arg(1)->Arg(2)->Arg(5)->Arg(10);

void BM_ReadVarint(benchmark::State& state) {
  std::string in;
  for (uint64_t v : valuesOfLength(static_cast<int>(state.range(0)))) appendVarint(&in, v);
  const auto* begin = reinterpret_cast<const uint8_t*>(in.data());
  const uint8_t* end = begin + in.size();
  for (auto _ : state) {
    uint64_t sum = 0;
    const uint8_t* p = begin;
    while (p < end) {
      uint64_t v;
      if (readVarint(p, end, &v) != Status::kOk) {
        state.SkipWithError("bad varint");
        break;
      }
      sum += v;
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(in.size()));
}
BENCHMARK(BM_ReadVarint)->Arg(1)->Arg(2)->Arg(5)->Arg(10);

// A log-record-like message: a timestamp (fixed64), a severity (varint), a body string and
// three attributes (length-delimited), repeated.
void BM_ReadFields(benchmark::State& state) {
  std::string msg;
  for (int i = 0; i < 256; ++i) {
    appendTag(&msg, 1, kI64);
    appendFixed64(&msg, 1700000000000000000ull + static_cast<uint64_t>(i));
    appendTag(&msg, 2, kVarint);
    appendVarint(&msg, 9);
    appendLenField(&msg, 5, std::string(80 + i % 40, 'x'));
    for (int a = 0; a < 3; ++a) appendLenField(&msg, 6, "key\x12\x05value");
  }
  for (auto _ : state) {
    size_t pos = 0;
    uint64_t n = 0;
    Field f;
    while (pos < msg.size()) {
      if (readField(msg, &pos, &f) != Status::kOk) {
        state.SkipWithError("bad field");
        break;
      }
      n += f.number;
    }
    benchmark::DoNotOptimize(n);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(msg.size()));
}
BENCHMARK(BM_ReadFields);

}  // namespace
}  // namespace telegate::pdata::wire

BENCHMARK_MAIN();
