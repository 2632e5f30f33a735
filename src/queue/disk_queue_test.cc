#include "src/queue/disk_queue.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace telegate::queue {
namespace {

using std::chrono::milliseconds;

class DiskQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/telegate_queue_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  DiskQueueOptions opts(SyncPolicy sync = SyncPolicy::kNever) {
    DiskQueueOptions o;
    o.dir = dir_ + "/q";
    o.sync = sync;
    o.registry = &registry_;
    return o;
  }
  std::unique_ptr<DiskQueue> mustOpen(const DiskQueueOptions& o) {
    auto q = DiskQueue::open(o);
    EXPECT_TRUE(q.ok()) << q.status();
    return q.ok() ? std::move(*q) : nullptr;
  }
  std::vector<std::string> segments() {
    std::vector<std::string> out;
    DIR* d = opendir((dir_ + "/q").c_str());
    if (d == nullptr) return out;
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 4 && n.substr(n.size() - 4) == ".seg") out.push_back(dir_ + "/q/" + n);
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }
  static uint64_t fileSize(const std::string& path) {
    struct stat sb;
    return stat(path.c_str(), &sb) == 0 ? static_cast<uint64_t>(sb.st_size) : 0;
  }

  std::string dir_;
  metrics::Registry registry_;
};

std::string rec(int i, size_t size = 100) {
  std::string s = "record-" + std::to_string(i) + "-";
  s.resize(std::max(size, s.size()), static_cast<char>('a' + i % 26));
  return s;
}

TEST_F(DiskQueueTest, PushPopAckInOrder) {
  auto q = mustOpen(opts());
  ASSERT_TRUE(q);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(q->push(rec(i), "tenant" + std::to_string(i)).ok());
  EXPECT_EQ(q->liveRecords(), 10u);
  EXPECT_GT(q->liveBytes(), 1000u);
  uint64_t last_id = 0;
  for (int i = 0; i < 10; ++i) {
    auto item = q->pop(milliseconds(100));
    ASSERT_TRUE(item);
    EXPECT_EQ(item->record, rec(i));
    EXPECT_EQ(item->meta, "tenant" + std::to_string(i));
    EXPECT_GT(item->id, last_id);
    last_id = item->id;
    q->ack(item->id);
  }
  EXPECT_FALSE(q->pop(milliseconds(20)));
  EXPECT_EQ(q->liveRecords(), 0u);
}

TEST_F(DiskQueueTest, EmptyRecordAndMeta) {
  auto q = mustOpen(opts());
  ASSERT_TRUE(q->push("").ok());
  auto item = q->pop(milliseconds(10));
  ASSERT_TRUE(item);
  EXPECT_EQ(item->record, "");
  EXPECT_EQ(item->meta, "");
}

TEST_F(DiskQueueTest, PopWaitsForPush) {
  auto q = mustOpen(opts());
  std::thread t([&] {
    std::this_thread::sleep_for(milliseconds(50));
    ASSERT_TRUE(q->push("late").ok());
  });
  auto item = q->pop(milliseconds(5000));
  t.join();
  ASSERT_TRUE(item);
  EXPECT_EQ(item->record, "late");
}

TEST_F(DiskQueueTest, CloseWakesWaiters) {
  auto q = mustOpen(opts());
  std::thread t([&] { EXPECT_FALSE(q->pop(milliseconds(10000))); });
  std::this_thread::sleep_for(milliseconds(50));
  auto start = std::chrono::steady_clock::now();
  q->close();
  t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(5000));
  EXPECT_EQ(q->push("x").code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(DiskQueueTest, NackRedeliversBeforeNewer) {
  auto q = mustOpen(opts());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q->push(rec(i)).ok());
  auto a = q->pop(milliseconds(10));
  auto b = q->pop(milliseconds(10));
  auto c = q->pop(milliseconds(10));
  ASSERT_TRUE(a && b && c);
  q->ack(a->id);
  q->nack(c->id);
  q->nack(b->id);
  auto r1 = q->pop(milliseconds(10));
  auto r2 = q->pop(milliseconds(10));
  auto r3 = q->pop(milliseconds(10));
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_EQ(r1->record, rec(1));
  EXPECT_EQ(r2->record, rec(2));
  EXPECT_EQ(r3->record, rec(3));
  // Acking an id that is not in flight is ignored.
  q->ack(r1->id);
  q->ack(r1->id);
  q->nack(r1->id);
  EXPECT_EQ(q->liveRecords(), 3u);
}

