// The memory one scrape holds, charged to a MemoryBudget (globalMemoryBudget(), set by
// --memory.limit) before it is held.
//
// Contract: add(n) accounts n more bytes about to be held by the scrape (line buffers, the
// decompressor, the batch being built, the series sets); when that goes beyond what is reserved
// it reserves more from the budget first, in steps (a quarter of what is held, at least 64 KiB)
// so the budget's shared counter is touched rarely, falling back to the exact amount when the
// step does not fit. Scrapes sit upstream of the queues they feed, so, like the batch processor,
// they reserve only within kAllScrapesPercent of the budget's limit (the queues always find room
// for what earlier scrapes produced) and one scrape holds at most kOneScrapePercent of the limit
// (one huge target cannot starve the others). add() returns false and changes nothing when the
// budget refuses or the scrape's own cap is reached: the caller must not hold the bytes (the
// scrape fails with reason "memory_budget"). Everything reserved is
// released when the ScrapeCharge is destroyed (the end of the scrape, after delivery). A null
// budget accounts without limit (tests, benchmarks).
// Thread-safety: one ScrapeCharge belongs to one scrape (one thread).
#pragma once

#include <algorithm>
#include <cstddef>

#include "src/common/memory_budget.h"

namespace telegate::prometheus::scrape {

inline constexpr unsigned kAllScrapesPercent = 50;
inline constexpr unsigned kOneScrapePercent = 25;

class ScrapeCharge {
 public:
  explicit ScrapeCharge(MemoryBudget* budget) : budget_(budget) {}
  ScrapeCharge(const ScrapeCharge&) = delete;
  ScrapeCharge& operator=(const ScrapeCharge&) = delete;
  ~ScrapeCharge() {
    if (budget_ != nullptr) budget_->release(reserved_);
  }

  bool add(size_t bytes) {
    if (held_ + bytes <= reserved_ || budget_ == nullptr) {
      held_ += bytes;
      return true;
    }
    return grow(bytes);
  }
  size_t held() const { return held_; }
  size_t reserved() const { return reserved_; }

 private:
  bool grow(size_t bytes) {
    const size_t want = held_ + bytes;
    const size_t limit = budget_->limit();
    const size_t one_cap = limit / 100 * kOneScrapePercent;
    if (limit != 0 && want > one_cap) return false;
    size_t step = std::max<size_t>(size_t{64} << 10, want / 4);
    if (limit != 0) step = std::min(step, one_cap - want);
    const size_t all_cap = limit / 100 * kAllScrapesPercent;
    const bool step_fits = limit == 0 || budget_->used() + want + step - reserved_ <= all_cap;
    if (step > 0 && step_fits && budget_->tryReserve(want + step - reserved_, kAllScrapesPercent)) {
      reserved_ = want + step;
    } else if (budget_->tryReserve(want - reserved_, kAllScrapesPercent)) {
      reserved_ = want;
    } else {
      return false;
    }
    held_ = want;
    return true;
  }

  MemoryBudget* budget_;
  size_t held_ = 0;
  size_t reserved_ = 0;
};

}  // namespace telegate::prometheus::scrape
