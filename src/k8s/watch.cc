#include "src/k8s/watch.h"

#include <simdjson.h>

#include "src/common/strings.h"

namespace telegate::k8s {

namespace {

simdjson::dom::parser& parser() {
  thread_local simdjson::dom::parser p;
  return p;
}

std::string field(simdjson::dom::element e, std::string_view a, std::string_view b) {
  std::string_view v;
  if (e[a][b].get(v) == simdjson::SUCCESS) return std::string(v);
  return "";
}

std::string keyOf(simdjson::dom::element obj) {
  std::string ns = field(obj, "metadata", "namespace");
  std::string name = field(obj, "metadata", "name");
  return ns.empty() ? name : strCat(ns, "/", name);
}

}  // namespace

absl::StatusOr<WatchEvent> parseWatchEvent(std::string_view line) {
  simdjson::dom::element doc;
  if (auto err = parser().parse(line.data(), line.size()).get(doc); err) {
    return absl::InvalidArgumentError(strCat("watch event: ", simdjson::error_message(err)));
  }
  std::string_view type;
  simdjson::dom::element obj;
  if (doc["type"].get(type) != simdjson::SUCCESS || doc["object"].get(obj) != simdjson::SUCCESS ||
      !obj.is_object()) {
    return absl::InvalidArgumentError("watch event: expected {\"type\":..., \"object\":{...}}");
  }
  WatchEvent ev;
  if (type == "ADDED") {
    ev.type = EventType::kAdded;
  } else if (type == "MODIFIED") {
    ev.type = EventType::kModified;
  } else if (type == "DELETED") {
    ev.type = EventType::kDeleted;
  } else if (type == "BOOKMARK") {
    ev.type = EventType::kBookmark;
  } else if (type == "ERROR") {
    ev.type = EventType::kError;
    int64_t code = 0;
    if (obj["code"].get(code) == simdjson::SUCCESS) ev.error_code = code;
    std::string_view msg;
    if (obj["message"].get(msg) == simdjson::SUCCESS) ev.error_message = std::string(msg);
  } else {
    return absl::InvalidArgumentError(strCat("watch event: unknown type \"", type, "\""));
  }
  ev.object_json = simdjson::minify(obj);
  ev.resource_version = field(obj, "metadata", "resourceVersion");
  ev.uid = field(obj, "metadata", "uid");
  ev.key = keyOf(obj);
  return ev;
}

absl::Status WatchDecoder::feed(std::string_view chunk, std::vector<WatchEvent>* events) {
  size_t start = 0;
  while (start < chunk.size()) {
    size_t nl = chunk.find('\n', start);
    if (nl == std::string_view::npos) {
      pending_.append(chunk.substr(start));
      if (pending_.size() > max_line_) {
        pending_.clear();
        return absl::InvalidArgumentError("watch event larger than the limit");
      }
      return absl::OkStatus();
    }
    pending_.append(chunk.substr(start, nl - start));
    start = nl + 1;
    std::string line = std::move(pending_);
    pending_.clear();
    if (line.size() > max_line_) {
      return absl::InvalidArgumentError("watch event larger than the limit");
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto ev = parseWatchEvent(line);
    if (!ev.ok()) return ev.status();
    events->push_back(std::move(*ev));
  }
  return absl::OkStatus();
}

absl::StatusOr<ListResult> parseList(std::string_view json) {
  simdjson::dom::element doc;
  if (auto err = parser().parse(json.data(), json.size()).get(doc); err) {
    return absl::InvalidArgumentError(strCat("list: ", simdjson::error_message(err)));
  }
  simdjson::dom::array items;
  if (doc["items"].get(items) != simdjson::SUCCESS) {
    // The API server sends "items": null for an empty list.
    simdjson::dom::element it;
    if (doc["items"].get(it) != simdjson::SUCCESS || !it.is_null()) {
      return absl::InvalidArgumentError("list: no items array");
    }
  }
  ListResult r;
  r.resource_version = field(doc, "metadata", "resourceVersion");
  r.continue_token = field(doc, "metadata", "continue");
  if (doc["items"].is_array()) {
    for (simdjson::dom::element item : items) {
      r.items.push_back(simdjson::minify(item));
      r.keys.push_back(keyOf(item));
    }
  }
  return r;
}

}  // namespace telegate::k8s
