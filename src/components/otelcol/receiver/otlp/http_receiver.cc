#include "src/components/otelcol/receiver/otlp/http_receiver.h"

#include <algorithm>
#include <chrono>
#include <string_view>
#include <utility>

#include "google/rpc/status.pb.h"
#include "src/common/decompress.h"
#include "src/common/json_writer.h"
#include "src/common/log.h"
#include "src/common/strings.h"
#include "src/pdata/otlp_decode.h"

namespace telegate::otelcol::receiver_otlp {
namespace {

constexpr std::string_view kProtobuf = "application/x-protobuf";
constexpr std::string_view kJson = "application/json";

char lowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

enum class BodyType { kProtobuf, kJson, kOther };

// Media type of a Content-Type value: parameters dropped, compared case-insensitively.
BodyType bodyType(std::string_view content_type) {
  const size_t semi = content_type.find(';');
  const std::string_view media = trim(content_type.substr(0, semi));
  if (iequals(media, kProtobuf)) return BodyType::kProtobuf;
  if (iequals(media, kJson)) return BodyType::kJson;
  return BodyType::kOther;
}

// Replaces invalid UTF-8 with U+FFFD so both encodings carry a valid string.
std::string validUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    bool ok = len != 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    }
    if (ok && len > 1) {
      uint32_t cp = c & (0xff >> (len + 1));
      for (size_t k = 1; k < len; ++k)
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
      static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    }
    if (ok) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out.append("\xef\xbf\xbd");
      ++i;
    }
  }
  return out;
}

// A google.rpc.Status body in the request's encoding (protobuf only for application/x-protobuf).
net::HttpResponse statusResponse(int http_status, BodyType type, int code,
                                 std::string_view message) {
  net::HttpResponse r;
  r.status = http_status;
  const std::string clean = validUtf8(message);
  if (type == BodyType::kProtobuf) {
    google::rpc::Status st;
    st.set_code(code);
    st.set_message(clean);
    r.content_type = std::string(kProtobuf);
    r.body = st.SerializeAsString();
  } else {
    r.content_type = std::string(kJson);
    r.body = strCat("{\"code\":", code, ",\"message\":", json::quote(clean), "}");
  }
  return r;
}

net::HttpResponse textResponse(int http_status, std::string body) {
  net::HttpResponse r = net::HttpResponse::text(http_status, std::move(body));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

int httpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDataLoss:
      return 503;
    case absl::StatusCode::kUnimplemented:
      return 404;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    default:
      return 500;
  }
}

