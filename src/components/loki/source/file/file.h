// loki.source.file: reads log lines from files (typically the node's /var/log/pods/*/*/*.log in a
// DaemonSet, followed by loki.process with stage.cri) and forwards them to Loki receivers.
//
// Contract:
//  * Targets: each target's `__path__` names a file, or with `file_match { enabled = true }` a
//    glob(3) pattern (`*`, `?`, `[...]`; no `**`) expanded every sync_period, minus matches of
//    `__path_exclude__`; files whose modification time is older than ignore_older_than (when set)
//    are skipped. Without file_match the path must be absolute and is used as is. A target
//    without `__path__` is skipped and counted. Stream labels = the target's labels without the
//    "__" ones, plus `filename` = the file's path.
//  * Reading: every file_watch.min_poll_frequency (250 ms) each file is read from its offset to
//    the end; every complete line ("\n"-terminated; a trailing "\r" is removed) becomes an entry
//    stamped with the time it was read. A line longer than max_line_bytes (256 KiB) is cut into
//    pieces. An unterminated last line waits for its newline. Lines are pushed to every
//    forward_to receiver in order; the offset advances only once all receivers accepted them, so
//    a refusal (backpressure) means the same bytes are read again at the next poll: nothing read
//    is dropped, and nothing is sent twice to a receiver that accepted it unless another refused.
//  * Offsets: kept in `<storage.path>/<component id>/positions.json` (see positions.h), keyed by
//    (path, labels), written every 10 s when changed and at shutdown. A new file starts at its
//    stored offset, else at its end with tail_from_end, else at 0. A stored offset that is not a
//    number or lies beyond the file's size follows on_positions_file_error
//    (restart_from_beginning | restart_from_end | skip = leave the file unread).
//  * Rotation: when the path names a different file (inode/device changed), the old file is
//    read to its end first, then the new one is read from offset 0. When a file shrinks below the
//    offset (truncation, copytruncate), reading restarts at 0. A file that does not exist yet is
//    retried at every poll.
//  * Not implemented: encodings other than UTF-8 (a configuration error), decompression (a
//    configuration error), legacy_positions_file (ignored with a warning).
// Thread-safety: one polling thread per component does all reading and pushing; update() and
// shutdown() synchronise with it through a mutex.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "src/common/log.h"
#include "src/common/metrics.h"
#include "src/components/loki/api.h"
#include "src/components/loki/source/positions.h"
#include "src/runtime/schema.h"

namespace telegate::loki::source_file {

struct FileSourceOptions {
  std::chrono::milliseconds poll{250};
  bool file_match = false;
  std::chrono::milliseconds sync_period{10000};
  std::chrono::milliseconds ignore_older_than{0};
  bool tail_from_end = false;
  std::string on_positions_file_error = "restart_from_beginning";
  size_t max_line_bytes = 256 << 10;
  size_t max_read_per_poll = 8 << 20;  // bytes per file per poll, for fairness
};

struct FileSourceMetrics {
  metrics::Counter* lines = nullptr;
  metrics::Counter* bytes = nullptr;
  metrics::Counter* refused = nullptr;
  metrics::Counter* errors = nullptr;
  metrics::Counter* bad_targets = nullptr;
  metrics::Gauge* files = nullptr;
};

class FileSource {
 public:
  using Receivers = std::vector<std::shared_ptr<LogsReceiver>>;
  FileSource(std::shared_ptr<loki::source::Positions> positions, FileSourceMetrics metrics,
             const log::Logger& logger);
  ~FileSource();

  // Replaces targets, receivers and options (safe while running).
  void configure(std::vector<runtime::Target> targets, Receivers receivers, FileSourceOptions opts);
  void start();
  void stop();
  // One polling round (tests call it directly instead of start()).
  void pollOnce();
  size_t fileCount();

 private:
  struct Reader {
    std::string path;
    LabelSet labels;
    std::string labels_text;
    int fd = -1;
    dev_t dev = 0;
    ino_t ino = 0;
    uint64_t offset = 0;
    bool skip = false;  // on_positions_file_error = skip
  };
  void resolveLocked();
  void readFile(Reader& r);
  bool openReader(Reader& r, bool rotated);
  // Reads [r.offset, end) and pushes complete lines; false when a receiver refused.
  bool drain(Reader& r);
  bool push(EntryBatch&& batch);
  void run();

  std::shared_ptr<loki::source::Positions> positions_;
  FileSourceMetrics metrics_;
  log::Logger logger_;
  log::OnceEvery refuse_log_{std::chrono::minutes(1)};
  log::OnceEvery error_log_{std::chrono::minutes(1)};
  log::OnceEvery target_log_{std::chrono::minutes(1)};

  std::mutex mu_;  // guards everything below; held for a whole poll round
  std::vector<runtime::Target> targets_;
  Receivers receivers_;
  FileSourceOptions opts_;
  std::map<std::string, std::unique_ptr<Reader>> readers_;  // key: path + "\n" + labels_text
  std::chrono::steady_clock::time_point last_resolve_{};
  bool dirty_ = true;

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
  std::chrono::steady_clock::time_point last_sync_{};
};

}  // namespace telegate::loki::source_file
