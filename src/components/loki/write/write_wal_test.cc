// loki.write with the WAL: entries survive restarts, a full WAL refuses without losing what it
// accepted, permanent errors are acknowledged, reconfiguration reopens the WAL.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <set>
#include <string>

#include "src/components/loki/write/write.h"
#include "src/components/loki/write/write_testing.h"
#include "test/fakes/fake_loki.h"
#include "test/fakes/wait.h"

namespace telegate::loki::write {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "loki-wal-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Arguments walArgs(const EndpointBlock& ep) {
  Arguments args;
  args.endpoint.push_back(ep);
  args.wal.enabled = true;
  args.wal.fsync = "never";
  args.wal.max_read_frequency = Duration(50ms);
  return args;
}

std::multiset<std::string> deliveredLines(const FakeLoki& loki) {
  std::multiset<std::string> out;
  for (const auto& r : loki.delivered()) {
    for (const auto& s : r.push.streams()) {
      for (const auto& e : s.entries()) out.insert(e.line());
    }
  }
  return out;
}

TEST(LokiWriteWalTest, EntriesSurviveARestartAndAreDeliveredOnce) {
  TempDir dir;
  std::multiset<std::string> want;
  {
    FakeLoki down;
    down.byTenant([](const std::string&) { return 503; });
    metrics::Registry reg;
    Writer w("w", reg, log::Logger{}, dir.path());
    auto ep = endpoint(down);
    ep.max_backoff_retries = 0;
    ep.tenant_id = "t1";
    EXPECT_FALSE(w.durable());
    ASSERT_TRUE(w.configure(walArgs(ep)).ok());
    EXPECT_TRUE(w.durable());  // a push answered OK is in the WAL
    std::vector<Entry> v;
    for (int i = 0; i < 20; ++i) {
      v.push_back(entry({{"job", i % 2 ? "a" : "b"}}, "line " + std::to_string(i)));
      want.insert("line " + std::to_string(i));
    }
    ASSERT_TRUE(w.push(std::move(v)).ok());
    ASSERT_TRUE(down.waitFor([&] { return !down.requests().empty(); }));
    // Shutting down does not drop: the entries stay on disk.
    w.shutdown(Clock::now() + 50ms);
    EXPECT_EQ(dropped(reg, "shutdown"), 0);
  }
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/wal/0"));
  {
    FakeLoki up;
    metrics::Registry reg;
    Writer w("w", reg, log::Logger{}, dir.path());
    auto ep = endpoint(up);
    ep.tenant_id = "t1";
    ASSERT_TRUE(w.configure(walArgs(ep)).ok());
    ASSERT_TRUE(up.waitFor([&] { return deliveredLines(up).size() >= want.size(); }));
    EXPECT_EQ(deliveredLines(up), want);
    auto r = up.delivered()[0];
    EXPECT_EQ(r.header("X-Scope-OrgID"), "t1");
    EXPECT_EQ(r.push.streams(0).labels(), R"({job="b"})");
    EXPECT_EQ(r.push.streams(0).entries(0).timestamp().seconds(), 1700000000);
    EXPECT_EQ(r.push.streams(0).entries(0).timestamp().nanos(), 123456789);
    w.shutdown(Clock::now() + 1s);
  }
  {
    // Acknowledged entries are not sent again after the next restart.
    FakeLoki again;
    metrics::Registry reg;
    Writer w("w", reg, log::Logger{}, dir.path());
    ASSERT_TRUE(w.configure(walArgs(endpoint(again))).ok());
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(again.requests().empty());
    w.shutdown(Clock::now() + 1s);
  }
}

