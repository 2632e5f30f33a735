#include "src/components/loki/source/file/file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "test/fakes/sinks.h"

namespace telegate::loki::source_file {
namespace {

using Recorder = ::telegate::testing::RecordingLogsReceiver;

struct Fixture {
  std::string dir;
  std::shared_ptr<loki::source::Positions> positions;
  std::shared_ptr<Recorder> rec = std::make_shared<Recorder>();
  log::Logger logger;
  Fixture() {
    dir = (std::filesystem::temp_directory_path() /
           ("file_source_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name()))
              .string();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir + "/logs");
    reopenPositions();
  }
  ~Fixture() { std::filesystem::remove_all(dir); }
  void reopenPositions() {
    positions = std::make_shared<loki::source::Positions>();
    std::string w;
    EXPECT_TRUE(loki::source::Positions::open(dir + "/positions.json", positions.get(), &w).ok());
  }
  void append(const std::string& name, const std::string& text) {
    std::ofstream out(dir + "/logs/" + name, std::ios::app | std::ios::binary);
    out << text;
  }
  std::unique_ptr<FileSource> source(std::vector<runtime::Target> targets,
                                     FileSourceOptions o = {}) {
    auto s = std::make_unique<FileSource>(positions, FileSourceMetrics{}, logger);
    s->configure(std::move(targets), {rec}, o);
    return s;
  }
  runtime::Target target(const std::string& name) {
    return {{"__path__", dir + "/logs/" + name}, {"job", "varlogs"}};
  }
};

TEST(FileSourceTest, ReadsCompleteLinesWithLabels) {
  Fixture f;
  f.append("a.log", "one\ntwo\r\nthr");
  auto s = f.source({f.target("a.log")});
  s->pollOnce();
  EXPECT_EQ(f.rec->lines(), (std::vector<std::string>{"one", "two"}));
  f.append("a.log", "ee\n");
  s->pollOnce();
  EXPECT_EQ(f.rec->lines(), (std::vector<std::string>{"one", "two", "three"}));
  LabelSet want{{"filename", f.dir + "/logs/a.log"}, {"job", "varlogs"}};
  EXPECT_EQ(f.rec->snapshot()[0].labels, want);
}

TEST(FileSourceTest, RestartResumesFromStoredOffset) {
  Fixture f;
  f.append("a.log", "1\n2\n");
  {
    auto s = f.source({f.target("a.log")});
    s->pollOnce();
  }
  ASSERT_TRUE(f.positions->sync().ok());
  f.append("a.log", "3\n");
  f.reopenPositions();
  auto s = f.source({f.target("a.log")});
  s->pollOnce();
  EXPECT_EQ(f.rec->lines(), (std::vector<std::string>{"1", "2", "3"}));
}

TEST(FileSourceTest, TailFromEndSkipsExistingContent) {
  Fixture f;
  f.append("a.log", "old\n");
  FileSourceOptions o;
  o.tail_from_end = true;
  auto s = f.source({f.target("a.log")}, o);
  s->pollOnce();
  f.append("a.log", "new\n");
  s->pollOnce();
  EXPECT_EQ(f.rec->lines(), (std::vector<std::string>{"new"}));
}

TEST(FileSourceTest, RefusedLinesAreReadAgainNotLost) {
  Fixture f;
  f.append("a.log", "x\ny\n");
  auto s = f.source({f.target("a.log")});
  f.rec->refuse_next = 2;
  s->pollOnce();
  s->pollOnce();
  EXPECT_TRUE(f.rec->lines().empty());
  s->pollOnce();
  EXPECT_EQ(f.rec->lines(), (std::vector<std::string>{"x", "y"}));
}

TEST(FileSourceTest, RotationReadsOldFileToEndThenNewFile) {
  Fixture f;
  f.append("a.log", "before\n");
  auto s = f.source({f.target("a.log")});
  s->pollOnce();
  f.append("a.log", "tail of old\n");
  std::filesystem::rename(f.dir + "/logs/a.log", f.dir + "/logs/a.log.1");
  f.append("a.log", "fresh\n");
  s->pollOnce();
  EXPECT_EQ(f.rec->lines(), (std::vector<std::string>{"before", "tail of old", "fresh"}));
}

TEST(FileSourceTest, TruncationRestartsAtZero) {
  Fixture f;
  f.append("a.log", "long line number one\n");
  auto s = f.source({f.target("a.log")});
  s->pollOnce();
  std::filesystem::resize_file(f.dir + "/logs/a.log", 0);
  f.append("a.log", "short\n");
  s->pollOnce();
  EXPECT_EQ(f.rec->lines(), (std::vector<std::string>{"long line number one", "short"}));
}

TEST(FileSourceTest, GlobDiscoversNewFilesAndHonoursExclude) {
  Fixture f;
  f.append("a.log", "a\n");
  f.append("skip.log", "s\n");
  FileSourceOptions o;
  o.file_match = true;
  o.sync_period = std::chrono::milliseconds(0);
  runtime::Target t{{"__path__", f.dir + "/logs/*.log"},
                    {"__path_exclude__", f.dir + "/logs/skip*"}};
  auto s = f.source({t}, o);
  s->pollOnce();
  EXPECT_EQ(s->fileCount(), 1u);
  f.append("b.log", "b\n");
  s->pollOnce();
  EXPECT_EQ(s->fileCount(), 2u);
  auto lines = f.rec->lines();
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "b"}));
}

TEST(FileSourceTest, MissingFileIsRetriedAndLongLinesAreCut) {
  Fixture f;
  FileSourceOptions o;
  o.max_line_bytes = 8;
  auto s = f.source({f.target("later.log")}, o);
  s->pollOnce();
  EXPECT_TRUE(f.rec->lines().empty());
  f.append("later.log", "0123456789abc\n");
  s->pollOnce();
  EXPECT_EQ(f.rec->lines(), (std::vector<std::string>{"01234567", "89abc"}));
}

TEST(FileSourceTest, InvalidStoredOffsetFollowsPolicy) {
  Fixture f;
  f.append("a.log", "keep\n");
  f.positions->put(f.dir + "/logs/a.log",
                   "{filename=\"" + f.dir + "/logs/a.log\", job=\"varlogs\"}", "999999");
  FileSourceOptions o;
  o.on_positions_file_error = "restart_from_beginning";
  auto s = f.source({f.target("a.log")}, o);
  s->pollOnce();
  EXPECT_EQ(f.rec->lines(), (std::vector<std::string>{"keep"}));
}

}  // namespace
}  // namespace telegate::loki::source_file
