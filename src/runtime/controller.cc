#include "src/runtime/controller.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "src/common/strings.h"

#include "src/syntax/eval.h"
#include "src/syntax/parser.h"
#include "src/syntax/stdlib.h"

namespace telegate::runtime {

namespace {

using Clock = std::chrono::steady_clock;

// The root-only `logging` block.
struct LoggingArgs {
  std::string level = "info";
  std::string format = "logfmt";
  static void describe(Schema<LoggingArgs>& s) {
    s.attr("level", &LoggingArgs::level).doc("debug, info, warn or error");
    s.attr("format", &LoggingArgs::format).doc("logfmt or json");
  }
  absl::Status validate() const {
    if (auto l = log::parseLevel(level); !l.ok()) return l.status();
    if (auto f = log::parseFormat(format); !f.ok()) return f.status();
    return absl::OkStatus();
  }
};

int healthRank(HealthState s) {
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

std::string posString(const std::string& file, const syntax::Pos& p) {
  return strCat(file, ":", p.line, ":", p.col);
}

}  // namespace

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

namespace {

// Builds the evaluation root: the stdlib plus every component's exports at its dotted ID.
struct ScopeTree {
  std::map<std::string, ScopeTree> children;
  const syntax::Object* exports = nullptr;
  syntax::Value toValue() const {
    syntax::Object o;
    if (exports != nullptr) o = *exports;
    for (const auto& [k, child] : children) o[k] = child.toValue();
    return syntax::Value::object(std::move(o));
  }
};

syntax::Object buildRoot(const std::map<std::string, syntax::Object>& exports) {
  ScopeTree tree;
  for (const auto& [id, obj] : exports) {
    ScopeTree* t = &tree;
    size_t start = 0;
    while (true) {
      size_t dot = id.find('.', start);
      t = &t->children[id.substr(start,
                                 dot == std::string::npos ? std::string::npos : dot - start)];
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    t->exports = &obj;
  }
  syntax::Object root = syntax::stdlib();
  for (const auto& [k, child] : tree.children) root[k] = child.toValue();
  return root;
}

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

  // 1. Parse.
  std::vector<std::shared_ptr<const syntax::ast::File>> files;
  for (const auto& src : sources) {
    res.files[src->name()] = src;
    std::shared_ptr<const syntax::ast::File> f = syntax::parseFile(src, &diags);
    if (f) files.push_back(std::move(f));
  }
  if (diags.hasErrors()) return fail();

  // 2. Classify top-level blocks.
  struct Decl {
    const syntax::ast::Block* block;
    std::string file;
    std::string id;
    const Registration* reg;
  };
  std::vector<Decl> decls;
  std::map<std::string, std::pair<std::string, syntax::Pos>> declared;  // id -> file, pos
  const syntax::ast::Block* logging_block = nullptr;
  std::string logging_file;
  const syntax::ast::Block* http_block = nullptr;
  std::string http_file;
  for (const auto& f : files) {
    const std::string& fname = f->source->name();
    for (const auto& stmt : f->body.stmts) {
      if (stmt.attr) {
        diags.addError(fname, stmt.attr->name_range,
                       strCat("unrecognized attribute name \"", stmt.attr->name,
                              "\": only blocks are allowed at the top level"));
        continue;
      }
      if (!stmt.block) continue;
      const auto& b = *stmt.block;
      std::string id = b.label ? strCat(b.name, ".", *b.label) : b.name;
      if (auto it = declared.find(id); it != declared.end()) {
        diags.addError(fname, b.name_range,
                       strCat("block ", id, " already declared at ",
                              posString(it->second.first, it->second.second)));
        continue;
      }
      if (b.name == "logging") {
        if (b.label) {
          diags.addError(fname, b.label_range, "block \"logging\" does not support labels");
          continue;
        }
        declared[id] = {fname, b.name_range.begin};
        logging_block = &b;
        logging_file = fname;
        checkBodyShape(b.body, schemaOf<LoggingArgs>(), b.name_range, fname, &diags);
        continue;
      }
      if (b.name == "http") {
        if (b.label) {
          diags.addError(fname, b.label_range, "block \"http\" does not support labels");
          continue;
        }
        declared[id] = {fname, b.name_range.begin};
        http_block = &b;
        http_file = fname;
        checkBodyShape(b.body, schemaOf<HttpBlockArgs>(), b.name_range, fname, &diags);
        continue;
      }
      const Registration* reg = registry_.find(b.name);
      if (reg == nullptr) {
        diags.addError(fname, b.name_range,
                       strCat("cannot find the definition of component name \"", b.name, "\""));
        continue;
      }
      if (!b.label) {
        diags.addError(fname, b.name_range, strCat("component \"", b.name, "\" must have a label"));
        continue;
      }
      declared[id] = {fname, b.name_range.begin};
      checkBodyShape(b.body, *reg->schema, b.name_range, fname, &diags);
      decls.push_back(Decl{&b, fname, id, reg});
    }
  }
  if (diags.hasErrors()) return fail();

  // 3. References and dependency order.
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < decls.size(); ++i) index[decls[i].id] = i;
  const syntax::Object& stdlib = syntax::stdlib();
  std::vector<std::vector<size_t>> deps(decls.size());
  for (size_t i = 0; i < decls.size(); ++i) {
    std::vector<syntax::ast::Traversal> trs;
    syntax::ast::collectTraversals(decls[i].block->body, &trs);
    std::set<size_t> seen;
    for (const auto& t : trs) {
      std::string prefix;
      bool found = false;
      for (const auto& part : t.parts) {
        prefix = prefix.empty() ? part : strCat(prefix, ".", part);
        if (auto it = index.find(prefix); it != index.end()) {
          if (it->second == i) {
            diags.addError(decls[i].file, t.range,
                           strCat("cycle: ", decls[i].id, " references itself"));
          } else if (seen.insert(it->second).second) {
            deps[i].push_back(it->second);
          }
          found = true;
          break;
        }
      }
      if (!found && !t.parts.empty() && stdlib.count(t.parts[0]) == 0) {
        diags.addError(
            decls[i].file, t.range,
            strCat("component \"", strJoin(t.parts, "."), "\" does not exist or is out of scope"));
      }
    }
  }
  if (diags.hasErrors()) return fail();

