// A durable, bounded, at-least-once FIFO queue of opaque records stored in one directory.
//
// Contract:
//  * Layout: `<dir>/LOCK` (flock'ed for the lifetime of the open queue: one queue per
//    directory, a second open() fails with FAILED_PRECONDITION), append-only segment files
//    `<dir>/<16-digit id of the first record>.seg`, the checkpoint `<dir>/acked`, and up to two
//    recycled segment files `<dir>/spare.<n>` (below; removed by open() and close()).
//  * Record frame (all integers little-endian), 22 bytes of header then the bytes:
//      [magic u32 "TGQ2"][length u32 (payload)][crc u32][id u64][meta_len u16][meta][payload]
//    crc is CRC-32C (src/common/crc32c.h) over the length field followed by everything after the
//    crc field (id, meta length, meta, payload). Frames of the first format, magic "TGQ1", are
//    identical except that crc is zlib crc32; they are still read (recovery and pop()) so that a
//    queue written by an older version drains after an upgrade, but never written. An older
//    version reading a "TGQ2" frame treats it as damage (skipped and counted as corrupt, or a torn
//    tail), so downgrading with records on disk loses them. Ids are assigned by push(), start at
//    1, increase by one per record and are never reused, also across restarts.
//    push() writes header, meta and record with one pwritev (no frame buffer is built); pop()
//    reads with one preadv straight into the strings it returns and checks the crc.
//  * Checkpoint `acked` (16 bytes: magic "TGQA", floor u64, crc32 of the first 12 bytes): every
//    record with id < floor has been acknowledged. It is written as `acked.tmp` + rename (+ fsync
//    of file and directory unless SyncPolicy::kNever) by a background thread every
//    `sync_interval` when it changed, and by close(). Only the contiguous acknowledged prefix is
//    recorded, so after a restart every record at or after the floor is delivered again:
//    duplicates are possible (records acked since the last checkpoint, or acked out of order),
//    losses of synced records are not.
//  * Recovery (open): segments are scanned in id order and each frame is validated (magic,
//    bounds, crc, increasing id). At a damaged frame the scanner looks for the next valid frame
//    in the same segment. In the LAST segment, damage with no valid frame after it is a torn
//    tail from a crash mid-append: the file is truncated there and nothing is counted. Any other
//    damage skips the unreadable bytes, is logged at error level and the not-yet-acknowledged
//    ids that were lost are added to `telegate_queue_corrupt_records_total{dir}` (the count is
//    exact because ids are contiguous: the gap up to the next valid frame or the next segment's
//    first id). Recovery never aborts on damaged data; it fails only on I/O errors (e.g. an
//    unreadable directory). Recovered segments are read-only; appends go to a new segment.
//  * Bound: liveBytes() is the total size of the segment files still on disk (acknowledged
//    records share a file with unacknowledged ones until the whole segment is acknowledged).
//    push() returns RESOURCE_EXHAUSTED, writing nothing, when liveBytes() + frame size would
//    exceed max_bytes; a frame larger than max_bytes is INVALID_ARGUMENT (it can never fit).
//    Space is reclaimed a whole segment at a time, oldest first, once every record in it and in
//    all older segments is acknowledged. The file is then recycled: renamed to spare.<n> (at most
//    two spares, only files of at most segment_bytes, and only while liveBytes() plus the spares
//    stay within max_bytes; a push that needs the room deletes spares first) and renamed again to
//    become the next new segment, so that appends overwrite pages already in the page cache
//    (several times cheaper than filling new ones); otherwise it is unlinked. A reused file's
//    stale frames after the new ones (ids below the segment's first id) are never valid: a
//    segment is truncated after its last frame when it is rolled over and on close(), and after
//    a crash recovery treats them as a torn tail. liveBytes() counts the reused file's full size
//    until then. segment_bytes is therefore
//    clamped to max_bytes / 4 (minimum 4 KiB; max_bytes is at least 16 KiB) so that at least ~3/4
//    of the bound is usable as a sliding window. A record larger than segment_bytes gets a segment
//    of its own. The segment being appended to is kept even when fully acknowledged, until it
//    reaches segment_bytes or its space is needed by a push. A record that is popped and never
//    acked nor nacked blocks reclamation of its segment and everything after it: consumers must ack
//    or nack every item they pop.
//  * Durability (SyncPolicy):
//      kNever      no fsync/fdatasync at all; data survives a process crash (it is in the page
//                  cache once push() returns) but not a power loss / kernel crash.
//      kEveryBatch push() returns after fdatasync of the segment (group commit: concurrent
//                  pushes share one fdatasync); a new segment file is followed by an fsync of the
//                  directory, a rolled-over segment by a final fdatasync. Survives power loss
//                  once push() returned OK.
//      kInterval   a background thread fdatasyncs, every sync_interval, the active segment and
//                  every segment rolled over since its last pass, then fsyncs the directory if a
//                  segment was created. A power loss loses at most ~sync_interval of
//                  acknowledged-to-client data. Survives a process crash. Nothing is synced on
//                  the push() path, and a segment fully acknowledged (and deleted) before the
//                  background pass is not synced at all: when consumers keep up, records are
//                  deleted from the page cache without being written to the device.
//    With every policy except kNever, close() syncs whatever is not synced yet.
//  * Delivery: pop() hands out records oldest first; nacked records are handed out again before
//    any never-delivered one (lowest id first). A record is with at most one consumer at a time.
//    ack()/nack() of an id that is not currently popped is ignored. A record whose bytes fail
//    the crc when read back by pop() is logged, counted in the corrupt metric and skipped.
//  * Memory: ~48 bytes of index per live record (1 GiB of 1 KiB records ~ 50 MB). Records are
//    not cached: each pop() allocates the returned strings and reads them from the page cache.
//
// Thread-safety: all public methods may be called concurrently. Locks: sync_mu_ (group commit)
// -> write_mu_ (appends, serialised) -> mu_ (index; short critical sections without I/O).
// pop() reads with preadv outside every lock and unlinking happens after mu_ is released, so
// consumers and producers do not block each other on I/O. close() wakes blocked pop() calls (they
// return nullopt) and makes push() return FAILED_PRECONDITION; it is idempotent and called by the
// destructor.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/common/metrics.h"

