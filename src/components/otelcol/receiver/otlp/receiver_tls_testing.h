// Test doubles shared by the OTLP receivers' TLS tests: a dispatcher that counts what it is
// given and an auth handler that accepts every request and records the client certificate
// identity the receiver handed it.
// Threading: both may be called from the receivers' threads concurrently.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "gtest/gtest.h"
#include "src/components/otelcol/auth/handler.h"
#include "src/components/otelcol/receiver/otlp/dispatch.h"
#include "src/net/tls/tls.h"

namespace telegate::otelcol::receiver_otlp::testing {

class CountingDispatcher : public Dispatcher {
 public:
  bool hasSignal(pdata::Signal) const override { return true; }
  absl::Status dispatch(pdata::Signal, std::string&&, std::shared_ptr<const pdata::ClientInfo>,
                        Protocol) override {
    calls.fetch_add(1);
    return absl::OkStatus();
  }
  void countRefused(pdata::Signal, Protocol, std::string_view) override {}
  std::atomic<int> calls{0};
};

// Accepts every request and remembers the peer certificate it was shown.
class RecordingAuth : public AuthHandler {
 public:
  AuthResult authenticate(const HeaderLookup&) const override {
    ADD_FAILURE() << "the receiver must call authenticate(AuthRequest)";
    return {};
  }
  AuthResult authenticate(const AuthRequest& req) const override {
    std::lock_guard<std::mutex> l(mu);
    ++calls;
    peer = req.peer != nullptr ? std::make_shared<net::tls::PeerIdentity>(*req.peer) : nullptr;
    AuthResult r;
    r.ok = true;
    return r;
  }
  mutable std::mutex mu;
  mutable int calls = 0;
  mutable std::shared_ptr<net::tls::PeerIdentity> peer;
};

}  // namespace telegate::otelcol::receiver_otlp::testing