  std::vector<size_t> order;
  {
    // Depth-first topological sort that reports the first cycle it meets.
    std::vector<int> color(decls.size(), 0);
    std::vector<size_t> stack;
    std::function<bool(size_t)> visit = [&](size_t n) -> bool {
      if (color[n] == 2) return true;
      if (color[n] == 1) {
        auto it = std::find(stack.begin(), stack.end(), n);
        std::vector<std::string> ids;
        for (; it != stack.end(); ++it) ids.push_back(decls[*it].id);
        diags.addError(decls[n].file, decls[n].block->name_range,
                       strCat("cycle: ", strJoin(ids, ", ")));
        return false;
      }
      color[n] = 1;
      stack.push_back(n);
      for (size_t d : deps[n]) {
        if (!visit(d)) return false;
      }
      stack.pop_back();
      color[n] = 2;
      order.push_back(n);
      return true;
    };
    for (size_t i = 0; i < decls.size(); ++i) {
      if (!visit(i)) break;
    }
  }
  if (diags.hasErrors()) return fail();

  // 4. Root blocks: logging, http.
  LoggingArgs logging;
  if (logging_block != nullptr) {
    syntax::Object root = syntax::stdlib();
    syntax::Scope scope(&root);
    std::vector<syntax::EvalWarning> warnings;
    DecodeContext ctx{&scope, logging_file, &diags, &warnings};
    if (decodeBody(logging_block->body, schemaOf<LoggingArgs>(), &logging,
                   logging_block->name_range, ctx)) {
      if (auto st = logging.validate(); !st.ok()) {
        diags.addError(logging_file, logging_block->name_range, std::string(st.message()));
      }
    }
    for (auto& w : warnings) diags.addWarning(logging_file, w.range, w.message);
  }
  HttpBlockArgs http;
  if (http_block != nullptr) decodeHttpBlock(*http_block, http_file, &diags, &http);