namespace telegate::queue {

enum class SyncPolicy {
  kNever,
  kEveryBatch,  // fdatasync before push() returns (group commit)
  kInterval,    // background fdatasync every sync_interval
};

struct DiskQueueOptions {
  std::string dir;                    // created if missing (one level); one queue per directory
  uint64_t max_bytes = 1ull << 30;    // bound on segment bytes on disk
  uint64_t segment_bytes = 16 << 20;  // roll to a new segment file after this size
  SyncPolicy sync = SyncPolicy::kInterval;
  std::chrono::milliseconds sync_interval{1000};  // background sync + checkpoint period
  // Registry for telegate_queue_* metrics; nullptr means metrics::defaultRegistry().
  metrics::Registry* registry = nullptr;
};

class DiskQueue {
 public:
  struct Item {
    uint64_t id;
    std::string record;
    std::string meta;
  };

  // Creates the directory if needed, takes the lock and recovers existing segments.
  static absl::StatusOr<std::unique_ptr<DiskQueue>> open(DiskQueueOptions opts);
  ~DiskQueue();
  DiskQueue(const DiskQueue&) = delete;
  DiskQueue& operator=(const DiskQueue&) = delete;

  // Appends one record. `meta` is at most 65535 bytes. RESOURCE_EXHAUSTED when the bound would
  // be exceeded (nothing written), INVALID_ARGUMENT for a record that can never fit,
  // FAILED_PRECONDITION after close(), INTERNAL on I/O errors. Returns once written (and synced
  // per policy).
  absl::Status push(std::string_view record, std::string_view meta = {});

  // Waits up to `wait` for the next available record. nullopt on timeout or after close().
  std::optional<Item> pop(std::chrono::milliseconds wait);
  // Delivered: the space can be reclaimed once all earlier records are acked.
  void ack(uint64_t id);
  // Delivery failed: available again, before never-delivered records.
  void nack(uint64_t id);

