#include "src/components/otelcol/auth/bearer/bearer.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::bearer {

namespace {

bool parseHexDigest(std::string_view hex, Digest* out) {
  if (hex.size() != 64) return false;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return true;
}

std::shared_ptr<const pdata::ClientInfo> clientInfo(std::string tenant, std::string name) {
  auto c = std::make_shared<pdata::ClientInfo>();
  c->tenant = std::move(tenant);
  c->auth_name = std::move(name);
  return c;
}

}  // namespace

Digest sha256(std::string_view s) {
  Digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}

void CredentialBlock::describe(runtime::Schema<CredentialBlock>& s) {
  s.attr("token", &CredentialBlock::token).doc("a valid token (secret)");
  s.attr("sha256", &CredentialBlock::sha256).doc("hex SHA-256 digest of a valid token");
  s.attr("tenant", &CredentialBlock::tenant).doc("tenant bound to this credential");
  s.attr("name", &CredentialBlock::name).doc("name shown in metrics");
}

absl::Status CredentialBlock::validate() const {
  if (token.value.empty() == sha256.empty()) {
    return absl::InvalidArgumentError("a credential needs exactly one of token and sha256");
  }
  Digest d;
  if (!sha256.empty() && !parseHexDigest(sha256, &d)) {
    return absl::InvalidArgumentError("sha256 must be 64 hexadecimal characters");
  }
  return absl::OkStatus();
}

void Arguments::describe(runtime::Schema<Arguments>& s) {
  s.attr("token", &Arguments::token)
      .doc("the expected token (secret); required unless credential or token_file is set");
  s.attr("scheme", &Arguments::scheme).doc("scheme before the token; empty: the bare token");
  s.attr("header", &Arguments::header).doc("header (gRPC metadata key) carrying the credential");
  s.attr("tenant", &Arguments::tenant).doc("telegate: tenant bound to `token`");
  s.block("credential", &Arguments::credential).doc("telegate: one more valid credential");
  s.attr("token_file", &Arguments::token_file)
      .doc("telegate: file with one credential per line, re-read when it changes");
  s.attr("token_file_refresh_interval", &Arguments::token_file_refresh_interval)
      .doc("telegate: how often token_file is checked for changes");
}

absl::Status Arguments::validate() const {
  if (token.value.empty() && credential.empty() && token_file.empty()) {
    return absl::InvalidArgumentError(
        "token must not be empty: with an empty token no request could be authenticated (is the "
        "environment variable that provides it set?)");
  }
  if (header.empty()) return absl::InvalidArgumentError("header must not be empty");
  if (scheme.find(' ') != std::string::npos) {
    return absl::InvalidArgumentError("scheme must not contain spaces");
  }
  if (token_file_refresh_interval.value < std::chrono::milliseconds(10)) {
    return absl::InvalidArgumentError("token_file_refresh_interval must be at least 10ms");
  }
  return absl::OkStatus();
}

std::vector<Credential> parseTokenFile(std::string_view text, std::vector<std::string>* errors) {
  std::vector<Credential> out;
  int lineno = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++lineno;
    std::vector<std::string_view> fields;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
      size_t start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
      if (i > start) fields.push_back(line.substr(start, i - start));
    }
    if (fields.empty() || fields[0][0] == '#') continue;
    Credential c;
    std::string tenant, name;
    bool ok = true;
    for (size_t f = 1; f < fields.size(); ++f) {
      if (fields[f].rfind("tenant=", 0) == 0) {
        tenant = std::string(fields[f].substr(7));
      } else if (fields[f].rfind("name=", 0) == 0) {
        name = std::string(fields[f].substr(5));
      } else {
        ok = false;
      }
    }
    if (fields[0].rfind("sha256:", 0) == 0) {
      ok = ok && parseHexDigest(fields[0].substr(7), &c.digest);
    } else {
      c.digest = sha256(fields[0]);
    }
    if (!ok) {
      if (errors != nullptr) {
        errors->push_back(
            strCat("line ", lineno, ": expected <token>|sha256:<hex> [tenant=<t>] [name=<n>]"));
      }
      continue;
    }
    c.client = clientInfo(std::move(tenant), std::move(name));
    out.push_back(std::move(c));
  }
  return out;
}

BearerHandler::BearerHandler(std::string component_id, metrics::Registry& metrics)
    : id_(std::move(component_id)) {
  auto& fails = metrics.counter("telegate_auth_failures_total",
                                "Requests refused by an authenticator, by reason.",
                                {"component_id", "reason"});
  fail_missing_ = &fails.with({id_, "missing"});
  fail_scheme_ = &fails.with({id_, "bad_scheme"});
  fail_token_ = &fails.with({id_, "invalid_token"});
  fail_none_ = &fails.with({id_, "no_credentials"});
  ok_ = &metrics.counter("telegate_auth_successes_total",
                         "Requests an authenticator accepted, by tenant.",
                         {"component_id", "tenant"});
  state_.store(std::make_shared<State>());
}

