#include "src/runtime/registry.h"

#include <cstdio>
#include <cstdlib>

namespace telegate::runtime {

std::string_view stabilityName(Stability s) {
  switch (s) {
    case Stability::kGenerallyAvailable:
      return "generally-available";
    case Stability::kPublicPreview:
      return "public-preview";
    case Stability::kExperimental:
      return "experimental";
  }
  return "unknown";
}

std::string_view healthStateName(HealthState s) {
  switch (s) {
    case HealthState::kUnknown:
      return "unknown";
    case HealthState::kHealthy:
      return "healthy";
    case HealthState::kUnhealthy:
      return "unhealthy";
    case HealthState::kExited:
      return "exited";
  }
  return "unknown";
}

Registry& Registry::global() {
  static Registry* r = new Registry();
  return *r;
}

void Registry::add(Registration r) {
  if (entries_.count(r.name) != 0) {
    std::fprintf(stderr, "component %s registered twice\n", r.name.c_str());
    std::abort();
  }
  std::string name = r.name;
  entries_.emplace(std::move(name), std::move(r));
}

const Registration* Registry::find(std::string_view name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<const Registration*> Registry::all() const {
  std::vector<const Registration*> out;
  for (const auto& [_, r] : entries_) out.push_back(&r);
  return out;
}

}  // namespace telegate::runtime