// '*' matches any run of characters; case-insensitive.
bool globMatch(std::string_view pattern, std::string_view s) {
  size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = i;
    } else if (p < pattern.size() && lowerAscii(pattern[p]) == lowerAscii(s[i])) {
      ++p;
      ++i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool originAllowed(const CorsOptions& cors, std::string_view origin) {
  return std::any_of(cors.allowed_origins.begin(), cors.allowed_origins.end(),
                     [&](const std::string& pat) { return globMatch(pat, origin); });
}

constexpr std::string_view kDefaultCorsHeaders[] = {
    "Accept", "Content-Type", "Content-Encoding", "Authorization", "Origin", "X-Requested-With"};

net::HttpResponse corsPreflight(const net::HttpRequest& req, const CorsOptions& cors,
                                std::string_view origin) {
  net::HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  r.headers.emplace_back("Vary",
                         "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  if (!originAllowed(cors, origin)) return r;
  if (!iequals(trim(req.header("Access-Control-Request-Method")), "POST")) return r;

  std::vector<std::string> allowed;
  bool any_header = false;
  for (std::string_view h : kDefaultCorsHeaders) allowed.emplace_back(h);
  for (const auto& h : cors.allowed_headers) {
    if (h == "*") {
      any_header = true;
    } else if (std::none_of(allowed.begin(), allowed.end(),
                            [&](const std::string& a) { return iequals(a, h); })) {
      allowed.push_back(h);
    }
  }
  // Every requested header must be allowed (as rs/cors does), else no CORS grant at all.
  const std::string_view requested = trim(req.header("Access-Control-Request-Headers"));
  if (!any_header) {
    std::string_view rest = requested;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string_view h = trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (h.empty()) continue;
      if (std::none_of(allowed.begin(), allowed.end(),
                       [&](const std::string& a) { return iequals(a, h); })) {
        return r;
      }
    }
  }
  r.headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
  r.headers.emplace_back("Access-Control-Allow-Credentials", "true");
  r.headers.emplace_back("Access-Control-Allow-Methods", "POST");
  if (any_header) {
    if (!requested.empty()) r.headers.emplace_back("Access-Control-Allow-Headers", requested);
  } else {
    r.headers.emplace_back("Access-Control-Allow-Headers", strJoin(allowed, ", "));
  }
  if (cors.max_age > 0) r.headers.emplace_back("Access-Control-Max-Age", strCat(cors.max_age));
  return r;
}

// The signal served at `path` (see the header for the rule), if any.
std::optional<pdata::Signal> matchPath(std::string_view path, const HttpReceiverOptions& opts) {
  const std::pair<const std::string*, pdata::Signal> routes[] = {
      {&opts.traces_path, pdata::Signal::kTraces},
      {&opts.metrics_path, pdata::Signal::kMetrics},
      {&opts.logs_path, pdata::Signal::kLogs}};
  for (const auto& [p, signal] : routes) {
    if (!p->empty() && path == *p) return signal;
  }
  for (std::string_view prefix : opts.path_prefixes) {
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    if (prefix.empty() || !path.starts_with(prefix)) continue;
    const std::string_view rest = path.substr(prefix.size());
    for (const auto& [p, signal] : routes) {
      if (!p->empty() && rest == *p) return signal;
    }
  }
  return std::nullopt;
}

net::HttpResponse successResponse(BodyType type) {
  net::HttpResponse r;
  r.status = 200;
  if (type == BodyType::kProtobuf) {
    r.content_type = std::string(kProtobuf);
    r.body.assign("\x0a\x00", 2);  // Export*ServiceResponse{partial_success: {}}
  } else {
    r.content_type = std::string(kJson);
    r.body = "{\"partialSuccess\":{}}";
  }
  return r;
}

// What the header stage found, for the body stage.
struct Head {
  BodyType type;
  Protocol protocol;
  std::optional<pdata::Signal> signal;  // known path of a served signal
  pdata::Signal count_signal;
};

Head inspect(const net::HttpRequest& req, const HttpReceiverOptions& opts, Dispatcher& d) {
  Head h;
  h.type = bodyType(req.header("Content-Type"));
  h.protocol = h.type == BodyType::kProtobuf ? Protocol::kHttpProtobuf : Protocol::kHttpJson;
  h.signal = matchPath(req.path, opts);
  if (h.signal && !d.hasSignal(*h.signal)) h.signal.reset();
  h.count_signal = h.signal.value_or(pdata::Signal::kLogs);
  return h;
}

// Steps b-f: everything that is judged from the request line and headers. A refusal, or
// acceptance with the authenticated client (null without auth) as the state.
net::HeaderDecision checkHeaders(const net::HttpRequest& req, const Head& h,
                                 const HttpReceiverOptions& opts, Dispatcher& d,
                                 const AuthHandler* auth) {
  // b. auth
  std::shared_ptr<const pdata::ClientInfo> client;
  if (auth != nullptr) {
    AuthResult res = auth->authenticate(AuthRequest{
        [&req](std::string_view lower_name) { return req.header(lower_name); }, req.peer.get()});
    if (!res.ok) {
      d.countRefused(h.count_signal, h.protocol, "unauthenticated");
      const std::string message =
          res.message.empty() ? strCat("authentication failed: ", res.reason) : res.message;
      net::HttpResponse r = statusResponse(401, h.type, 16, message);
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return net::HeaderDecision::refuse(std::move(r));
    }
    client = std::move(res.client);
  }
  // c. path
  if (!h.signal) {
    d.countRefused(h.count_signal, h.protocol, "not_found");
    return net::HeaderDecision::refuse(textResponse(404, "404 page not found\n"));
  }
  // d. method
  if (req.method != "POST") {
    net::HttpResponse r = textResponse(405, "405 method not allowed, supported: [POST]\n");
    r.headers.emplace_back("Allow", "POST");
    return net::HeaderDecision::refuse(std::move(r));
  }
  // e. media type
  if (h.type == BodyType::kOther) {
    d.countRefused(*h.signal, h.protocol, "unsupported_media_type");
    return net::HeaderDecision::refuse(textResponse(
        415,
        "415 unsupported media type, supported: [application/json, application/x-protobuf]\n"));
  }
  // f. content encoding (the name; decoding happens with the body)
  const std::string_view encoding = req.header("Content-Encoding");
  const auto& algos = opts.compression_algorithms;
  if (std::find(algos.begin(), algos.end(), encoding) == algos.end() ||
      !isSupportedEncoding(encoding)) {
    d.countRefused(*h.signal, h.protocol, "unsupported_encoding");
    return net::HeaderDecision::refuse(
        statusResponse(400, h.type, 3, strCat("unsupported Content-Encoding: ", encoding)));
  }
  return net::HeaderDecision::accept(std::move(client));
}

net::HttpResponse memoryRefusal(const Head& h, Dispatcher& d, std::string_view what) {
  d.countRefused(*h.signal, h.protocol, "memory_limit");
  static log::OnceEvery every(std::chrono::seconds(60));
  if (every.shouldLog()) {
    log::root().warn("OTLP/HTTP request refused: memory limit reached (logged once a minute)",
                     {{"stage", std::string(what)}});
  }
  net::HttpResponse r = statusResponse(429, h.type, 8, strCat("memory limit reached ", what));
  r.headers.emplace_back("Retry-After", strCat(d.retryAfterSeconds()));
  return r;
}

// Steps f (decoding) to h, for a request the header stage accepted. `own_body`: req.body itself,
// which may be moved from; null -> copy the body.
net::HttpResponse bodyStage(const net::HttpRequest& req, std::string* own_body, const Head& h,
                            std::shared_ptr<const pdata::ClientInfo> client,
                            const HttpReceiverOptions& opts, Dispatcher& d) {
  if (!h.signal) {  // the signal's consumers went away since the header stage (reload)
    d.countRefused(h.count_signal, h.protocol, "not_found");
    return textResponse(404, "404 page not found\n");
  }
  const std::string_view encoding = req.header("Content-Encoding");
  std::string body;
  MemoryReservation plain_charge;  // the decompressed body, while this request holds it
  if (encoding.empty() || encoding == "identity") {
    if (req.body.size() > opts.max_request_body_size) {
      d.countRefused(*h.signal, h.protocol, "too_large");
      return statusResponse(
          413, h.type, 8,
          strCat("request body exceeds the limit of ", opts.max_request_body_size, " bytes"));
    }
    if (own_body != nullptr) {
      body = std::move(*own_body);
    } else {
      body = req.body;
    }
  } else {
    absl::StatusOr<std::string> plain = decompress(encoding, req.body, opts.max_request_body_size,
                                                   opts.memory_budget, &plain_charge);
    if (!plain.ok()) {
      if (isDecompressLimitError(plain.status())) {
        d.countRefused(*h.signal, h.protocol, "too_large");
        return statusResponse(413, h.type, 8, std::string(plain.status().message()));
      }
      if (isDecompressMemoryError(plain.status())) {
        return memoryRefusal(h, d, "while decompressing the body");
      }
      if (plain.status().code() != absl::StatusCode::kInvalidArgument) {  // codec out of memory
        return statusResponse(500, h.type, static_cast<int>(plain.status().code()),
                              std::string(plain.status().message()));
      }
      d.countRefused(*h.signal, h.protocol, "malformed");
      return statusResponse(400, h.type, 3, std::string(plain.status().message()));
    }
    body = std::move(*plain);
    if (own_body != nullptr) std::string().swap(*own_body);  // the compressed body is done with
  }

  // g. decode
  // The decoder's working memory is charged before the conversion (its documented bound); what
  // stays charged afterwards is the wire form, which replaces the JSON until dispatch returns.
  MemoryReservation work;
  if (h.type == BodyType::kJson) {
    if (MemoryBudget* b = opts.memory_budget; b != nullptr) {
      const size_t need = pdata::otlpJsonWorkingMemory(body.size());
      if (!b->tryReserve(need)) return memoryRefusal(h, d, "while decoding the JSON body");
      work = MemoryReservation(b, need);
    }
    absl::StatusOr<pdata::DecodedJson> decoded = pdata::otlpJsonToWire(*h.signal, body);
    if (!decoded.ok()) {
      d.countRefused(*h.signal, h.protocol, "malformed");
      return statusResponse(400, h.type, 3, std::string(decoded.status().message()));
    }
    body = std::move(decoded->wire);
    work.shrinkTo(body.capacity());
  }

  // h. dispatch
  const absl::Status st = d.dispatch(*h.signal, std::move(body), std::move(client), h.protocol);
  if (st.ok()) return successResponse(h.type);
  const int http_status = httpStatusFor(st.code());
  net::HttpResponse r =
      statusResponse(http_status, h.type, static_cast<int>(st.code()), std::string(st.message()));
  if (http_status == 429 || http_status == 503) {
    r.headers.emplace_back("Retry-After", strCat(d.retryAfterSeconds()));
  }
  return r;
}

// a. CORS (outermost): a preflight is answered here (set in `*preflight`); otherwise the grant
// headers every response gets.
std::vector<std::pair<std::string, std::string>> corsHeaders(
    const net::HttpRequest& req, const HttpReceiverOptions& opts,
    std::optional<net::HttpResponse>* preflight) {
  std::vector<std::pair<std::string, std::string>> cors_headers;
  if (!opts.cors || opts.cors->allowed_origins.empty()) return cors_headers;
  const std::string_view origin = req.header("Origin");
  if (req.method == "OPTIONS" && !origin.empty() &&
      !req.header("Access-Control-Request-Method").empty()) {
    *preflight = corsPreflight(req, *opts.cors, origin);
    return cors_headers;
  }
  cors_headers.emplace_back("Vary", "Origin");
  if (!origin.empty() && originAllowed(*opts.cors, origin)) {
    cors_headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
    cors_headers.emplace_back("Access-Control-Allow-Credentials", "true");
  }
  return cors_headers;
}

void addHeaders(net::HttpResponse& r, std::vector<std::pair<std::string, std::string>> extra) {
  for (auto& h : extra) r.headers.push_back(std::move(h));
}

net::HttpResponse handle(const net::HttpRequest& req, std::string* own_body,
                         const HttpReceiverOptions& opts, Dispatcher& dispatcher,
                         const AuthHandler* auth) {
  std::optional<net::HttpResponse> preflight;
  auto cors = corsHeaders(req, opts, &preflight);
  if (preflight) return std::move(*preflight);
  const Head h = inspect(req, opts, dispatcher);
  net::HeaderDecision decision = checkHeaders(req, h, opts, dispatcher, auth);
  net::HttpResponse r;
  if (decision.refusal) {
    r = std::move(*decision.refusal);
  } else {
    r = bodyStage(req, own_body, h,
                  std::static_pointer_cast<const pdata::ClientInfo>(std::move(decision.state)),
                  opts, dispatcher);
  }
  addHeaders(r, std::move(cors));
  return r;
}

}  // namespace

