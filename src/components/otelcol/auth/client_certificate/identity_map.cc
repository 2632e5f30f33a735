#include "src/components/otelcol/auth/client_certificate/identity_map.h"

#include <climits>

#include "absl/strings/ascii.h"
#include "src/common/strings.h"

namespace telegate::otelcol::client_certificate {

std::string_view fieldName(Field f) {
  switch (f) {
    case Field::kCommonName:
      return "common_name";
    case Field::kDns:
      return "dns";
    case Field::kUri:
      return "uri";
    case Field::kEmail:
      return "email";
  }
  return "?";
}

std::string normalise(Field field, std::string_view value) {
  std::string v(value);
  switch (field) {
    case Field::kDns:
      absl::AsciiStrToLower(&v);
      break;
    case Field::kEmail: {
      size_t at = v.rfind('@');
      if (at != std::string::npos) {
        for (size_t i = at + 1; i < v.size(); ++i) v[i] = absl::ascii_tolower(v[i]);
      }
      break;
    }
    case Field::kCommonName:
    case Field::kUri:
      break;
  }
  return v;
}

absl::StatusOr<std::shared_ptr<const IdentityMap>> IdentityMap::build(
    const std::vector<Rule>& rules) {
  auto m = std::make_shared<IdentityMap>();
  for (size_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    int idx = static_cast<int>(i);
    if (r.regex) {
      RE2::Options opts;
      opts.set_log_errors(false);
      auto re = std::make_unique<RE2>(r.value, opts);
      if (!re->ok()) {
        return absl::InvalidArgumentError(strCat("identity ", i + 1, ": ", fieldName(r.field),
                                                 ": invalid regular expression: ", re->error()));
      }
      m->patterns_.push_back({idx, r.field, std::move(re)});
    } else {
      // emplace keeps the first (lowest) index of a repeated value.
      m->exact_[static_cast<int>(r.field)].emplace(normalise(r.field, r.value), idx);
    }
  }
  m->size_ = rules.size();
  return std::shared_ptr<const IdentityMap>(std::move(m));
}

namespace {

bool anyFullMatch(const std::vector<std::string>& vals, const RE2& re) {
  for (const auto& v : vals) {
    if (!v.empty() && RE2::FullMatch(v, re)) return true;
  }
  return false;
}

bool patternMatches(const net::tls::PeerIdentity& p, Field f, const RE2& re) {
  switch (f) {
    case Field::kCommonName:
      return !p.common_name.empty() && RE2::FullMatch(p.common_name, re);
    case Field::kDns:
      return anyFullMatch(p.dns_names, re);
    case Field::kUri:
      return anyFullMatch(p.uris, re);
    case Field::kEmail:
      return anyFullMatch(p.emails, re);
  }
  return false;
}

}  // namespace

int IdentityMap::match(const net::tls::PeerIdentity& peer) const {
  int best = INT_MAX;
  auto lookup = [&](Field f, const std::string& v) {
    const auto& table = exact_[static_cast<int>(f)];
    if (v.empty() || table.empty()) return;
    auto it = table.find(normalise(f, v));
    if (it != table.end() && it->second < best) best = it->second;
  };
  lookup(Field::kCommonName, peer.common_name);
  for (const auto& v : peer.dns_names) lookup(Field::kDns, v);
  for (const auto& v : peer.uris) lookup(Field::kUri, v);
  for (const auto& v : peer.emails) lookup(Field::kEmail, v);
  // Patterns are in rule order: the first that matches is the best one left.
  for (const auto& p : patterns_) {
    if (p.index >= best) break;
    if (patternMatches(peer, p.field, *p.re)) {
      best = p.index;
      break;
    }
  }
  return best == INT_MAX ? -1 : best;
}

}  // namespace telegate::otelcol::client_certificate