TEST_F(DiskQueueTest, SecondOpenOfSameDirFails) {
  auto q = mustOpen(opts());
  auto q2 = DiskQueue::open(opts());
  EXPECT_EQ(q2.status().code(), absl::StatusCode::kFailedPrecondition);
  q->close();
  auto q3 = DiskQueue::open(opts());
  EXPECT_TRUE(q3.ok()) << q3.status();
}

TEST_F(DiskQueueTest, BoundRefusesThenAcceptsAfterAcks) {
  auto o = opts();
  o.max_bytes = 64 * 1024;
  o.segment_bytes = 8 * 1024;
  auto q = mustOpen(o);
  int pushed = 0;
  absl::Status st;
  while ((st = q->push(rec(pushed, 1000))).ok()) ++pushed;
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_GT(pushed, 50);
  EXPECT_LE(q->liveBytes(), o.max_bytes);
  const uint64_t full = q->liveBytes();
  // Nothing was written by the refused push.
  uint64_t on_disk = 0;
  for (auto& s : segments()) on_disk += fileSize(s);
  EXPECT_EQ(on_disk, full);
  EXPECT_EQ(q->liveRecords(), static_cast<uint64_t>(pushed));
  // Popping without acking frees nothing.
  auto item = q->pop(milliseconds(10));
  ASSERT_TRUE(item);
  EXPECT_EQ(q->push(rec(0, 1000)).code(), absl::StatusCode::kResourceExhausted);
  q->ack(item->id);
  // Ack the first segment's worth of records.
  for (int i = 0; i < 10; ++i) {
    auto it = q->pop(milliseconds(10));
    ASSERT_TRUE(it);
    q->ack(it->id);
  }
  EXPECT_LT(q->liveBytes(), full);
  EXPECT_TRUE(q->push(rec(pushed, 1000)).ok());
  // Too large to ever fit.
  EXPECT_EQ(q->push(std::string(o.max_bytes, 'x')).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(DiskQueueTest, SegmentsRollAndAreReclaimed) {
  auto o = opts();
  o.max_bytes = 1 << 20;
  o.segment_bytes = 16 * 1024;
  auto q = mustOpen(o);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(q->push(rec(i, 1000)).ok());
  auto segs = segments();
  EXPECT_GE(segs.size(), 12u);
  for (auto& s : segs) EXPECT_LE(fileSize(s), 16u * 1024);
  // Ack the first half; the older segments disappear, oldest first.
  for (int i = 0; i < 100; ++i) {
    auto item = q->pop(milliseconds(10));
    ASSERT_TRUE(item);
    EXPECT_EQ(item->record, rec(i, 1000));
    q->ack(item->id);
  }
  auto after = segments();
  EXPECT_LT(after.size(), segs.size());
  EXPECT_EQ(after.back(), segs.back());
  EXPECT_GT(after.front(), segs.front());
  uint64_t on_disk = 0;
  for (auto& s : after) on_disk += fileSize(s);
  EXPECT_EQ(on_disk, q->liveBytes());
  for (int i = 100; i < 200; ++i) {
    auto item = q->pop(milliseconds(10));
    ASSERT_TRUE(item);
    q->ack(item->id);
  }
  // Everything acked: all but the active segment are gone; that one is reclaimed when its space
  // is needed, so a whole bound's worth of new records fits without further acks.
  EXPECT_LE(segments().size(), 1u);
  EXPECT_LE(q->liveBytes(), 16u * 1024);
  const int fit = static_cast<int>(o.max_bytes / 1022) - 16;
  for (int i = 0; i < fit; ++i) ASSERT_TRUE(q->push(rec(i, 1000)).ok()) << i;
  EXPECT_LE(q->liveBytes(), o.max_bytes);
}

TEST_F(DiskQueueTest, ReopenKeepsUnackedOnly) {
  auto o = opts(SyncPolicy::kInterval);
  o.segment_bytes = 8 * 1024;
  o.max_bytes = 1 << 20;
  {
    auto q = mustOpen(o);
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(q->push(rec(i, 500), "m" + std::to_string(i)).ok());
    for (int i = 0; i < 20; ++i) {
      auto item = q->pop(milliseconds(10));
      ASSERT_TRUE(item);
      q->ack(item->id);
    }
    // Popped but not acked: must come back.
    ASSERT_TRUE(q->pop(milliseconds(10)));
    q->close();
  }
  uint64_t last_id = 0;
  {
    auto q = mustOpen(o);
    EXPECT_EQ(q->liveRecords(), 30u);
    for (int i = 20; i < 50; ++i) {
      auto item = q->pop(milliseconds(10));
      ASSERT_TRUE(item);
      EXPECT_EQ(item->record, rec(i, 500));
      EXPECT_EQ(item->meta, "m" + std::to_string(i));
      last_id = item->id;
      if (i < 30) q->ack(item->id);
    }
    EXPECT_FALSE(q->pop(milliseconds(10)));
    // New records get fresh ids.
    ASSERT_TRUE(q->push("new").ok());
    auto item = q->pop(milliseconds(10));
    ASSERT_TRUE(item);
    EXPECT_EQ(item->id, last_id + 1);
  }  // destructor closes
  auto q = mustOpen(o);
  EXPECT_EQ(q->liveRecords(), 21u);
  auto item = q->pop(milliseconds(10));
  ASSERT_TRUE(item);
  EXPECT_EQ(item->record, rec(30, 500));
}

TEST_F(DiskQueueTest, CorruptionInMiddleIsSkippedAndCounted) {
  auto o = opts();
  o.segment_bytes = 16 * 1024;
  o.max_bytes = 1 << 20;
  {
    auto q = mustOpen(o);
    for (int i = 0; i < 60; ++i) ASSERT_TRUE(q->push(rec(i, 1000)).ok());
  }
  auto segs = segments();
  ASSERT_GE(segs.size(), 3u);
  // Flip a payload byte of the 3rd record of the first segment, and clobber the header of the
  // 5th record of the second segment and everything after it.
  {
    int fd = ::open(segs[0].c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    char c;
    const off_t off = 2 * (22 + 1000) + 22 + 500;
    ASSERT_EQ(pread(fd, &c, 1, off), 1);
    c ^= 0x55;
    ASSERT_EQ(pwrite(fd, &c, 1, off), 1);
    ::close(fd);
    fd = ::open(segs[1].c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    uint64_t size = fileSize(segs[1]);
    std::string junk(size - 4 * 1022, 'Z');
    ASSERT_EQ(pwrite(fd, junk.data(), junk.size(), 4 * 1022), static_cast<ssize_t>(junk.size()));
    ::close(fd);
  }
  const uint64_t per_seg = 16 * 1024 / 1022;  // 16 records per segment
  auto q = mustOpen(o);
  EXPECT_EQ(q->corruptRecords(), 1 + (per_seg - 4));
  EXPECT_EQ(
      registry_.counter("telegate_queue_corrupt_records_total", "", {"dir"}).with({o.dir}).value(),
      static_cast<double>(1 + per_seg - 4));
  std::set<std::string> got;
  while (auto item = q->pop(milliseconds(10))) {
    got.insert(item->record);
    q->ack(item->id);
  }
  EXPECT_EQ(got.size(), 60 - 1 - (per_seg - 4));
  EXPECT_FALSE(got.count(rec(2, 1000)));
  EXPECT_TRUE(got.count(rec(3, 1000)));
  EXPECT_TRUE(got.count(rec(19, 1000)));
  EXPECT_FALSE(got.count(rec(20, 1000)));
  EXPECT_TRUE(got.count(rec(32, 1000)));
  EXPECT_TRUE(got.count(rec(59, 1000)));
  EXPECT_NE(registry_.exposition().find("telegate_queue_live_bytes"), std::string::npos);
}

TEST_F(DiskQueueTest, CorruptCheckpointRedeliversEverything) {
  {
    auto q = mustOpen(opts());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(q->push(rec(i)).ok());
    auto item = q->pop(milliseconds(10));
    q->ack(item->id);
  }
  {
    int fd = ::open((dir_ + "/q/acked").c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, "xx", 2, 5), 2);
    ::close(fd);
  }
  auto q = mustOpen(opts());
  EXPECT_GE(q->liveRecords(), 4u);
}

// A child pushes with kEveryBatch and reports each id whose push returned; it is SIGKILLed at a
// random moment. Every reported record must be recovered; a torn tail is truncated.
TEST_F(DiskQueueTest, CrashRecoveryAfterSigkill) {
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < 3; ++round) {
    auto o = opts(SyncPolicy::kEveryBatch);
    o.dir = dir_ + "/q";
    o.segment_bytes = 64 * 1024;
    o.max_bytes = 256 << 20;
    int pfd[2];
    ASSERT_EQ(pipe(pfd), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(pfd[0]);
      metrics::Registry reg;
      o.registry = &reg;
      auto q = DiskQueue::open(o);
      if (!q.ok()) _exit(2);
      for (uint32_t i = 0;; ++i) {
        std::string r = rec(static_cast<int>(i), 100 + (i * 7919) % 3000);
        uint32_t tag = (round << 24) | i;
        if (!(*q)->push(r, std::to_string(tag)).ok()) _exit(3);
        if (write(pfd[1], &tag, sizeof(tag)) != sizeof(tag)) _exit(4);
      }
    }
    ::close(pfd[1]);
    std::set<uint32_t> reported;
    uint32_t tag;
    // Kill at a random moment after the first push returned (fsyncs can be slow on a busy disk;
    // the child exits on its own if it cannot push, ending the read).
    if (read(pfd[0], &tag, sizeof(tag)) == sizeof(tag)) reported.insert(tag);
    std::this_thread::sleep_for(milliseconds(50 + rng() % 250));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << status;
    while (read(pfd[0], &tag, sizeof(tag)) == sizeof(tag)) reported.insert(tag);
    ::close(pfd[0]);
    ASSERT_GT(reported.size(), 0u) << "child made no progress";

    // Simulate a torn append at the end of the last segment.
    auto segs = segments();
    ASSERT_FALSE(segs.empty());
    const uint64_t before = fileSize(segs.back());
    {
      int fd = ::open(segs.back().c_str(), O_WRONLY | O_APPEND);
      std::string torn("TGQ2\x10\x00\x00\x00partial", 15);
      ASSERT_EQ(write(fd, torn.data(), torn.size()), static_cast<ssize_t>(torn.size()));
      ::close(fd);
    }
    auto q = mustOpen(o);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->corruptRecords(), 0u);
    EXPECT_LE(fileSize(segs.back()), before);
    std::map<uint32_t, int> seen;
    while (auto item = q->pop(milliseconds(10))) {
      uint32_t t = static_cast<uint32_t>(std::stoul(item->meta));
      EXPECT_EQ(item->record,
                rec(static_cast<int>(t & 0xffffff), 100 + ((t & 0xffffff) * 7919) % 3000));
      ++seen[t];
      q->ack(item->id);
    }
    for (uint32_t t : reported) ASSERT_TRUE(seen.count(t)) << "lost record " << t;
    // Exactly once here: everything from earlier rounds was acked and checkpointed on close.
    for (auto& [t, n] : seen) EXPECT_EQ(n, 1) << t;
    for (auto& [t, n] : seen) EXPECT_EQ(t >> 24, static_cast<uint32_t>(round));
    q->close();
  }
}

// A frame of the first on-disk format ("TGQ1", zlib crc32), as written by older versions.
std::string v1Frame(uint64_t id, const std::string& meta, const std::string& record) {
  std::string f(22, '\0');
  auto put = [&f](size_t at, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) f[at + i] = static_cast<char>(v >> (8 * i));
  };
  f.replace(0, 4, "TGQ1");
  put(4, record.size(), 4);
  put(12, id, 8);
  put(20, meta.size(), 2);
  f += meta;
  f += record;
  uLong c = crc32(0, reinterpret_cast<const Bytef*>(f.data() + 4), 4);
  c = crc32(c, reinterpret_cast<const Bytef*>(f.data() + 12), static_cast<uInt>(f.size() - 12));
  put(8, c, 4);
  return f;
}

