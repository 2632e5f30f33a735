// loki.source.file (see file.h for the contract).
#include "src/components/loki/source/file/file.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <set>

#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/loki/write/write.h"
#include "src/runtime/component.h"
#include "src/runtime/registry.h"

namespace telegate::loki::source_file {
namespace {

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> expandGlob(const std::string& pattern) {
  std::vector<std::string> out;
  glob_t g{};
  if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  ::globfree(&g);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

FileSource::FileSource(std::shared_ptr<loki::source::Positions> positions,
                       FileSourceMetrics metrics, const log::Logger& logger)
    : positions_(std::move(positions)), metrics_(metrics), logger_(logger) {}

FileSource::~FileSource() {
  stop();
  for (auto& [k, r] : readers_) {
    if (r->fd >= 0) ::close(r->fd);
  }
}

void FileSource::configure(std::vector<runtime::Target> targets, Receivers receivers,
                           FileSourceOptions opts) {
  std::lock_guard<std::mutex> lock(mu_);
  targets_ = std::move(targets);
  receivers_ = std::move(receivers);
  opts_ = opts;
  dirty_ = true;
}

void FileSource::start() {
  thread_ = std::thread([this] { run(); });
}

void FileSource::stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t FileSource::fileCount() {
  std::lock_guard<std::mutex> lock(mu_);
  return readers_.size();
}

void FileSource::run() {
  while (true) {
    pollOnce();
    std::chrono::milliseconds poll;
    {
      std::lock_guard<std::mutex> lock(mu_);
      poll = opts_.poll;
    }
    std::unique_lock<std::mutex> lock(stop_mu_);
    if (stop_cv_.wait_for(lock, poll, [this] { return stop_; })) break;
  }
}

void FileSource::resolveLocked() {
  std::map<std::string, std::pair<std::string, LabelSet>> want;  // key -> (path, labels)
  size_t bad = 0;
  for (const auto& t : targets_) {
    auto p = t.find("__path__");
    if (p == t.end() || p->second.empty()) {
      ++bad;
      continue;
    }
    std::vector<std::string> paths;
    if (opts_.file_match) {
      paths = expandGlob(p->second);
      auto ex = t.find("__path_exclude__");
      if (ex != t.end() && !ex->second.empty()) {
        auto excluded = expandGlob(ex->second);
        std::set<std::string> drop(excluded.begin(), excluded.end());
        std::erase_if(paths, [&](const std::string& s) { return drop.count(s) != 0; });
      }
      if (opts_.ignore_older_than.count() > 0) {
        auto cutoff = std::chrono::system_clock::now() - opts_.ignore_older_than;
        std::erase_if(paths, [&](const std::string& s) {
          struct stat st {};
          if (::stat(s.c_str(), &st) != 0) return true;
          auto mtime =
              std::chrono::system_clock::time_point(std::chrono::seconds(st.st_mtim.tv_sec) +
                                                    std::chrono::nanoseconds(st.st_mtim.tv_nsec));
          return mtime < cutoff;
        });
      }
    } else {
      if (p->second[0] != '/') {
        ++bad;
        continue;
      }
      paths.push_back(p->second);
    }
    for (const auto& path : paths) {
      runtime::Target labels;
      for (const auto& [k, v] : t) {
        if (k.rfind("__", 0) != 0) labels.emplace(k, v);
      }
      labels["filename"] = path;
      LabelSet ls(labels.begin(), labels.end());
      std::string text = loki::write::renderLabels(ls);
      want.emplace(path + "\n" + text, std::make_pair(path, std::move(ls)));
    }
  }
  if (bad > 0) {
    if (metrics_.bad_targets) metrics_.bad_targets->inc(static_cast<double>(bad));
    if (target_log_.shouldLog()) {
      logger_.warn("skipping targets without an absolute __path__",
                   {{"count", std::to_string(bad)}});
    }
  }
  for (auto it = readers_.begin(); it != readers_.end();) {
    if (want.count(it->first) == 0) {
      // The file no longer matches (deleted, or renamed by a rotation): what was written to it
      // before is still read, once.
      if (it->second->fd >= 0 && !it->second->skip) (void)drain(*it->second);
      if (it->second->fd >= 0) ::close(it->second->fd);
      it = readers_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [key, pl] : want) {
    if (readers_.count(key) != 0) continue;
    auto r = std::make_unique<Reader>();
    r->path = pl.first;
    r->labels = std::move(pl.second);
    r->labels_text = loki::write::renderLabels(r->labels);
    readers_.emplace(key, std::move(r));
  }
  if (metrics_.files) metrics_.files->set(static_cast<double>(readers_.size()));
}

void FileSource::pollOnce() {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (dirty_ || (opts_.file_match && now - last_resolve_ >= opts_.sync_period)) {
    resolveLocked();
    last_resolve_ = now;
    dirty_ = false;
  }
  for (auto& [key, r] : readers_) readFile(*r);
  if (positions_ && now - last_sync_ >= std::chrono::seconds(10)) {
    last_sync_ = now;
    absl::Status st = positions_->sync();
    if (!st.ok() && error_log_.shouldLog()) {
      logger_.error("writing positions failed", {{"err", std::string(st.message())}});
    }
  }
}

bool FileSource::openReader(Reader& r, bool rotated) {
  int fd = ::open(r.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT && error_log_.shouldLog()) {
      logger_.warn("cannot open log file", {{"path", r.path}, {"err", std::strerror(errno)}});
      if (metrics_.errors) metrics_.errors->inc();
    }
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return false;
  }
  r.fd = fd;
  r.dev = st.st_dev;
  r.ino = st.st_ino;
  const auto size = static_cast<uint64_t>(st.st_size);
  if (rotated) {
    r.offset = 0;
    return true;
  }
  std::optional<std::string> stored;
  if (positions_) stored = positions_->get(r.path, r.labels_text);
  if (!stored) {
    r.offset = opts_.tail_from_end ? size : 0;
    return true;
  }
  uint64_t off = 0;
  auto res = std::from_chars(stored->data(), stored->data() + stored->size(), off);
  bool valid = res.ec == std::errc() && res.ptr == stored->data() + stored->size() && off <= size;
  if (valid) {
    r.offset = off;
  } else if (opts_.on_positions_file_error == "restart_from_end") {
    r.offset = size;
  } else if (opts_.on_positions_file_error == "skip") {
    r.skip = true;
    logger_.warn("stored position is invalid; skipping the file",
                 {{"path", r.path}, {"position", *stored}});
  } else {
    r.offset = 0;
  }
  return true;
}

bool FileSource::push(EntryBatch&& batch) {
  const size_t n = batch.size();
  for (size_t i = 0; i < receivers_.size(); ++i) {
    EntryBatch copy = (i + 1 == receivers_.size()) ? std::move(batch) : batch;
    absl::Status st = receivers_[i]->pushBatch(std::move(copy));
    if (!st.ok()) {
      if (metrics_.refused) metrics_.refused->inc(static_cast<double>(n));
      if (refuse_log_.shouldLog()) {
        logger_.warn("a forward_to receiver refused file log entries; reading them again later",
                     {{"err", std::string(st.message())}});
      }
      return false;
    }
  }
  return true;
}

bool FileSource::drain(Reader& r) {
  std::string buf;
  uint64_t base = r.offset;  // file offset of buf[0]
  size_t consumed = 0;       // bytes of buf turned into lines
  uint64_t line_end = r.offset;
  size_t total = 0;
  EntryBatch batch;
  uint64_t batch_bytes = 0;
  const int64_t ts = nowNs();
  auto emit = [&](size_t from, size_t len) {
    std::string_view line(buf.data() + from, len);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (batch.streams.empty()) batch.addStream(r.labels);
    batch.add(0, ts, line);
    batch_bytes += len;
  };
  auto flush = [&]() -> bool {
    if (batch.empty()) return true;
    const size_t n = batch.size();
    const uint64_t b = batch_bytes;
    if (!push(std::move(batch))) return false;
    batch = EntryBatch();
    batch_bytes = 0;
    r.offset = line_end;
    if (positions_) positions_->put(r.path, r.labels_text, std::to_string(r.offset));
    if (metrics_.lines) metrics_.lines->inc(static_cast<double>(n));
    if (metrics_.bytes) metrics_.bytes->inc(static_cast<double>(b));
    return true;
  };
  char tmp[64 << 10];
  while (total < opts_.max_read_per_poll) {
    ssize_t n = ::pread(r.fd, tmp, sizeof(tmp), static_cast<off_t>(base + buf.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (metrics_.errors) metrics_.errors->inc();
      if (error_log_.shouldLog()) {
        logger_.warn("reading log file failed", {{"path", r.path}, {"err", std::strerror(errno)}});
      }
      break;
    }
    if (n == 0) break;
    buf.append(tmp, static_cast<size_t>(n));
    total += static_cast<size_t>(n);
    while (true) {
      size_t nl = buf.find('\n', consumed);
      const size_t avail = (nl == std::string::npos ? buf.size() : nl) - consumed;
      if (avail > opts_.max_line_bytes) {
        emit(consumed, opts_.max_line_bytes);
        consumed += opts_.max_line_bytes;
        line_end = base + consumed;
        continue;
      }
      if (nl == std::string::npos) {
        if (avail == opts_.max_line_bytes) {
          emit(consumed, opts_.max_line_bytes);
          consumed += opts_.max_line_bytes;
          line_end = base + consumed;
          continue;
        }
        break;
      }
      emit(consumed, nl - consumed);
      consumed = nl + 1;
      line_end = base + consumed;
      if (batch.size() >= 1000 && !flush()) return false;
    }
    buf.erase(0, consumed);
    base += consumed;
    consumed = 0;
  }
  return flush();
}

void FileSource::readFile(Reader& r) {
  if (r.skip) return;
  if (r.fd < 0 && !openReader(r, false)) return;
  if (r.skip) return;
  struct stat st {};
  if (::fstat(r.fd, &st) == 0 && static_cast<uint64_t>(st.st_size) < r.offset) {
    r.offset = 0;  // truncated (copytruncate)
  }
  if (!drain(r)) return;
  struct stat now {};
  if (::stat(r.path.c_str(), &now) != 0) return;  // deleted: keep the old file until replaced
  if (now.st_ino != r.ino || now.st_dev != r.dev) {
    ::close(r.fd);
    r.fd = -1;
    if (openReader(r, /*rotated=*/true)) (void)drain(r);
  }
}

// ---- Component ---------------------------------------------------------------------------------

using runtime::CapsuleRef;
using runtime::Duration;
using runtime::Schema;
using namespace std::chrono_literals;

struct FileWatchBlock {
  Duration min_poll_frequency{250ms};
  Duration max_poll_frequency{250ms};
  static void describe(Schema<FileWatchBlock>& s) {
    s.attr("min_poll_frequency", &FileWatchBlock::min_poll_frequency);
    s.attr("max_poll_frequency", &FileWatchBlock::max_poll_frequency);
  }
};

struct FileMatchBlock {
  bool enabled = false;
  Duration sync_period{10s};
  Duration ignore_older_than{0s};
  static void describe(Schema<FileMatchBlock>& s) {
    s.attr("enabled", &FileMatchBlock::enabled);
    s.attr("sync_period", &FileMatchBlock::sync_period);
    s.attr("ignore_older_than", &FileMatchBlock::ignore_older_than);
  }
  absl::Status validate() const {
    if (sync_period.value.count() <= 0) {
      return absl::InvalidArgumentError("sync period must be greater than 0");
    }
    return absl::OkStatus();
  }
};

struct DecompressionBlock {
  bool enabled = false;
  Duration initial_delay{0s};
  std::string format;
  static void describe(Schema<DecompressionBlock>& s) {
    s.attr("enabled", &DecompressionBlock::enabled).required();
    s.attr("initial_delay", &DecompressionBlock::initial_delay);
    s.attr("format", &DecompressionBlock::format).required();
  }
  absl::Status validate() const {
    if (enabled) {
      return absl::UnimplementedError("decompression of log files is not supported by telegate");
    }
    return absl::OkStatus();
  }
};

struct Arguments {
  std::vector<runtime::Target> targets;
  std::vector<CapsuleRef<LogsReceiver>> forward_to;
  std::string encoding;
  std::optional<DecompressionBlock> decompression;
  FileWatchBlock file_watch;
  FileMatchBlock file_match;
  bool tail_from_end = false;
  std::string legacy_positions_file;
  std::string on_positions_file_error = "restart_from_beginning";
  static void describe(Schema<Arguments>& s) {
    s.attr("targets", &Arguments::targets).required().doc("files to read (__path__)");
    s.attr("forward_to", &Arguments::forward_to).required().doc("Loki receivers");
    s.attr("encoding", &Arguments::encoding).doc("only UTF-8 is supported");
    s.block("decompression", &Arguments::decompression);
    s.block("file_watch", &Arguments::file_watch);
    s.block("file_match", &Arguments::file_match);
    s.attr("tail_from_end", &Arguments::tail_from_end);
    s.attr("legacy_positions_file", &Arguments::legacy_positions_file).doc("ignored");
    s.attr("on_positions_file_error", &Arguments::on_positions_file_error)
        .doc("restart_from_beginning, restart_from_end or skip");
  }
  absl::Status validate() const {
    std::string enc = encoding;
    std::transform(enc.begin(), enc.end(), enc.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (!enc.empty() && enc != "utf-8" && enc != "utf8") {
      return absl::UnimplementedError(
          strCat("encoding \"", encoding, "\" is not supported by telegate (only UTF-8)"));
    }
    if (on_positions_file_error != "restart_from_beginning" &&
        on_positions_file_error != "restart_from_end" && on_positions_file_error != "skip") {
      return absl::InvalidArgumentError(
          strCat("unknown OnPositionsFileError value: ", on_positions_file_error));
    }
    return absl::OkStatus();
  }
};

class Component : public runtime::TypedComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments& args) : host_(host), args_(args) {
    auto& m = host.metrics();
    const std::vector<std::string> id{host.id()};
    metrics_.lines = &m.counter("telegate_loki_source_file_read_lines_total",
                                "Lines read and accepted by forward_to.", {"component_id"})
                          .with(id);
    metrics_.bytes = &m.counter("telegate_loki_source_file_read_bytes_total",
                                "Bytes of lines read and accepted by forward_to.", {"component_id"})
                          .with(id);
    metrics_.refused =
        &m.counter("telegate_loki_source_file_refused_entries_total",
                   "Entries refused by forward_to (read again later).", {"component_id"})
             .with(id);
    metrics_.errors = &m.counter("telegate_loki_source_file_errors_total", "File open/read errors.",
                                 {"component_id"})
                           .with(id);
    metrics_.bad_targets =
        &m.counter("telegate_loki_source_file_target_errors_total",
                   "Targets skipped for a missing or relative __path__.", {"component_id"})
             .with(id);
    metrics_.files =
        &m.gauge("telegate_loki_source_file_files", "Files being read.", {"component_id"}).with(id);
  }
  ~Component() override {
    if (source_) source_->stop();
  }

  absl::Status start() override {
    auto positions = std::make_shared<loki::source::Positions>();
    std::string warning;
    absl::Status st = loki::source::Positions::open(host_.dataPath() + "/positions.json",
                                                    positions.get(), &warning);
    if (!st.ok()) {
      host_.setHealth(runtime::HealthState::kUnhealthy, std::string(st.message()));
      return absl::OkStatus();
    }
    if (!warning.empty()) host_.logger().warn(warning);
    if (!args_.legacy_positions_file.empty()) {
      host_.logger().warn("legacy_positions_file is ignored by telegate",
                          {{"file", args_.legacy_positions_file}});
    }
    positions_ = positions;
    source_ = std::make_unique<FileSource>(positions, metrics_, host_.logger());
    apply();
    source_->start();
    host_.setHealth(runtime::HealthState::kHealthy, "");
    return absl::OkStatus();
  }

  absl::Status update(const Arguments& args) override {
    args_ = args;
    if (source_) apply();
    return absl::OkStatus();
  }

  void shutdown(std::chrono::steady_clock::time_point) override {
    if (source_) source_->stop();
    if (positions_) {
      absl::Status st = positions_->sync();
      if (!st.ok()) {
        host_.logger().error("writing positions failed", {{"err", std::string(st.message())}});
      }
    }
  }

 private:
  void apply() {
    FileSourceOptions o;
    o.poll = std::chrono::duration_cast<std::chrono::milliseconds>(
        args_.file_watch.min_poll_frequency.value);
    if (o.poll.count() <= 0) o.poll = std::chrono::milliseconds(250);
    o.file_match = args_.file_match.enabled;
    o.sync_period =
        std::chrono::duration_cast<std::chrono::milliseconds>(args_.file_match.sync_period.value);
    o.ignore_older_than = std::chrono::duration_cast<std::chrono::milliseconds>(
        args_.file_match.ignore_older_than.value);
    o.tail_from_end = args_.tail_from_end;
    o.on_positions_file_error = args_.on_positions_file_error;
    FileSource::Receivers receivers;
    for (const auto& r : args_.forward_to) {
      if (r.ptr) receivers.push_back(r.ptr);
    }
    source_->configure(args_.targets, std::move(receivers), o);
  }

  runtime::Host& host_;
  Arguments args_;
  FileSourceMetrics metrics_;
  std::shared_ptr<loki::source::Positions> positions_;
  std::unique_ptr<FileSource> source_;
};

}  // namespace telegate::loki::source_file

namespace telegate::components {
void registerLokiSourceFile() {
  runtime::registerComponent<loki::source_file::Component>("loki.source.file",
                                                           "Reads log lines from files.", {});
}
}  // namespace telegate::components