  // 5. Staged evaluation: decode arguments; build new components (not started).
  struct StagedNode {
    std::shared_ptr<Node> node;
    bool is_new = false;
    ArgsHolder args;
  };
  std::vector<StagedNode> staged(decls.size());
  std::map<std::string, syntax::Object> exports_view;
  std::vector<bool> failed(decls.size(), false);
  for (size_t i : order) {
    const Decl& d = decls[i];
    bool dep_failed = false;
    for (size_t dep : deps[i]) dep_failed = dep_failed || failed[dep];
    if (dep_failed) {
      failed[i] = true;
      continue;
    }
    syntax::Object root = buildRoot(exports_view);
    syntax::Scope scope(&root);
    std::vector<syntax::EvalWarning> warnings;
    DecodeContext ctx{&scope, d.file, &diags, &warnings};
    std::shared_ptr<void> args = d.reg->new_args();
    bool ok = decodeBody(d.block->body, *d.reg->schema, args.get(), d.block->name_range, ctx);
    for (auto& w : warnings) diags.addWarning(d.file, w.range, w.message);
    if (ok) {
      if (auto st = d.reg->schema->validate(args.get()); !st.ok()) {
        diags.addError(d.file, d.block->name_range, std::string(st.message()));
        ok = false;
      }
    }
    if (!ok) {
      failed[i] = true;
      continue;
    }
    ArgsHolder holder{args, d.reg->args_type};
    std::shared_ptr<Node> existing;
    if (graph_) {
      if (auto it = graph_->by_id.find(d.id);
          it != graph_->by_id.end() && it->second->reg() == d.reg) {
        existing = it->second;
      }
    }
    if (existing) {
      staged[i] = StagedNode{existing, false, holder};
      exports_view[d.id] = existing->exports();
      continue;
    }
    auto node = std::make_shared<Node>(this, d.id, d.block->name, *d.block->label, d.reg,
                                       (std::filesystem::path(opts_.storage_path) / d.id).string());
    auto built = d.reg->build(*node, holder);
    if (!built.ok()) {
      diags.addError(d.file, d.block->name_range,
                     strCat("building component: ", built.status().message()));
      failed[i] = true;
      continue;
    }
    node->component = std::move(*built);
    node->setArgs(holder);
    staged[i] = StagedNode{node, true, holder};
    exports_view[d.id] = node->exports();
  }
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

void Controller::waitIdleForTest() {
  std::unique_lock<std::mutex> l(queue_mu_);
  queue_cv_.wait(l, [&] { return stop_worker_ || (queue_.empty() && !worker_busy_); });
}

void Controller::shutdown(Clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> l(queue_mu_);
    stop_worker_ = true;
  }
  queue_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard<std::mutex> load_lock(load_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  if (!graph_) return;
  // Receivers come last in dependency order, so stopping in reverse stops intake first and lets
  // processors and exporters flush what they hold. The time is shared out by height (the longest
  // chain of references below a component): a component of height h gets 1/(h+1) of what is left
  // when its turn comes, so what it flushes into still has time to deliver it. A batch processor
  // in front of an exporter (height 1) gets at most half, the exporter (height 0) the rest.
  std::map<std::string, size_t, std::less<>> height;
  for (const auto& n : graph_->order) {  // dependencies first: their heights are known
    size_t h = 0;
    if (auto it = graph_->deps.find(n->id()); it != graph_->deps.end()) {
      for (const auto& d : it->second) {
        if (auto hd = height.find(d); hd != height.end()) h = std::max(h, hd->second + 1);
      }
    }
    height[n->id()] = h;
  }
  for (auto it = graph_->order.rbegin(); it != graph_->order.rend(); ++it) {
    auto& n = *it;
    n->setPublish(false);
    if (n->component && n->started) {
      n->component->shutdown(shareOfDeadline(Clock::now(), deadline, height[n->id()]));
    }
    n->setHealth(HealthState::kExited, "shut down");
  }
}

Clock::time_point shareOfDeadline(Clock::time_point now, Clock::time_point deadline,
                                  size_t height) {
  if (deadline <= now || height == 0) return deadline;
  return now + (deadline - now) / static_cast<int64_t>(height + 1);
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
