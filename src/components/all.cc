#include "src/components/all.h"

#include <mutex>

namespace telegate::components {

void registerAll() {
  static std::once_flag once;
  std::call_once(once, [] {
    registerDiscoveryKubernetes();
    registerDiscoveryRelabel();
    registerLokiProcess();
    registerLokiSourceFile();
    registerLokiSourceKubernetes();
    registerLokiWrite();
    registerOtelcolAuthBearer();
    registerOtelcolAuthClientCertificate();
    registerOtelcolExporterDebug();
    registerOtelcolExporterDiscard();
    registerOtelcolExporterFile();
    registerOtelcolExporterLoki();
    registerOtelcolExporterOtlp();
    registerOtelcolExporterOtlphttp();
    registerOtelcolExporterPrometheus();
    registerOtelcolProcessorBatch();
    registerOtelcolReceiverOtlp();
    registerPrometheusRemoteWrite();
    registerPrometheusScrape();
  });
}

}  // namespace telegate::components