TEST_F(DiskQueueTest, ReadsFirstFormatSegmentsAndWritesTheNewOne) {
  ASSERT_EQ(::mkdir((dir_ + "/q").c_str(), 0755), 0);
  {
    std::string seg =
        v1Frame(1, "m1", rec(1)) + v1Frame(2, "", rec(2, 5000)) + v1Frame(3, "m3", "");
    int fd = ::open((dir_ + "/q/0000000000000001.seg").c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, seg.data(), seg.size()), static_cast<ssize_t>(seg.size()));
    ::close(fd);
  }
  auto q = mustOpen(opts());
  ASSERT_TRUE(q);
  EXPECT_EQ(q->liveRecords(), 3u);
  EXPECT_EQ(q->corruptRecords(), 0u);
  ASSERT_TRUE(q->push(rec(4), "m4").ok());
  std::vector<std::pair<std::string, std::string>> got;
  while (auto item = q->pop(milliseconds(10))) {
    got.emplace_back(item->meta, item->record);
    q->ack(item->id);
  }
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0], std::make_pair(std::string("m1"), rec(1)));
  EXPECT_EQ(got[1], std::make_pair(std::string(), rec(2, 5000)));
  EXPECT_EQ(got[2], std::make_pair(std::string("m3"), std::string()));
  EXPECT_EQ(got[3], std::make_pair(std::string("m4"), rec(4)));
  // The new record went to a new segment, in the current format.
  auto segs = segments();
  ASSERT_FALSE(segs.empty());
  int fd = ::open(segs.back().c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  char magic[4];
  ASSERT_EQ(pread(fd, magic, 4, 0), 4);
  ::close(fd);
  EXPECT_EQ(std::string(magic, 4), "TGQ2");
}

