// Test helpers shared by the batch processor's unit tests (not part of the component).
//
// Contract: logs(n, tenant, svc) is a logs batch of n records ("line 0", "line 1", ...) under one
// resource (service.name = svc) and one scope, with its wire payload, item count and a client
// whose tenant is `tenant`. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "src/pdata/batch.h"

namespace telegate::otelcol::processor_batch::testing_support {

inline pdata::Batch logs(uint64_t n, const std::string& tenant = "",
                         const std::string& svc = "svc") {
  opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest req;
  auto* rl = req.add_resource_logs();
  auto* kv = rl->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value(svc);
  auto* sl = rl->add_scope_logs();
  sl->mutable_scope()->set_name("scope");
  for (uint64_t i = 0; i < n; ++i) {
    sl->add_log_records()->mutable_body()->set_string_value("line " + std::to_string(i));
  }
  pdata::Batch b;
  b.signal = pdata::Signal::kLogs;
  b.payload = req.SerializeAsString();
  b.items = n;
  auto client = std::make_shared<pdata::ClientInfo>();
  client->tenant = tenant;
  b.client = client;
  return b;
}

}  // namespace telegate::otelcol::processor_batch::testing_support
