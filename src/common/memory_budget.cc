#include "src/common/memory_budget.h"

namespace telegate {

bool MemoryBudget::tryReserve(size_t bytes, unsigned share_percent) {
  if (bytes == 0) return true;
  const size_t limit = limit_.load(std::memory_order_relaxed);
  if (limit == 0) {
    used_.fetch_add(bytes, std::memory_order_relaxed);
    return true;
  }
  const size_t cap =
      share_percent >= 100 ? limit : static_cast<size_t>(limit / 100.0 * share_percent);
  size_t cur = used_.load(std::memory_order_relaxed);
  do {
    if (bytes > cap || cur > cap - bytes) {
      refusals_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  } while (!used_.compare_exchange_weak(cur, cur + bytes, std::memory_order_relaxed));
  return true;
}

void MemoryBudget::release(size_t bytes) {
  if (bytes == 0) return;
  size_t cur = used_.load(std::memory_order_relaxed);
  while (
      !used_.compare_exchange_weak(cur, cur > bytes ? cur - bytes : 0, std::memory_order_relaxed)) {
  }
}

MemoryBudget& globalMemoryBudget() {
  static MemoryBudget budget;
  return budget;
}

}  // namespace telegate
