#include "src/components/loki/source/positions.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace telegate::loki::source {
namespace {

std::string tempDir() {
  std::string d = (std::filesystem::temp_directory_path() /
                   ("positions_test_" + std::to_string(::getpid()) + "_" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                      .string();
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

TEST(PositionsTest, EncodeDecodeRoundTripWithAwkwardStrings) {
  Positions::Map m;
  m[{"cursor-ns/pod:c:uid", "{job=\"a\\\"b\", x=\"\\n\"}"}] = "1700000000123456789 2";
  m[{"/var/log/pods/a b/\t/0.log", ""}] = "42";
  m[{"unicode-\xc3\xa9", "{}"}] = "";
  Positions::Map back;
  ASSERT_TRUE(Positions::decode(Positions::encode(m), &back).ok());
  EXPECT_EQ(back, m);
}

TEST(PositionsTest, DecodeRejectsMalformed) {
  Positions::Map m;
  EXPECT_FALSE(Positions::decode("", &m).ok());
  EXPECT_FALSE(Positions::decode("{\"positions\":{}}", &m).ok());
  EXPECT_FALSE(Positions::decode("{\"positions\":[{\"path\":1}]}", &m).ok());
  EXPECT_FALSE(Positions::decode("{\"positions\":[{\"path\":\"a\",\"labels\":\"b\"}]", &m).ok());
}

TEST(PositionsTest, SyncPersistsAndReopenReads) {
  std::string dir = tempDir();
  std::string file = dir + "/sub/positions.json";
  {
    Positions p;
    std::string warning;
    ASSERT_TRUE(Positions::open(file, &p, &warning).ok());
    EXPECT_TRUE(warning.empty());
    EXPECT_EQ(p.size(), 0u);
    p.put("a", "{x=\"1\"}", "10");
    p.put("b", "", "20");
    ASSERT_TRUE(p.sync().ok());
    EXPECT_TRUE(std::filesystem::exists(file));
    EXPECT_FALSE(std::filesystem::exists(file + ".tmp"));
    p.remove("b", "");
    p.put("a", "{x=\"1\"}", "11");
    ASSERT_TRUE(p.sync().ok());
  }
  Positions q;
  std::string warning;
  ASSERT_TRUE(Positions::open(file, &q, &warning).ok());
  EXPECT_EQ(q.get("a", "{x=\"1\"}").value_or(""), "11");
  EXPECT_FALSE(q.get("b", "").has_value());
  EXPECT_FALSE(q.get("a", "").has_value());
  std::filesystem::remove_all(dir);
}

TEST(PositionsTest, DamagedFileIsSetAsideNotFatal) {
  std::string dir = tempDir();
  std::string file = dir + "/positions.json";
  {
    std::ofstream out(file);
    out << "{\"positions\":[{\"path\":\"a\",";  // torn
  }
  Positions p;
  std::string warning;
  ASSERT_TRUE(Positions::open(file, &p, &warning).ok());
  EXPECT_NE(warning.find("damaged"), std::string::npos) << warning;
  EXPECT_EQ(p.size(), 0u);
  EXPECT_TRUE(std::filesystem::exists(file + ".corrupt"));
  p.put("x", "", "1");
  EXPECT_TRUE(p.sync().ok());
  std::filesystem::remove_all(dir);
}

TEST(PositionsTest, SyncWithoutChangesWritesNothing) {
  std::string dir = tempDir();
  std::string file = dir + "/positions.json";
  Positions p;
  std::string warning;
  ASSERT_TRUE(Positions::open(file, &p, &warning).ok());
  ASSERT_TRUE(p.sync().ok());
  EXPECT_FALSE(std::filesystem::exists(file));  // nothing changed yet
  p.put("x", "", "1");
  p.put("x", "", "1");
  ASSERT_TRUE(p.sync().ok());
  EXPECT_TRUE(std::filesystem::exists(file));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace telegate::loki::source
