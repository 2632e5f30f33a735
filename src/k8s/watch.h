// Kubernetes list and watch wire formats (JSON), as the API server sends them.
//
// Contract: WatchDecoder consumes the bytes of a watch response (?watch=true) in arbitrary chunks
// and yields complete events; each event is one JSON object per line:
// {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}. For ERROR events the object is
// a Status (code 410 = "Gone": the resourceVersion is too old and the caller must relist).
// parseList() reads a *List response (items + metadata.resourceVersion + metadata.continue).
// Every event and list item also carries its store key, objectKey(): "<namespace>/<name>" for
// namespaced objects and "<name>" for cluster-scoped ones (as client-go's informers key them).
// Malformed input yields INVALID_ARGUMENT; a line longer than max_line_bytes is an error too
// (nothing is buffered past it). Not thread-safe (one decoder per stream); fuzzed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace telegate::k8s {

enum class EventType { kAdded, kModified, kDeleted, kBookmark, kError };

struct WatchEvent {
  EventType type = EventType::kAdded;
  std::string object_json;       // the raw "object" JSON
  std::string resource_version;  // object.metadata.resourceVersion
  std::string uid;               // object.metadata.uid
  std::string key;               // "<namespace>/<name>" or "<name>"
  int64_t error_code = 0;        // ERROR events: Status.code (410 = Gone)
  std::string error_message;
};

class WatchDecoder {
 public:
  explicit WatchDecoder(size_t max_line_bytes = 64u << 20) : max_line_(max_line_bytes) {}
  // Appends a chunk; complete events are appended to *events.
  absl::Status feed(std::string_view chunk, std::vector<WatchEvent>* events);

 private:
  std::string pending_;
  size_t max_line_;
};

absl::StatusOr<WatchEvent> parseWatchEvent(std::string_view line);

struct ListResult {
  std::vector<std::string> items;  // raw JSON of each item
  std::vector<std::string> keys;   // the store key of each item (same order)
  std::string resource_version;
  std::string continue_token;
};
absl::StatusOr<ListResult> parseList(std::string_view json);

}  // namespace telegate::k8s
