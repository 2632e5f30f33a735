#include "src/queue/disk_queue.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "src/common/crc32c.h"
#include "src/common/log.h"
#include "src/common/strings.h"

namespace telegate::queue {

namespace {

constexpr uint32_t kMagic = 0x32514754;      // "TGQ2" little-endian: crc32c frames (written)
constexpr uint32_t kMagicV1 = 0x31514754;    // "TGQ1": zlib crc32 frames (still read)
constexpr uint32_t kCkptMagic = 0x41514754;  // "TGQA"
constexpr size_t kHeader = 22;
constexpr size_t kCkptSize = 16;

void put32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
void put64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
uint32_t get32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}
uint64_t get64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

uint32_t crc(uint32_t c, const char* p, size_t n) {
  // zlib's crc32 takes uInt lengths; chunk to be safe with large payloads.
  while (n > 0) {
    uInt k = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    c = static_cast<uint32_t>(crc32(c, reinterpret_cast<const Bytef*>(p), k));
    p += k;
    n -= k;
  }
  return c;
}

// crc of a frame: over the length field, then id, meta length, meta and payload. `hdr` is the
// kHeader bytes of the frame; `magic` selects the algorithm (kMagic: crc32c, kMagicV1: zlib).
uint32_t frameCrc(uint32_t magic, const char* hdr, std::string_view meta, std::string_view record) {
  if (magic == kMagic) {
    uint32_t c = crc32c(0, hdr + 4, 4);
    c = crc32c(c, hdr + 12, kHeader - 12);
    c = crc32c(c, meta.data(), meta.size());
    return crc32c(c, record.data(), record.size());
  }
  uint32_t c = crc(0, hdr + 4, 4);
  c = crc(c, hdr + 12, kHeader - 12);
  c = crc(c, meta.data(), meta.size());
  return crc(c, record.data(), record.size());
}

struct Parsed {
  uint64_t id;
  size_t total;
  uint16_t meta_len;
};

// Validates the frame at `pos`: magic, bounds, crc, min_id <= id < limit.
std::optional<Parsed> parseAt(const char* buf, size_t size, size_t pos, uint64_t min_id,
                              uint64_t limit) {
  if (size - pos < kHeader) return std::nullopt;
  const char* p = buf + pos;
  const uint32_t magic = get32(p);
  if (magic != kMagic && magic != kMagicV1) return std::nullopt;
  uint64_t len = get32(p + 4);
  uint64_t meta_len = static_cast<uint8_t>(p[20]) | (static_cast<uint8_t>(p[21]) << 8);
  uint64_t total = kHeader + meta_len + len;
  if (total > size - pos) return std::nullopt;
  uint64_t id = get64(p + 12);
  if (id < min_id || id >= limit) return std::nullopt;
  const char* m = p + kHeader;
  if (frameCrc(magic, p, std::string_view(m, meta_len), std::string_view(m + meta_len, len)) !=
      get32(p + 8)) {
    return std::nullopt;
  }
  return Parsed{id, static_cast<size_t>(total), static_cast<uint16_t>(meta_len)};
}

std::string errnoMsg(std::string_view what, const std::string& path) {
  return strCat(what, " ", path, ": ", std::string(strerror(errno)));
}

bool writeAll(int fd, const char* p, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return true;
}

bool readAll(int fd, char* p, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (r == 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return true;
}

// Advances `iov`/`cnt` past `done` bytes.
void skipIov(iovec** iov, int* cnt, size_t done) {
  while (*cnt > 0 && done >= (*iov)->iov_len) {
    done -= (*iov)->iov_len;
    ++*iov;
    --*cnt;
  }
  if (*cnt > 0) {
    (*iov)->iov_base = static_cast<char*>((*iov)->iov_base) + done;
    (*iov)->iov_len -= done;
  }
}

// pwritev/preadv until every byte is transferred. The iovecs are modified.
bool writevAll(int fd, iovec* iov, int cnt, uint64_t off) {
  skipIov(&iov, &cnt, 0);
  while (cnt > 0) {
    ssize_t w = ::pwritev(fd, iov, cnt, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (w == 0) {
      errno = EIO;
      return false;
    }
    off += static_cast<uint64_t>(w);
    skipIov(&iov, &cnt, static_cast<size_t>(w));
  }
  return true;
}

bool readvAll(int fd, iovec* iov, int cnt, uint64_t off) {
  skipIov(&iov, &cnt, 0);
  while (cnt > 0) {
    ssize_t r = ::preadv(fd, iov, cnt, static_cast<off_t>(off));
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (r == 0) {
      errno = EIO;  // the file is shorter than the index says
      return false;
    }
    off += static_cast<uint64_t>(r);
    skipIov(&iov, &cnt, static_cast<size_t>(r));
  }
  return true;
}

void fsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::string segName(uint64_t first_id) {
  std::string digits = std::to_string(first_id);
  if (digits.size() < 16) digits.insert(0, 16 - digits.size(), '0');
  return digits + ".seg";
}

const log::Logger& qlog() {
  static const log::Logger* l = new log::Logger({{"component", "disk_queue"}});
  return *l;
}

}  // namespace

struct DiskQueue::Segment {
  uint64_t first_id = 0;
  std::string path;
  int fd = -1;
  uint64_t size = 0;  // bytes of frames (mu_; the writer reads it under write_mu_)
  uint64_t phys = 0;  // a recycled file's size while larger than `size` (stale tail), else 0

  uint64_t remaining = 0;  // entries_ belonging to this segment (mu_)
  bool sealed = false;     // no more appends (mu_)
  bool reclaimed = false;  // fully acknowledged and unlinked (mu_)
  ~Segment() {
    if (fd >= 0) ::close(fd);
  }
  // Bytes of the file on disk.
  uint64_t fileBytes() const { return std::max(size, phys); }
};

namespace {
constexpr size_t kMaxSpares = 2;  // recycled segment files kept for reuse
constexpr std::string_view kSparePrefix = "spare.";
}  // namespace

DiskQueue::DiskQueue(DiskQueueOptions opts) : opts_(std::move(opts)) {}

absl::StatusOr<std::unique_ptr<DiskQueue>> DiskQueue::open(DiskQueueOptions opts) {
  if (opts.dir.empty()) return absl::InvalidArgumentError("disk queue: empty dir");
  if (opts.max_bytes < 16 * 1024) opts.max_bytes = 16 * 1024;
  uint64_t max_seg = std::max<uint64_t>(4096, opts.max_bytes / 4);
  opts.segment_bytes = std::clamp<uint64_t>(opts.segment_bytes, 4096, max_seg);
  if (opts.sync_interval.count() <= 0) opts.sync_interval = std::chrono::milliseconds(1000);
  while (opts.dir.size() > 1 && opts.dir.back() == '/') opts.dir.pop_back();

  std::unique_ptr<DiskQueue> q(new DiskQueue(std::move(opts)));
  const std::string& dir = q->opts_.dir;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::InternalError(errnoMsg("disk queue: mkdir", dir));
  }
  std::string lock_path = dir + "/LOCK";
  q->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (q->lock_fd_ < 0) return absl::InternalError(errnoMsg("disk queue: open", lock_path));
  if (::flock(q->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(q->lock_fd_);
    q->lock_fd_ = -1;
    return absl::FailedPreconditionError(
        strCat("disk queue: directory ", dir, " is in use by another queue"));
  }
  q->registry_ = q->opts_.registry ? q->opts_.registry : &metrics::defaultRegistry();
  q->corrupt_counter_ =
      &q->registry_
           ->counter("telegate_queue_corrupt_records_total",
                     "Records of the disk queue lost to on-disk corruption.", {"dir"})
           .with({dir});
  absl::Status st = q->recover();
  if (!st.ok()) {
    q->close();
    return st;
  }
  q->recovered_ = true;
  DiskQueue* raw = q.get();
  q->collector_id_ = q->registry_->addCollector([raw](metrics::Writer& w) {
    metrics::Labels l{{"dir", raw->opts_.dir}};
    w.gauge("telegate_queue_live_bytes", "Segment bytes of the disk queue on disk.", l,
            static_cast<double>(raw->liveBytes()));
    w.gauge("telegate_queue_live_records", "Records in the disk queue not yet acknowledged.", l,
            static_cast<double>(raw->liveRecords()));
  });
  q->bg_ = std::thread([raw] { raw->background(); });
  return q;
}

DiskQueue::~DiskQueue() {
  close();
  dropSpares(0);  // one recycled after close() by a late ack
}

void DiskQueue::countCorrupt(uint64_t n) {
  if (n == 0) return;
  corrupt_counter_->inc(static_cast<double>(n));
  std::lock_guard<std::mutex> lock(mu_);
  corrupt_ += n;
}

absl::Status DiskQueue::recover() {
  const std::string& dir = opts_.dir;
  // Checkpoint.
  uint64_t floor = 0;
  std::string ckpt_path = dir + "/acked";
  ::unlink((dir + "/acked.tmp").c_str());
  int cfd = ::open(ckpt_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (cfd >= 0) {
    char buf[kCkptSize];
    if (readAll(cfd, buf, kCkptSize, 0) && get32(buf) == kCkptMagic &&
        crc(0, buf, 12) == get32(buf + 12)) {
      floor = get64(buf + 4);
    } else {
      qlog().error("corrupt checkpoint ignored; all records on disk will be redelivered",
                   {{"dir", dir}});
    }
    ::close(cfd);
  } else if (errno != ENOENT) {
    return absl::InternalError(errnoMsg("disk queue: open", ckpt_path));
  }
  ckpt_floor_ = floor;

  // Segments, in id order.
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return absl::InternalError(errnoMsg("disk queue: opendir", dir));
  std::vector<uint64_t> ids;
  while (dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n.substr(0, kSparePrefix.size()) == kSparePrefix) {
      ::unlink((dir + "/" + std::string(n)).c_str());  // a recycled file of an earlier run
      continue;
    }
    if (n.size() != 20 || n.substr(16) != ".seg") continue;
    if (!std::all_of(n.begin(), n.begin() + 16, [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    ids.push_back(std::stoull(std::string(n.substr(0, 16))));
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());

  uint64_t max_id = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto seg = std::make_shared<Segment>();
    seg->first_id = ids[i];
    seg->path = dir + "/" + segName(ids[i]);
    seg->sealed = true;
    seg->fd = ::open(seg->path.c_str(), O_RDWR | O_CLOEXEC);
    if (seg->fd < 0) return absl::InternalError(errnoMsg("disk queue: open", seg->path));
    bool last = i + 1 == ids.size();
    uint64_t limit = last ? UINT64_MAX : ids[i + 1];
    max_id = std::max(max_id, ids[i] > 0 ? ids[i] - 1 : 0);
    absl::Status st = recoverSegment(seg, last, limit, floor, &max_id);
    if (!st.ok()) return st;
    if (seg->remaining == 0) {
      ::unlink(seg->path.c_str());  // fully acknowledged or empty
      continue;
    }
    live_bytes_ += seg->size;
    // Its last appends may be in the page cache only (a process crash): sync in the background.
    if (opts_.sync == SyncPolicy::kInterval) unsynced_.push_back(seg);
    segments_.push_back(std::move(seg));
  }
  next_id_ = std::max({uint64_t{1}, floor, max_id + 1});
  unacked_ = entries_.size();
  if (!ids.empty()) {
    qlog().info("disk queue recovered", {{"dir", dir},
                                         {"records", std::to_string(entries_.size())},
                                         {"bytes", std::to_string(live_bytes_)},
                                         {"segments", std::to_string(segments_.size())},
                                         {"next_id", std::to_string(next_id_)}});
  }
  return absl::OkStatus();
}

absl::Status DiskQueue::recoverSegment(const std::shared_ptr<Segment>& seg, bool last,
                                       uint64_t limit, uint64_t floor, uint64_t* max_id) {
  struct stat sb;
  if (::fstat(seg->fd, &sb) != 0) return absl::InternalError(errnoMsg("fstat", seg->path));
  std::string buf(static_cast<size_t>(sb.st_size), '\0');
  if (!buf.empty() && !readAll(seg->fd, buf.data(), buf.size(), 0)) {
    return absl::InternalError(errnoMsg("disk queue: read", seg->path));
  }
  auto lost = [floor](uint64_t from, uint64_t to) -> uint64_t {
    from = std::max(from, floor);
    return to > from ? to - from : 0;
  };
  const size_t size = buf.size();
  size_t pos = 0;
  uint64_t min_id = seg->first_id;
  seg->size = size;
  while (pos < size) {
    std::optional<Parsed> r = parseAt(buf.data(), size, pos, min_id, limit);
    if (!r) {
      // Damaged: look for the next valid frame in this segment.
      std::optional<Parsed> next;
      size_t npos = pos + 1;
      for (; npos + kHeader <= size; ++npos) {
        const void* m = memchr(buf.data() + npos, 'T', size - npos);
        if (m == nullptr) {
          npos = size;
          break;
        }
        npos = static_cast<const char*>(m) - buf.data();
        if (npos + kHeader > size) break;
        next = parseAt(buf.data(), size, npos, min_id, limit);
        if (next) break;
      }
      if (next) {
        uint64_t n = lost(min_id, next->id);
        qlog().error("disk queue: corrupt records skipped",
                     {{"segment", seg->path},
                      {"offset", std::to_string(pos)},
                      {"skipped_bytes", std::to_string(npos - pos)},
                      {"lost_records", std::to_string(n)}});
        countCorrupt(n);
        pos = npos;
        continue;
      }
      if (last) {
        qlog().warn("disk queue: truncating torn tail", {{"segment", seg->path},
                                                         {"offset", std::to_string(pos)},
                                                         {"bytes", std::to_string(size - pos)}});
        if (::ftruncate(seg->fd, static_cast<off_t>(pos)) != 0) {
          return absl::InternalError(errnoMsg("disk queue: ftruncate", seg->path));
        }
        if (opts_.sync != SyncPolicy::kNever) ::fdatasync(seg->fd);
        seg->size = pos;
      } else {
        uint64_t n = lost(min_id, limit);
        qlog().error("disk queue: corrupt segment remainder skipped",
                     {{"segment", seg->path},
                      {"offset", std::to_string(pos)},
                      {"skipped_bytes", std::to_string(size - pos)},
                      {"lost_records", std::to_string(n)}});
        countCorrupt(n);
      }
      break;
    }
    if (r->id >= floor) {
      entries_.push_back(
          Entry{r->id, seg, pos, static_cast<uint32_t>(r->total), r->meta_len, State::kReady});
      ++seg->remaining;
    }
    *max_id = std::max(*max_id, r->id);
    min_id = r->id + 1;
    pos += r->total;
  }
  return absl::OkStatus();
}

// write_mu_ held. Seals the active segment (synced unless kNever) and reclaims it if empty.
absl::Status DiskQueue::rollLocked() {
  if (!active_) return absl::OkStatus();
  trimStaleTailLocked();
  // kEveryBatch: already synced by the pushes' group commits, this is cheap. kInterval: the
  // background thread syncs it within sync_interval, unless it is fully acknowledged and deleted
  // before (then its pages are dropped without ever being written).
  if (opts_.sync == SyncPolicy::kEveryBatch && ::fdatasync(active_->fd) != 0) {
    return absl::InternalError(errnoMsg("disk queue: fdatasync", active_->path));
  }
  if (opts_.sync == SyncPolicy::kInterval) unsynced_.push_back(active_);
  std::vector<std::shared_ptr<Segment>> doomed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    active_->sealed = true;
    active_.reset();
    while (!segments_.empty() && segments_.front()->sealed && segments_.front()->remaining == 0) {
      live_bytes_ -= segments_.front()->fileBytes();
      segments_.front()->reclaimed = true;
      doomed.push_back(std::move(segments_.front()));
      segments_.pop_front();
    }
  }
  dispose(doomed);
  return absl::OkStatus();
}

// write_mu_ held. Cuts the stale bytes after the last frame of a recycled active segment.
void DiskQueue::trimStaleTailLocked() {
  uint64_t size, phys;
  {
    std::lock_guard<std::mutex> lock(mu_);
    size = active_->size;
    phys = active_->phys;
  }
  if (phys <= size || ::ftruncate(active_->fd, static_cast<off_t>(size)) != 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  live_bytes_ -= phys - size;
  active_->phys = 0;
}

void DiskQueue::dispose(std::vector<std::shared_ptr<Segment>>& doomed) {
  for (auto& seg : doomed) {
    uint64_t bytes;
    bool keep;
    {
      std::lock_guard<std::mutex> lock(mu_);
      bytes = seg->fileBytes();
      keep = !closed_ && seg->size > 0 && bytes <= opts_.segment_bytes &&
             live_bytes_ + spare_bytes_.load() + bytes <= opts_.max_bytes;
    }
    if (keep) {
      std::lock_guard<std::mutex> slock(spare_mu_);
      if (spares_.size() < kMaxSpares) {
        Spare sp;
        sp.path = strCat(opts_.dir, "/", kSparePrefix, ++spare_seq_);
        sp.bytes = bytes;
        sp.fd = ::dup(seg->fd);  // keeps the file and its cached pages after `seg` closes its fd
        if (sp.fd >= 0 && ::rename(seg->path.c_str(), sp.path.c_str()) == 0) {
          spares_.push_back(std::move(sp));
          spare_bytes_ += bytes;
          continue;
        }
        if (sp.fd >= 0) ::close(sp.fd);
      }
    }
    ::unlink(seg->path.c_str());
  }
  doomed.clear();
}

void DiskQueue::dropSpares(uint64_t need) {
  std::lock_guard<std::mutex> slock(spare_mu_);
  while (!spares_.empty() && spare_bytes_.load() > need) {
    ::unlink(spares_.back().path.c_str());
    ::close(spares_.back().fd);
    spare_bytes_ -= spares_.back().bytes;
    spares_.pop_back();
  }
}

// write_mu_ held. Gives `seg` (path set, no file yet) a recycled file when one is spare and the
// bound allows its size; its pages are in the page cache, so overwriting them is much cheaper
// than filling new ones.
void DiskQueue::reuseSpare(Segment* seg, uint64_t total) {
  Spare sp;
  {
    std::lock_guard<std::mutex> slock(spare_mu_);
    if (spares_.empty()) return;
    sp = std::move(spares_.back());
    spares_.pop_back();
    spare_bytes_ -= sp.bytes;
  }
  bool fits;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fits = live_bytes_ + std::max(total, sp.bytes) <= opts_.max_bytes;
  }
  if (fits && ::rename(sp.path.c_str(), seg->path.c_str()) == 0) {
    seg->fd = sp.fd;
    seg->phys = sp.bytes;
    return;
  }
  ::unlink(sp.path.c_str());
  ::close(sp.fd);
}

absl::Status DiskQueue::push(std::string_view record, std::string_view meta) {
  if (meta.size() > 0xffff)
    return absl::InvalidArgumentError("disk queue: meta longer than 64 KiB");
  if (record.size() > 0xffffffffull - kHeader - meta.size()) {
    return absl::InvalidArgumentError("disk queue: record too large");
  }
  const uint64_t total = kHeader + meta.size() + record.size();
  if (total > opts_.max_bytes) {
    return absl::InvalidArgumentError(
        strCat("disk queue: record of ", total, " bytes exceeds max_bytes ", opts_.max_bytes));
  }
  uint64_t seq;
  {
    std::unique_lock<std::mutex> wlock(write_mu_);
    bool roll = false;
    uint64_t id;
    uint64_t spare_need = UINT64_MAX;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return absl::FailedPreconditionError("disk queue: closed");
      uint64_t live = live_bytes_;
      // Growth of the files on disk: appending over a recycled file's stale tail adds nothing.
      auto growth = [&] {
        return std::max(active_->size + total, active_->phys) - active_->fileBytes();
      };
      if (active_ && active_->size > 0) {
        roll = active_->size + total > opts_.segment_bytes;
        // A fully acknowledged active segment is reclaimed by rolling over, but only when the
        // space is needed (rolling on every push of a drained queue would cost a file creation).
        if (live + (roll ? total : growth()) > opts_.max_bytes && active_->remaining == 0 &&
            segments_.size() == 1) {
          live -= active_->fileBytes();
          roll = true;
        }
      }
      const uint64_t grow = active_ && !roll ? growth() : total;
      if (live + grow > opts_.max_bytes) {
        return absl::ResourceExhaustedError(
            strCat("disk queue: full (", live_bytes_, " of ", opts_.max_bytes, " bytes)"));
      }
      // Spare files count against the bound too: give them up when the space is needed.
      if (live + grow + spare_bytes_.load() > opts_.max_bytes) {
        spare_need = opts_.max_bytes - live - grow;
      }
      id = next_id_;
    }
    if (spare_need != UINT64_MAX) dropSpares(spare_need);
    if (roll) {
      absl::Status st = rollLocked();
      if (!st.ok()) return st;
    }
    if (!active_) {
      auto seg = std::make_shared<Segment>();
      seg->first_id = id;
      seg->path = opts_.dir + "/" + segName(id);
      reuseSpare(seg.get(), total);
      if (seg->fd < 0) {
        seg->fd = ::open(seg->path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      }
      if (seg->fd < 0) return absl::InternalError(errnoMsg("disk queue: create", seg->path));
      if (opts_.sync == SyncPolicy::kEveryBatch) fsyncDir(opts_.dir);
      if (opts_.sync == SyncPolicy::kInterval) dir_unsynced_ = true;  // background syncs it
      std::lock_guard<std::mutex> lock(mu_);
      live_bytes_ += seg->phys;
      segments_.push_back(seg);
      active_ = std::move(seg);
    }
    // Header, meta and record go to the file with one pwritev: no combined frame buffer.
    char hdr[kHeader];
    put32(hdr, kMagic);
    put32(hdr + 4, static_cast<uint32_t>(record.size()));
    put64(hdr + 12, id);
    hdr[20] = static_cast<char>(meta.size() & 0xff);
    hdr[21] = static_cast<char>(meta.size() >> 8);
    put32(hdr + 8, frameCrc(kMagic, hdr, meta, record));
    iovec iov[3] = {{hdr, kHeader},
                    {const_cast<char*>(meta.data()), meta.size()},
                    {const_cast<char*>(record.data()), record.size()}};

    const uint64_t off = active_->size;
    if (!writevAll(active_->fd, iov, 3, off)) {
      absl::Status st = absl::InternalError(errnoMsg("disk queue: write", active_->path));
      if (::ftruncate(active_->fd, static_cast<off_t>(off)) == 0) {
        std::lock_guard<std::mutex> lock(mu_);
        live_bytes_ -= active_->fileBytes() - off;  // a recycled file's stale tail went too
        active_->phys = 0;
      } else {
        // Garbage may remain at the tail: never append after it again. Earlier records in it may
        // still be waiting for groupSync(), which only syncs the active segment: sync it here.
        if (opts_.sync != SyncPolicy::kNever) ::fdatasync(active_->fd);
        std::lock_guard<std::mutex> lock(mu_);
        active_->sealed = true;
        active_.reset();
      }
      return st;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      const uint64_t before = active_->fileBytes();
      active_->size += total;
      ++active_->remaining;
      live_bytes_ += active_->fileBytes() - before;
      ++unacked_;
      next_id_ = id + 1;
      entries_.push_back(Entry{id, active_, off, static_cast<uint32_t>(total),
                               static_cast<uint16_t>(meta.size()), State::kReady});
    }
    cv_.notify_one();
    seq = ++written_seq_;
  }
  if (opts_.sync == SyncPolicy::kEveryBatch) return groupSync(seq);
  return absl::OkStatus();
}

absl::Status DiskQueue::groupSync(uint64_t seq) {
  std::lock_guard<std::mutex> slock(sync_mu_);
  if (synced_seq_ >= seq) return absl::OkStatus();
  uint64_t target;
  std::shared_ptr<Segment> seg;
  {
    std::lock_guard<std::mutex> wlock(write_mu_);
    target = written_seq_;
    seg = active_;
  }
  // Records in earlier segments were synced when those were rolled over.
  if (seg && ::fdatasync(seg->fd) != 0) {
    return absl::InternalError(errnoMsg("disk queue: fdatasync", seg->path));
  }
  synced_seq_ = target;
  return absl::OkStatus();
}

absl::Status DiskQueue::syncSealed() {
  std::vector<std::shared_ptr<Segment>> sealed;
  bool dir;
  {
    std::lock_guard<std::mutex> wlock(write_mu_);
    sealed.swap(unsynced_);
    dir = dir_unsynced_;
    dir_unsynced_ = false;
  }
  absl::Status st;
  for (const auto& seg : sealed) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (seg->reclaimed) continue;  // deleted: nothing left worth keeping
    }
    if (::fdatasync(seg->fd) != 0 && st.ok()) {
      st = absl::InternalError(errnoMsg("disk queue: fdatasync", seg->path));
    }
  }
  sealed.clear();  // closes the files of segments deleted meanwhile
  if (dir) fsyncDir(opts_.dir);
  return st;
}

int64_t DiskQueue::findLocked(uint64_t id) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), id,
                             [](const Entry& e, uint64_t v) { return e.id < v; });
  if (it == entries_.end() || it->id != id) return -1;
  return it - entries_.begin();
}