// A payload byte flipped after push is caught by pop()'s crc check: dropped and counted.
TEST_F(DiskQueueTest, PopDetectsDamageAfterPush) {
  auto q = mustOpen(opts());
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->push(rec(0, 20000), "meta").ok());
  ASSERT_TRUE(q->push(rec(1, 20000), "meta").ok());
  auto segs = segments();
  ASSERT_EQ(segs.size(), 1u);
  int fd = ::open(segs[0].c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char c;
  ASSERT_EQ(pread(fd, &c, 1, 22 + 4 + 15000), 1);
  c ^= 1;
  ASSERT_EQ(pwrite(fd, &c, 1, 22 + 4 + 15000), 1);
  ::close(fd);
  auto item = q->pop(milliseconds(10));
  ASSERT_TRUE(item);
  EXPECT_EQ(item->record, rec(1, 20000));
  EXPECT_EQ(q->corruptRecords(), 1u);
  q->ack(item->id);
  EXPECT_EQ(q->liveRecords(), 0u);
}

// Fully acknowledged segment files are recycled (kept as spare.<n>, at most two) and reused by
// new segments, overwriting their stale frames. The bound covers spares, liveBytes() stays the
// size of the .seg files, and a snapshot taken mid-cycle (as after a crash) recovers exactly the
// unacknowledged records: stale frames of the earlier cycle are never delivered or counted.
TEST_F(DiskQueueTest, RecyclesSegmentFilesSafely) {
  auto o = opts();
  o.max_bytes = 256 * 1024;
  o.segment_bytes = 16 * 1024;
  auto q = mustOpen(o);
  ASSERT_TRUE(q);
  auto allFiles = [&] {
    uint64_t n = 0, spares = 0;
    DIR* d = opendir((dir_ + "/q").c_str());
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.rfind("spare.", 0) == 0) ++spares;
      if (name != "." && name != ".." && name != "LOCK" && name != "acked") {
        n += fileSize(dir_ + "/q/" + name);
      }
    }
    closedir(d);
    return std::make_pair(n, spares);
  };
  auto segBytes = [&] {
    uint64_t n = 0;
    for (auto& f : segments()) n += fileSize(f);
    return n;
  };
  int next = 0, expect = 0;
  bool saw_spare = false;
  for (int round = 0; round < 40; ++round) {
    // Sizes vary so that reused files have stale frames after the new ones.
    for (int i = 0; i < 7; ++i, ++next) {
      ASSERT_TRUE(q->push(rec(next, 300 + (next * 977) % 2500), std::to_string(next)).ok());
    }
    for (int i = 0; i < 7; ++i, ++expect) {
      auto item = q->pop(milliseconds(10));
      ASSERT_TRUE(item);
      ASSERT_EQ(item->meta, std::to_string(expect));
      ASSERT_EQ(item->record, rec(expect, 300 + (expect * 977) % 2500));
      q->ack(item->id);
    }
    auto [total, spares] = allFiles();
    saw_spare = saw_spare || spares > 0;
    EXPECT_LE(spares, 2u);
    EXPECT_LE(total, o.max_bytes);
    EXPECT_EQ(segBytes(), q->liveBytes());
  }
  EXPECT_TRUE(saw_spare);
  // Leave records unacknowledged in a reused, partly overwritten file, then snapshot the
  // directory while the queue is open: what a crash leaves behind.
  for (int i = 0; i < 5; ++i, ++next) {
    ASSERT_TRUE(q->push(rec(next, 200), std::to_string(next)).ok());
  }
  ASSERT_EQ(std::system(("cp -r " + dir_ + "/q " + dir_ + "/snap").c_str()), 0);
  q.reset();
  const int first_unacked = next - 5;
  auto size_of = [&](int n) { return n >= first_unacked ? 200 : 300 + (n * 977) % 2500; };
  for (const std::string& d : {std::string("/q"), std::string("/snap")}) {
    auto o2 = o;
    o2.dir = dir_ + d;
    auto r = mustOpen(o2);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->corruptRecords(), 0u) << d;
    std::vector<int> got;
    while (auto item = r->pop(milliseconds(10))) {
      const int n = std::stoi(item->meta);
      got.push_back(n);
      EXPECT_EQ(item->record, rec(n, size_of(n))) << d;
      r->ack(item->id);
    }
    // The clean close checkpointed every ack; the snapshot may redeliver records acknowledged
    // after the last checkpoint (at least once), in order and without gaps, never older ones.
    ASSERT_FALSE(got.empty()) << d;
    EXPECT_EQ(got.back(), next - 1) << d;
    for (size_t i = 1; i < got.size(); ++i) EXPECT_EQ(got[i], got[i - 1] + 1) << d;
    if (d == "/q") {
      EXPECT_EQ(got.front(), first_unacked);
    } else {
      EXPECT_LE(got.front(), first_unacked);
    }
  }
  // Spares of an earlier run are removed at open.
  EXPECT_EQ(allFiles().second, 0u);
}

