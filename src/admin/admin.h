// The admin HTTP server on --server.http.listen-addr (default 127.0.0.1:12345).
//
// Contract: serves
//   GET  /-/ready      200 "telegate is ready." once the first configuration load completed and
//                      the components were started; 503 before.
//   GET  /-/healthy    200 when no component is unhealthy; else 500 with
//                      "unhealthy components: <type>, <type>" followed by one line per component
//                      "<id>: <message>".
//   GET  /metrics      Prometheus text format 0.0.4 of the process registry.
//   POST /-/reload     re-reads the configuration; 200 "config reloaded" or 400 with the
//                      diagnostics (the old configuration keeps running). Other methods: 405.
//   GET  /api/v0/web/components[/<id>]  JSON: components with arguments (secrets shown as
//                      "(secret)"), exports, health, references.
//   GET  /             a small HTML status page.
// Every request is judged at its headers (net::HttpServerOptions::header_check, before any body
// byte is read) by checkHead() (src/admin/access.h) with the policy of the root `http` block
// last applied by setHttpConfig(): basic authentication per its filter, the method and the body
// rules; a refused request gets its status without any body byte being read (the connection is
// closed when it announced a body). Until the first
// setHttpConfig() (the first configuration load), only the probes are answered; other paths get 503
// with Retry-After, so nothing is served before the configured access control is known. Refusals
// are counted in telegate_admin_refused_requests_total{reason} and logged at most once a minute.
// Request bodies are limited to kMaxReloadBodyBytes.
// TLS: with a TlsServerContext (built from `http.tls` by adminTlsFromSources(), src/admin/
// admin_tls.h) every connection, the probes included, is TLS with the context's client
// certificate policy (a client the policy refuses fails the handshake, before any request); the
// context's certificate rotation applies to new connections. Without one, plain HTTP. Fixed for
// the server's lifetime.
// Memory: what the server holds for connections and requests beyond the per-connection
// allowance (request heads, bodies, and the ~96 KiB of TLS state of each TLS connection) is
// charged to the server's own budget of kAdminMemoryBudgetBytes, not to --memory.limit, so a
// pipeline that fills the telemetry budget never makes the probes fail, and the admin server
// never takes memory from the pipeline. The server runs on its own thread; handlers
// only read controller snapshots, except reload, which calls the supplied reload function
// (serialised by the controller).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "src/admin/access.h"
#include "src/common/memory_budget.h"
#include "src/common/metrics.h"
#include "src/net/http_server.h"
#include "src/net/tls/tls.h"
#include "src/runtime/controller.h"

namespace telegate::admin {

inline constexpr size_t kAdminMemoryBudgetBytes = 16u << 20;

struct ReloadOutcome {
  bool ok = false;
  std::string message;  // diagnostics when !ok
};

class AdminServer {
 public:
  // `tls` null: plain HTTP.
  AdminServer(std::string listen_addr, runtime::Controller& controller, metrics::Registry& registry,
              std::function<ReloadOutcome()> reload,
              std::shared_ptr<net::tls::TlsServerContext> tls = nullptr);
  ~AdminServer();
  absl::Status start();
  void stop();
  std::string boundAddress() const;
  bool tlsEnabled() const { return tls_enabled_; }
  const net::HttpServer& server() const { return *server_; }
  // Set once the first load has completed and components were started.
  void setReady(bool ready) { ready_.store(ready); }
  // Applies the root `http` block (called by the controller when a load commits; thread-safe).
  void setHttpConfig(const runtime::HttpBlockArgs& args);

  // Exposed for tests: answers one request without a network round trip (judging it first,
  // as the server's header stage does).
  net::HttpResponse handle(const net::HttpRequest& req);
  // The header-stage verdict: the refusal to send, or nullopt. Counts and logs refusals.
  std::optional<net::HttpResponse> judge(const net::HttpRequest& head);

 private:
  net::HttpResponse components(const std::string& id);
  net::HttpResponse healthy();
  net::HttpResponse indexPage();
  void countRefusal(std::string_view reason, const net::HttpRequest& req);
  // HttpRequest::state of requests the header stage accepted.
  static const std::shared_ptr<const void>& judgedMarker();

  runtime::Controller& controller_;
  metrics::Registry& registry_;
  std::function<ReloadOutcome()> reload_;
  bool tls_enabled_ = false;
  MemoryBudget budget_{kAdminMemoryBudgetBytes};
  std::unique_ptr<net::HttpServer> server_;
  std::atomic<bool> ready_{false};
  // nullptr until the first setHttpConfig().
  std::atomic<std::shared_ptr<const AccessPolicy>> policy_;
  metrics::Family<metrics::Counter>* refused_;
  std::atomic<int64_t> last_refusal_log_ns_{0};
};

}  // namespace telegate::admin
