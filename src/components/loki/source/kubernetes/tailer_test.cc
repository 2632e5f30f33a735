#include "src/components/loki/source/kubernetes/tailer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "test/fakes/sinks.h"
#include "test/fakes/wait.h"

namespace telegate::loki::source_kubernetes {
namespace {

using RecordingReceiver = ::telegate::testing::RecordingLogsReceiver;
using ::telegate::testing::waitFor;

using namespace std::chrono_literals;

constexpr int64_t kBase = 1700000000LL * 1000000000LL;  // 2023-11-14T22:13:20Z

std::string rfc3339Nano(int64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1000000000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[16];
  snprintf(frac, sizeof(frac), ".%09lld", static_cast<long long>(ns % 1000000000));
  return std::string(buf) + frac + "Z";
}

// The API server's copy of one container's log, shared by the fakes of successive tailers.
struct ServerLog {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<int64_t, std::string>> lines;
  void append(int64_t ts, std::string text) {
    {
      std::lock_guard<std::mutex> lock(mu);
      lines.emplace_back(ts, std::move(text));
    }
    cv.notify_all();
  }
};

class FakeLogApi : public PodLogApi {
 public:
  explicit FakeLogApi(std::shared_ptr<ServerLog> log) : log_(std::move(log)) {}
  bool follow = true;
  size_t end_after = 0;  // end every stream after this many lines (0: never)
  PodState pod{true, "uid-1", "Always", false, 0};
  std::atomic<int> opened{0};
  std::vector<std::optional<int64_t>> since_seen;

  absl::Status streamLogs(const PodContainer&, std::optional<int64_t> since,
                          const std::function<bool(std::string_view)>& on_chunk) override {
    std::unique_lock<std::mutex> lock(log_->mu);
    ++opened;
    since_seen.push_back(since);
    size_t idx = 0, sent = 0;
    while (true) {
      while (idx < log_->lines.size()) {
        auto [ts, text] = log_->lines[idx++];
        if (since && ts < *since * 1000000000LL) continue;
        std::string wire = rfc3339Nano(ts) + " " + text + "\n";
        lock.unlock();
        // Split every line in two chunks so the tailer must reassemble.
        size_t cut = wire.size() / 3;
        bool ok = on_chunk(std::string_view(wire).substr(0, cut)) &&
                  on_chunk(std::string_view(wire).substr(cut));
        lock.lock();
        if (!ok) return absl::CancelledError("stopped");
        if (end_after != 0 && ++sent >= end_after) return absl::OkStatus();
      }
      if (!follow) return absl::OkStatus();
      log_->cv.wait_for(lock, 20ms);
      if (cancelled_.load()) return absl::CancelledError("cancelled");
    }
  }
  absl::StatusOr<PodState> getPod(const PodContainer&) override { return pod; }
  void cancel() override { cancelled_.store(true); }

