#include "src/k8s/backoff.h"

#include <gtest/gtest.h>

namespace telegate::k8s {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, DoublesUpToMaxAndResets) {
  Backoff b(milliseconds(100), milliseconds(1000), 0.0, 1);
  EXPECT_EQ(b.next(), milliseconds(100));
  EXPECT_EQ(b.next(), milliseconds(200));
  EXPECT_EQ(b.next(), milliseconds(400));
  EXPECT_EQ(b.next(), milliseconds(800));
  EXPECT_EQ(b.next(), milliseconds(1000));
  EXPECT_EQ(b.next(), milliseconds(1000));
  b.reset();
  EXPECT_EQ(b.next(), milliseconds(100));
}

TEST(BackoffTest, JitterStaysWithinBounds) {
  Backoff b(milliseconds(1000), milliseconds(1000), 0.2, 42);
  bool varied = false;
  milliseconds first = b.next();
  for (int i = 0; i < 200; ++i) {
    auto d = b.next();
    EXPECT_GE(d, milliseconds(800));
    EXPECT_LE(d, milliseconds(1200));
    varied = varied || d != first;
  }
  EXPECT_TRUE(varied);
}

}  // namespace
}  // namespace telegate::k8s