void BearerHandler::set(std::string header, std::string scheme, std::vector<Credential> creds) {
  auto st = std::make_shared<State>();
  st->header_lower = absl::AsciiStrToLower(header);
  st->scheme = std::move(scheme);
  st->creds = std::move(creds);
  state_.store(std::move(st));
}

size_t BearerHandler::credentialCount() const {
  return state_.load()->creds.size();
}

AuthResult BearerHandler::authenticate(const HeaderLookup& header) const {
  auto st = state_.load();
  AuthResult r;
  std::string_view presented = header(st->header_lower);
  if (presented.empty()) {
    fail_missing_->inc();
    r.reason = "missing";
    r.message = strCat("missing or empty authorization header: ", st->header_lower);
    return r;
  }
  std::string_view token = presented;
  if (!st->scheme.empty()) {
    // credentials = auth-scheme 1*SP token68 (RFC 7235 section 2.1): the scheme is
    // case-insensitive and one or more spaces separate it from the token. Trailing whitespace is
    // not part of a field value (HTTP strips it; gRPC metadata may keep it).
    std::string_view rest;
    if (presented.size() > st->scheme.size() && presented[st->scheme.size()] == ' ' &&
        absl::EqualsIgnoreCase(absl::string_view(presented.data(), st->scheme.size()),
                               absl::string_view(st->scheme.data(), st->scheme.size()))) {
      rest = presented.substr(st->scheme.size());
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
    }
    if (rest.empty()) {
      fail_scheme_->inc();
      r.reason = "bad_scheme";
      r.message = strCat("scheme or token does not match: expected scheme \"", st->scheme, "\"");
      return r;
    }
    token = rest;
  }
  if (st->creds.empty()) {
    fail_none_->inc();
    r.reason = "no_credentials";
    r.message = "no valid credentials are configured";
    return r;
  }
  Digest d = sha256(token);
  const Credential* match = nullptr;
  for (const auto& c : st->creds) {
    // Every digest is compared; the loop never exits early.
    bool eq = CRYPTO_memcmp(d.data(), c.digest.data(), d.size()) == 0;
    if (eq && match == nullptr) match = &c;
  }
  if (match == nullptr) {
    fail_token_->inc();
    r.reason = "invalid_token";
    r.message = "scheme or token does not match";
    return r;
  }
  ok_->with({id_, match->client->tenant}).inc();
  r.ok = true;
  r.client = match->client;
  return r;
}

Component::Component(runtime::Host& host, const Arguments& args)
    : host_(host), handler_(std::make_shared<BearerHandler>(host.id(), host.metrics())) {
  args_ = args;
  if (!args_.token_file.empty() && readFile() && !file_error_.empty()) {
    host_.logger().error("token_file not loaded", {{"err", file_error_}});
  }
  apply();
  host_.setExports({{"handler", syntax::Value::capsule(handler_)}});
}

Component::~Component() {
  shutdown(std::chrono::steady_clock::now());
}

absl::StatusOr<std::string> readTokenFile(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    std::string msg = strCat("token_file ", path, ": ", std::strerror(e));
    if (e == ENOENT) return absl::NotFoundError(msg);
    return absl::UnavailableError(msg);
  }
  std::string text;
  absl::Status st;
  struct stat sb {};
  if (::fstat(fd, &sb) != 0) {
    st = absl::UnavailableError(strCat("token_file ", path, ": ", std::strerror(errno)));
  } else if (S_ISDIR(sb.st_mode)) {
    st = absl::UnavailableError(strCat("token_file ", path, ": is a directory"));
  } else if (sb.st_size > 0 && static_cast<uint64_t>(sb.st_size) > max_bytes) {
    st = absl::ResourceExhaustedError(
        strCat("token_file ", path, ": larger than the limit of ", max_bytes, " bytes"));
  }
  while (st.ok()) {
    char buf[8192];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st = absl::UnavailableError(strCat("token_file ", path, ": read: ", std::strerror(errno)));
      break;
    }
    if (n == 0) break;
    if (text.size() + static_cast<size_t>(n) > max_bytes) {
      st = absl::ResourceExhaustedError(
          strCat("token_file ", path, ": larger than the limit of ", max_bytes, " bytes"));
      break;
    }
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (!st.ok()) return st;
  return text;
}

