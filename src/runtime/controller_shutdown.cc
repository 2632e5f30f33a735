// Controller, shutdown ordering and the deadline split (controller.h has the contract): the worker
// stops first, then components stop in reverse dependency order (receivers first, so intake ends
// before processors and exporters flush), each given shareOfDeadline() of the time left according
// to its height. Threading: shutdown() may be called from any thread; it joins the worker and then
// holds load_mu_, so it waits for a load or re-evaluation in progress. Idempotent.
#include <algorithm>
#include <map>

#include "src/runtime/controller_node.h"

namespace telegate::runtime {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

void Controller::shutdown(Clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> l(queue_mu_);
    stop_worker_ = true;
  }
  queue_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard<std::mutex> load_lock(load_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  if (!graph_) return;
  // Receivers come last in dependency order, so stopping in reverse stops intake first and lets
  // processors and exporters flush what they hold. The time is shared out by height (the longest
  // chain of references below a component): a component of height h gets 1/(h+1) of what is left
  // when its turn comes, so what it flushes into still has time to deliver it. A batch processor
  // in front of an exporter (height 1) gets at most half, the exporter (height 0) the rest.
  std::map<std::string, size_t, std::less<>> height;
  for (const auto& n : graph_->order) {  // dependencies first: their heights are known
    size_t h = 0;
    if (auto it = graph_->deps.find(n->id()); it != graph_->deps.end()) {
      for (const auto& d : it->second) {
        if (auto hd = height.find(d); hd != height.end()) h = std::max(h, hd->second + 1);
      }
    }
    height[n->id()] = h;
  }
  for (auto it = graph_->order.rbegin(); it != graph_->order.rend(); ++it) {
    auto& n = *it;
    n->setPublish(false);
    if (n->component && n->started) {
      n->component->shutdown(shareOfDeadline(Clock::now(), deadline, height[n->id()]));
    }
    n->setHealth(HealthState::kExited, "shut down");
  }
}

Clock::time_point shareOfDeadline(Clock::time_point now, Clock::time_point deadline,
                                  size_t height) {
  if (deadline <= now || height == 0) return deadline;
  return now + (deadline - now) / static_cast<int64_t>(height + 1);
}

}  // namespace telegate::runtime
