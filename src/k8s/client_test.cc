#include "src/k8s/client.h"

#include "src/k8s/test_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

namespace telegate::k8s {
namespace {

using k8stest::reply;
using k8stest::TinyServer;

TEST(ClientTest, UrlEncodeAndStatusMessage) {
  EXPECT_EQ(urlEncode("spec.nodeName=node-a,app!=x y"), "spec.nodeName%3Dnode-a%2Capp%21%3Dx%20y");
  EXPECT_EQ(statusMessage(R"({"kind":"Status","message":"pods \"x\" not found","code":404})"),
            "pods \"x\" not found");
  EXPECT_EQ(statusMessage("plain text\n"), "plain text");
}

TEST(ClientTest, RereadsTheTokenFileAfterA401) {
  char tmpl[] = "/tmp/k8s-client-test-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string token_file = dir + "/token";
  std::ofstream(token_file) << "tok-1\n";
  std::atomic<int> accepted{1};
  TinyServer server([&](const std::string& head, bool*) {
    std::string want = "Authorization: Bearer tok-" + std::to_string(accepted.load()) + "\r\n";
    if (head.find(want) == std::string::npos) return reply(401, R"({"message":"Unauthorized"})");
    return reply(200, R"({"items":[]})");
  });
  Config cfg;
  cfg.server = "http://127.0.0.1:" + std::to_string(server.port());
  cfg.bearer_token_file = token_file;
  Client client(cfg);
  auto r = client.get("/api/v1/pods", nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(client.requestCount(), 1u);
  // Rotation: the server now wants tok-2 and the file holds it. The cached token gets a 401,
  // the file is re-read and the request retried once.
  std::ofstream(token_file, std::ios::trunc) << "tok-2";
  accepted = 2;
  r = client.get("/api/v1/pods", nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(client.requestCount(), 3u);
  // A wrong token stays a 401 response (not a transport error), after one retry.
  accepted = 3;
  r = client.get("/api/v1/pods", nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(statusMessage(r->body), "Unauthorized");
  std::filesystem::remove_all(dir);
}

TEST(ClientTest, StreamDeliversChunksAndCancelsPromptly) {
  TinyServer server([](const std::string&, bool* hang) {
    *hang = true;
    return std::string(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        "6\r\nhello\n\r\n");
  });
  Config cfg;
  cfg.server = "http://127.0.0.1:" + std::to_string(server.port());
  Client client(cfg);
  Cancel cancel;
  std::string got;
  std::mutex mu;
  absl::StatusOr<int> result = 0;
  std::thread t([&] {
    result = client.stream(
        "/api/v1/pods?watch=true",
        [&](std::string_view c) {
          std::lock_guard<std::mutex> l(mu);
          got.append(c);
          return true;
        },
        &cancel, std::chrono::seconds(60), nullptr);
  });
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard<std::mutex> l(mu);
      if (!got.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto t0 = std::chrono::steady_clock::now();
  cancel.cancel();
  t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
  EXPECT_EQ(got, "hello\n");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  // Later calls on a cancelled token return at once.
  EXPECT_EQ(client.get("/x", &cancel).status().code(), absl::StatusCode::kCancelled);
}

TEST(ClientTest, PodLogsRequestAndErrors) {
  TinyServer server([](const std::string& head, bool*) {
    if (head.find("/pods/missing/") != std::string::npos) {
      return reply(404, R"({"kind":"Status","message":"pods \"missing\" not found","code":404})");
    }
    return reply(200, "2026-11-24T06:00:00.000000001Z line one\n");
  });
  Config cfg;
  cfg.server = "http://127.0.0.1:" + std::to_string(server.port());
  Client client(cfg);
  PodLogOptions o;
  o.namespace_ = "default";
  o.pod = "web-0";
  o.container = "app";
  o.since_time = "2026-11-24T06:00:00Z";
  std::string got;
  auto st = client.streamPodLogs(
      o,
      [&](std::string_view c) {
        got.append(c);
        return true;
      },
      nullptr);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(got, "2026-11-24T06:00:00.000000001Z line one\n");
  ASSERT_FALSE(server.heads().empty());
  EXPECT_EQ(server.heads()[0].substr(0, server.heads()[0].find("\r\n")),
            "GET /api/v1/namespaces/default/pods/web-0/log?container=app&follow=true&"
            "timestamps=true&sinceTime=2026-11-24T06%3A00%3A00Z HTTP/1.1");
  o.pod = "missing";
  st = client.streamPodLogs(
      o, [](std::string_view) { return true; }, nullptr);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(st.message()).find("pods \"missing\" not found"), std::string::npos);
}

TEST(ClientTest, TransportErrorIsUnavailable) {
  Config cfg;
  cfg.server = "http://127.0.0.1:1";
  Client client(cfg);
  auto r = client.get("/api/v1/pods", nullptr);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace telegate::k8s
