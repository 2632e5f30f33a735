// A fake Loki push endpoint for unit tests (header-only; link snappy and the logproto
// protobufs): a net::HttpServer on 127.0.0.1 with a free port that decodes each push exactly
// like Loki's HTTP handler (snappy block + logproto.PushRequest) and answers scripted statuses.
//
// Contract: url() is the push URL. Undecodable bodies get 400; otherwise byTenant(f), when set,
// decides the status by the request's X-Scope-OrgID, else the next script() entry
// (status, body), else 204 (Loki's answer). requests() holds every request in arrival order
// with its status; delivered() those answered 2xx. The server runs from construction to
// destruction.
// Threading: every method may be called from any thread; handlers run on the server's threads.
#pragma once

#include <gtest/gtest.h>
#include <snappy.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "loki/push.pb.h"
#include "src/net/http_server.h"
#include "test/fakes/wait.h"

namespace telegate::testing {

class FakeLoki {
 public:
  struct Request {
    std::vector<std::pair<std::string, std::string>> headers;
    logproto::PushRequest push;
    bool decoded = false;
    int status = 0;
    std::string header(std::string_view name) const {
      for (const auto& [k, v] : headers) {
        if (k.size() == name.size() &&
            std::equal(k.begin(), k.end(), name.begin(),
                       [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
          return v;
        }
      }
      return "";
    }
    size_t entries() const {
      size_t n = 0;
      for (const auto& s : push.streams()) n += s.entries_size();
      return n;
    }
  };

  FakeLoki() : server_({}, [this](const net::HttpRequest& r) { return handle(r); }) {
    EXPECT_TRUE(server_.start().ok());
  }
  ~FakeLoki() { server_.stop(); }

  std::string url() const { return "http://" + server_.boundAddress() + "/loki/api/v1/push"; }
  void script(std::vector<std::pair<int, std::string>> s) {
    std::lock_guard<std::mutex> lk(mu_);
    script_.assign(s.begin(), s.end());
  }
  // Overrides the script: status for a request (by its X-Scope-OrgID).
  void byTenant(std::function<int(const std::string& tenant)> f) {
    std::lock_guard<std::mutex> lk(mu_);
    by_tenant_ = std::move(f);
  }
  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> lk(mu_);
    return requests_;
  }
  // Requests answered 2xx.
  std::vector<Request> delivered() const {
    std::vector<Request> out;
    for (auto& r : requests()) {
      if (r.status / 100 == 2) out.push_back(r);
    }
    return out;
  }
  bool waitFor(std::function<bool()> cond,
               std::chrono::milliseconds max = std::chrono::milliseconds(5000)) const {
    return ::telegate::testing::waitFor(cond, max);
  }

 private:
  net::HttpResponse handle(const net::HttpRequest& r) {
    Request rec;
    rec.headers = r.headers;
    std::string raw;
    if (r.header("Content-Encoding") == "snappy" &&
        snappy::Uncompress(r.body.data(), r.body.size(), &raw)) {
      rec.decoded = rec.push.ParseFromString(raw);
    }
    std::lock_guard<std::mutex> lk(mu_);
    int status = 204;
    std::string body;
    if (!rec.decoded) {
      status = 400;
      body = "cannot decode";
    } else if (by_tenant_) {
      status = by_tenant_(rec.header("X-Scope-OrgID"));
    } else if (!script_.empty()) {
      std::tie(status, body) = script_.front();
      script_.pop_front();
    }
    rec.status = status;
    requests_.push_back(std::move(rec));
    auto resp = net::HttpResponse::text(status, body);
    if (status == 204) resp.content_type.clear();
    return resp;
  }

  mutable std::mutex mu_;
  std::deque<std::pair<int, std::string>> script_;
  std::function<int(const std::string&)> by_tenant_;
  std::vector<Request> requests_;
  net::HttpServer server_;
};

}  // namespace telegate::testing
