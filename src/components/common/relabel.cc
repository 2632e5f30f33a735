#include "src/components/common/relabel.h"

#include <openssl/evp.h>
#include <re2/re2.h>

#include <cctype>

#include "src/common/strings.h"

namespace telegate::components {

namespace {

enum class Action {
  kReplace,
  kKeep,
  kDrop,
  kKeepEqual,
  kDropEqual,
  kHashMod,
  kLabelMap,
  kLabelDrop,
  kLabelKeep,
  kLowercase,
  kUppercase,
};

bool parseAction(const std::string& a, Action* out) {
  static const std::pair<const char*, Action> kActions[] = {
      {"replace", Action::kReplace},     {"keep", Action::kKeep},
      {"drop", Action::kDrop},           {"keepequal", Action::kKeepEqual},
      {"dropequal", Action::kDropEqual}, {"hashmod", Action::kHashMod},
      {"labelmap", Action::kLabelMap},   {"labeldrop", Action::kLabelDrop},
      {"labelkeep", Action::kLabelKeep}, {"lowercase", Action::kLowercase},
      {"uppercase", Action::kUppercase},
  };
  for (const auto& [name, act] : kActions) {
    if (a == name) {
      *out = act;
      return true;
    }
  }
  return false;
}

bool validLabelName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = c == '_' || std::isalpha(static_cast<unsigned char>(c)) ||
              (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return true;
}

struct Compiled {
  Action action;
  std::vector<std::string> source_labels;
  std::string separator;
  std::unique_ptr<RE2> regex;  // anchored
  uint64_t modulus;
  std::string target_label;
  std::string replacement;
};

// Go regexp.Expand semantics over RE2 submatches.
std::string expand(std::string_view tmpl, const RE2& re, const std::vector<re2::StringPiece>& m) {
  std::string out;
  const auto& names = re.NamedCapturingGroups();
  for (size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if (c != '$' || i + 1 >= tmpl.size()) {
      out.push_back(c);
      continue;
    }
    if (tmpl[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    std::string_view name;
    size_t end;
    if (tmpl[i + 1] == '{') {
      size_t close = tmpl.find('}', i + 2);
      if (close == std::string_view::npos) {
        out.push_back(c);
        continue;
      }
      name = tmpl.substr(i + 2, close - i - 2);
      end = close;
    } else {
      size_t j = i + 1;
      while (j < tmpl.size() &&
             (std::isalnum(static_cast<unsigned char>(tmpl[j])) || tmpl[j] == '_')) {
        ++j;
      }
      if (j == i + 1) {
        out.push_back(c);
        continue;
      }
      name = tmpl.substr(i + 1, j - i - 1);
      end = j - 1;
    }
    i = end;
    bool numeric = !name.empty();
    for (char ch : name) numeric = numeric && std::isdigit(static_cast<unsigned char>(ch));
    int idx = -1;
    if (numeric) {
      if (name.size() < 9) idx = std::stoi(std::string(name));
    } else if (auto it = names.find(std::string(name)); it != names.end()) {
      idx = it->second;
    }
    if (idx >= 0 && static_cast<size_t>(idx) < m.size() && m[idx].data() != nullptr) {
      out.append(m[idx].data(), m[idx].size());
    }
  }
  return out;
}

bool fullMatch(const RE2& re, std::string_view s, std::vector<re2::StringPiece>* m) {
  int n = re.NumberOfCapturingGroups() + 1;
  m->assign(n, re2::StringPiece());
  return re.Match(re2::StringPiece(s.data(), s.size()), 0, s.size(), RE2::ANCHOR_BOTH, m->data(),
                  n);
}

}  // namespace

class CompiledRules {
 public:
  std::vector<Compiled> rules;
};

void RuleBlock::describe(runtime::Schema<RuleBlock>& s) {
  s.attr("source_labels", &RuleBlock::source_labels).doc("labels whose values are joined");
  s.attr("separator", &RuleBlock::separator);
  s.attr("regex", &RuleBlock::regex).doc("RE2, anchored at both ends");
  s.attr("modulus", &RuleBlock::modulus).doc("for hashmod");
  s.attr("target_label", &RuleBlock::target_label);
  s.attr("replacement", &RuleBlock::replacement);
  s.attr("action", &RuleBlock::action)
      .doc(
          "replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, "
          "lowercase, uppercase");
}

absl::Status RuleBlock::validate() const {
  Action a;
  if (!parseAction(action, &a)) {
    return absl::InvalidArgumentError(strCat("unknown relabel action \"", action, "\""));
  }
  RE2::Options quiet;
  quiet.set_log_errors(false);
  RE2 re(regex, quiet);
  if (!re.ok()) {
    return absl::InvalidArgumentError(strCat("invalid regex \"", regex, "\": ", re.error()));
  }
  bool needs_target = a == Action::kReplace || a == Action::kHashMod || a == Action::kLowercase ||
                      a == Action::kUppercase || a == Action::kKeepEqual || a == Action::kDropEqual;
  if (needs_target && target_label.empty()) {
    return absl::InvalidArgumentError(strCat("relabel action ", action, " requires target_label"));
  }
  if (a == Action::kHashMod && modulus <= 0) {
    return absl::InvalidArgumentError("relabel action hashmod requires a positive modulus");
  }
  if ((a == Action::kLowercase || a == Action::kUppercase || a == Action::kHashMod ||
       a == Action::kKeepEqual || a == Action::kDropEqual) &&
      !validLabelName(target_label)) {
    return absl::InvalidArgumentError(strCat("\"", target_label, "\" is an invalid label name"));
  }
  if ((a == Action::kLabelDrop || a == Action::kLabelKeep) &&
      (!source_labels.empty() || !target_label.empty() || replacement != "$1" || modulus != 0)) {
    return absl::InvalidArgumentError(strCat("relabel action ", action,
                                             " only takes regex (and no source_labels, "
                                             "target_label, replacement or modulus)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<CompiledRulesPtr> compileRules(const std::vector<RuleBlock>& rules) {
  auto out = std::make_shared<CompiledRules>();
  for (const auto& r : rules) {
    if (auto st = r.validate(); !st.ok()) return st;
    Compiled c;
    parseAction(r.action, &c.action);
    c.source_labels = r.source_labels;
    c.separator = r.separator;
    RE2::Options quiet;
    quiet.set_log_errors(false);
    c.regex = std::make_unique<RE2>(strCat("^(?:", r.regex, ")$"), quiet);
    c.modulus = static_cast<uint64_t>(r.modulus);
    c.target_label = r.target_label;
    c.replacement = r.replacement;
    out->rules.push_back(std::move(c));
  }
  return CompiledRulesPtr(std::move(out));
}

bool applyRules(const CompiledRules& rules, std::map<std::string, std::string>* labels) {
  std::vector<re2::StringPiece> m;
  for (const auto& r : rules.rules) {
    std::string val;
    for (size_t i = 0; i < r.source_labels.size(); ++i) {
      if (i > 0) val += r.separator;
      auto it = labels->find(r.source_labels[i]);
      if (it != labels->end()) val += it->second;
    }
    switch (r.action) {
      case Action::kDrop:
        if (fullMatch(*r.regex, val, &m)) return false;
        break;
      case Action::kKeep:
        if (!fullMatch(*r.regex, val, &m)) return false;
        break;
      case Action::kDropEqual: {
        auto it = labels->find(r.target_label);
        if (val == (it == labels->end() ? "" : it->second)) return false;
        break;
      }
      case Action::kKeepEqual: {
        auto it = labels->find(r.target_label);
        if (val != (it == labels->end() ? "" : it->second)) return false;
        break;
      }
      case Action::kReplace: {
        if (!fullMatch(*r.regex, val, &m)) break;
        std::string target = expand(r.target_label, *r.regex, m);
        if (!validLabelName(target)) break;
        std::string res = expand(r.replacement, *r.regex, m);
        if (res.empty()) {
          labels->erase(target);
        } else {
          (*labels)[target] = res;
        }
        break;
      }
      case Action::kLowercase:
      case Action::kUppercase: {
        for (auto& ch : val) {
          ch = static_cast<char>(r.action == Action::kLowercase
                                     ? std::tolower(static_cast<unsigned char>(ch))
                                     : std::toupper(static_cast<unsigned char>(ch)));
        }
        (*labels)[r.target_label] = val;
        break;
      }
      case Action::kHashMod: {
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        EVP_Digest(val.data(), val.size(), d, &len, EVP_md5(), nullptr);
        uint64_t h = 0;
        for (int i = 8; i < 16; ++i) h = (h << 8) | d[i];
        (*labels)[r.target_label] = std::to_string(h % r.modulus);
        break;
      }
      case Action::kLabelMap: {
        std::map<std::string, std::string> add;
        for (const auto& [k, v] : *labels) {
          if (fullMatch(*r.regex, k, &m)) add[expand(r.replacement, *r.regex, m)] = v;
        }
        for (auto& [k, v] : add) (*labels)[k] = std::move(v);
        break;
      }
      case Action::kLabelDrop:
      case Action::kLabelKeep: {
        for (auto it = labels->begin(); it != labels->end();) {
          bool match = fullMatch(*r.regex, it->first, &m);
          bool erase = r.action == Action::kLabelDrop ? match : !match;
          it = erase ? labels->erase(it) : std::next(it);
        }
        break;
      }
    }
  }
  return true;
}

}  // namespace telegate::components
