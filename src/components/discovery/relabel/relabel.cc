// discovery.relabel: rewrites, filters and drops discovery targets with Prometheus relabeling
// rules (see src/components/common/relabel.h).
//
// Contract: exports `output` (the targets that survive the rules, in input order) and `rules`
// (the compiled rules, a capsule other components can reference). A target whose label set is
// empty after relabeling is dropped. Every update recomputes the output; when it changes,
// dependents (prometheus.scrape, loki.source.kubernetes) are re-evaluated by the controller.
#include "src/components/common/relabel.h"
#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/runtime/registry.h"

namespace telegate::discovery::relabel {

using runtime::Schema;

class RulesCapsule : public syntax::Capsule {
 public:
  static constexpr std::string_view kCapsuleType = "relabel.Rules";
  explicit RulesCapsule(components::CompiledRulesPtr rules) : rules_(std::move(rules)) {}
  std::string_view capsuleType() const override { return kCapsuleType; }
  const components::CompiledRules& rules() const { return *rules_; }

 private:
  components::CompiledRulesPtr rules_;
};

struct Arguments {
  std::vector<runtime::Target> targets;
  std::vector<components::RuleBlock> rule;
  static void describe(Schema<Arguments>& s) {
    s.attr("targets", &Arguments::targets).required().doc("targets to relabel");
    s.block("rule", &Arguments::rule).doc("relabeling rules, applied in order");
  }
};

std::vector<runtime::Target> relabelTargets(const components::CompiledRules& rules,
                                            const std::vector<runtime::Target>& targets) {
  std::vector<runtime::Target> out;
  out.reserve(targets.size());
  for (const auto& t : targets) {
    runtime::Target copy = t;
    if (components::applyRules(rules, &copy) && !copy.empty()) out.push_back(std::move(copy));
  }
  return out;
}

class Component : public runtime::TypedComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments& args) : host_(host) {
    auto st = update(args);
    if (!st.ok()) host_.setHealth(runtime::HealthState::kUnhealthy, std::string(st.message()));
  }

  absl::Status update(const Arguments& args) override {
    auto compiled = components::compileRules(args.rule);
    if (!compiled.ok()) return compiled.status();
    auto output = relabelTargets(**compiled, args.targets);
    host_.setExports(
        {{"output", runtime::Codec<std::vector<runtime::Target>>::encode(output)},
         {"rules", syntax::Value::capsule(std::make_shared<RulesCapsule>(*compiled))}});
    host_.setHealth(runtime::HealthState::kHealthy,
                    strCat(output.size(), " of ", args.targets.size(), " targets kept"));
    return absl::OkStatus();
  }

 private:
  runtime::Host& host_;
};

}  // namespace telegate::discovery::relabel

namespace telegate::components {
void registerDiscoveryRelabel() {
  runtime::registerComponent<discovery::relabel::Component>(
      "discovery.relabel", "Rewrites and filters discovery targets with relabeling rules.",
      {{"output", "list(map(string))", "the targets after relabeling"},
       {"rules", "capsule(relabel.Rules)", "the compiled rules"}});
}
}  // namespace telegate::components
