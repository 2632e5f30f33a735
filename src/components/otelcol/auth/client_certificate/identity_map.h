// Maps the verified client certificate of a connection to a configured identity rule.
//
// Contract: a Rule names one certificate field (subject common name, or a DNS, URI or e-mail
// subject alternative name) and a value, compared exactly or as an RE2 regular expression that
// must match the whole field value. Exact DNS names compare case-insensitively (ASCII); exact
// e-mail addresses compare the local part exactly and the domain case-insensitively; common
// names and URIs compare byte for byte; regular expressions see the value as written in the
// certificate (use `(?i)` for case-insensitive matching). Empty field values never match.
// match() returns the index of the first rule, in configuration order, that any value of the
// certificate satisfies, so when several rules match, the one written first wins. Exact rules are
// looked up in hash maps (cost independent of their number); regular expressions are tried in
// order only while they could still beat the best exact match.
//
// Threading: build() once; match() is const and safe to call concurrently (RE2 is thread-safe).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "re2/re2.h"
#include "src/net/tls/tls.h"

namespace telegate::otelcol::client_certificate {

enum class Field { kCommonName, kDns, kUri, kEmail };
std::string_view fieldName(Field f);  // "common_name", "dns", "uri", "email"

struct Rule {
  Field field = Field::kCommonName;
  bool regex = false;
  std::string value;
};

class IdentityMap {
 public:
  // Fails when a regular expression does not compile; the message names the rule's position.
  static absl::StatusOr<std::shared_ptr<const IdentityMap>> build(const std::vector<Rule>& rules);

  // Index of the first matching rule, or -1. Only call for a verified identity.
  int match(const net::tls::PeerIdentity& peer) const;
  size_t size() const { return size_; }

 private:
  struct Pattern {
    int index;
    Field field;
    std::unique_ptr<RE2> re;
  };
  static constexpr int kFields = 4;
  // Per field: normalised exact value -> lowest rule index.
  std::unordered_map<std::string, int> exact_[kFields];
  std::vector<Pattern> patterns_;  // in rule order
  size_t size_ = 0;
};

// The normalised form exact values are stored and looked up in (see the contract above).
std::string normalise(Field field, std::string_view value);

}  // namespace telegate::otelcol::client_certificate
