#include "src/common/memory_budget.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace telegate {
namespace {

TEST(MemoryBudgetTest, ReservesUpToTheLimit) {
  MemoryBudget b(100);
  EXPECT_TRUE(b.tryReserve(60));
  EXPECT_TRUE(b.tryReserve(40));
  EXPECT_EQ(b.used(), 100u);
  EXPECT_FALSE(b.tryReserve(1));
  EXPECT_EQ(b.refusals(), 1u);
  EXPECT_EQ(b.used(), 100u);
  b.release(40);
  EXPECT_TRUE(b.tryReserve(30));
  EXPECT_EQ(b.used(), 90u);
  EXPECT_TRUE(b.tryReserve(0));
  b.release(90);
  EXPECT_EQ(b.used(), 0u);
}

TEST(MemoryBudgetTest, RefusesOversizedAndHonoursShare) {
  MemoryBudget b(100);
  EXPECT_FALSE(b.tryReserve(101));
  EXPECT_FALSE(b.tryReserve(static_cast<size_t>(-1)));
  EXPECT_TRUE(b.tryReserve(70, 75));
  EXPECT_FALSE(b.tryReserve(10, 75));  // 80 > 75 % of 100
  EXPECT_TRUE(b.tryReserve(30));       // the full limit is still there for downstream stages
  EXPECT_EQ(b.refusals(), 3u);
  b.release(100);
  EXPECT_EQ(b.used(), 0u);
}

TEST(MemoryBudgetTest, ZeroLimitMeansNoLimitAndLimitCanChange) {
  MemoryBudget b(0);
  EXPECT_TRUE(b.tryReserve(size_t{1} << 40));
  EXPECT_EQ(b.used(), size_t{1} << 40);
  b.release(size_t{1} << 40);
  b.setLimit(10);
  EXPECT_EQ(b.limit(), 10u);
  EXPECT_FALSE(b.tryReserve(11));
  EXPECT_TRUE(b.tryReserve(10));
  b.setLimit(5);  // reservations made stay
  EXPECT_EQ(b.used(), 10u);
  EXPECT_FALSE(b.tryReserve(1));
  b.release(10);
  b.release(3);  // over-release clamps at 0
  EXPECT_EQ(b.used(), 0u);
}

TEST(MemoryBudgetTest, ReservationReleasesOnce) {
  MemoryBudget b(100);
  ASSERT_TRUE(b.tryReserve(50));
  {
    MemoryReservation r(&b, 50);
    MemoryReservation moved = std::move(r);
    EXPECT_EQ(moved.bytes(), 50u);
    EXPECT_EQ(r.bytes(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
  }
  EXPECT_EQ(b.used(), 0u);
}

TEST(MemoryBudgetTest, ConcurrentReserveReleaseNeverExceedsLimit) {
  constexpr size_t kLimit = 1000;
  MemoryBudget b(kLimit);
  std::atomic<bool> exceeded{false};
  std::atomic<uint64_t> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200000; ++i) {
        const size_t n = 1 + static_cast<size_t>((i * 7 + t * 13) % 300);
        if (b.tryReserve(n)) {
          granted.fetch_add(1, std::memory_order_relaxed);
          if (b.used() > kLimit) exceeded.store(true);
          b.release(n);
        }
        if (b.used() > kLimit) exceeded.store(true);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(exceeded.load());
  EXPECT_GT(granted.load(), 0u);
  EXPECT_EQ(b.used(), 0u);
}

TEST(MemoryBudgetTest, GlobalInstanceIsShared) {
  EXPECT_EQ(&globalMemoryBudget(), &globalMemoryBudget());
}

}  // namespace
}  // namespace telegate
