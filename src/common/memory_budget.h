// A process-wide byte budget for telemetry held in memory between acceptance and delivery.
//
// Contract:
//  * tryReserve(bytes) atomically adds `bytes` to used() and returns true when the result stays
//    within the limit (limit() == 0 means no limit: always true); otherwise it changes nothing,
//    counts one refusal and returns false. A reservation of 0 bytes always succeeds.
//  * tryReserve(bytes, share_percent) is the same against share_percent % of the limit. Stages
//    that hold data while waiting for a downstream stage (the batch processor) reserve with a
//    share below 100, so the downstream queues always find room to take data off them.
//  * release(bytes) gives back bytes reserved earlier. Every reserved byte must be released exactly
//    once; releasing more than used() clamps used() at 0 (a bug elsewhere, never a wrap-around).
//  * setLimit() may be called at any time; reservations already made stay (used() may then exceed
//    the new limit until they are released).
// Thread-safety: all methods are lock-free and may be called concurrently from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace telegate {

class MemoryBudget {
 public:
  explicit MemoryBudget(size_t limit = 0) : limit_(limit) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  bool tryReserve(size_t bytes) { return tryReserve(bytes, 100); }
  bool tryReserve(size_t bytes, unsigned share_percent);
  void release(size_t bytes);
  size_t used() const { return used_.load(std::memory_order_relaxed); }
  size_t limit() const { return limit_.load(std::memory_order_relaxed); }
  void setLimit(size_t limit) { limit_.store(limit, std::memory_order_relaxed); }
  // Calls of tryReserve() that returned false.
  uint64_t refusals() const { return refusals_.load(std::memory_order_relaxed); }

 private:
  std::atomic<size_t> used_{0};
  std::atomic<size_t> limit_;
  std::atomic<uint64_t> refusals_{0};
};

// The instance every component charges; its limit comes from `telegate run --memory.limit`
// (0, no limit, until the command line sets it).
MemoryBudget& globalMemoryBudget();

// Holds a reservation and releases it on destruction unless release()d or disarmed earlier.
class MemoryReservation {
 public:
  MemoryReservation() = default;
  MemoryReservation(MemoryBudget* budget, size_t bytes) : budget_(budget), bytes_(bytes) {}
  MemoryReservation(MemoryReservation&& o) noexcept : budget_(o.budget_), bytes_(o.bytes_) {
    o.bytes_ = 0;
  }
  MemoryReservation& operator=(MemoryReservation&& o) noexcept {
    if (this != &o) {
      reset();
      budget_ = o.budget_;
      bytes_ = o.bytes_;
      o.bytes_ = 0;
    }
    return *this;
  }
  ~MemoryReservation() { reset(); }
  void reset() {
    if (budget_ != nullptr && bytes_ > 0) budget_->release(bytes_);
    bytes_ = 0;
  }
  size_t bytes() const { return bytes_; }
  // Gives back what is held beyond `bytes` (nothing when it holds less).
  void shrinkTo(size_t bytes) {
    if (budget_ != nullptr && bytes_ > bytes) {
      budget_->release(bytes_ - bytes);
      bytes_ = bytes;
    }
  }

 private:
  MemoryBudget* budget_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace telegate