bool Component::readFile() {
  auto text = readTokenFile(args_.token_file, kMaxTokenFileBytes);
  if (text.ok()) {
    bool changed = !file_loaded_ || !file_error_.empty() || *text != file_text_;
    file_loaded_ = true;
    file_error_.clear();
    file_text_ = std::move(*text);
    return changed;
  }
  std::string error;
  if (absl::IsNotFound(text.status())) {
    // A removed file revokes its credentials.
    error = strCat(text.status().message(), "; its credentials are not accepted");
    bool changed = file_loaded_ || error != file_error_;
    file_loaded_ = false;
    file_text_.clear();
    file_error_ = std::move(error);
    return changed;
  }
  // Unreadable or too large: never use partial contents. The credentials last read from the
  // same file stay in force (none at the first read: fail closed).
  error =
      strCat(text.status().message(), file_loaded_ ? "; the credentials read before stay in force"
                                                   : "; its credentials are not accepted");
  bool changed = error != file_error_;
  file_error_ = std::move(error);
  return changed;
}

void Component::apply() {
  std::vector<Credential> creds;
  if (!args_.token.value.empty()) {
    Credential c;
    c.digest = sha256(args_.token.value);
    c.client = clientInfo(args_.tenant, "token");
    creds.push_back(std::move(c));
  }
  for (const auto& b : args_.credential) {
    Credential c;
    if (!b.sha256.empty()) {
      Digest d{};
      for (size_t i = 0; i < 32; ++i) {
        d[i] = static_cast<unsigned char>(std::stoi(b.sha256.substr(2 * i, 2), nullptr, 16));
      }
      c.digest = d;
    } else {
      c.digest = sha256(b.token.value);
    }
    c.client = clientInfo(b.tenant, b.name);
    creds.push_back(std::move(c));
  }
  std::string health_msg;
  if (!args_.token_file.empty()) {
    if (file_loaded_) {
      std::vector<std::string> errors;
      auto from_file = parseTokenFile(file_text_, &errors);
      for (const auto& e : errors) {
        host_.logger().warn("ignoring a token_file line", {{"file", args_.token_file}, {"err", e}});
      }
      for (auto& c : from_file) creds.push_back(std::move(c));
    }
    health_msg = file_error_;
  }
  if (health_msg.empty() && creds.empty()) {
    health_msg = "no valid credentials: every request is refused";
  }
  handler_->set(args_.header, args_.scheme, std::move(creds));
  if (health_msg.empty()) {
    host_.setHealth(runtime::HealthState::kHealthy,
                    strCat(handler_->credentialCount(), " credential(s) loaded"));
  } else {
    host_.setHealth(runtime::HealthState::kUnhealthy, health_msg);
  }
}

absl::Status Component::start() {
  std::lock_guard<std::mutex> l(mu_);
  watcher_ = std::thread([this] { watchLoop(); });
  return absl::OkStatus();
}

void Component::watchLoop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    auto interval = args_.token_file_refresh_interval.value;
    cv_.wait_for(l, interval, [&] { return stop_; });
    if (stop_) break;
    if (args_.token_file.empty()) continue;
    // readFile() reports a change only when the contents or the error changed, so a persisting
    // error is logged once.
    if (readFile()) {
      apply();
      if (file_error_.empty()) {
        host_.logger().info("token_file reloaded",
                            {{"file", args_.token_file},
                             {"credentials", std::to_string(handler_->credentialCount())}});
      } else {
        host_.logger().error("token_file not loaded", {{"err", file_error_}});
      }
    }
  }
}

absl::Status Component::update(const Arguments& args) {
  std::lock_guard<std::mutex> l(mu_);
  bool file_changed = args.token_file != args_.token_file;
  args_ = args;
  if (file_changed) {
    // The credentials of another file are never kept.
    file_loaded_ = false;
    file_text_.clear();
    file_error_.clear();
    if (!args_.token_file.empty() && readFile() && !file_error_.empty()) {
      host_.logger().error("token_file not loaded", {{"err", file_error_}});
    }
  }
  apply();
  cv_.notify_all();
  return absl::OkStatus();
}

void Component::shutdown(std::chrono::steady_clock::time_point) {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

}  // namespace telegate::otelcol::bearer

namespace telegate::components {
void registerOtelcolAuthBearer() {
  runtime::registerComponent<otelcol::bearer::Component>(
      "otelcol.auth.bearer", "Bearer-token authentication for otelcol receivers.",
      {{"handler", "capsule(otelcol.Handler)", "authenticator for `auth` arguments"}});
}
}  // namespace telegate::components
