// Controller, applying configuration to running components (controller.h has the contract).
// commit() is the last step of a successful load: it publishes the new graph after shutting down
// the components the configuration no longer has (reverse dependency order), configuring logging
// and the admin `http` block, updating kept components (same ID and type) and starting new ones in
// dependency order. When a component publishes new exports, onExportsChanged() queues its ID and
// the worker thread re-evaluates its transitive dependents in dependency order
// (reevaluateDependents), keeping each one's old arguments when evaluation fails.
// Threading: commit() and reevaluateDependents() run under load_mu_ (so at most one of them, or a
// load, at a time); onExportsChanged() may be called from any thread and takes queue_mu_ only.
#include <algorithm>
#include <set>

#include "src/common/strings.h"
#include "src/runtime/controller_node.h"
#include "src/syntax/eval.h"

namespace telegate::runtime {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

void Controller::commit(Staged* st, const LoadResult& res) {
  const auto& files = st->files;
  const auto& decls = st->decls;
  const auto& deps = st->deps;
  const auto& order = st->order;
  const LoggingArgs& logging = st->logging;
  const HttpBlockArgs& http = st->http;
  auto& staged = st->staged;

  auto graph = std::make_shared<Graph>();
  graph->files = files;
  graph->sources = res.files;
  for (size_t i : order) {
    auto& s = staged[i];
    s.node->block = decls[i].block;
    s.node->file = decls[i].file;
    s.node->deps.clear();
    for (size_t dep : deps[i]) {
      s.node->deps.push_back(decls[dep].id);
      graph->deps[decls[i].id].push_back(decls[dep].id);
      graph->dependents[decls[dep].id].push_back(decls[i].id);
    }
    graph->order.push_back(s.node);
    graph->by_id[decls[i].id] = s.node;
  }
  if (graph_) {
    for (auto it = graph_->order.rbegin(); it != graph_->order.rend(); ++it) {
      auto& old = *it;
      auto nit = graph->by_id.find(old->id());
      if (nit != graph->by_id.end() && nit->second == old) continue;
      old->setPublish(false);
      if (old->component) old->component->shutdown(Clock::now() + std::chrono::seconds(10));
    }
  }
  auto log_level = log::parseLevel(logging.level);
  auto log_format = log::parseFormat(logging.format);
  log::configure(*log_level, *log_format);
  if (opts_.on_http_block) opts_.on_http_block(http);

  for (size_t i : order) {
    auto& s = staged[i];
    Node& n = *s.node;
    if (!s.is_new) {
      n.setArgs(s.args);
      auto st = n.component->updateErased(s.args);
      if (st.ok()) {
        n.setEvalHealth(HealthState::kHealthy, "");
      } else {
        n.setEvalHealth(HealthState::kUnhealthy, strCat("update failed: ", st.message()));
      }
      continue;
    }
    n.setPublish(true);
    auto st = n.component->start();
    n.started = true;
    if (st.ok()) {
      n.defaultHealthy();
    } else {
      n.setHealth(HealthState::kUnhealthy, strCat("start failed: ", st.message()));
      n.logger().error("component failed to start", {{"err", std::string(st.message())}});
    }
  }
  {
    std::lock_guard<std::mutex> g(graph_mu_);
    graph_ = graph;
  }
}

void Controller::onExportsChanged(const std::string& id) {
  {
    std::lock_guard<std::mutex> l(queue_mu_);
    if (stop_worker_) return;
    if (std::find(queue_.begin(), queue_.end(), id) == queue_.end()) queue_.push_back(id);
  }
  queue_cv_.notify_all();
}

void Controller::workerLoop() {
  while (true) {
    std::string id;
    {
      std::unique_lock<std::mutex> l(queue_mu_);
      queue_cv_.wait(l, [&] { return stop_worker_ || !queue_.empty(); });
      if (stop_worker_) return;
      id = queue_.front();
      queue_.pop_front();
      worker_busy_ = true;
    }
    reevaluateDependents(id);
    {
      std::lock_guard<std::mutex> l(queue_mu_);
      worker_busy_ = false;
    }
    queue_cv_.notify_all();
  }
}

void Controller::reevaluateDependents(const std::string& id) {
  std::lock_guard<std::mutex> load_lock(load_mu_);
  if (!graph_ || shut_down_) return;
  auto graph = graph_;
  // Transitive dependents of `id`.
  std::set<std::string> affected;
  std::vector<std::string> todo = {id};
  while (!todo.empty()) {
    std::string cur = todo.back();
    todo.pop_back();
    auto it = graph->dependents.find(cur);
    if (it == graph->dependents.end()) continue;
    for (const auto& d : it->second) {
      if (affected.insert(d).second) todo.push_back(d);
    }
  }
  for (const auto& node : graph->order) {
    if (affected.count(node->id()) == 0) continue;
    std::map<std::string, syntax::Object> exports_view;
    for (const auto& n : graph->order) exports_view[n->id()] = n->exports();
    syntax::Object root = buildRoot(exports_view);
    syntax::Scope scope(&root);
    syntax::Diagnostics diags;
    DecodeContext ctx{&scope, node->file, &diags, nullptr};
    std::shared_ptr<void> args = node->reg()->new_args();
    bool ok = decodeBody(node->block->body, *node->reg()->schema, args.get(),
                         node->block->name_range, ctx);
    if (ok) {
      if (auto st = node->reg()->schema->validate(args.get()); !st.ok()) {
        diags.addError(node->file, node->block->name_range, std::string(st.message()));
        ok = false;
      }
    }
    if (!ok) {
      node->setEvalHealth(HealthState::kUnhealthy,
                          strCat("component evaluation failed: ", diags.summary()));
      continue;
    }
    ArgsHolder holder{args, node->reg()->args_type};
    node->setArgs(holder);
    auto st = node->component->updateErased(holder);
    if (st.ok()) {
      node->setEvalHealth(HealthState::kHealthy, "");
    } else {
      node->setEvalHealth(HealthState::kUnhealthy, strCat("update failed: ", st.message()));
    }
  }
}

}  // namespace telegate::runtime
