// Polling for conditions that another thread makes true, for tests (header-only).
//
// Contract: waitFor(pred, limit, poll) calls pred() until it returns true or `limit` has passed
// on the steady clock, sleeping `poll` between calls; it returns the value of a last call made
// after the limit, so a condition that becomes true just at the end is still seen. pred runs on
// the calling thread only. Use it for "eventually"; for "never", prefer a fake clock
// (test/fakes/fake_clock.h) where the code under test accepts one.
// Threading: no shared state.
#pragma once

#include <chrono>
#include <thread>

namespace telegate::testing {

template <class Pred>
bool waitFor(Pred&& pred, std::chrono::milliseconds limit = std::chrono::seconds(5),
             std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(poll);
  }
  return static_cast<bool>(pred());
}

}  // namespace telegate::testing
