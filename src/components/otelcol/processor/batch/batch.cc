// otelcol.processor.batch: groups data before export. Arguments follow Alloy's schema and
// defaults; in this build the processor validates its configuration, exports its `input` handle
// and reports itself unhealthy (batching arrives with the exporter work).
#include "absl/strings/str_cat.h"
#include "src/components/all.h"
#include "src/components/common/pending.h"
#include "src/components/otelcol/config.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::processor_batch {

struct Arguments {
  Duration timeout{200ms};
  int64_t send_batch_size = 2000;
  int64_t send_batch_max_size = 3000;
  std::vector<std::string> metadata_keys;
  int64_t metadata_cardinality_limit = 1000;
  OutputBlock output;
  static void describe(Schema<Arguments>& s) {
    s.attr("timeout", &Arguments::timeout).doc("send what is pending after this long");
    s.attr("send_batch_size", &Arguments::send_batch_size).doc("items that trigger a send");
    s.attr("send_batch_max_size", &Arguments::send_batch_max_size).doc("upper bound of a batch");
    s.attr("metadata_keys", &Arguments::metadata_keys).doc("batch separately per these keys");
    s.attr("metadata_cardinality_limit", &Arguments::metadata_cardinality_limit);
    s.block("output", &Arguments::output).required();
  }
  absl::Status validate() const {
    if (send_batch_size < 0 || send_batch_max_size < 0) {
      return absl::InvalidArgumentError("batch sizes must not be negative");
    }
    if (send_batch_max_size != 0 && send_batch_max_size < send_batch_size) {
      return absl::InvalidArgumentError(
          "send_batch_max_size must be greater or equal to send_batch_size when not 0");
    }
    return absl::OkStatus();
  }
};

class Component : public components::PendingComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments&)
      : PendingComponent(host,
                         "otelcol.processor.batch: batching is not part of this build; data "
                         "sent to its input is refused with UNAVAILABLE") {
    host.setExports({{"input", syntax::Value::capsule(std::make_shared<components::RefusingConsumer>(
                                   host.id() + ".input"))}});
  }
};

}  // namespace telegate::otelcol::processor_batch

namespace telegate::components {
void registerOtelcolProcessorBatch() {
  runtime::registerComponent<otelcol::processor_batch::Component>(
      "otelcol.processor.batch", "Batches telemetry before it is exported.",
      {{"input", "capsule(otelcol.Consumer)", "where to send data to be batched"}});
}
}  // namespace telegate::components
