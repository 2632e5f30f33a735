// Registration of every component telegate knows.
//
// Contract: registerAll() adds each component to runtime::Registry::global() exactly once; it is
// idempotent and must run before the first configuration load. One line per component in all.cc.
#pragma once

namespace telegate::components {

void registerAll();

// Per-component registration functions (defined beside each component).
void registerOtelcolAuthBearer();
void registerOtelcolAuthClientCertificate();
void registerOtelcolReceiverOtlp();
void registerOtelcolProcessorBatch();
void registerOtelcolExporterOtlp();
void registerOtelcolExporterOtlphttp();
void registerOtelcolExporterLoki();
void registerOtelcolExporterFile();
void registerOtelcolExporterDebug();
void registerOtelcolExporterDiscard();
void registerOtelcolExporterPrometheus();
void registerLokiWrite();
void registerLokiSourceKubernetes();
void registerLokiSourceFile();
void registerLokiProcess();
void registerPrometheusScrape();
void registerPrometheusRemoteWrite();
void registerDiscoveryKubernetes();
void registerDiscoveryRelabel();

}  // namespace telegate::components