 private:
  std::shared_ptr<ServerLog> log_;
  std::atomic<bool> cancelled_{false};
};

TailTarget target() {
  runtime::Target t{{"__meta_kubernetes_namespace", "shop"},
                    {"__meta_kubernetes_pod_name", "web-1"},
                    {"__meta_kubernetes_pod_container_name", "app"},
                    {"__meta_kubernetes_pod_uid", "uid-1"},
                    {"__address__", "10.0.0.5:8080"}};
  return *prepareTarget(t, "loki.source.kubernetes.pods");
}

std::vector<std::string> texts(const std::vector<Entry>& es) {
  std::vector<std::string> out;
  for (const auto& e : es) out.push_back(e.line);
  return out;
}

TEST(TailerTest, ParseRfc3339) {
  int64_t ns = 0;
  ASSERT_TRUE(parseRfc3339("2023-11-14T22:13:20Z", &ns));
  EXPECT_EQ(ns, kBase);
  ASSERT_TRUE(parseRfc3339("2023-11-14T22:13:20.000000123Z", &ns));
  EXPECT_EQ(ns, kBase + 123);
  ASSERT_TRUE(parseRfc3339("2023-11-14T22:13:20.5Z", &ns));
  EXPECT_EQ(ns, kBase + 500000000);
  ASSERT_TRUE(parseRfc3339("2023-11-15T00:13:20+02:00", &ns));
  EXPECT_EQ(ns, kBase);
  ASSERT_TRUE(parseRfc3339("1969-12-31T23:59:59Z", &ns));
  EXPECT_EQ(ns, -1000000000LL);
  EXPECT_FALSE(parseRfc3339("2023-11-14 22:13:20Z", &ns));
  EXPECT_FALSE(parseRfc3339("2023-11-14T22:13:20", &ns));
  EXPECT_FALSE(parseRfc3339("2023-13-14T22:13:20Z", &ns));
  EXPECT_FALSE(parseRfc3339("2023-11-14T22:13:20.Z", &ns));
  EXPECT_FALSE(parseRfc3339("hello", &ns));
}

TEST(TailerTest, ParseLogLine) {
  int64_t ns = 0;
  std::string_view text;
  ASSERT_TRUE(parseLogLine("2023-11-14T22:13:20.000000001Z hello world\n", &ns, &text));
  EXPECT_EQ(ns, kBase + 1);
  EXPECT_EQ(text, "hello world");
  ASSERT_TRUE(parseLogLine("2023-11-14T22:13:20Z \r\n", &ns, &text));
  EXPECT_EQ(text, "");
  EXPECT_FALSE(parseLogLine("no timestamp here\n", &ns, &text));
  EXPECT_EQ(text, "no timestamp here");
}

TEST(TailerTest, PrepareTargetFollowsAlloy) {
  TailTarget t = target();
  EXPECT_EQ(t.pod.key(), "shop/web-1:app");
  EXPECT_EQ(t.pod.uid, "uid-1");
  LabelSet want{{"instance", "shop/web-1:app"}, {"job", "loki.source.kubernetes.pods"}};
  EXPECT_EQ(t.labels, want);
  EXPECT_EQ(t.labels_text, "{instance=\"shop/web-1:app\", job=\"loki.source.kubernetes.pods\"}");

  runtime::Target custom{
      {"__pod_namespace__", "a"}, {"__pod_name__", "b"}, {"__pod_container_name__", "c"},
      {"__pod_uid__", "u"},       {"job", "mine"},       {"app", "web"}};
  auto c = prepareTarget(custom, "x");
  ASSERT_TRUE(c.ok());
  LabelSet want2{{"app", "web"}, {"instance", "a/b:c"}, {"job", "mine"}};
  EXPECT_EQ(c->labels, want2);

  runtime::Target missing{{"__meta_kubernetes_namespace", "a"}};
  auto m = prepareTarget(missing, "x");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(std::string(m.status().message()).find("pod name"), std::string::npos);
}

TEST(TailerTest, PodStateAndFinish) {
  auto st = parsePodState(R"({"metadata":{"uid":"u1"},"spec":{"restartPolicy":"Never"},
    "status":{"containerStatuses":[{"name":"app","state":{"terminated":{"exitCode":1}}},
                                   {"name":"side","state":{"running":{}}}]}})",
                          "app");
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->container_terminated);
  EXPECT_EQ(st->exit_code, 1);
  EXPECT_TRUE(containerFinished(*st, "u1"));
  st->restart_policy = "OnFailure";
  EXPECT_FALSE(containerFinished(*st, "u1"));  // will restart after a failure
  st->exit_code = 0;
  EXPECT_TRUE(containerFinished(*st, "u1"));
  st->restart_policy = "Always";
  EXPECT_FALSE(containerFinished(*st, "u1"));
  EXPECT_TRUE(containerFinished(*st, "other-uid"));
  EXPECT_TRUE(containerFinished(PodState{}, "u1"));  // gone
  EXPECT_FALSE(parsePodState("{not json", "app").ok());
}

