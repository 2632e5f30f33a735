// The component lifecycle, for every component in the registry (src/components/all.cc): built
// from minimal valid arguments and shut down without start; built, started and shut down twice
// (shutdown is idempotent). Each must neither crash nor hang: every step has a time bound, and a
// step that overruns it aborts the test binary with the component's name.
//
// External resources point at loopback or a temporary directory: network peers are a loopback
// port that is bound but not listening (connections are refused at once, and no other process
// can take the port during the test), listeners use 127.0.0.1:0, files live under a fresh
// directory that is also the host's data path. A new registered component without a case here
// fails EveryRegisteredComponentHasACase.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_replace.h"
#include "src/components/all.h"
#include "src/runtime/registry.h"
#include "src/runtime/schema.h"
#include "src/syntax/parser.h"
#include "src/syntax/stdlib.h"
#include "test/fakes/fake_host.h"
#include "test/fakes/sinks.h"

namespace telegate::components {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The arguments of each component: an Alloy block body. $PORT is the refused loopback port,
// $DIR the temporary directory; sink.consumer, sink.logs and sink.appendable are the test sinks.
// Excluded components would be listed here with the reason; there are none.
const std::map<std::string, std::string>& cases() {
  static const auto* m = new std::map<std::string, std::string>{
      {"discovery.kubernetes", R"(role = "pod"
api_server = "http://127.0.0.1:$PORT")"},
      {"discovery.relabel", R"(targets = [{"__address__" = "127.0.0.1:$PORT"}])"},
      {"loki.process", R"(forward_to = [sink.logs])"},
      {"loki.source.file", R"(targets = [{"__path__" = "$DIR/app.log"}]
forward_to = [sink.logs])"},
      {"loki.source.kubernetes", R"(targets = [{"__pod_namespace__" = "ns", "__pod_name__" = "p",
  "__pod_container_name__" = "c", "__pod_uid__" = "u"}]
forward_to = [sink.logs]
client {
  api_server = "http://127.0.0.1:$PORT"
})"},
      {"loki.write", R"(endpoint {
  url = "http://127.0.0.1:$PORT/loki/api/v1/push"
})"},
      {"otelcol.auth.bearer", R"(token = "lifecycle-token")"},
      {"otelcol.auth.client_certificate", R"(identity {
  common_name = "client"
})"},
      {"otelcol.exporter.debug", ""},
      {"otelcol.exporter.discard", ""},
      {"otelcol.exporter.file", R"(directory = "$DIR/file")"},
      {"otelcol.exporter.loki", R"(forward_to = [sink.logs])"},
      {"otelcol.exporter.otlp", R"(client {
  endpoint = "127.0.0.1:$PORT"
  tls {
    insecure = true
  }
})"},
      {"otelcol.exporter.otlphttp", R"(client {
  endpoint = "http://127.0.0.1:$PORT"
})"},
      {"otelcol.exporter.prometheus", R"(forward_to = [sink.appendable])"},
      {"otelcol.processor.batch", R"(output {
  logs = [sink.consumer]
  metrics = [sink.consumer]
  traces = [sink.consumer]
})"},
      {"otelcol.receiver.otlp", R"(grpc {
  endpoint = "127.0.0.1:0"
}
http {
  endpoint = "127.0.0.1:0"
}
output {
  logs = [sink.consumer]
  metrics = [sink.consumer]
  traces = [sink.consumer]
})"},
      {"prometheus.remote_write", R"(endpoint {
  url = "http://127.0.0.1:$PORT/api/v1/write"
})"},
      {"prometheus.scrape", R"(targets = [{"__address__" = "127.0.0.1:$PORT"}]
forward_to = [sink.appendable]
scrape_interval = "100ms"
scrape_timeout = "50ms")"},
  };
  return *m;
}

