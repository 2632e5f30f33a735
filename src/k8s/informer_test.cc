#include "src/k8s/informer.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "src/k8s/test_server.h"
#include "test/fakes/wait.h"

namespace telegate::k8s {
namespace {

using k8stest::reply;
using k8stest::TinyServer;

std::string chunked(const std::string& lines) {
  char size[32];
  snprintf(size, sizeof(size), "%zx\r\n", lines.size());
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
         std::string(size) + lines + "\r\n";
}

std::string requestLine(const std::string& head) {
  return head.substr(0, head.find("\r\n"));
}

TEST(InformerTest, ListWatchRelistOn410AndPromptStop) {
  std::atomic<int> lists{0}, watches{0};
  TinyServer server([&](const std::string& head, bool* hang) {
    bool watch = head.find("watch=true") != std::string::npos;
    if (!watch) {
      if (lists.fetch_add(1) == 0) {
        // First list, in two pages.
        if (head.find("continue=") == std::string::npos) {
          return reply(200, R"({"metadata":{"resourceVersion":"9","continue":"p2"},"items":[
            {"metadata":{"name":"a","namespace":"ns","resourceVersion":"5"}}]})");
        }
      }
      if (head.find("continue=p2") != std::string::npos) {
        return reply(200, R"({"metadata":{"resourceVersion":"10"},"items":[
          {"metadata":{"name":"b","namespace":"ns","resourceVersion":"6"}}]})");
      }
      return reply(200, R"({"metadata":{"resourceVersion":"20"},"items":[
        {"metadata":{"name":"b","namespace":"ns"}},{"metadata":{"name":"c","namespace":"ns"}},
        {"metadata":{"name":"d","namespace":"ns"}}]})");
    }
    if (watches.fetch_add(1) == 0) {
      return chunked(
          R"({"type":"ADDED","object":{"metadata":{"name":"c","namespace":"ns","resourceVersion":"11"}}})"
          "\n"
          R"({"type":"DELETED","object":{"metadata":{"name":"a","namespace":"ns","resourceVersion":"12"}}})"
          "\n"
          R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version"}})"
          "\n");
    }
    *hang = true;  // the second watch stays open until the informer stops
    return chunked(R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"25"}}})"
                   "\n");
  });
  Config cfg;
  cfg.server = "http://127.0.0.1:" + std::to_string(server.port());
  Client client(cfg);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> calls;
  InformerHandler h;
  auto record = [&](std::string s) {
    std::lock_guard<std::mutex> l(mu);
    calls.push_back(std::move(s));
    cv.notify_all();
  };
  h.replaced = [&](const std::map<std::string, std::string>& objs) {
    std::string s = "replaced";
    for (const auto& [k, v] : objs) s += " " + k;
    record(s);
  };
  h.upserted = [&](const std::string& k, const std::string&) { record("upserted " + k); };
  h.deleted = [&](const std::string& k) { record("deleted " + k); };
  h.failed = [&](const absl::Status& st) { record("failed " + std::string(st.message())); };
  ResourceRef ref;
  ref.resource = "pods";
  ref.namespace_ = "ns";
  ref.label_selector = "app=web";
  InformerOptions opts;
  opts.page_limit = 1;
  opts.backoff_initial = std::chrono::milliseconds(10);
  Informer inf(client, ref, h, opts);
  inf.start();
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(10), [&] { return calls.size() >= 4; }));
  }
  // Let the second watch be established.
  ::telegate::testing::waitFor([&] { return watches.load() >= 2; }, std::chrono::milliseconds(2000),
                               std::chrono::milliseconds(10));
  auto t0 = std::chrono::steady_clock::now();
  inf.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
  EXPECT_EQ(calls, (std::vector<std::string>{"replaced ns/a ns/b", "upserted ns/c", "deleted ns/a",
                                             "replaced ns/b ns/c ns/d"}));
  auto heads = server.heads();
  ASSERT_GE(heads.size(), 5u);
  EXPECT_EQ(requestLine(heads[0]),
            "GET /api/v1/namespaces/ns/pods?labelSelector=app%3Dweb&limit=1 HTTP/1.1");
  EXPECT_EQ(requestLine(heads[1]),
            "GET /api/v1/namespaces/ns/pods?labelSelector=app%3Dweb&limit=1&continue=p2 HTTP/1.1");
  EXPECT_EQ(requestLine(heads[2]).rfind("GET /api/v1/namespaces/ns/pods?labelSelector=app%3Dweb&"
                                        "watch=true&allowWatchBookmarks=true&resourceVersion=10&"
                                        "timeoutSeconds=",
                                        0),
            0u)
      << heads[2];
  EXPECT_EQ(requestLine(heads[3]),
            "GET /api/v1/namespaces/ns/pods?labelSelector=app%3Dweb&limit=1 HTTP/1.1");
  EXPECT_NE(requestLine(heads[4]).find("resourceVersion=20&"), std::string::npos) << heads[4];
  EXPECT_EQ(inf.listCount(), 3u);
}

TEST(InformerTest, HttpErrorsAreReportedAndRetried) {
  std::atomic<int> n{0};
  TinyServer server([&](const std::string&, bool*) {
    n++;
    return reply(
        403,
        R"({"kind":"Status","message":"pods is forbidden: User \"system:serviceaccount:x:y\" cannot list resource \"pods\"","code":403})");
  });
  Config cfg;
  cfg.server = "http://127.0.0.1:" + std::to_string(server.port());
  Client client(cfg);
  std::mutex mu;
  std::vector<std::string> errors;
  InformerHandler h;
  h.failed = [&](const absl::Status& st) {
    std::lock_guard<std::mutex> l(mu);
    errors.push_back(std::string(st.message()));
  };
  ResourceRef ref;
  ref.resource = "pods";
  InformerOptions opts;
  opts.backoff_initial = std::chrono::milliseconds(10);
  opts.backoff_max = std::chrono::milliseconds(20);
  Informer inf(client, ref, h, opts);
  inf.start();
  ::telegate::testing::waitFor([&] { return n.load() >= 3; }, std::chrono::milliseconds(3000),
                               std::chrono::milliseconds(10));
  inf.stop();
  std::lock_guard<std::mutex> l(mu);
  ASSERT_GE(errors.size(), 2u);
  EXPECT_EQ(errors[0],
            "list pods: HTTP 403: pods is forbidden: User \"system:serviceaccount:x:y\" cannot "
            "list resource \"pods\"");
}

}  // namespace
}  // namespace telegate::k8s
