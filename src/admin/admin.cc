#include "src/admin/admin.h"

#include <set>

#include "src/common/strings.h"

#include "absl/time/time.h"
#include "src/common/json_writer.h"
#include "src/common/log.h"
#include "src/syntax/value.h"

namespace telegate::admin {

namespace {

// The spelling of syntax::toJson() strings (the rest of the component JSON).
std::string jsonString(std::string_view s) {
  return json::quote(s, json::kJsonGoLegacy);
}

std::string timeString(std::chrono::system_clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return "";
  return absl::FormatTime(absl::RFC3339_full, absl::FromChrono(t), absl::UTCTimeZone());
}

std::string componentJson(const runtime::ComponentStatus& s) {
  auto strList = [](const std::vector<std::string>& v) {
    std::vector<std::string> q;
    for (const auto& x : v) q.push_back(jsonString(x));
    return strCat("[", strJoin(q, ","), "]");
  };
  return strCat(
      "{\"name\":", jsonString(s.name), ",\"type\":\"block\",\"localID\":", jsonString(s.id),
      ",\"moduleID\":\"\",\"label\":", jsonString(s.label),
      ",\"referencesTo\":", strList(s.references_to),
      ",\"referencedBy\":", strList(s.referenced_by),
      ",\"health\":{\"state\":", jsonString(runtime::healthStateName(s.health.state)),
      ",\"message\":", jsonString(s.health.message),
      ",\"updatedTime\":", jsonString(timeString(s.health.updated)),
      "},\"arguments\":", syntax::toJson(s.arguments), ",\"exports\":", syntax::toJson(s.exports),
      ",\"debugInfo\":", syntax::toJson(s.debug_info), "}");
}

std::string htmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace

AdminServer::AdminServer(std::string listen_addr, runtime::Controller& controller,
                         metrics::Registry& registry, std::function<ReloadOutcome()> reload,
                         std::shared_ptr<net::tls::TlsServerContext> tls)
    : controller_(controller),
      registry_(registry),
      reload_(std::move(reload)),
      tls_enabled_(tls != nullptr) {
  refused_ = &registry_.counter(
      "telegate_admin_refused_requests_total",
      "Admin server requests refused before their handler ran, by reason.", {"reason"});
  net::HttpServerOptions opts;
  opts.listen_addr = std::move(listen_addr);
  opts.name = "admin";
  opts.metrics = &registry_;
  opts.io_threads = 1;
  opts.max_body_bytes = kMaxReloadBodyBytes;
  // Admin requests are small: a slow or idle client is cut off quickly.
  opts.header_timeout = std::chrono::seconds(10);
  opts.read_timeout = std::chrono::seconds(10);
  opts.idle_timeout = std::chrono::seconds(30);
  opts.tls = std::move(tls);
  opts.memory_budget = &budget_;
  // Access control, method and body rules are judged before any body byte is read.
  // A connection counts as authenticated (shed last under a flood) when its request passed the
  // credential check, or when none is configured; the probes count too, so kubelet's survive.
  opts.header_check = [this](const net::HttpRequest& head) {
    if (auto refused = judge(head)) return net::HeaderDecision::refuse(std::move(*refused));
    std::shared_ptr<const AccessPolicy> policy = policy_.load();
    bool proven = policy == nullptr || !policy->authEnabled() || head.path == "/-/ready" ||
                  head.path == "/-/healthy" || policy->needsCredential(head.path);
    return net::HeaderDecision::accept(judgedMarker(), proven);
  };
  server_ = std::make_unique<net::HttpServer>(
      opts, [this](const net::HttpRequest& r) { return handle(r); });
}

AdminServer::~AdminServer() {
  stop();
}

absl::Status AdminServer::start() {
  return server_->start();
}
void AdminServer::stop() {
  server_->stop();
}
std::string AdminServer::boundAddress() const {
  return server_->boundAddress();
}

net::HttpResponse AdminServer::healthy() {
  std::set<std::string> types;
  std::string details;
  for (const auto& s : controller_.status()) {
    if (s.health.state != runtime::HealthState::kUnhealthy) continue;
    types.insert(s.name);
    strAppend(&details, s.id, ": ", s.health.message, "\n");
  }
  if (types.empty()) return net::HttpResponse::text(200, "All components are healthy.\n");
  return net::HttpResponse::text(
      500, strCat("unhealthy components: ", strJoin(types, ", "), "\n", details));
}

net::HttpResponse AdminServer::components(const std::string& id) {
  net::HttpResponse r;
  r.content_type = "application/json";
  std::vector<std::string> items;
  for (const auto& s : controller_.status()) {
    if (!id.empty()) {
      if (s.id == id) {
        r.body = componentJson(s);
        return r;
      }
      continue;
    }
    items.push_back(componentJson(s));
  }
  if (!id.empty()) {
    r.status = 404;
    r.body = strCat("{\"error\":", jsonString("component " + id + " not found"), "}");
    return r;
  }
  r.body = strCat("[", strJoin(items, ","), "]");
  return r;
}

net::HttpResponse AdminServer::indexPage() {
  net::HttpResponse r;
  r.content_type = "text/html; charset=utf-8";
  std::string rows;
  for (const auto& s : controller_.status()) {
    strAppend(&rows, "<tr><td><a href=\"/api/v0/web/components/", htmlEscape(s.id), "\">",
              htmlEscape(s.id), "</a></td><td class=\"", runtime::healthStateName(s.health.state),
              "\">", runtime::healthStateName(s.health.state), "</td><td>",
              htmlEscape(s.health.message), "</td></tr>\n");
  }
  r.body = strCat(
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>telegate</title><style>"
      "body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;text-align:left}"
      ".healthy{color:#2a7}.unhealthy{color:#c33}.unknown,.exited{color:#888}</style></head>"
      "<body><h1>telegate</h1><p>",
      controller_.loaded() ? "configuration loaded" : "configuration not loaded",
      " &middot; <a href=\"/metrics\">metrics</a> &middot; <a href=\"/-/healthy\">health</a>"
      "</p><table><tr><th>component</th><th>health</th><th>message</th></tr>\n",
      rows, "</table></body></html>\n");
  return r;
}

void AdminServer::setHttpConfig(const runtime::HttpBlockArgs& args) {
  policy_.store(std::make_shared<const AccessPolicy>(args));
}

void AdminServer::countRefusal(std::string_view reason, const net::HttpRequest& req) {
  refused_->with({std::string(reason)}).inc();
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t last = last_refusal_log_ns_.load();
  if (last != 0 && now - last < int64_t{60} * 1000 * 1000 * 1000) return;
  if (!last_refusal_log_ns_.compare_exchange_strong(last, now)) return;
  log::root().warn("admin request refused (logged at most once a minute)",
                   {{"reason", std::string(reason)},
                    {"method", req.method.substr(0, 16)},
                    {"path", req.path.substr(0, 128)},
                    {"remote", req.remote_addr}});
}

const std::shared_ptr<const void>& AdminServer::judgedMarker() {
  static const std::shared_ptr<const void> marker = std::make_shared<int>(0);
  return marker;
}

std::optional<net::HttpResponse> AdminServer::judge(const net::HttpRequest& head) {
  const std::string& p = head.path;
  std::shared_ptr<const AccessPolicy> policy = policy_.load();
  if (policy == nullptr && p != "/-/ready" && p != "/-/healthy") {
    countRefusal("not_configured", head);
    net::HttpResponse r = net::HttpResponse::text(503, "configuration not loaded yet\n");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  Refusal why = Refusal::kNone;
  auto refused = checkHead(policy ? *policy : AccessPolicy(), head, &why);
  if (refused) countRefusal(refusalName(why), head);
  return refused;
}

net::HttpResponse AdminServer::handle(const net::HttpRequest& req) {
  const std::string& p = req.path;
  // Requests from the server were judged at their headers; direct calls are judged here.
  if (req.state != judgedMarker()) {
    if (auto refused = judge(req)) return std::move(*refused);
  }
  if (p == "/-/ready") {
    if (ready_.load() && controller_.loaded()) {
      return net::HttpResponse::text(200, "telegate is ready.\n");
    }
    return net::HttpResponse::text(503, "telegate is not ready.\n");
  }
  if (p == "/-/healthy") return healthy();
  if (p == "/metrics") {
    net::HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = registry_.exposition();
    return r;
  }
  if (p == "/-/reload") {
    ReloadOutcome o = reload_();
    if (o.ok) return net::HttpResponse::text(200, "config reloaded\n");
    return net::HttpResponse::text(400, o.message.empty() ? "reload failed\n" : o.message + "\n");
  }
  constexpr std::string_view kComponents = "/api/v0/web/components";
  if (p == kComponents) return components("");
  if (p.rfind(std::string(kComponents) + "/", 0) == 0) {
    return components(p.substr(kComponents.size() + 1));
  }
  if (p == "/" || p == "/index.html") return indexPage();
  return net::HttpResponse::text(404, "404 page not found\n");
}

}  // namespace telegate::admin