// A loopback TCP port that is bound but not listening: connecting to it is refused.
class RefusedPort {
 public:
  RefusedPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
      std::perror("RefusedPort");
      std::abort();
    }
    port_ = ntohs(sa.sin_port);
  }
  ~RefusedPort() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "telegate-lifecycle-XXXXXX");
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = buf.data();
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs `step` on another thread; aborts the binary when it has not returned within `limit` (a
// hung component cannot be recovered from, and ctest's own timeout would not say which it was).
template <class F>
auto bounded(const std::string& what, std::chrono::milliseconds limit, F step) {
  auto fut = std::async(std::launch::async, std::move(step));
  if (fut.wait_for(limit) != std::future_status::ready) {
    std::fprintf(stderr, "lifecycle: %s did not return within %lld ms\n", what.c_str(),
                 static_cast<long long>(limit.count()));
    std::fflush(stderr);
    std::abort();
  }
  return fut.get();
}

class LifecycleTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { registerAll(); }

  void SetUp() override {
    reg_ = runtime::Registry::global().find(GetParam());
    ASSERT_NE(reg_, nullptr) << GetParam() << " is not registered";
    data_path_ = dir_.path() + "/data";
    std::filesystem::create_directories(data_path_);
  }

  // Decodes the case's body into fresh Arguments, as the controller does.
  runtime::ArgsHolder arguments() {
    std::string body = absl::StrReplaceAll(
        cases().at(GetParam()), {{"$PORT", std::to_string(port_.port())}, {"$DIR", dir_.path()}});
    auto src = std::make_shared<syntax::SourceFile>(
        "lifecycle.alloy", GetParam() + " \"lifecycle\" {\n" + body + "\n}\n");
    syntax::Diagnostics diags;
    auto file = syntax::parseFile(src, &diags);
    EXPECT_FALSE(diags.hasErrors()) << diags.summary();
    if (diags.hasErrors() || file->body.stmts.empty() || !file->body.stmts[0].block) return {};
    const auto& block = *file->body.stmts[0].block;
    syntax::Object root = syntax::stdlib();
    root["sink"] = syntax::Value::object(syntax::Object{
        {"consumer", syntax::Value::capsule(consumer_)},
        {"logs", syntax::Value::capsule(logs_)},
        {"appendable", syntax::Value::capsule(appendable_)},
    });
    syntax::Scope scope(&root);
    runtime::DecodeContext ctx{&scope, "lifecycle.alloy", &diags, nullptr};
    std::shared_ptr<void> args = reg_->new_args();
    bool ok = runtime::decodeBody(block.body, *reg_->schema, args.get(), block.name_range, ctx);
    EXPECT_TRUE(ok) << diags.summary();
    if (!ok) return {};
    auto valid = reg_->schema->validate(args.get());
    EXPECT_TRUE(valid.ok()) << valid;
    if (!valid.ok()) return {};
    return runtime::ArgsHolder{args, reg_->args_type};
  }

  std::unique_ptr<runtime::Component> build(testing::FakeHost& host) {
    runtime::ArgsHolder args = arguments();
    if (args.ptr == nullptr) return nullptr;
    auto built =
        bounded(GetParam() + " construction", 10s, [&] { return reg_->build(host, args); });
    EXPECT_TRUE(built.ok()) << built.status();
    return built.ok() ? std::move(*built) : nullptr;
  }

  // shutdown() with a 2 s deadline must return within the deadline plus a grace period.
  void shutdown(runtime::Component& c, const std::string& what) {
    bounded(GetParam() + " " + what, 7s, [&] { c.shutdown(Clock::now() + 2s); });
  }

  const runtime::Registration* reg_ = nullptr;
  ScratchDir dir_;
  RefusedPort port_;
  std::string data_path_;
  std::shared_ptr<testing::CountingConsumer> consumer_ =
      std::make_shared<testing::CountingConsumer>();
  std::shared_ptr<testing::CountingLogsReceiver> logs_ =
      std::make_shared<testing::CountingLogsReceiver>();
  std::shared_ptr<testing::CountingAppendable> appendable_ =
      std::make_shared<testing::CountingAppendable>();
};

TEST_P(LifecycleTest, CreateThenShutdownWithoutStart) {
  testing::FakeHost host(GetParam() + ".lifecycle", data_path_);
  auto c = build(host);
  ASSERT_NE(c, nullptr);
  shutdown(*c, "shutdown without start");
  bounded(GetParam() + " destruction", 10s, [&] { c.reset(); });
}

TEST_P(LifecycleTest, CreateStartShutdownShutdown) {
  testing::FakeHost host(GetParam() + ".lifecycle", data_path_);
  auto c = build(host);
  ASSERT_NE(c, nullptr);
  absl::Status started = bounded(GetParam() + " start", 10s, [&] { return c->start(); });
  EXPECT_TRUE(started.ok()) << started;
  std::this_thread::sleep_for(50ms);  // let the component's threads reach their first wait
  shutdown(*c, "first shutdown");
  shutdown(*c, "second shutdown");
  bounded(GetParam() + " destruction", 10s, [&] { c.reset(); });
}

std::vector<std::string> caseNames() {
  std::vector<std::string> out;
  for (const auto& [name, body] : cases()) out.push_back(name);
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllComponents, LifecycleTest, ::testing::ValuesIn(caseNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return absl::StrReplaceAll(info.param, {{".", "_"}});
                         });

TEST(LifecycleCoverageTest, EveryRegisteredComponentHasACase) {
  registerAll();
  std::set<std::string> registered;
  for (const auto* r : runtime::Registry::global().all()) registered.insert(r->name);
  for (const auto& name : registered) {
    EXPECT_EQ(cases().count(name), 1u) << name << " has no lifecycle case";
  }
  for (const auto& [name, body] : cases()) {
    EXPECT_EQ(registered.count(name), 1u) << name << " is not registered";
  }
}

}  // namespace
}  // namespace telegate::components
