#include "src/admin/admin_tls.h"

#include <string>
#include <utility>

#include "src/common/strings.h"
#include "src/syntax/diag.h"

namespace telegate::admin {

namespace {

std::string positioned(const runtime::PeekedHttpBlock& p, std::string message) {
  syntax::Diagnostic d;
  d.file = p.file;
  d.range = p.tls_range;
  d.message = std::move(message);
  return d.toString();
}

}  // namespace

absl::StatusOr<AdminTls> adminTlsFromSources(const std::vector<syntax::SourceFilePtr>& sources,
                                             metrics::Registry* metrics) {
  AdminTls out;
  auto peeked = runtime::peekHttpBlock(sources);
  if (!peeked || !peeked->args.tls) return out;
  auto ctx = net::tls::TlsServerContext::create(runtime::toTlsServerSettings(*peeked->args.tls),
                                                "admin", metrics);
  if (!ctx.ok()) {
    return absl::InvalidArgumentError(
        positioned(*peeked, strCat("http.tls: ", ctx.status().message())));
  }
  out.block = peeked->args.tls;
  out.context = std::move(*ctx);
  return out;
}

absl::Status checkAdminTlsUnchanged(const AdminTls& started,
                                    const std::vector<syntax::SourceFilePtr>& sources) {
  auto peeked = runtime::peekHttpBlock(sources);
  if (!peeked) return absl::OkStatus();  // the load reports the errors
  if (peeked->args.tls == started.block) return absl::OkStatus();
  std::string what;
  if (!started.block) {
    what = "adds an http.tls block, but the admin server was started with plain HTTP";
  } else if (!peeked->args.tls) {
    what = "removes the http.tls block, but the admin server was started with TLS";
  } else {
    what = "changes the http.tls block the admin server was started with";
  }
  std::string message =
      strCat("the configuration ", what,
             "; the admin server's TLS is fixed at startup: restart telegate to apply it "
             "(certificate and key files are re-read when they change, without a restart)");
  if (!peeked->tls_range.begin.valid()) {
    // No tls block in the new configuration: point at the `http` block's file, or nowhere.
    return absl::FailedPreconditionError(message);
  }
  return absl::FailedPreconditionError(positioned(*peeked, std::move(message)));
}

}  // namespace telegate::admin
