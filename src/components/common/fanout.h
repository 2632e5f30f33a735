// Hands one set of items to every receiver of a `forward_to` list.
//
// Contract: fanOut() calls `deliver(receiver, items)` for each receiver in order, giving every
// receiver but the last its own copy and moving `items` into the last. It stops at the first
// receiver that refuses and returns that status with *refused_by set to its index (receivers
// before it keep what they accepted; the caller's retry may deliver those items again, which is
// the at-least-once contract). OK when every receiver accepted, or when there are none.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace telegate::components {

template <class ReceiverPtr, class Items, class Deliver>
absl::Status fanOut(const std::vector<ReceiverPtr>& receivers, Items&& items, Deliver deliver,
                    size_t* refused_by) {
  for (size_t i = 0; i < receivers.size(); ++i) {
    absl::Status st;
    if (i + 1 == receivers.size()) {
      st = deliver(receivers[i], std::move(items));
    } else {
      auto copy = items;
      st = deliver(receivers[i], std::move(copy));
    }
    if (!st.ok()) {
      if (refused_by != nullptr) *refused_by = i;
      return st;
    }
  }
  return absl::OkStatus();
}

}  // namespace telegate::components
