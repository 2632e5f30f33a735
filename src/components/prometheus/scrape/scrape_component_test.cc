// prometheus.scrape as a component against an in-process HTTP server: scheduling, headers,
// failures and their reasons, staleness, limits.
#include "src/components/prometheus/scrape/scrape.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "src/common/decompress.h"
#include "src/common/memory_budget.h"
#include "src/net/http_server.h"
#include "test/fakes/fake_host.h"

namespace telegate::prometheus::scrape {
namespace {

using namespace std::chrono_literals;
using ::telegate::testing::FakeHost;

class Sink : public Appendable {
 public:
  absl::Status append(SeriesBatch&& batch) override {
    std::lock_guard<std::mutex> l(mu_);
    if (refuse_) return absl::ResourceExhaustedError("full");
    for (auto& s : batch.samples()) samples_.push_back(std::move(s));
    cv_.notify_all();
    return absl::OkStatus();
  }
  std::vector<Sample> samples() {
    std::lock_guard<std::mutex> l(mu_);
    return samples_;
  }
  bool waitFor(const std::function<bool(const std::vector<Sample>&)>& pred,
               std::chrono::milliseconds timeout = 5s) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return pred(samples_); });
  }
  void setRefuse(bool r) {
    std::lock_guard<std::mutex> l(mu_);
    refuse_ = r;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Sample> samples_;
  bool refuse_ = false;
};

std::string labelOf(const Sample& s, std::string_view name) {
  for (const auto& [k, v] : s.labels) {
    if (k == name) return v;
  }
  return "";
}

// Samples named `name` whose instance label is `instance`.
std::vector<Sample> named(const std::vector<Sample>& all, std::string_view name,
                          std::string_view instance = "") {
  std::vector<Sample> out;
  for (const auto& s : all) {
    if (labelOf(s, "__name__") == name &&
        (instance.empty() || labelOf(s, "instance") == instance)) {
      out.push_back(s);
    }
  }
  return out;
}

class ScrapeComponentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    net::HttpServerOptions o;
    o.io_threads = 3;
    server_ = std::make_unique<net::HttpServer>(o, [this](const net::HttpRequest& r) {
      net::HttpResponse resp;
      std::function<net::HttpResponse(const net::HttpRequest&)> h;
      {
        std::lock_guard<std::mutex> l(mu_);
        requests_.push_back(r);
        h = handler_;
      }
      return h(r);
    });
    ASSERT_TRUE(server_->start().ok());
    addr_ = server_->boundAddress();
    setHandler([](const net::HttpRequest&) {
      net::HttpResponse r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = "# TYPE m counter\nm_total{a=\"1\"} 7\n";
      return r;
    });
  }
  void TearDown() override {
    if (comp_) comp_->shutdown(std::chrono::steady_clock::now() + 5s);
    comp_.reset();
    server_->stop();
  }
  void setHandler(std::function<net::HttpResponse(const net::HttpRequest&)> h) {
    std::lock_guard<std::mutex> l(mu_);
    handler_ = std::move(h);
  }
  std::vector<net::HttpRequest> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }
  Arguments args() {
    Arguments a;
    a.targets = {{{"__address__", addr_}}};
    a.forward_to = {{sink_}};
    a.scrape_interval = Duration(200ms);
    a.scrape_timeout = Duration(150ms);
    return a;
  }
  void start(const Arguments& a) {
    comp_ = std::make_unique<Component>(host_, a);
    ASSERT_TRUE(comp_->start().ok());
    EXPECT_EQ(host_.health(), runtime::HealthState::kHealthy);
  }
  // Waits for `up` samples of the target (instance = addr_) and returns the last one.
  std::optional<Sample> waitUp(size_t n = 1, const std::string& instance = "") {
    std::string inst = instance.empty() ? addr_ : instance;
    bool ok = sink_->waitFor([&](const auto& all) { return named(all, "up", inst).size() >= n; });
    if (!ok) return std::nullopt;
    return named(sink_->samples(), "up", inst)[n - 1];
  }

  FakeHost host_{"prometheus.scrape.test"};
  std::shared_ptr<Sink> sink_ = std::make_shared<Sink>();
  std::unique_ptr<net::HttpServer> server_;
  std::string addr_;
  std::unique_ptr<Component> comp_;
  std::mutex mu_;
  std::function<net::HttpResponse(const net::HttpRequest&)> handler_;
  std::vector<net::HttpRequest> requests_;
};

