// The component model: the interface every Alloy-style component implements.
//
// Contract (lifecycle, all calls from the controller thread unless noted):
//   1. The factory builds the component from validated Arguments. Building has no side effects on
//      the outside world (no listeners, no connections): `telegate validate` builds and discards.
//      The constructor publishes initial exports through Host::setExports().
//   2. start() is called once, in dependency order, after every component of the graph was built.
//      It starts threads, listeners, clients; it must not block for long. A failure (port in use)
//      marks the component unhealthy; the rest of the graph keeps running.
//   3. update() receives new Arguments after a reload or when a referenced export changed. It may
//      run concurrently with the component's own threads, never with another update().
//   4. shutdown() stops the component, flushing what it holds, and returns by `deadline`.
// Components report health with Host::setHealth() from any thread, and new exports with
// Host::setExports() from any thread (the controller re-evaluates dependents asynchronously).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <typeinfo>

#include "absl/status/status.h"
#include "src/common/log.h"
#include "src/common/metrics.h"
#include "src/runtime/schema.h"
#include "src/syntax/value.h"

namespace telegate::runtime {

enum class HealthState { kUnknown, kHealthy, kUnhealthy, kExited };
std::string_view healthStateName(HealthState s);

struct Health {
  HealthState state = HealthState::kUnknown;
  std::string message;
  std::chrono::system_clock::time_point updated{};
};

// What the runtime gives a component.
class Host {
 public:
  virtual ~Host() = default;
  virtual const std::string& id() const = 0;        // e.g. "otelcol.receiver.otlp.default"
  virtual const std::string& dataPath() const = 0;  // <storage.path>/<id>, created on demand
  virtual const log::Logger& logger() const = 0;    // carries component_id
  virtual metrics::Registry& metrics() const = 0;
  virtual void setExports(syntax::Object exports) = 0;                 // thread-safe
  virtual void setHealth(HealthState state, std::string message) = 0;  // thread-safe
};

// Type-erased decoded arguments.
struct ArgsHolder {
  std::shared_ptr<const void> ptr;
  const std::type_info* type = nullptr;
  template <class A>
  const A& as() const {
    return *static_cast<const A*>(ptr.get());
  }
};

class Component {
 public:
  virtual ~Component() = default;
  virtual absl::Status start() { return absl::OkStatus(); }
  virtual absl::Status updateErased(const ArgsHolder& args) = 0;
  virtual void shutdown(std::chrono::steady_clock::time_point deadline) {}
  // Extra information for the admin API (targets, queue sizes...). Thread-safe.
  virtual syntax::Value debugInfo() const { return syntax::Value(); }
};

// Convenience base for components with typed Arguments.
template <class Args>
class TypedComponent : public Component {
 public:
  using Arguments = Args;
  absl::Status updateErased(const ArgsHolder& args) final { return update(args.as<Args>()); }
  virtual absl::Status update(const Args& args) = 0;
};

}  // namespace telegate::runtime
