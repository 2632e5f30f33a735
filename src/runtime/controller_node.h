// Internal to the controller (controller*.cc): the graph node that is also a component's Host,
// the committed graph, the work in progress of one load, and the evaluation scope.
//
// Contract and threading:
//   - Node implements Host for one component. Its Host methods and exports()/health()/args() may
//     be called from any thread (the component's own threads, the admin server through status()):
//     they take the node's mutex only. setExports() notifies the controller (which queues a
//     re-evaluation of the dependents on its worker thread) only while the node publishes: from
//     its start until it is removed or shut down. The public fields after the accessors are owned
//     by the controller and written only under Controller::load_mu_.
//   - Controller::Graph is immutable once published in Controller::graph_ (readers copy the
//     shared_ptr under graph_mu_).
//   - Controller::Staged lives on the loading thread for one load, under load_mu_.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "src/runtime/controller.h"
#include "src/runtime/logging_block.h"

namespace telegate::runtime {

// Orders health states from best to worst; a node reports the worse of its two healths.
inline int healthRank(HealthState s) {
  switch (s) {
    case HealthState::kHealthy:
      return 0;
    case HealthState::kUnknown:
      return 1;
    case HealthState::kExited:
      return 2;
    case HealthState::kUnhealthy:
      return 3;
  }
  return 1;
}

// A component instance in the graph; also the Host the component talks to.
class Node : public Host {
 public:
  Node(Controller* ctl, std::string id, std::string name, std::string label,
       const Registration* reg, std::string data_path)
      : ctl_(ctl),
        id_(std::move(id)),
        name_(std::move(name)),
        label_(std::move(label)),
        reg_(reg),
        data_path_(std::move(data_path)),
        logger_(std::vector<std::pair<std::string, std::string>>{{"component_id", id_}}),
        metrics_(&ctl->metrics_) {}

  // Host
  const std::string& id() const override { return id_; }
  const std::string& dataPath() const override { return data_path_; }
  const log::Logger& logger() const override { return logger_; }
  metrics::Registry& metrics() const override { return *metrics_; }
  void setExports(syntax::Object exports) override {
    bool notify = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      syntax::Value nv = syntax::Value::object(exports);
      if (exports_set_ && syntax::Value::object(exports_) == nv) return;
      exports_ = std::move(exports);
      exports_set_ = true;
      notify = publish_;
    }
    if (notify) ctl_->onExportsChanged(id_);
  }
  void setHealth(HealthState state, std::string message) override {
    std::lock_guard<std::mutex> l(mu_);
    component_health_ = Health{state, std::move(message), std::chrono::system_clock::now()};
  }

  syntax::Object exports() const {
    std::lock_guard<std::mutex> l(mu_);
    return exports_;
  }
  void setEvalHealth(HealthState state, std::string message) {
    std::lock_guard<std::mutex> l(mu_);
    eval_health_ = Health{state, std::move(message), std::chrono::system_clock::now()};
  }
  // Marks the component healthy after a successful start/update unless it reported otherwise.
  void defaultHealthy() {
    std::lock_guard<std::mutex> l(mu_);
    if (component_health_.state == HealthState::kUnknown) {
      component_health_ =
          Health{HealthState::kHealthy, "started", std::chrono::system_clock::now()};
    }
  }
  Health health() const {
    std::lock_guard<std::mutex> l(mu_);
    return healthRank(eval_health_.state) >= healthRank(component_health_.state)
               ? eval_health_
               : component_health_;
  }
  void setPublish(bool p) {
    std::lock_guard<std::mutex> l(mu_);
    publish_ = p;
  }
  void setArgs(ArgsHolder a) {
    std::lock_guard<std::mutex> l(mu_);
    args_ = std::move(a);
  }
  ArgsHolder args() const {
    std::lock_guard<std::mutex> l(mu_);
    return args_;
  }

  const std::string& name() const { return name_; }
  const std::string& label() const { return label_; }
  const Registration* reg() const { return reg_; }

  // Owned by the controller (guarded by Controller::load_mu_).
  const syntax::ast::Block* block = nullptr;
  std::string file;
  std::vector<std::string> deps;
  std::unique_ptr<Component> component;
  bool started = false;

 private:
  Controller* ctl_;
  std::string id_, name_, label_;
  const Registration* reg_;
  std::string data_path_;
  log::Logger logger_;
  metrics::Registry* metrics_;

  mutable std::mutex mu_;
  syntax::Object exports_;
  bool exports_set_ = false;
  bool publish_ = false;
  Health component_health_;
  Health eval_health_{HealthState::kHealthy, "", {}};
  ArgsHolder args_;
};

struct Controller::Graph {
  std::vector<std::shared_ptr<const syntax::ast::File>> files;
  std::map<std::string, syntax::SourceFilePtr> sources;
  std::vector<std::shared_ptr<Node>> order;  // dependencies first
  std::map<std::string, std::shared_ptr<Node>, std::less<>> by_id;
  std::map<std::string, std::vector<std::string>> dependents;
  std::map<std::string, std::vector<std::string>> deps;
};

// One load in progress (Controller::load): what buildGraph() found, the decoded root blocks and,
// after stageComponents(), a node per component (kept or newly built, not started).
struct Controller::Staged {
  struct Decl {
    const syntax::ast::Block* block;
    std::string file;
    std::string id;
    const Registration* reg;
  };
  struct StagedNode {
    std::shared_ptr<Node> node;
    bool is_new = false;
    ArgsHolder args;
  };
  std::vector<std::shared_ptr<const syntax::ast::File>> files;  // parsed sources
  std::vector<Decl> decls;                                      // components, in source order
  const syntax::ast::Block* logging_block = nullptr;
  std::string logging_file;
  const syntax::ast::Block* http_block = nullptr;
  std::string http_file;
  std::vector<std::vector<size_t>> deps;  // indexes into decls: what decls[i] references
  std::vector<size_t> order;              // indexes into decls, dependencies first
  LoggingArgs logging;
  HttpBlockArgs http;
  std::vector<StagedNode> staged;  // by index into decls; no node where evaluation failed
};

// The evaluation root: the stdlib plus every component's exports at its dotted ID.
syntax::Object buildRoot(const std::map<std::string, syntax::Object>& exports);

}  // namespace telegate::runtime