TEST_F(ScrapeComponentTest, ScrapesTextWithHeadersAndSyntheticSeries) {
  Arguments a = args();
  a.params = {{"module", {"m1"}}};
  start(a);
  auto up = waitUp();
  ASSERT_TRUE(up);
  EXPECT_EQ(up->value, 1);
  auto all = sink_->samples();
  auto m = named(all, "m_total");
  ASSERT_GE(m.size(), 1u);
  EXPECT_EQ(m[0].labels, (Labels{{"__name__", "m_total"},
                                 {"a", "1"},
                                 {"instance", addr_},
                                 {"job", "prometheus.scrape.test"}}));
  EXPECT_EQ(m[0].value, 7);
  EXPECT_EQ(m[0].timestamp_ms, up->timestamp_ms);
  for (std::string_view n : {"scrape_duration_seconds", "scrape_samples_scraped",
                             "scrape_samples_post_metric_relabeling", "scrape_series_added"}) {
    EXPECT_FALSE(named(all, n).empty()) << n;
  }
  EXPECT_TRUE(named(all, "scrape_timeout_seconds").empty());  // extra_metrics only
  EXPECT_EQ(named(all, "scrape_samples_scraped")[0].value, 1);
  EXPECT_EQ(named(all, "scrape_series_added")[0].value, 1);

  auto reqs = requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].target, "/metrics?module=m1");
  EXPECT_EQ(reqs[0].header("Accept"), acceptHeader(a.scrape_protocols));
  EXPECT_EQ(reqs[0].header("Accept-Encoding"), "gzip");
  EXPECT_EQ(reqs[0].header("X-Prometheus-Scrape-Timeout-Seconds"), "0.15");
  EXPECT_NE(reqs[0].header("User-Agent"), "");

  std::string expo = host_.exposition();
  EXPECT_NE(expo.find("telegate_scrape_scrapes_total{component_id=\"prometheus.scrape.test\"}"),
            std::string::npos);
  EXPECT_NE(expo.find("telegate_scrape_targets_active{component_id=\"prometheus.scrape.test\"} 1"),
            std::string::npos)
      << expo;
}

TEST_F(ScrapeComponentTest, OpenMetricsGzipAndExtraMetrics) {
  setHandler([](const net::HttpRequest&) {
    net::HttpResponse r;
    r.content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    r.headers.emplace_back("Content-Encoding", "gzip");
    r.body = *compress("gzip", "# TYPE g gauge\ng 2.5 1700000000.5\n# EOF\n");
    return r;
  });
  Arguments a = args();
  a.extra_metrics = true;
  start(a);
  ASSERT_TRUE(waitUp());
  auto all = sink_->samples();
  auto g = named(all, "g");
  ASSERT_FALSE(g.empty());
  EXPECT_EQ(g[0].value, 2.5);
  EXPECT_EQ(g[0].timestamp_ms, 1700000000500);
  EXPECT_EQ(named(all, "up")[0].value, 1);
  ASSERT_FALSE(named(all, "scrape_body_size_bytes").empty());
  EXPECT_EQ(named(all, "scrape_body_size_bytes")[0].value, 40);  // decompressed size
  EXPECT_EQ(named(all, "scrape_timeout_seconds")[0].value, 0.15);
  EXPECT_EQ(named(all, "scrape_sample_limit")[0].value, 0);
}

