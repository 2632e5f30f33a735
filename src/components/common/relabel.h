// Prometheus relabeling rules (the `rule` blocks of discovery.relabel and friends).
//
// Contract: a Rule mirrors Prometheus' relabel_config: source_labels joined by `separator`,
// `regex` (RE2, fully anchored, default "(.*)"), `target_label`, `replacement` (default "$1",
// expanded like Go's regexp.Expand: $1, ${1}, $name, ${name}, $$), `modulus` and `action`
// (replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep,
// lowercase, uppercase). compileRules() validates and compiles rules once; applyRules() runs them
// in order over one label set and returns false when a keep/drop rule removed the target.
// Compiled rules are immutable and safe to use from several threads.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/runtime/schema.h"

namespace telegate::components {

struct RuleBlock {
  std::vector<std::string> source_labels;
  std::string separator = ";";
  std::string regex = "(.*)";
  int64_t modulus = 0;
  std::string target_label;
  std::string replacement = "$1";
  std::string action = "replace";
  static void describe(runtime::Schema<RuleBlock>& s);
  absl::Status validate() const;
};

class CompiledRules;
using CompiledRulesPtr = std::shared_ptr<const CompiledRules>;

absl::StatusOr<CompiledRulesPtr> compileRules(const std::vector<RuleBlock>& rules);

// Applies the rules to `labels` in place; false when the target is dropped.
bool applyRules(const CompiledRules& rules, std::map<std::string, std::string>* labels);

}  // namespace telegate::components
