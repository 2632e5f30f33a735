// Fuzz target: the Kubernetes watch stream decoder, list parser and pod target builder. The
// input is fed in two chunks split at a position taken from the first byte; every decoded
// event's object goes through podTargets(). Nothing may crash.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "src/components/discovery/kubernetes/pod_targets.h"
#include "src/components/discovery/kubernetes/watch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  namespace k8s = telegate::discovery::kubernetes;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t split = in.empty() ? 0 : data[0] % (in.size() + 1);
  k8s::WatchDecoder d(1 << 20);
  std::vector<k8s::WatchEvent> events;
  if (d.feed(in.substr(0, split), &events).ok()) (void)d.feed(in.substr(split), &events);
  for (const auto& ev : events) (void)k8s::podTargets(ev.object_json);
  (void)k8s::parseList(in);
  (void)k8s::podTargets(in);
  return 0;
}