TEST_F(ScrapeComponentTest, FallbackProtocolForUnknownContentType) {
  setHandler([](const net::HttpRequest&) {
    net::HttpResponse r;
    r.content_type = "";
    r.body = "x 1 1700000000.5\n# EOF\n";  // a timestamp in seconds: OpenMetrics only
    return r;
  });
  Arguments a = args();
  a.scrape_fallback_protocol = "OpenMetricsText1.0.0";
  start(a);
  ASSERT_TRUE(waitUp());
  EXPECT_EQ(named(sink_->samples(), "up")[0].value, 1);
  EXPECT_EQ(named(sink_->samples(), "x")[0].timestamp_ms, 1700000000500);
}

TEST_F(ScrapeComponentTest, ErrorsGiveUpZeroAndStaleMarkers) {
  std::atomic<int> mode{0};
  setHandler([&](const net::HttpRequest&) {
    net::HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    if (mode == 0) {
      r.body = "a 1\n";
    } else if (mode == 1) {
      r.status = 503;
      r.body = "unavailable";
    } else {
      std::this_thread::sleep_for(400ms);  // beyond the 150ms timeout
      r.body = "a 1\n";
    }
    return r;
  });
  start(args());
  auto up = waitUp(1);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->value, 1);
  size_t seen = named(sink_->samples(), "up").size();
  mode = 1;
  // The first scrape after the switch fails: up = 0 and `a` goes stale.
  ASSERT_TRUE(sink_->waitFor([&](const auto& all) {
    auto ups = named(all, "up");
    return ups.size() > seen && ups.back().value == 0;
  }));
  auto as = named(sink_->samples(), "a");
  ASSERT_FALSE(as.empty());
  EXPECT_TRUE(isStaleNaN(as.back().value));
  seen = named(sink_->samples(), "up").size();
  mode = 2;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(sink_->waitFor(
      [&](const auto& all) {
        auto ups = named(all, "up");
        // wait for a scrape that started after the switch and timed out
        return ups.size() > seen + 1 && ups.back().value == 0;
      },
      5s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  std::string expo = host_.exposition();
  EXPECT_NE(expo.find("reason=\"http_status\"} 1"), std::string::npos) << expo;
  EXPECT_NE(expo.find("reason=\"transport\"}"), std::string::npos) << expo;
}

TEST_F(ScrapeComponentTest, VanishingSeriesAndRemovedTargetGoStale) {
  std::atomic<bool> with_b{true};
  setHandler([&](const net::HttpRequest&) {
    net::HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = with_b ? "a 1\nb 2\n" : "a 1\n";
    return r;
  });
  start(args());
  ASSERT_TRUE(waitUp(1));
  with_b = false;
  ASSERT_TRUE(sink_->waitFor([](const auto& all) {
    auto bs = named(all, "b");
    return !bs.empty() && isStaleNaN(bs.back().value);
  }));

  // Remove the target: after ~2.1 intervals every series of it, `up` included, is stale.
  Arguments a = args();
  a.targets.clear();
  ASSERT_TRUE(comp_->update(a).ok());
  ASSERT_TRUE(sink_->waitFor(
      [](const auto& all) {
        auto as = named(all, "a");
        auto ups = named(all, "up");
        return !as.empty() && isStaleNaN(as.back().value) && !ups.empty() &&
               isStaleNaN(ups.back().value);
      },
      3s));
  auto all = sink_->samples();
  EXPECT_TRUE(isStaleNaN(named(all, "scrape_series_added").back().value));
  // Nothing is scraped afterwards.
  size_t n = requests().size();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(requests().size(), n);
  EXPECT_NE(host_.exposition().find(
                "telegate_scrape_targets_active{component_id=\"prometheus.scrape.test\"} 0"),
            std::string::npos);
}

TEST_F(ScrapeComponentTest, UpdateKeepsTargetsAndAddsNewOnes) {
  start(args());
  ASSERT_TRUE(waitUp(2));
  // A second target (same server, another instance label) and a changed interval.
  Arguments a = args();
  a.targets.push_back({{"__address__", addr_}, {"instance", "second"}});
  a.scrape_interval = Duration(300ms);
  ASSERT_TRUE(comp_->update(a).ok());
  ASSERT_TRUE(waitUp(1, "second"));
  // The first target kept its series state: no stale marker and series_added stays 0.
  auto all = sink_->samples();
  for (const auto& s : named(all, "m_total", addr_)) EXPECT_FALSE(std::isnan(s.value));
  auto added = named(all, "scrape_series_added", addr_);
  ASSERT_GE(added.size(), 2u);
  EXPECT_EQ(added.back().value, 0);
}

TEST_F(ScrapeComponentTest, SampleLimitMakesScrapeFail) {
  setHandler([](const net::HttpRequest&) {
    net::HttpResponse r;
    r.body = "a 1\nb 2\nc 3\n";
    return r;
  });
  Arguments a = args();
  a.sample_limit = 2;
  start(a);
  auto up = waitUp();
  ASSERT_TRUE(up);
  EXPECT_EQ(up->value, 0);
  auto all = sink_->samples();
  EXPECT_TRUE(named(all, "a").empty());
  EXPECT_EQ(named(all, "scrape_samples_scraped")[0].value, 3);
}

TEST_F(ScrapeComponentTest, BodySizeLimitAndTargetLimit) {
  Arguments a = args();
  a.body_size_limit = ByteSize(10);
  start(a);
  auto up = waitUp();
  ASSERT_TRUE(up);
  EXPECT_EQ(up->value, 0);
  EXPECT_NE(host_.exposition().find("reason=\"body_size\""), std::string::npos);

  a = args();
  a.target_limit = 1;
  a.targets.push_back({{"__address__", addr_}, {"instance", "second"}});
  size_t before = requests().size();
  ASSERT_TRUE(comp_->update(a).ok());
  ASSERT_TRUE(waitUp(1, "second"));
  EXPECT_EQ(named(sink_->samples(), "up", "second")[0].value, 0);
  EXPECT_NE(host_.exposition().find("reason=\"target_limit\""), std::string::npos);
  (void)before;
}

// The debug info of the target whose url ends with `suffix`: {health, last_failure_reason}.
std::pair<std::string, std::string> targetHealth(const Component& c, std::string_view suffix) {
  syntax::Value info = c.debugInfo();
  for (const auto& t : info.asObject().at("targets").asArray()) {
    const auto& o = t.asObject();
    const std::string& url = o.at("url").asString();
    if (url.size() >= suffix.size() && url.substr(url.size() - suffix.size()) == suffix) {
      return {o.at("health").asString(), o.at("last_failure_reason").asString()};
    }
  }
  return {};
}

// gzip of `n` lines "a 1\n" (100 KB for 25M lines: 100 MB decompressed).
std::string gzipBomb(size_t n) {
  std::string unit;
  for (int i = 0; i < 16384; ++i) unit.append("a 1\n");
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
  std::string out;
  char buf[1 << 16];
  for (size_t done = 0; done < n; done += 16384) {
    z.next_in = reinterpret_cast<Bytef*>(unit.data());
    z.avail_in = static_cast<uInt>(unit.size());
    const int flush = done + 16384 >= n ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof(buf);
      deflate(&z, flush);
      out.append(buf, sizeof(buf) - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  return out;
}

TEST_F(ScrapeComponentTest, GzipBombFailsWithReasonWhileOtherTargetsAreScraped) {
  const std::string bomb = gzipBomb(25'000'000);
  setHandler([&](const net::HttpRequest& req) {
    net::HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    if (req.target == "/bomb") {
      r.headers.emplace_back("Content-Encoding", "gzip");
      r.body = bomb;
    } else {
      r.body = "good 1\n";
    }
    return r;
  });
  Arguments a = args();
  a.body_size_limit = ByteSize(1 << 20);
  a.targets = {{{"__address__", addr_}, {"__metrics_path__", "/bomb"}, {"instance", "bomb"}},
               {{"__address__", addr_}, {"instance", "good"}}};
  start(a);
  auto up = waitUp(1, "bomb");
  ASSERT_TRUE(up);
  EXPECT_EQ(up->value, 0);
  EXPECT_EQ(targetHealth(*comp_, "/bomb"),
            std::make_pair(std::string("down"), std::string("body_size")));
  // The good target keeps its schedule (one scrape every 200ms).
  ASSERT_TRUE(waitUp(4, "good"));
  for (const auto& s : named(sink_->samples(), "up", "good")) EXPECT_EQ(s.value, 1);
  EXPECT_NE(host_.exposition().find("reason=\"body_size\"}"), std::string::npos);
}

TEST_F(ScrapeComponentTest, MemoryBudgetRefusalFailsTheScrape) {
  std::string big;
  for (int i = 0; i < 200000; ++i) big += "series_" + std::to_string(i) + " 1\n";
  setHandler([&](const net::HttpRequest&) {
    net::HttpResponse r;
    r.body = big;
    return r;
  });
  MemoryBudget& budget = globalMemoryBudget();
  struct Restore {
    MemoryBudget& b;
    size_t limit;
    ~Restore() { b.setLimit(limit); }
  } restore{budget, budget.limit()};
  // One scrape may hold a quarter of the limit: about 1 MiB here, room for some 3000 series.
  budget.setLimit(budget.used() + (4 << 20));
  start(args());
  auto up = waitUp();
  ASSERT_TRUE(up);
  EXPECT_EQ(up->value, 0);
  EXPECT_TRUE(named(sink_->samples(), "series_1").empty());
  EXPECT_EQ(targetHealth(*comp_, "/metrics").second, "memory_budget");
  EXPECT_NE(host_.exposition().find("reason=\"memory_budget\"}"), std::string::npos)
      << host_.exposition();
  comp_->shutdown(std::chrono::steady_clock::now() + 5s);
  comp_.reset();
}

TEST_F(ScrapeComponentTest, RefusedAppendIsCountedNotRetried) {
  sink_->setRefuse(true);
  start(args());
  std::this_thread::sleep_for(600ms);
  sink_->setRefuse(false);
  ASSERT_TRUE(waitUp());
  std::string expo = host_.exposition();
  EXPECT_NE(expo.find("reason=\"append_refused\"}"), std::string::npos) << expo;
}

TEST_F(ScrapeComponentTest, InvalidTargetsAreSkipped) {
  Arguments a = args();
  a.targets.push_back({{"__address__", "bad/addr"}});
  a.targets.push_back({{"team", "noaddr"}});
  a.targets.push_back({{"__address__", addr_}});  // a duplicate of the first one
  start(a);
  ASSERT_TRUE(waitUp());
  std::string expo = host_.exposition();
  EXPECT_NE(expo.find("telegate_scrape_targets_active{component_id=\"prometheus.scrape.test\"} 1"),
            std::string::npos);
  EXPECT_NE(expo.find("telegate_scrape_targets_invalid{component_id=\"prometheus.scrape.test\"} 2"),
            std::string::npos)
      << expo;
}

TEST_F(ScrapeComponentTest, IntervalChangeTakesEffect) {
  Arguments a = args();
  a.scrape_interval = Duration(100ms);
  a.scrape_timeout = Duration(50ms);
  start(a);
  ASSERT_TRUE(waitUp(3));
  a.scrape_interval = Duration(2s);
  ASSERT_TRUE(comp_->update(a).ok());
  std::this_thread::sleep_for(150ms);  // a scrape in flight may still finish
  size_t n = requests().size();
  std::this_thread::sleep_for(900ms);
  EXPECT_LE(requests().size(), n + 1);
}

}  // namespace
}  // namespace telegate::prometheus::scrape
