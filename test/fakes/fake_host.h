// A runtime::Host for component unit tests: what the controller would give a component, with
// what the component reports kept for the test to read.
//
// Contract: id() and the logger's component_id are the id given; dataPath() is the path given
// ("/nonexistent" by default: a component that writes there fails, as a test usually wants);
// metrics() is a registry of this host's own (exposition() renders it). setExports() and
// setHealth() are recorded: exported<C>(name) returns the export `name` as a capsule of type C
// (null when it is another type; the export must exist), health() and healthMessage() the last
// health reported.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "src/common/log.h"
#include "src/common/metrics.h"
#include "src/runtime/component.h"

namespace telegate::testing {

class FakeHost : public runtime::Host {
 public:
  explicit FakeHost(std::string id, std::string data_path = "/nonexistent")
      : id_(std::move(id)), path_(std::move(data_path)), logger_({{"component_id", id_}}) {}

  const std::string& id() const override { return id_; }
  const std::string& dataPath() const override { return path_; }
  const log::Logger& logger() const override { return logger_; }
  metrics::Registry& metrics() const override { return registry_; }
  void setExports(syntax::Object e) override {
    std::lock_guard<std::mutex> l(mu_);
    exports_ = std::move(e);
  }
  void setHealth(runtime::HealthState s, std::string message) override {
    std::lock_guard<std::mutex> l(mu_);
    health_ = s;
    message_ = std::move(message);
  }

  template <class C>
  std::shared_ptr<C> exported(const std::string& name) const {
    std::lock_guard<std::mutex> l(mu_);
    return std::dynamic_pointer_cast<C>(exports_.at(name).asCapsule());
  }
  runtime::HealthState health() const {
    std::lock_guard<std::mutex> l(mu_);
    return health_;
  }
  std::string healthMessage() const {
    std::lock_guard<std::mutex> l(mu_);
    return message_;
  }
  std::string exposition() const { return registry_.exposition(); }

 private:
  const std::string id_;
  const std::string path_;
  const log::Logger logger_;
  mutable metrics::Registry registry_;
  mutable std::mutex mu_;
  syntax::Object exports_;
  runtime::HealthState health_ = runtime::HealthState::kUnknown;
  std::string message_;
};

}  // namespace telegate::testing