uint64_t DiskQueue::floorLocked() const {
  return entries_.empty() ? next_id_ : entries_.front().id;
}

void DiskQueue::ackLocked(size_t idx, std::vector<std::shared_ptr<Segment>>* doomed) {
  entries_[idx].state = State::kAcked;
  --unacked_;
  while (!entries_.empty() && entries_.front().state == State::kAcked) {
    --entries_.front().seg->remaining;
    entries_.pop_front();
    if (cursor_ > 0) --cursor_;
  }
  while (!segments_.empty() && segments_.front()->sealed && segments_.front()->remaining == 0) {
    live_bytes_ -= segments_.front()->fileBytes();
    segments_.front()->reclaimed = true;
    doomed->push_back(std::move(segments_.front()));
    segments_.pop_front();
  }
}

std::optional<DiskQueue::Item> DiskQueue::pop(std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (closed_) return std::nullopt;
    int64_t idx = -1;
    if (!redeliver_.empty()) {
      idx = findLocked(*redeliver_.begin());
      redeliver_.erase(redeliver_.begin());
      if (idx < 0 || entries_[idx].state != State::kReady) continue;
    } else if (cursor_ < entries_.size()) {
      idx = static_cast<int64_t>(cursor_++);
      if (entries_[idx].state != State::kReady) continue;
    } else {
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && redeliver_.empty() &&
          cursor_ >= entries_.size()) {
        return std::nullopt;
      }
      continue;
    }
    Entry& e = entries_[idx];
    e.state = State::kInflight;
    std::shared_ptr<Segment> seg = e.seg;
    const uint64_t id = e.id, off = e.offset;
    const uint32_t size = e.size;
    const uint16_t meta_len = e.meta_len;
    lock.unlock();

    // Read straight into the strings handed out: header on the stack, meta, record.
    Item item;
    item.id = id;
    char hdr[kHeader];
    const size_t rec_len = size - kHeader - meta_len;
    item.meta.resize(meta_len);
    item.record.resize(rec_len);
    iovec iov[3] = {{hdr, kHeader}, {item.meta.data(), meta_len}, {item.record.data(), rec_len}};
    bool ok = readvAll(seg->fd, iov, 3, off);
    if (ok) {
      const uint32_t magic = get32(hdr);
      const size_t hdr_meta = static_cast<uint8_t>(hdr[20]) | (static_cast<uint8_t>(hdr[21]) << 8);
      if ((magic == kMagic || magic == kMagicV1) && get32(hdr + 4) == rec_len &&
          get64(hdr + 12) == id && hdr_meta == meta_len &&
          frameCrc(magic, hdr, item.meta, item.record) == get32(hdr + 8)) {
        return item;
      }
    }
    qlog().error("disk queue: record unreadable, dropped",
                 {{"segment", seg->path},
                  {"id", std::to_string(id)},
                  {"error", ok ? "crc mismatch" : std::string(strerror(errno))}});
    corrupt_counter_->inc();
    std::vector<std::shared_ptr<Segment>> doomed;
    lock.lock();
    ++corrupt_;
    idx = findLocked(id);
    if (idx >= 0 && entries_[idx].state == State::kInflight) ackLocked(idx, &doomed);
    lock.unlock();
    dispose(doomed);
    lock.lock();
  }
}