struct Harness {
  std::shared_ptr<ServerLog> log = std::make_shared<ServerLog>();
  std::shared_ptr<loki::source::Positions> positions = std::make_shared<loki::source::Positions>();
  std::shared_ptr<RecordingReceiver> receiver = std::make_shared<RecordingReceiver>();
  log::Logger logger;
  std::string dir;
  Harness() {
    dir = (std::filesystem::temp_directory_path() /
           ("tailer_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name()))
              .string();
    std::filesystem::remove_all(dir);
    std::string w;
    EXPECT_TRUE(loki::source::Positions::open(dir + "/positions.json", positions.get(), &w).ok());
  }
  ~Harness() { std::filesystem::remove_all(dir); }
  std::unique_ptr<Tailer> tailer(std::shared_ptr<FakeLogApi> api) {
    auto r = receiver;
    TailerOptions opts;
    opts.min_backoff = 1ms;
    opts.max_backoff = 20ms;
    return std::make_unique<Tailer>(
        target(), api, positions, [r] { return Tailer::Receivers{r}; }, TailerMetrics{}, logger,
        opts);
  }
};

TEST(TailerTest, DeliversEveryLineWithTimestampsAndLabels) {
  Harness h;
  for (int i = 0; i < 50; ++i) h.log->append(kBase + i * 1000, "line " + std::to_string(i));
  auto api = std::make_shared<FakeLogApi>(h.log);
  auto t = h.tailer(api);
  t->start();
  ASSERT_TRUE(waitFor([&] { return h.receiver->snapshot().size() == 50; }));
  h.log->append(kBase + 999999, "late");
  ASSERT_TRUE(waitFor([&] { return h.receiver->snapshot().size() == 51; }));
  t->stop();
  auto es = h.receiver->snapshot();
  EXPECT_EQ(es[0].line, "line 0");
  EXPECT_EQ(es[0].timestamp_ns, kBase);
  EXPECT_EQ(es[49].line, "line 49");
  EXPECT_EQ(es[50].line, "late");
  EXPECT_EQ(es[0].labels, target().labels);
  EXPECT_EQ(api->opened.load(), 1);
}

// Streams end every 23 lines (as when the API server closes them); a reopen resends the whole
// second of the cursor (up to 20 lines here), and lines sharing one timestamp straddle the reopen
// points. Every line must arrive exactly once, in order.
TEST(TailerTest, ReopenedStreamsRepeatNothingAndSkipNothing) {
  Harness h;
  std::vector<std::string> want;
  for (int i = 0; i < 120; ++i) {
    int64_t ts = kBase + (i / 5) * 300000000LL;  // 5 lines share each timestamp
    h.log->append(ts, "l" + std::to_string(i));
    want.push_back("l" + std::to_string(i));
  }
  auto api = std::make_shared<FakeLogApi>(h.log);
  api->end_after = 23;
  auto t = h.tailer(api);
  t->start();
  ASSERT_TRUE(waitFor([&] { return h.receiver->snapshot().size() >= 120; }));
  std::this_thread::sleep_for(50ms);  // more reopens happen; none may add anything
  t->stop();
  EXPECT_EQ(texts(h.receiver->snapshot()), want);
  EXPECT_GT(api->opened.load(), 5);
  // Reopens ask for the cursor's second.
  ASSERT_GE(api->since_seen.size(), 2u);
  EXPECT_FALSE(api->since_seen[0].has_value());
  EXPECT_TRUE(api->since_seen[1].has_value());
}

TEST(TailerTest, RestartResumesFromPositionsWithoutDuplicatesOrGaps) {
  Harness h;
  std::vector<std::string> want;
  for (int i = 0; i < 20; ++i) {
    h.log->append(kBase + (i / 4) * 1000, "a" + std::to_string(i));
    want.push_back("a" + std::to_string(i));
  }
  {
    auto t = h.tailer(std::make_shared<FakeLogApi>(h.log));
    t->start();
    ASSERT_TRUE(waitFor([&] { return h.receiver->snapshot().size() == 20; }));
    t->stop();
  }
  ASSERT_TRUE(h.positions->sync().ok());
  // While telegate is down, more lines, some with the same timestamp as the last delivered one.
  for (int i = 20; i < 30; ++i) {
    h.log->append(i < 22 ? kBase + 4 * 1000 : kBase + i * 1000, "a" + std::to_string(i));
    want.push_back("a" + std::to_string(i));
  }
  // A new process: positions re-read from disk.
  auto reopened = std::make_shared<loki::source::Positions>();
  std::string w;
  ASSERT_TRUE(loki::source::Positions::open(h.dir + "/positions.json", reopened.get(), &w).ok());
  h.positions = reopened;
  auto api = std::make_shared<FakeLogApi>(h.log);
  auto t = h.tailer(api);
  t->start();
  ASSERT_TRUE(waitFor([&] { return h.receiver->snapshot().size() >= 30; }));
  std::this_thread::sleep_for(30ms);
  t->stop();
  EXPECT_EQ(texts(h.receiver->snapshot()), want);
  ASSERT_FALSE(api->since_seen.empty());
  ASSERT_TRUE(api->since_seen[0].has_value());
  EXPECT_EQ(*api->since_seen[0], (kBase + 4 * 1000) / 1000000000);
}

TEST(TailerTest, OutOfOrderLineIsDeliveredNotDropped) {
  Harness h;
  h.log->append(kBase + 10, "first");
  h.log->append(kBase + 20, "second");
  h.log->append(kBase + 15, "late");
  h.log->append(kBase + 30, "third");
  auto t = h.tailer(std::make_shared<FakeLogApi>(h.log));
  t->start();
  ASSERT_TRUE(waitFor([&] { return h.receiver->snapshot().size() == 4; }));
  t->stop();
  EXPECT_EQ(texts(h.receiver->snapshot()),
            (std::vector<std::string>{"first", "second", "late", "third"}));
}

TEST(TailerTest, RefusalIsRetriedNotDropped) {
  Harness h;
  for (int i = 0; i < 10; ++i) h.log->append(kBase + i, "r" + std::to_string(i));
  h.receiver->refuse_next = 5;
  auto t = h.tailer(std::make_shared<FakeLogApi>(h.log));
  t->start();
  ASSERT_TRUE(waitFor([&] { return h.receiver->snapshot().size() == 10; }));
  t->stop();
  EXPECT_EQ(h.receiver->refuse_next.load(), 0);
  EXPECT_EQ(h.receiver->snapshot().size(), 10u);
}

TEST(TailerTest, FinishedContainerStopsTailing) {
  Harness h;
  h.log->append(kBase, "last words");
  auto api = std::make_shared<FakeLogApi>(h.log);
  api->follow = false;  // the container exited: the server ends the stream
  api->pod.container_terminated = true;
  api->pod.restart_policy = "Never";
  auto t = h.tailer(api);
  t->start();
  ASSERT_TRUE(waitFor([&] { return t->finished(); }));
  t->stop();
  EXPECT_EQ(texts(h.receiver->snapshot()), std::vector<std::string>{"last words"});
  EXPECT_EQ(api->opened.load(), 1);
}

TEST(TailerTest, StopIsPromptWhileStreamIsIdle) {
  Harness h;
  auto t = h.tailer(std::make_shared<FakeLogApi>(h.log));
  t->start();
  std::this_thread::sleep_for(20ms);
  auto began = std::chrono::steady_clock::now();
  t->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - began, 1s);
}

}  // namespace
}  // namespace telegate::loki::source_kubernetes
