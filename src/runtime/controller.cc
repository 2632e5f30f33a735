// Controller (controller.h has the contract): construction, load() as a sequence of steps,
// status() and reading the configuration sources. The steps live beside it: controller_graph.cc
// (parsing, classifying, ordering and staging the components), logging_block.cc and
// http_block.cc (the root blocks), controller_reload.cc (commit and re-evaluation when exports
// change), controller_shutdown.cc (shutdown order and the deadline split); controller_node.h
// holds the types they share. Threading: load() holds load_mu_ for its whole run; status() copies
// the published graph under graph_mu_ and reads each node under its own mutex.
#include "src/runtime/controller.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "src/common/strings.h"
#include "src/runtime/controller_node.h"

namespace telegate::runtime {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

std::string LoadResult::formatted() const {
  return syntax::formatDiagnostics(diags, files);
}

Controller::Controller(ControllerOptions opts)
    : opts_(std::move(opts)),
      registry_(opts_.registry != nullptr ? *opts_.registry : Registry::global()),
      metrics_(opts_.metrics != nullptr ? *opts_.metrics : metrics::defaultRegistry()) {
  worker_ = std::thread([this] { workerLoop(); });
  collector_id_ = metrics_.addCollector([this](metrics::Writer& w) {
    std::map<std::string, int> by_state = {
        {"healthy", 0}, {"unhealthy", 0}, {"unknown", 0}, {"exited", 0}};
    for (const auto& s : status()) {
      by_state[std::string(healthStateName(s.health.state))]++;
      w.gauge("telegate_component_health", "Health of each component: 1 for the state it is in.",
              {{"component_id", s.id},
               {"component_name", s.name},
               {"state", std::string(healthStateName(s.health.state))}},
              1);
    }
    for (const auto& [state, n] : by_state) {
      w.gauge("telegate_component_controller_running_components",
              "Number of running components by health.", {{"health_type", state}}, n);
    }
  });
}

Controller::~Controller() {
  shutdown(Clock::now() + std::chrono::seconds(5));
  metrics_.removeCollector(collector_id_);
}
LoadResult Controller::load(const std::vector<syntax::SourceFilePtr>& sources) {
  auto started_at = Clock::now();
  LoadResult res;
  std::lock_guard<std::mutex> load_lock(load_mu_);
  auto fail = [&]() -> LoadResult {
    metrics_.counter("telegate_config_load_failures_total", "Configuration loads that failed.")
        .with({})
        .inc();
    metrics_
        .gauge("telegate_config_last_load_successful",
               "1 when the last configuration load succeeded.")
        .with({})
        .set(0);
    res.ok = false;
    return res;
  };
  if (shut_down_) {
    res.diags.addError("-", {}, "controller is shut down");
    return fail();
  }
  auto& diags = res.diags;

  // 1.-3. Parse, classify the top-level blocks, order the components by their references.
  Staged st;
  if (!buildGraph(sources, &res, &st)) return fail();

  // 4. Root blocks: logging, http.
  if (st.logging_block != nullptr) {
    decodeLoggingBlock(*st.logging_block, st.logging_file, &diags, &st.logging);
  }
  if (st.http_block != nullptr) decodeHttpBlock(*st.http_block, st.http_file, &diags, &st.http);

  // 5. Staged evaluation: decode arguments; build new components (not started).
  stageComponents(&st, &diags);
  auto& staged = st.staged;
  auto discard_new = [&] {
    for (auto& s : staged) {
      if (s.is_new && s.node) {
        s.node->component->shutdown(Clock::now());
        s.node->component.reset();
      }
    }
  };
  if (diags.hasErrors()) {
    discard_new();
    return fail();
  }
  if (!opts_.run_components) {
    discard_new();
    res.ok = true;
    return res;
  }

  // 6. Commit.
  commit(&st, res);
  loaded_ = true;
  double secs = std::chrono::duration<double>(Clock::now() - started_at).count();
  metrics_
      .gauge("telegate_config_last_load_successful",
             "1 when the last configuration load succeeded.")
      .with({})
      .set(1);
  metrics_
      .gauge("telegate_config_last_load_success_timestamp_seconds",
             "Time of the last successful configuration load.")
      .with({})
      .set(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
               .count());
  metrics_
      .gauge("telegate_config_load_duration_seconds",
             "Duration of the last successful configuration load.")
      .with({})
      .set(secs);
  res.ok = true;
  return res;
}

void Controller::waitIdleForTest() {
  std::unique_lock<std::mutex> l(queue_mu_);
  queue_cv_.wait(l, [&] { return stop_worker_ || (queue_.empty() && !worker_busy_); });
}
std::vector<ComponentStatus> Controller::status() const {
  std::shared_ptr<Graph> graph;
  {
    std::lock_guard<std::mutex> g(graph_mu_);
    graph = graph_;
  }
  std::vector<ComponentStatus> out;
  if (!graph) return out;
  for (const auto& n : graph->order) {
    ComponentStatus s;
    s.id = n->id();
    s.name = n->name();
    s.label = n->label();
    s.health = n->health();
    ArgsHolder a = n->args();
    if (a.ptr) s.arguments = encodeObject(*n->reg()->schema, a.ptr.get());
    s.exports = syntax::Value::object(n->exports());
    if (n->component) s.debug_info = n->component->debugInfo();
    if (auto it = graph->deps.find(n->id()); it != graph->deps.end()) s.references_to = it->second;
    if (auto it = graph->dependents.find(n->id()); it != graph->dependents.end()) {
      s.referenced_by = it->second;
    }
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<syntax::SourceFilePtr>> readConfigSources(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> paths;
  if (fs::is_directory(path, ec)) {
    for (const auto& e : fs::directory_iterator(path, ec)) {
      if (e.is_regular_file() && e.path().extension() == ".alloy") {
        paths.push_back(e.path().string());
      }
    }
    std::sort(paths.begin(), paths.end());
    if (paths.empty()) {
      return absl::NotFoundError(strCat("no *.alloy files in directory ", path));
    }
  } else {
    paths.push_back(path);
  }
  std::vector<syntax::SourceFilePtr> out;
  for (const auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return absl::NotFoundError(strCat("reading ", p, ": cannot open file"));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return absl::InternalError(strCat("reading ", p, ": read error"));
    out.push_back(std::make_shared<syntax::SourceFile>(p, ss.str()));
  }
  return out;
}

}  // namespace telegate::runtime