void DiskQueue::ack(uint64_t id) {
  std::vector<std::shared_ptr<Segment>> doomed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t idx = findLocked(id);
    if (idx < 0 || entries_[idx].state != State::kInflight) return;
    ackLocked(static_cast<size_t>(idx), &doomed);
  }
  dispose(doomed);
}

void DiskQueue::nack(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t idx = findLocked(id);
    if (idx < 0 || entries_[idx].state != State::kInflight) return;
    entries_[idx].state = State::kReady;
    redeliver_.insert(id);
  }
  cv_.notify_one();
}

uint64_t DiskQueue::liveBytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_bytes_;
}

uint64_t DiskQueue::liveRecords() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unacked_;
}

uint64_t DiskQueue::corruptRecords() const {
  std::lock_guard<std::mutex> lock(mu_);
  return corrupt_;
}

void DiskQueue::writeCheckpoint() {
  std::lock_guard<std::mutex> clock(ckpt_mu_);
  uint64_t floor;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!recovered_) return;
    floor = floorLocked();
  }
  if (floor == ckpt_floor_) return;
  char buf[kCkptSize];
  put32(buf, kCkptMagic);
  put64(buf + 4, floor);
  put32(buf + 12, crc(0, buf, 12));
  const std::string tmp = opts_.dir + "/acked.tmp", dst = opts_.dir + "/acked";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && writeAll(fd, buf, kCkptSize, 0) &&
            (opts_.sync == SyncPolicy::kNever || ::fdatasync(fd) == 0);
  if (fd >= 0) ::close(fd);
  if (ok && ::rename(tmp.c_str(), dst.c_str()) == 0) {
    if (opts_.sync != SyncPolicy::kNever) fsyncDir(opts_.dir);
    ckpt_floor_ = floor;
    return;
  }
  static log::OnceEvery every(std::chrono::seconds(60));
  if (every.shouldLog()) {
    qlog().error("disk queue: checkpoint write failed",
                 {{"path", dst}, {"error", std::string(strerror(errno))}});
  }
}

