// The admin server's TLS: decided once, from the root `http { tls { ... } }` block of the
// configuration telegate starts with, before the admin server listens.
//
// Contract:
//  * adminTlsFromSources() finds and decodes the root `http` block (runtime::peekHttpBlock) and,
//    when it has a `tls` block, builds a net::tls::TlsServerContext named "admin" from it (the
//    certificate, key and client CA are loaded and checked now; the context then re-reads the
//    files when they change, so certificate rotation needs no reload). Sources or an `http` block
//    with errors give plain HTTP: the first load reports those errors and telegate exits. A `tls`
//    block whose files do not load is an error "FILE:LINE:COL: http.tls: <reason>".
//  * The listener cannot switch between plain HTTP and TLS, nor change its TLS settings, while it
//    runs. checkAdminTlsUnchanged() is called before every reload: a configuration whose
//    `http.tls` block differs from the one the server started with (added, removed, or any
//    attribute changed) is refused with a positioned message saying to restart, and the running
//    configuration stays. Changed file contents under unchanged paths are not a change.
// Threading: both functions are pure apart from the context's own watcher thread; call them from
// any thread.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/common/metrics.h"
#include "src/net/tls/tls.h"
#include "src/runtime/http_block.h"
#include "src/syntax/position.h"

namespace telegate::admin {

struct AdminTls {
  std::optional<runtime::HttpTlsBlock> block;           // as started; nullopt = plain HTTP
  std::shared_ptr<net::tls::TlsServerContext> context;  // null = plain HTTP
  bool enabled() const { return context != nullptr; }
};

absl::StatusOr<AdminTls> adminTlsFromSources(
    const std::vector<syntax::SourceFilePtr>& sources,
    metrics::Registry* metrics = &metrics::defaultRegistry());

absl::Status checkAdminTlsUnchanged(const AdminTls& started,
                                    const std::vector<syntax::SourceFilePtr>& sources);

}  // namespace telegate::admin