TEST(LokiWriteWalTest, FullWalRefusesAndLosesNothingAccepted) {
  TempDir dir;
  FakeLoki loki;
  std::atomic<bool> down{true};
  loki.byTenant([&](const std::string&) { return down ? 503 : 204; });
  metrics::Registry reg;
  Writer w("w", reg, log::Logger{}, dir.path());
  w.setOverflowWaitForTest(50ms);
  auto ep = endpoint(loki);
  ep.max_backoff_retries = 0;  // retry until delivered
  ep.max_backoff_period = Duration(20ms);
  auto args = walArgs(ep);
  args.wal.max_size = ByteSize(64 << 10);
  ASSERT_TRUE(w.configure(args).ok());
  std::multiset<std::string> accepted;
  absl::Status st;
  for (int i = 0; i < 1000 && st.ok(); ++i) {
    std::string line = std::to_string(i) + std::string(1000, 'x');
    st = pushOne(w, entry({{"job", "a"}}, line));
    if (st.ok()) accepted.insert(line);
  }
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_GT(accepted.size(), 10u);
  EXPECT_LT(accepted.size(), 64u);
  EXPECT_GT(metric(reg, R"(telegate_loki_write_refused_entries_total{component_id="w"})"), 0);
  down = false;
  ASSERT_TRUE(loki.waitFor([&] { return deliveredLines(loki).size() >= accepted.size(); }));
  auto got = deliveredLines(loki);
  for (const auto& l : accepted) EXPECT_EQ(got.count(l), 1u) << l.substr(0, 8);
  // Space was reclaimed: pushes are accepted again.
  EXPECT_TRUE(loki.waitFor([&] { return pushOne(w, entry({{"job", "a"}}, "after")).ok(); }));
  w.shutdown(Clock::now() + 1s);
}

TEST(LokiWriteWalTest, PermanentErrorsAreDroppedCountedAndAcknowledged) {
  TempDir dir;
  {
    FakeLoki loki;
    loki.script({{400, "entry too far behind"}});
    metrics::Registry reg;
    Writer w("w", reg, log::Logger{}, dir.path());
    ASSERT_TRUE(w.configure(walArgs(endpoint(loki))).ok());
    ASSERT_TRUE(pushOne(w, entry({{"job", "a"}}, "old")).ok());
    ASSERT_TRUE(loki.waitFor([&] { return dropped(reg, "too_old") == 1; }));
    w.shutdown(Clock::now() + 1s);
  }
  FakeLoki again;
  metrics::Registry reg;
  Writer w("w", reg, log::Logger{}, dir.path());
  ASSERT_TRUE(w.configure(walArgs(endpoint(again))).ok());
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(again.requests().empty());
  w.shutdown(Clock::now() + 1s);
}

TEST(LokiWriteWalTest, ReconfigurationReopensTheWalAndKeepsItsEntries) {
  TempDir dir;
  FakeLoki down;
  down.byTenant([](const std::string&) { return 503; });
  FakeLoki up;
  metrics::Registry reg;
  Writer w("w", reg, log::Logger{}, dir.path());
  auto ep = endpoint(down);
  ep.max_backoff_retries = 0;
  ASSERT_TRUE(w.configure(walArgs(ep)).ok());
  ASSERT_TRUE(pushOne(w, entry({{"job", "a"}}, "before")).ok());
  ASSERT_TRUE(down.waitFor([&] { return !down.requests().empty(); }));
  // Same endpoint index, new URL: the WAL directory is released and reopened.
  ASSERT_TRUE(w.configure(walArgs(endpoint(up))).ok());
  ASSERT_TRUE(pushOne(w, entry({{"job", "a"}}, "after")).ok());
  ASSERT_TRUE(up.waitFor([&] { return deliveredLines(up).size() >= 2; }));
  EXPECT_EQ(deliveredLines(up), (std::multiset<std::string>{"after", "before"}));
  EXPECT_EQ(dropped(reg, "shutdown"), 0);
  w.shutdown(Clock::now() + 1s);
}

TEST(LokiWriteWalTest, WithoutDataDirectoryPushIsRefused) {
  FakeLoki loki;
  metrics::Registry reg;
  Writer w("w", reg, log::Logger{});
  EXPECT_FALSE(w.configure(walArgs(endpoint(loki))).ok());
  EXPECT_EQ(pushOne(w, entry({{"job", "a"}}, "x")).code(), absl::StatusCode::kUnavailable);
  w.shutdown(Clock::now() + 1s);
}
}  // namespace
}  // namespace telegate::loki::write