TEST_F(DiskQueueTest, ConcurrentProducersAndConsumers) {
  auto o = opts(SyncPolicy::kInterval);
  o.sync_interval = milliseconds(20);
  o.segment_bytes = 32 * 1024;
  o.max_bytes = 256 * 1024;  // small enough that producers hit the bound and retry
  auto q = mustOpen(o);
  constexpr int kProducers = 4, kConsumers = 4, kPerProducer = 5000;
  std::atomic<int> producers_done{0};
  std::atomic<uint64_t> refused{0};
  std::mutex seen_mu;
  std::vector<int> seen(kProducers * kPerProducer, 0);
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        int n = p * kPerProducer + i;
        while (true) {
          absl::Status st = q->push(rec(n, 200 + n % 700), std::to_string(n));
          if (st.ok()) break;
          ASSERT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
          refused.fetch_add(1);
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
      }
      producers_done.fetch_add(1);
    });
  }
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937 rng(c);
      // Start once the producers have filled the queue up to the bound.
      while (refused.load() == 0) std::this_thread::sleep_for(milliseconds(1));
      while (true) {
        auto item = q->pop(milliseconds(20));
        if (!item) {
          if (producers_done.load() == kProducers && q->liveRecords() == 0) return;
          continue;
        }
        int n = std::stoi(item->meta);
        ASSERT_EQ(item->record, rec(n, 200 + n % 700));
        if (rng() % 10 == 0) {
          q->nack(item->id);
          continue;
        }
        {
          std::lock_guard<std::mutex> lock(seen_mu);
          ++seen[n];
        }
        q->ack(item->id);
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int n = 0; n < kProducers * kPerProducer; ++n) ASSERT_EQ(seen[n], 1) << n;
  EXPECT_EQ(q->liveRecords(), 0u);
  EXPECT_LE(segments().size(), 1u);
  EXPECT_GT(refused.load(), 0u);
}