net::HttpResponse handleOtlpHttp(const net::HttpRequest& req, const HttpReceiverOptions& opts,
                                 Dispatcher& dispatcher, const AuthHandler* auth) {
  return handle(req, nullptr, opts, dispatcher, auth);
}

net::HttpResponse handleOtlpHttp(net::HttpRequest&& req, const HttpReceiverOptions& opts,
                                 Dispatcher& dispatcher, const AuthHandler* auth) {
  return handle(req, &req.body, opts, dispatcher, auth);
}

net::HeaderDecision checkOtlpHttpHeaders(const net::HttpRequest& req,
                                         const HttpReceiverOptions& opts, Dispatcher& dispatcher,
                                         const AuthHandler* auth) {
  std::optional<net::HttpResponse> preflight;
  auto cors = corsHeaders(req, opts, &preflight);
  // A preflight carries no credentials: answered at once, the connection stays unproven.
  if (preflight) return net::HeaderDecision::refuse(std::move(*preflight));
  net::HeaderDecision d = checkHeaders(req, inspect(req, opts, dispatcher), opts, dispatcher, auth);
  if (d.refusal) addHeaders(*d.refusal, std::move(cors));
  return d;
}

net::HttpResponse handleOtlpHttpBody(net::HttpRequest&& req, const HttpReceiverOptions& opts,
                                     Dispatcher& dispatcher) {
  std::optional<net::HttpResponse> preflight;  // answered by the header stage
  auto cors = corsHeaders(req, opts, &preflight);
  net::HttpResponse r =
      bodyStage(req, &req.body, inspect(req, opts, dispatcher),
                std::static_pointer_cast<const pdata::ClientInfo>(req.state), opts, dispatcher);
  addHeaders(r, std::move(cors));
  return r;
}

