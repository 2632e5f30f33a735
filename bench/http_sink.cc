// telegate_http_sink: a fast HTTP sink for bench/pipeline_bench.py. It stands in for Loki's push
// endpoint and a Prometheus remote-write receiver: it reads every request body in full (so the
// sender pays for the whole transfer), answers 204 at once, and counts requests and body bytes.
// It does not decode; telegate's own metrics count the delivered items.
//
//   telegate_http_sink --listen 127.0.0.1:PORT [--threads 2] [--status 204]
//
// Prints "listening on host:port" once bound. GET /stats answers "requests N\nbytes N\n".
// Runs until SIGINT/SIGTERM.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

#include <unistd.h>

#include "src/net/http_server.h"

namespace {
std::atomic<bool> g_stop{false};
void onSignal(int) {
  g_stop.store(true);
}
}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  int threads = 2, status = 204;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--listen") {
      listen = v;
    } else if (k == "--threads") {
      threads = std::stoi(v);
    } else if (k == "--status") {
      status = std::stoi(v);
    } else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  std::atomic<uint64_t> requests{0}, bytes{0};
  telegate::net::HttpServerOptions opts;
  opts.listen_addr = listen;
  opts.io_threads = threads;
  opts.max_body_bytes = 256u << 20;
  telegate::net::HttpServer server(opts, [&](const telegate::net::HttpRequest& req) {
    if (req.method == "GET" && req.path == "/stats") {
      return telegate::net::HttpResponse::text(200, "requests " + std::to_string(requests.load()) +
                                                        "\nbytes " + std::to_string(bytes.load()) +
                                                        "\n");
    }
    requests.fetch_add(1, std::memory_order_relaxed);
    bytes.fetch_add(req.body.size(), std::memory_order_relaxed);
    telegate::net::HttpResponse r;
    r.status = status;
    r.content_type.clear();
    return r;
  });
  if (auto st = server.start(); !st.ok()) {
    std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
    return 1;
  }
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  std::printf("listening on %s\n", server.boundAddress().c_str());
  std::fflush(stdout);
  while (!g_stop.load()) usleep(100000);
  server.stop();
  std::printf("requests %llu bytes %llu\n", (unsigned long long)requests.load(),
              (unsigned long long)bytes.load());
  return 0;
}
