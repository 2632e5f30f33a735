// otelcol.exporter.loki: converts OTLP logs to Loki entries for loki.* receivers. Arguments follow
// Alloy's schema; in this build it validates its configuration, exports `input` and reports
// itself unhealthy (the conversion arrives with the exporter work).
#include "src/components/all.h"
#include "src/components/common/pending.h"
#include "src/components/loki/api.h"
#include "src/components/otelcol/config.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::exporter_loki {

struct Arguments {
  std::vector<CapsuleRef<loki::LogsReceiver>> forward_to;
  static void describe(Schema<Arguments>& s) {
    s.attr("forward_to", &Arguments::forward_to).required().doc("Loki receivers to send to");
  }
};

class Component : public components::PendingComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments&)
      : PendingComponent(host,
                         "otelcol.exporter.loki: OTLP-to-Loki conversion is not part of this "
                         "build; data sent to its input is refused with UNAVAILABLE") {
    host.setExports({{"input", syntax::Value::capsule(std::make_shared<components::RefusingConsumer>(
                                   host.id() + ".input"))}});
  }
};

}  // namespace telegate::otelcol::exporter_loki

namespace telegate::components {
void registerOtelcolExporterLoki() {
  runtime::registerComponent<otelcol::exporter_loki::Component>(
      "otelcol.exporter.loki", "Converts OTLP logs to Loki entries.",
      {{"input", "capsule(otelcol.Consumer)", "where to send logs to be converted"}});
}
}  // namespace telegate::components
