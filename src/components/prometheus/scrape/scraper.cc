// prometheus.scrape: the scrape scheduler (worker pool, one loop per target), one scrape from
// request to delivery, and the component (see scrape.h for the contract).
#include "src/components/prometheus/scrape/scrape.h"

#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <thread>

#include "src/common/log.h"
#include "src/common/metrics.h"
#include "src/common/strings.h"
#include "src/components/prometheus/scrape/body_reader.h"
#include "src/net/http_client.h"

namespace telegate::prometheus::scrape {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::nanoseconds;

constexpr size_t kMinWorkers = 4;
constexpr size_t kMaxWorkers = 64;
// A scrape that held at least this much returns freed memory to the system (malloc_trim).
constexpr size_t kTrimAfterBytes = size_t{8} << 20;

bool startsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

int64_t unixMillis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

struct Config {
  std::vector<std::shared_ptr<Appendable>> receivers;
  ProcessOptions popts;
  bool extra_metrics = false;
  std::shared_ptr<net::HttpClient> client;
  std::vector<std::pair<std::string, std::string>> headers;
  size_t body_limit = kDefaultBodyLimit;
  int64_t body_size_limit = 0;  // as configured (scrape_body_size_bytes reports it)
  ExpositionFormat fallback = ExpositionFormat::kText004;
  std::string target_limit_error;  // non-empty: every scrape fails with it
  MemoryBudget* budget = &globalMemoryBudget();
};

struct TargetState {
  enum class Phase { kActive, kRetiring };
  // Guarded by Scraper::mu_.
  std::shared_ptr<const ScrapeTarget> target;
  Phase phase = Phase::kActive;
  uint64_t gen = 0;
  bool running = false;
  bool scraped_once = false;
  Clock::time_point next_due{};
  int64_t next_due_ms = 0;
  int64_t stale_ms = 0;
  std::string last_error;
  std::string last_failure_reason;
  int64_t last_scrape_ms = 0;
  double last_duration = 0;
  bool up = false;
  // Owned by the worker that set `running`.
  SeriesState series;
};

struct HeapEntry {
  Clock::time_point due;
  uint64_t gen;
  std::shared_ptr<TargetState> st;
  bool operator>(const HeapEntry& o) const { return due > o.due; }
};

}  // namespace

class Scraper {
 public:
  Scraper(std::string id, metrics::Registry& reg, log::Logger logger)
      : id_(std::move(id)), logger_(std::move(logger)) {
    auto& scrapes = reg.counter("telegate_scrape_scrapes_total",
                                "Scrapes performed by prometheus.scrape.", {"component_id"});
    scrapes_ = &scrapes.with({id_});
    auto& failed =
        reg.counter("telegate_scrape_failed_scrapes_total",
                    "Scrapes that failed (up = 0), by reason.", {"component_id", "reason"});
    for (std::string_view r : {"http_status", "transport", "body_size", "parse", "sample_limit",
                               "label_limit", "target_limit", "memory_budget"}) {
      failed_[std::string(r)] = &failed.with({id_, std::string(r)});
    }
    samples_ = &reg.counter("telegate_scrape_samples_scraped_total",
                            "Samples read from scraped bodies.", {"component_id"})
                    .with({id_});
    auto& dropped =
        reg.counter("telegate_scrape_dropped_samples_total",
                    "Scraped samples not delivered, by reason.", {"component_id", "reason"});
    refused_ = &dropped.with({id_, "append_refused"});
    duplicates_ = &dropped.with({id_, "duplicate"});
    stale_dropped_ = &dropped.with({id_, "memory_budget"});
    active_ =
        &reg.gauge("telegate_scrape_targets_active", "Targets being scraped.", {"component_id"})
             .with({id_});
    invalid_ = &reg.gauge("telegate_scrape_targets_invalid",
                          "Entries of `targets` skipped because their labels are invalid.",
                          {"component_id"})
                    .with({id_});
    duration_ =
        &reg.histogram("telegate_scrape_duration_seconds",
                       "Duration of scrapes (HTTP request and processing).", {"component_id"}, {})
             .with({id_});
  }

  ~Scraper() { stop(); }