// Manual throughput test: --gtest_also_run_disabled_tests --gtest_filter='*Throughput*'
TEST_F(DiskQueueTest, DISABLED_Throughput) {
  struct Policy {
    SyncPolicy p;
    const char* name;
  };
  for (Policy pol : {Policy{SyncPolicy::kNever, "never"}, Policy{SyncPolicy::kInterval, "interval"},
                     Policy{SyncPolicy::kEveryBatch, "every_batch"}}) {
    for (size_t size : {size_t{1024}, size_t{100 * 1024}}) {
      for (int producers : {1, 4}) {
        std::system(("rm -rf " + dir_ + "/q").c_str());
        auto o = opts(pol.p);
        o.max_bytes = 2ull << 30;
        o.segment_bytes = 64 << 20;
        auto q = mustOpen(o);
        const std::string payload(size, 'x');
        const uint64_t target_bytes = 256ull << 20;
        const auto budget = std::chrono::seconds(3);
        std::atomic<uint64_t> n{0};
        auto start = std::chrono::steady_clock::now();
        std::vector<std::thread> ts;
        for (int t = 0; t < producers; ++t) {
          ts.emplace_back([&] {
            while (n.load() * size < target_bytes &&
                   std::chrono::steady_clock::now() - start < budget) {
              ASSERT_TRUE(q->push(payload, "tenant").ok());
              n.fetch_add(1);
            }
          });
        }
        for (auto& t : ts) t.join();
        double push_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        start = std::chrono::steady_clock::now();
        uint64_t popped = 0;
        while (auto item = q->pop(milliseconds(0))) {
          q->ack(item->id);
          ++popped;
        }
        double pop_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        EXPECT_EQ(popped, n.load());
        std::printf(
            "%-12s %6zu B x%d producers: push %8.1f MB/s %9.0f rec/s | pop+ack %8.1f MB/s %9.0f "
            "rec/s (%llu records)\n",
            pol.name, size, producers, n.load() * size / push_s / 1e6, n.load() / push_s,
            popped * size / pop_s / 1e6, popped / pop_s, static_cast<unsigned long long>(n.load()));
      }
    }
  }
}

}  // namespace
}  // namespace telegate::queue