void DiskQueue::background() {
  std::unique_lock<std::mutex> lock(bg_mu_);
  while (!bg_stop_) {
    bg_cv_.wait_for(lock, opts_.sync_interval);
    if (bg_stop_) break;
    lock.unlock();
    if (opts_.sync == SyncPolicy::kInterval) {
      uint64_t seq;
      {
        std::lock_guard<std::mutex> wlock(write_mu_);
        seq = written_seq_;
      }
      absl::Status st = syncSealed();
      absl::Status active = groupSync(seq);
      if (st.ok()) st = active;
      static log::OnceEvery every(std::chrono::seconds(60));
      if (!st.ok() && every.shouldLog()) qlog().error(std::string(st.message()));
    }
    writeCheckpoint();
    lock.lock();
  }
}

void DiskQueue::close() {
  {
    std::lock_guard<std::mutex> lock(bg_mu_);
    bg_stop_ = true;
  }
  bg_cv_.notify_all();
  if (bg_.joinable()) bg_.join();
  {
    std::lock_guard<std::mutex> wlock(write_mu_);
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ && lock_fd_ < 0) return;
    closed_ = true;
  }
  cv_.notify_all();
  if (collector_id_ != 0) {
    registry_->removeCollector(collector_id_);
    collector_id_ = 0;
  }
  if (lock_fd_ < 0) return;  // open() failed before taking the lock
  if (opts_.sync == SyncPolicy::kInterval) syncSealed().IgnoreError();
  {
    std::lock_guard<std::mutex> wlock(write_mu_);
    if (active_) trimStaleTailLocked();  // so that the next open() finds no torn-looking tail
    if (active_ && opts_.sync != SyncPolicy::kNever) ::fdatasync(active_->fd);
  }
  dropSpares(0);
  writeCheckpoint();
  ::close(lock_fd_);
  lock_fd_ = -1;
}

}  // namespace telegate::queue