HttpReceiver::HttpReceiver(HttpReceiverOptions opts, Dispatcher& dispatcher, AuthProvider auth)
    : opts_(std::move(opts)), dispatcher_(dispatcher), auth_(std::move(auth)) {}

HttpReceiver::~HttpReceiver() {
  stop();
}

absl::Status HttpReceiver::start() {
  if (server_) return absl::FailedPreconditionError("OTLP/HTTP receiver already started");
  net::HttpServerOptions so;
  so.listen_addr = opts_.endpoint;
  so.io_threads = std::max(1, opts_.io_threads);
  so.max_body_bytes = opts_.max_request_body_size;
  so.name = opts_.server_name;
  so.header_timeout = opts_.read_header_timeout;
  so.read_timeout = opts_.read_timeout;
  so.idle_timeout = opts_.idle_timeout;
  so.min_receive_rate = opts_.min_receive_rate;
  so.min_rate_grace = opts_.min_rate_grace;
  so.max_connections = opts_.max_connections;
  so.max_connections_per_client = opts_.max_connections_per_client;
  so.memory_budget = opts_.memory_budget;
  so.retry_after_seconds = dispatcher_.retryAfterSeconds();
  so.tls = opts_.tls;
  so.header_check = [this](const net::HttpRequest& req) {
    const std::shared_ptr<AuthHandler> auth = auth_ ? auth_() : nullptr;
    return checkOtlpHttpHeaders(req, opts_, dispatcher_, auth.get());
  };
  auto server = std::make_unique<net::HttpServer>(so, [this](net::HttpRequest& req) {
    return handleOtlpHttpBody(std::move(req), opts_, dispatcher_);
  });
  if (absl::Status st = server->start(); !st.ok()) return st;
  server_ = std::move(server);
  return absl::OkStatus();
}

void HttpReceiver::stop() {
  if (server_) server_->stop();
}

std::string HttpReceiver::boundAddress() const {
  return server_ ? server_->boundAddress() : std::string();
}

size_t HttpReceiver::openConnections() const {
  return server_ ? server_->openConnections() : 0;
}

}  // namespace telegate::otelcol::receiver_otlp
