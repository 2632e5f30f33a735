// otelcol.auth.bearer: checks `Authorization: Bearer <token>` on receivers.
//
// Contract: exports `handler` (capsule otelcol.Handler). The handler compares the configured
// header's first value with "<scheme> <token>" in constant time (SHA-256 digests compared with
// CRYPTO_memcmp), so neither timing nor any message reveals the token; a failed check never
// echoes the presented credential. An empty token is a configuration error: authentication fails
// closed. update() swaps the expected credential atomically; the exported handler object stays the
// same across reloads, so receivers holding it see the new token at once.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "src/components/otelcol/auth/handler.h"
#include "src/runtime/component.h"

namespace telegate::otelcol::bearer {

struct Arguments {
  runtime::Secret token;
  std::string scheme = "Bearer";
  std::string header = "Authorization";
  static void describe(runtime::Schema<Arguments>& s);
  absl::Status validate() const;
};

class BearerHandler : public AuthHandler {
 public:
  explicit BearerHandler(const Arguments& args);
  void set(const Arguments& args);
  AuthResult authenticate(const HeaderLookup& header) const override;
  std::string describe() const override { return "otelcol.auth.bearer handler"; }

 private:
  struct State {
    std::string header_lower;
    std::array<unsigned char, 32> expected_digest{};
  };
  std::atomic<std::shared_ptr<const State>> state_;
};

class Component : public runtime::TypedComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments& args);
  absl::Status update(const Arguments& args) override;

 private:
  runtime::Host& host_;
  std::shared_ptr<BearerHandler> handler_;
};

}  // namespace telegate::otelcol::bearer
