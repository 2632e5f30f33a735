// The controller: loads configuration, builds the component graph, runs and reloads it.
//
// Contract:
//   - load() parses the sources, resolves component names against the Registry, builds the
//     dependency graph from references (rejecting unknown names, unresolved references, cycles and
//     duplicate IDs), and evaluates every component's arguments in dependency order. Any error
//     diagnostic rejects the whole load and leaves the running graph untouched (a reload that fails
//     keeps the old configuration serving). On success it commits: removed components shut down,
//     kept components (same ID and type) receive update() and keep their exported handles, new
//     components start in dependency order.
//   - Runtime failures (a port in use, an unreachable API server) do not fail a load: the component
//     is reported unhealthy and the rest runs.
//   - When a component publishes new exports, its dependents are re-evaluated on the controller's
//     worker thread, in dependency order.
//   - load(), shutdown() and status() are thread-safe. One load or re-evaluation runs at a time.
// Threading: see docs/architecture.md. The controller owns one worker thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "src/common/metrics.h"
#include "src/runtime/component.h"
#include "src/runtime/http_block.h"
#include "src/runtime/registry.h"
#include "src/syntax/ast.h"
#include "src/syntax/diag.h"

namespace telegate::runtime {

struct ControllerOptions {
  std::string storage_path = "data-alloy";
  metrics::Registry* metrics = nullptr;  // defaults to metrics::defaultRegistry()
  // When false, components are built and discarded but never started (`telegate validate`).
  bool run_components = true;
  const Registry* registry = nullptr;  // defaults to Registry::global()
  // Called (on the loading thread, under the load lock) when a load commits, with the root `http`
  // block or its defaults when the configuration has none. Not called by loads that fail or that
  // do not run components.
  std::function<void(const HttpBlockArgs&)> on_http_block;
};

struct LoadResult {
  bool ok = false;
  syntax::Diagnostics diags;  // errors (when !ok) and warnings
  std::map<std::string, syntax::SourceFilePtr> files;
  std::string formatted() const;  // diagnostics rendered with source excerpts
};

struct ComponentStatus {
  std::string id;
  std::string name;
  std::string label;
  Health health;
  syntax::Value arguments;
  syntax::Value exports;
  syntax::Value debug_info;
  std::vector<std::string> references_to;
  std::vector<std::string> referenced_by;
};

class Node;

class Controller {
 public:
  explicit Controller(ControllerOptions opts);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  LoadResult load(const std::vector<syntax::SourceFilePtr>& sources);

  // Stops every component (reverse dependency order) and the worker. Idempotent. `deadline` is
  // shared out: a component whose longest chain of references to other components has length h
  // (its height: 0 for an exporter, 1 for a processor in front of one) is given
  // shareOfDeadline(now, deadline, h) when its turn comes, so what it flushes downstream keeps
  // time to be delivered.
  void shutdown(std::chrono::steady_clock::time_point deadline);

  bool loaded() const { return loaded_.load(); }
  std::vector<ComponentStatus> status() const;

  // Blocks until queued export-change re-evaluations have been processed (tests).
  void waitIdleForTest();

 private:
  friend class Node;
  struct Graph;
  struct Staged;

  // The steps of load(), all under load_mu_. buildGraph() (controller_graph.cc) parses `sources`
  // into res->files, classifies the top-level blocks and orders the components by their
  // references; false when it added an error. stageComponents() (controller_graph.cc) evaluates
  // the components' arguments in that order and builds the new ones, not started; errors go to
  // *diags. commit() (controller_reload.cc) shuts down what the configuration no longer has,
  // applies the root blocks, updates kept components, starts new ones and publishes the graph.
  bool buildGraph(const std::vector<syntax::SourceFilePtr>& sources, LoadResult* res,
                  Staged* st) const;
  void stageComponents(Staged* st, syntax::Diagnostics* diags);
  void commit(Staged* st, const LoadResult& res);

  void onExportsChanged(const std::string& id);
  void workerLoop();
  void reevaluateDependents(const std::string& id);
  void updateHealthMetrics();

  ControllerOptions opts_;
  const Registry& registry_;
  metrics::Registry& metrics_;

  mutable std::mutex load_mu_;   // serialises load / re-evaluation / shutdown
  mutable std::mutex graph_mu_;  // guards the graph_ pointer (readers copy it)
  std::shared_ptr<Graph> graph_;
  std::atomic<bool> loaded_{false};
  bool shut_down_ = false;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::string> queue_;  // component IDs whose exports changed
  bool worker_busy_ = false;
  bool stop_worker_ = false;
  std::thread worker_;
  uint64_t collector_id_ = 0;
};

// now + (deadline - now) / (height + 1); `deadline` itself when height is 0 or it has passed.
std::chrono::steady_clock::time_point shareOfDeadline(
    std::chrono::steady_clock::time_point now, std::chrono::steady_clock::time_point deadline,
    size_t height);

// Reads CONFIG_PATH: one file, or every *.alloy file directly inside a directory (sorted).
absl::StatusOr<std::vector<syntax::SourceFilePtr>> readConfigSources(const std::string& path);

}  // namespace telegate::runtime