  absl::Status configure(const Arguments& args) {
    auto cfg = std::make_shared<Config>();
    for (const auto& r : args.forward_to) {
      if (r.ptr) cfg->receivers.push_back(r.ptr);
    }
    cfg->popts.honor_labels = args.honor_labels;
    cfg->popts.honor_timestamps = args.honor_timestamps;
    cfg->popts.track_timestamps_staleness = args.track_timestamps_staleness;
    cfg->popts.sample_limit = args.sample_limit;
    cfg->popts.label_limit = args.label_limit;
    cfg->popts.label_name_length_limit = args.label_name_length_limit;
    cfg->popts.label_value_length_limit = args.label_value_length_limit;
    cfg->extra_metrics = args.extra_metrics;
    cfg->body_size_limit = static_cast<int64_t>(args.body_size_limit.bytes);
    if (args.body_size_limit.bytes > 0) cfg->body_limit = args.body_size_limit.bytes;
    cfg->fallback = startsWith(args.scrape_fallback_protocol, "OpenMetrics")
                        ? ExpositionFormat::kOpenMetrics
                        : ExpositionFormat::kText004;
    net::HttpClientOptions copts = components::clientOptions(args);
    copts.http2 = args.enable_http2 && args.scheme == "https";
    copts.max_response_body = cfg->body_limit + 1;
    cfg->client = std::make_shared<net::HttpClient>(copts);
    cfg->headers.emplace_back("Accept", acceptHeader(args.scrape_protocols));
    cfg->headers.emplace_back("Accept-Encoding", args.enable_compression ? "gzip" : "identity");
    absl::Status result;
    auto auth = components::authorizationHeader(args);
    if (!auth.ok()) {
      result = auth.status();
    } else if (!auth->empty()) {
      cfg->headers.emplace_back("Authorization", std::move(*auth));
    }

    std::map<uint64_t, ScrapeTarget> next;
    size_t invalid = 0;
    for (const auto& raw : args.targets) {
      auto t = populateTarget(raw, args, id_);
      if (!t.ok()) {
        ++invalid;
        if (invalid_log_.shouldLog()) {
          auto a = raw.find("__address__");
          logger_.warn("skipping an invalid target",
                       {{"target", a == raw.end() ? std::string() : a->second},
                        {"err", std::string(t.status().message())}});
        }
        continue;
      }
      uint64_t h = t->hash;
      next.emplace(h, std::move(*t));
    }
    invalid_->set(static_cast<double>(invalid));
    if (args.target_limit > 0 && static_cast<int64_t>(next.size()) > args.target_limit) {
      cfg->target_limit_error = strCat("target_limit exceeded (number of targets: ", next.size(),
                                       ", limit: ", args.target_limit, ")");
    }

    std::lock_guard<std::mutex> l(mu_);
    cfg_ = cfg;
    for (auto it = targets_.begin(); it != targets_.end();) {
      auto& st = it->second;
      if (next.contains(it->first) || st->phase == TargetState::Phase::kRetiring) {
        ++it;
        continue;
      }
      if (!st->scraped_once && !st->running) {  // nothing to mark stale
        st->gen++;
        it = targets_.erase(it);
        continue;
      }
      st->phase = TargetState::Phase::kRetiring;
      if (!st->running) scheduleRetirement(*st, st);
      ++it;
    }
    for (auto& [h, t] : next) {
      auto it = targets_.find(h);
      if (it == targets_.end()) {
        auto st = std::make_shared<TargetState>();
        st->target = std::make_shared<const ScrapeTarget>(std::move(t));
        targets_.emplace(h, st);
        scheduleScrape(st);
        continue;
      }
      auto& st = it->second;
      bool reschedule =
          st->target->interval != t.interval || st->phase == TargetState::Phase::kRetiring;
      st->target = std::make_shared<const ScrapeTarget>(std::move(t));
      st->phase = TargetState::Phase::kActive;
      if (reschedule && !st->running) scheduleScrape(st);
    }
    updateActiveLocked();
    ensureWorkersLocked();
    cv_.notify_all();
    return result;
  }

  void start() {
    std::lock_guard<std::mutex> l(mu_);
    started_ = true;
    ensureWorkersLocked();
  }

