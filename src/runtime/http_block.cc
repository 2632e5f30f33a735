#include "src/runtime/http_block.h"

#include <utility>

#include "src/common/strings.h"
#include "src/syntax/parser.h"
#include "src/syntax/stdlib.h"

namespace telegate::runtime {

void HttpBasicAuthBlock::describe(Schema<HttpBasicAuthBlock>& s) {
  s.attr("username", &HttpBasicAuthBlock::username).required().doc("user name to require");
  s.attr("password", &HttpBasicAuthBlock::password).required().doc("password to require");
}

void HttpAuthFilterBlock::describe(Schema<HttpAuthFilterBlock>& s) {
  s.attr("paths", &HttpAuthFilterBlock::paths).doc("path prefixes the filter lists");
  s.attr("authenticate_matching_paths", &HttpAuthFilterBlock::authenticate_matching_paths)
      .doc("true: the listed paths need the credential; false: every other path does");
}

void HttpAuthBlock::describe(Schema<HttpAuthBlock>& s) {
  s.block("basic", &HttpAuthBlock::basic).doc("HTTP basic authentication");
  s.block("filter", &HttpAuthBlock::filter).doc("which paths need the credential");
}

void HttpTlsBlock::describe(Schema<HttpTlsBlock>& s) {
  s.attr("cert_file", &HttpTlsBlock::cert_file).doc("path of the server certificate (PEM)");
  s.attr("cert_pem", &HttpTlsBlock::cert_pem).doc("server certificate (PEM)");
  s.attr("key_file", &HttpTlsBlock::key_file).doc("path of the server key (PEM)");
  s.attr("key_pem", &HttpTlsBlock::key_pem).doc("server key (PEM)");
  s.attr("cipher_suites", &HttpTlsBlock::cipher_suites)
      .doc("TLS 1.2 cipher suites by Go's names; [] = OpenSSL's defaults");
  s.attr("client_auth_type", &HttpTlsBlock::client_auth_type)
      .doc("client certificate policy by Go's tls.ClientAuthType names");
  s.attr("client_ca_file", &HttpTlsBlock::client_ca_file)
      .doc("path of the CA bundle that verifies client certificates");
  s.attr("client_ca_pem", &HttpTlsBlock::client_ca_pem)
      .doc("CA bundle that verifies client certificates (PEM)");
  s.attr("curve_preferences", &HttpTlsBlock::curve_preferences)
      .doc("key exchange groups: CurveP256, CurveP384, CurveP521, X25519");
  s.attr("max_version", &HttpTlsBlock::max_version).doc("newest TLS version: TLS10..TLS13");
  s.attr("min_version", &HttpTlsBlock::min_version)
      .doc("oldest TLS version: TLS10..TLS13 (default TLS12)");
}

namespace {

// Alloy's version names -> the shared contract's ("1.2").
std::optional<std::string> mapVersion(const std::string& alloy) {
  if (alloy == "TLS10") return "1.0";
  if (alloy == "TLS11") return "1.1";
  if (alloy == "TLS12") return "1.2";
  if (alloy == "TLS13") return "1.3";
  return std::nullopt;
}

constexpr std::string_view kClientAuthNames =
    "NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or "
    "RequireAndVerifyClientCert";

}  // namespace

std::optional<HttpTlsProblem> checkHttpTlsBlock(const HttpTlsBlock& b) {
  auto problem = [](std::string attr, std::string msg) {
    return std::optional<HttpTlsProblem>(HttpTlsProblem{std::move(attr), std::move(msg)});
  };
  if (!b.cert_pem.value.empty() && !b.cert_file.empty()) {
    return problem("cert_pem", "http.tls: cannot specify both cert_pem and cert_file");
  }
  if (b.cert_pem.value.empty() && b.cert_file.empty()) {
    return problem("", "http.tls: must specify either cert_pem or cert_file");
  }
  if (!b.key_pem.value.empty() && !b.key_file.empty()) {
    return problem("key_pem", "http.tls: cannot specify both key_pem and key_file");
  }
  if (b.key_pem.value.empty() && b.key_file.empty()) {
    return problem("", "http.tls: must specify either key_pem or key_file");
  }
  if (!b.client_ca_pem.empty() && !b.client_ca_file.empty()) {
    return problem("client_ca_pem",
                   "http.tls: cannot specify both client_ca_pem and client_ca_file");
  }
  auto auth = net::tls::parseClientAuth(b.client_auth_type);
  if (!auth.ok()) {
    return problem("client_auth_type",
                   strCat("http.tls: unknown client_auth_type \"", b.client_auth_type, "\" (use ",
                          kClientAuthNames, ")"));
  }
  const bool has_ca = !b.client_ca_pem.empty() || !b.client_ca_file.empty();
  if (has_ca && *auth == net::tls::ClientAuth::kNoClientCert) {
    return problem(b.client_ca_file.empty() ? "client_ca_pem" : "client_ca_file",
                   "http.tls: cannot specify client_ca_pem or client_ca_file when "
                   "client_auth_type is NoClientCert (set client_auth_type, e.g. "
                   "\"RequireAndVerifyClientCert\")");
  }
  if (!has_ca && (*auth == net::tls::ClientAuth::kVerifyClientCertIfGiven ||
                  *auth == net::tls::ClientAuth::kRequireAndVerifyClientCert)) {
    return problem("client_auth_type",
                   strCat("http.tls: client_auth_type \"", b.client_auth_type,
                          "\" verifies client certificates and needs client_ca_file or "
                          "client_ca_pem (telegate does not trust the system CAs for clients)"));
  }
  for (const char* attr : {"min_version", "max_version"}) {
    const std::string& v = std::string_view(attr) == "min_version" ? b.min_version : b.max_version;
    if (!v.empty() && !mapVersion(v)) {
      return problem(attr, strCat("http.tls: ", attr, ": unknown TLS version \"", v,
                                  "\" (use \"TLS10\", \"TLS11\", \"TLS12\" or \"TLS13\")"));
    }
  }
  if (!b.min_version.empty() && !b.max_version.empty() &&
      *mapVersion(b.min_version) > *mapVersion(b.max_version)) {
    return problem("min_version", strCat("http.tls: min_version ", b.min_version,
                                         " is newer than max_version ", b.max_version));
  }
  if (auto st = net::tls::openSslCipherList(b.cipher_suites); !st.ok()) {
    return problem("cipher_suites", strCat("http.tls: cipher_suites: ", st.status().message()));
  }
  if (auto st = net::tls::openSslGroupsList(b.curve_preferences); !st.ok()) {
    return problem("curve_preferences",
                   strCat("http.tls: curve_preferences: ", st.status().message()));
  }
  // The shared contract's own check; its messages start with the attribute they concern.
  if (auto st = toTlsServerSettings(b).validate(); !st.ok()) {
    std::string msg(st.message());
    std::string attr;
    if (auto colon = msg.find(':'); colon != std::string::npos) attr = msg.substr(0, colon);
    return problem(attr, strCat("http.tls: ", msg));
  }
  return std::nullopt;
}

net::tls::TlsServerSettings toTlsServerSettings(const HttpTlsBlock& b) {
  net::tls::TlsServerSettings s;
  s.cert_file = b.cert_file;
  s.cert_pem = b.cert_pem.value;
  s.key_file = b.key_file;
  s.key_pem = b.key_pem.value;
  s.client_ca_file = b.client_ca_file;
  s.client_ca_pem = b.client_ca_pem;
  if (auto a = net::tls::parseClientAuth(b.client_auth_type); a.ok()) s.client_auth = *a;
  s.min_version = mapVersion(b.min_version).value_or("");
  s.max_version = mapVersion(b.max_version).value_or("");
  s.cipher_suites = b.cipher_suites;
  s.curve_preferences = b.curve_preferences;
  s.alpn = {"http/1.1"};
  return s;
}

void HttpBlockArgs::describe(Schema<HttpBlockArgs>& s) {
  s.block("auth", &HttpBlockArgs::auth).doc("access control of the admin server");
  s.block("tls", &HttpBlockArgs::tls).doc("TLS of the admin server (fixed at startup)");
}

absl::Status HttpBlockArgs::validate() const {
  if (auth && auth->basic) {
    if (auth->basic->username.empty() || auth->basic->password.value.empty()) {
      return absl::InvalidArgumentError(
          "http.auth.basic: username and password must not be empty (is the environment "
          "variable that provides them set?)");
    }
    if (auth->basic->username.find(':') != std::string::npos) {
      return absl::InvalidArgumentError("http.auth.basic: username must not contain ':'");
    }
  }
  return absl::OkStatus();
}

namespace {

// The `tls` block inside `http`, or null.
const syntax::ast::Block* tlsBlockOf(const syntax::ast::Block& http) {
  for (const auto& stmt : http.body.stmts) {
    if (stmt.block && stmt.block->name == "tls") return stmt.block.get();
  }
  return nullptr;
}

// Where a problem of the `tls` block points: its attribute, else the block's name.
syntax::Range tlsAttributeRange(const syntax::ast::Block& http, const std::string& attribute) {
  const syntax::ast::Block* tls = tlsBlockOf(http);
  if (tls == nullptr) return http.name_range;
  for (const auto& stmt : tls->body.stmts) {
    if (stmt.attr && !attribute.empty() && stmt.attr->name == attribute) {
      return stmt.attr->name_range;
    }
  }
  return tls->name_range;
}

}  // namespace

bool decodeHttpBlock(const syntax::ast::Block& block, const std::string& file,
                     syntax::Diagnostics* diags, HttpBlockArgs* out) {
  syntax::Object root = syntax::stdlib();
  syntax::Scope scope(&root);
  std::vector<syntax::EvalWarning> warnings;
  DecodeContext ctx{&scope, file, diags, &warnings};
  bool ok = decodeBody(block.body, schemaOf<HttpBlockArgs>(), out, block.name_range, ctx);
  if (ok && out->tls) {
    if (auto problem = checkHttpTlsBlock(*out->tls)) {
      diags->addError(file, tlsAttributeRange(block, problem->attribute), problem->message);
      ok = false;
    }
  }
  if (ok) {
    if (auto st = out->validate(); !st.ok()) {
      diags->addError(file, block.name_range, std::string(st.message()));
      ok = false;
    } else if (out->auth && out->auth->basic && out->auth->filter &&
               out->auth->filter->authenticate_matching_paths && out->auth->filter->paths.empty()) {
      diags->addWarning(file, block.name_range,
                        "http.auth.filter lists no paths with authenticate_matching_paths = true: "
                        "no path needs the credential");
    }
  }
  for (auto& w : warnings) diags->addWarning(file, w.range, w.message);
  return ok;
}

std::optional<PeekedHttpBlock> peekHttpBlock(const std::vector<syntax::SourceFilePtr>& sources) {
  syntax::Diagnostics diags;
  std::vector<std::unique_ptr<syntax::ast::File>> files;
  for (const auto& src : sources) files.push_back(syntax::parseFile(src, &diags));
  if (diags.hasErrors()) return std::nullopt;
  PeekedHttpBlock out;
  for (const auto& f : files) {
    if (!f) continue;
    for (const auto& stmt : f->body.stmts) {
      if (!stmt.block || stmt.block->name != "http" || stmt.block->label) continue;
      if (!out.file.empty()) return std::nullopt;  // declared twice: the load reports it
      out.file = f->source->name();
      if (!decodeHttpBlock(*stmt.block, out.file, &diags, &out.args)) return std::nullopt;
      if (const auto* tls = tlsBlockOf(*stmt.block)) out.tls_range = tls->name_range;
    }
  }
  return out;
}

}  // namespace telegate::runtime
