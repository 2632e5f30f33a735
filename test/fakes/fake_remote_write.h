// A fake Prometheus remote-write receiver for unit tests (header-only; link the prometheus
// protobufs): a net::HttpServer on 127.0.0.1 with a free port (4 I/O threads, so several shards
// are served at once) that snappy-decodes (block format only: a framed body fails the test) and
// parses every WriteRequest.
//
// Contract: url() is the write URL. The next script() responses are answered in order, then
// 204. requests() holds every request with its lower-cased headers, decoded message, status and
// arrival time; samples() counts samples over all requests; delivered() is the distinct
// (labels, timestamp) pairs of requests answered 2xx. setDelay() holds every answer that long.
// Threading: every method may be called from any thread; handlers run on the server's threads.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "prometheus/remote.pb.h"
#include "src/common/decompress.h"
#include "src/common/strings.h"
#include "src/net/http_server.h"
#include "test/fakes/wait.h"

namespace telegate::testing {

class FakeRemoteWrite {
 public:
  struct Request {
    std::map<std::string, std::string> headers;  // lower-case names
    ::prometheus::WriteRequest message;
    bool decoded = false;
    int status = 0;
    std::chrono::steady_clock::time_point at;
    size_t samples() const {
      size_t n = 0;
      for (const auto& ts : message.timeseries()) n += ts.samples_size();
      return n;
    }
  };

  static net::HttpServerOptions options() {
    net::HttpServerOptions o;
    o.io_threads = 4;  // concurrent requests (several shards)
    return o;
  }
  FakeRemoteWrite() : server_(options(), [this](const net::HttpRequest& r) { return handle(r); }) {
    EXPECT_TRUE(server_.start().ok());
  }
  ~FakeRemoteWrite() { server_.stop(); }
  std::string url() const { return strCat("http://", server_.boundAddress(), "/api/v1/write"); }
  // Responses for the next requests, in order; afterwards 204.
  void script(std::vector<net::HttpResponse> s) {
    std::lock_guard<std::mutex> l(mu_);
    script_ = std::move(s);
  }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }
  size_t samples() {
    std::lock_guard<std::mutex> l(mu_);
    size_t n = 0;
    for (const auto& r : requests_) n += r.samples();
    return n;
  }
  // Distinct (labels, timestamp) pairs in requests answered 2xx.
  std::set<std::pair<std::string, int64_t>> delivered() {
    std::lock_guard<std::mutex> l(mu_);
    std::set<std::pair<std::string, int64_t>> out;
    for (const auto& r : requests_) {
      if (r.status / 100 != 2) continue;
      for (const auto& ts : r.message.timeseries()) {
        std::string key;
        for (const auto& lb : ts.labels()) strAppend(&key, lb.name(), "=", lb.value(), ",");
        for (const auto& smp : ts.samples()) out.emplace(key, smp.timestamp());
      }
    }
    return out;
  }
  // Every request waits this long before it is answered.
  void setDelay(std::chrono::milliseconds d) { delay_ms_.store(d.count()); }
  bool waitRequests(size_t n, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    return waitFor([&] { return requests().size() >= n; }, timeout);
  }

 private:
  net::HttpResponse handle(const net::HttpRequest& r) {
    if (delay_ms_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    Request q;
    q.at = std::chrono::steady_clock::now();
    for (const auto& [k, v] : r.headers) {
      std::string lk = k;
      for (char& c : lk) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      q.headers[lk] = v;
    }
    // Block format only: the framing format would start with its stream identifier chunk.
    // (A block's first byte is a varint of the length and may well be 0xff.)
    static const std::string kFramedId("\xff\x06\x00\x00sNaPpY", 10);
    EXPECT_NE(r.body.compare(0, kFramedId.size(), kFramedId), 0);
    auto body = decompress("snappy", r.body, 64 << 20);
    if (body.ok()) q.decoded = q.message.ParseFromString(*body);
    std::lock_guard<std::mutex> l(mu_);
    net::HttpResponse resp = net::HttpResponse::text(204, "");
    if (!script_.empty()) {
      resp = script_.front();
      script_.erase(script_.begin());
    }
    q.status = resp.status;
    requests_.push_back(std::move(q));
    return resp;
  }

  std::atomic<int64_t> delay_ms_{0};
  std::mutex mu_;
  std::vector<net::HttpResponse> script_;
  std::vector<Request> requests_;
  net::HttpServer server_;
};

}  // namespace telegate::testing
