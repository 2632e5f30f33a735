// A fake OTLP/HTTP metrics backend (a Mimir stand-in) for unit tests (header-only; link the
// OTLP protobufs): a net::HttpServer on `listen` (default 127.0.0.1 with a free port) that
// decompresses each body by its Content-Encoding and parses application/x-protobuf bodies as
// ExportMetricsServiceRequest.
//
// Contract: start()/stop() run the server; port() is its port once started. script() sets the
// responses for the next requests in order, the last one repeating; with no script every request
// gets an empty ExportMetricsServiceResponse. requests() holds every request's path, headers of
// interest (Content-Type, Content-Encoding, X-Scope-OrgID, X-Custom), decoded message and
// arrival time.
// Threading: every method may be called from any thread; handlers run on the server's threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "src/common/decompress.h"
#include "src/net/http_server.h"

namespace telegate::testing {

class FakeOtlpHttpMetrics {
 public:
  struct Request {
    std::string path, content_type, content_encoding, org_id, custom;
    opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest message;
    bool decoded = false;
    std::chrono::steady_clock::time_point at;
  };

  explicit FakeOtlpHttpMetrics(std::string listen = "127.0.0.1:0")
      : server_(
            [&] {
              net::HttpServerOptions o;
              o.listen_addr = listen;
              return o;
            }(),
            [this](const net::HttpRequest& r) { return handle(r); }) {}

  absl::Status start() { return server_.start(); }
  void stop() { server_.stop(); }
  uint16_t port() const { return server_.port(); }
  void script(std::vector<net::HttpResponse> s) {
    std::lock_guard<std::mutex> l(mu_);
    script_ = std::move(s);
  }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  net::HttpResponse handle(const net::HttpRequest& r) {
    Request q;
    q.at = std::chrono::steady_clock::now();
    q.path = r.path;
    q.content_type = std::string(r.header("Content-Type"));
    q.content_encoding = std::string(r.header("Content-Encoding"));
    q.org_id = std::string(r.header("X-Scope-OrgID"));
    q.custom = std::string(r.header("X-Custom"));
    auto body = decompress(q.content_encoding, r.body, 16 << 20);
    if (body.ok() && q.content_type == "application/x-protobuf") {
      q.decoded = q.message.ParseFromString(*body);
    }
    std::lock_guard<std::mutex> l(mu_);
    requests_.push_back(std::move(q));
    if (script_.empty()) {
      net::HttpResponse ok;
      ok.content_type = "application/x-protobuf";
      ok.body = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceResponse()
                    .SerializeAsString();
      return ok;
    }
    net::HttpResponse resp = script_.front();
    if (script_.size() > 1) script_.erase(script_.begin());
    return resp;
  }

  std::mutex mu_;
  std::vector<net::HttpResponse> script_;
  std::vector<Request> requests_;
  net::HttpServer server_;
};

}  // namespace telegate::testing
