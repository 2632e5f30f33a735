#include "src/components/otelcol/exporter/file/file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/pdata/otlp_json.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::exporter_file {

void Arguments::describe(Schema<Arguments>& s) {
  s.attr("directory", &Arguments::directory)
      .doc("where files are written; default <storage.path>/<component id>");
  s.attr("format", &Arguments::format).doc("json (OTLP/JSON lines) or proto (length-prefixed)");
  s.attr("max_file_size", &Arguments::max_file_size).doc("rotate to <file>.1 beyond this size");
  s.attr("fsync", &Arguments::fsync).doc("fsync after every batch");
}

absl::Status Arguments::validate() const {
  if (format != "json" && format != "proto") {
    return absl::InvalidArgumentError(
        strCat("format must be \"json\" or \"proto\", got \"", format, "\""));
  }
  if (max_file_size.bytes < 1024) {
    return absl::InvalidArgumentError("max_file_size must be at least 1KiB");
  }
  return absl::OkStatus();
}

FileConsumer::FileConsumer(std::string id, metrics::Registry& metrics) : id_(std::move(id)) {
  written_ = &metrics.counter("telegate_exporter_sent_items_total",
                              "Items (spans, data points, log records) an exporter delivered.",
                              {"component_id", "signal"});
  failed_ = &metrics.counter("telegate_exporter_send_failed_items_total",
                             "Items an exporter failed to deliver.",
                             {"component_id", "signal", "reason"});
}

FileConsumer::~FileConsumer() {
  closeAll();
}

void FileConsumer::configure(const Arguments& args, const std::string& default_dir) {
  std::lock_guard<std::mutex> l(config_mu_);
  std::string dir = args.directory.empty() ? default_dir : args.directory;
  bool reopen = dir != directory_ || args.format != format_;
  directory_ = dir;
  format_ = args.format;
  max_size_ = args.max_file_size.bytes;
  fsync_ = args.fsync;
  if (reopen) closeAll();
}

void FileConsumer::closeAll() {
  for (auto& s : sinks_) {
    std::lock_guard<std::mutex> l(s.mu);
    if (s.file != nullptr) std::fclose(s.file);
    s.file = nullptr;
  }
}

absl::Status FileConsumer::openLocked(Sink& s) {
  if (s.file != nullptr) return absl::OkStatus();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(s.path).parent_path(), ec);
  s.file = std::fopen(s.path.c_str(), "ab");
  if (s.file == nullptr) {
    return absl::UnavailableError(strCat("open ", s.path, ": ", std::strerror(errno)));
  }
  std::error_code sec;
  auto size = std::filesystem::file_size(s.path, sec);
  s.size = sec ? 0 : size;
  return absl::OkStatus();
}

absl::Status FileConsumer::consume(pdata::Batch&& batch) {
  std::string dir, format;
  uint64_t max_size;
  bool do_fsync;
  {
    std::lock_guard<std::mutex> l(config_mu_);
    dir = directory_;
    format = format_;
    max_size = max_size_;
    do_fsync = fsync_;
  }
  const std::string signal(pdata::signalName(batch.signal));
  std::string record;
  if (format == "json") {
    auto json = pdata::toOtlpJson(batch.signal, batch.payload);
    if (!json.ok()) {
      failed_->with({id_, signal, "malformed"}).inc(static_cast<double>(batch.items));
      return json.status();
    }
    record = std::move(*json);
    record.push_back('\n');
  } else {
    uint32_t n = static_cast<uint32_t>(batch.payload.size());
    char len[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                   static_cast<char>(n >> 8), static_cast<char>(n)};
    record.assign(len, 4);
    record.append(batch.payload);
  }
  Sink& s = sinks_[static_cast<size_t>(batch.signal)];
  std::lock_guard<std::mutex> l(s.mu);
  std::string path =
      (std::filesystem::path(dir) / (signal + (format == "json" ? ".jsonl" : ".binpb"))).string();
  if (s.path != path && s.file != nullptr) {
    std::fclose(s.file);
    s.file = nullptr;
  }
  s.path = path;
  if (auto st = openLocked(s); !st.ok()) {
    failed_->with({id_, signal, "io"}).inc(static_cast<double>(batch.items));
    return st;
  }
  if (s.size > 0 && s.size + record.size() > max_size) {
    std::fclose(s.file);
    s.file = nullptr;
    std::error_code ec;
    std::filesystem::rename(s.path, s.path + ".1", ec);
    if (auto st = openLocked(s); !st.ok()) {
      failed_->with({id_, signal, "io"}).inc(static_cast<double>(batch.items));
      return st;
    }
  }
  if (std::fwrite(record.data(), 1, record.size(), s.file) != record.size() ||
      std::fflush(s.file) != 0 || (do_fsync && ::fsync(::fileno(s.file)) != 0)) {
    int err = errno;
    std::fclose(s.file);
    s.file = nullptr;
    failed_->with({id_, signal, "io"}).inc(static_cast<double>(batch.items));
    return absl::UnavailableError(strCat("write ", s.path, ": ", std::strerror(err)));
  }
  s.size += record.size();
  written_->with({id_, signal}).inc(static_cast<double>(batch.items));
  return absl::OkStatus();
}

Component::Component(runtime::Host& host, const Arguments& args)
    : host_(host), consumer_(std::make_shared<FileConsumer>(host.id(), host.metrics())) {
  consumer_->configure(args, host.dataPath());
  host_.setExports({{"input", syntax::Value::capsule(consumer_)}});
}

absl::Status Component::update(const Arguments& args) {
  consumer_->configure(args, host_.dataPath());
  return absl::OkStatus();
}

void Component::shutdown(std::chrono::steady_clock::time_point) {
  consumer_->closeAll();
}

}  // namespace telegate::otelcol::exporter_file

namespace telegate::components {
void registerOtelcolExporterFile() {
  runtime::registerComponent<otelcol::exporter_file::Component>(
      "otelcol.exporter.file", "Writes telemetry to local files (OTLP/JSON lines).",
      {{"input", "capsule(otelcol.Consumer)", "where to send data to be written"}});
}
}  // namespace telegate::components
