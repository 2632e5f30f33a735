// otelcol.exporter.file: writes every batch it receives to local files.
//
// Contract: exports `input` (capsule otelcol.Consumer) accepting all three signals. Each batch is
// appended to <directory>/<signal>.jsonl as one OTLP/JSON request per line ("json" format), or to
// <directory>/<signal>.binpb as a 4-byte big-endian length followed by the protobuf request
// ("proto" format). The write completes before consume() returns OK, so an acknowledged batch is
// in the file (flushed to the OS; `fsync = true` also syncs to disk). When a file would exceed
// max_file_size it is renamed to <name>.1 (replacing an older one) and a new file is started.
// consume() is thread-safe; writes of one signal are serialised by a per-signal mutex.
// This is telegate's own component (used by examples/local.alloy); Alloy has no equivalent.
#pragma once

#include <array>
#include <cstdio>
#include <mutex>
#include <string>

#include "src/components/otelcol/config.h"
#include "src/runtime/component.h"

namespace telegate::otelcol::exporter_file {

struct Arguments {
  std::string directory;  // empty: the component's data directory under --storage.path
  std::string format = "json";
  ByteSize max_file_size{100 << 20};
  bool fsync = false;
  static void describe(Schema<Arguments>& s);
  absl::Status validate() const;
};

class FileConsumer : public Consumer {
 public:
  FileConsumer(std::string id, metrics::Registry& metrics);
  ~FileConsumer() override;
  void configure(const Arguments& args, const std::string& default_dir);
  bool acceptsSignal(pdata::Signal) const override { return true; }
  absl::Status consume(pdata::Batch&& batch) override;
  std::string describe() const override { return id_ + ".input"; }
  void closeAll();

 private:
  struct Sink {
    std::mutex mu;
    FILE* file = nullptr;
    std::string path;
    uint64_t size = 0;
  };
  absl::Status openLocked(Sink& s);
  std::string id_;
  std::mutex config_mu_;
  std::string directory_;
  std::string format_ = "json";
  uint64_t max_size_ = 0;
  bool fsync_ = false;
  std::array<Sink, 3> sinks_;
  metrics::Family<metrics::Counter>* written_;
  metrics::Family<metrics::Counter>* failed_;
};

class Component : public runtime::TypedComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments& args);
  absl::Status update(const Arguments& args) override;
  void shutdown(std::chrono::steady_clock::time_point deadline) override;

 private:
  runtime::Host& host_;
  std::shared_ptr<FileConsumer> consumer_;
};

}  // namespace telegate::otelcol::exporter_file
