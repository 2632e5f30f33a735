// otelcol.exporter.debug: logs a sampled summary of each batch (see debug.h for the contract).
//
// Contract: consume() never fails and never blocks on anything but a short mutex; it counts items
// in telegate_exporter_sent_items_total{component_id,signal}. At most `sampling_initial` lines per
// second plus every `sampling_thereafter`-th batch after that are written; "detailed" output is
// capped at 64 KiB of OTLP/JSON per line so one huge batch cannot flood the log either.
#include "src/components/otelcol/exporter/debug/debug.h"

#include <unistd.h>
#include <cstdio>

#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/pdata/otlp_json.h"
#include "src/pdata/wire.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::exporter_debug {

void Arguments::describe(Schema<Arguments>& s) {
  s.attr("verbosity", &Arguments::verbosity).doc("basic, normal or detailed");
  s.attr("sampling_initial", &Arguments::sampling_initial)
      .doc("batches logged per second before sampling starts");
  s.attr("sampling_thereafter", &Arguments::sampling_thereafter)
      .doc("after sampling_initial, log every Nth batch in the same second (0: none)");
  s.attr("use_internal_logger", &Arguments::use_internal_logger)
      .doc("log through telegate's logger; false writes plain lines to stdout");
}

absl::Status Arguments::validate() const {
  if (verbosity != "basic" && verbosity != "normal" && verbosity != "detailed") {
    return absl::InvalidArgumentError(
        strCat("verbosity must be \"basic\", \"normal\" or \"detailed\", got \"", verbosity, "\""));
  }
  if (sampling_initial < 0) return absl::InvalidArgumentError("sampling_initial must be >= 0");
  if (sampling_thereafter < 0) {
    return absl::InvalidArgumentError("sampling_thereafter must be >= 0");
  }
  return absl::OkStatus();
}

namespace {

// logfmt-style quoting for the stdout line.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

void writeStdout(std::string_view line) {
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(STDOUT_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

uint64_t countResources(std::string_view wire) {
  uint64_t count = 0;
  size_t pos = 0;
  pdata::wire::Field f;
  while (pos < wire.size() && pdata::wire::readField(wire, &pos, &f) == pdata::wire::Status::kOk) {
    if (f.number == 1 && f.wire_type == pdata::wire::kLen) ++count;
  }
  return count;
}

DebugConsumer::DebugConsumer(std::string id, const log::Logger& logger, metrics::Registry& m)
    : id_(std::move(id)), logger_(logger), stdout_sink_(writeStdout), now_(Clock::now) {
  auto& fam = m.counter("telegate_exporter_sent_items_total",
                        "Items (spans, data points, log records) an exporter delivered.",
                        {"component_id", "signal"});
  for (auto s : {pdata::Signal::kTraces, pdata::Signal::kMetrics, pdata::Signal::kLogs}) {
    counters_[static_cast<size_t>(s)] = &fam.with({id_, std::string(pdata::signalName(s))});
  }
}

void DebugConsumer::configure(const Arguments& args) {
  std::lock_guard<std::mutex> l(mu_);
  args_ = args;
}

bool DebugConsumer::sample() {
  // Caller holds mu_.
  auto now = now_();
  if (now - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now;
    window_count_ = 0;
  }
  int64_t n = ++window_count_;
  if (n <= args_.sampling_initial) return true;
  return args_.sampling_thereafter > 0 &&
         (n - args_.sampling_initial) % args_.sampling_thereafter == 0;
}

absl::Status DebugConsumer::consume(pdata::Batch&& batch) {
  counters_[static_cast<size_t>(batch.signal)]->inc(static_cast<double>(batch.items));
  Arguments args;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!sample()) return absl::OkStatus();
    args = args_;
  }
  std::string signal(pdata::signalName(batch.signal));
  std::string items = std::to_string(batch.items);
  std::string resources, data;
  bool truncated = false;
  if (args.verbosity != "basic") resources = std::to_string(countResources(batch.payload));
  if (args.verbosity == "detailed") {
    auto json = pdata::toOtlpJson(batch.signal, batch.payload);
    data = json.ok() ? std::move(*json) : strCat("(undecodable: ", json.status().message(), ")");
    if (data.size() > kMaxDetailedBytes) {
      data.resize(kMaxDetailedBytes);
      truncated = true;
    }
  }
  if (!args.use_internal_logger) {
    std::string line = strCat("msg=", quote("debug exporter"), " component_id=", id_,
                              " signal=", signal, " items=", items);
    if (!resources.empty()) strAppend(&line, " resources=", resources);
    if (args.verbosity == "detailed") {
      strAppend(&line, " data=", quote(data));
      if (truncated) strAppend(&line, " truncated=true");
    }
    line += '\n';
    stdout_sink_(line);
    return absl::OkStatus();
  }
  if (args.verbosity == "basic") {
    logger_.info("debug exporter", {{"signal", signal}, {"items", items}});
  } else if (args.verbosity == "normal") {
    logger_.info("debug exporter",
                 {{"signal", signal}, {"items", items}, {"resources", resources}});
  } else if (truncated) {
    logger_.info("debug exporter", {{"signal", signal},
                                    {"items", items},
                                    {"resources", resources},
                                    {"data", std::move(data)},
                                    {"truncated", "true"}});
  } else {
    logger_.info("debug exporter", {{"signal", signal},
                                    {"items", items},
                                    {"resources", resources},
                                    {"data", std::move(data)}});
  }
  return absl::OkStatus();
}

namespace {

class Component : public runtime::TypedComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments& args)
      : consumer_(std::make_shared<DebugConsumer>(host.id(), host.logger(), host.metrics())) {
    consumer_->configure(args);
    host.setExports({{"input", syntax::Value::capsule(consumer_)}});
  }
  absl::Status update(const Arguments& args) override {
    consumer_->configure(args);
    return absl::OkStatus();
  }

 private:
  std::shared_ptr<DebugConsumer> consumer_;
};

}  // namespace

}  // namespace telegate::otelcol::exporter_debug

namespace telegate::components {
void registerOtelcolExporterDebug() {
  runtime::registerComponent<otelcol::exporter_debug::Component>(
      "otelcol.exporter.debug", "Logs a sampled summary of the telemetry it receives.",
      {{"input", "capsule(otelcol.Consumer)", "where to send data to be logged"}});
}
}  // namespace telegate::components
