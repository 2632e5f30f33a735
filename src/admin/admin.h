// The admin HTTP server on --server.http.listen-addr (default 127.0.0.1:12345).
//
// Contract: serves, without authentication (bind it to a trusted network):
//   GET  /-/ready      200 "telegate is ready." once the first configuration load completed and
//                      the components were started; 503 before.
//   GET  /-/healthy    200 when no component is unhealthy; else 500 with
//                      "unhealthy components: <type>, <type>" followed by one line per component
//                      "<id>: <message>".
//   GET  /metrics      Prometheus text format 0.0.4 of the process registry.
//   GET|POST /-/reload re-reads the configuration; 200 "config reloaded" or 400 with the
//                      diagnostics (the old configuration keeps running).
//   GET  /api/v0/web/components[/<id>]  JSON: components with arguments (secrets shown as
//                      "(secret)"), exports, health, references.
//   GET  /             a small HTML status page.
// The server runs on its own thread; handlers only read controller snapshots, except reload,
// which calls the supplied reload function (serialised by the controller).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "src/common/metrics.h"
#include "src/net/http_server.h"
#include "src/runtime/controller.h"

namespace telegate::admin {

struct ReloadOutcome {
  bool ok = false;
  std::string message;  // diagnostics when !ok
};

class AdminServer {
 public:
  AdminServer(std::string listen_addr, runtime::Controller& controller, metrics::Registry& registry,
              std::function<ReloadOutcome()> reload);
  ~AdminServer();
  absl::Status start();
  void stop();
  std::string boundAddress() const;
  // Set once the first load has completed and components were started.
  void setReady(bool ready) { ready_.store(ready); }

  // Exposed for tests: answers one request without a network round trip.
  net::HttpResponse handle(const net::HttpRequest& req);

 private:
  net::HttpResponse components(const std::string& id);
  net::HttpResponse healthy();
  net::HttpResponse indexPage();

  runtime::Controller& controller_;
  metrics::Registry& registry_;
  std::function<ReloadOutcome()> reload_;
  std::unique_ptr<net::HttpServer> server_;
  std::atomic<bool> ready_{false};
};

}  // namespace telegate::admin
