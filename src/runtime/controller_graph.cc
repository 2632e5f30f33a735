// Controller, the graph half of a load (controller.h has the contract): buildGraph() parses the
// sources, classifies the top-level blocks (components, `logging`, `http`), resolves references
// and orders the components, dependencies first, reporting unknown names, unresolved references,
// cycles and duplicate IDs; stageComponents() evaluates each component's arguments against the
// exports of the ones before it and builds the new components without starting them. Nothing here
// changes the running graph. Threading: both run on the loading thread under load_mu_.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>

#include "src/common/strings.h"
#include "src/runtime/controller_node.h"
#include "src/syntax/eval.h"
#include "src/syntax/parser.h"
#include "src/syntax/stdlib.h"

namespace telegate::runtime {

namespace {

std::string posString(const std::string& file, const syntax::Pos& p) {
  return strCat(file, ":", p.line, ":", p.col);
}

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

}  // namespace

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

bool Controller::buildGraph(const std::vector<syntax::SourceFilePtr>& sources, LoadResult* res,
                            Staged* st) const {
  using Decl = Staged::Decl;
  auto& diags = res->diags;
  auto& files = st->files;
  auto& decls = st->decls;
  auto& logging_block = st->logging_block;
  auto& logging_file = st->logging_file;
  auto& http_block = st->http_block;
  auto& http_file = st->http_file;
  auto& deps = st->deps;
  auto& order = st->order;

  // 1. Parse.
  for (const auto& src : sources) {
    res->files[src->name()] = src;
    std::shared_ptr<const syntax::ast::File> f = syntax::parseFile(src, &diags);
    if (f) files.push_back(std::move(f));
  }
  if (diags.hasErrors()) return false;

  // 2. Classify top-level blocks.
  std::map<std::string, std::pair<std::string, syntax::Pos>> declared;  // id -> file, pos
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
  if (diags.hasErrors()) return false;

  // 3. References and dependency order.
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < decls.size(); ++i) index[decls[i].id] = i;
  const syntax::Object& stdlib = syntax::stdlib();
  deps.resize(decls.size());
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
  if (diags.hasErrors()) return false;

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
  if (diags.hasErrors()) return false;
  return true;
}

void Controller::stageComponents(Staged* st, syntax::Diagnostics* diags_out) {
  using Decl = Staged::Decl;
  using StagedNode = Staged::StagedNode;
  auto& diags = *diags_out;
  const auto& decls = st->decls;
  const auto& deps = st->deps;
  const auto& order = st->order;
  auto& staged = st->staged;

  staged.resize(decls.size());
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
}

}  // namespace telegate::runtime