  void stop() {
    std::vector<std::thread> workers;
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
      workers.swap(workers_);
      cv_.notify_all();
    }
    for (auto& w : workers) w.join();
  }

  syntax::Value debugInfo() const {
    syntax::Array arr;
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [h, st] : targets_) {
      syntax::Object labels;
      for (const auto& [k, v] : st->target->public_labels) labels[k] = syntax::Value::string(v);
      std::string health = st->last_scrape_ms == 0 ? "unknown" : st->up ? "up" : "down";
      arr.push_back(syntax::Value::object(
          {{"url", syntax::Value::string(st->target->url)},
           {"labels", syntax::Value::object(std::move(labels))},
           {"health", syntax::Value::string(st->phase == TargetState::Phase::kRetiring ? "retiring"
                                                                                       : health)},
           {"last_error", syntax::Value::string(st->last_error)},
           {"last_failure_reason", syntax::Value::string(st->last_failure_reason)},
           {"last_scrape_unix_ms", syntax::Value::integer(st->last_scrape_ms)},
           {"last_scrape_duration_seconds", syntax::Value::floating(st->last_duration)}}));
    }
    return syntax::Value::object({{"targets", syntax::Value::array(std::move(arr))}});
  }

 private:
  // The next slot of `st` after now: Unix time congruent to the target's offset.
  void scheduleScrape(const std::shared_ptr<TargetState>& st) {
    const nanoseconds iv = st->target->interval;
    const nanoseconds off = scrapeOffset(st->target->hash, iv);
    const int64_t now_unix =
        std::chrono::duration_cast<nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    const auto now = Clock::now();
    int64_t next = now_unix - (now_unix % iv.count()) + off.count();
    while (next <= now_unix) next += iv.count();
    st->next_due = now + nanoseconds(next - now_unix);
    st->next_due_ms = next / 1000000;
    st->gen++;
    heap_.push({st->next_due, st->gen, st});
  }

  // End-of-run staleness: markers stamped with the next slot, written ~1.1 intervals after it.
  void scheduleRetirement(TargetState& st, const std::shared_ptr<TargetState>& ptr) {
    const nanoseconds iv = st.target->interval;
    st.stale_ms = st.next_due_ms;
    st.gen++;
    heap_.push({st.next_due + iv + iv / 10, st.gen, ptr});
  }

  // Counts active targets and the workers they need: enough that every target could time out
  // on every scrape and still be scraped on schedule (sum of timeout/interval), at least
  // kMinWorkers (or one per target when fewer), at most kMaxWorkers.
  void updateActiveLocked() {
    size_t n = 0;
    double busy = 0;
    for (const auto& [h, st] : targets_) {
      if (st->phase != TargetState::Phase::kActive) continue;
      ++n;
      busy += std::chrono::duration<double>(st->target->timeout).count() /
              std::chrono::duration<double>(st->target->interval).count();
    }
    active_->set(static_cast<double>(n));
    want_workers_ = std::min(
        kMaxWorkers, std::max(std::min(n, kMinWorkers), static_cast<size_t>(std::ceil(busy)) + 1));
  }

  // Workers are added when needed and kept until stop() (idle ones only wait on cv_).
  void ensureWorkersLocked() {
    if (!started_ || stopping_) return;
    size_t want = std::max<size_t>(1, want_workers_);
    while (workers_.size() < want) workers_.emplace_back([this] { workerLoop(); });
  }

  void workerLoop() {
    std::unique_lock<std::mutex> l(mu_);
    while (!stopping_) {
      if (heap_.empty()) {
        cv_.wait(l);
        continue;
      }
      HeapEntry top = heap_.top();
      if (top.gen != top.st->gen || top.st->running) {
        heap_.pop();
        continue;
      }
      if (top.due > Clock::now()) {
        cv_.wait_until(l, top.due);
        continue;
      }
      heap_.pop();
      auto st = top.st;
      st->running = true;
      auto cfg = cfg_;
      auto target = st->target;
      const bool retiring = st->phase == TargetState::Phase::kRetiring;
      const int64_t stale_ms = st->stale_ms;
      l.unlock();
      if (retiring) {
        SeriesBatch out;
        endOfRunStaleness(*target, cfg->extra_metrics, stale_ms, &st->series, &out);
        deliver(*cfg, std::move(out));
      } else {
        scrapeOnce(*st, *target, *cfg);
      }
      l.lock();
      st->running = false;
      if (retiring && st->phase == TargetState::Phase::kRetiring) {
        auto it = targets_.find(target->hash);
        if (it != targets_.end() && it->second == st) targets_.erase(it);
        st->gen++;
      } else if (st->phase == TargetState::Phase::kActive) {
        scheduleScrape(st);
      } else {  // removed while it was being scraped
        st->next_due_ms = 0;
        scheduleScrape(st);  // computes the slot the next scrape would have had
        scheduleRetirement(*st, st);
      }
      updateActiveLocked();
      cv_.notify_all();
    }
  }

  // One scrape, then, when it held a lot, the freed memory goes back to the system: workers
  // allocate from their own malloc arenas and the process raises the trim threshold, so without
  // this every worker would keep the peak of the largest scrape it ran resident.
  void scrapeOnce(TargetState& st, const ScrapeTarget& t, const Config& cfg) {
    if (scrapeAndDeliver(st, t, cfg) >= kTrimAfterBytes) malloc_trim(0);
  }

  // One scrape: the body is parsed and turned into series while it arrives (BodyReader ->
  // ExpositionParser -> ScrapeAppender), so a failing limit stops the transfer at once. Returns
  // the most memory the scrape held.
  size_t scrapeAndDeliver(TargetState& st, const ScrapeTarget& t, const Config& cfg) {
    const auto wall = std::chrono::system_clock::now();
    const int64_t scrape_ms = unixMillis(wall);
    const auto t0 = Clock::now();
    std::string err, reason;
    bool ok = false;
    size_t body_bytes = 0;
    ScrapeCharge charge(cfg.budget);  // released after delivery
    SeriesBatch batch;
    ScrapeAppender app(t, cfg.popts, scrape_ms, &st.series, &batch, &charge);
    if (!cfg.target_limit_error.empty()) {
      err = cfg.target_limit_error;
      reason = "target_limit";
    } else {
      std::optional<ExpositionParser> parser;
      std::optional<BodyReader> reader;
      absl::Status body_status;
      int status = 0;
      bool began = false;
      // At the first piece of the body (or at its end when it is empty): status and headers.
      auto begin = [&](const net::HttpClientResponse& head) {
        began = true;
        status = head.status;
        if (status < 200 || status > 299) return false;
        std::string_view ct = head.header("content-type");
        ExpositionFormat fmt = cfg.fallback;
        if (ct.find("application/openmetrics-text") != std::string_view::npos) {
          fmt = ExpositionFormat::kOpenMetrics;
        } else if (startsWith(ct, "text/plain")) {
          fmt = ExpositionFormat::kText004;
        }
        parser.emplace(fmt);
        reader.emplace(cfg.body_limit, &charge, &*parser, &app);
        body_status = reader->begin(head.header("content-encoding"));
        return body_status.ok();
      };
      net::HttpClientRequest req;
      req.method = "GET";
      req.url = t.url;
      req.headers = cfg.headers;
      req.headers.emplace_back(
          "X-Prometheus-Scrape-Timeout-Seconds",
          metrics::formatValue(std::chrono::duration<double>(t.timeout).count()));
      req.timeout = std::max(std::chrono::milliseconds(1),
                             std::chrono::duration_cast<std::chrono::milliseconds>(t.timeout));
      req.on_body = [&](const net::HttpClientResponse& head, std::string_view piece) {
        if (!began && !begin(head)) return false;
        body_status = reader->feed(piece);
        return body_status.ok();
      };
      auto resp = cfg.client->send(req);
      if (resp.ok() && !began) begin(*resp);
      if (resp.ok()) status = resp->status;
      if (!resp.ok() && !absl::IsAborted(resp.status())) {
        err = std::string(resp.status().message());
        reason = "transport";
      } else if (status < 200 || status > 299) {
        err = strCat("server returned HTTP status ", status);
        reason = "http_status";
      } else {
        if (body_status.ok()) body_status = reader->finish();
        if (!body_status.ok()) {
          err = std::string(body_status.message());
          reason = !reader->failureReason().empty() ? reader->failureReason()
                   : !app.failureReason().empty()   ? app.failureReason()
                                                    : "parse";
        } else {
          ok = true;
          body_bytes = reader->bodyBytes();
        }
      }
    }
    ProcessResult r = app.finish(ok);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const double report[] = {ok ? 1.0 : 0.0,
                             secs,
                             static_cast<double>(r.scraped),
                             static_cast<double>(r.post_relabel),
                             static_cast<double>(r.series_added),
                             std::chrono::duration<double>(t.timeout).count(),
                             static_cast<double>(cfg.popts.sample_limit),
                             static_cast<double>(ok ? body_bytes : 0)};
    const size_t nreport = cfg.extra_metrics ? std::size(kReportNames) : 5;
    for (size_t i = 0; i < nreport; ++i) {
      addReportSample(t, kReportNames[i], scrape_ms, report[i], &batch);
    }
    st.series.reported = true;

    scrapes_->inc();
    samples_->inc(static_cast<double>(r.scraped));
    if (r.duplicates > 0) duplicates_->inc(static_cast<double>(r.duplicates));
    if (r.stale_dropped > 0) {
      stale_dropped_->inc(static_cast<double>(r.stale_dropped));
      if (stale_dropped_log_.shouldLog()) {
        logger_.warn("stale markers dropped: the memory budget is exhausted",
                     {{"target", t.url}, {"markers", std::to_string(r.stale_dropped)}});
      }
    }
    duration_->observe(secs);
    if (!ok) {
      if (auto it = failed_.find(reason); it != failed_.end()) it->second->inc();
      if (scrape_fail_log_.shouldLog()) {
        logger_.warn("scrape failed", {{"target", t.url}, {"reason", reason}, {"err", err}});
      }
    }
    {  // the target's health is visible before its samples are (debug info, tests)
      std::lock_guard<std::mutex> l(mu_);
      st.scraped_once = true;
      st.up = ok;
      st.last_error = err;
      st.last_failure_reason = reason;
      st.last_scrape_ms = scrape_ms;
      st.last_duration = secs;
    }
    deliver(cfg, std::move(batch));
    return charge.held();
  }

  void deliver(const Config& cfg, SeriesBatch&& batch) {
    if (batch.empty() || cfg.receivers.empty()) return;
    const size_t n = batch.sampleCount();
    for (size_t i = 0; i < cfg.receivers.size(); ++i) {
      absl::Status st;
      if (i + 1 == cfg.receivers.size()) {
        st = cfg.receivers[i]->append(std::move(batch));
      } else {
        SeriesBatch copy = batch;
        st = cfg.receivers[i]->append(std::move(copy));
      }
      if (!st.ok()) {
        refused_->inc(static_cast<double>(n));
        if (refused_log_.shouldLog()) {
          logger_.warn("a forward_to receiver refused scraped samples; they are dropped",
                       {{"receiver", cfg.receivers[i]->describe()},
                        {"samples", std::to_string(n)},
                        {"err", std::string(st.message())}});
        }
      }
    }
  }

  const std::string id_;
  const log::Logger logger_;
  metrics::Counter* scrapes_;
  std::map<std::string, metrics::Counter*> failed_;
  metrics::Counter* samples_;
  metrics::Counter* refused_;
  metrics::Counter* duplicates_;
  metrics::Counter* stale_dropped_;
  metrics::Gauge* active_;
  metrics::Gauge* invalid_;
  metrics::Histogram* duration_;
  log::OnceEvery refused_log_{std::chrono::seconds(60)};
  log::OnceEvery scrape_fail_log_{std::chrono::seconds(60)};
  log::OnceEvery invalid_log_{std::chrono::seconds(60)};
  log::OnceEvery stale_dropped_log_{std::chrono::seconds(60)};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const Config> cfg_;
  std::map<uint64_t, std::shared_ptr<TargetState>> targets_;
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<HeapEntry>> heap_;
  std::vector<std::thread> workers_;
  size_t want_workers_ = 1;
  bool started_ = false;
  bool stopping_ = false;
};

Component::Component(runtime::Host& host, const Arguments& args)
    : host_(host), scraper_(std::make_shared<Scraper>(host.id(), host.metrics(), host.logger())) {
  absl::Status st = scraper_->configure(args);
  if (!st.ok()) {
    host_.logger().error("cannot configure the scrape client",
                         {{"err", std::string(st.message())}});
  }
}

Component::~Component() {
  scraper_->stop();
}

absl::Status Component::start() {
  scraper_->start();
  host_.setHealth(runtime::HealthState::kHealthy, "");
  return absl::OkStatus();
}

absl::Status Component::update(const Arguments& args) {
  absl::Status st = scraper_->configure(args);
  if (!st.ok()) return st;
  return absl::OkStatus();
}

void Component::shutdown(std::chrono::steady_clock::time_point) {
  scraper_->stop();
}

syntax::Value Component::debugInfo() const {
  return scraper_->debugInfo();
}

}  // namespace telegate::prometheus::scrape