  uint64_t liveBytes() const;    // segment bytes on disk
  uint64_t liveRecords() const;  // records not acknowledged (including popped ones)
  // Records lost to corruption since open() (also in telegate_queue_corrupt_records_total).
  uint64_t corruptRecords() const;
  const std::string& dir() const { return opts_.dir; }

  // Stops waiters and the background thread, syncs (unless kNever), writes the checkpoint and
  // releases the directory lock.
  void close();

 private:
  struct Segment;
  enum class State : uint8_t { kReady, kInflight, kAcked };
  struct Entry {
    uint64_t id;
    std::shared_ptr<Segment> seg;
    uint64_t offset;
    uint32_t size;      // whole frame
    uint16_t meta_len;  // so that pop() can read meta and record into their own strings
    State state;
  };

  explicit DiskQueue(DiskQueueOptions opts);
  absl::Status recover();
  absl::Status recoverSegment(const std::shared_ptr<Segment>& seg, bool last, uint64_t limit,
                              uint64_t floor, uint64_t* max_id);
  absl::Status rollLocked();  // write_mu_ held
  absl::Status groupSync(uint64_t seq);
  // kInterval: fdatasyncs the segments rolled over since the last call (skipping deleted ones)
  // and the directory when a segment was created.
  absl::Status syncSealed();
  void writeCheckpoint();
  void background();
  void countCorrupt(uint64_t n);
  void trimStaleTailLocked();                     // write_mu_ held, active_ set
  void reuseSpare(Segment* seg, uint64_t total);  // write_mu_ held
  // Recycles (as spares) or unlinks reclaimed segments; no lock held. Clears `doomed`.
  void dispose(std::vector<std::shared_ptr<Segment>>& doomed);
  void dropSpares(uint64_t need);  // unlinks spares until at most `need` bytes are left
  // mu_ held. Index of the entry with this id, or -1.
  int64_t findLocked(uint64_t id) const;
  // mu_ held. Marks an entry acked and advances the floor; returns segments to unlink.
  void ackLocked(size_t idx, std::vector<std::shared_ptr<Segment>>* doomed);
  uint64_t floorLocked() const;

  DiskQueueOptions opts_;
  int lock_fd_ = -1;
  metrics::Registry* registry_ = nullptr;
  metrics::Counter* corrupt_counter_ = nullptr;
  uint64_t collector_id_ = 0;

  std::mutex sync_mu_;
  uint64_t synced_seq_ = 0;  // guarded by sync_mu_

  std::mutex write_mu_;
  uint64_t written_seq_ = 0;                        // guarded by write_mu_
  std::shared_ptr<Segment> active_;                 // written under write_mu_ + mu_
  std::vector<std::shared_ptr<Segment>> unsynced_;  // kInterval: rolled over, not synced yet
  bool dir_unsynced_ = false;                       // kInterval: a segment was created

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Segment>> segments_;  // oldest first, includes active_
  std::deque<Entry> entries_;                      // ids increasing, from the floor on
  size_t cursor_ = 0;                              // first never-delivered entry
  std::set<uint64_t> redeliver_;                   // nacked ids
  uint64_t next_id_ = 1;
  uint64_t live_bytes_ = 0;
  uint64_t unacked_ = 0;
  uint64_t corrupt_ = 0;
  bool closed_ = false;
  bool recovered_ = false;  // set once open() succeeded; gates checkpoint writes

  // Recycled segment files (renamed to spare.<n>, still open): reused by the next new segment.
  struct Spare {
    std::string path;
    int fd = -1;
    uint64_t bytes = 0;
  };
  std::mutex spare_mu_;  // guards spares_ and spare_seq_; taken without mu_ held
  std::vector<Spare> spares_;
  uint64_t spare_seq_ = 0;
  std::atomic<uint64_t> spare_bytes_{0};

  std::mutex ckpt_mu_;
  uint64_t ckpt_floor_ = 0;  // last written, guarded by ckpt_mu_

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool bg_stop_ = false;
  std::thread bg_;
};

}  // namespace telegate::queue
