// Fuzz target: the Kubernetes watch stream decoder, list parser and the pod, service, node and
// endpoints target builders. The input is fed in two chunks split at a position taken from the
// first byte; every decoded event's object goes through each target builder. Nothing may crash.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "src/components/discovery/kubernetes/pod_targets.h"
#include "src/components/discovery/kubernetes/role_targets.h"
#include "src/k8s/watch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  namespace k8s = telegate::k8s;
  namespace disco = telegate::discovery::kubernetes;
  using disco::podTargets;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t split = in.empty() ? 0 : data[0] % (in.size() + 1);
  k8s::WatchDecoder d(1 << 20);
  std::vector<k8s::WatchEvent> events;
  if (d.feed(in.substr(0, split), &events).ok()) (void)d.feed(in.substr(split), &events);
  // The first decoded object also serves as the Service and Pod the endpoints refer to.
  const std::string* first = events.empty() ? nullptr : &events[0].object_json;
  auto lookup = [first](const std::string&) { return first; };
  for (const auto& ev : events) {
    (void)podTargets(ev.object_json);
    (void)disco::serviceTargets(ev.object_json);
    (void)disco::nodeTargets(ev.object_json);
    (void)disco::endpointsTargets(ev.object_json, lookup, lookup);
  }
  (void)k8s::parseList(in);
  (void)podTargets(in);
  return 0;
}
