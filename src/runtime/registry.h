// The component registry: Alloy component name -> schema and factory.
//
// Contract: components register once at start-up (registerAll() in src/components/all.cc lists
// every component, one line each); the registry is read-only afterwards and safe to read from any
// thread. Names are dotted Alloy names ("otelcol.receiver.otlp"); registering a name twice aborts.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/runtime/component.h"
#include "src/runtime/schema.h"

namespace telegate::runtime {

enum class Stability { kGenerallyAvailable, kPublicPreview, kExperimental };
std::string_view stabilityName(Stability s);

struct ExportDesc {
  std::string name;
  std::string type;  // e.g. "capsule(otelcol.Consumer)", "list(map(string))"
  std::string doc;
};

struct Registration {
  std::string name;
  Stability stability = Stability::kGenerallyAvailable;
  std::string summary;  // one line for docs
  std::vector<ExportDesc> exports;
  const SchemaBase* schema = nullptr;
  // Allocates a default-initialised Arguments object.
  std::function<std::shared_ptr<void>()> new_args;
  const std::type_info* args_type = nullptr;
  std::function<absl::StatusOr<std::unique_ptr<Component>>(Host& host, const ArgsHolder& args)>
      build;
};

class Registry {
 public:
  static Registry& global();
  void add(Registration r);
  const Registration* find(std::string_view name) const;
  std::vector<const Registration*> all() const;  // sorted by name

 private:
  std::map<std::string, Registration, std::less<>> entries_;
};

// Registers component type C. C must be constructible as C(Host&, const C::Arguments&) and derive
// from TypedComponent<C::Arguments>. Argument validation errors belong in Arguments::validate();
// C may also provide `static absl::Status check(const Arguments&)` for checks needing the host.
template <class C>
void registerComponent(std::string name, std::string summary, std::vector<ExportDesc> exports,
                       Stability stability = Stability::kGenerallyAvailable) {
  using Args = typename C::Arguments;
  Registration r;
  r.name = std::move(name);
  r.summary = std::move(summary);
  r.exports = std::move(exports);
  r.stability = stability;
  r.schema = &schemaOf<Args>();
  r.args_type = &typeid(Args);
  r.new_args = [] { return std::static_pointer_cast<void>(std::make_shared<Args>()); };
  r.build = [](Host& host, const ArgsHolder& args) -> absl::StatusOr<std::unique_ptr<Component>> {
    return std::unique_ptr<Component>(new C(host, args.as<Args>()));
  };
  Registry::global().add(std::move(r));
}

}  // namespace telegate::runtime
