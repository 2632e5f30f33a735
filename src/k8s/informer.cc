#include "src/k8s/informer.h"

#include <random>

#include "src/common/strings.h"
#include "src/k8s/backoff.h"
#include "src/k8s/watch.h"

namespace telegate::k8s {

std::string ResourceRef::describe() const {
  std::string s = namespace_.empty() ? resource : strCat(resource, " in namespace ", namespace_);
  if (!label_selector.empty()) strAppend(&s, " labelSelector=", label_selector);
  if (!field_selector.empty()) strAppend(&s, " fieldSelector=", field_selector);
  return s;
}

Informer::Informer(Client& client, ResourceRef ref, InformerHandler handler, InformerOptions opts)
    : client_(client), ref_(std::move(ref)), handler_(std::move(handler)), opts_(opts) {}

Informer::~Informer() {
  stop();
}

void Informer::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void Informer::stop() {
  cancel_.cancel();
  if (thread_.joinable()) thread_.join();
}

std::string Informer::query(bool watch) const {
  std::string path = ref_.api_prefix;
  if (!ref_.namespace_.empty()) strAppend(&path, "/namespaces/", urlEncode(ref_.namespace_));
  strAppend(&path, "/", ref_.resource, "?");
  if (!ref_.label_selector.empty()) {
    strAppend(&path, "labelSelector=", urlEncode(ref_.label_selector), "&");
  }
  if (!ref_.field_selector.empty()) {
    strAppend(&path, "fieldSelector=", urlEncode(ref_.field_selector), "&");
  }
  if (watch) strAppend(&path, "watch=true&allowWatchBookmarks=true&");
  return path;
}

absl::StatusOr<std::string> Informer::list() {
  std::map<std::string, std::string> fresh;
  std::string cont, rv;
  do {
    std::string path = strCat(query(false), "limit=", opts_.page_limit);
    if (!cont.empty()) strAppend(&path, "&continue=", urlEncode(cont));
    lists_.fetch_add(1);
    if (handler_.requested) handler_.requested(false);
    auto r = client_.get(path, &cancel_);
    if (!r.ok()) return r.status();
    if (r->status == 410 && !cont.empty()) {
      // The continue token expired between pages: start over.
      fresh.clear();
      cont.clear();
      continue;
    }
    if (r->status != 200) {
      return absl::UnavailableError(
          strCat("list ", ref_.describe(), ": HTTP ", r->status, ": ", statusMessage(r->body)));
    }
    auto l = parseList(r->body);
    if (!l.ok()) {
      return absl::InvalidArgumentError(
          strCat("list ", ref_.describe(), ": ", std::string(l.status().message())));
    }
    for (size_t i = 0; i < l->items.size(); ++i) fresh[l->keys[i]] = std::move(l->items[i]);
    rv = l->resource_version;
    cont = l->continue_token;
  } while (!cont.empty() && !cancel_.cancelled());
  if (cancel_.cancelled()) return absl::CancelledError("cancelled");
  store_ = std::move(fresh);
  if (handler_.replaced) handler_.replaced(store_);
  return rv;
}

absl::StatusOr<bool> Informer::watch(std::string* rv) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  int64_t lo = opts_.min_watch_timeout.count(), hi = opts_.max_watch_timeout.count();
  int64_t timeout_s = hi > lo ? std::uniform_int_distribution<int64_t>(lo, hi)(rng) : lo;
  std::string path =
      strCat(query(true), "resourceVersion=", urlEncode(*rv), "&timeoutSeconds=", timeout_s);
  WatchDecoder decoder;
  std::vector<WatchEvent> events;
  bool relist = false;
  absl::Status problem;
  auto on_data = [&](std::string_view chunk) {
    events.clear();
    auto st = decoder.feed(chunk, &events);
    for (auto& ev : events) {
      switch (ev.type) {
        case EventType::kAdded:
        case EventType::kModified:
          if (!ev.resource_version.empty()) *rv = ev.resource_version;
          if (handler_.upserted) handler_.upserted(ev.key, ev.object_json);
          store_[ev.key] = std::move(ev.object_json);
          break;
        case EventType::kDeleted:
          if (!ev.resource_version.empty()) *rv = ev.resource_version;
          store_.erase(ev.key);
          if (handler_.deleted) handler_.deleted(ev.key);
          break;
        case EventType::kBookmark:
          if (!ev.resource_version.empty()) *rv = ev.resource_version;
          break;
        case EventType::kError:
          relist = true;
          if (ev.error_code != 410) {
            problem = absl::UnavailableError(strCat("watch ", ref_.describe(), ": error ",
                                                    ev.error_code, ": ", ev.error_message));
          }
          return false;
      }
    }
    if (!st.ok()) {
      relist = true;
      problem = absl::InvalidArgumentError(
          strCat("watch ", ref_.describe(), ": ", std::string(st.message())));
      return false;
    }
    return true;
  };
  std::string err;
  watches_.fetch_add(1);
  if (handler_.requested) handler_.requested(true);
  auto code = client_.stream(path, on_data, &cancel_, std::chrono::seconds(timeout_s + 30), &err);
  if (!code.ok()) return code.status();
  if (*code == 410) return true;
  if (*code != 200) {
    return absl::UnavailableError(
        strCat("watch ", ref_.describe(), ": HTTP ", *code, ": ", statusMessage(err)));
  }
  if (!problem.ok()) return problem;
  return relist;
}

void Informer::run() {
  Backoff backoff(opts_.backoff_initial, opts_.backoff_max);
  std::string rv;
  bool need_list = true;
  while (!cancel_.cancelled()) {
    if (need_list) {
      auto r = list();
      if (!r.ok()) {
        if (cancel_.cancelled()) break;
        if (handler_.failed) handler_.failed(r.status());
        if (!cancel_.sleepFor(backoff.next())) break;
        continue;
      }
      rv = *r;
      need_list = false;
      backoff.reset();
      if (handler_.connected) handler_.connected();
    }
    auto started = std::chrono::steady_clock::now();
    auto w = watch(&rv);
    if (cancel_.cancelled()) break;
    if (!w.ok()) {
      // After a failed watch, relist: the outage may have outlived the resourceVersion, and a
      // successful list is what tells the owner that the API server is back. A watch that ran
      // for a while and then broke (an API server restart) is routine: only the relist reports.
      bool established = std::chrono::steady_clock::now() - started >= std::chrono::seconds(1);
      if (!established && handler_.failed) handler_.failed(w.status());
      need_list = true;
      if (!cancel_.sleepFor(backoff.next())) break;
      continue;
    }
    need_list = *w;
    if (std::chrono::steady_clock::now() - started < std::chrono::seconds(1)) {
      // A server that ends watches at once must not make us spin.
      if (!cancel_.sleepFor(backoff.next())) break;
    } else {
      backoff.reset();
    }
  }
}

}  // namespace telegate::k8s
