// Read positions of log sources (loki.source.kubernetes, loki.source.file), kept in one file per
// component so that tailing resumes where it stopped after a restart.
//
// Contract:
//  * A position is an opaque string value (a byte offset for files, a timestamp cursor for pod
//    logs) keyed by (path, labels): `path` names the source (a file path, or
//    "cursor-<ns>/<pod>:<container>:<uid>"), `labels` is the rendered label set of its stream.
//  * File format: JSON, `{"positions":[{"path":"…","labels":"…","value":"…"},…]}`, written to
//    `<file>.tmp`, fsync'ed and renamed over `<file>` (then the directory is fsync'ed), so a crash
//    leaves either the old or the new file, never a torn one.
//  * open() loads an existing file. A missing file is an empty store. A file that cannot be
//    parsed is renamed to `<file>.corrupt` and the store starts empty; the returned warning says
//    so (sources then start as if never read, which can repeat data but never skips it).
//  * sync() writes the file if anything changed since the last write. The owner calls it
//    periodically (Alloy: every 10 s) and at shutdown; nothing is written from get()/put().
//  * Thread-safe: get/put/remove/sync may be called from any thread (one mutex; put() is a map
//    assignment, sync() copies the map under the lock and writes outside it).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"

namespace telegate::loki::source {

class Positions {
 public:
  // Loads `file` (its directory must exist or be creatable). `warning` receives a message when a
  // damaged file was set aside. Fails only on I/O errors other than "not found".
  static absl::Status open(const std::string& file, Positions* out, std::string* warning);

  Positions() = default;
  Positions(const Positions&) = delete;
  Positions& operator=(const Positions&) = delete;

  std::optional<std::string> get(std::string_view path, std::string_view labels) const;
  void put(std::string_view path, std::string_view labels, std::string value);
  void remove(std::string_view path, std::string_view labels);
  size_t size() const;

  // Writes the file when something changed since the last successful write.
  absl::Status sync();

  // Encoding used by sync() and open() (exposed for tests and fuzzing).
  using Map = std::map<std::pair<std::string, std::string>, std::string>;
  static std::string encode(const Map& m);
  static absl::Status decode(std::string_view text, Map* out);

 private:
  std::string file_;
  mutable std::mutex mu_;
  Map map_;
  uint64_t version_ = 0;  // bumped by put/remove
  uint64_t written_ = 0;  // version_ at the last write
  std::mutex write_mu_;   // serialises sync()
};

}  // namespace telegate::loki::source
